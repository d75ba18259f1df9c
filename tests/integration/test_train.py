"""Training: a --dry-run finishes in seconds, is deterministic, and writes checkpoint + metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.data import sha256_file
from model.languages import language
from model.train import main, train
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


@pytest.mark.parametrize("freeze_embeddings", [True, False])  # False: the pass of `directions_apart`
def test_parallel_members_equal_sequential_members(data_dir: Path, tmp_path: Path, freeze_embeddings: bool) -> None:
    """Each member is seeded on its own: training two in parallel processes changes nothing."""
    cfg = tiny_config(data_dir, tmp_path / "seq.pt").override(members=2, epochs=1, freeze_embeddings=freeze_embeddings)
    seq, _ = train(cfg)
    par, _ = train(cfg.override(workers=2))
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


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_two_processes_train_identical_weights_with_pretrained_vectors(
    lean_data_dir: Path, tmp_path: Path, lang: str
) -> None:
    """Each process starts torch's global generator from a random seed: every random draw of the
    recipe (word vectors, their sentiment tuning, members) must come from seeded generators. The two
    run at the same time, as they may on a machine training several rows."""
    vectors = {"en": "word2vec+sentiment", "zh": "word2vec"}[lang]
    outs = [tmp_path / f"{i}.pt" for i in range(2)]
    cmd = [sys.executable, "-m", "model.train", "--lang", lang, "--dry-run", "--vectors", vectors, "--w2v-epochs", "2"]
    logs = [out.with_suffix(".log") for out in outs]
    procs = []
    for out, log in zip(outs, logs, strict=True):
        with log.open("wb") as fh:
            args = [*cmd, "--data-dir", str(lean_data_dir), "--out", str(out)]
            procs.append(subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT))
    for proc, log in zip(procs, logs, strict=True):
        assert proc.wait(timeout=240) == 0, log.read_text()
    a, b = (load_checkpoint(out) for out in outs)
    assert a.vocab.itos == b.vocab.itos
    for ma, mb in zip(a.members, b.members, strict=True):
        for k, v in ma.items():
            assert torch.equal(v, mb[k]), k
    assert a.metrics == b.metrics


def test_sentiment_epochs_move_the_pretrained_vectors(data_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_dir, tmp_path / "v.pt").override(
        vectors="word2vec+sentiment", freeze_embeddings=True, epochs=1
    )
    once, _ = train(cfg.override(sentiment_epochs=1))
    twice, record = train(cfg.override(sentiment_epochs=2))
    assert record["training"]["config"]["sentiment_epochs"] == 2
    assert once.vocab.itos == twice.vocab.itos
    assert not torch.equal(once.members[0]["embedding.weight"], twice.members[0]["embedding.weight"])


def test_a_dry_run_never_writes_the_shipped_checkpoint(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out a dry run writes to a new temporary folder; the shipped file stays as it is."""
    shipped = language("en").checkpoint_path
    before = sha256_file(shipped)
    main(["--dry-run", "--data-dir", str(data_dir), "--hidden-size", "8", "--members", "1"])
    written = Path(capsys.readouterr().out.split()[1])
    assert written.parent.name.startswith("sentiment-rnn-dry-run-")
    assert load_checkpoint(written).model_config.hidden_size == 8
    assert sha256_file(shipped) == before


def test_a_mistyped_option_stops_before_training(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "typo.pt"
    with pytest.raises(SystemExit) as exit_info:
        main(["--dry-run", "--pooling", "lastmax", "--data-dir", str(data_dir), "--out", str(out)])
    assert exit_info.value.code == 2
    assert not out.exists()


def test_negated_copies_join_the_training_texts(data_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_dir, tmp_path / "n.pt").override(epochs=1, members=1, vectors="word2vec", w2v_epochs=1)
    _plain, plain_record = train(cfg)
    _, record = train(cfg.override(negations=2))
    added = record["training"]["train_examples"] - plain_record["training"]["train_examples"]
    assert 0 < added < plain_record["training"]["train_examples"]
    assert record["training"]["config"]["negations"] == 2


def test_composed_texts_join_the_training_texts_of_a_five_point_corpus_only(data_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_dir, tmp_path / "c.pt").override(epochs=1, members=1)
    _plain, plain_record = train(cfg)
    _, record = train(cfg.override(compositions=300))
    assert record["training"]["train_examples"] - plain_record["training"]["train_examples"] == 300
    assert record["training"]["config"]["compositions"] == 300
    with pytest.raises(ValueError, match="five-point"):
        train(cfg.override(corpus="sst2", compositions=300))
