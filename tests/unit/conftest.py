"""Unit tier: no data files, no server. The checkpoint fixtures here replace the data-trained ones of
`tests/conftest.py` with real checkpoints trained in seconds on `tests.synthetic`'s corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import save_checkpoint
from model.recipe import TrainConfig
from model.train import train
from tests import synthetic

TINY = {"epochs": 2, "embedding_dim": 16, "hidden_size": 12, "batch_size": 32}


def _trained(out: Path, cfg: TrainConfig) -> Path:
    ckpt, _ = train(cfg, corpus=synthetic.corpus(cfg.lang))
    save_checkpoint(ckpt, out)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bidirectional English checkpoint (last+max pooling)."""
    return _trained(tmp_path_factory.mktemp("ckpt") / "tiny.pt", TrainConfig(seed=7, **TINY))


@pytest.fixture(scope="session")
def tiny_uni_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A unidirectional, two-layer variant, for code paths that differ by architecture."""
    cfg = TrainConfig(seed=7, **{**TINY, "epochs": 1}, bidirectional=False, num_layers=2, pooling="last")
    return _trained(tmp_path_factory.mktemp("ckpt") / "tiny-uni.pt", cfg)


@pytest.fixture(scope="session")
def tiny_zh_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chinese ensemble of two members reading characters and left bigrams, trained with FGM."""
    cfg = TrainConfig(
        lang="zh",
        seed=3,
        members=2,
        **{**TINY, "epochs": 1, "hidden_size": 10},
        pooling="mean+max",
        bigram_min_freq=2,
        fgm=1.0,
        word_dropout=0.1,
    )
    return _trained(tmp_path_factory.mktemp("ckpt") / "tiny-zh.pt", cfg)
