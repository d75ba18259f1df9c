"""The model every peer serves: the shipped checkpoint through its torch.nn.RNN modules, as a user would.

Every member is built with `Checkpoint.build_models` (`SentimentRNN`: embedding, torch.nn.RNN with
h0 = zeros, pooling, linear head); their logits are averaged and divided by the fitted temperature,
as the service averages them, and the answer is the service's view of the probabilities (three-way
from the five-point English model). No fast path, no caches: what a peer costs is the framework
plus the reference forward pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from model import scale
from model.checkpoint import load_checkpoint
from model.encoding import TextEncoder
from model.languages import language
from model.network import pad_batch

Answer = dict[str, Any]  # {"label": ..., "probabilities": {label: p}}


class Review(BaseModel):
    """The request body of every peer that answers one text: ``{"text": ...}``."""

    text: str


class PeerModel:
    """All members of a checkpoint (the shipped English one by default), one torch thread."""

    def __init__(self, path: Path | None = None) -> None:
        torch.set_num_threads(1)
        ckpt = load_checkpoint(path or language("en").checkpoint_path)
        self.models = ckpt.build_models()
        self.encoder = TextEncoder.for_checkpoint(ckpt)
        self.temperature = ckpt.temperature
        self.model_labels = ckpt.labels
        self.view: scale.View = "three" if ckpt.labels == scale.FIVE else "binary"
        self.labels = scale.labels_of(ckpt.labels, self.view)

    @torch.inference_mode()
    def predict(self, texts: list[str]) -> list[Answer]:
        """One forward pass of every member over ``texts`` (padded; packed inside the network)."""
        ids, lengths = pad_batch(self.encoder.ids(texts))
        logits = torch.stack([m(ids, lengths).logits for m in self.models]).mean(0) / self.temperature
        probs = scale.view(logits.softmax(-1), self.model_labels, self.view).tolist()
        return [
            {
                "label": self.labels[max(range(len(p)), key=p.__getitem__)],
                "probabilities": dict(zip(self.labels, p, strict=True)),
            }
            for p in probs
        ]
