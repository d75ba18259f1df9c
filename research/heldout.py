"""Do compositions teach a construction or only their templates' words? ``python -m research.heldout``.

Issue 19 asks to hold out whole templates or connectives. Every English template that contains one
of HELD_OUT's words is left out of the compositions of one run (``held-out``); the same one-member
recipe with all templates (``all``) and with none (``none``) are the references. Each run is scored
on the English behavioural set's sentences that contain a held-out word (what the run never saw in
a template) and on the others, and on SST-5 / SST-2 dev. A held-out run close to ``all`` on the first
group means the model learned the construction from the other templates and the treebank; one close
to ``none`` means it learned the templates' words.

``--run NAME ...`` trains runs (one ``model.train`` recipe each, in this process; run two commands
at once for two cores); ``--checkpoint NAME=PATH`` scores a checkpoint already trained the same way
(for instance ``research.ablations --keep``'s row of the same recipe). Results go to
`research/results/heldout.en.json`; every call renders `research/results/HELDOUT.en.md`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import torch

from model import augment, document, scale, train
from model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from model.corpora import read_eval_set
from model.data import default_data_dir
from model.encoding import TextEncoder
from model.inference import Classifier
from model.recipe import TrainConfig
from research.ablations import load_rows

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
HELD_OUT = ("but", "never", "nothing", "none")
COMPOSITIONS = 30000  # the English recipe's
RUNS = {"none": "no compositions", "all": "all templates", "held-out": "templates without the held-out words"}


def holds(text: str) -> bool:
    """Whether ``text`` contains a held-out word (as a whole word, any case)."""
    return any(re.search(rf"\b{w}\b", text.lower()) for w in HELD_OUT)


def config(run: str, data_dir: str, out: Path) -> TrainConfig:
    """The one-member English recipe of `research/ablations.en.toml`'s treebank base, per run."""
    bases, _ = load_rows("en")
    compositions = 0 if run == "none" else COMPOSITIONS
    return TrainConfig(
        **{**bases["en-treebank"], "members": 1, "compositions": compositions}, data_dir=data_dir, out=str(out)
    )


def train_run(run: str, data_dir: str, out: Path) -> Checkpoint:
    if run == "held-out":
        augment.TEMPLATES = tuple((t, rule) for t, rule in augment.TEMPLATES if not holds(t))
    ckpt, _ = train.train(config(run, data_dir, out))
    save_checkpoint(ckpt, out)
    return ckpt


def measure(ckpt: Checkpoint) -> dict[str, Any]:
    """Accuracy on the behavioural set's two groups (read as the service reads them) and on dev."""
    examples, view = read_eval_set("behaviour.en.tsv")
    classifier, encoder = Classifier(ckpt), TextEncoder.for_checkpoint(ckpt)
    how = document.Aggregation.from_dict(ckpt.document)
    per_text = document.read_all(classifier, encoder, [ex.text for ex in examples], "en", "sentences")
    probs = torch.stack([document.combine(p, ckpt.labels, how) for p in per_text])
    right = (scale.view(probs, ckpt.labels, view).argmax(-1) == torch.tensor([ex.label for ex in examples])).tolist()
    groups = {"held-out words": [r for r, ex in zip(right, examples, strict=True) if holds(ex.text)]}
    groups["other sentences"] = [r for r, ex in zip(right, examples, strict=True) if not holds(ex.text)]
    out: dict[str, Any] = {name: {"right": sum(g), "of": len(g)} for name, g in groups.items()}
    out["dev"] = {k: ckpt.metrics[k]["accuracy"] for k in ("dev", "sst2-dev") if k in ckpt.metrics}
    return out


def render(results: dict[str, Any]) -> str:
    lines = [
        "## Compositions with held-out words (en)",
        "",
        "Made by `python -m research.heldout`: the one-member English recipe (seed 1) trained with no "
        f"compositions, with {COMPOSITIONS:,} from all templates, and with {COMPOSITIONS:,} from the templates "
        f"that contain none of the words {', '.join(repr(w) for w in HELD_OUT)}. Scored on the behavioural "
        "set's sentences with one of those words (no template of the held-out run had them) and on the rest. "
        "Measured here: `--run held-out none` (two commands at once) and, for `all`, row 52 of "
        "`research.ablations --lang en --keep DIR` (the same recipe); each checkpoint then refitted by "
        "`python -m model.document`, so that all three combine sentences alike, and scored with `--checkpoint`.",
        "",
        "| run | behavioural set: sentences with a held-out word | other sentences | SST-5 dev | SST-2 dev |",
        "|---|---|---|---|---|",
    ]
    for run, title in RUNS.items():
        if run not in results:
            continue
        r = results[run]
        cells = [
            f"{100 * r[g]['right'] / r[g]['of']:.1f}% ({r[g]['right']}/{r[g]['of']})"
            for g in ("held-out words", "other sentences")
        ]
        dev = [f"{100 * r['dev'][k]:.2f}" if k in r["dev"] else "–" for k in ("dev", "sst2-dev")]
        lines.append(f"| {title} | " + " | ".join(cells + dev) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--run", nargs="*", choices=sorted(RUNS), default=[])
    p.add_argument("--checkpoint", nargs="*", default=[], metavar="NAME=PATH")
    p.add_argument("--keep", type=Path, default=Path("heldout-runs"), help="where trained runs' checkpoints go")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results_file = RESULTS / "heldout.en.json"
    results: dict[str, Any] = json.loads(results_file.read_text()) if results_file.is_file() else {}
    todo: dict[str, Checkpoint] = {}
    for item in args.checkpoint:
        name, _, path = item.partition("=")
        if name not in RUNS:
            sys.exit(f"error: unknown run {name!r}")
        todo[name] = load_checkpoint(Path(path))
    for name in args.run:
        args.keep.mkdir(parents=True, exist_ok=True)
        todo[name] = train_run(name, args.data_dir, args.keep / f"{name}.pt")
    for name, ckpt in todo.items():
        results = json.loads(results_file.read_text()) if results_file.is_file() else {}  # a parallel run's
        results[name] = measure(ckpt)
        results_file.write_text(json.dumps(results, indent=1) + "\n")
    out = RESULTS / "HELDOUT.en.md"
    out.write_text(render(results))
    print(out.read_text())


if __name__ == "__main__":
    main()
