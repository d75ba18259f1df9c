"""Shared fixtures: the data directory, a tiny real checkpoint trained in seconds, and apps on it."""

from __future__ import annotations

import os
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from model.checkpoint import Checkpoint, save_checkpoint
from model.data import IMDB_FILE, default_data_dir
from model.evaluate import corpus_of, score
from model.recipe import TrainConfig
from model.train import train
from service.app import create_app
from service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "model" / "artifacts" / "sentiment-rnn.pt"


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread, as the service runs: with two, a busy 2-core machine slows torch >10x."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The labelled data; CI sets SENTIMENT_DATA_DIR and SENTIMENT_REQUIRE_DATA=1 (missing data fails)."""
    path = default_data_dir()
    if not (path / "sst2" / "stsa.binary.test").is_file():
        if os.environ.get("SENTIMENT_REQUIRE_DATA") == "1":
            pytest.fail(f"SENTIMENT_REQUIRE_DATA=1 but no data in {path}")
        pytest.skip(f"data not found in {path}; set SENTIMENT_DATA_DIR (see README)")
    return path


# Reviews kept per IMDB split and label in `lean_data_dir`.
LEAN_IMDB_REVIEWS = 100


@pytest.fixture(scope="session")
def lean_data_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The real data with IMDB's archive cut to its first reviews of each split and label: for tests
    of the tools on tiny models, which would otherwise spend most of their time unpacking and
    reading 50,000 reviews (the shipped models' tests read them all)."""
    lean = tmp_path_factory.mktemp("lean-data")
    for entry in data_dir.iterdir():
        if entry.name != Path(IMDB_FILE).parts[0]:
            (lean / entry.name).symlink_to(entry.resolve())
    (lean / IMDB_FILE).parent.mkdir()
    kept: Counter[tuple[str, str]] = Counter()  # (split, label) -> reviews copied
    with tarfile.open(data_dir / IMDB_FILE) as src, tarfile.open(lean / IMDB_FILE, "w:gz") as dst:
        for member in src:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and kept[parts[1], parts[2]] < LEAN_IMDB_REVIEWS:
                kept[parts[1], parts[2]] += 1
                dst.addfile(member, src.extractfile(member))
    return lean


def tiny_config(data_dir: Path, out: Path, seed: int = 7) -> TrainConfig:
    return TrainConfig(
        data_dir=str(data_dir),
        out=str(out),
        seed=seed,
        epochs=2,
        embedding_dim=16,
        hidden_size=12,
        batch_size=32,
        dry_run=True,
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A real bidirectional checkpoint trained on an SST-2 subset in a few seconds."""
    out = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    ckpt, _ = train(tiny_config(data_dir, out))
    save_checkpoint(ckpt, out)
    return out


@pytest.fixture(scope="session")
def tiny_uni_checkpoint(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A unidirectional, two-layer variant, for code paths that differ by architecture."""
    out = tmp_path_factory.mktemp("ckpt") / "tiny-uni.pt"
    cfg = tiny_config(data_dir, out).override(bidirectional=False, num_layers=2, pooling="last", epochs=1)
    ckpt, _ = train(cfg)
    save_checkpoint(ckpt, out)
    return out


@pytest.fixture(scope="session")
def tiny_zh_checkpoint(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A real Chinese ensemble of two members reading characters and left bigrams."""
    out = tmp_path_factory.mktemp("ckpt") / "tiny-zh.pt"
    cfg = TrainConfig(
        lang="zh",
        data_dir=str(data_dir),
        out=str(out),
        seed=3,
        members=2,
        epochs=1,
        embedding_dim=16,
        hidden_size=10,
        pooling="mean+max",
        bigram_min_freq=2,
        fgm=1.0,
        word_dropout=0.1,
        dry_run=True,
    )
    ckpt, _ = train(cfg)
    save_checkpoint(ckpt, out)
    return out


@pytest.fixture
def settings(tiny_checkpoint: Path) -> Settings:
    return Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def dev_test(ckpt: Checkpoint, data_dir: Path) -> dict[str, Any]:
    """`model.evaluate.score` on dev and test only, each text read as one sequence (seconds, not
    the minutes the evaluation sets' 25,000 IMDB reviews take)."""
    corpus = corpus_of(ckpt, data_dir)
    corpus.extra = {}
    return score(ckpt, corpus, documents=False)


def assert_same_prediction(a: dict[str, Any], b: dict[str, Any], atol: float = 1e-5) -> None:
    """Two answers for the same text agree: exact fields equal, floats within ``atol``."""
    assert a["label"] == b["label"]
    for key in ("tokens", "unknown_tokens", "truncated", "language", "model_version"):
        assert a[key] == b[key], key
    assert a["probabilities"] == pytest.approx(b["probabilities"], abs=atol)
    for sa, sb in zip(a["hidden_state"]["states"], b["hidden_state"]["states"], strict=True):
        for key in ("l2_norm", "mean", "std", "min", "max"):
            assert sa[key] == pytest.approx(sb[key], abs=atol), key
        assert [u["index"] for u in sa["top_units"]] == [u["index"] for u in sb["top_units"]]
    if a.get("explanation") or b.get("explanation"):
        ca = [t["contribution"] for t in a["explanation"]["tokens"]]
        cb = [t["contribution"] for t in b["explanation"]["tokens"]]
        assert ca == pytest.approx(cb, abs=10 * atol)
