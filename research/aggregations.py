"""How a document's answer is made from its sentences': ``python -m research.aggregations``.

Reads IMDB's reviews sentence by sentence once with the shipped English model, then scores each way
of combining the sentences on the training reviews `model.document.fit` fits on (20,000), on the
5,000 it holds out to check the fit (where the choice between forms was made) and on all 25,000
test reviews, and writes `research/results/AGGREGATION.en.md`. The shipped checkpoint's choice is
the fitted one; the others are here to show what the choice is worth.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from model import document, scale
from model.checkpoint import load_checkpoint
from model.data import default_data_dir, read_imdb
from model.encoding import TextEncoder
from model.inference import Classifier
from model.languages import language

HERE = Path(__file__).resolve().parent
Combine = Callable[[Tensor], Tensor]  # [pieces, 5] -> [5]


def choices(
    labels: tuple[str, ...], fitted: document.Aggregation, without_per_label: document.Aggregation
) -> dict[str, Combine]:
    """Each way to combine; the weighted means are `model.document.combine` with its parameters.
    ``without_per_label``: fitted on the same reviews with polarity, last and shift only."""

    def weighted(how: document.Aggregation) -> Combine:
        return lambda p: document.combine(p, labels, how)

    out: dict[str, Combine] = {
        "first sentence only": lambda p: p[0],
        "last sentence only": lambda p: p[-1],
        "plain mean": weighted(document.Aggregation(0.0, 0.0)),
        "plain mean, shifted as fitted": weighted(document.Aggregation(0.0, 0.0, fitted.shift)),
        "polarity-weighted mean (polarity 1)": weighted(document.Aggregation(1.0, 0.0)),
        "polarity-weighted mean (polarity 4)": weighted(document.Aggregation(4.0, 0.0)),
        "most polar sentence only": lambda p: p[
            int(document.weights(p, labels, document.Aggregation(1.0, 0.0)).argmax())
        ],
    }
    out["grid-fitted, no shift (shipped first: polarity 4, last 0.5)"] = weighted(document.Aggregation(4.0, 0.5))
    plain = without_per_label
    out[f"fitted: polarity {plain.polarity:.3g}, last {plain.last:.3g}, shift {plain.shift:.3g} (shipped before)"] = (
        weighted(plain)
    )
    out["fitted per label, without the shift and the strengths"] = weighted(replace(fitted, shift=0.0, strength=()))
    out["fitted per label, without the strengths"] = weighted(replace(fitted, strength=()))
    per_label = ", ".join(f"{v:.3g}" for v in fitted.salience)
    strength = ", ".join(f"{v:.3g}" for v in fitted.strength)
    out[
        f"fitted per label, shipped (salience {per_label}; strength {strength}; last {fitted.last:.3g}, shift "
        f"{fitted.shift:.3g})"
    ] = weighted(fitted)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--out", type=Path, default=HERE / "results" / "AGGREGATION.en.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    record = language("en")
    ckpt = load_checkpoint(record.checkpoint_path)
    classifier, encoder = Classifier(ckpt), TextEncoder.for_checkpoint(ckpt)
    assert record.read_documents is not None
    fitting, held_out = document.split(record.read_documents(args.data_dir))  # as `model.document` splits
    sets = {
        f"fit ({len(fitting):,} IMDB training reviews)": fitting,
        f"held out of the fit ({len(held_out):,})": held_out,
        "IMDB test (25,000)": read_imdb(args.data_dir, "test"),
    }
    read = {
        name: document.read_all(classifier, encoder, [d.text for d in docs], "en", record.reads)
        for name, docs in sets.items()
    }
    how = document.Aggregation.from_dict(ckpt.document)
    fit_name = next(iter(sets))
    plain, _ = document.fit(read[fit_name], [d.label for d in sets[fit_name]], ckpt.labels, per_label=False)
    lines = [
        "## How sentence answers combine into a review's (en)",
        "",
        "Made by `python -m research.aggregations` on the shipped checkpoint: each review read sentence by sentence "
        "(`model.document.pieces`), then combined as each row says; polar accuracy (`binary` view). The parameters "
        "are fitted on the fit reviews (`python -m model.document`), the form (which parameters) was chosen on the "
        "held-out reviews; test is only scored.",
        "",
        "| combination | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for name, combine in choices(ckpt.labels, how, plain).items():
        cells = []
        for set_name, docs in sets.items():
            probs = torch.stack([combine(p) for p in read[set_name]])
            y = torch.tensor([d.label for d in docs])
            cells.append(
                f"{100 * float((scale.view(probs, ckpt.labels, 'binary').argmax(-1) == y).float().mean()):.2f}%"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
