"""A cheaper forward pass for serving one-layer models (single networks and ensembles).

The same function as averaging `SentimentRNN.forward` over the members in eval mode, computed
differently (and, for token tables, to float16 rounding of the input projection):

- The input projection ``W_ih x_t + b_ih`` (plus ``b_hh``) depends only on the token, so it is
  precomputed once per vocabulary entry and stored in float16, as the embeddings are stored: each
  step is one table lookup, one ``W_hh h`` and a tanh, instead of a matmul over the embedding
  dimension. The lookups are widened to float32, in which the recurrence runs.
- Every member and direction is a "stream"; all streams advance in the same loop as one batched
  matmul (``baddbmm``). The backward direction reads each text reversed within its own length.
- Texts are sorted by length, so at step t the texts still running are a prefix of the batch and
  no packing is needed. A batch reads its table rows a block of steps at a time, for the texts
  running at the block's start, and runs the recurrence in place over them; max and mean pooling
  are a running maximum and sum over the running texts, not stored outputs. A single text instead
  runs every step in place in its gathered inputs and pools once at the end: two ops per step.
- Bigram inputs (the Chinese model) are the exception: a projected table of every bigram would be
  4x the character table (70 MB of a worker in float32), so the fast path keeps the checkpoint's
  float16 character and bigram embeddings and projects, per batch, the distinct (character, left
  bigram) pairs that batch contains (a repeated pair once; a step's input is the sum of the two
  embeddings), both directions of a member in one matmul. One gather per block of steps, and no
  character table either.
- tanh(z) = 2 sigmoid(2z) - 1: on CPUs where torch's sigmoid is faster than its tanh (AMD EPYC here;
  Intel Xeon with AVX-512 the reverse) the recurrence runs on s = sigmoid(2z) instead, with the
  weights scaled to match (below), one sigmoid per step; the pooled states are mapped back to h at
  the end. Which form is timed once per process, when the first model loads.

`tests/unit/test_fastpath.py` checks it against ``torch.nn.RNN``: to 1e-5 where inputs are projected
per batch (bigrams), and within float16 rounding of the projection with token tables.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch
from torch import Tensor

from model.network import ModelConfig, SentimentRNN, bigram_ids, pad_batch, reversed_positions

# Batches of at most this many texts run the narrow loop (one text has no padding to skip, and the
# loop's two ops per step are the fewest); larger ones the wide loop, which skips ended texts.
NARROW_BATCH = 1
# Steps whose inputs a wide batch gathers at once (and pools at once): few ops per step, and a
# block of 6 streams x 64 texts x 128 floats stays within a few MB.
STEP_BLOCK = 8
# Token tables hold the input projection in float16, half a float32 table's memory; what the
# rounding does to the answers is measured in docs/performance.md ("Memory", item 6).
TABLE_DTYPE = torch.float16


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
        # The stored state s and the RNN's h: h = tanh(z) = 2 sigmoid(2z) - 1, so with s = sigmoid(2z),
        # 2z_t = 2(W_ih x_t + b) - 2 W_hh 1 + 4 W_hh s_{t-1}: the same recurrence with scaled weights,
        # one sigmoid per step, s_{-1} = 1/2 for h_0 = 0.
        self.sigmoid = sigmoid_is_faster()
        self.scale, self.offset = (2.0, -1.0) if self.sigmoid else (1.0, 0.0)  # h = scale * s + offset
        self.activate_: Callable[[Tensor], Tensor] = Tensor.sigmoid_ if self.sigmoid else Tensor.tanh_  # in place
        w_hh = [state["rnn.weight_hh_l0" + s].float() for state, s in rnns]
        w_ih = [state["rnn.weight_ih_l0" + s].float() * self.scale for state, s in rnns]
        bias = [(state["rnn.bias_ih_l0" + s] + state["rnn.bias_hh_l0" + s]) * self.scale for state, s in rnns]
        if self.sigmoid:
            bias = [b - 2 * w.sum(1) for b, w in zip(bias, w_hh, strict=True)]
        self.table = self.table_offsets = torch.empty(0)
        self.char_embeddings: list[Tensor] = []
        self.bigram_embeddings: list[Tensor] = []
        self.pair_w_ih_t = self.pair_bias = torch.empty(0)
        if cfg.bigram_vocab_size == 0:
            # Written in place, stream by stream and in row blocks: no per-stream temporaries, no
            # stacking copy, and no float32 copy of a whole embedding table (peak memory is the tables).
            # [S, V, H], S = members * directions
            self.table = torch.empty(streams, cfg.vocab_size, hidden, dtype=TABLE_DTYPE)
            for i, (state, _) in enumerate(rnns):
                _project(state["embedding.weight"], w_ih[i], bias[i], self.table[i])
            self.table_offsets = torch.arange(streams) * cfg.vocab_size  # stream s's rows of the flat table
        else:
            # Each member's character and bigram embeddings, the checkpoint's own tensors (a copy would
            # add their size to the worker's peak while loading), and per member both directions' W_ih^T
            # side by side, [E, D * H], and biases, [1, D * H]: one matmul per member projects both.
            self.char_embeddings = [state["embedding.weight"] for state in members]
            self.bigram_embeddings = [state["bigram_embedding.weight"] for state in members]
            dirs = cfg.num_directions
            self.pair_w_ih_t = torch.stack(
                [torch.cat([w.t() for w in w_ih[k * dirs : (k + 1) * dirs]], 1) for k in range(self.members)]
            )
            self.pair_bias = torch.stack(
                [torch.cat(bias[k * dirs : (k + 1) * dirs])[None] for k in range(self.members)]
            )
        self.bigram_keys = members[0]["bigram_keys"]
        self.w_hh_t = torch.stack([w.t() * self.scale**2 for w in w_hh]).contiguous()
        # What s_{-1} adds to the first step's input: W s_{-1}, [S, 1, H] (zero in the tanh form).
        s_start = torch.full((streams, 1, hidden), 0.5 if self.sigmoid else 0.0)
        self.start_input = torch.bmm(s_start, self.w_hh_t)
        self.head_w = torch.stack([state["head.weight"].t() for state in members]).contiguous()  # [K, F, C]
        self.head_b = torch.stack([state["head.bias"] for state in members])  # [K, C]

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
        step_inputs = self._step_inputs(forward, lens, streams)
        if batch <= NARROW_BATCH:
            s, pooled_max, pooled_sum = self._narrow(step_inputs(0, len(forward[0]), batch), lens)
        else:
            s, pooled_max, pooled_sum = self._wide(step_inputs, lengths, streams)
        # Back from the stored state s to the RNN's h (an affine map: it commutes with max and mean).
        h = s.mul_(self.scale).add_(self.offset)

        # Per member: [B, D * H] blocks in SentimentRNN.features' order.
        def per_member(state: Tensor) -> Tensor:
            return state.view(members, dirs, batch, hidden).permute(0, 2, 1, 3).reshape(members, batch, dirs * hidden)

        if pooled_max is not None:
            pooled_max = pooled_max.mul_(self.scale).add_(self.offset)
        if cfg.pooling == "last":
            feats = per_member(h)
        elif cfg.pooling == "max":
            assert pooled_max is not None
            feats = per_member(pooled_max)
        elif cfg.pooling == "mean+max":
            assert pooled_max is not None
            assert pooled_sum is not None
            mean = (pooled_sum / lens.to(h.dtype)[None, :, None]).mul_(self.scale).add_(self.offset)
            feats = torch.cat([per_member(mean), per_member(pooled_max)], 2)
        else:
            assert pooled_max is not None
            feats = torch.cat([per_member(h), per_member(pooled_max)], 2)
        logits = torch.baddbmm(self.head_b[:, None, :], feats, self.head_w).mean(0)  # [B, C]
        if batch == 1:
            return logits, h.view(members, dirs, batch, hidden)
        inverse = torch.empty(batch, dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(batch)
        return logits[inverse], h.view(members, dirs, batch, hidden)[:, :, inverse]

    def _narrow(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The recurrence in place in the inputs x [T, S, B, H] (step t's input becomes s_t), every
        text run to the longest one's length; pooled afterwards, each text over its own steps."""
        steps, batch = x.size(0), x.size(2)
        w_hh_t, activate_, at = self.w_hh_t, self.activate_, x.unbind(0)  # the steps' views made at once
        prev = activate_(at[0].add_(self.start_input))
        for z in at[1:]:
            prev = activate_(z.baddbmm_(prev, w_hh_t))
        pooling = self.config.pooling
        if batch == 1:  # every step is the text's own: no mask, and its last state is the last step
            pooled_sum = x.sum(0) if pooling == "mean+max" else None
            return prev, None if pooling == "last" else x.amax(0), pooled_sum
        s = x[lengths - 1, :, torch.arange(batch)].transpose(0, 1).contiguous()  # each text's last state [S, B, H]
        if pooling == "last":
            return s, None, None
        past_end = (torch.arange(steps)[:, None] >= lengths[None, :])[:, None, :, None]  # [T, 1, B, 1]
        pooled_sum = x.masked_fill(past_end, 0).sum(0) if pooling == "mean+max" else None
        return s, x.masked_fill_(past_end, float("-inf")).amax(0), pooled_sum

    def _wide(
        self, step_inputs: Callable[[int, int, int], Tensor], lengths: list[int], streams: int
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The recurrence over the texts still running, pooled as it goes; each block of steps'
        inputs gathered at once and the states written in place over them."""
        steps, batch, hidden = lengths[0], len(lengths), self.config.hidden_size
        active = _running_counts(lengths, steps)
        last = torch.empty(streams, batch, hidden)  # each text's final state
        pooling = self.config.pooling
        pooled_max = torch.full((streams, batch, hidden), float("-inf")) if pooling != "last" else None
        pooled_sum = torch.zeros(streams, batch, hidden) if pooling == "mean+max" else None
        prev, width = last, batch  # width: texts running at the previous step
        running_max, running_sum = pooled_max, pooled_sum
        for start in range(0, steps, STEP_BLOCK):
            stop, block_width = min(start + STEP_BLOCK, steps), active[start]
            x = step_inputs(start, stop, block_width)  # [stop - start, S, block_width, H]
            for t in range(start, stop):
                n = active[t]
                if n < width:  # texts that ended at step t - 1: keep their state; narrower views
                    last[:, n:width] = prev[:, n:]
                    prev, width = prev[:, :n], n
                    running_max = None if pooled_max is None else pooled_max[:, :n]
                    running_sum = None if pooled_sum is None else pooled_sum[:, :n]
                z = x[t - start] if n == block_width else x[t - start, :, :n]
                if t == 0:
                    z.add_(self.start_input)
                else:
                    z.baddbmm_(prev, self.w_hh_t)
                prev = self.activate_(z)
                if running_max is not None:
                    torch.maximum(running_max, prev, out=running_max)
                if running_sum is not None:
                    running_sum += prev
        last[:, :width] = prev
        return last, pooled_max, pooled_sum

    def _step_inputs(self, forward: Tensor, lengths: Tensor, streams: int) -> Callable[[int, int, int], Tensor]:
        """A function (start, stop, n) -> [stop - start, S, n, H]: each stream's input projection at
        steps start..stop-1 for the first n texts (the running ones: padding is never read), fresh
        memory the caller may overwrite."""
        batch, steps = forward.shape
        hidden = self.config.hidden_size
        dirs = self.config.num_directions

        def reversed_(ids: Tensor) -> Tensor:
            """Each text reversed within its own length: position t reads index L-1-t (padding stays put)."""
            return ids.flip(1) if batch == 1 else ids.gather(1, reversed_positions(lengths, steps))

        def rows(ids: Tensor, stride: int, offsets: Tensor) -> Tensor:
            """[T, S, B] row numbers: stream s reads row ids * stride + offsets[s] of its table;
            backward streams read their text reversed."""
            if stride != 1:
                ids = ids * stride
            per_stream = torch.stack([ids, reversed_(ids)]).repeat(self.members, 1, 1) if dirs == 2 else ids[None]
            return (per_stream + offsets.view(-1, 1, 1)).permute(2, 0, 1).contiguous()

        if not self.char_embeddings:
            index, table = rows(forward, 1, self.table_offsets), self.table.view(-1, hidden)
        else:
            # A character's input is its embedding plus its left bigram's, so the batch's distinct
            # (character, bigram) pairs are projected, each once per member and direction: one
            # [K, U, E] @ [K, E, D * H] matmul, rows (member, pair, direction) of a [K * U * D, H] table.
            grams = bigram_ids(forward, self.bigram_keys, self.config.vocab_size)
            bigram_vocab = self.config.bigram_vocab_size
            distinct, inverse = torch.unique(forward * bigram_vocab + grams, return_inverse=True)
            chars, pair_grams = distinct.div(bigram_vocab, rounding_mode="floor"), distinct.remainder(bigram_vocab)
            embedded = torch.empty(self.members, distinct.numel(), self.config.embedding_dim)
            for k, (char_table, gram_table) in enumerate(
                zip(self.char_embeddings, self.bigram_embeddings, strict=True)
            ):
                embedded[k].copy_(char_table.index_select(0, chars))  # widened from float16
                embedded[k] += gram_table.index_select(0, pair_grams)
            projected = torch.baddbmm(self.pair_bias, embedded, self.pair_w_ih_t)
            u = distinct.numel()
            offsets = (torch.arange(self.members) * u * dirs)[:, None] + torch.arange(dirs)[None, :]
            index, table = rows(inverse, dirs, offsets.flatten()), projected.view(-1, hidden)

        def gather(start: int, stop: int, n: int) -> Tensor:
            # index_select on flat rows is several times faster than table[index]; rows of a float16
            # table are widened (`float` returns a float32 tensor itself, not a copy)
            rows = table.index_select(0, index[start:stop, :, :n].flatten()).float()
            return rows.view(stop - start, streams, n, hidden)

        return gather


def _project(embedding: Tensor, w_ih: Tensor, bias: Tensor, out: Tensor, block: int = 4096) -> None:
    """out = embedding @ w_ih.T + bias, a block of rows at a time: float16 rows widened, the product
    computed in float32 and stored in out's dtype."""
    for start in range(0, embedding.size(0), block):
        rows = embedding[start : start + block].float()
        out[start : start + block] = torch.addmm(bias, rows, w_ih.t())


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


@functools.cache
def sigmoid_is_faster() -> bool:
    """Time torch's sigmoid and tanh on a wide step (6 streams x 64 texts x 128), best of 5 runs each."""
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

    return best(Tensor.sigmoid_) < best(Tensor.tanh_)
