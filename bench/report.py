"""Render bench/results.json as bench/RESULTS.md."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "ratio": 0.60,
    "batch64_texts_per_s": 15_000,
    "p50_ms": 2.0,
    "p99_ms": 5.0,
    "ready_s": 3.0,
    "rss_mb": 400,
}


def _ok(good: bool) -> str:
    return "yes" if good else "**no**"


def _lat(r: dict[str, Any]) -> str:
    lat = r["latency_us"]
    return f"{lat['p50'] / 1000:.2f} / {lat['p90'] / 1000:.2f} / {lat['p99'] / 1000:.2f}"


def render(res: dict[str, Any]) -> str:
    s, m = res["summary"], res["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured by `{res['command'].strip()}` on {m['date']}: {m['cpu']}, {m['cores']} cores; Python "
        f"{m['python']}, torch {m['torch']}, FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, {m['wrk']}.",
        "Each server: one uvicorn worker (uvloop + httptools), pinned to CPU 0, 1 torch thread; wrk pinned to "
        "CPU 1 (`-t1`), bodies = real SST-2 test sentences. The shared machine makes absolute numbers drift "
        "from run to run; the ratio of the service to the bare app measured in the same round is what holds.",
        "",
        "## Targets",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        f"| /predict req/s vs bare FastAPI (16 connections, median of {len(res['rounds'])} rounds) | "
        f"{s['service_rps_median']:.0f} vs {s['bare_rps_median']:.0f} = **{s['ratio_median']:.2f}** | >= "
        f"{TARGETS['ratio']:.2f} | {_ok(s['ratio_median'] >= TARGETS['ratio'])} |",
        f"| /predict errors | {s['service_errors']} | 0 | {_ok(s['service_errors'] == 0)} |",
        f"| /predict/batch, 64 texts per request | **{s['batch64_texts_per_s']:.0f} texts/s** | >= "
        f"{TARGETS['batch64_texts_per_s']:,} | {_ok(s['batch64_texts_per_s'] >= TARGETS['batch64_texts_per_s'])} |",
        f"| concurrency 1, typical sentence (15-25 words): p50 | **{s['concurrency1_p50_ms']:.2f} ms** | < 2 ms | "
        f"{_ok(s['concurrency1_p50_ms'] < TARGETS['p50_ms'])} |",
        f"| concurrency 1: p99 | **{s['concurrency1_p99_ms']:.2f} ms** | < 5 ms | "
        f"{_ok(s['concurrency1_p99_ms'] < TARGETS['p99_ms'])} |",
        f"| process start to /ready (median) | **{s['ready_s_median']:.2f} s** | < 3 s | "
        f"{_ok(s['ready_s_median'] < TARGETS['ready_s'])} |",
        f"| peak RSS of the worker | **{s['peak_rss_mb']:.0f} MB** | < 400 MB | "
        f"{_ok(s['peak_rss_mb'] < TARGETS['rss_mb'])} |",
        "",
        "## Rounds",
        "",
        "| round | bare req/s | bare p50/p90/p99 ms | service req/s | service p50/p90/p99 ms | ratio | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(res["rounds"], 1):
        lines.append(
            f"| {i} | {r['bare']['rps']:.0f} | {_lat(r['bare'])} | {r['service']['rps']:.0f} | "
            f"{_lat(r['service'])} | {r['ratio']:.3f} | {r['service']['errors_total']} |"
        )
    r0 = res["rounds"][0]
    b = r0["batch64"]
    c1 = r0["concurrency1"]
    lines += [
        "",
        f"/predict/batch (4 connections, 64 sentences per request): {b['rps']:.0f} req/s = {b['texts_per_s']:.0f} "
        f"texts/s, p50/p90/p99 {_lat(b)} ms, errors {b['errors_total']}.",
        f"Concurrency 1: {c1['rps']:.0f} req/s, p50/p90/p99 {_lat(c1)} ms.",
        "",
    ]
    o = res["overload"]
    lines += [
        "## Overload",
        "",
        "A service with `SENTIMENT_QUEUE_SIZE=64` driven by 512 connections (far past capacity):",
        "",
        f"- responses: {o['status_200']} x 200, {o['status_503_retry_after']} x 503 with Retry-After, "
        f"{o['status_503_no_retry_after']} x 503 without, {o['status_other']} other; socket errors "
        f"{o['errors']['connect'] + o['errors']['read'] + o['errors']['write']}, timeouts {o['errors']['timeout']};",
        f"- latency p50/p90/p99 {_lat(o)} ms;",
        f"- RSS {o['rss_before_mb']:.0f} MB before, {o['rss_after_mb']:.0f} MB after, peak {o['peak_rss_mb']:.0f} MB;",
        f"- first 200 from /predict {o['recovered_after_s']:.3f} s after the load stopped."
        if o["recovered_after_s"] is not None
        else "- did not recover within 10 s",
        "",
    ]
    if "zh" in res:
        z = res["zh"]
        lines += [
            "## Chinese",
            "",
            f"/predict with ChnSentiCorp test reviews (16 connections): {z['rps']:.0f} req/s, "
            f"p50/p90/p99 {_lat(z)} ms, errors {z['errors_total']}.",
            "",
        ]
    lines += [
        "## Forward cost per text (micro-benchmark, 1 thread, SST-2 test sentences)",
        "",
        "| path | batch 1 | batch 64 |",
        "|---|---|---|",
    ]
    for key, title in (("forward_cost", "English"), ("forward_cost_zh", "Chinese")):
        if key in res:
            f = res[key]
            lines.append(
                f"| {title}: fast path (serving) | {f['fast_batch1_us_per_text']:.0f} us | "
                f"{f['fast_batch64_us_per_text']:.0f} us |"
            )
            lines.append(
                f"| {title}: torch.nn.RNN reference | {f['torch_nn_rnn_batch1_us_per_text']:.0f} us | "
                f"{f['torch_nn_rnn_batch64_us_per_text']:.0f} us |"
            )
    return "\n".join(lines) + "\n"
