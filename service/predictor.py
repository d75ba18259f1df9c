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

from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from model.data import sha256_file
from model.encoding import EncodedText, TextEncoder
from model.inference import Classifier, explain_from_logits
from model.tokenizer import UNK_ID

TOP_UNITS = 5
Answer = dict[str, Any]  # one prediction, JSON-ready, shaped like `service.schemas.Prediction`


@dataclass(frozen=True)
class PredictItem:
    """One text to answer, encoded, with what the caller asked for."""

    encoded: EncodedText
    explain: bool = False
    include_hidden: bool = False


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
            "running = the model's probabilities had the text ended after this token; "
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

    def predict(self, requests: list[PredictItem]) -> list[Answer]:
        """Answer a batch of encoded requests, in order, as JSON-ready dicts shaped like `Prediction`.

        Plain dicts rather than pydantic objects: on the hot path, validating objects we built
        ourselves would cost more than the forward pass (`tests/test_api.py` validates the shape).
        """
        if not requests:
            return []
        out = self.classifier.forward_many([r.encoded.ids for r in requests])
        probs = out.probabilities.tolist()
        best = [max(range(len(p)), key=p.__getitem__) for p in probs]
        summaries = self.summarize(out.h_n, [r.include_hidden for r in requests])
        explained = [i for i, r in enumerate(requests) if r.explain]
        explanations = dict(
            zip(
                explained,
                self.explain([requests[i].encoded for i in explained], [best[i] for i in explained]),
                strict=True,
            )
        )
        results = []
        for i, (req, p) in enumerate(zip(requests, probs, strict=True)):
            result = {
                "label": self.labels[best[i]],
                "score": p[best[i]],
                "probabilities": dict(zip(self.labels, p, strict=True)),
                "language": self.ckpt.language,
                "model_version": self.version,
                "tokens": len(req.encoded.ids),
                "unknown_tokens": req.encoded.unknown,
                "truncated": req.encoded.truncated,
                "hidden_state": summaries[i],
            }
            if i in explanations:
                result["explanation"] = explanations[i]
            results.append(result)
        return results

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

    def explain(self, encoded: list[EncodedText], labels: list[int]) -> list[dict[str, Any]]:
        """All prefixes of all texts in one batched forward pass; see `model.inference.Explanation`."""
        prefixes = [e.ids[:t] for e in encoded for t in range(1, len(e.ids) + 1)]
        logits = self.classifier.predict_logits(prefixes) if prefixes else None
        baseline = self.classifier.baseline_logits()
        out, start = [], 0
        for enc, label in zip(encoded, labels, strict=True):
            n = len(enc.ids)
            ex = explain_from_logits(
                logits[start : start + n] if logits is not None and n else baseline.new_empty(0, len(self.labels)),
                baseline,
                label,
            )
            start += n
            tokens = [
                {
                    "text": tok,
                    "known": i != UNK_ID,
                    "contribution": c,
                    "running": dict(zip(self.labels, r, strict=True)),
                }
                for tok, i, c, r in zip(
                    enc.tokens, enc.ids, ex.contributions.tolist(), ex.running.tolist(), strict=True
                )
            ]
            out.append({"baseline": ex.baseline, "tokens": tokens, "note": self._note})
        return out

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One real prediction so the first user request does not pay for lazy initialisation."""
        self.predict([PredictItem(self.encode("a warm-up sentence ."), explain=True)])
