"""How far more members can go: ``python -m research.pooled CKPT [CKPT ...] --out FILE``.

Ensembling is the recipe's last lever: if it is not enough, is it worth more members, or members
trained differently? This pools every member of the given checkpoints (e.g. the ablation runs,
kept with ``python -m research.ablations --run --keep DIR``) into one ensemble, averaged as the service
averages (the members' logits), and counts the test texts by how many members get them right: the
texts every member gets wrong are out of reach of any average of these members. It also picks
members greedily on dev, to show how much of a dev gain from choosing members carries to test.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from model.checkpoint import load_checkpoint
from model.corpora import Corpus
from model.data import default_data_dir
from model.encoding import TextEncoder
from model.evaluate import corpus_of, logits_per_member

SPLITS = ("dev", "test")


@dataclass
class Run:
    """One checkpoint: where it came from and each member's dev and test logits."""

    name: str
    command: str
    network: str  # what the command line may not say: the preset of its day set it
    logits: dict[str, list[Tensor]]  # split -> one [texts, labels] tensor per member


def member_logits(paths: list[Path], data_dir: Path) -> tuple[list[Run], dict[str, Tensor]]:
    """Every member of every checkpoint, scored alone (raw logits) on dev and test."""
    runs: list[Run] = []
    corpus: Corpus | None = None
    lang = ""
    for path in paths:
        ckpt = load_checkpoint(path)
        if corpus is None:
            lang = ckpt.language
            corpus = corpus_of(ckpt, data_dir)
        elif ckpt.language != lang:
            raise ValueError(f"{path} is a {ckpt.language} checkpoint; the first one given is {lang}")
        encoder = TextEncoder.for_checkpoint(ckpt)
        logits = logits_per_member(ckpt, {s: encoder.ids(ex.text for ex in getattr(corpus, s)) for s in SPLITS})
        command = ckpt.training.get("command", "")
        cfg = ckpt.model_config
        network = f"{cfg.pooling} pooling, hidden {cfg.hidden_size}, {cfg.num_layers} layer(s)"
        runs.append(Run(path.stem, command if isinstance(command, str) else shlex.join(command), network, logits))
        print(f"{path}: {len(ckpt.members)} members", file=sys.stderr, flush=True)
    if corpus is None:
        raise ValueError("no checkpoints given")
    labels = {s: torch.tensor([ex.label for ex in getattr(corpus, s)]) for s in SPLITS}
    return runs, labels


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(-1) == labels).float().mean())


def average(members: list[Tensor]) -> Tensor:
    return torch.stack(members).mean(0)


def greedy(members: list[Tensor], labels: Tensor, steps: int) -> list[tuple[int, float]]:
    """Forward selection, repeats allowed (Caruana et al. 2004): after each step, the member added and
    the accuracy of the running average on ``labels``."""
    chosen: list[int] = []
    out = []
    for _ in range(steps):
        scores = [accuracy(average([members[i] for i in [*chosen, j]]), labels) for j in range(len(members))]
        best = max(range(len(scores)), key=lambda j: (scores[j], -j))
        chosen.append(best)
        out.append((best, scores[best]))
    return out


def held_out(
    members: list[Tensor], first: list[Tensor], labels: Tensor, steps: int, rounds: int = 20
) -> dict[str, float]:
    """Does choosing members on dev carry over? Over seeded random halvings of dev: choose on one
    half (the greedy prefix with the best accuracy there), score on the other, beside the first
    checkpoint's ensemble and the plain average of all members on that same other half."""
    totals = {"chosen": 0.0, "first": 0.0, "all": 0.0, "size": 0.0}
    for seed in range(rounds):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        a, b = order[: len(order) // 2], order[len(order) // 2 :]
        path = greedy([m[a] for m in members], labels[a], steps)
        size = max(range(len(path)), key=lambda k: (path[k][1], -k)) + 1
        chosen = [i for i, _ in path[:size]]
        totals["chosen"] += accuracy(average([members[i][b] for i in chosen]), labels[b])
        totals["first"] += accuracy(average([m[b] for m in first]), labels[b])
        totals["all"] += accuracy(average([m[b] for m in members]), labels[b])
        totals["size"] += size
    return {k: v / rounds for k, v in totals.items()}


def render(runs: list[Run], labels: dict[str, Tensor], command: str, steps: int = 10) -> str:
    members = {s: [m for r in runs for m in r.logits[s]] for s in SPLITS}
    names = [f"{r.name}:{i + 1}" for r in runs for i in range(len(r.logits["dev"]))]
    n = len(names)
    lines = [
        "## Pooled members: how far more members go",
        "",
        f"Made by `{command}`. Each checkpoint's own ensemble, then all {n} members of the {len(runs)} "
        "checkpoints averaged as one ensemble (mean of the members' logits, as the service averages). "
        "Each checkpoint's training command is in the table; `python -m research.ablations --run --keep DIR` keeps "
        "the ablation rows' checkpoints for this.",
        "",
        "| checkpoint | command | network | members | mean member dev | ensemble dev | mean member test "
        "| ensemble test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        dev = [accuracy(m, labels["dev"]) for m in r.logits["dev"]]
        test = [accuracy(m, labels["test"]) for m in r.logits["test"]]
        lines.append(
            f"| {r.name} | `{r.command}` | {r.network} | {len(dev)} | {100 * sum(dev) / len(dev):.2f} | "
            f"{100 * accuracy(average(r.logits['dev']), labels['dev']):.2f} | {100 * sum(test) / len(test):.2f} | "
            f"{100 * accuracy(average(r.logits['test']), labels['test']):.2f} |"
        )
    pooled = {s: average(members[s]) for s in SPLITS}
    right = torch.stack([m.argmax(-1) == labels["test"] for m in members["test"]]).float().mean(0)
    split = (right > 0) & (right < 1)
    pooled_right = pooled["test"].argmax(-1) == labels["test"]
    lines += [
        "",
        f"**All {n} members as one ensemble**: dev {100 * accuracy(pooled['dev'], labels['dev']):.2f}%, "
        f"test **{100 * accuracy(pooled['test'], labels['test']):.2f}%**.",
        "",
        f"**Test texts by how many of the {n} members get them right**: every member "
        f"{100 * float((right == 1).float().mean()):.2f}%, none {100 * float((right == 0).float().mean()):.2f}%, "
        f"some {100 * float(split.float().mean()):.2f}% (the pooled ensemble is right on "
        f"{100 * float(pooled_right[split].float().mean()) if split.any() else 0.0:.2f}% of those).",
        "",
        "**Members chosen on dev** (greedy forward selection, repeats allowed: each step adds the member "
        "that most raises the running average's dev accuracy):",
        "",
        "| step | member added | dev | test |",
        "|---|---|---|---|",
    ]
    chosen: list[int] = []
    for step, (i, dev_acc) in enumerate(greedy(members["dev"], labels["dev"], steps), 1):
        chosen.append(i)
        test_acc = accuracy(average([members["test"][j] for j in chosen]), labels["test"])
        lines.append(f"| {step} | {names[i]} | {100 * dev_acc:.2f} | {100 * test_acc:.2f} |")
    check = held_out(members["dev"], runs[0].logits["dev"], labels["dev"], steps)
    lines += [
        "",
        "**Does choosing on dev carry over?** Dev split in half 20 times (seeded): members chosen as above on "
        f"one half (the best prefix there, {check['size']:.1f} steps on average) score "
        f"**{100 * check['chosen']:.2f}%** on the other half; on the same halves {runs[0].name}'s own ensemble "
        f"scores {100 * check['first']:.2f}% and all {n} members averaged {100 * check['all']:.2f}%.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", type=Path, nargs="+")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--steps", type=int, default=10, help="greedy selection steps")
    p.add_argument("--out", type=Path, default=None, help="write the markdown here (default: stdout only)")
    args = p.parse_args(argv)
    runs, labels = member_logits(args.checkpoints, args.data_dir)
    command = "python -m research.pooled " + " ".join(shlex.quote(str(c)) for c in args.checkpoints)
    text = render(runs, labels, command, args.steps)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
