"""Peers: ``make peers`` (``python -m bench.peers``, with the Python of ``.venv-peers``).

The shipped English checkpoint (all members) served four ways, in one run, on this machine: (a) the
FastAPI endpoint most users write (`bench.peer_apps.naive`), (b) LitServe with its batching
(`bench.peer_apps.litserve_app`; a tuning step first tries a grid of ``max_batch_size`` x
``batch_timeout`` and the rounds use the best by req/s), (c) BentoML with adaptive batching
(`bench.peer_apps.bento_service`) and (d) this service, started as `bench.run` starts it. Every
server runs from the same environment, pinned to CPU 0 with one torch thread, under wrk pinned to
CPU 1 with the bodies of `bench.run` (SST-2 test sentences). Before a server is timed, its answers
to a few sentences are checked against the service's. Each round runs every server once: 16
connections (all sentences), then one connection (typical 15-25-word sentences, as `bench.run`'s
concurrency-1 figure). Writes bench/PEERS.md and bench/peers.json.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BENCH,
    EN_CHECKPOINT,
    ROOT,
    SERVICE,
    Server,
    machine,
    shipped_members,
    sst_test_sentences,
    typical_sentences,
    write_bodies,
    wrk,
)
from bench.peer_procs import PeerServer, pinning
from model.languages import language
from model.segment import sentences

LITSERVE_GRID = [(size, timeout) for size in (16, 64) for timeout in (0.001, 0.005, 0.01)]
# Sentences whose answers each server must give as the service does: ones it reads as one sentence
# (a body of several it reads as a document, sentence by sentence; a peer reads any body whole).
CHECK_TEXTS = 5
PROBABILITY_TOLERANCE = 1e-3  # the service's fast path equals torch.nn.RNN to 1e-5


@dataclass(frozen=True)
class Peer:
    """One way of serving the checkpoint: how to start it, what its bodies are, where its answer is."""

    title: str
    start: Callable[[], Server]
    batched_body: bool = False  # ``{"texts": [text]}`` instead of ``{"text": text}``; answer: a one-item list
    # Also measured at 1 connection on a fresh server: an adaptive batcher's wait at 1 connection can
    # depend on what it learnt under the 16-connection run just before.
    fresh_c1: bool = False


def litserve(max_batch_size: int, batch_timeout: float) -> Callable[[], Server]:
    module = [sys.executable, "-m", "bench.peer_apps.litserve_app"]
    return lambda: PeerServer(
        lambda port: [
            *module,
            f"--port={port}",
            f"--max-batch-size={max_batch_size}",
            f"--batch-timeout={batch_timeout}",
        ],
        "/health",
    )


def bentoml(home: Path) -> Callable[[], Server]:
    def command(port: int) -> list[str]:
        serve = [sys.executable, "-m", "bentoml", "serve", "bench.peer_apps.bento_service:SentimentPeer"]
        return [*serve, f"--working-dir={ROOT}", f"--port={port}", "--host=127.0.0.1"]

    return lambda: PeerServer(command, "/readyz", {"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"})


def answers(server: Server, texts: list[str], batched_body: bool) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        r = httpx.post(server.url + "/predict", json={"texts": [text]} if batched_body else {"text": text}, timeout=30)
        r.raise_for_status()
        out.append(r.json()[0] if batched_body else r.json())
    return out


def check(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> float:
    """Raise unless every label is the service's; return the largest probability difference."""
    worst = 0.0
    for g, e in zip(got, expected, strict=True):
        if g["label"] != e["label"] or set(g["probabilities"]) != set(e["probabilities"]):
            raise RuntimeError(f"answers {g} where the service answers {e}")
        worst = max(worst, *(abs(g["probabilities"][k] - v) for k, v in e["probabilities"].items()))
    if worst > PROBABILITY_TOLERANCE:
        raise RuntimeError(f"probabilities differ from the service's by {worst:.2e}")
    return worst


@dataclass(frozen=True)
class Load:
    """What each server is driven with."""

    bodies: dict[str, Path]  # "load" (all sentences), "c1" (typical ones), and the same with a "-batched" suffix
    connections: int
    seconds: int
    warmup: int
    check_texts: list[str]
    expected: list[dict[str, Any]]


def measure(peer: Peer, load: Load, runs: tuple[str, ...] = ("load", "c1")) -> dict[str, Any]:
    """Start the peer, check its answers, warm it up (as the first run), drive it; always stop it.
    ``runs``: "load" (all sentences, ``load.connections``), "c1" (typical sentences, 1 connection)."""
    server = peer.start()
    try:
        suffix = "-batched" if peer.batched_body else ""
        url = server.url + "/predict"
        out: dict[str, Any] = {"ready_s": server.ready_s, **pinning(server)}
        out["check_max_probability_diff"] = check(answers(server, load.check_texts, peer.batched_body), load.expected)
        for i, run in enumerate(runs):
            connections = load.connections if run == "load" else 1
            if i == 0 and load.warmup:
                wrk(url, load.bodies[run + suffix], connections, load.warmup)
            out[run] = wrk(url, load.bodies[run + suffix], connections, load.seconds)
        return out
    finally:
        server.stop()


def tune_litserve(load: Load) -> list[dict[str, Any]]:
    tried = []
    for size, timeout in LITSERVE_GRID:
        config: dict[str, Any] = {"max_batch_size": size, "batch_timeout": timeout}
        try:
            config.update(measure(Peer("LitServe", litserve(size, timeout)), load, runs=("load",)))
        except (RuntimeError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
            config["error"] = f"{type(exc).__name__}: {exc}"
        tried.append(config)
        print(
            f"litserve {size} x {timeout}: {config['load']['rps'] if 'load' in config else config['error']}",
            file=sys.stderr,
        )
    return tried


def summarize(rounds: list[dict[str, Any]], service_rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds; ratios of the service to the peer in the same round, then their median."""
    out: dict[str, Any] = {}
    for key in ("load", "c1", "c1_fresh"):
        if key not in rounds[0]:
            continue
        out[f"{key}_rps"] = statistics.median(r[key]["rps"] for r in rounds)
        for q in ("p50", "p99"):
            out[f"{key}_{q}_ms"] = statistics.median(r[key]["latency_us"][q] for r in rounds) / 1000
        out[f"{key}_errors"] = sum(r[key]["errors_total"] for r in rounds)
        own = "c1" if key == "c1_fresh" else key
        out[f"{key}_ratio"] = statistics.median(
            s[own]["rps"] / r[key]["rps"] for r, s in zip(rounds, service_rounds, strict=True)
        )
    return out


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--", "service", "model")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes in service/ or model/" if dirty else "")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    p.add_argument("--rounds", type=int, default=3, help="rounds; every server runs once in each")
    p.add_argument("--warmup", type=int, default=1, help="seconds of load, not recorded, before each server's runs")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--out", type=Path, default=BENCH)
    p.add_argument("--quick", action="store_true", help="2-second runs, one round (a smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 2, 1
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("peers needs wrk and taskset: apt-get install wrk util-linux")
    if not all(importlib.util.find_spec(m) for m in ("litserve", "bentoml")):
        sys.exit("peers needs litserve and bentoml: run `make peers` (it creates .venv-peers)")

    members = shipped_members()
    env = {"SENTIMENT_TORCH_THREADS": "1", "SENTIMENT_ENSEMBLE_MEMBERS": str(members)}
    if not language("zh").checkpoint_path.is_file():
        env["SENTIMENT_CHECKPOINT_ZH"] = "none"
    texts = sst_test_sentences()
    random.Random(0).shuffle(texts)
    typical = typical_sentences(texts)
    tmp = Path(tempfile.mkdtemp(prefix="peers-"))
    bodies = {}
    for key, chosen in (("load", texts), ("c1", typical)):
        bodies[key] = write_bodies(tmp / f"{key}.jsonl", [{"text": t} for t in chosen])
        bodies[key + "-batched"] = write_bodies(tmp / f"{key}-batched.jsonl", [{"texts": [t]} for t in chosen])
    several = {
        "load": sum(len(sentences(t, "en")) > 1 for t in texts),
        "c1": sum(len(sentences(t, "en")) > 1 for t in typical),
    }
    check_texts = [t for t in texts if len(sentences(t, "en")) == 1][:CHECK_TEXTS]
    service = Server(SERVICE, env)
    try:
        expected = answers(service, check_texts, batched_body=False)
    finally:
        service.stop()
    load = Load(bodies, args.connections, args.seconds, args.warmup, check_texts, expected)

    tuning = tune_litserve(load)
    best = max((t for t in tuning if "load" in t and t["load"]["errors_total"] == 0), key=lambda t: t["load"]["rps"])
    peers = {
        "service": Peer("this service (`python -m service`)", lambda: Server(SERVICE, env)),
        "naive": Peer(
            "naive FastAPI (sync `def`, one forward per request)", lambda: Server("bench.peer_apps.naive:app")
        ),
        "litserve": Peer(
            f"LitServe (max_batch_size={best['max_batch_size']}, batch_timeout={best['batch_timeout']})",
            litserve(best["max_batch_size"], best["batch_timeout"]),
        ),
        "bentoml": Peer(
            "BentoML (adaptive batching, 1 worker)", bentoml(tmp / "bentoml"), batched_body=True, fresh_c1=True
        ),
    }
    results: dict[str, Any] = {name: {"title": peer.title, "rounds": [], "error": None} for name, peer in peers.items()}
    for r in range(args.rounds):
        for name, peer in peers.items():
            result = results[name]
            if result["error"]:
                continue
            try:
                result["rounds"].append(measure(peer, load))
                if peer.fresh_c1:
                    result["rounds"][-1]["c1_fresh"] = measure(peer, load, runs=("c1",))["c1"]
            except (RuntimeError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
                if name == "service":
                    raise
                result["error"] = f"{type(exc).__name__}: {exc}"
                print(f"round {r + 1}, {name}: {result['error']}", file=sys.stderr)
                continue
            run = result["rounds"][-1]
            print(
                f"round {r + 1}, {name}: {run['load']['rps']:.0f} req/s at {args.connections} connections, "
                f"{run['c1']['rps']:.0f} at 1",
                file=sys.stderr,
            )
    for result in results.values():
        if len(result["rounds"]) == args.rounds:
            result["summary"] = summarize(result["rounds"], results["service"]["rounds"])

    versions = {m: importlib.metadata.version(m) for m in ("litserve", "bentoml")}
    report = {
        "machine": {**machine(), **versions},
        "command": "make peers  # python -m bench.peers " + " ".join(argv if argv is not None else sys.argv[1:]),
        "python": os.path.relpath(sys.executable, ROOT),
        "git": git_state(),
        "checkpoint": str(EN_CHECKPOINT.relative_to(ROOT)),
        "members": members,
        "zh_loaded": "SENTIMENT_CHECKPOINT_ZH" not in env,
        "bodies": {"load": len(texts), "c1": len(typical)},
        "check_texts": len(check_texts),
        "bodies_of_several_sentences": several,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "litserve_tuning": tuning,
        "litserve_best": {"max_batch_size": best["max_batch_size"], "batch_timeout": best["batch_timeout"]},
        "peers": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(report, indent=2) + "\n")
    from bench.peers_report import render

    (args.out / "PEERS.md").write_text(render(report))
    print(json.dumps({n: r.get("summary", r["error"]) for n, r in results.items()}, indent=2))


if __name__ == "__main__":
    main()
