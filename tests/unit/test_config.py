"""Settings: the list of models (SENTIMENT_MODELS), its default, and the per-language shorthands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from model.languages import LANGUAGES
from service.config import SHORTHANDS, ModelSpec, Settings

SHIPPED = [ModelSpec(checkpoint=lang.checkpoint_path) for lang in LANGUAGES.values()]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SENTIMENT_* setting from the caller's shell leaks into these tests."""
    for name in os.environ:
        if name.startswith("SENTIMENT_"):
            monkeypatch.delenv(name)


def test_default_serves_every_shipped_checkpoint_in_registry_order() -> None:
    assert Settings().models == SHIPPED
    assert [spec.checkpoint.name for spec in SHIPPED] == ["sentiment-rnn.pt", "sentiment-rnn-zh.pt"]


def test_models_from_the_environment_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"checkpoint": "/m/zh.pt", "sha256": "ab" * 32}, {"checkpoint": "/m/en.pt", "members": 1}]
    monkeypatch.setenv("SENTIMENT_MODELS", json.dumps(entries))
    assert Settings().models == [
        ModelSpec(checkpoint=Path("/m/zh.pt"), sha256="ab" * 32),
        ModelSpec(checkpoint=Path("/m/en.pt"), members=1),
    ]


def test_shorthands_change_their_language_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_CHECKPOINT", "/m/en.pt")
    monkeypatch.setenv("SENTIMENT_ENSEMBLE_MEMBERS", "2")
    monkeypatch.setenv("SENTIMENT_CHECKPOINT_ZH_SHA256", "cd" * 32)
    monkeypatch.setenv("SENTIMENT_ENSEMBLE_MEMBERS_ZH", "1")
    assert Settings().models == [
        ModelSpec(checkpoint=Path("/m/en.pt"), members=2),
        ModelSpec(checkpoint=LANGUAGES["zh"].checkpoint_path, sha256="cd" * 32, members=1),
    ]


@pytest.mark.parametrize("value", ["none", "None", ""])
def test_checkpoint_zh_none_drops_chinese(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SENTIMENT_CHECKPOINT_ZH", value)
    assert Settings().models == [ModelSpec(checkpoint=LANGUAGES["en"].checkpoint_path)]


def test_shorthands_as_keyword_arguments(tmp_path: Path) -> None:
    assert Settings(checkpoint=tmp_path / "a.pt", checkpoint_zh=None).models == [
        ModelSpec(checkpoint=tmp_path / "a.pt")
    ]


def test_models_and_a_shorthand_together_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MODELS", json.dumps([{"checkpoint": "/m/en.pt"}]))
    monkeypatch.setenv("SENTIMENT_CHECKPOINT_ZH", "none")
    with pytest.raises(ValidationError, match=r"set SENTIMENT_MODELS or the shorthands \(SENTIMENT_CHECKPOINT_ZH\)"):
        Settings()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"checkpoint": "/m/en.pt", "member": 1}], "member\n  Extra inputs are not permitted"),
        ([{"checkpoint": "/m/en.pt", "members": 0}], "greater than or equal to 1"),
        ([{"sha256": "ab"}], "checkpoint\n  Field required"),
        ([], "SENTIMENT_MODELS lists no model"),
        ({"checkpoint": "/m/en.pt"}, "Input should be a valid list"),
    ],
)
def test_a_bad_models_list_is_an_error(monkeypatch: pytest.MonkeyPatch, entries: object, message: str) -> None:
    monkeypatch.setenv("SENTIMENT_MODELS", json.dumps(entries))
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_dropping_every_model_is_an_error() -> None:
    with pytest.raises(ValidationError, match="no model to serve"):
        Settings(checkpoint=None, checkpoint_zh=None)


def test_every_shorthand_names_a_setting_a_language_and_a_spec_field() -> None:
    for name, (code, field) in SHORTHANDS.items():
        assert name in Settings.model_fields
        assert code in LANGUAGES
        assert field in ModelSpec.model_fields
    assert len(set(SHORTHANDS.values())) == len(SHORTHANDS)
