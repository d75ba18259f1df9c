"""An exact, cheaper forward pass for serving one-layer models (single networks and ensembles).

The same function as averaging `SentimentRNN.forward` over the members in eval mode, computed
differently:

- The input projection ``W_ih x_t + b_ih`` (plus ``b_hh``) depends only on the token, so it is
  precomputed once per vocabulary entry (and per bigram entry, without the biases): each step is
  one table lookup, one ``W_hh h`` and a tanh, instead of a matmul over the embedding dimension.
- Every member and direction is a "stream"; all streams advance in the same loop as one batched
  matmul (``baddbmm``). The backward direction reads each text reversed within its own length.
- Texts are sorted by length, so at step t the texts still running are a prefix of the batch and
  no packing is needed; in wide batches max and mean pooling are a running maximum and sum, not
  stored outputs. Narrow batches (where per-op overhead dominates) instead run the recurrence in
  place in their step inputs, every text to the longest one's length, and pool once at the end
  over each text's own steps: two ops per step instead of six.
- Bigram inputs (the Chinese model) are the exception: a table of every bigram would be 4x the
  token table (22,721 bigrams x 6 streams x 128 floats = 70 MB of a worker), so the fast path keeps
  the checkpoint's float16 bigram embeddings (17 MB) and projects, per batch, only the distinct
  bigrams that batch contains (a repeated bigram once), in one matmul.
- Wide steps (many texts x streams) read their table rows per step, only for the running texts.
  Narrow steps, where per-op overhead dominates, gather every step's rows up front.
- tanh is computed as torch's tanh or as 2 sigmoid(2z) - 1 (the same values to ~1e-7), whichever
  this CPU runs faster on a wide step: on some CPUs (AMD EPYC here) torch's sigmoid is several
  times faster than its tanh, on others (Intel Xeon with AVX-512) the reverse. Timed once per
  process, when the first model loads.

`tests/test_fastpath.py` checks it against ``torch.nn.RNN`` to 1e-5.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch
from torch import Tensor

from model.network import ModelConfig, SentimentRNN, bigram_ids, pad_batch

# Values per step (streams x texts x hidden) from which a batch counts as wide: below it per-op
# overhead dominates and the narrow loop wins, above it the padding that loop computes costs more
# (measured with both shipped models, up to about ten texts of 6 streams x 128 units).
WIDE_STEP = 8192


class FastRNN:
    """Inference-only twin of one or more one-layer `SentimentRNN`s of the same configuration,
    built from their state_dicts (embedding tables may be float16, as checkpoints hold them)."""

    @staticmethod
    def supports(config: ModelConfig) -> bool:
        return config.num_layers == 1

    @classmethod
    def from_models(cls, nets: list[SentimentRNN]) -> FastRNN:
        if not nets or any(n.config != nets[0].config for n in nets):
            raise ValueError("the fast path covers members of one configuration")
        return cls(nets[0].config, [n.state_dict() for n in nets])

    @torch.inference_mode()
    def __init__(self, config: ModelConfig, members: list[dict[str, Tensor]]) -> None:
        if not members or not self.supports(config):
            raise ValueError("the fast path covers one-layer RNNs")
        cfg = self.config = config
        self.members = len(members)
        suffixes = ("", "_reverse")[: cfg.num_directions]
        rnns = [(state, s) for state in members for s in suffixes]
        streams, hidden = len(rnns), cfg.hidden_size
        # Written in place, stream by stream and in row blocks: no per-stream temporaries, no
        # stacking copy, and no float32 copy of a whole embedding table (peak memory is the tables).
        self.table = torch.empty(streams, cfg.vocab_size, hidden)  # [S, V, H], S = members * directions
        for i, (state, s) in enumerate(rnns):
            w_ih = state["rnn.weight_ih_l0" + s].float()
            bias = state["rnn.bias_ih_l0" + s] + state["rnn.bias_hh_l0" + s]
            _project(state["embedding.weight"], w_ih, bias, self.table[i])
        # Bigram embeddings as the checkpoint holds them, [K * bigrams, E], and each stream's W_ih^T.
        self.bigram_embedding: Tensor | None = None
        self.bigram_w_ih_t = torch.empty(0)
        if cfg.bigram_vocab_size > 0:
            self.bigram_embedding = torch.cat([state["bigram_embedding.weight"] for state in members])
            self.bigram_w_ih_t = torch.stack([state["rnn.weight_ih_l0" + s].float().t() for state, s in rnns])
        self.bigram_keys = members[0]["bigram_keys"]
        self.w_hh_t = torch.stack([state["rnn.weight_hh_l0" + s].t() for state, s in rnns]).contiguous()
        self.head_w = torch.stack([state["head.weight"].t() for state in members]).contiguous()  # [K, F, C]
        self.head_b = torch.stack([state["head.bias"] for state in members])  # [K, C]
        sigmoid_tanh_is_faster()  # timed at load, not on the first wide batch a user sends

    @torch.inference_mode()
    def __call__(self, sequences: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Token-id lists -> (mean logits [B, labels], h_n [K, D, B, H]) in input order.

        Empty texts read one PAD, as `pad_batch` makes them for the reference path.
        """
        cfg = self.config
        seqs = [s if s else [0] for s in sequences]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        lengths = [len(seqs[i]) for i in order]
        batch, hidden = len(seqs), cfg.hidden_size
        dirs, members = cfg.num_directions, self.members
        streams = members * dirs
        forward, lens = pad_batch([seqs[i] for i in order])  # [B, T], [B]
        inputs = self._step_inputs(forward, lens, streams)
        if isinstance(inputs, Tensor):
            h, pooled_max, pooled_sum = self._narrow(inputs, lens)
        else:
            h, pooled_max, pooled_sum = self._wide(inputs, lengths, streams)

        # Per member: [B, D * H] blocks in SentimentRNN.features' order.
        def per_member(state: Tensor) -> Tensor:
            return state.view(members, dirs, batch, hidden).permute(0, 2, 1, 3).reshape(members, batch, dirs * hidden)

        if cfg.pooling == "last":
            feats = per_member(h)
        elif cfg.pooling == "max":
            assert pooled_max is not None
            feats = per_member(pooled_max)
        elif cfg.pooling == "mean+max":
            assert pooled_max is not None
            assert pooled_sum is not None
            mean = pooled_sum / torch.tensor(lengths, dtype=h.dtype)[None, :, None]
            feats = torch.cat([per_member(mean), per_member(pooled_max)], 2)
        else:
            assert pooled_max is not None
            feats = torch.cat([per_member(h), per_member(pooled_max)], 2)
        logits = torch.baddbmm(self.head_b[:, None, :], feats, self.head_w).mean(0)  # [B, C]
        inverse = torch.empty(batch, dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(batch)
        return logits[inverse], h.view(members, dirs, batch, hidden)[:, :, inverse]

    def _narrow(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The recurrence in place in the inputs x [T, S, B, H] (step t's input becomes h_t), every
        text run to the longest one's length; pooled afterwards, each text over its own steps."""
        steps, batch = x.size(0), x.size(2)
        x[0].tanh_()  # h_0 = 0
        for t in range(1, steps):
            x[t].baddbmm_(x[t - 1], self.w_hh_t).tanh_()
        h = x[lengths - 1, :, torch.arange(batch)].transpose(0, 1).contiguous()  # each text's last state [S, B, H]
        pooling = self.config.pooling
        if pooling == "last":
            return h, None, None
        past_end = (torch.arange(steps)[:, None] >= lengths[None, :])[:, None, :, None]  # [T, 1, B, 1]
        pooled_sum = x.masked_fill(past_end, 0).sum(0) if pooling == "mean+max" else None
        return h, x.masked_fill_(past_end, float("-inf")).amax(0), pooled_sum

    def _wide(
        self, step_inputs: Callable[[int, int], Tensor], lengths: list[int], streams: int
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The recurrence step by step over the texts still running, pooled as it goes."""
        steps, batch, hidden = lengths[0], len(lengths), self.config.hidden_size
        active = _running_counts(lengths, steps)
        h = torch.zeros(streams, batch, hidden)
        pooling = self.config.pooling
        pooled_max = torch.full((streams, batch, hidden), float("-inf")) if pooling != "last" else None
        pooled_sum = torch.zeros(streams, batch, hidden) if pooling == "mean+max" else None
        for t in range(steps):
            n = active[t]
            h_t = _tanh_(step_inputs(t, n).baddbmm_(h[:, :n], self.w_hh_t))
            h[:, :n] = h_t
            if pooled_max is not None:
                running_max = pooled_max[:, :n]
                torch.maximum(running_max, h_t, out=running_max)
            if pooled_sum is not None:
                pooled_sum[:, :n] += h_t
        return h, pooled_max, pooled_sum

    def _step_inputs(self, forward: Tensor, lengths: Tensor, streams: int) -> Tensor | Callable[[int, int], Tensor]:
        """Each stream's input projection per step: for small batches all of it up front, [T, S, B, H]
        (one gather per table); for wide ones a function (t, n) -> [S, n, H] of step t's first n
        texts, gathered per step for the texts still running, so padding is never read and each
        step's inputs stay in cache. Either result is fresh memory the caller may overwrite.
        """
        batch, steps = forward.shape
        hidden = self.config.hidden_size
        # Reversal within each text's own length: position t reads index L-1-t (padding stays put).
        t = torch.arange(steps)[None, :]
        lens = lengths[:, None]
        backward_index = torch.where(t < lens, lens - 1 - t, t)

        dirs = self.config.num_directions

        def rows(ids: Tensor, table_rows: int) -> Tensor:
            """[T, S, B] row numbers in a table of ``table_rows`` rows per stream, flattened to
            [S * table_rows, H]; backward streams read their text reversed."""
            per_stream = ids[None].expand(streams, batch, steps)
            if dirs == 2:
                per_stream = per_stream.clone()
                per_stream[1::2] = ids.gather(1, backward_index)
            offsets = (torch.arange(streams) * table_rows).view(streams, 1, 1)
            return (per_stream + offsets).permute(2, 0, 1).contiguous()

        tables = [(rows(forward, self.table.size(1)), self.table.view(-1, hidden))]
        if self.bigram_embedding is not None:
            # This batch's distinct bigrams, each projected once per stream: one
            # [S, U, E] @ [S, E, H] matmul, a table of U rows per stream.
            grams = bigram_ids(forward, self.bigram_keys, self.config.vocab_size)
            distinct, inverse = torch.unique(grams, return_inverse=True)
            embedded = self.bigram_embedding.view(self.members, -1, self.config.embedding_dim)[:, distinct]
            projected = torch.bmm(embedded.float().repeat_interleave(dirs, 0), self.bigram_w_ih_t)
            tables.append((rows(inverse, distinct.numel()), projected.view(-1, hidden)))

        if streams * batch * hidden < WIDE_STEP:
            # [T, S, B, H]; index_select on flat rows is several times faster than table[index]
            x = tables[0][1].index_select(0, tables[0][0].view(-1)).view(steps, streams, batch, hidden)
            for index, table in tables[1:]:
                x += table.index_select(0, index.view(-1)).view(steps, streams, batch, hidden)
            return x

        def gather(t: int, n: int) -> Tensor:
            out = tables[0][1].index_select(0, tables[0][0][t, :, :n].flatten())
            for index, table in tables[1:]:
                out += table.index_select(0, index[t, :, :n].flatten())
            return out.view(streams, n, hidden)

        return gather


def _project(embedding: Tensor, w_ih: Tensor, bias: Tensor, out: Tensor, block: int = 4096) -> None:
    """out = embedding @ w_ih.T + bias, a block of rows at a time, widening float16 rows per block."""
    for start in range(0, embedding.size(0), block):
        rows = embedding[start : start + block].float()
        torch.addmm(bias, rows, w_ih.t(), out=out[start : start + block])


def _running_counts(lengths: list[int], steps: int) -> list[int]:
    """How many texts are still running at each step t (those longer than t), in one pass."""
    ending = [0] * (steps + 1)
    for n in lengths:
        ending[n] += 1
    out, running = [], len(lengths)
    for t in range(steps):
        running -= ending[t]
        out.append(running)
    return out


def _tanh_(z: Tensor) -> Tensor:
    """tanh in place; on wide steps as 2 sigmoid(2z) - 1 where that is faster on this CPU."""
    if z.numel() < WIDE_STEP or not sigmoid_tanh_is_faster():
        return z.tanh_()
    return _sigmoid_tanh_(z)


def _sigmoid_tanh_(z: Tensor) -> Tensor:
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


@functools.cache
def sigmoid_tanh_is_faster() -> bool:
    """Time both forms of tanh on a wide step (6 streams x 64 texts x 128), best of 5 runs each."""
    z = torch.randn(6, 64, 128)

    def best(form: Callable[[Tensor], Tensor]) -> float:
        runs = []
        for _ in range(5):
            work = z.clone()
            started = time.perf_counter()
            for _ in range(20):
                form(work)
            runs.append(time.perf_counter() - started)
        return min(runs)

    return best(_sigmoid_tanh_) < best(Tensor.tanh_)
