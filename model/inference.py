"""Batched inference on a loaded checkpoint: token ids in, calibrated probabilities and states out.

Shared by evaluation and the service so that both run exactly the same computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from model import scale
from model.checkpoint import Checkpoint
from model.fastpath import FastRNN
from model.network import SentimentRNN, pad_batch

# Most input-projection values one forward pass holds at once (padded tokens x streams x hidden):
# 2^23 floats = 32 MiB. Larger batches (long texts, explanations) run in several passes.
MAX_FORWARD_VALUES = 1 << 23


@dataclass(frozen=True)
class BatchOutput:
    logits: Tensor  # [batch, num_labels], temperature-scaled, averaged over ensemble members
    probabilities: Tensor  # [batch, num_labels]
    h_n: Tensor  # [batch, members, num_layers * num_directions, hidden_size]


class Classifier:
    """The networks of a checkpoint in eval mode, run under ``torch.inference_mode``.

    With ``fast=True`` (the default) one-layer models run through `FastRNN`, which gives the same
    outputs as ``torch.nn.RNN`` (to the float16 rounding of a token table's input projection) at a
    lower cost; ``path`` says which is in use.
    """

    def __init__(self, ckpt: Checkpoint, fast: bool = True) -> None:
        self.temperature = ckpt.temperature
        cfg = ckpt.model_config
        # The fast path needs no torch modules (they, and float32 copies of the embedding tables,
        # are only built for the reference path) and, once its tables are built, no embeddings.
        self.fast = FastRNN(cfg, ckpt.members) if fast and FastRNN.supports(cfg) else None
        self.models: list[SentimentRNN] = [] if self.fast else ckpt.build_models()
        self.ckpt = ckpt.without_embeddings() if self.fast else ckpt
        self.path = (
            "fast: input projection "
            + ("per (character, bigram) pair, per batch" if cfg.bigram_vocab_size else "per token, in float16")
            + ", all directions and members in one batched loop"
            if self.fast
            else "torch.nn.RNN (packed sequences)"
        )

    @torch.inference_mode()
    def forward_ids(self, sequences: list[list[int]]) -> BatchOutput:
        """Run token-id lists (each truncated to the checkpoint's max length by the caller)."""
        if self.fast is not None:
            mean_logits, h_n = self.fast(sequences)
            logits = mean_logits / self.temperature
            return BatchOutput(logits, logits.softmax(-1), h_n.permute(2, 0, 1, 3))
        ids, lengths = pad_batch(sequences)
        ref = [m(ids, lengths) for m in self.models]
        logits = torch.stack([o.logits for o in ref]).mean(0) / self.temperature
        return BatchOutput(logits, logits.softmax(-1), torch.stack([o.h_n for o in ref]).permute(2, 0, 1, 3))

    def chunks(self, lengths: list[int]) -> list[slice]:
        """Consecutive slices of a length-sorted batch whose padded size stays within the memory budget."""
        cfg = self.ckpt.model_config
        per_token = len(self.ckpt.members) * cfg.num_directions * cfg.hidden_size
        budget = max(1, MAX_FORWARD_VALUES // per_token)
        out, start, longest = [], 0, 0
        for i, n in enumerate(lengths):
            longest = max(longest, n, 1)
            if i > start and longest * (i - start + 1) > budget:
                out.append(slice(start, i))
                start, longest = i, max(n, 1)
        out.append(slice(start, len(lengths)))
        return out

    def forward_many(self, sequences: list[list[int]]) -> BatchOutput:
        """`forward_ids` for a batch of any size, in as many passes as the memory budget needs."""
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        parts = self.chunks([len(sequences[i]) for i in order])
        if len(parts) == 1:
            return self.forward_ids(sequences)
        outs = [self.forward_ids([sequences[i] for i in order[part]]) for part in parts]
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return BatchOutput(
            *(torch.cat([getattr(o, f) for o in outs])[inverse] for f in ("logits", "probabilities", "h_n"))
        )

    @torch.inference_mode()
    def baseline_logits(self) -> Tensor:
        """Logits before any token is read: every state is h_0 = 0, so only the head's bias is left."""
        return torch.stack([m["head.bias"] for m in self.ckpt.members]).mean(0) / self.temperature

    def predict_logits(self, sequences: list[list[int]], batch_size: int = 256) -> Tensor:
        """Calibrated logits for many texts, in length-sorted batches, returned in input order."""
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        logits = torch.empty(len(sequences), len(self.ckpt.labels))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            logits[idx] = self.forward_many([sequences[i] for i in idx]).logits
        return logits

    def predict_proba(self, sequences: list[list[int]], batch_size: int = 256) -> Tensor:
        return self.predict_logits(sequences, batch_size).softmax(-1)


@dataclass(frozen=True)
class Explanation:
    """How the decision builds up as the RNN reads the text left to right.

    ``running[t]`` is the probability of each label had the text ended after token ``t`` (the full
    model on that prefix, so it is exact for any architecture, bidirectional included).
    ``contributions[t]`` is the change in log-odds of the predicted label that token ``t`` caused
    when it was read; ``baseline`` is the log-odds before any token (h_0 = 0, i.e. the head's
    bias), so ``baseline + sum(contributions)`` equals the final log-odds exactly.
    """

    running: Tensor  # [T, labels of the view]
    contributions: Tensor  # [T]
    baseline: float
    sentiment: Tensor  # [T]: the running score in [-1, 1] (`model.scale.sentiment`)
    baseline_sentiment: float  # the score before any token


def explain_from_logits(
    prefix_logits: Tensor,
    baseline_logits: Tensor,
    label: int,
    model_labels: tuple[str, ...] = scale.BINARY,
    view: scale.View = "model",
) -> Explanation:
    """Turn the logits of the T prefixes of one text into an `Explanation` for ``label`` of ``view``."""

    def log_odds(logits: Tensor) -> Tensor:
        # log p(label) - log p(not label); for two labels this is the logit difference.
        logp = scale.view_log_probs(logits, model_labels, view)
        rest = torch.cat([logp[..., :label], logp[..., label + 1 :]], -1).logsumexp(-1)
        return logp[..., label] - rest

    steps = torch.cat([log_odds(baseline_logits)[None], log_odds(prefix_logits)])
    probs = prefix_logits.softmax(-1)
    before = float(scale.sentiment(baseline_logits.softmax(-1)[None], model_labels)[0])
    return Explanation(
        scale.view(probs, model_labels, view),
        steps.diff(),
        float(steps[0]),
        scale.sentiment(probs, model_labels),
        before,
    )
