"""An exact, cheaper forward pass for serving one-layer models.

Same function as `SentimentRNN.forward` in eval mode, computed differently:

- The input projection ``W_ih x_t + b_ih`` (plus ``b_hh``) depends only on the token, so it is
  precomputed once per vocabulary entry: each step is then one table lookup, one ``W_hh h`` and
  a tanh, instead of an extra matmul over the embedding dimension.
- Both directions run in the same loop as one batched matmul (``baddbmm`` over a direction axis);
  the backward direction reads each text reversed within its own length.
- Texts are sorted by length, so at step t the texts still running are a prefix of the batch
  and no packing is needed; the max-pool is kept as a running maximum instead of storing outputs.

`tests/test_fastpath.py` checks it against ``torch.nn.RNN`` to 1e-5.
"""

from __future__ import annotations

import torch
from torch import Tensor

from model.network import SentimentRNN


class FastRNN:
    """Inference-only twin of a one-layer `SentimentRNN` (any direction count, any pooling)."""

    @staticmethod
    def supports(net: SentimentRNN) -> bool:
        return net.config.num_layers == 1

    @torch.inference_mode()
    def __init__(self, net: SentimentRNN) -> None:
        if not self.supports(net):
            raise ValueError("the fast path covers one-layer RNNs")
        cfg = net.config
        self.config = cfg
        emb = net.embedding.weight
        suffixes = ("", "_reverse")[: cfg.num_directions]
        rnn = net.rnn
        # [D, V, H]: W_ih e_v + b_ih + b_hh for every vocabulary entry v, per direction.
        self.table = torch.stack(
            [
                torch.addmm(
                    getattr(rnn, "bias_ih_l0" + s) + getattr(rnn, "bias_hh_l0" + s),
                    emb,
                    getattr(rnn, "weight_ih_l0" + s).t(),
                )
                for s in suffixes
            ]
        ).contiguous()
        self.w_hh_t = torch.stack([getattr(rnn, "weight_hh_l0" + s).t() for s in suffixes]).contiguous()
        self.head_w = net.head.weight.detach().t().contiguous()
        self.head_b = net.head.bias.detach().clone()

    @torch.inference_mode()
    def __call__(self, sequences: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Token-id lists -> (logits [B, labels], h_n [D, B, H]) in input order; empty texts read one PAD."""
        cfg = self.config
        seqs = [s if s else [0] for s in sequences]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        lengths = [len(seqs[i]) for i in order]
        steps, batch, dirs, hidden = lengths[0], len(seqs), cfg.num_directions, cfg.hidden_size
        # Row-major id lists per direction; the backward direction reads each text reversed. Entries
        # of direction d are offset by d * V so one lookup in the flattened table serves both.
        vocab = self.table.size(1)
        rows = [seqs[i] + [0] * (steps - len(seqs[i])) for i in order]
        if dirs == 2:
            rows += [[v + vocab for v in reversed(seqs[i])] + [vocab] * (steps - len(seqs[i])) for i in order]
        ids = torch.tensor(rows).view(dirs, batch, steps).permute(2, 0, 1)  # [T, D, B]
        x = self.table.view(-1, hidden)[ids]  # [T, D, B, H]
        active = [sum(1 for n in lengths if n > t) for t in range(steps)]
        h = torch.zeros(dirs, batch, hidden)
        use_max = cfg.pooling != "last"
        m = torch.full((dirs, batch, hidden), float("-inf")) if use_max else h
        for t in range(steps):
            n = active[t]
            h_t = torch.baddbmm(x[t, :, :n], h[:, :n], self.w_hh_t).tanh_()
            h[:, :n] = h_t
            if use_max:
                m[:, :n] = torch.maximum(m[:, :n], h_t)
        last = h.transpose(0, 1).reshape(batch, dirs * hidden)
        if cfg.pooling == "last":
            feats = last
        else:
            pooled = m.transpose(0, 1).reshape(batch, dirs * hidden)
            feats = pooled if cfg.pooling == "max" else torch.cat([last, pooled], 1)
        logits = torch.addmm(self.head_b, feats, self.head_w)
        inverse = torch.empty(batch, dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(batch)
        return logits[inverse], h[:, inverse]
