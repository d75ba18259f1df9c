"""Side-by-side benchmark: ``make bench`` (``python -m bench.run``).

In one run, on this machine: (a) a bare FastAPI app answering a constant JSON and (b) the service,
each on one uvicorn worker pinned to CPU 0, driven by wrk pinned to CPU 1 with the same
connections, duration and bodies (real SST-2 test sentences). Reports requests/s, latency
percentiles, errors, the service/bare ratio (median of several rounds), /predict/batch texts/s,
latency at concurrency 1, time from process start to /ready, peak RSS, an overload run, a Chinese
run, and the per-text forward cost of the fast path next to torch.nn.RNN's. Writes
bench/RESULTS.md and bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from bench.harness import (
    BENCH,
    EN_CHECKPOINT,
    SERVICE,
    Server,
    machine,
    shipped_members,
    sst_test_sentences,
    typical_sentences,
    write_bodies,
    wrk,
    zh_test_sentences,
)
from model.languages import language


def forward_costs(checkpoint: Path, texts: list[str], members: int = 0) -> dict[str, float]:
    """Median microseconds per text: fast path vs the torch.nn.RNN reference, batch 1 and 64."""
    from model.checkpoint import load_checkpoint
    from model.encoding import TextEncoder
    from model.inference import Classifier

    torch.set_num_threads(1)
    ckpt = load_checkpoint(checkpoint)
    ckpt = ckpt.subset(members or len(ckpt.members))
    ids = TextEncoder.for_checkpoint(ckpt).ids(texts[:512])
    out = {}
    for name, clf in (("fast", Classifier(ckpt)), ("torch_nn_rnn", Classifier(ckpt, fast=False))):
        for batch in (1, 64):
            chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                for chunk in chunks:
                    clf.forward_ids(chunk)
                runs.append((time.perf_counter() - started) / len(ids) * 1e6)
            out[f"{name}_batch{batch}_us_per_text"] = statistics.median(runs)
    return out


def mean_forward_batch(url: str) -> float:
    """The mean texts per forward pass the server has run so far (its batch-size histogram)."""
    from prometheus_client.parser import text_string_to_metric_families

    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(httpx.get(url + "/metrics").text)
        if family.name == "sentiment_forward_batch_size"
        for sample in family.samples
    }
    count = values.get("sentiment_forward_batch_size_count", 0.0)
    return values.get("sentiment_forward_batch_size_sum", 0.0) / count if count else 0.0


def forward_us_per_text(members: int, texts: list[str], batch: int = 16) -> float:
    """The model alone at a given batch size: the service's `Predictor.predict` (forward pass,
    h_n summary, the answer's views) outside any server; median us per text of 5 runs, 1 thread."""
    from model.checkpoint import load_checkpoint
    from service.predictor import PredictItem, Predictor

    torch.set_num_threads(1)
    ckpt = load_checkpoint(EN_CHECKPOINT).subset(members)
    predictor = Predictor(ckpt, "0" * 64, "bench")
    requests = [PredictItem(predictor.encode(t)) for t in texts[:512]]
    chunks = [requests[i : i + batch] for i in range(0, len(requests), batch)]
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        with torch.inference_mode():
            for chunk in chunks:
                predictor.predict(chunk)
        runs.append((time.perf_counter() - started) / len(requests) * 1e6)
    return statistics.median(runs)


def overload(env: dict[str, str], bodies: Path, seconds: int) -> dict[str, Any]:
    """Drive a small-queue service far past capacity: only 200s and 503s, bounded memory, fast recovery."""
    server = Server(SERVICE, {**env, "SENTIMENT_QUEUE_SIZE": "64"})
    try:
        rss_before = server.rss_mb()
        result = wrk(server.url + "/predict", bodies, connections=512, seconds=seconds, script="wrk_overload.lua")
        load_end = time.perf_counter()
        # Healthy again: the first /predict answered 200 after the load stopped, and how long it took.
        recovered = None
        while time.perf_counter() - load_end < 10:
            try:
                r = httpx.post(server.url + "/predict", json={"text": "back to normal"}, timeout=2)
            except httpx.TransportError:
                continue
            if r.status_code == 200:
                recovered = time.perf_counter() - load_end
                break
        result.update(
            rss_before_mb=rss_before,
            peak_rss_mb=server.peak_rss_mb(),
            rss_after_mb=server.rss_mb(),
            recovered_after_s=recovered,
        )
        return result
    finally:
        server.stop()


def imdb_reviews(lo: int, hi: int) -> list[str]:
    """IMDB test reviews of ``lo`` to ``hi`` characters (evaluation text: nothing learns from it)."""
    from model.data import default_data_dir, read_imdb

    return [ex.text for ex in read_imdb(default_data_dir(), "test") if lo <= len(ex.text) <= hi]


def documents(env: dict[str, str], tmp: Path, seconds: int) -> dict[str, Any]:
    """Whole reviews through /predict on one worker: ~5,000-character reviews at concurrency 1 (latency,
    characters/s), and the longest accepted text, 100,000 characters, one request at a time."""
    reviews = imdb_reviews(4500, 5500)
    bodies = write_bodies(tmp / "reviews.jsonl", [{"text": t} for t in reviews])
    service = Server(SERVICE, env)
    run = wrk(service.url + "/predict", bodies, 1, seconds)
    mean_chars = statistics.mean(len(t) for t in reviews)
    long_text = (" ".join(imdb_reviews(1000, 100_000)))[:100_000]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        r = httpx.post(service.url + "/predict", json={"text": long_text}, timeout=60)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    out = {
        "review_chars_mean": mean_chars,
        "reviews": len(reviews),
        "review_rps": run["rps"],
        "review_latency_us": run["latency_us"],
        "chars_per_s": run["rps"] * mean_chars,
        "text_100k_s": {"max": max(times), "median": statistics.median(times)},
        "peak_rss_mb": service.peak_rss_mb(),
    }
    service.stop()
    return out


def english_only(env: dict[str, str], members: int, single: Path, batches: Path, seconds: int) -> dict[str, Any]:
    """The same load on a worker without the Chinese model: its memory, start-up and speed."""
    server = Server(SERVICE, {**env, "SENTIMENT_ENSEMBLE_MEMBERS": str(members), "SENTIMENT_CHECKPOINT_ZH": "none"})
    try:
        run = wrk(server.url + "/predict", single, 16, seconds)
        batch = wrk(server.url + "/predict/batch", batches, 4, seconds)
        return {
            "ready_s": server.ready_s,
            "predict_rps": run["rps"],
            "batch64_texts_per_s": batch["rps"] * 64,
            "errors": run["errors_total"] + batch["errors_total"],
            "peak_rss_mb": server.peak_rss_mb(),
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    p.add_argument("--rounds", type=int, default=3, help="bare/service rounds; ratios are medians")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--out", type=Path, default=BENCH)
    p.add_argument("--quick", action="store_true", help="2-second runs, one round (a smoke test)")
    p.add_argument(
        "--members",
        type=int,
        nargs="+",
        default=[0, 1],
        help="English ensemble sizes to serve, one service configuration each (0 = all members)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 2, 1
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench needs wrk and taskset: apt-get install wrk util-linux")
    checkpoint = EN_CHECKPOINT
    zh_checkpoint = language("zh").checkpoint_path
    env = {"SENTIMENT_TORCH_THREADS": "1"}
    if not zh_checkpoint.is_file():
        env["SENTIMENT_CHECKPOINT_ZH"] = "none"
    texts = sst_test_sentences()
    random.Random(0).shuffle(texts)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    single = write_bodies(tmp / "single.jsonl", [{"text": t} for t in texts])
    batches = write_bodies(tmp / "batch.jsonl", [{"texts": texts[i : i + 64]} for i in range(0, len(texts) - 63, 64)])
    typical = write_bodies(tmp / "typical.jsonl", [{"text": t} for t in typical_sentences(texts)])
    available = shipped_members()
    configs = {(k or available): f"{k or available} of {available} members" for k in args.members}
    results: dict[str, Any] = {"bare_rounds": [], "configs": {}}
    for k, label in configs.items():
        results["configs"][label] = {"members": k, "rounds": []}

    zh_bodies = None
    if zh_checkpoint.is_file():
        zh_bodies = write_bodies(tmp / "zh.jsonl", [{"text": t} for t in zh_test_sentences()])
    for r in range(args.rounds):
        bare = Server("bench.bare_app:app")
        bare_run = wrk(bare.url + "/predict", single, args.connections, args.seconds)
        bare.stop()
        results["bare_rounds"].append({**bare_run, "ready_s": bare.ready_s})
        for k, label in configs.items():
            config = results["configs"][label]
            service = Server(SERVICE, {**env, "SENTIMENT_ENSEMBLE_MEMBERS": str(k)})
            service_run = wrk(service.url + "/predict", single, args.connections, args.seconds)
            config["rounds"].append(
                {
                    "service": service_run,
                    "ratio": service_run["rps"] / bare_run["rps"],
                    "ready_s": service.ready_s,
                    "mean_batch": mean_forward_batch(service.url),
                }
            )
            batch = wrk(service.url + "/predict/batch", batches, 4, args.seconds)
            config.setdefault("batch64_rounds", []).append({**batch, "texts_per_s": batch["rps"] * 64})
            config.setdefault("concurrency1_rounds", []).append(wrk(service.url + "/predict", typical, 1, args.seconds))
            if k == available and zh_bodies is not None:  # Chinese reviews, the same server and load
                config.setdefault("zh_rounds", []).append(
                    wrk(service.url + "/predict", zh_bodies, args.connections, args.seconds)
                )
            config["peak_rss_mb"] = max(config.get("peak_rss_mb", 0.0), service.peak_rss_mb())
            config.setdefault("memory_rounds", []).append(service.memory_mb())
            service.stop()
            if r == 0:
                config["english_only"] = english_only(env, k, single, batches, args.seconds)
            print(
                f"round {r + 1}, {label}: bare {bare_run['rps']:.0f} req/s, service {service_run['rps']:.0f} req/s, "
                f"ratio {service_run['rps'] / bare_run['rps']:.3f}",
                file=sys.stderr,
            )

    if zh_bodies is not None:
        results["forward_cost_zh"] = forward_costs(zh_checkpoint, zh_test_sentences())

    results["documents"] = documents(env, tmp, args.seconds)
    results["overload"] = overload(env, single, args.seconds)
    results["bare_rps_median"] = statistics.median(x["rps"] for x in results["bare_rounds"])
    for k, label in configs.items():
        config = results["configs"][label]
        config["forward_cost"] = forward_costs(checkpoint, texts, k)
        rounds = config["rounds"]
        # Efficiency: the service's req/s over what a bare request plus the model alone (at the batch
        # size this load formed) would allow on one core: 1 / (bare us + model us per text).
        observed_batch = statistics.median(x["mean_batch"] for x in rounds)
        model_us = forward_us_per_text(k, texts, max(1, round(observed_batch)))
        limit_rps = 1e6 / (1e6 / results["bare_rps_median"] + model_us)
        # The round with the median texts/s (rounds are odd in number by default) stands for the batch run.
        by_speed = sorted(config["batch64_rounds"], key=lambda x: x["texts_per_s"])
        config["batch64"] = by_speed[len(by_speed) // 2]
        # Likewise the round with the median p99 stands for concurrency 1 (one run's tail is noise).
        by_tail = sorted(config["concurrency1_rounds"], key=lambda x: x["latency_us"]["p99"])
        config["concurrency1"] = by_tail[len(by_tail) // 2]
        config["summary"] = {
            "service_rps_median": statistics.median(x["service"]["rps"] for x in rounds),
            "ratio_median": statistics.median(x["ratio"] for x in rounds),
            "observed_batch": observed_batch,
            "model_us_per_text": model_us,
            "limit_rps": limit_rps,
            "efficiency": statistics.median(x["service"]["rps"] for x in rounds) / limit_rps,
            **_chinese(config),
            "service_errors": sum(x["service"]["errors_total"] for x in rounds),
            "batch64_texts_per_s": config["batch64"]["texts_per_s"],
            "concurrency1_p50_ms": config["concurrency1"]["latency_us"]["p50"] / 1000,
            "concurrency1_p99_ms": config["concurrency1"]["latency_us"]["p99"] / 1000,
            "ready_s_median": statistics.median(x["ready_s"] for x in rounds),
            "peak_rss_mb": config["peak_rss_mb"],
            "peak_rss_en_only_mb": config["english_only"]["peak_rss_mb"],
        }
    results["machine"] = machine()
    results["command"] = "make bench  # python -m bench.run " + " ".join(argv or sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import render

    (args.out / "RESULTS.md").write_text(render(results))
    print(json.dumps({label: c["summary"] for label, c in results["configs"].items()}, indent=2))


def _chinese(config: dict[str, Any]) -> dict[str, float]:
    """Chinese /predict next to English on the same server, round by round (median ratio)."""
    if "zh_rounds" not in config:
        return {}
    ratios = [z["rps"] / x["service"]["rps"] for z, x in zip(config["zh_rounds"], config["rounds"], strict=True)]
    return {
        "zh_rps_median": statistics.median(z["rps"] for z in config["zh_rounds"]),
        "zh_ratio_median": statistics.median(ratios),
    }


if __name__ == "__main__":
    main()
