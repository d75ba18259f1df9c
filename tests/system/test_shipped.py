"""The shipped checkpoints, as users get them: they load, verify, reach their measured accuracy and
serve. The thresholds are the levels `python -m model.evaluate` measured for the committed files
(see the model cards), a little below so that a torch upgrade's rounding does not flip them; a
retrained checkpoint that does worse fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model.checkpoint import load_checkpoint
from model.data import sha256_file
from model.evaluate import baselines, evaluate
from model.languages import language
from service.app import create_app
from service.config import Settings

# lang -> (minimum test accuracy, maximum test ECE); for Chinese the minimum is the target.
LEVELS = {"en": (0.85, 0.05), "zh": (0.93, 0.05)}
ZH_UNSEEN_MIN = 0.91  # measured 91.48% on the 869 test texts not in train
SHORT_NEGATIONS_MIN = 0.88  # measured 92% (23 of 25); the model before negated training copies: 44%


@pytest.mark.parametrize("lang", sorted(LEVELS))
def test_shipped_checkpoint_is_small_verified_and_self_describing(lang: str) -> None:
    path = language(lang).checkpoint_path
    assert path.stat().st_size < 25 * 2**20, "the issue's size budget is 25 MB"
    assert Path(f"{path}.sha256").read_text().split()[0] == sha256_file(path)
    ckpt = load_checkpoint(path)
    assert ckpt.language == lang
    assert ckpt.labels == ("negative", "positive")
    assert {"dev", "test"} <= set(ckpt.metrics)
    assert ckpt.training["data_files"], "the training data's SHA-256 are recorded"
    record = json.loads(path.with_suffix(".metrics.json").read_text())
    assert record["checkpoint"]["sha256"] == sha256_file(path)


@pytest.fixture(scope="module")
def metrics_of(data_dir: Path) -> dict[str, dict[str, Any]]:
    """`model.evaluate`'s metrics of each shipped checkpoint, computed once for this module."""
    return {lang: evaluate(load_checkpoint(language(lang).checkpoint_path), data_dir) for lang in LEVELS}


@pytest.mark.parametrize("lang", sorted(LEVELS))
def test_shipped_checkpoint_reaches_its_measured_accuracy(lang: str, metrics_of: dict[str, dict[str, Any]]) -> None:
    ckpt = load_checkpoint(language(lang).checkpoint_path)
    measured = metrics_of[lang]
    min_accuracy, max_ece = LEVELS[lang]
    assert measured["test"]["accuracy"] >= min_accuracy
    assert measured["test"]["ece"] <= max_ece
    assert measured["test"]["n"] == {"en": 1821, "zh": 1200}[lang]
    # The numbers stored in the checkpoint (and so in the model card and /model) are what it does.
    for split in ("dev", "test"):
        assert measured[split]["accuracy"] == pytest.approx(ckpt.metrics[split]["accuracy"], abs=1e-6)


def test_english_model_beats_vader_on_text_from_other_domains(
    data_dir: Path, metrics_of: dict[str, dict[str, Any]]
) -> None:
    pytest.importorskip("vaderSentiment")
    ours = metrics_of["en"]["other-domains"]["accuracy"]
    vader = next(iter(baselines("en", data_dir).values()))["other-domains"]
    assert ours > vader


def test_english_model_reads_short_negations(metrics_of: dict[str, dict[str, Any]]) -> None:
    """Before negated training copies, "Not bad." came out negative and this set scored 44%."""
    negations = metrics_of["en"]["short-negations"]
    assert negations["n"] == 25
    assert negations["accuracy"] >= SHORT_NEGATIONS_MIN


def test_chinese_model_holds_up_on_test_texts_not_seen_in_training(metrics_of: dict[str, dict[str, Any]]) -> None:
    unseen = metrics_of["zh"]["test-unseen"]
    assert unseen["n"] == 1200 - 331
    assert unseen["accuracy"] >= ZH_UNSEEN_MIN


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("An utterly delightful, moving film.", "en", "positive"),
        ("This was a dull, lifeless mess!!!", "en", "negative"),
        ("The food was great and the staff were so friendly :)", "en", "positive"),
        ("Not bad at all!", "en", "positive"),
        ("The service was not friendly.", "en", "negative"),
        ("房间很干净，服务也很周到，下次还会再来。", "zh", "positive"),
        ("质量太差了，用了两天就坏了，不推荐。", "zh", "negative"),
    ],
)
def test_service_on_the_shipped_models(text: str, lang: str, label: str) -> None:
    with TestClient(create_app(Settings())) as client:
        body = client.post("/predict", json={"text": text}).json()
    assert (body["language"], body["label"]) == (lang, label)
    assert body["score"] > 0.5
