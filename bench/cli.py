"""`sentiment-rnn predict` on a large file next to /predict/batch: ``make cli-bench``.

The same texts (SST-2 training sentences, cycled to the number of lines asked; nothing learns from
them) scored (a) by ``sentiment-rnn predict -f FILE -o /dev/null`` pinned to CPU 0, under
``/usr/bin/time -v`` for its peak RSS, at two file sizes (so that a memory growing with the file
shows), and (b) through /predict/batch of a real uvicorn worker pinned to CPU 0, wrk on CPU 1 with
4 connections and 64 texts a request, as `bench.run` drives it. texts/s of the command counts from
its own progress line (model loading excluded) and from wall time (included). Writes bench/CLI.md
and bench/cli.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import BENCH, SERVER_CPU, SERVICE, Server, machine, write_bodies, wrk

TARGET = 0.80


def train_sentences() -> list[str]:
    from model.data import default_data_dir, read_sst

    return [ex.text for ex in read_sst(default_data_dir(), "train")]


def write_lines(path: Path, texts: list[str], n: int) -> Path:
    with path.open("w") as f:
        for text in itertools.islice(itertools.cycle(texts), n):
            f.write(text.replace("\n", " ") + "\n")
    return path


def run_cli(path: Path, lines: int) -> dict[str, Any]:
    """One ``sentiment-rnn predict`` run: wall time, its own final rate, peak RSS, exit code."""
    command = [
        "/usr/bin/time",
        "-v",
        "taskset",
        "-c",
        SERVER_CPU,
        str(Path(sys.executable).parent / "sentiment-rnn"),
        "predict",
        "-f",
        str(path),
        "-o",
        "/dev/null",
        "--progress",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "SENTIMENT_TORCH_THREADS": "1"}
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sentiment-rnn predict failed ({done.returncode}): {done.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rates = re.findall(r"([\d,]+) texts(?: +[\d.]+%)? ([\d,]+) texts/s\n", done.stderr)
    scored, rate = (int(x.replace(",", "")) for x in rates[-1])
    return {
        "lines": lines,
        "scored": scored,
        "wall_s": wall,
        "texts_per_s_progress": rate,
        "texts_per_s_wall": lines / wall,
        "peak_rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=100_000, help="lines of the large file")
    p.add_argument("--small", type=int, default=10_000, help="lines of the small file (memory comparison)")
    p.add_argument("--seconds", type=int, default=10, help="duration of the /predict/batch run")
    p.add_argument("--out", type=Path, default=BENCH)
    args = p.parse_args(argv)
    texts = train_sentences()
    tmp = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    small = run_cli(write_lines(tmp / "small.txt", texts, args.small), args.small)
    large = run_cli(write_lines(tmp / "large.txt", texts, args.lines), args.lines)
    bodies = write_bodies(tmp / "batch.jsonl", [{"texts": texts[i : i + 64]} for i in range(0, len(texts) - 63, 64)])
    server = Server(SERVICE, {"SENTIMENT_TORCH_THREADS": "1"})
    try:
        batch = wrk(server.url + "/predict/batch", bodies, 4, args.seconds)
    finally:
        server.stop()
    api_rate = batch["rps"] * 64
    record = {
        "small": small,
        "large": large,
        "batch": {"texts_per_s": api_rate, "errors": batch["errors_total"], "latency_us": batch["latency_us"]},
        "ratio_progress": large["texts_per_s_progress"] / api_rate,
        "ratio_wall": large["texts_per_s_wall"] / api_rate,
        "machine": machine(),
        "command": "make cli-bench  # python -m bench.cli " + " ".join(argv or sys.argv[1:]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cli.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / "CLI.md").write_text(render(record))
    print(render(record))


def render(r: dict[str, Any]) -> str:
    m, small, large = r["machine"], r["small"], r["large"]
    ok = "met" if r["ratio_progress"] >= TARGET else "**not met**"
    growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
    return "\n".join(
        [
            "# `sentiment-rnn predict` on a large file, next to /predict/batch",
            "",
            f"Measured by `{r['command'].strip()}` on {m['date']}: {m['cpu']}, {m['cores']} cores; Python "
            f"{m['python']}, torch {m['torch']}, uvicorn {m['uvicorn']}, {m['wrk']}. The command and the "
            "server each on CPU 0 with one torch thread, all models the service serves loaded; the API driven by "
            "wrk on CPU 1 (4 connections, 64 SST-2 training sentences a request); the command scores the same "
            "sentences, cycled, one per line, to /dev/null.",
            "",
            "| run | lines | texts/s (progress line, loading excluded) | texts/s (wall, loading included) | peak RSS |",
            "|---|---|---|---|---|",
            *(
                f"| `sentiment-rnn predict` | {x['lines']:,} | {x['texts_per_s_progress']:,} | "
                f"{x['texts_per_s_wall']:,.0f} | {x['peak_rss_mb']:.0f} MB |"
                for x in (small, large)
            ),
            f"| /predict/batch | - | {r['batch']['texts_per_s']:,.0f} (errors {r['batch']['errors']}) | - | - |",
            "",
            f"- {large['lines']:,} lines at **{r['ratio_progress']:.2f}x** the API's texts/s "
            f"({r['ratio_wall']:.2f}x counting the model loading): target >= {TARGET:.2f}x, {ok}.",
            f"- Peak memory {small['peak_rss_mb']:.0f} MB for {small['lines']:,} lines, "
            f"{large['peak_rss_mb']:.0f} MB for {large['lines']:,} ({100 * growth:+.1f}%): the file is streamed.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
