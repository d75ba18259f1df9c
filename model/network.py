"""The classifier: Embedding -> torch.nn.RNN (tanh Elman cell) -> pooled features -> linear head.

h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), with h_0 = 0 built explicitly. Sequences are
packed so that padding never enters the recurrence: a text gives the same logits alone or in a
padded batch.

For Chinese the input x_t at each character is its embedding plus the embedding of the character
pair (c_{t-1}, c_t) ending there ("left bigram"): the RNN still reads one character per step, and
the pair tells it which word the character is part of (不错 vs 错). The pair's id is derived from the
two character ids inside the module, so callers only ever pass character ids.
"""

from __future__ import annotations

import functools
from array import array
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from model.tokenizer import PAD_ID, UNK_ID

Pooling = Literal["last", "max", "last+max", "mean+max"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored in the checkpoint."""

    vocab_size: int
    embedding_dim: int = 300
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    num_labels: int = 2
    pooling: Pooling = "last+max"
    dropout: float = 0.5  # before the linear head
    embedding_dropout: float = 0.0  # on the RNN's input
    bigram_vocab_size: int = 0  # > 0: add a left-bigram embedding to each step's input

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def feature_size(self) -> int:
        per_state = self.hidden_size * self.num_directions
        return per_state if self.pooling in ("last", "max") else 2 * per_state

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**d)


class RNNOutput(NamedTuple):
    logits: Tensor  # [batch, num_labels]
    h_n: Tensor  # [num_layers * num_directions, batch, hidden_size]
    outputs: Tensor  # [batch, max_len, num_directions * hidden_size], zeros past each length


class SentimentRNN(nn.Module):
    """Embedding (+ optional bigram embedding) -> nn.RNN(tanh) -> pooling over time -> linear."""

    bigram_keys: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=PAD_ID)
        self.bigram_embedding = (
            nn.Embedding(config.bigram_vocab_size, config.embedding_dim, padding_idx=PAD_ID)
            if config.bigram_vocab_size
            else None
        )
        # Sorted keys prev_id * vocab_size + id of the known bigrams; bigram id = position + 2.
        self.register_buffer("bigram_keys", torch.zeros(max(config.bigram_vocab_size - 2, 0), dtype=torch.long))
        self.rnn = nn.RNN(
            input_size=config.embedding_dim,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            nonlinearity="tanh",
            bias=True,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
        )
        self.input_dropout = nn.Dropout(config.embedding_dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_size, config.num_labels)

    def init_hidden(self, batch_size: int) -> Tensor:
        """h0 = zeros of shape [num_layers * num_directions, batch, hidden_size]."""
        c = self.config
        return self.embedding.weight.new_zeros(c.num_layers * c.num_directions, batch_size, c.hidden_size)

    def bigram_ids(self, ids: Tensor) -> Tensor:
        """Left-bigram ids for [batch, len] character ids: PAD where ids is PAD, UNK if unseen."""
        return bigram_ids(ids, self.bigram_keys, self.config.vocab_size)

    def embed(self, ids: Tensor) -> Tensor:
        """Each step's input vector x_t, before dropout."""
        x: Tensor = self.embedding(ids)
        if self.bigram_embedding is not None:
            x = x + self.bigram_embedding(self.bigram_ids(ids))
        return x

    def forward(self, ids: Tensor, lengths: Tensor) -> RNNOutput:
        """ids: [batch, max_len] (PAD after each text); lengths: [batch], each >= 1."""
        x = self.input_dropout(self.embed(ids))
        h0 = self.init_hidden(ids.size(0))
        if x.requires_grad and self.config.num_layers == 1:
            outputs, h_n = self.directions_apart(x, lengths, h0)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, h_n = self.rnn(packed, h0)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=ids.size(1))
        logits = self.head(self.dropout(self.features(outputs, h_n, lengths)))
        return RNNOutput(logits, h_n, outputs)

    def directions_apart(self, x: Tensor, lengths: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        """The packed pass's outputs and h_n, for training when gradients flow into the input.

        A packed pass slices its input once per step, and the backward of every slice is a zeroed
        copy of the whole input (pytorch/pytorch#149194): quadratic in the text's length (the
        profile: docs/training.md). Here each direction runs as a one-way `torch.nn.RNN` with this
        RNN's parameters on padded text, which padding cannot reach: the forward direction reads
        each text with the padding after it, the reverse direction each text reversed within its
        length. The same function, to float rounding (tests/unit/test_network.py).
        """
        lengths = lengths.to(x.device)
        reverse = reversed_positions(lengths, x.size(1))[:, :, None]  # its own inverse
        params = dict(self.rnn.named_parameters())
        one_way = _one_way_rnn(self.config.embedding_dim, self.config.hidden_size)
        runs = []
        for d, suffix in enumerate(("", "_reverse")[: self.config.num_directions]):
            inputs = x if d == 0 else x.gather(1, reverse.expand(-1, -1, x.size(2)))
            weights: dict[str, Tensor] = {name: params[name + suffix] for name in _ONE_WAY_PARAMETERS}
            out, _ = torch.func.functional_call(one_way, weights, (inputs, h0[d : d + 1]))
            runs.append(out)
        last = (lengths - 1)[:, None, None].expand(-1, 1, self.config.hidden_size)
        h_n = torch.stack([run.gather(1, last)[:, 0] for run in runs])
        if len(runs) == 2:
            runs[1] = runs[1].gather(1, reverse.expand(-1, -1, self.config.hidden_size))
        past_end = torch.arange(x.size(1), device=x.device)[None, :] >= lengths[:, None]
        outputs = torch.cat(runs, 2).masked_fill(past_end[:, :, None], 0.0)
        return outputs, h_n

    def features(self, outputs: Tensor, h_n: Tensor, lengths: Tensor) -> Tensor:
        """Pool the RNN states into one vector per text (the input of the linear head)."""
        c = self.config
        # Last layer's final state, both directions: [batch, num_directions * hidden].
        last = h_n[-c.num_directions :].transpose(0, 1).reshape(h_n.size(1), -1)
        if c.pooling == "last":
            return last
        steps = torch.arange(outputs.size(1), device=outputs.device)
        padding = (steps[None, :] >= lengths[:, None].to(outputs.device))[:, :, None]
        pooled = outputs.masked_fill(padding, float("-inf")).amax(dim=1)
        if c.pooling == "max":
            return pooled
        if c.pooling == "mean+max":
            mean = outputs.sum(1) / lengths[:, None].to(outputs.device, outputs.dtype)
            return torch.cat([mean, pooled], dim=1)
        return torch.cat([last, pooled], dim=1)


_ONE_WAY_PARAMETERS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


@functools.cache
def _one_way_rnn(input_size: int, hidden_size: int) -> nn.RNN:
    """A one-layer, one-direction `torch.nn.RNN` whose parameters `directions_apart` supplies.

    On the meta device: building it draws nothing from torch's generator, which dropout shares, so
    a member trains the same whether or not its process built this before."""
    return nn.RNN(input_size, hidden_size, nonlinearity="tanh", batch_first=True, device="meta")


def reversed_positions(lengths: Tensor, steps: int) -> Tensor:
    """[batch, steps] indices that read each text reversed within its own length: position t reads
    L-1-t, and padding positions stay where they are. Applied twice, it is the identity."""
    t = torch.arange(steps, device=lengths.device)[None, :]
    lens = lengths[:, None]
    return torch.where(t < lens, lens - 1 - t, t)


def bigram_ids(ids: Tensor, keys: Tensor, vocab_size: int) -> Tensor:
    """Map (previous, current) character ids to bigram ids with the sorted ``keys`` table."""
    prev = torch.cat([ids.new_zeros(*ids.shape[:-1], 1), ids[..., :-1]], dim=-1)
    key = prev * vocab_size + ids
    if keys.numel() == 0:
        return torch.where(ids == PAD_ID, PAD_ID, UNK_ID)
    pos = torch.searchsorted(keys, key).clamp_max(keys.numel() - 1)
    found = keys[pos] == key
    return torch.where(ids == PAD_ID, PAD_ID, torch.where(found, pos + 2, UNK_ID))


def pad_batch(sequences: list[list[int]], min_length: int = 1) -> tuple[Tensor, Tensor]:
    """Right-pad id lists into ([batch, max_len] ids, [batch] lengths); empty texts become one PAD."""
    lengths = [max(len(s), min_length) for s in sequences]
    width = max(lengths, default=1)
    # Through an int64 array, not `torch.tensor` of nested lists, which converts element by element
    # (290 vs 77 us for 64 sentences here: it was a tenth of the serving path's forward pass).
    buf = array("q")
    for s in sequences:
        buf.extend(s)
        buf.extend([PAD_ID] * (width - len(s)))
    ids = torch.frombuffer(buf, dtype=torch.long) if buf else torch.zeros(0, dtype=torch.long)
    return ids.view(len(sequences), width), torch.tensor(lengths, dtype=torch.long)
