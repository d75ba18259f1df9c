"""A document as the model reads it: every sentence (`model.segment`), each encoded on its own, and
one answer for the whole from its sentences' answers.

A sentence longer than the model's length is cut at whitespace into pieces that each fit, so every
token of a text is read. The document's probabilities are a weighted mean of its sentences':
a sentence weighs by how polar it is (``1 - P(neutral)``, or ``|P(pos) - P(neg)|`` for a two-label
model; with a neutral label, a fitted salience per label instead: ``sum_c e^salience_c P(c)``) to the
power ``polarity``, times ``1 + last`` for the last sentence (where reviews state their verdict), so
that plot summaries and delivery facts count for less than verdicts. Then the mean's positive side is
weighed ``e^shift`` against its negative side, each side counted with its labels' shares weighed
``e^strength`` (a "very" label may count for more than a plain one; the polar total, the neutral
share and the proportions within a side kept): a
sentence-level model reads the criticism inside favourable reviews as it would read a negative
sentence, so documents lean negative without it. The parameters are fitted on labelled documents
from the training side (`fit`) and kept in the checkpoint.
"""

from __future__ import annotations

import functools
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

import torch
from torch import Tensor

from model import scale
from model.checkpoint import Checkpoint
from model.encoding import EncodedText, TextEncoder
from model.inference import Classifier
from model.languages import language
from model.segment import Span, sentences

T = TypeVar("T")


@dataclass(frozen=True)
class Aggregation:
    """How sentence answers combine into the document's (stored in the checkpoint)."""

    polarity: float = 1.0
    last: float = 0.0
    shift: float = 0.0
    salience: tuple[float, ...] = ()  # per label, log weight in a sentence's weight; (): how polar it is
    strength: tuple[float, ...] = ()  # per label, log weight of its share in its side's odds; (): all 0

    @classmethod
    def from_dict(cls, stored: dict[str, float | list[float]]) -> Aggregation:
        """From a checkpoint's record (lists for the per-label fields)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float | list[float]]:
        """For a checkpoint's record; per-label fields only when fitted (older code reads the rest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v != ()}


@dataclass(frozen=True)
class Piece:
    """One unit the model reads: a sentence, or a part of one too long for the model."""

    span: Span
    encoded: EncodedText


def pieces(text: str, lang: str, encoder: TextEncoder, reads: Literal["sentences", "texts"]) -> list[Piece]:
    """What the model reads of ``text``, in order: each sentence on its own (long ones in parts),
    or, for a model trained on whole texts, the text itself when it fits, else runs of consecutive
    sentences that fit. A text without any non-whitespace character gives []."""
    if len(text) > encoder.max_length:
        # A long sentence is halved until its parts fit, and a half's first prefix is often its
        # parent's (a repetitive text repeats many more): each distinct string is tokenized once.
        encoder = replace(encoder, tokenize=functools.cache(encoder.tokenize))
    if reads == "texts":
        start, end = len(text) - len(text.lstrip()), len(text.rstrip())
        if start >= end:
            return []
        # The sentences cover the text but its outer whitespace: a review that fits is read whole,
        # and neither segmented nor tokenized sentence by sentence.
        whole = Span(start, end)
        tokens = _tokens_if_fitting(text, whole, encoder)
        if tokens is not None:
            return [Piece(whole, encoder.encode_tokens(tokens))]
        spans = _runs(text, sentences(text, lang), encoder)
    else:
        spans = sentences(text, lang)
    out: list[Piece] = []
    for span in spans:
        out.extend(_fitting(text, span, encoder))
    return out


def _runs(text: str, spans: list[Span], encoder: TextEncoder) -> list[Span]:
    """Consecutive sentences joined while their tokens fit the model's length together."""
    runs: list[Span] = []
    start, tokens = -1, 0
    for span in spans:
        n = len(encoder.tokenize(text[span.start : span.end]))
        if start >= 0 and tokens + n <= encoder.max_length:
            tokens += n
            runs[-1] = Span(start, span.end)
        else:
            start, tokens = span.start, n
            runs.append(span)
    return runs


def _fitting(text: str, span: Span, encoder: TextEncoder) -> list[Piece]:
    """``span`` as one piece if its tokens fit, else split at the whitespace nearest its middle."""
    tokens = _tokens_if_fitting(text, span, encoder)
    if tokens is not None:
        return [Piece(span, encoder.encode_tokens(tokens))]
    middle = (span.start + span.end) // 2
    cut = max(text.rfind(" ", span.start + 1, middle + 1), text.rfind("\n", span.start + 1, middle + 1))
    if cut <= span.start:  # no whitespace in the first half: split at the middle itself
        cut = middle
    left_end = len(text[span.start : cut].rstrip()) + span.start
    right_start = cut + len(text[cut : span.end]) - len(text[cut : span.end].lstrip())
    if left_end <= span.start or right_start >= span.end:
        return [Piece(span, encoder.encode(text[span.start : span.end]))]  # unbreakable: read up to the length
    return _fitting(text, Span(span.start, left_end), encoder) + _fitting(text, Span(right_start, span.end), encoder)


# Tokens a prefix cut inside a word may gain or lose against the whole text's tokens there.
_CUT_SLACK = 8


def _tokens_if_fitting(text: str, span: Span, encoder: TextEncoder) -> list[str] | None:
    """``span``'s tokens if they fit the model's length, else None, tokenizing no more of it than
    decides it: a prefix that already holds well over the length means the span does not fit.
    (Tokenizing every span whole made a 100,000-character text without spaces cost a second: its
    halves, their halves and so on were each tokenized again.)"""
    limit = encoder.max_length
    size = 2 * (limit + _CUT_SLACK + 1)  # characters: a token takes at least one
    while True:
        end = min(span.end, span.start + size)
        tokens = encoder.tokenize(text[span.start : end])
        if end == span.end:
            return tokens if len(tokens) <= limit else None
        if len(tokens) > limit + _CUT_SLACK:
            return None
        size *= 4


def polarities(probs: Tensor, labels: tuple[str, ...]) -> Tensor:
    """[...] how polar each [..., L] answer is: ``1 - P(neutral)``, or ``|P(pos) - P(neg)|`` for a
    two-label model (at least 1e-6, so that a weight is never 0)."""
    neg, neutral, pos = scale.sides(labels)
    if neutral:
        return (1 - probs[..., neutral].sum(-1)).clamp_min(1e-6)
    return (probs[..., pos].sum(-1) - probs[..., neg].sum(-1)).abs().clamp_min(1e-6)


def salient(probs: Tensor, labels: tuple[str, ...], salience: tuple[float, ...]) -> Tensor:
    """[...] how much each [..., L] answer counts: ``sum_c e^salience_c P(c)``, or with no salience,
    how polar it is (`polarities`)."""
    if not salience:
        return polarities(probs, labels)
    return (probs @ torch.tensor(salience).exp()).clamp_min(1e-6)


def weights(probs: Tensor, labels: tuple[str, ...], how: Aggregation) -> Tensor:
    """[S] weight of each sentence of one document, from its [S, L] probabilities."""
    w = salient(probs, labels, how.salience) ** how.polarity
    w[-1] *= 1 + how.last
    return w


def combine(probs: Tensor, labels: tuple[str, ...], how: Aggregation) -> Tensor:
    """[L] the document's probabilities from its sentences' [S, L] (one sentence: its own)."""
    if probs.size(0) == 1:
        return probs[0]
    w = weights(probs, labels, how)
    return shifted((w[:, None] * probs).sum(0) / w.sum(), labels, how.shift, how.strength)


def shifted(probs: Tensor, labels: tuple[str, ...], shift: float, strength: tuple[float, ...] = ()) -> Tensor:
    """[..., L] ``probs`` with the positive side weighed ``e^shift`` against the negative side, each
    side counted as the sum of its labels' shares weighed ``e^strength``; the two sides' total (and so
    the neutral share) and the proportions within each side unchanged: strength and shift move mass
    between the sides, never between the labels of one side."""
    if shift == 0 and not any(strength):
        return probs
    neg, _, pos = scale.sides(labels)
    log_weight = torch.tensor(strength) if strength else torch.zeros(len(labels))
    weighed = probs * log_weight.exp()
    n, p = probs[..., neg].sum(-1, keepdim=True), probs[..., pos].sum(-1, keepdim=True)
    n_odds, p_odds = weighed[..., neg].sum(-1, keepdim=True), math.exp(shift) * weighed[..., pos].sum(-1, keepdim=True)
    share = (n + p) / (n_odds + p_odds).clamp_min(1e-12)  # keeps the two sides' total
    out = probs.clone()
    out[..., neg] *= share * n_odds / n.clamp_min(1e-12)
    out[..., pos] *= share * p_odds / p.clamp_min(1e-12)
    return out


# Documents of several pieces that per-label weights need: with a few dozen (a dry run), nothing
# bounds them and L-BFGS overflows.
PER_LABEL_MIN_DOCUMENTS = 1000


def fit(
    sentence_probs: Sequence[Tensor], doc_labels: Sequence[int], labels: tuple[str, ...], per_label: bool = True
) -> tuple[Aggregation, float]:
    """The aggregation that best explains labelled documents' polarity (0 negative, 1 positive):
    maximum likelihood of each document's label under its combined polar log-odds, times a free
    scale (the mean of probabilities is not itself calibrated), by L-BFGS. A model with a neutral
    label also gets a salience per label and a strength per "very" label, unless not ``per_label`` or
    fewer than PER_LABEL_MIN_DOCUMENTS documents have several pieces.
    Returns it and its polar accuracy on those documents."""
    many = [i for i, p in enumerate(sentence_probs) if p.size(0) > 1]  # one piece answers as itself
    how = Aggregation()
    if many:
        docs, targets = [sentence_probs[i] for i in many], [doc_labels[i] for i in many]
        per_label = per_label and bool(scale.sides(labels)[1]) and len(docs) >= PER_LABEL_MIN_DOCUMENTS
        how = _maximum_likelihood(docs, targets, labels, per_label)
    return how, polar_accuracy(sentence_probs, doc_labels, labels, how)


def polar_accuracy(
    sentence_probs: Sequence[Tensor], doc_labels: Sequence[int], labels: tuple[str, ...], how: Aggregation
) -> float:
    """How many documents (0 negative, 1 positive) ``how`` answers on the right side."""
    if not sentence_probs:
        return 0.0
    docs = torch.stack([combine(p, labels, how) for p in sentence_probs])
    answers = scale.view(docs, labels, "binary").argmax(-1)
    return float((answers == torch.tensor(list(doc_labels))).float().mean())


def _maximum_likelihood(
    docs: Sequence[Tensor], doc_labels: Sequence[int], labels: tuple[str, ...], per_label: bool
) -> Aggregation:
    """`fit`'s optimisation on documents of at least two pieces, padded into one [D, S, L] tensor.
    Per label: the neutral label's salience and the plain labels' strength stay 0 (the others are
    measured against them; ``shift`` already weighs one side against the other)."""
    steps = max(p.size(0) for p in docs)
    probs = torch.zeros(len(docs), steps, len(labels))
    present = torch.zeros(len(docs), steps, dtype=torch.bool)
    for d, p in enumerate(docs):
        probs[d, : p.size(0)], present[d, : p.size(0)] = p, True
    counts = present.sum(1)
    is_last = torch.arange(steps)[None, :] == (counts - 1)[:, None]
    neg, neutral, pos = scale.sides(labels)
    salient_labels = [c for c in range(len(labels)) if c not in neutral] if per_label else []
    strong_labels = (neg[:-1] + pos[1:]) if per_label else []  # the sides' labels farthest from neutral
    target = torch.tensor(list(doc_labels), dtype=torch.float)
    # polarity, log(1 + last), shift, log(scale of the log-odds in the loss), salience..., strength...
    params = torch.zeros(4 + len(salient_labels) + len(strong_labels))
    params[0] = 1.0
    params.requires_grad_(True)
    optimizer = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

    def per_label_values(offset: int, chosen: list[int]) -> Tensor:
        values = torch.zeros(len(labels))
        return values.index_put((torch.tensor(chosen, dtype=torch.long),), params[offset : offset + len(chosen)])

    def loss() -> Tensor:
        optimizer.zero_grad()
        if salient_labels:
            log_salient = (probs @ per_label_values(4, salient_labels).exp()).clamp_min(1e-6).log()
        else:
            log_salient = polarities(probs, labels).log()
        polarity = 1.0 if salient_labels else params[0]  # a free salience sets how sharp the weights are
        log_w = (polarity * log_salient + params[1] * is_last).masked_fill(~present, -math.inf)
        mean = (log_w.softmax(1)[..., None] * probs).sum(1)
        weighed = mean * per_label_values(4 + len(salient_labels), strong_labels).exp()
        n, p = weighed[:, neg].sum(-1).clamp_min(1e-12), weighed[:, pos].sum(-1).clamp_min(1e-12)
        log_odds = (p.log() - n.log() + params[2]) * _bounded_scale(params[3])
        value = torch.nn.functional.binary_cross_entropy_with_logits(log_odds, target)
        value.backward()  # type: ignore[no-untyped-call]
        return value

    optimizer.step(loss)  # type: ignore[no-untyped-call]
    fitted = params.detach()
    polarity, log_last, shift = fitted[:3].tolist()
    salience = tuple(per_label_values(4, salient_labels).detach().tolist()) if salient_labels else ()
    strength = (
        tuple(per_label_values(4 + len(salient_labels), strong_labels).detach().tolist()) if strong_labels else ()
    )
    return Aggregation(
        polarity=1.0 if salient_labels else max(polarity, 0.0),
        last=math.expm1(log_last),
        shift=shift,
        salience=salience,
        strength=strength,
    )


def _bounded_scale(z: Tensor) -> Tensor:
    """The loss's scale of the log-odds, e^-4..e^4: documents that one side separates would drive
    it (and the line search's trial steps) to infinity."""
    return (4 * torch.tanh(z / 4)).exp()


def read_all(
    classifier: Classifier, encoder: TextEncoder, texts: Sequence[str], lang: str, reads: Literal["sentences", "texts"]
) -> list[Tensor]:
    """Each text's [pieces, L] probabilities, as the service reads it: the whole text when it is one
    piece, else every piece of it (`pieces`)."""
    sequences: list[list[int]] = []
    bounds: list[tuple[int, int]] = []
    for text in texts:
        found = pieces(text, lang, encoder, reads)
        start = len(sequences)
        if len(found) > 1:
            sequences.extend(p.encoded.ids for p in found)
        else:
            sequences.append(encoder.encode(text).ids)
        bounds.append((start, len(sequences)))
    probs = classifier.predict_proba(sequences)
    return [probs[a:b] for a, b in bounds]


# Share of a language's labelled documents held out of `fit` to check what it chose.
CHECK_SHARE = 0.2


def split(items: Sequence[T]) -> tuple[list[T], list[T]]:
    """``items`` in a seeded order, cut into what `fit` fits on and the `CHECK_SHARE` held out."""
    order = list(items)
    random.Random(0).shuffle(order)
    held = round(CHECK_SHARE * len(order))
    return order[held:], order[:held]


def fit_documents(ckpt: Checkpoint, data_dir: Path, limit: int | None = None) -> None:
    """Fit ``ckpt.document`` on its language's labelled documents for the purpose (English: IMDB's
    training reviews; Chinese: its dev reviews), if it has any: on a seeded 80%, checked on the rest."""
    lang = language(ckpt.language)
    if lang.read_documents is None:
        return
    docs = lang.read_documents(data_dir)[:limit]
    per_doc = read_all(
        Classifier(ckpt), TextEncoder.for_checkpoint(ckpt), [d.text for d in docs], lang.code, lang.reads
    )
    fitting, checking = split(range(len(docs)))
    how, accuracy = fit([per_doc[i] for i in fitting], [docs[i].label for i in fitting], ckpt.labels)
    checked = polar_accuracy([per_doc[i] for i in checking], [docs[i].label for i in checking], ckpt.labels, how)
    ckpt.document = how.to_dict()
    ckpt.training["documents"] = {
        "fitted_on": len(fitting),
        "polar_accuracy": accuracy,
        "checked_on": len(checking),
        "check_accuracy": checked,
        **how.to_dict(),
    }
    print(f"documents: {how} ({accuracy:.4f} fitted, {checked:.4f} held out)", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """``python -m model.document CHECKPOINT``: fit how a checkpoint combines sentence answers into a
    document's, rescore it and write it back (with its sidecar and metrics record). With
    ``--rescore-only``, keep the fitted combination and only rescore: after a change to how texts are
    read, the metrics a file stores are what it does now."""
    import argparse
    import json

    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.data import default_data_dir
    from model.evaluate import by_members, corpus_of, score

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--rescore-only", action="store_true", help="keep the fitted combination")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.checkpoint)
    if not args.rescore_only:
        fit_documents(ckpt, args.data_dir)
    corpus = corpus_of(ckpt, args.data_dir)
    ckpt.metrics = {"by_members": by_members(ckpt, corpus), **score(ckpt, corpus)}
    step = f"python -m model.document {args.checkpoint.name}" + (" --rescore-only" if args.rescore_only else "")
    command = ckpt.training.get("command", "")
    if step not in command:
        ckpt.training["command"] = f"{command} && {step}" if command else step
    sha = save_checkpoint(ckpt, args.checkpoint)
    args.checkpoint.with_name(args.checkpoint.name + ".sha256").write_text(f"{sha}  {args.checkpoint.name}\n")
    record_path = args.checkpoint.with_suffix(".metrics.json")
    record = {
        "metrics": ckpt.metrics,
        "training": ckpt.training,
        "checkpoint": {"path": str(args.checkpoint), "sha256": sha},
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.checkpoint} (sha256 {sha[:12]}) and {record_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
