"""The fast serving path equals torch.nn.RNN (through SentimentRNN): within 1e-5 where the input
projection is exact (bigram inputs, float32 token tables), within float16 rounding with the token
tables it serves."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from model import fastpath, inference
from model.checkpoint import load_checkpoint
from model.fastpath import FastRNN
from model.inference import Classifier
from model.network import ModelConfig, Pooling, SentimentRNN, pad_batch

VOCAB = 300


def net(bidirectional: bool, pooling: Pooling, seed: int = 1, layers: int = 1, bigrams: int = 0) -> SentimentRNN:
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=VOCAB,
        embedding_dim=20,
        hidden_size=24,
        num_layers=layers,
        bidirectional=bidirectional,
        pooling=pooling,
        bigram_vocab_size=bigrams,
    )
    model = SentimentRNN(cfg).eval()
    with torch.no_grad():  # larger weights than the init, so tanh saturates as in a trained model
        for p in model.rnn.parameters():
            p.mul_(3)
        if bigrams:
            keys = torch.randperm(VOCAB * VOCAB, generator=torch.Generator().manual_seed(seed))[: bigrams - 2]
            model.bigram_keys.copy_(keys.sort().values)
    return model


@pytest.fixture(params=["narrow-tanh", "narrow-sigmoid", "wide-tanh", "wide-sigmoid"])
def step_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with every batch on the narrow loop (every text to the longest one's length) and on
    the wide one (running texts only, in blocks of 4 steps), each in both forms of the recurrence,
    with float32 token tables: the loops' logic is checked exactly, the float16 rounding apart."""
    mode = str(request.param)
    monkeypatch.setattr(fastpath, "TABLE_DTYPE", torch.float32)
    monkeypatch.setattr(fastpath, "NARROW_BATCH", 1 << 62 if mode.startswith("narrow") else 0)
    monkeypatch.setattr(fastpath, "STEP_BLOCK", 4)
    monkeypatch.setattr(fastpath, "sigmoid_is_faster", lambda: mode.endswith("sigmoid"))
    return mode


def test_the_sigmoid_form_is_tanh() -> None:
    """The identity the sigmoid form rests on, and the timing that picks a form returns one."""
    z = torch.randn(6, 64, 128) * 4
    torch.testing.assert_close(2 * torch.sigmoid(2 * z) - 1, z.tanh(), rtol=0, atol=1e-6)
    assert isinstance(fastpath.sigmoid_is_faster(), bool)


def random_batch(rng: random.Random, size: int, vocab: int = VOCAB) -> list[list[int]]:
    return [[rng.randrange(1, vocab) for _ in range(rng.randrange(1, 40))] for _ in range(size)]


def reference(models: list[SentimentRNN], seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        outs = [m(*pad_batch(seqs)) for m in models]
    return torch.stack([o.logits for o in outs]).mean(0), torch.stack([o.h_n for o in outs])


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("pooling", ["last", "max", "last+max", "mean+max"])
@pytest.mark.parametrize("size", [1, 7, 64])
def test_fast_path_matches_torch_rnn(bidirectional: bool, pooling: Pooling, size: int, step_mode: str) -> None:
    model = net(bidirectional, pooling)
    seqs = random_batch(random.Random(size), size)
    logits, h_n = FastRNN.from_models([model])(seqs)
    ref_logits, ref_h = reference([model], seqs)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-5)


@pytest.mark.parametrize("pooling", ["last", "mean+max"])
def test_float16_token_table_stays_within_its_rounding(pooling: Pooling) -> None:
    """The served table is float16: answers move by its rounding of the projection, no more."""
    model = net(True, pooling)
    fast = FastRNN.from_models([model])
    assert fast.table.dtype == torch.float16
    for size in (1, 64):  # the narrow loop and the wide one
        seqs = random_batch(random.Random(size), size)
        logits, h_n = fast(seqs)
        ref_logits, ref_h = reference([model], seqs)
        torch.testing.assert_close(logits, ref_logits, rtol=0, atol=2e-3)
        torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-2)
        assert not torch.allclose(h_n, ref_h, rtol=0, atol=1e-6)  # the rounding is there: a float16 table


@pytest.mark.parametrize("pooling", ["last+max", "mean+max"])
def test_ensemble_with_bigram_inputs_matches_torch_rnn(pooling: Pooling, step_mode: str) -> None:
    """Three members, each reading character and left-bigram embeddings, logits averaged."""
    models = [net(True, pooling, seed=s, bigrams=2000) for s in (1, 2, 3)]
    for m in models[1:]:
        m.bigram_keys.copy_(models[0].bigram_keys)  # one bigram vocabulary per checkpoint
    seqs = random_batch(random.Random(5), 40)
    ids, _ = pad_batch(seqs)
    found = models[0].bigram_ids(ids)
    assert (found > 1).any()  # some pairs are known bigrams, so the bigram table really is used
    logits, h_n = FastRNN.from_models(models)(seqs)
    ref_logits, ref_h = reference(models, seqs)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-5)


def test_empty_and_repeated_texts(step_mode: str) -> None:
    model = net(True, "last+max")
    seqs: list[list[int]] = [[], [5], [5], [7, 8, 9]]
    logits, h_n = FastRNN.from_models([model])(seqs)
    ref_logits, ref_h = reference([model], seqs)
    torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-5)


def test_unsupported_models_are_not_claimed() -> None:
    two_layers = net(True, "last", layers=2)
    assert not FastRNN.supports(two_layers.config)
    with pytest.raises(ValueError, match="one-layer"):
        FastRNN.from_models([two_layers])
    with pytest.raises(ValueError, match="one configuration"):
        FastRNN.from_models([net(True, "last"), net(True, "max")])


def test_classifier_uses_fast_path_on_a_trained_checkpoint(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    fast, ref = Classifier(ckpt), Classifier(ckpt, fast=False)
    assert fast.path.startswith("fast")
    assert ref.path.startswith("torch.nn.RNN")
    seqs = random_batch(random.Random(3), 33, len(ckpt.vocab))
    a, b = fast.forward_ids(seqs), ref.forward_ids(seqs)
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=2e-3)  # float16 table (above)
    torch.testing.assert_close(a.h_n, b.h_n, rtol=0, atol=1e-2)


def test_fast_path_keeps_no_embedding_tables(tiny_zh_checkpoint: Path) -> None:
    """Its precomputed tables replace them; the checkpoint it was given is left whole."""
    ckpt = load_checkpoint(tiny_zh_checkpoint)
    served = Classifier(ckpt).ckpt
    assert not [k for m in served.members for k in m if k.endswith("embedding.weight")]
    assert all("rnn.weight_hh_l0" in m and "head.bias" in m for m in served.members)
    with pytest.raises(ValueError, match="embedding tables were released"):
        served.build_models()
    assert all("bigram_embedding.weight" in m for m in ckpt.members)
    assert len(Classifier(ckpt, fast=False).models) == len(ckpt.members)


def test_character_and_bigram_inputs_stay_float16_embeddings_not_projected_tables(tiny_zh_checkpoint: Path) -> None:
    """Projected tables would be 4x (bigrams) and 2x (characters) the checkpoint's float16 embeddings
    for the Chinese model: the fast path holds the checkpoint's own embedding tensors, not copies
    (which would raise peak memory), and projects a batch's pairs of them."""
    ckpt = load_checkpoint(tiny_zh_checkpoint)
    fast = Classifier(ckpt).fast
    assert fast is not None
    cfg = ckpt.model_config
    assert fast.table.numel() == 0
    for tables, key, rows in (
        (fast.char_embeddings, "embedding.weight", cfg.vocab_size),
        (fast.bigram_embeddings, "bigram_embedding.weight", cfg.bigram_vocab_size),
    ):
        assert len(tables) == len(ckpt.members)
        for table, member in zip(tables, ckpt.members, strict=True):
            assert table.dtype == torch.float16
            assert table.shape == (rows, cfg.embedding_dim)
            assert table.data_ptr() == member[key].data_ptr()


def test_large_batches_run_in_passes_within_the_memory_budget(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf = Classifier(load_checkpoint(tiny_checkpoint))
    seqs = random_batch(random.Random(5), 40, len(clf.ckpt.vocab))
    whole = clf.forward_ids(seqs)
    cfg = clf.ckpt.model_config
    per_token = len(clf.ckpt.members) * cfg.num_directions * cfg.hidden_size
    monkeypatch.setattr(inference, "MAX_FORWARD_VALUES", per_token * 30)  # at most 30 padded tokens per pass
    lengths = sorted(len(s) for s in seqs)
    parts = clf.chunks(lengths)
    assert len(parts) > 1
    assert [i for p in parts for i in range(len(lengths))[p]] == list(range(len(lengths)))
    assert all(max(lengths[p]) * len(lengths[p]) <= 30 or len(lengths[p]) == 1 for p in parts)
    split = clf.forward_many(seqs)
    torch.testing.assert_close(split.logits, whole.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(split.h_n, whole.h_n, rtol=0, atol=1e-6)


def test_multi_layer_checkpoint_falls_back_to_torch_rnn(tiny_uni_checkpoint: Path) -> None:
    assert Classifier(load_checkpoint(tiny_uni_checkpoint)).path.startswith("torch.nn.RNN")
