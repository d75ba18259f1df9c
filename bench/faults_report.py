"""bench/FAULTS.md from the results of `bench.faults` (``make faults``)."""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]


def yes(met: bool) -> str:
    return "**yes**" if met else "**NO**"


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} ms"


def s(x: float | None) -> str:
    return "never" if x is None else f"{x:.1f} s"


def failures(run: Result) -> str:
    errors = {k: v for k, v in run["errors"].items() if v}
    other = {k: v for k, v in run.get("statuses", {}).items() if k != "200"}
    if not errors and not other:
        return "0 failed"
    return "failed: " + ", ".join(f"{k} {v}" for k, v in {**errors, **other}.items())


def row_killed(r: Result, a: Result) -> list[str]:
    return [
        "1. replica killed",
        f"2 replicas behind nginx, `wrk -c32 -d{a['seconds']}s`; `kill -9` of one at {r['killed_at_s']:.0f} s",
        f"{r['requests']:,} requests, {failures(r)}; {r['retried']} retried by nginx on the other replica; "
        f"killed replica ready again after {s(r['restarted_ready_s'])}, then answered "
        f"{r['served_after_restart']:,} /predict before the run ended; p99 {ms(r['p99_ms'])}",
        "0 failed; restarted and taking traffic before the end",
    ]


def row_rolling(r: Result, a: Result) -> list[str]:
    steps = "; ".join(
        f"replica {i + 1}: SIGTERM at {st['sigterm_at_s']:.0f} s, /ready 503 after {s(st['ready_503_after_s'])}, "
        f"refused after {s(st['refused_after_s'])}, {st['exit']}, ready again {s(st['restarted_ready_s'])}, "
        f"serving again {s(st['serving_again_s'])}"
        for i, st in enumerate(r["steps"])
    )
    return [
        "2. rolling restart",
        f"the same, `wrk -c32 -d{a['seconds']}s`; each replica in turn SIGTERM, started again",
        f"{r['requests']:,} requests, {failures(r)}; {steps}; p99 {ms(r['p99_ms'])}",
        "0 failed; /ready 503 first; each replica serving again",
    ]


def row_slow(r: Result, a: Result) -> list[str]:
    life = r["slow_lifetime_s"] or {}
    return [
        "3. slow clients",
        f"1 replica, `wrk -c16 -d{a['slow_s']}s` alone, then beside {a['slow_connections']} connections "
        "sending their headers a byte a second",
        f"p99 {ms(r['without']['p99_ms'])} alone, {ms(r['with']['p99_ms'])} beside them ({r['p99_ratio']:.2f}x); "
        f"{r['with']['requests']:,} requests, {failures(r['with'])}; {r['slow_closed_by_server']} slow connections "
        f"closed by the replica after {life.get('median', 0):.1f} s (median; longest {life.get('max', 0):.1f} s, "
        f"SENTIMENT_HEADER_TIMEOUT_S={r['header_timeout_s']:g}), {r['slow_open_at_end']} open at the end; "
        f"RSS {r['rss_before_mb']:.0f} MB before, {r['rss_max_mb']:.0f} MB at most",
        "p99 within 2x; no 5xx; RSS +64 MB at most; trickling connections closed by the timeout",
    ]


def row_soak(r: Result, a: Result) -> list[str]:
    seg = r["segments"]
    return [
        "4. soak",
        f"1 replica: capacity with `wrk -c16 -d10s`, then {len(seg) * r['segment_s']} s aimed at 70% of it "
        f"(`wrk -c{r['connections']}` paced), in {len(seg)} runs of {r['segment_s']} s",
        f"capacity {r['capacity_rps']:,.0f} req/s; load {r['load_fraction']:.0%} of it; "
        f"RSS {seg[0]['rss_mb']:.1f} MB after the first run, {seg[-1]['rss_mb']:.1f} MB at the end "
        f"({r['rss_growth']:+.2%}); p99 {ms(seg[0]['p99_ms'])} first, {ms(seg[-1]['p99_ms'])} last "
        f"({r['p99_ratio']:.2f}x); {r['failed']} failed",
        "RSS growth < 5%; last p99 <= 1.2x first; 0 failed",
    ]


def row_hostile(r: Result, a: Result) -> list[str]:
    slowest = max(r["cases"], key=lambda c: c["seconds"])
    bad = [c for c in r["cases"] if not c["ok"]]
    miss = "; not met: " + ", ".join(f"{c['case']} {c['path']} {c['seconds']:.2f} s" for c in bad) if bad else ""
    return [
        "5. hostile text",
        f"1 replica: {len(r['cases'])} requests, each text at the largest accepted size",
        f"statuses {sorted({c['status'] for c in r['cases']})}; slowest {slowest['seconds']:.2f} s "
        f"({slowest['case']}, {slowest['path']}){miss}; tokenizer 100k/10k chars time at most "
        f"{r['worst_10x_ratio']:.1f}x; after all: /ready {r['ready_after']}, /predict {r['predict_after']}",
        "each answered or 4xx in < 1 s; tokenizer linear; healthy after",
    ]


ROWS = {
    "killed": row_killed,
    "rolling": row_rolling,
    "slow_clients": row_slow,
    "soak": row_soak,
    "hostile": row_hostile,
}


def details(name: str, r: Result) -> list[str]:
    if name == "soak":
        lines = ["| run | req/s | p50 | p99 | failed | RSS |", "|---|---|---|---|---|---|"]
        for i, x in enumerate(r["segments"]):
            lines.append(
                f"| {i + 1} | {x['rps']:,.0f} | {ms(x['p50_ms'])} | {ms(x['p99_ms'])} | {x['errors_total']} "
                f"| {x['rss_mb']:.1f} MB |"
            )
        return ["### Soak, run by run", "", *lines, ""]
    if name == "hostile":
        lines = ["| case | route | body | expected | status | time | ok |", "|---|---|---|---|---|---|---|"]
        for c in r["cases"]:
            lines.append(
                f"| {c['case']} | `{c['path']}` | {c['body_bytes']:,} B | {c['expect']} | {c['status']} | "
                f"{c['seconds']:.3f} s | {'yes' if c['ok'] else 'NO'} |"
            )
        tok = ["| kind | tokenize en 10k / 100k | tokenize zh 10k / 100k | sentences 10k / 100k |", "|---|---|---|---|"]
        for kind, t in r["tokenizer"].items():
            cells = [
                f"{t[f'{step}_10k_s'] * 1e3:.2f} / {t[f'{step}_100k_s'] * 1e3:.2f} ms ({t[f'{step}_ratio']:.1f}x)"
                for step in ("tokenize_en", "tokenize_zh", "sentences")
            ]
            tok.append(f"| {kind} | " + " | ".join(cells) + " |")
        return ["### Hostile text, case by case", "", *lines, "", "Tokenizer and sentence splitter:", "", *tok, ""]
    return []


def render(results: Result) -> str:
    a, m = results["args"], results["machine"]
    out = [
        "# Faults survived",
        "",
        f"Generated by `{results['command']}` on {m['date']} ({m['cpu']}, {m['cores']} cores; Python "
        f"{m['python']}, torch {m['torch']}, uvicorn {m['uvicorn']}, {m['nginx']}, {m['wrk']}). "
        "Do not edit: rerun it.",
        "",
        "**Run with plain processes, not containers** (no Docker daemon here): each replica is "
        "`python -m service` (the image's command) on 127.0.0.1, pinned to CPU 0 with the shipped models and "
        "default settings; nginx is Debian's, on `deploy/nginx/nginx.conf` itself with the compose names "
        "replaced by the replicas' loopback addresses (`bench.fault_procs.nginx_conf`); wrk and nginx on CPU 1. "
        "The restart policy (`restart: unless-stopped`) is stood in for by a supervisor that starts a replica "
        "again as soon as it exits. Bodies: SST-2 test sentences, one per request.",
        "",
        "| scenario | load | figures | goal | met |",
        "|---|---|---|---|---|",
    ]
    for name, r in results["scenarios"].items():
        cells = ROWS[name](r, a)
        if "run" in r:
            cells[-1] += f" (run {r['run']})"
        out.append("| " + " | ".join([*cells, yes(r["met"])]) + " |")
    out.append("")
    for name, r in results["scenarios"].items():
        out += details(name, r)
    return "\n".join(out)
