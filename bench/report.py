"""Render bench/results.json as bench/RESULTS.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EFFICIENCY_TARGET = 0.80
ZH_RATIO_TARGET = 0.55

# The targets that are one number per configuration: (measure, summary key, cell format, target as
# written, whether a value meets it).
THRESHOLDS: list[tuple[str, str, str, str, Callable[[float], bool]]] = [
    (
        "/predict/batch, 64 texts per request (texts/s, median of the rounds)",
        "batch64_texts_per_s",
        "**{:.0f}**",
        ">= 15,000",
        lambda v: v >= 15_000,
    ),
    (
        "concurrency 1, typical sentence (15-25 words): p50",
        "concurrency1_p50_ms",
        "**{:.2f} ms**",
        "< 2 ms",
        lambda v: v < 2.0,
    ),
    (
        "concurrency 1: p99 (the round with the median p99)",
        "concurrency1_p99_ms",
        "**{:.2f} ms**",
        "< 1.5 ms",
        lambda v: v < 1.5,
    ),
    ("process start to /ready (median; both models)", "ready_s_median", "**{:.2f} s**", "< 3 s", lambda v: v < 3.0),
    ("peak RSS of the worker (both models)", "peak_rss_mb", "**{:.0f} MB**", "< 400 MB", lambda v: v < 400),
    (
        "peak RSS of a worker with the English model only (`SENTIMENT_CHECKPOINT_ZH=none`)",
        "peak_rss_en_only_mb",
        "**{:.0f} MB**",
        "< 400 MB",
        lambda v: v < 400,
    ),
]


def _ok(good: bool) -> str:
    return "yes" if good else "**no**"


def _lat(r: dict[str, Any]) -> str:
    lat = r["latency_us"]
    return f"{lat['p50'] / 1000:.2f} / {lat['p90'] / 1000:.2f} / {lat['p99'] / 1000:.2f}"


def _p99s(rounds: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['latency_us']['p99'] / 1000:.2f}" for r in rounds)


def render(res: dict[str, Any]) -> str:
    lines = [
        *_header(res),
        *_targets(res),
        *_rounds(res),
        *_overload(res["overload"]),
        *(_documents(res["documents"]) if "documents" in res else []),
        *_chinese(res),
        *_forward_costs(res),
    ]
    return "\n".join(lines) + "\n"


def _header(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    return [
        "# Benchmark results",
        "",
        f"Measured by `{res['command'].strip()}` on {m['date']}: {m['cpu']}, {m['cores']} cores; Python "
        f"{m['python']}, torch {m['torch']}, FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, {m['wrk']}.",
        "Each server: one uvicorn worker (uvloop + httptools; the service as its image runs it, "
        "`python -m service`), pinned to CPU 0, 1 torch thread; wrk pinned to "
        "CPU 1 (`-t1`), bodies = real SST-2 test sentences. The shared machine makes absolute numbers drift "
        "from run to run; the ratio of the service to the bare app measured in the same round is what holds.",
        "",
        "Each column is the service serving the English model with `SENTIMENT_ENSEMBLE_MEMBERS` members "
        "(the model card gives each size's accuracy); the Chinese model is loaded too. The bare app is the "
        f"HTTP floor ({res['bare_rps_median']:.0f} req/s, median), not a peer: the servers a user would "
        "otherwise pick are measured against this one in `bench/PEERS.md`.",
        "",
    ]


def _targets(res: dict[str, Any]) -> list[str]:
    """One row per target, one column per configuration: its value and whether it meets the target."""
    configs, bare = res["configs"], res["bare_rps_median"]
    labels = list(configs)
    sums = [configs[c]["summary"] for c in labels]

    def row(title: str, target: str, cells: list[str], met: list[bool]) -> str:
        return (
            f"| {title} | " + " | ".join(f"{c} ({_ok(g)})" for c, g in zip(cells, met, strict=True)) + f" | {target} |"
        )

    lines = [
        "## Targets",
        "",
        "| measure | " + " | ".join(labels) + " | target |",
        "|---|" + "---|" * len(labels) + "---|",
        row(
            f"efficiency: /predict req/s (16 connections, median of {len(res['bare_rounds'])} rounds) over "
            "1 / (bare request + the model alone per text at the batch size the load formed)",
            f">= {EFFICIENCY_TARGET:.2f}",
            [
                f"{s['service_rps_median']:.0f} / {s['limit_rps']:.0f} = **{s['efficiency']:.2f}**"
                f" ({1e6 / bare:.0f} + {s['model_us_per_text']:.0f} us, batch {s['observed_batch']:.1f})"
                for s in sums
            ],
            [s["efficiency"] >= EFFICIENCY_TARGET for s in sums],
        ),
    ]
    if any("zh_ratio_median" in s for s in sums):
        lines.append(
            row(
                "Chinese /predict req/s (ChnSentiCorp test reviews, same server and load) over English",
                f">= {ZH_RATIO_TARGET:.2f}",
                [
                    f"{s['zh_rps_median']:.0f} / {s['service_rps_median']:.0f} = **{s['zh_ratio_median']:.2f}**"
                    if "zh_ratio_median" in s
                    else "-"
                    for s in sums
                ],
                [s.get("zh_ratio_median", 1.0) >= ZH_RATIO_TARGET for s in sums],
            )
        )
    lines.append(
        row("/predict errors", "0", [str(s["service_errors"]) for s in sums], [s["service_errors"] == 0 for s in sums])
    )
    lines += [
        row(title, target, [fmt.format(s[key]) for s in sums], [meets(s[key]) for s in sums])
        for title, key, fmt, target, meets in THRESHOLDS
    ]
    return [*lines, ""]


def _rounds(res: dict[str, Any]) -> list[str]:
    """Each round's figures, then per configuration its batch, concurrency-1, memory and English-only runs."""
    configs = res["configs"]
    labels = list(configs)
    lines = [
        "## Rounds",
        "",
        "| round | bare req/s | bare p50/p90/p99 ms | "
        + " | ".join(f"{c}: req/s, p50/p90/p99 ms, ratio, errors" for c in labels)
        + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for i, b in enumerate(res["bare_rounds"]):
        cells = []
        for c in labels:
            r = configs[c]["rounds"][i]
            cells.append(
                f"{r['service']['rps']:.0f}, {_lat(r['service'])}, {r['ratio']:.3f}, {r['service']['errors_total']}"
            )
        lines.append(f"| {i + 1} | {b['rps']:.0f} | {_lat(b)} | " + " | ".join(cells) + " |")
    lines.append("")
    for c in labels:
        b, c1 = configs[c]["batch64"], configs[c]["concurrency1"]
        lines.append(
            f"- {c}: /predict/batch (4 connections, 64 sentences per request; median round of "
            f"{', '.join(f'{x:.0f}' for x in sorted(r['texts_per_s'] for r in configs[c]['batch64_rounds']))} "
            f"texts/s) {b['rps']:.0f} req/s = "
            f"{b['texts_per_s']:.0f} texts/s, p50/p90/p99 {_lat(b)} ms, errors {b['errors_total']}; "
            f"concurrency 1 (median round of p99s {_p99s(configs[c]['concurrency1_rounds'])} ms): "
            f"{c1['rps']:.0f} req/s, p50/p90/p99 {_lat(c1)} ms."
        )
        if memory := configs[c].get("memory_rounds"):
            lines.append(
                f"- {c}: the worker's memory at the end of each round, peak (resident now: anonymous + "
                "file-backed pages, MB): "
                + ", ".join(f"{m['VmHWM']:.0f} ({m['RssAnon']:.0f} + {m['RssFile']:.0f})" for m in memory)
                + "."
            )
    for c in labels:
        e = configs[c]["english_only"]
        lines.append(
            f"- {c}, English model only (one run, same load): ready after {e['ready_s']:.2f} s, /predict "
            f"{e['predict_rps']:.0f} req/s, /predict/batch {e['batch64_texts_per_s']:.0f} texts/s, errors "
            f"{e['errors']}, peak RSS {e['peak_rss_mb']:.0f} MB."
        )
    return [*lines, ""]


def _overload(o: dict[str, Any]) -> list[str]:
    return [
        "## Overload",
        "",
        "A service (all members) with `SENTIMENT_QUEUE_SIZE=64` driven by 512 connections (far past capacity):",
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


def _documents(d: dict[str, Any]) -> list[str]:
    return [
        "## Documents",
        "",
        f"Whole IMDB test reviews of 4,500-5,500 characters ({d['reviews']} of them, mean "
        f"{d['review_chars_mean']:.0f}) through /predict, all members, one connection: {d['review_rps']:.1f} "
        f"req/s, p50/p90/p99 {_lat({'latency_us': d['review_latency_us']})} ms, "
        f"**{d['chars_per_s']:,.0f} characters/s** (every sentence read). A 100,000-character text: median "
        f"{d['text_100k_s']['median']:.3f} s, slowest of 5 {d['text_100k_s']['max']:.3f} s; peak RSS "
        f"{d['peak_rss_mb']:.0f} MB.",
        "",
    ]


def _chinese(res: dict[str, Any]) -> list[str]:
    zh_rounds = [r for c in res["configs"].values() for r in c.get("zh_rounds", [])]
    if not zh_rounds:
        return []
    return [
        "## Chinese",
        "",
        "/predict with ChnSentiCorp test reviews (16 connections), on the all-members server right after its "
        "English run, each round: "
        + "; ".join(f"{z['rps']:.0f} req/s, p50/p90/p99 {_lat(z)} ms, errors {z['errors_total']}" for z in zh_rounds)
        + ".",
        "",
    ]


def _forward_costs(res: dict[str, Any]) -> list[str]:
    lines = [
        "## Forward cost per text (micro-benchmark, 1 thread, 512 test texts)",
        "",
        "| path | batch 1 | batch 64 |",
        "|---|---|---|",
    ]
    costs = [(f"English, {c}", config["forward_cost"]) for c, config in res["configs"].items()]
    if "forward_cost_zh" in res:
        costs.append(("Chinese (ChnSentiCorp reviews), all members", res["forward_cost_zh"]))
    for title, f in costs:
        lines.append(
            f"| {title}: fast path (serving) | {f['fast_batch1_us_per_text']:.0f} us | "
            f"{f['fast_batch64_us_per_text']:.0f} us |"
        )
        lines.append(
            f"| {title}: torch.nn.RNN reference | {f['torch_nn_rnn_batch1_us_per_text']:.0f} us | "
            f"{f['torch_nn_rnn_batch64_us_per_text']:.0f} us |"
        )
    return lines
