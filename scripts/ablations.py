"""What each idea in the training recipe gives: ``make ablations`` (``python -m scripts.ablations``).

Each row is one ``python -m model.train`` command (the shipped recipe with one thing changed, one
seed unless the row says otherwise); its dev and test accuracy, test ECE and training time go to
``model/artifacts/ABLATIONS.<lang>.md``, which the model card includes. Slow: every row is a real
training run on the full data (minutes each). Pre-trained vectors are shared between rows through
``--cache-dir``, so their time is counted once, in the first row that needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from model.corpora import default_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "model" / "artifacts"

ROWS: dict[str, list[tuple[str, list[str]]]] = {
    "en": [
        # Rows 1-9 ran under the earlier recipe, last+max pooling; from row 10 on, max pooling is the recipe.
        # Every row before the last three ran without negated copies of the training texts (--negations 0).
        (
            "random embeddings, trained (no pre-training), 1 member",
            [
                "--vectors",
                "none",
                "--no-freeze-embeddings",
                "--members",
                "1",
                "--pooling",
                "last+max",
                "--negations",
                "0",
            ],
        ),
        (
            "word2vec vectors, frozen, 1 member",
            ["--vectors", "word2vec", "--members", "1", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "word2vec vectors, fine-tuned, 1 member",
            [
                "--vectors",
                "word2vec",
                "--no-freeze-embeddings",
                "--members",
                "1",
                "--pooling",
                "last+max",
                "--negations",
                "0",
            ],
        ),
        (
            "word2vec + sentiment tuning, frozen, 1 member",
            ["--members", "1", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "... without weight averaging (EMA), 1 member",
            ["--members", "1", "--ema", "0", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "... RNN first trained on 300k IMDB sentences (review labels), 1 member",
            ["--members", "1", "--transfer-sentences", "300000", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "word2vec + sentiment tuning, frozen, 3 members",
            ["--members", "3", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "... RNN first trained on 300k IMDB sentences (review labels), 3 members",
            ["--members", "3", "--transfer-sentences", "300000", "--pooling", "last+max", "--negations", "0"],
        ),
        (
            "word2vec + sentiment tuning, frozen, 6 members (shipped until max pooling won on dev)",
            ["--pooling", "last+max", "--negations", "0"],
        ),
        ("... max pooling instead of last+max (the recipe since), 1 member", ["--members", "1", "--negations", "0"]),
        ("max pooling, 3 members (the recipe until negated copies were added)", ["--members", "3", "--negations", "0"]),
        ("max pooling, 6 members (shipped until 3 members matched it on dev)", ["--members", "6", "--negations", "0"]),
        (
            "... mean+max pooling instead of max, 3 members",
            ["--members", "3", "--pooling", "mean+max", "--negations", "0"],
        ),
        ("... word dropout 0.1, 3 members", ["--members", "3", "--word-dropout", "0.1", "--negations", "0"]),
        (
            "... input dropout 0.4 instead of 0.25, 3 members",
            ["--members", "3", "--embedding-dropout", "0.4", "--negations", "0"],
        ),
        ("... 12 epochs instead of 8, 3 members", ["--members", "3", "--epochs", "12", "--negations", "0"]),
        (
            "... hidden size 256 instead of 128, 3 members",
            ["--members", "3", "--hidden-size", "256", "--negations", "0"],
        ),
        ("... hidden size 64 instead of 128, 3 members", ["--members", "3", "--hidden-size", "64", "--negations", "0"]),
        (
            "... vocabulary 32,000 instead of 18,000 (more pre-trained words), 3 members",
            ["--members", "3", "--vocab-size", "32000", "--negations", "0"],
        ),
        (
            "... learning rate 0.002 instead of 0.001, 3 members",
            ["--members", "3", "--lr", "0.002", "--negations", "0"],
        ),
        ("... batch size 32 instead of 64, 3 members", ["--members", "3", "--batch-size", "32", "--negations", "0"]),
        (
            "... learning rate 0.0005 instead of 0.001, 3 members",
            ["--members", "3", "--lr", "0.0005", "--negations", "0"],
        ),
        (
            "... SST training sentences 3 times among the phrases, 3 members",
            ["--members", "3", "--whole-repeats", "3", "--negations", "0"],
        ),
        (
            "... input dropout 0.1 instead of 0.25, 3 members",
            ["--members", "3", "--embedding-dropout", "0.1", "--negations", "0"],
        ),
        (
            "... weight average decay 0.999 instead of 0.998, 3 members",
            ["--members", "3", "--ema", "0.999", "--negations", "0"],
        ),
        ("... head dropout 0.3 instead of 0.5, 3 members", ["--members", "3", "--dropout", "0.3", "--negations", "0"]),
        (
            "... dev checked 4 times per epoch instead of 2, 3 members",
            ["--members", "3", "--evals-per-epoch", "4", "--negations", "0"],
        ),
        (
            "... word2vec trained 10 epochs instead of 5, 3 members",
            ["--members", "3", "--w2v-epochs", "10", "--negations", "0"],
        ),
        ("... label smoothing 0.1, 3 members", ["--members", "3", "--label-smoothing", "0.1", "--negations", "0"]),
        ("... word2vec window 2 instead of 5, 3 members", ["--members", "3", "--w2v-window", "2", "--negations", "0"]),
        (
            "... word2vec without sentiment tuning, 3 members",
            ["--members", "3", "--vectors", "word2vec", "--negations", "0"],
        ),
        (
            "... 6 sentiment-tuning passes over IMDB instead of 3, 3 members",
            ["--members", "3", "--sentiment-epochs", "6", "--negations", "0"],
        ),
        (
            "... word-bigram inputs (frozen word2vec bigram vectors, bigrams seen 5+ times), 3 members",
            ["--members", "3", "--bigram-min-freq", "5", "--negations", "0"],
        ),
        ("... two RNN layers instead of one, 3 members", ["--members", "3", "--num-layers", "2", "--negations", "0"]),
        (
            "... adversarial examples on the input vectors, size 0.1 per text, 3 members",
            ["--members", "3", "--adversarial", "0.1", "--negations", "0"],
        ),
        (
            "... adversarial examples on the input vectors, size 0.2 per text, 3 members",
            ["--members", "3", "--adversarial", "0.2", "--negations", "0"],
        ),
        (
            "... adversarial examples on the input vectors, size 1.0 per text, 3 members",
            ["--members", "3", "--adversarial", "1.0", "--negations", "0"],
        ),
        (
            "... negated copies of the training texts of 1 token, 3 members",
            ["--members", "3", "--negations", "1"],
        ),
        (
            "... negated copies of the training texts of up to 2 tokens, 3 members",
            ["--members", "3", "--negations", "2"],
        ),
        (
            "... up to 3 tokens (the recipe now), 3 members",
            ["--members", "3", "--negations", "3"],
        ),
        ("... up to 4 tokens, 3 members", ["--members", "3", "--negations", "4"]),
    ],
    "zh": [
        (
            "characters only, random embeddings, 1 member",
            ["--vectors", "none", "--bigram-min-freq", "0", "--fgm", "0", "--members", "1", "--epochs", "8"],
        ),
        ("+ left-bigram inputs, 1 member", ["--vectors", "none", "--fgm", "0", "--members", "1", "--epochs", "8"]),
        ("+ word2vec initialisation, 1 member", ["--fgm", "0", "--members", "1", "--epochs", "8"]),
        ("+ FGM adversarial training, 1 member", ["--members", "1", "--epochs", "8"]),
        (
            "... last+max pooling instead of mean+max, 1 member",
            ["--members", "1", "--pooling", "last+max", "--epochs", "8"],
        ),
        ("... max pooling instead of mean+max, 1 member", ["--members", "1", "--pooling", "max", "--epochs", "8"]),
        ("... word dropout 0.2 instead of 0.1, 1 member", ["--members", "1", "--word-dropout", "0.2", "--epochs", "8"]),
        ("the recipe with 8 epochs, 3 members (shipped until 16 epochs won on dev)", ["--epochs", "8"]),
        ("... 12 epochs instead of 8, 1 member", ["--members", "1", "--epochs", "12"]),
        ("... 16 epochs instead of 8 (the recipe now), 1 member", ["--members", "1"]),
    ],
}


def run(lang: str, label: str, flags: list[str], data_dir: str, cache: Path, out: Path) -> dict[str, object]:
    cmd = [
        sys.executable,
        "-m",
        "model.train",
        "--lang",
        lang,
        "--data-dir",
        data_dir,
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        *flags,
    ]
    print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    record = json.loads(out.with_suffix(".metrics.json").read_text())
    return table_row(label, " ".join(flags) or "(none)", record)


def table_row(label: str, flags: str, record: dict[str, Any]) -> dict[str, object]:
    """One table row from a training run's metrics file."""
    m = record["metrics"]
    return {
        "label": label,
        "flags": flags,
        "dev": m["dev"]["accuracy"],
        "test": m["test"]["accuracy"],
        "ece": m["test"]["ece"],
        "extra": {k: v["accuracy"] for k, v in m.items() if k not in ("dev", "test", "by_members")},
        "seconds": record["training"]["seconds"],
    }


def shipped(lang: str) -> dict[str, object] | None:
    """The last row is the shipped checkpoint itself, read from its metrics file rather than retrained."""
    path = default_checkpoint(lang).with_suffix(".metrics.json")
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    members = len(record["training"]["member_dev_accuracy"])
    label = f"shipped checkpoint ({members} members, `python -m model.train --lang {lang}`)"
    return table_row(label, "(preset)", record)


def render(lang: str, rows: list[dict[str, object]], machine: str) -> str:
    extra_names = sorted({k for r in rows for k in r["extra"]})  # type: ignore[attr-defined]
    head = "| change | flags | dev | test | " + " | ".join(extra_names) + (" | " if extra_names else "")
    lines = [
        f"## Ablations ({lang})",
        "",
        "Measured by `make ablations` (`python -m scripts.ablations --lang " + lang + "`): each row is one "
        "training run of `python -m model.train --lang " + lang + "` with the flags shown, on the full data.",
        "Single runs: read them against the model card's seed spread (the accuracy of every k-member subset "
        "of the shipped members, all trained alike): differences inside that range are noise. "
        f"Time is wall-clock ({machine}); the shipped row's is its own training run.",
        "",
        head + "test ECE | time |",
        "|---|---|---|---|" + "---|" * len(extra_names) + "---|---|",
    ]
    for r in rows:
        extras = "".join(
            f" {100 * r['extra'][k]:.2f} |" if k in r["extra"] else " – |"  # type: ignore[index, operator]
            for k in extra_names
        )
        lines.append(
            f"| {r['label']} | `{r['flags']}` | {100 * r['dev']:.2f} | {100 * r['test']:.2f} |"  # type: ignore[operator]
            f"{extras} {r['ece']:.3f} | {r['seconds']:.0f} s |"
        )
    missing = [label for label, _ in ROWS[lang] if label not in {r["label"] for r in rows}]
    if missing:
        lines += ["", "Not measured in the last run (cut short): " + "; ".join(missing) + "."]
    return "\n".join(lines) + "\n"


def save(out: Path, machine: str, rows: list[dict[str, object]]) -> None:
    """The measured rows, so that the table can be re-rendered (e.g. once the shipped row exists)."""
    out.with_suffix(".json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lang", choices=sorted(ROWS), default="en")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--only", type=int, nargs="*", help="row numbers to run (default: all)")
    p.add_argument("--jobs", type=int, default=1, help="rows trained at once (each then pre-trains its own vectors)")
    p.add_argument("--from-json", type=Path, default=None, help="re-render the rows saved by an earlier run")
    p.add_argument("--out", type=Path, default=None, help="default: model/artifacts/ABLATIONS.<lang>.md")
    p.add_argument(
        "--keep", type=Path, default=None, help="keep each row's checkpoint here (for `python -m scripts.pooled`)"
    )
    args = p.parse_args(argv)
    out = args.out or ARTIFACTS / f"ABLATIONS.{args.lang}.md"
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        rows, machine = saved["rows"], saved["machine"]
    else:
        todo = [
            (i, label, flags) for i, (label, flags) in enumerate(ROWS[args.lang]) if args.only is None or i in args.only
        ]
        machine = f"{os.cpu_count()} CPU cores, {args.jobs} row(s) at a time, torch {torch.__version__}"
        done: dict[int, dict[str, object]] = {}
        rows = []
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # One shared vector cache when rows run one after another; one per row when they run at once.
            jobs = {
                pool.submit(
                    run,
                    args.lang,
                    label,
                    flags,
                    args.data_dir,
                    Path(tmp) / ("cache" if args.jobs == 1 else f"cache-{i}"),
                    (args.keep or Path(tmp)) / f"row-{i}.pt",
                ): i
                for i, label, flags in todo
            }
            for job in as_completed(jobs):
                done[jobs[job]] = job.result()
                rows = [done[i] for i in sorted(done)]
                save(out, machine, rows)  # after every row: a long run that is cut short keeps what it measured
    final = shipped(args.lang)
    if final is not None:
        rows.append(final)
    out.write_text(render(args.lang, rows, machine))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
