"""The answers a model's probabilities give: its own labels, three-way, polar (binary), and a score.

An English model reads the treebank's five-point scale (very negative .. very positive); a model
trained on polar data has two labels. Every view of an answer is computed here, from the model's
probabilities, so that evaluation and the service agree.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

FIVE = ("very_negative", "negative", "neutral", "positive", "very_positive")
THREE = ("negative", "neutral", "positive")
BINARY = ("negative", "positive")
View = Literal["model", "three", "binary"]


def labels_of(model_labels: tuple[str, ...], view: View) -> tuple[str, ...]:
    """The label names of ``view`` for a model with ``model_labels``."""
    if view == "model":
        return model_labels
    if view == "binary":
        return BINARY
    if model_labels == BINARY:
        raise ValueError("a two-label model has no neutral answer")
    return THREE


def sides(model_labels: tuple[str, ...]) -> tuple[list[int], list[int], list[int]]:
    """Indices of the negative side, the neutral label(s) and the positive side."""
    if model_labels == FIVE:
        return [0, 1], [2], [3, 4]
    if model_labels == BINARY:
        return [0], [], [1]
    raise ValueError(f"unknown label set {model_labels}")


def view(probs: Tensor, model_labels: tuple[str, ...], view: View) -> Tensor:
    """[batch, len(labels_of(view))] probabilities: sums over each side; ``binary`` renormalises
    the two polar sides (the neutral mass is set aside), as the SST-2 protocol reads a 5-class model."""
    if view == "model":
        return probs
    neg, neutral, pos = sides(model_labels)
    n, p = probs[:, neg].sum(-1), probs[:, pos].sum(-1)
    if view == "binary":
        polar = torch.stack([n, p], -1)
        return polar / polar.sum(-1, keepdim=True).clamp_min(1e-12)
    labels_of(model_labels, "three")  # refuses a two-label model
    return torch.stack([n, probs[:, neutral].sum(-1), p], -1)


def view_log_probs(logits: Tensor, model_labels: tuple[str, ...], view: View) -> Tensor:
    """``log(view(softmax(logits)))``, computed in log space (explanations take log-odds of it)."""
    logp = logits.log_softmax(-1)
    if view == "model" or model_labels == BINARY:
        return logp
    neg, neutral, pos = sides(model_labels)
    n, p = logp[..., neg].logsumexp(-1), logp[..., pos].logsumexp(-1)
    if view == "binary":
        polar = torch.stack([n, p], -1)
        return polar - polar.logsumexp(-1, keepdim=True)
    return torch.stack([n, logp[..., neutral].logsumexp(-1), p], -1)


def sentiment(probs: Tensor, model_labels: tuple[str, ...]) -> Tensor:
    """[batch] in [-1, 1]: the expected value of the five-point scale mapped to -1..1 (a two-label
    model: P(positive) - P(negative))."""
    if model_labels == BINARY:
        return probs[:, 1] - probs[:, 0]
    sides(model_labels)
    points = torch.linspace(-1, 1, len(model_labels), dtype=probs.dtype)
    return probs @ points


def view_rows(rows: list[list[float]], model_labels: tuple[str, ...], view: View) -> list[list[float]]:
    """`view` on plain lists: the service's per-request answers, where torch's per-op overhead on a
    handful of numbers would cost more than the arithmetic."""
    if view == "model":
        return rows
    neg, neutral, pos = sides(model_labels)
    out = []
    for r in rows:
        n, p = sum(r[i] for i in neg), sum(r[i] for i in pos)
        if view == "binary":
            total = max(n + p, 1e-12)
            out.append([n / total, p / total])
        else:
            out.append([n, sum(r[i] for i in neutral), p])
    if view == "three":
        labels_of(model_labels, "three")  # refuses a two-label model
    return out


def sentiment_rows(rows: list[list[float]], model_labels: tuple[str, ...]) -> list[float]:
    """`sentiment` on plain lists."""
    if model_labels == BINARY:
        return [r[1] - r[0] for r in rows]
    sides(model_labels)
    k = len(model_labels) - 1
    points = [2 * i / k - 1 for i in range(k + 1)]
    return [sum(p * x for p, x in zip(points, r, strict=True)) for r in rows]
