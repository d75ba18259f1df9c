"""Where a /predict request's time goes: ``make stages`` (``python -m bench.stages``).

The load of `make bench` (wrk, 16 connections, SST-2 test sentences, one worker pinned to one
core) against servers that each stop a request one stage later:

1. ``bare``: the bare FastAPI app (`bench.bare_app`), the ceiling.
2. ``http``: the service up to the prediction (middleware, metrics, parsing, language routing,
   tokenizing, encoding); the answer is a fixed prediction, the micro-batcher and model skipped.
3. ``batcher``: as 2 plus the micro-batcher and its inference thread, which returns the fixed
   prediction instead of running the model (and the per-label prediction counter, which the
   service updates beside the batcher call).
4. ``service``: the service as shipped.

On one core, microseconds per request (1 / req/s) add up: the difference between neighbouring
rows is what the stage added costs per request. Stages 2 and 3 change the service by replacing
one function in the server process (`create_stage_app`); nothing in `service/` knows about them.
Writes bench/STAGES.md and bench/stages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from bench.harness import BENCH, Server, machine, shipped_members, sst_test_sentences, write_bodies, wrk
from bench.run import forward_us_per_text, mean_forward_batch

STAGES = ("bare", "http", "batcher", "service")
STAGE_ENV = "SENTIMENT_BENCH_STAGE"


def create_stage_app() -> FastAPI:
    """The service app, cut at the stage named by $SENTIMENT_BENCH_STAGE (uvicorn --factory)."""
    import service.app
    import service.state
    from service.predictor import Answer, PredictItem, Predictor

    stage = os.environ.get(STAGE_ENV, "service")
    fixed: list[Answer] = []
    real_predict = Predictor.predict

    def fixed_answers(predictor: Predictor, requests: list[PredictItem]) -> list[Answer]:
        if not fixed:  # one real, plain prediction (the warm-up asks for an explanation), so the
            # answer has the shape and size of the benchmark's answers
            fixed.append(real_predict(predictor, [PredictItem(requests[0].encoded)])[0])
        return [dict(fixed[0]) for _ in requests]

    if stage == "http":

        async def run_fixed(state: Any, predictor: Predictor, items: list[PredictItem]) -> list[Answer]:
            return fixed_answers(predictor, items)

        service.state.ServiceState.predict = run_fixed  # type: ignore[method-assign,assignment]
    elif stage == "batcher":

        def predict_fixed(self: Predictor, requests: list[PredictItem]) -> list[Answer]:
            return fixed_answers(self, requests) if requests else []

        Predictor.predict = predict_fixed  # type: ignore[method-assign]
    elif stage != "service":
        raise ValueError(f"unknown stage {stage!r}; choose from {STAGES[1:]}")
    return service.app.create_app()


def measure(stage: str, members: int, bodies: Path, seconds: int) -> dict[str, Any]:
    env = {
        "SENTIMENT_TORCH_THREADS": "1",
        "SENTIMENT_CHECKPOINT_ZH": "none",
        "SENTIMENT_ENSEMBLE_MEMBERS": str(members),
        STAGE_ENV: stage,
    }
    server = (
        Server("bench.bare_app:app", env)
        if stage == "bare"
        else Server("bench.stages:create_stage_app", env, factory=True)
    )
    try:
        url = server.url + "/predict"
        wrk(url, bodies, 16, 2)  # warm-up
        result = wrk(url, bodies, 16, seconds)
        if stage == "service":
            result["mean_batch"] = mean_forward_batch(server.url)
    finally:
        server.stop()
    return result


def render(record: dict[str, Any]) -> str:
    m = record["machine"]
    lines = [
        "# Where a /predict request's time goes",
        "",
        f"Measured by `make stages  # python -m bench.stages` on {m['date']}: {m['cpu']}, {m['cores']} cores; "
        f"Python {m['python']}, torch {m['torch']}, FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, {m['wrk']}.",
        "The load of `make bench` (wrk -t1 -c16, SST-2 test sentences, one uvicorn worker pinned to CPU 0, "
        f"wrk on CPU 1, {record['seconds']} s per run, median of {record['rounds']} rounds) against servers "
        "that each stop a request one stage later (`bench/stages.py`). On one core, microseconds per request "
        "(1 / req/s) add up: each row's *added* column is what its stage costs per request.",
        "",
    ]
    for members, rows in record["members"].items():
        lines += [
            f"## English model, {members} member(s) served",
            "",
            "| stage | what the request goes through | req/s | us per request | added |",
            "|---|---|---|---|---|",
        ]
        previous = None
        what = {
            "bare": "bare FastAPI app, constant answer",
            "http": "service: middleware, metrics, parsing, routing, tokenizing, encoding; fixed answer",
            "batcher": "... + micro-batcher and inference thread; fixed answer",
            "service": "... + the model (forward pass, h_n summary): the service as shipped",
        }
        for stage in STAGES:
            rps = rows[stage]
            us = 1e6 / rps
            added = f"+{us - previous:.0f} us" if previous is not None else ""
            lines.append(f"| {stage} | {what[stage]} | {rps:.0f} | {us:.0f} | {added} |")
            previous = us
        lines += [
            "",
            f"Mean forward batch under this load: {rows['mean_batch']:.1f} texts. The model alone (prediction: "
            f"forward pass and h_n summary, batches of 16, 1 thread, outside the server): "
            f"{rows['predict_us_per_text']:.0f} us per text.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--members", default="", help="ensemble sizes to serve, comma-separated (default: all, then 1)")
    args = p.parse_args(argv)
    texts = sst_test_sentences()
    sizes = [int(m) for m in args.members.split(",")] if args.members else [shipped_members(), 1]
    with tempfile.TemporaryDirectory() as tmp:
        bodies = write_bodies(Path(tmp) / "bodies.jsonl", [{"text": t} for t in texts])
        runs: dict[int, dict[str, list[float]]] = {m: {s: [] for s in STAGES} for m in sizes}
        batches: dict[int, list[float]] = {m: [] for m in sizes}
        for _ in range(args.rounds):
            bare = measure("bare", 1, bodies, args.seconds)["rps"]
            for m in sizes:
                runs[m]["bare"].append(bare)
                for stage in STAGES[1:]:
                    result = measure(stage, m, bodies, args.seconds)
                    runs[m][stage].append(result["rps"])
                    if stage == "service":
                        batches[m].append(result["mean_batch"])
    record = {
        "machine": machine(),
        "seconds": args.seconds,
        "rounds": args.rounds,
        "members": {
            str(m): {
                **{s: statistics.median(v) for s, v in runs[m].items()},
                "rounds": runs[m],
                "mean_batch": statistics.median(batches[m]),
                "predict_us_per_text": forward_us_per_text(m, texts),
            }
            for m in sizes
        },
    }
    (BENCH / "stages.json").write_text(json.dumps(record, indent=2) + "\n")
    (BENCH / "STAGES.md").write_text(render(record))
    print((BENCH / "STAGES.md").read_text())


if __name__ == "__main__":
    main()
