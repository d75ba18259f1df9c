"""The README documents every setting and its two set-up commands stay first."""

from __future__ import annotations

from pathlib import Path

from service.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"SENTIMENT_{name.upper()}" for name in Settings.model_fields if f"SENTIMENT_{name.upper()}" not in README
    ]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make serve" in first_block
    assert "make test" in first_block
