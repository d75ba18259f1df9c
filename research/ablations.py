"""What each idea in a training recipe gives: ``make ablations`` (``python -m research.ablations``).

The rows are data, `research/ablations.<lang>.toml`: each names a base recipe (complete and frozen
in that file, so that a later change to the shipped recipe leaves old rows alone) and its
overrides. ``--run`` trains rows (one ``python -m model.train`` each, on the full data: minutes per
row) and records their dev/test accuracy, ECE, evaluation sets and time in
`research/results/ablations.<lang>.json`; every call renders `research/results/ABLATIONS.<lang>.md`
from what is recorded, with the shipped checkpoint's own numbers as the last row. Pre-trained
vectors are shared between rows through ``--cache-dir``. Rows whose option has left the product
code carry ``rerun_at``, the commit that still has it, and are not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.data import default_data_dir
from model.languages import LANGUAGES, language
from model.recipe import TrainConfig

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


@dataclass(frozen=True)
class Row:
    label: str
    base: str
    overrides: dict[str, Any]
    removed: dict[str, Any]  # options that model.train no longer has (history: see rerun_at)
    rerun_at: str
    changed: str = ""  # why a `removed` option that model.train still has means something else now

    def config(self, bases: dict[str, dict[str, Any]], **run: Any) -> TrainConfig:
        """The row's complete training config (validated); refuses a row of removed options."""
        if self.removed:
            raise ValueError(f"{self.label!r} uses options removed from model.train; rerun it at {self.rerun_at}")
        return TrainConfig(**{**bases[self.base], **self.overrides, **run})

    def describe(self) -> str:
        """The row's change as it would be typed: `base + key=value ...`."""
        changes = {**self.overrides, **self.removed}
        return self.base + "".join(f" {k}={json.dumps(v)}" for k, v in changes.items())


def load_rows(lang: str) -> tuple[dict[str, dict[str, Any]], list[Row]]:
    """The bases and rows of `research/ablations.<lang>.toml`; every base and runnable row is validated."""
    with open(HERE / f"ablations.{lang}.toml", "rb") as fh:
        raw = tomllib.load(fh)
    bases: dict[str, dict[str, Any]] = raw["bases"]
    rows = [
        Row(
            r["label"],
            r["base"],
            r.get("overrides", {}),
            r.get("removed", {}),
            r.get("rerun_at", ""),
            r.get("changed", ""),
        )
        for r in raw["rows"]
    ]
    for name, base in bases.items():
        TrainConfig(**base)  # raises on an unknown option or value
        if base["lang"] != lang:
            raise ValueError(f"base {name!r} is for {base['lang']}, not {lang}")
    for row in rows:
        if row.base not in bases:
            raise ValueError(f"row {row.label!r}: unknown base {row.base!r}")
        if not row.removed:
            row.config(bases)
    return bases, rows


def run_row(row: Row, bases: dict[str, dict[str, Any]], data_dir: str, cache: Path, out: Path) -> dict[str, Any]:
    """Train one row in its own process; its measured numbers."""
    cfg = row.config(bases, data_dir=data_dir, cache_dir=str(cache), out=str(out))
    recipe = out.with_suffix(".toml")
    fields = cfg.model_dump(exclude={"data_dir", "out", "cache_dir", "dry_run"})
    recipe.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items()))
    cmd = [sys.executable, "-m", "model.train", "--recipe", str(recipe), "--out", str(out)]
    cmd += ["--data-dir", data_dir, "--cache-dir", str(cache)]
    print(f"$ {row.describe()}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=HERE.parent, check=True)
    return measured(row.label, json.loads(out.with_suffix(".metrics.json").read_text()))


def measured(label: str, record: dict[str, Any]) -> dict[str, Any]:
    """One result from a training run's metrics file."""
    m = record["metrics"]
    return {
        "label": label,
        "dev": m["dev"]["accuracy"],
        "test": m["test"]["accuracy"],
        "ece": m["test"]["ece"],
        "extra": {k: v["accuracy"] for k, v in m.items() if k not in ("dev", "test", "by_members")},
        "seconds": record["training"]["seconds"],
    }


def _same_corpus(record: dict[str, Any], base: dict[str, Any]) -> bool:
    """Whether the shipped checkpoint was trained on the rows' corpus (else its row would mislead)."""
    if not base:
        return False
    first = next(iter(language(base["lang"]).corpora))
    return (record["training"]["config"].get("corpus") or first) == (base.get("corpus") or first)


def render(
    lang: str, bases: dict[str, dict[str, Any]], rows: list[Row], results: dict[str, dict[str, Any]], machine: str
) -> str:
    """The Markdown table: one line per row with a result, then the shipped checkpoint."""
    shipped_file = language(lang).checkpoint_path.with_suffix(".metrics.json")
    table = [(r.describe() + (f" (rerun at {r.rerun_at})" if r.rerun_at else ""), r.label) for r in rows]
    measured_rows = [(change, results[label]) for change, label in table if label in results]
    if shipped_file.is_file() and _same_corpus(_read(shipped_file), bases[rows[-1].base] if rows else {}):
        measured_rows.append((f"model/recipes/{lang}.toml", measured("shipped checkpoint", _read(shipped_file))))
    extra = sorted({k for _, r in measured_rows for k in r["extra"]})
    lines = [
        f"## Ablations ({lang})",
        "",
        f"Made by `python -m research.ablations --lang {lang}` from `research/ablations.{lang}.toml` (the rows) "
        f"and `research/results/ablations.{lang}.json` (what each measured). Each row is one training run; "
        "read single runs against the model card's seed spread. Time is wall-clock: " + machine + ".",
        "",
        "| row | change (base + overrides) | dev | test | " + "".join(f"{k} | " for k in extra) + "test ECE | time |",
        "|---|---|---|---|" + "---|" * len(extra) + "---|---|",
    ]
    for change, r in measured_rows:
        cells = "".join(f" {100 * r['extra'][k]:.2f} |" if k in r["extra"] else " – |" for k in extra)
        lines.append(
            f"| {r['label']} | `{change}` | {100 * r['dev']:.2f} | {100 * r['test']:.2f} |{cells} "
            f"{r['ece']:.3f} | {r['seconds']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lang", choices=sorted(LANGUAGES), default="en")
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--run", type=int, nargs="*", default=None, help="train these rows (numbers from 0; none: all)")
    p.add_argument("--jobs", type=int, default=1, help="rows trained at once (each then pre-trains its own vectors)")
    p.add_argument("--keep", type=Path, default=None, help="keep each row's checkpoint here (for research.pooled)")
    args = p.parse_args(argv)
    bases, rows = load_rows(args.lang)
    results_file = RESULTS / f"ablations.{args.lang}.json"
    saved: dict[str, Any] = _read(results_file) if results_file.is_file() else {"machine": "", "rows": []}
    results = {r["label"]: r for r in saved["rows"]}
    if args.run is not None:
        todo = [i for i in (args.run or range(len(rows))) if not rows[i].removed]
        saved["machine"] = f"{os.cpu_count()} CPU cores, {args.jobs} row(s) at a time, torch {torch.__version__}"
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=args.jobs) as pool:
            jobs = {
                pool.submit(
                    run_row,
                    rows[i],
                    bases,
                    args.data_dir,
                    Path(tmp) / ("cache" if args.jobs == 1 else f"cache-{i}"),
                    (args.keep or Path(tmp)) / f"row-{i}.pt",
                ): i
                for i in todo
            }
            for job in as_completed(jobs):
                result = job.result()
                results[result["label"]] = result
                saved["rows"] = [results[r.label] for r in rows if r.label in results]
                results_file.write_text(json.dumps(saved, indent=1) + "\n")  # after every row
    out = RESULTS / f"ABLATIONS.{args.lang}.md"
    out.write_text(render(args.lang, bases, rows, results, saved["machine"]))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
