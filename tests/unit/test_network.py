"""The network: shapes, explicit zero h0, padding invariance, and the tanh recurrence itself."""

from __future__ import annotations

import pytest
import torch

from model.network import ModelConfig, Pooling, SentimentRNN, _one_way_rnn, pad_batch


def make(bidirectional: bool = True, num_layers: int = 1, pooling: Pooling = "last+max") -> SentimentRNN:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=50,
        embedding_dim=8,
        hidden_size=6,
        num_layers=num_layers,
        bidirectional=bidirectional,
        pooling=pooling,
    )
    return SentimentRNN(cfg).eval()


ARCHS: list[tuple[bool, int, Pooling]] = [
    (True, 1, "last+max"),
    (False, 1, "last"),
    (True, 2, "max"),
    (False, 3, "last+max"),
]


@pytest.mark.parametrize(("bidirectional", "num_layers", "pooling"), ARCHS)
@pytest.mark.parametrize("batch", [1, 4])
def test_output_shapes(bidirectional: bool, num_layers: int, pooling: Pooling, batch: int) -> None:
    model = make(bidirectional, num_layers, pooling)
    seqs = [[2 + (i * 7 + j) % 40 for j in range(3 + i)] for i in range(batch)]
    ids, lengths = pad_batch(seqs)
    out = model(ids, lengths)
    d = 2 if bidirectional else 1
    assert out.logits.shape == (batch, 2)
    assert out.h_n.shape == (num_layers * d, batch, 6)
    assert out.outputs.shape == (batch, ids.size(1), d * 6)
    assert model.init_hidden(batch).shape == (num_layers * d, batch, 6)
    assert not model.init_hidden(batch).any()


@pytest.mark.parametrize(("bidirectional", "num_layers", "pooling"), ARCHS)
def test_padding_does_not_leak(bidirectional: bool, num_layers: int, pooling: Pooling) -> None:
    model = make(bidirectional, num_layers, pooling)
    short, long = [5, 9, 3], [4, 8, 15, 16, 23, 42, 7]
    with torch.no_grad():
        alone = model(*pad_batch([short]))
        batched = model(*pad_batch([long, short]))
    torch.testing.assert_close(batched.logits[1], alone.logits[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(batched.h_n[:, 1], alone.h_n[:, 0], rtol=0, atol=1e-6)
    assert not batched.outputs[1, len(short) :].any()  # no state past the text's end


@pytest.mark.parametrize("bidirectional", [True, False])
def test_training_pass_with_trained_input_is_the_packed_pass(bidirectional: bool) -> None:
    """When gradients reach the embeddings, the directions run apart on padded text: the same
    outputs, h_n and gradients as the packed pass (which runs when the input needs no gradient)."""
    model = make(bidirectional, 1, "mean+max" if bidirectional else "last")
    ids, lengths = pad_batch([[4, 8, 15, 16, 23, 42, 7], [5, 9, 3], [11], [2, 3, 4, 5, 6]])
    results = []
    for trained_input in (False, True):
        model.zero_grad()
        model.embedding.weight.requires_grad_(trained_input)
        out = model(ids, lengths)
        (out.logits.square().sum() + out.h_n.sum()).backward()
        grads = [p.grad.clone() for p in model.rnn.parameters() if p.grad is not None]
        results.append((out.logits.detach(), out.h_n.detach(), out.outputs.detach(), grads))
    (packed_logits, packed_h_n, packed_outputs, packed_grads), (logits, h_n, outputs, grads) = results
    torch.testing.assert_close(logits, packed_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(h_n, packed_h_n, rtol=0, atol=1e-6)
    torch.testing.assert_close(outputs, packed_outputs, rtol=0, atol=1e-6)
    assert not outputs[1, 3:].any()
    assert model.embedding.weight.grad is not None
    assert len(grads) == len(packed_grads) == 4 * (2 if bidirectional else 1)
    for grad, packed_grad in zip(grads, packed_grads, strict=True):
        torch.testing.assert_close(grad, packed_grad, rtol=0, atol=1e-5)


def test_training_pass_draws_nothing_from_torchs_generator() -> None:
    """Members trained in one process or several get the same weights only if the pass draws the
    same random numbers however many members its process ran before (dropout shares the stream)."""
    model = make(True, 1, "max")
    model.embedding.weight.requires_grad_(True)
    _one_way_rnn.cache_clear()
    state = torch.random.get_rng_state()
    model(*pad_batch([[4, 8, 15], [16, 23]]))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_h_n_is_the_tanh_elman_recurrence_from_zero() -> None:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_0 = 0, written out by hand."""
    model = make(bidirectional=True)
    ids = [3, 14, 15, 9]
    with torch.no_grad():
        out = model(*pad_batch([ids]))
        x = model.embedding(torch.tensor(ids))
        rnn = model.rnn
        for direction, suffix in ((0, ""), (1, "_reverse")):
            w_ih, w_hh = getattr(rnn, "weight_ih_l0" + suffix), getattr(rnn, "weight_hh_l0" + suffix)
            b_ih, b_hh = getattr(rnn, "bias_ih_l0" + suffix), getattr(rnn, "bias_hh_l0" + suffix)
            h = torch.zeros(6)
            steps = x if direction == 0 else x.flip(0)
            for x_t in steps:
                h = torch.tanh(w_ih @ x_t + b_ih + w_hh @ h + b_hh)
            torch.testing.assert_close(out.h_n[direction, 0], h, rtol=0, atol=1e-6)


def test_pad_batch_pads_right_and_keeps_empty_texts_runnable() -> None:
    ids, lengths = pad_batch([[5, 6, 7], [], [8]])
    assert ids.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]


def test_config_round_trip() -> None:
    cfg = ModelConfig(vocab_size=10, hidden_size=4, bidirectional=False, pooling="max")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.feature_size == 4
    assert ModelConfig(vocab_size=10, hidden_size=4).feature_size == 16
