"""Training: a --dry-run finishes in seconds, is deterministic, and writes checkpoint + metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from model.checkpoint import load_checkpoint
from model.train import main, train, word_dropout
from tests.conftest import tiny_config


def test_same_seed_gives_identical_metrics(data_dir: Path, tmp_path: Path) -> None:
    a, rec_a = train(tiny_config(data_dir, tmp_path / "a.pt", seed=3))
    b, rec_b = train(tiny_config(data_dir, tmp_path / "b.pt", seed=3))
    assert rec_a["metrics"] == rec_b["metrics"]
    assert [h["train_loss"] for h in rec_a["training"]["history"]] == [
        h["train_loss"] for h in rec_b["training"]["history"]
    ]
    for k, v in a.members[0].items():
        assert torch.equal(v, b.members[0][k]), k
    _c, rec_c = train(tiny_config(data_dir, tmp_path / "c.pt", seed=4))
    assert rec_c["training"]["history"][0]["train_loss"] != rec_a["training"]["history"][0]["train_loss"]


def test_dry_run_cli_writes_checkpoint_and_metrics(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dry.pt"
    started = time.perf_counter()
    main(
        [
            "--dry-run",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--hidden-size",
            "8",
            "--embedding-dim",
            "8",
        ]
    )
    assert time.perf_counter() - started < 60
    ckpt = load_checkpoint(out)
    assert ckpt.model_config.hidden_size == 8
    record = json.loads(out.with_suffix(".metrics.json").read_text())
    assert record["checkpoint"]["sha256"]
    assert len(record["training"]["history"]) == 1
    assert 0.0 <= record["metrics"]["test"]["accuracy"] <= 1.0
    assert record["metrics"]["test"]["n"] == 200
    assert ckpt.training["config"]["dry_run"] is True
    assert ckpt.training["command"].startswith("python -m model.train --dry-run")


def test_word_dropout_replaces_only_real_tokens() -> None:
    ids = torch.tensor([[5, 6, 7, 0, 0]] * 200)
    out = word_dropout(ids, 0.5, torch.Generator().manual_seed(0))
    assert (out[:, 3:] == 0).all()
    dropped = (out[:, :3] == 1).float().mean().item()
    assert 0.4 < dropped < 0.6
    assert torch.equal(word_dropout(ids, 0.0, torch.Generator()), ids)
