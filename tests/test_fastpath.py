"""The fast serving path equals torch.nn.RNN (through SentimentRNN) within 1e-5."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.fastpath import FastRNN
from model.inference import Classifier
from model.network import ModelConfig, Pooling, SentimentRNN, pad_batch


def net(bidirectional: bool, pooling: Pooling, hidden: int = 24, layers: int = 1) -> SentimentRNN:
    torch.manual_seed(1)
    cfg = ModelConfig(
        vocab_size=300,
        embedding_dim=20,
        hidden_size=hidden,
        num_layers=layers,
        bidirectional=bidirectional,
        pooling=pooling,
    )
    model = SentimentRNN(cfg).eval()
    with torch.no_grad():  # larger weights than the init, so tanh saturates as in a trained model
        for p in model.rnn.parameters():
            p.mul_(3)
    return model


def random_batch(rng: random.Random, size: int) -> list[list[int]]:
    return [[rng.randrange(1, 300) for _ in range(rng.randrange(1, 40))] for _ in range(size)]


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("pooling", ["last", "max", "last+max"])
@pytest.mark.parametrize("size", [1, 7, 64])
def test_fast_path_matches_torch_rnn(bidirectional: bool, pooling: Pooling, size: int) -> None:
    model = net(bidirectional, pooling)
    fast = FastRNN(model)
    seqs = random_batch(random.Random(size), size)
    with torch.no_grad():
        ref = model(*pad_batch(seqs))
    logits, h_n = fast(seqs)
    torch.testing.assert_close(logits, ref.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(h_n, ref.h_n, rtol=0, atol=1e-5)


def test_empty_and_repeated_texts() -> None:
    model = net(True, "last+max")
    seqs: list[list[int]] = [[], [5], [5], [7, 8, 9]]
    with torch.no_grad():
        ref = model(*pad_batch(seqs))
    logits, h_n = FastRNN(model)(seqs)
    torch.testing.assert_close(logits, ref.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(h_n, ref.h_n, rtol=0, atol=1e-5)


def test_multi_layer_models_are_not_claimed() -> None:
    model = net(True, "last", layers=2)
    assert not FastRNN.supports(model)
    with pytest.raises(ValueError, match="one-layer"):
        FastRNN(model)


def test_classifier_uses_fast_path_on_a_trained_checkpoint(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    fast, ref = Classifier(ckpt), Classifier(ckpt, fast=False)
    assert fast.path.startswith("fast")
    assert ref.path.startswith("torch.nn.RNN")
    seqs = random_batch(random.Random(3), 33)
    a, b = fast.forward_ids(seqs), ref.forward_ids(seqs)
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(a.h_n, b.h_n, rtol=0, atol=1e-5)


def test_multi_layer_checkpoint_falls_back_to_torch_rnn(tiny_uni_checkpoint: Path) -> None:
    assert Classifier(load_checkpoint(tiny_uni_checkpoint)).path.startswith("torch.nn.RNN")
