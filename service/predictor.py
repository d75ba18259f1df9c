"""Predictor: one checkpoint turned into answers. Tokenize -> encode -> forward -> summarize.

Each stage is a small method so it can be tested alone; `predict` runs a whole batch of texts in
one forward pass (plus one more for the texts that asked for an explanation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from model import document, scale
from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.data import sha256_file
from model.encoding import EncodedText, TextEncoder
from model.inference import Classifier, explain_from_logits
from model.languages import language
from model.tokenizer import UNK_ID

TOP_UNITS = 5
Answer = dict[str, Any]  # one prediction, JSON-ready, shaped like `service.schemas.Prediction`


@dataclass(frozen=True)
class PredictItem:
    """One text to answer, encoded, with what the caller asked for."""

    encoded: EncodedText
    explain: bool = False
    include_hidden: bool = False
    binary: bool = False  # a polar answer (negative or positive) even from a model with a neutral label
    pieces: tuple[document.Piece, ...] = ()  # a document: what the model reads of it (else `encoded` alone)
    sentences: tuple[document.Piece, ...] | None = None  # asked for: each sentence, with its offsets


class Predictor:
    """Holds one loaded model; thread-compatible (no state changes after construction)."""

    def __init__(self, ckpt: Checkpoint, sha256: str, name: str, available_members: int | None = None) -> None:
        self.classifier = Classifier(ckpt)
        self.ckpt = self.classifier.ckpt  # what serving uses (without tables the fast path replaced)
        self.sha256 = sha256
        self.name = name
        self.version = f"{name}@{sha256[:12]}"
        self.encoder = TextEncoder.for_checkpoint(ckpt)
        self.labels = ckpt.labels
        # What an answer reads: three-way from a five-point model, polar from a two-label one.
        self.has_scale = ckpt.labels == scale.FIVE
        self.answer_labels = scale.labels_of(ckpt.labels, "three" if self.has_scale else "binary")
        self.reads = language(ckpt.language).reads
        self.aggregation = document.Aggregation.from_dict(ckpt.document)
        cfg = ckpt.model_config
        directions = ("forward", "backward")[: cfg.num_directions]
        # h_n's order: member, then torch.nn.RNN's layer-major order, forward before backward.
        self._states = [
            (member, layer, d)
            for member in range(len(ckpt.members))
            for layer in range(cfg.num_layers)
            for d in directions
        ]
        self.load_seconds = 0.0
        # Members in the file; `ckpt` may be a subset of them (SENTIMENT_ENSEMBLE_MEMBERS).
        self.available_members = available_members or len(ckpt.members)
        self._note = (
            "running = the answer's probabilities had the text ended after this token, and sentiment its score "
            "in [-1, 1]; "
            "contribution = change in log-odds of the predicted label when the token was read; "
            "baseline + sum(contributions) = final log-odds."
        )
        if cfg.bidirectional:
            self._note += (
                " The model is bidirectional: each prefix is re-read in both directions, so the running"
                " value is what the whole model says about that prefix, not a state of the forward pass alone."
            )

    @classmethod
    def load(cls, path: Path, expected_sha256: str | None = None, members: int | None = None) -> Predictor:
        """Verify the file's SHA-256 (if one is expected), then load it; raise `CheckpointError`.

        ``members`` serves only the first N ensemble members, with their own fitted temperature.
        """
        started = time.perf_counter()
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        sidecar = path.with_name(path.name + ".sha256")
        if expected_sha256 is None and sidecar.is_file():
            expected_sha256 = sidecar.read_text().split()[0]
        actual = sha256_file(path)
        if expected_sha256 is not None and actual != expected_sha256.strip().lower():
            raise CheckpointError(
                f"checkpoint {path} has SHA-256 {actual}, expected {expected_sha256}: refusing to load it"
            )
        full = load_checkpoint(path)
        try:
            ckpt = full.subset(members or len(full.members))
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        predictor = cls(ckpt, actual, path.stem, len(full.members))
        predictor.load_seconds = time.perf_counter() - started
        return predictor

    def encode(self, text: str) -> EncodedText:
        return self.encoder.encode(text)

    def item(
        self,
        text: str,
        explain: bool = False,
        include_hidden: bool = False,
        binary: bool = False,
        sentences: bool = False,
    ) -> PredictItem:
        """``text`` as the model reads it: whole if it is one piece (as the model reads a sentence),
        else as a document of pieces; with ``sentences``, each sentence with its offsets too."""
        doc = document.pieces(text, self.ckpt.language, self.encoder, self.reads)
        if len(doc) > 1:  # a document: its answer's counts come from its pieces; `encoded` only orders batches
            encoded = doc[0].encoded
        else:
            encoded = doc[0].encoded if doc and not doc[0].encoded.truncated else self.encode(text)
        pieces = tuple(doc) if len(doc) > 1 else ()
        per_sentence: tuple[document.Piece, ...] | None = None
        if sentences or (explain and pieces):  # a document is explained sentence by sentence
            if self.reads == "sentences" and pieces:
                per_sentence = pieces
            else:
                found = document.pieces(text, self.ckpt.language, self.encoder, "sentences")
                per_sentence = tuple(found) if len(found) > 1 or not doc else (document.Piece(doc[0].span, encoded),)
        return PredictItem(encoded, explain, include_hidden, binary, pieces, per_sentence)

    def view_of(self, request: PredictItem) -> scale.View:
        return "binary" if request.binary or not self.has_scale else "three"

    def predict(self, requests: list[PredictItem]) -> list[Answer]:
        """Answer a batch of encoded requests, in order, as JSON-ready dicts shaped like `Prediction`.

        One forward pass reads every text, every piece of every document and every sentence asked
        for. Plain dicts rather than pydantic objects: on the hot path, validating objects we built
        ourselves would cost more than the forward pass (the API tests validate the shape).
        """
        if not requests:
            return []
        rows, sequences = self._rows(requests)
        out = self.classifier.forward_many(sequences)
        if len(sequences) == len(requests):  # no documents, no sentences: one row per request
            probs, h_n = out.probabilities, out.h_n
        else:
            probs = torch.stack(
                [document.combine(out.probabilities[a:b], self.labels, self.aggregation) for a, b, _ in rows]
            )
            h_n = out.h_n[torch.tensor([b - 1 for _, b, _ in rows])]  # a document's: its last piece's
        answered = [self.view_of(r) for r in requests]
        results = self._answers(requests, probs, h_n, answered)
        for result, req, (_, _, at), view in zip(results, requests, rows, answered, strict=True):
            if req.pieces:
                result["tokens"] = sum(len(p.encoded.ids) for p in req.pieces)
                result["unknown_tokens"] = sum(p.encoded.unknown for p in req.pieces)
                result["truncated"] = any(p.encoded.truncated for p in req.pieces)
            if req.sentences is not None:
                result["sentences"] = self._sentences(req, out.probabilities[at : at + len(req.sentences)], view)
        return results

    def _rows(self, requests: list[PredictItem]) -> tuple[list[tuple[int, int, int]], list[list[int]]]:
        """The sequences one forward pass reads, and per request (start, end) of the rows its answer
        combines and where its sentences' rows start."""
        sequences: list[list[int]] = []
        rows = []
        for r in requests:
            start = len(sequences)
            sequences.extend([p.encoded.ids for p in r.pieces] if r.pieces else [r.encoded.ids])
            end = len(sequences)
            if r.sentences is not None and r.sentences is not r.pieces:
                sequences.extend(p.encoded.ids for p in r.sentences)
            rows.append((start, end, end if r.sentences is not r.pieces else start))
        return rows, sequences

    def _answers(
        self, requests: list[PredictItem], probs: Tensor, h_n: Tensor, answered: list[scale.View]
    ) -> list[Answer]:
        """Each request's answer from its [L] probabilities and its h_n."""
        rows = probs.tolist()
        views = {v: scale.view_rows(rows, self.labels, v) for v in ("three", "binary") if self._has(v)}
        sentiments = scale.sentiment_rows(rows, self.labels)
        five = rows if self.has_scale else None
        chosen = [views[v][i] for i, v in enumerate(answered)]
        best = [max(range(len(p)), key=p.__getitem__) for p in chosen]
        summaries = self.summarize(h_n, [r.include_hidden for r in requests])
        explained = [i for i, r in enumerate(requests) if r.explain and not r.pieces]
        explanations = (
            dict(
                zip(
                    explained,
                    self.explain(
                        [requests[i].encoded for i in explained],
                        [best[i] for i in explained],
                        [answered[i] for i in explained],
                    ),
                    strict=True,
                )
            )
            if explained
            else {}
        )
        results = []
        for i, (req, p) in enumerate(zip(requests, chosen, strict=True)):
            names = scale.labels_of(self.labels, answered[i])
            result: Answer = {
                "label": names[best[i]],
                "score": p[best[i]],
                "probabilities": dict(zip(names, p, strict=True)),
                "sentiment": sentiments[i],
            }
            if five is not None:
                result["scale"] = dict(zip(self.labels, five[i], strict=True))
            result.update(
                language=self.ckpt.language,
                model_version=self.version,
                tokens=len(req.encoded.ids),
                unknown_tokens=req.encoded.unknown,
                truncated=req.encoded.truncated,
                hidden_state=summaries[i],
            )
            if i in explanations:
                result["explanation"] = explanations[i]
            results.append(result)
        return results

    def _has(self, view: scale.View) -> bool:
        return view == "binary" or self.has_scale

    def _sentences(self, req: PredictItem, probs: Tensor, view: scale.View) -> list[Answer]:
        """Each sentence's answer with its offsets (and, with explain, its explanation)."""
        assert req.sentences is not None
        names = scale.labels_of(self.labels, view)
        rows = probs.tolist()
        chosen = scale.view_rows(rows, self.labels, view)
        sentiments = scale.sentiment_rows(rows, self.labels)
        best = [max(range(len(p)), key=p.__getitem__) for p in chosen]
        out: list[Answer] = [
            {
                "start": piece.span.start,
                "end": piece.span.end,
                "label": names[b],
                "score": p[b],
                "probabilities": dict(zip(names, p, strict=True)),
                "sentiment": sent,
            }
            for piece, p, b, sent in zip(req.sentences, chosen, best, sentiments, strict=True)
        ]
        if req.explain and req.pieces:  # a single sentence's explanation is the answer's own
            encoded = [piece.encoded for piece in req.sentences]
            for answer, ex in zip(out, self.explain(encoded, best, [view] * len(best)), strict=True):
                answer["explanation"] = ex
        return out

    def summarize(self, h_n: Tensor, include_values: list[bool]) -> list[dict[str, Any]]:
        """Per text, per member, layer and direction: norm, mean, std, min, max and top units of h_n.

        ``h_n`` is [batch, members, num_layers * num_directions, hidden_size]; each member's block
        is in torch.nn.RNN's order (layer-major, forward before backward).
        """
        cfg = self.ckpt.model_config
        h_n = h_n.flatten(1, 2)
        k = min(TOP_UNITS, cfg.hidden_size)
        mean = h_n.mean(-1)
        # Population std, two-pass as torch.std computes it, by hand: torch's std kernel is far slower
        # on these many short rows.
        std = (h_n - mean[..., None]).square_().mean(-1).sqrt_()
        stats = torch.stack([h_n.norm(dim=-1), mean, std, h_n.amin(-1), h_n.amax(-1)], -1).tolist()
        top = h_n.abs().topk(k, dim=-1).indices
        top_values = h_n.gather(-1, top).tolist()
        top_idx = top.tolist()
        header = {
            "members": len(self.ckpt.members),
            "num_layers": cfg.num_layers,
            "num_directions": cfg.num_directions,
            "hidden_size": cfg.hidden_size,
        }
        results = []
        for b, with_values in enumerate(include_values):
            states = [
                {
                    "member": member,
                    "layer": layer,
                    "direction": direction,
                    "l2_norm": norm,
                    "mean": mean_,
                    "std": std_,
                    "min": low,
                    "max": high,
                    "top_units": [{"index": i, "value": v} for i, v in zip(units, values, strict=True)],
                }
                for (member, layer, direction), (norm, mean_, std_, low, high), units, values in zip(
                    self._states, stats[b], top_idx[b], top_values[b], strict=True
                )
            ]
            if with_values:
                for state, row in zip(states, h_n[b].tolist(), strict=True):
                    state["values"] = row
            results.append({**header, "states": states})
        return results

    def explain(self, encoded: list[EncodedText], labels: list[int], views: list[scale.View]) -> list[dict[str, Any]]:
        """All prefixes of all texts in one batched forward pass; see `model.inference.Explanation`."""
        prefixes = [e.ids[:t] for e in encoded for t in range(1, len(e.ids) + 1)]
        logits = self.classifier.predict_logits(prefixes) if prefixes else None
        baseline = self.classifier.baseline_logits()
        vocab = self.ckpt.vocab
        out, start = [], 0
        for enc, label, view in zip(encoded, labels, views, strict=True):
            n = len(enc.ids)
            names = scale.labels_of(self.labels, view)
            ex = explain_from_logits(
                logits[start : start + n] if logits is not None and n else baseline.new_empty(0, len(self.labels)),
                baseline,
                label,
                self.labels,
                view,
            )
            start += n
            sentiments = ex.sentiment.tolist()
            steps = zip(enc.tokens, enc.ids, ex.contributions.tolist(), ex.running.tolist(), sentiments, strict=True)
            tokens = [
                {
                    "text": tok,
                    "known": i != UNK_ID,
                    "read_as": None if i == UNK_ID or tok in vocab else vocab.itos[i],
                    "contribution": c,
                    "running": dict(zip(names, r, strict=True)),
                    "sentiment": sent,
                }
                for tok, i, c, r, sent in steps
            ]
            out.append(
                {
                    "baseline": ex.baseline,
                    "baseline_sentiment": ex.baseline_sentiment,
                    "tokens": tokens,
                    "note": self._note,
                }
            )
        return out

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One real prediction so the first user request does not pay for lazy initialisation."""
        self.predict([PredictItem(self.encode("a warm-up sentence ."), explain=True)])
