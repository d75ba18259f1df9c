"""Training: a --dry-run finishes in seconds, is deterministic, and writes checkpoint + metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model import corpora
from model.checkpoint import load_checkpoint, sha256_file
from model.tokenizer import Vocab
from model.train import NEGATORS, PRESETS, imdb_sentences, main, negated, parse_args, train, word_dropout
from tests.conftest import tiny_config


def test_same_seed_gives_identical_metrics(data_dir: Path, tmp_path: Path) -> None:
    a, rec_a = train(tiny_config(data_dir, tmp_path / "a.pt", seed=3))
    b, rec_b = train(tiny_config(data_dir, tmp_path / "b.pt", seed=3))
    assert rec_a["metrics"] == rec_b["metrics"]
    assert rec_a["training"]["history"] == rec_b["training"]["history"]
    for k, v in a.members[0].items():
        assert torch.equal(v, b.members[0][k]), k
    _, rec_c = train(tiny_config(data_dir, tmp_path / "c.pt", seed=4))
    assert rec_c["training"]["history"][0][0]["train_loss"] != rec_a["training"]["history"][0][0]["train_loss"]


def test_parallel_members_equal_sequential_members(data_dir: Path, tmp_path: Path) -> None:
    """Each member is seeded on its own: training two in parallel processes changes nothing."""
    cfg = replace(tiny_config(data_dir, tmp_path / "seq.pt"), members=2, epochs=1, freeze_embeddings=True)
    seq, _ = train(cfg)
    par, _ = train(replace(cfg, workers=2))
    assert len(seq.members) == len(par.members) == 2
    for m_seq, m_par in zip(seq.members, par.members, strict=True):
        for k in m_seq:
            assert torch.equal(m_seq[k], m_par[k]), k
    assert not torch.equal(seq.members[0]["head.weight"], seq.members[1]["head.weight"])
    assert seq.metrics == par.metrics


def test_dry_run_cli_writes_checkpoint_metrics_and_checksum(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dry.pt"
    started = time.perf_counter()
    main(["--dry-run", "--data-dir", str(data_dir), "--out", str(out), "--hidden-size", "8"])
    assert time.perf_counter() - started < 60
    ckpt = load_checkpoint(out)
    assert ckpt.model_config.hidden_size == 8
    assert len(ckpt.members) == 2
    record = json.loads(out.with_suffix(".metrics.json").read_text())
    assert record["checkpoint"]["sha256"] == sha256_file(out)
    assert (tmp_path / "dry.pt.sha256").read_text() == f"{sha256_file(out)}  dry.pt\n"
    assert [len(h) for h in record["training"]["history"]] == [1, 1]
    assert 0.0 <= record["metrics"]["test"]["accuracy"] <= 1.0
    assert record["metrics"]["test"]["n"] == 200
    assert ckpt.training["config"]["dry_run"] is True
    assert ckpt.training["command"].startswith("python -m model.train --dry-run")


def test_presets_and_flags() -> None:
    en = parse_args([])
    assert (en.members, en.vectors, en.freeze_embeddings) == (PRESETS["en"]["members"], "word2vec+sentiment", True)
    zh = parse_args(["--lang", "zh", "--members", "5", "--no-bidirectional"])
    assert zh.members == 5
    assert zh.bidirectional is False
    assert zh.bigram_min_freq == PRESETS["zh"]["bigram_min_freq"]
    assert zh.out.endswith("sentiment-rnn-zh.pt")


def test_word_dropout_replaces_only_real_tokens() -> None:
    ids = torch.tensor([[5, 6, 7, 0, 0]] * 200)
    out = word_dropout(ids, 0.5, torch.Generator().manual_seed(0))
    assert (out[:, 3:] == 0).all()
    dropped = (out[:, :3] == 1).float().mean().item()
    assert 0.4 < dropped < 0.6
    assert torch.equal(word_dropout(ids, 0.0, torch.Generator()), ids)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_two_processes_train_identical_weights_with_pretrained_vectors(
    data_dir: Path, tmp_path: Path, lang: str
) -> None:
    """Each process starts torch's global generator from a random seed: every random draw of the
    recipe (word vectors, their sentiment tuning, members) must come from seeded generators."""
    vectors = {"en": "word2vec+sentiment", "zh": "word2vec"}[lang]
    outs = [tmp_path / f"{i}.pt" for i in range(2)]
    for out in outs:
        cmd = [sys.executable, "-m", "model.train", "--lang", lang, "--dry-run", "--vectors", vectors]
        subprocess.run([*cmd, "--data-dir", str(data_dir), "--out", str(out)], check=True, capture_output=True)
    a, b = (load_checkpoint(out) for out in outs)
    assert a.vocab.itos == b.vocab.itos
    for ma, mb in zip(a.members, b.members, strict=True):
        for k, v in ma.items():
            assert torch.equal(v, mb[k]), k
    assert a.metrics == b.metrics


def test_transfer_starts_members_from_weights_trained_on_imdb_sentences(data_dir: Path, tmp_path: Path) -> None:
    """The ablation's option: IMDB sentences carry their review's label, and the RNN trained on
    them (not a random one) starts each member."""
    cfg = replace(tiny_config(data_dir, tmp_path / "t.pt"), vectors="word2vec", freeze_embeddings=True, members=1)
    corpus = corpora.load("en", data_dir, dry_run=True, pretraining=True)
    ckpt, _ = train(cfg)
    sentences = imdb_sentences(replace(cfg, transfer_sentences=10**9), corpus, ckpt.vocab)
    assert len(sentences) > len(corpus.pretraining)  # several sentences per review
    assert all(4 <= len(ids) <= 60 for ids, _ in sentences)
    assert {label for _, label in sentences} == {0, 1}
    moved, record = train(replace(cfg, transfer_sentences=300))
    assert record["training"]["config"]["transfer_sentences"] == 300
    assert not torch.equal(ckpt.members[0]["rnn.weight_hh_l0"], moved.members[0]["rnn.weight_hh_l0"])
    assert torch.equal(ckpt.members[0]["embedding.weight"], moved.members[0]["embedding.weight"])


def test_whole_repeats_add_copies_of_the_sst_sentences_and_keep_the_vocabulary(data_dir: Path, tmp_path: Path) -> None:
    """The ablation's option: whole sentences weigh more among their phrases; the vocabulary (built
    from the deduplicated data) does not change."""
    corpus = corpora.load("en", data_dir, dry_run=True)
    assert corpus.whole
    assert len(corpus.whole) < len(corpus.train)
    cfg = replace(tiny_config(data_dir, tmp_path / "w.pt"), epochs=1)
    plain, plain_record = train(cfg)
    weighted, record = train(replace(cfg, whole_repeats=3))
    assert weighted.vocab.itos == plain.vocab.itos
    assert record["training"]["train_examples"] == plain_record["training"]["train_examples"] + 2 * len(corpus.whole)
    assert not torch.equal(plain.members[0]["rnn.weight_hh_l0"], weighted.members[0]["rnn.weight_hh_l0"])


def test_label_smoothing_changes_training_and_is_recorded(data_dir: Path, tmp_path: Path) -> None:
    cfg = replace(tiny_config(data_dir, tmp_path / "s.pt"), epochs=1)
    plain, _ = train(cfg)
    smoothed, record = train(replace(cfg, label_smoothing=0.1))
    assert record["training"]["config"]["label_smoothing"] == 0.1
    assert not torch.equal(plain.members[0]["head.weight"], smoothed.members[0]["head.weight"])
    assert parse_args(["--label-smoothing", "0.1", "--w2v-window", "2"]).w2v_window == 2


def test_sentiment_epochs_move_the_pretrained_vectors(data_dir: Path, tmp_path: Path) -> None:
    cfg = replace(
        tiny_config(data_dir, tmp_path / "v.pt"), vectors="word2vec+sentiment", freeze_embeddings=True, epochs=1
    )
    once, _ = train(replace(cfg, sentiment_epochs=1))
    twice, record = train(replace(cfg, sentiment_epochs=2))
    assert record["training"]["config"]["sentiment_epochs"] == 2
    assert once.vocab.itos == twice.vocab.itos
    assert not torch.equal(once.members[0]["embedding.weight"], twice.members[0]["embedding.weight"])


def test_adversarial_inputs_change_training_leave_frozen_tables_alone_and_stay_deterministic(
    data_dir: Path, tmp_path: Path
) -> None:
    cfg = replace(tiny_config(data_dir, tmp_path / "a.pt"), epochs=1, members=2, freeze_embeddings=True)
    plain, _ = train(cfg)
    adv, record = train(replace(cfg, adversarial=0.5))
    again, _ = train(replace(cfg, adversarial=0.5))
    assert record["training"]["config"]["adversarial"] == 0.5
    assert not torch.equal(plain.members[0]["rnn.weight_hh_l0"], adv.members[0]["rnn.weight_hh_l0"])
    # The perturbation is on each text's input vectors, never on the tables: frozen tables stay
    # bit-identical (pre-trained ones are then shared by all members and stored once).
    for p_member, a_member in zip(plain.members, adv.members, strict=True):
        assert torch.equal(p_member["embedding.weight"], a_member["embedding.weight"])
    for k, v in adv.members[0].items():
        assert torch.equal(v, again.members[0][k]), k
    assert parse_args(["--adversarial", "0.2"]).adversarial == 0.2


def test_negated_copies_put_a_negator_before_short_texts_and_flip_their_label() -> None:
    vocab = Vocab.build([["bad", "good", "a", "mess", "not", "is", "n't", "was", "never", "very", "long", "text"]])
    train = [
        (vocab.encode(["bad"]), 0),
        (vocab.encode(["a", "mess"]), 0),
        (vocab.encode(["good"]), 1),
        (vocab.encode(["very", "long", "text"]), 1),
    ]
    out = negated(train, 2, vocab, seed=1)
    assert [label for _, label in out] == [1, 1, 0]  # the 3-token text is left out
    negators = [" ".join(n) for n in NEGATORS]
    for (ids, _), (orig, _) in zip(out, train[:3], strict=True):
        words = [vocab.itos[i] for i in ids]
        n = len(words) - len(orig)
        assert " ".join(words[:n]) in negators
        assert ids[n:] == orig
    assert negated(train, 2, vocab, seed=1) == out
    assert len({tuple(ids[:-1]) for ids, _ in negated(train * 20, 1, vocab, seed=2)}) > 1  # negators vary
    with pytest.raises(ValueError, match="negators"):
        negated(train, 2, Vocab.build([["bad", "good"]]), seed=1)  # e.g. a Chinese character vocabulary
