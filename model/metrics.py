"""Classification metrics on plain lists: accuracy, per-class P/R/F1, confusion, calibration."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

# Upper bounds (inclusive) of the token-length buckets used in reports; the last is open-ended.
LENGTH_BUCKETS = (10, 20, 30, 40)
# The same in characters, for documents.
CHAR_BUCKETS = (500, 1500, 3000)


def accuracy(probs: Tensor, labels: Sequence[int]) -> float:
    if len(labels) == 0:
        return 0.0
    return float((probs.argmax(-1) == torch.tensor(labels)).float().mean())


def confusion_matrix(preds: Sequence[int], labels: Sequence[int], num_labels: int) -> list[list[int]]:
    """Rows are true labels, columns predicted labels."""
    m = [[0] * num_labels for _ in range(num_labels)]
    for p, y in zip(preds, labels, strict=True):
        m[y][p] += 1
    return m


def per_class(confusion: list[list[int]], names: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for k, name in enumerate(names):
        tp = confusion[k][k]
        predicted = sum(row[k] for row in confusion)
        actual = sum(confusion[k])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[name] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return out


def expected_calibration_error(probs: Tensor, labels: Sequence[int], bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - confidence| * share."""
    if len(labels) == 0:
        return 0.0
    conf, pred = probs.max(-1)
    correct = (pred == torch.tensor(labels)).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += float(in_bin.float().mean() * (correct[in_bin].mean() - conf[in_bin].mean()).abs())
    return ece


def length_bucket(n: int, bounds: tuple[int, ...] = LENGTH_BUCKETS) -> str:
    """The bucket ("11-20", "41+") of a length, by the buckets' upper bounds."""
    lo = 1
    for hi in bounds:
        if n <= hi:
            return f"{lo}-{hi}"
        lo = hi + 1
    return f"{lo}+"


def report(
    probs: Tensor,
    labels: Sequence[int],
    lengths: Sequence[int],
    names: Sequence[str],
    categories: Sequence[str] = (),
    texts: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the model card shows for one split (per category for a behavioural set, and per
    length in characters for documents)."""
    preds = probs.argmax(-1).tolist()
    confusion = confusion_matrix(preds, labels, len(names))
    buckets: dict[str, list[int]] = {}
    for p, y, n in zip(preds, labels, lengths, strict=True):
        buckets.setdefault(length_bucket(n), []).append(int(p == y))
    order = [length_bucket(hi) for hi in LENGTH_BUCKETS] + [length_bucket(LENGTH_BUCKETS[-1] + 1)]
    by_category: dict[str, list[int]] = {}
    for p, y, c in zip(preds, labels, categories, strict=False):
        by_category.setdefault(c, []).append(int(p == y))
    extra: dict[str, Any] = (
        {"by_category": {c: {"n": len(v), "accuracy": sum(v) / len(v)} for c, v in sorted(by_category.items())}}
        if any(categories)
        else {}
    )
    if texts and max(len(t) for t in texts) > CHAR_BUCKETS[0]:
        by_chars: dict[str, list[int]] = {}
        for p, y, t in zip(preds, labels, texts, strict=True):
            by_chars.setdefault(length_bucket(len(t), CHAR_BUCKETS), []).append(int(p == y))
        keys = sorted(by_chars, key=lambda b: int(b.split("-")[0].rstrip("+")))
        extra["by_chars"] = {b: {"n": len(by_chars[b]), "accuracy": sum(by_chars[b]) / len(by_chars[b])} for b in keys}
        # and the texts longer than each bound ("reviews over 1,500 characters"), where there are any
        extra["longer_than"] = {
            str(bound): {"n": len(right), "accuracy": sum(right) / len(right)}
            for bound in CHAR_BUCKETS
            if (right := [int(p == y) for p, y, t in zip(preds, labels, texts, strict=True) if len(t) > bound])
        }
    return {
        "n": len(labels),
        "accuracy": accuracy(probs, labels),
        "ece": expected_calibration_error(probs, labels),
        "per_class": per_class(confusion, names),
        "confusion": confusion,
        "by_length": {
            b: {"n": len(buckets[b]), "accuracy": sum(buckets[b]) / len(buckets[b])} for b in order if b in buckets
        },
        **extra,
    }


def fit_temperature(logits: Tensor, labels: Sequence[int]) -> float:
    """The temperature T minimising dev negative log-likelihood of softmax(logits / T).

    A one-parameter fit on dev: it changes confidence, never the predicted label.
    """
    target = torch.tensor(labels)
    grid = torch.exp(torch.linspace(-2.5, 2.5, 501))  # T from ~0.08 to ~12
    nll = torch.stack([torch.nn.functional.cross_entropy(logits / t, target) for t in grid])
    return float(grid[int(nll.argmin())])
