"""Faults survived with nothing lost: ``make faults`` (``python -m bench.faults``).

Five bounded scenarios on loopback, with plain processes: replicas are ``python -m service`` (the
containers' entry point) pinned to CPU 0, and nginx is Debian's, run with
``deploy/nginx/nginx.conf`` itself, rendered with the replicas' addresses, a loopback port and a
temporary folder in place of the compose names (`nginx_conf`). wrk and nginx run on CPU 1.

1. replica killed: two replicas behind nginx, wrk -c32; one replica gets SIGKILL; a supervisor
   (the stand-in for ``restart: unless-stopped``) starts it again;
2. rolling restart: the same load; each replica in turn gets SIGTERM, drains and is started again;
3. slow clients: connections sending their headers a byte a second beside wrk -c16, one replica;
4. soak: one replica at about 70% of the capacity measured first, in the same run;
5. hostile text (`bench.hostile`) through /predict and /predict/batch at the largest accepted sizes.

Writes bench/FAULTS.md and bench/faults.json. ``--soak-s`` (or FAULTS_SOAK_S) sets the soak's
length and ``--only`` runs some scenarios, for short runs while developing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import hostile
from bench.fault_procs import (
    Replica,
    SlowClients,
    Supervised,
    heavy_load,
    nginx,
    predictions_served,
    wrk_env,
)
from bench.harness import BENCH, LOAD_CPU, free_port, machine, sst_test_sentences, write_bodies, wrk
from bench.memory import status_mb
from model.languages import language
from service.config import Settings

SCRIPT = "wrk_faults.lua"
Result = dict[str, Any]


def load_in_background(pool: ThreadPoolExecutor, url: str, bodies: Path, c: int, seconds: int) -> Future[Result]:
    return pool.submit(wrk, url + "/predict", bodies, c, seconds, SCRIPT)


def failed(run: Result) -> int:
    """Requests that did not get a 200: wrk's socket errors and timeouts, and any other status."""
    return int(run["errors_total"] + sum(n for s, n in run.get("statuses", {}).items() if s != "200"))


def summary(run: Result) -> Result:
    keep = ("requests", "rps", "errors", "statuses", "upstreams", "errors_total")
    latency = {f"{q}_ms": run["latency_us"][q] / 1000 for q in ("p50", "p99")}
    return {k: run[k] for k in keep if k in run} | latency


def killed(ctx: Context) -> Result:
    """Two replicas behind nginx under wrk; SIGKILL one at ``kill_at`` s; it is restarted."""
    a, b = (Supervised(free_port(), ctx.env, ctx.tmp / f"replica-{n}.log") for n in "ab")
    try:
        with nginx([a.port, b.port], ctx.tmp / "nginx-killed") as lb, ThreadPoolExecutor(1) as pool:
            started = time.perf_counter()
            run = load_in_background(pool, lb, ctx.bodies, 32, ctx.args.seconds)
            time.sleep(ctx.args.kill_at)
            killed_at = time.perf_counter()
            os.kill(a.replica.proc.pid, signal.SIGKILL)
            result = run.result()
            ended = time.perf_counter()
        ready = a.ready_after(killed_at)
        served = predictions_served(a.url) if ready else 0
        retried = sum(n for u, n in result["upstreams"].items() if "," in u)
        out = summary(result) | {
            "killed_at_s": killed_at - started,
            "restarted_ready_s": None if ready is None else ready - killed_at,
            "served_after_restart": served,
            "retried": retried,
            "run_s": ended - started,
        }
        out["met"] = failed(result) == 0 and ready is not None and served > 0
        return out
    finally:
        a.close()
        b.close()


def watch_drain(url: str, seconds: float) -> Result:
    """Poll /ready after SIGTERM: when 503 was first seen and when connections were refused."""
    started, first_503, refused = time.perf_counter(), None, None
    while time.perf_counter() - started < seconds and refused is None:
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 503 and first_503 is None:
                first_503 = time.perf_counter() - started
        except httpx.TransportError:
            refused = time.perf_counter() - started
        time.sleep(0.05)
    return {"ready_503_after_s": first_503, "refused_after_s": refused}


def rolling(ctx: Context) -> Result:
    """The same load; each replica in turn: SIGTERM, drain, exit, started again, serving again."""
    replicas = [Supervised(free_port(), ctx.env, ctx.tmp / f"rolling-{n}.log") for n in "ab"]
    steps: list[Result] = []
    try:
        with nginx([r.port for r in replicas], ctx.tmp / "nginx-rolling") as lb, ThreadPoolExecutor(1) as pool:
            started = time.perf_counter()
            run = load_in_background(pool, lb, ctx.bodies, 32, ctx.args.seconds)
            time.sleep(ctx.args.kill_at / 2)
            for r in replicas:
                sent = time.perf_counter()
                r.replica.proc.send_signal(signal.SIGTERM)
                step: Result = {"sigterm_at_s": sent - started} | watch_drain(r.url, 30)
                while r.ready_after(sent) is None and time.perf_counter() - sent < 60:
                    time.sleep(0.05)
                ready = r.ready_after(sent)
                exit_event = next((what for t, what in r.events if t > sent and what.startswith("exited")), None)
                step |= {"exit": exit_event, "restarted_ready_s": None if ready is None else ready - sent}
                step["serving_again_s"] = None
                while ready is not None and time.perf_counter() - sent < 60:
                    if predictions_served(r.url) > 0:  # nginx sends to it again (after fail_timeout at most)
                        step["serving_again_s"] = time.perf_counter() - sent
                        break
                    time.sleep(0.1)
                steps.append(step)
            result = run.result()
            done_at = time.perf_counter() - started
        out = summary(result) | {"steps": steps, "run_s": done_at}
        out["met"] = (
            failed(result) == 0
            and all(s["ready_503_after_s"] is not None and s["serving_again_s"] is not None for s in steps)
            and all(s["sigterm_at_s"] + s["serving_again_s"] < ctx.args.seconds for s in steps)
        )
        return out
    finally:
        for r in replicas:
            r.close()


@dataclass(frozen=True)
class Context:
    args: argparse.Namespace
    env: dict[str, str]  # SENTIMENT_* for every replica
    bodies: Path  # SST-2 test sentences, one /predict body a line
    tmp: Path


def sample_rss(pid: int, stop: threading.Event, into: list[float]) -> None:
    while not stop.wait(0.5):
        try:
            into.append(status_mb("VmRSS", pid))
        except (FileNotFoundError, ProcessLookupError):
            return


def slow_clients(ctx: Context) -> Result:
    """One replica: wrk -c16 alone, then beside connections that send their headers a byte a second."""
    replica = Replica(free_port(), ctx.env, ctx.tmp / "slow.log")
    try:
        base = wrk(replica.url + "/predict", ctx.bodies, 16, ctx.args.slow_s, SCRIPT)
        rss_before = replica.rss_mb()
        samples: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(replica.proc.pid, stop, samples))
        with SlowClients(replica.port, ctx.args.slow_connections) as slow:
            sampler.start()
            time.sleep(2)
            open_at_start = slow.open_now
            loaded = wrk(replica.url + "/predict", ctx.bodies, 16, ctx.args.slow_s, SCRIPT)
            stop.set()
            sampler.join()
            open_at_end = slow.open_now
        header_timeout = Settings().header_timeout_s
        lifetimes = slow.lifetimes
        fivexx = sum(n for st, n in loaded["statuses"].items() if st.startswith("5"))
        out: Result = {
            "without": summary(base),
            "with": summary(loaded),
            "p99_ratio": loaded["latency_us"]["p99"] / base["latency_us"]["p99"],
            "slow_open_at_start": open_at_start,
            "slow_open_at_end": open_at_end,
            "slow_closed_by_server": len(lifetimes),
            "slow_lifetime_s": {"median": statistics.median(lifetimes), "max": max(lifetimes)} if lifetimes else None,
            "slow_connect_errors": slow.connect_errors,
            "header_timeout_s": header_timeout,
            "rss_before_mb": rss_before,
            "rss_max_mb": max(samples, default=rss_before),
            "rss_after_mb": replica.rss_mb(),
        }
        out["met"] = (
            out["p99_ratio"] <= 2.0
            and fivexx == 0
            and failed(loaded) == 0
            and out["rss_max_mb"] - rss_before < 64
            and bool(lifetimes)
            and max(lifetimes) <= header_timeout + 2
        )
        return out
    finally:
        replica.stop()


def soak(ctx: Context) -> Result:
    """One replica: capacity (wrk -c16), then ``soak_s`` at about 70% of it in equal segments."""
    replica = Replica(free_port(), ctx.env, ctx.tmp / "soak.log")
    c = 32
    try:
        capacity = wrk(replica.url + "/predict", ctx.bodies, 16, 10, SCRIPT)["rps"]
        target = 0.7 * capacity
        # Each connection waits a pause after each answer: rate = c / (pause + latency). One probe at
        # the nominal pause measures the latency at about this load, and the pause is set from it.
        pause = c / target
        with wrk_env(RATE_PER_CONNECTION=f"{1 / pause:.4f}"):
            probe = wrk(replica.url + "/predict", ctx.bodies, c, 5, SCRIPT)
        latency = c / probe["rps"] - pause
        per_connection = 1 / max(pause - latency, 1e-3)
        segment_s = 60 if ctx.args.soak_s >= 180 else max(5, ctx.args.soak_s // 3)
        segments: list[Result] = []
        with wrk_env(RATE_PER_CONNECTION=f"{per_connection:.4f}"):
            for _ in range(max(3, ctx.args.soak_s // segment_s)):
                run = wrk(replica.url + "/predict", ctx.bodies, c, segment_s, SCRIPT)
                segments.append(summary(run) | {"rss_mb": replica.rss_mb()})
        first, last = segments[0], segments[-1]
        out: Result = {
            "capacity_rps": capacity,
            "target_rps": target,
            "connections": c,
            "segment_s": segment_s,
            "segments": segments,
            "load_fraction": statistics.mean(x["rps"] for x in segments) / capacity,
            "rss_growth": last["rss_mb"] / first["rss_mb"] - 1,
            "p99_ratio": last["p99_ms"] / first["p99_ms"],
            "failed": sum(failed(x) for x in segments),
            "peak_rss_mb": replica.peak_rss_mb(),
        }
        out["met"] = out["rss_growth"] < 0.05 and out["p99_ratio"] <= 1.2 and out["failed"] == 0
        return out
    finally:
        replica.stop()


def hostile_text(ctx: Context) -> Result:
    """Every hostile case once (bench.hostile), then: still ready, still answering; tokenizer scaling."""
    replica = Replica(free_port(), ctx.env, ctx.tmp / "hostile.log")
    try:
        with httpx.Client(base_url=replica.url, timeout=30) as client:
            outcomes = [hostile.send(client, case) for case in hostile.cases(Settings())]
            ready = client.get("/ready").status_code
            after = client.post("/predict", json={"text": "A fine, warm film."}).status_code
        rows = [
            {
                "case": o.case.name,
                "path": o.case.path,
                "body_bytes": len(o.case.body),
                "expect": o.case.expect,
                "status": o.status,
                "seconds": o.seconds,
                "ok": o.ok,
            }
            for o in outcomes
        ]
        scaling = hostile.tokenizer_scaling()
        worst_ratio = max(v for row in scaling.values() for k, v in row.items() if k.endswith("_ratio"))
        out: Result = {
            "cases": rows,
            "ready_after": ready,
            "predict_after": after,
            "alive_after": replica.proc.poll() is None,
            "rss_after_mb": replica.rss_mb(),
            "tokenizer": scaling,
            "worst_10x_ratio": worst_ratio,
        }
        out["met"] = all(r["ok"] for r in rows) and ready == 200 and after == 200 and worst_ratio < 20
        return out
    finally:
        replica.stop()


def _run_stamp() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at {commit.stdout.strip() or 'an unknown commit'}"


def main(argv: list[str] | None = None) -> None:
    from bench.faults_report import render

    scenarios: dict[str, Callable[[Context], Result]] = {
        "killed": killed,
        "rolling": rolling,
        "slow_clients": slow_clients,
        "soak": soak,
        "hostile": hostile_text,
    }
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=list(scenarios), default=list(scenarios))
    p.add_argument("--seconds", type=int, default=60, help="the wrk run of scenarios 1 and 2")
    p.add_argument("--kill-at", type=int, default=20, help="seconds into scenario 1's run of the SIGKILL")
    p.add_argument("--slow-connections", type=int, default=500)
    p.add_argument("--slow-s", type=int, default=30, help="each wrk run of scenario 3 (without, then with)")
    p.add_argument("--soak-s", type=int, default=int(os.environ.get("FAULTS_SOAK_S", "600")))
    p.add_argument("--out", type=Path, default=BENCH)
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the other scenarios of OUT/faults.json (each row says when and at which commit it ran)",
    )
    args = p.parse_args(argv)
    env = {"SENTIMENT_TORCH_THREADS": "1", "SENTIMENT_LOG_LEVEL": "warning"}
    if not language("zh").checkpoint_path.is_file():
        env["SENTIMENT_CHECKPOINT_ZH"] = "none"
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # this driver (and the slow clients) beside wrk
    tmp = Path(tempfile.mkdtemp(prefix="faults-"))
    texts = sst_test_sentences()
    random.Random(0).shuffle(texts)
    ctx = Context(args, env, write_bodies(tmp / "single.jsonl", [{"text": t} for t in texts]), tmp)
    results: Result = {"scenarios": {}}
    kept = args.out / "faults.json"
    if args.keep and kept.is_file():
        old = json.loads(kept.read_text())
        # in the report's order, whatever is rerun; each kept row says when it ran
        results["scenarios"] = {
            n: {"run": old["machine"]["date"]} | old["scenarios"][n] for n in scenarios if n in old["scenarios"]
        }
    with heavy_load():
        for name in args.only:
            print(f"scenario {name} ...", file=sys.stderr)
            results["scenarios"][name] = scenarios[name](ctx) | {"run": _run_stamp()}
            print(json.dumps(results["scenarios"][name], default=str)[:600], file=sys.stderr)
    results["args"] = vars(args) | {"out": str(args.out)}
    results["command"] = "make faults  # python -m bench.faults " + " ".join(argv or sys.argv[1:])
    results["machine"] = machine() | {"nginx": nginx_version()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "faults.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "FAULTS.md").write_text(render(results))
    print(f"wrote {args.out / 'FAULTS.md'}", file=sys.stderr)


def nginx_version() -> str:
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


if __name__ == "__main__":
    main()
