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
import subprocess
import sys
import tempfile
from pathlib import Path

from model.corpora import default_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "model" / "artifacts"

ROWS: dict[str, list[tuple[str, list[str]]]] = {
    "en": [
        (
            "random embeddings, trained (no pre-training), 1 member",
            ["--vectors", "none", "--no-freeze-embeddings", "--members", "1"],
        ),
        ("word2vec vectors, frozen, 1 member", ["--vectors", "word2vec", "--members", "1"]),
        (
            "word2vec vectors, fine-tuned, 1 member",
            ["--vectors", "word2vec", "--no-freeze-embeddings", "--members", "1"],
        ),
        ("word2vec + sentiment tuning, frozen, 1 member", ["--members", "1"]),
        ("... without weight averaging (EMA), 1 member", ["--members", "1", "--ema", "0"]),
        ("... hidden 256 instead of 128, 1 member", ["--members", "1", "--hidden-size", "256"]),
        ("... max pooling instead of last+max, 1 member", ["--members", "1", "--pooling", "max"]),
    ],
    "zh": [
        (
            "characters only, random embeddings, 1 member",
            ["--vectors", "none", "--bigram-min-freq", "0", "--fgm", "0", "--members", "1"],
        ),
        ("+ left-bigram inputs, 1 member", ["--vectors", "none", "--fgm", "0", "--members", "1"]),
        ("+ word2vec initialisation, 1 member", ["--fgm", "0", "--members", "1"]),
        ("+ FGM adversarial training, 1 member", ["--members", "1"]),
        ("... last+max pooling instead of mean+max, 1 member", ["--members", "1", "--pooling", "last+max"]),
    ],
}


def run(lang: str, label: str, flags: list[str], data_dir: str, cache: Path, out_dir: Path) -> dict[str, object]:
    out = out_dir / "ablation.pt"
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
    m = record["metrics"]
    return {
        "label": label,
        "flags": " ".join(flags) or "(none)",
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
    m = record["metrics"]
    members = len(record["training"]["member_dev_accuracy"])
    return {
        "label": f"shipped checkpoint ({members} members, `python -m model.train --lang {lang}`)",
        "flags": "(preset)",
        "dev": m["dev"]["accuracy"],
        "test": m["test"]["accuracy"],
        "ece": m["test"]["ece"],
        "extra": {k: v["accuracy"] for k, v in m.items() if k not in ("dev", "test", "by_members")},
        "seconds": record["training"]["seconds"],
    }


def render(lang: str, rows: list[dict[str, object]]) -> str:
    extra_names = sorted({k for r in rows for k in r["extra"]})  # type: ignore[attr-defined]
    head = "| change | flags | dev | test | " + " | ".join(extra_names) + (" | " if extra_names else "")
    lines = [
        f"## Ablations ({lang})",
        "",
        "Measured by `make ablations` (`python -m scripts.ablations --lang " + lang + "`): each row is one "
        "training run of `python -m model.train --lang " + lang + "` with the flags shown, on the full data.",
        "Single runs: the seed-to-seed spread of one member is about ±0.5 points, so differences smaller "
        "than that are noise. Time is wall-clock on this 2-core machine.",
        "",
        head + "test ECE | time |",
        "|---|---|---|---|" + "---|" * len(extra_names) + "---|---|",
    ]
    for r in rows:
        extras = "".join(f" {100 * r['extra'][k]:.2f} |" for k in extra_names)  # type: ignore[index]
        lines.append(
            f"| {r['label']} | `{r['flags']}` | {100 * r['dev']:.2f} | {100 * r['test']:.2f} |"  # type: ignore[operator]
            f"{extras} {r['ece']:.3f} | {r['seconds']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lang", choices=sorted(ROWS), default="en")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--only", type=int, nargs="*", help="row numbers to run (default: all)")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for i, (label, flags) in enumerate(ROWS[args.lang]):
            if args.only is None or i in args.only:
                rows.append(run(args.lang, label, flags, args.data_dir, cache, Path(tmp)))
    final = shipped(args.lang)
    if final is not None:
        rows.append(final)
    out = ARTIFACTS / f"ABLATIONS.{args.lang}.md"
    out.write_text(render(args.lang, rows))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
