"""The classifier: Embedding -> torch.nn.RNN (tanh Elman cell) -> pooled features -> linear head.

h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), with h_0 = 0 built explicitly. Sequences are
packed so that padding never enters the recurrence: a text gives the same logits alone or in a
padded batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from model.tokenizer import PAD_ID

Pooling = Literal["last", "max", "last+max"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored in the checkpoint."""

    vocab_size: int
    embedding_dim: int = 300
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    num_labels: int = 2
    pooling: Pooling = "last+max"
    dropout: float = 0.5

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def feature_size(self) -> int:
        per_state = self.hidden_size * self.num_directions
        return 2 * per_state if self.pooling == "last+max" else per_state

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
    """Embedding -> nn.RNN(tanh) -> pooling over time -> dropout -> linear."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=PAD_ID)
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
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_size, config.num_labels)

    def init_hidden(self, batch_size: int) -> Tensor:
        """h0 = zeros of shape [num_layers * num_directions, batch, hidden_size]."""
        c = self.config
        return self.embedding.weight.new_zeros(c.num_layers * c.num_directions, batch_size, c.hidden_size)

    def forward(self, ids: Tensor, lengths: Tensor) -> RNNOutput:
        """ids: [batch, max_len] (PAD after each text); lengths: [batch], each >= 1."""
        x = self.dropout(self.embedding(ids))
        h0 = self.init_hidden(ids.size(0))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, h_n = self.rnn(packed, h0)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=ids.size(1))
        logits = self.head(self.dropout(self.features(outputs, h_n, lengths)))
        return RNNOutput(logits, h_n, outputs)

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
        return pooled if c.pooling == "max" else torch.cat([last, pooled], dim=1)


def pad_batch(sequences: list[list[int]], min_length: int = 1) -> tuple[Tensor, Tensor]:
    """Right-pad id lists into ([batch, max_len] ids, [batch] lengths); empty texts become one PAD."""
    lengths = [max(len(s), min_length) for s in sequences]
    ids = torch.full((len(sequences), max(lengths, default=1)), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, torch.tensor(lengths, dtype=torch.long)
