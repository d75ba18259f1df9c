"""This checkout's service next to another commit's, in one run: ``make ab REV=<commit>``.

The machine's speed drifts from run to run, and the machines themselves differ between sessions,
so a change is measured against the commit before it on the same machine in the same run: each
round starts the service of each tree in turn (a git worktree of REV, then this checkout; the same
Python environment, each tree's own code and checkpoints), as `bench.run` starts it (pinned to
one CPU, one torch thread, both models loaded, all English members), and drives /predict with the
SST-2 test sentences and then the ChnSentiCorp test reviews at 16 connections, then the typical
(15-25-word) SST-2 sentences at one connection (latency, as `bench.run` measures it). Medians of
the rounds; prints a table (Markdown) and writes nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import (
    ROOT,
    SERVICE,
    Server,
    sst_test_sentences,
    typical_sentences,
    write_bodies,
    wrk,
    zh_test_sentences,
)

MEASURES = (
    ("en", "English /predict req/s"),
    ("zh", "Chinese /predict req/s"),
    ("ratio", "Chinese ÷ English"),
    ("c1_p50_ms", "English p50 at 1 connection, ms"),
    ("c1_p99_ms", "English p99 at 1 connection, ms"),
    ("peak_rss_mb", "peak RSS, MB"),
    ("ready_s", "start to /ready, s"),
)


def worktree(rev: str, into: Path) -> str:
    """Check ``rev`` out into a detached worktree at ``into``; its full commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "worktree", "add", "--detach", str(into), commit], cwd=ROOT, capture_output=True, check=True)
    return commit


def imported_from(root: Path) -> str:
    """Where `python -m service` started in ``root`` imports the model code from (its own tree)."""
    code = "import model.fastpath; print(model.fastpath.__file__)"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("rev", help="the commit to compare with (e.g. HEAD~3, a hash)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    other = tmp / "tree"
    commit = worktree(args.rev, other)
    try:
        label = commit[:7] if commit.startswith(args.rev) else f"{args.rev} ({commit[:7]})"
        trees = {label: other, "this checkout": ROOT}
        for root in trees.values():
            if not imported_from(root).startswith(str(root)):
                sys.exit(f"the service started in {root} would not import its own code")
        texts = sst_test_sentences()
        random.Random(0).shuffle(texts)
        english = write_bodies(tmp / "en.jsonl", [{"text": t} for t in texts])
        typical = write_bodies(tmp / "typical.jsonl", [{"text": t} for t in typical_sentences(texts)])
        chinese = write_bodies(tmp / "zh.jsonl", [{"text": t} for t in zh_test_sentences()])
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for r in range(args.rounds):
            for name, root in trees.items():
                server = Server(SERVICE, {"SENTIMENT_TORCH_THREADS": "1"}, root=root)
                en = wrk(server.url + "/predict", english, 16, args.seconds)
                zh = wrk(server.url + "/predict", chinese, 16, args.seconds)
                c1 = wrk(server.url + "/predict", typical, 1, args.seconds)
                peak = server.peak_rss_mb()
                server.stop()
                if en["errors_total"] or zh["errors_total"] or c1["errors_total"]:
                    errors = (
                        f"{en['errors_total']} English, {zh['errors_total']} Chinese, "
                        f"{c1['errors_total']} at 1 connection"
                    )
                    sys.exit(f"{name}: errors under load ({errors})")
                rows[name].append(
                    {
                        "en": en["rps"],
                        "zh": zh["rps"],
                        "ratio": zh["rps"] / en["rps"],
                        "c1_p50_ms": c1["latency_us"]["p50"] / 1000,
                        "c1_p99_ms": c1["latency_us"]["p99"] / 1000,
                        "peak_rss_mb": peak,
                        "ready_s": server.ready_s,
                    }
                )
                print(f"round {r + 1}, {name}: {rows[name][-1]}", file=sys.stderr)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, capture_output=True)

    names = list(trees)
    print(f"`make ab REV={args.rev}`: {args.rounds} rounds, each server in turn, medians of the rounds.\n")
    print("| measure | " + " | ".join(names) + " | change |")
    print("|---|" + "---|" * (len(names) + 1))
    for key, label in MEASURES:
        before, after = (statistics.median(x[key] for x in rows[n]) for n in names)
        fmt = "{:.0f}" if key in ("en", "zh", "peak_rss_mb") else "{:.3f}"
        print(f"| {label} | {fmt.format(before)} | {fmt.format(after)} | {after / before - 1:+.1%} |")


if __name__ == "__main__":
    main()
