"""Render bench/peers.json as bench/PEERS.md."""

from __future__ import annotations

from typing import Any

# The goals of issue 21: this service's req/s divided by the peer's, same run, 16 connections.
RATIO_GOALS = {"litserve": 3.0, "naive": 12.0}
C1_P99_GOAL_MS = 1.5
ORDER = ("service", "naive", "litserve", "bentoml")


def _ok(good: bool) -> str:
    return "yes" if good else "**no**"


def _lat(run: dict[str, Any]) -> str:
    lat = run["latency_us"]
    return f"{lat['p50'] / 1000:.2f} / {lat['p99'] / 1000:.2f}"


def _headline(res: dict[str, Any]) -> list[str]:
    c = res["connections"]
    lines = [
        f"| server | req/s, {c} connections | p50 / p99 ms | this service ÷ peer | req/s, 1 connection | "
        "p50 / p99 ms | this service ÷ peer | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ORDER:
        peer = res["peers"][name]
        if "summary" not in peer:
            lines.append(f"| {peer['title']} | did not run: {peer['error'] or 'no complete rounds'} |||||||")
            continue
        s = peer["summary"]
        ratio = "—" if name == "service" else f"**{s['load_ratio']:.2f}x**"
        ratio1 = "—" if name == "service" else f"{s['c1_ratio']:.2f}x"
        lines.append(
            f"| {peer['title']} | {s['load_rps']:.0f} | {s['load_p50_ms']:.2f} / {s['load_p99_ms']:.2f} | {ratio} | "
            f"{s['c1_rps']:.0f} | {s['c1_p50_ms']:.2f} / {s['c1_p99_ms']:.2f} | {ratio1} | "
            f"{s['load_errors'] + s['c1_errors']} |"
        )
    fresh = {n: p["summary"] for n, p in res["peers"].items() if "c1_fresh_rps" in p.get("summary", {})}
    for name, f in fresh.items():
        lines += [
            "",
            f"{res['peers'][name]['title']} at 1 connection on a fresh server (started again, warmed at 1 "
            f"connection): {f['c1_fresh_rps']:.0f} req/s, p50 / p99 {f['c1_fresh_p50_ms']:.2f} / "
            f"{f['c1_fresh_p99_ms']:.2f} ms (this service ÷ it: {f['c1_fresh_ratio']:.2f}x). Right after the "
            f"{res['connections']}-connection run, BentoML's dispatcher holds a lone request about as long as "
            "its last 50 batches waited under load (its `CorkDispatcher` waits while `n * (wait of the newest "
            "+ tick + a) <= 0.95 * mean wait`), and the waits it then records keep that figure up.",
        ]
    return lines


def _goals(res: dict[str, Any]) -> list[str]:
    peers = res["peers"]
    lines = ["| measure | this run | goal | met |", "|---|---|---|---|"]
    for name, goal in RATIO_GOALS.items():
        title = peers[name]["title"]
        if "summary" in peers[name]:
            ratio = peers[name]["summary"]["load_ratio"]
            lines.append(
                f"| this service ÷ {title}, /predict, {res['connections']} connections | "
                f"{ratio:.2f}x | ≥ {goal:.1f}x | {_ok(ratio >= goal)} |"
            )
        else:
            lines.append(f"| this service ÷ {title} | not measured | ≥ {goal:.1f}x | **no** |")
    own = peers["service"]["summary"]["c1_p99_ms"]
    # Each peer's best p99 at 1 connection (BentoML's fresh-server figure where it is the lower).
    others = {
        n: min(p["summary"][k] for k in ("c1_p99_ms", "c1_fresh_p99_ms") if k in p["summary"])
        for n, p in peers.items()
        if n != "service" and "summary" in p
    }
    listed = ", ".join(f"{n} {v:.2f} ms" for n, v in others.items())
    lines += [
        f"| concurrency 1 p99 of this service | {own:.2f} ms | < {C1_P99_GOAL_MS} ms | {_ok(own < C1_P99_GOAL_MS)} |",
        f"| ... below every peer's best (peers: {listed}) | {own:.2f} ms | below each | "
        f"{_ok(all(own < v for v in others.values()))} |",
    ]
    return lines


def _rounds(res: dict[str, Any]) -> list[str]:
    names = [n for n in ORDER if res["peers"][n]["rounds"]]
    lines = [
        "| round | "
        + " | ".join(f"{n}: req/s, p50 / p99 ms ({res['connections']} conn.; 1 conn.)" for n in names)
        + " |",
        "|---|" + "---|" * len(names),
    ]
    for i in range(res["rounds"]):
        cells = []
        for n in names:
            rounds = res["peers"][n]["rounds"]
            if i >= len(rounds):
                cells.append("—")
                continue
            r = rounds[i]
            cell = f"{r['load']['rps']:.0f}, {_lat(r['load'])}; {r['c1']['rps']:.0f}, {_lat(r['c1'])}"
            if "c1_fresh" in r:
                cell += f"; fresh server, 1 conn.: {r['c1_fresh']['rps']:.0f}, {_lat(r['c1_fresh'])}"
            cells.append(cell)
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def _tuning(res: dict[str, Any]) -> list[str]:
    best = res["litserve_best"]
    lines = [
        f"| max_batch_size | batch_timeout (s) | req/s, {res['connections']} connections | p50 / p99 ms | errors | |",
        "|---|---|---|---|---|---|",
    ]
    for t in res["litserve_tuning"]:
        chosen = (
            "**best**"
            if (t["max_batch_size"], t["batch_timeout"]) == (best["max_batch_size"], best["batch_timeout"])
            else ""
        )
        if "load" not in t:
            lines.append(f"| {t['max_batch_size']} | {t['batch_timeout']} | failed: {t['error']} ||||")
            continue
        lines.append(
            f"| {t['max_batch_size']} | {t['batch_timeout']} | {t['load']['rps']:.0f} | {_lat(t['load'])} | "
            f"{t['load']['errors_total']} | {chosen} |"
        )
    return lines


def _pinning(res: dict[str, Any]) -> str:
    parts = []
    for name in ORDER:
        rounds = res["peers"][name]["rounds"]
        if rounds:
            procs = sorted({r["processes"] for r in rounds})
            cpus = sorted({c for r in rounds for c in r["cpus"]})
            diff = max(r["check_max_probability_diff"] for r in rounds)
            parts.append(
                f"{name}: {'/'.join(map(str, procs))} process(es) on CPU {','.join(map(str, cpus))}, "
                f"ready after {min(r['ready_s'] for r in rounds):.1f}-{max(r['ready_s'] for r in rounds):.1f} s, "
                f"answers within {diff:.1e} of the service's"
            )
    return "; ".join(parts)


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# This service next to the peers a user would pick",
        "",
        f"Measured by `{res['command'].strip()}` on {m['date']}: {m['cpu']}, {m['cores']} cores; Python "
        f"{m['python']}, torch {m['torch']}, FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, LitServe "
        f"{m['litserve']}, BentoML {m['bentoml']}, {m['wrk']}; code at {res['git']}.",
        f"Every server serves `{res['checkpoint']}` (all {res['members']} members, logits averaged and "
        "temperature-scaled as the service does, three-way answers) from one environment "
        f"(`{res['python']}`), pinned to CPU 0 with 1 torch thread and no access log; wrk `-t1` pinned to CPU 1. "
        f"Bodies: the SST-2 test sentences of `bench.run` at {res['connections']} connections, its typical "
        "(15-25-word) sentences at 1 connection. "
        f"{res['rounds']} rounds, each running every server once ({res['warmup_s']} s of unrecorded load, then "
        f"{res['seconds']} s per measurement); figures are medians of the rounds, ratios the median of the "
        "same-round ratios.",
        "",
        "## Headline",
        "",
        *_headline(res),
        "",
        "## Goals (issue 21)",
        "",
        *_goals(res),
        "",
        "## How each server was run",
        "",
        "- **naive FastAPI** (`bench/peer_apps/naive.py`): a sync `def` route (FastAPI's thread pool), a pydantic "
        "body, one forward pass per request through the checkpoint's `torch.nn.RNN` modules "
        "(`Checkpoint.build_models()`, h0 = zeros); one uvicorn worker, as `bench.run` starts a server.",
        "- **LitServe** (`bench/peer_apps/litserve_app.py`): `LitAPI` with `predict` over the batch LitServe "
        "collects (one forward pass per batch, same modules); one inference worker, one API server. Tuned "
        "first (below); the rounds use the best configuration by req/s. Its five processes (the launcher, the API "
        "server, the inference worker, a queue manager, multiprocessing's resource tracker) share CPU 0, as every "
        "server here gets one core; unpinned, they could spread over both.",
        "- **BentoML** (`bench/peer_apps/bento_service.py`): `@bentoml.service(workers=1)`, "
        "`@bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)` (adaptive batching; the "
        "latency bound is set high so that no request is refused). A batchable API takes a list, so its "
        'bodies are `{"texts": [sentence]}` (the same sentences, one per request) and its answer a one-item '
        "list; same wrk script.",
        "- **this service**: `python -m service` (the image's command) started as `bench.run` starts it "
        f"(`SENTIMENT_TORCH_THREADS=1`, `SENTIMENT_ENSEMBLE_MEMBERS={res['members']}`"
        + (", the Chinese model loaded too" if res["zh_loaded"] else ", English only")
        + ").",
        "",
        f"Checked before each measurement: {_pinning(res)}. Compared on {res['check_texts']} sentences; "
        f"{res['bodies_of_several_sentences']['load']} of the {res['bodies']['load']} bodies at "
        f"{res['connections']} connections ({res['bodies_of_several_sentences']['c1']} of the {res['bodies']['c1']} "
        "at 1) hold more than one sentence by the service's splitter: the service reads those sentence by "
        "sentence (its document mode: more rows in the forward pass), the peers read every body whole.",
        "",
        "## LitServe configurations tried",
        "",
        *_tuning(res),
        "",
        "## Rounds",
        "",
        *_rounds(res),
        "",
    ]
    return "\n".join(lines)
