"""MPQA's phrases as training texts: the held-out tenth, the labels, repeats and balancing, on a small file."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import data
from model.corpora import mpqa_phrases
from model.data import Example
from model.scale import FIVE

LINES = [
    "0 complaining",  # held out (line 0)
    "0 failing to support",
    "1 praised",
    "0 desperately needs",
    "0 no quick fix",
    "1 hailed",
    "0 Failing to support",  # a repeat once tokenized
    "0 bad",  # the treebank labels it already
    "0 condemned",
    "1 welcomed",
    "0 criticised",  # held out (line 10)
    "1 commended",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "mpqa").mkdir()
    (tmp_path / data.MPQA_FILE).write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return tmp_path


def test_every_tenth_phrase_is_held_out(data_dir: Path) -> None:
    train, held_out = data.read_mpqa(data_dir)
    assert [ex.text for ex in held_out] == ["complaining", "criticised"]
    assert len(train) == len(LINES) - 2
    assert not {ex.text for ex in held_out} & {ex.text for ex in train}


def test_phrases_get_mild_labels_without_repeats_or_treebank_phrases(data_dir: Path) -> None:
    treebank = [Example("bad", FIVE.index("very_negative"))]
    made = mpqa_phrases(data_dir, treebank, balanced=False)
    by_text = {ex.text: FIVE[ex.label] for ex in made}
    assert by_text == {
        "failing to support": "negative",
        "praised": "positive",
        "desperately needs": "negative",
        "no quick fix": "negative",
        "hailed": "positive",
        "condemned": "negative",
        "welcomed": "positive",
        "commended": "positive",
    }


def test_balanced_keeps_as_many_negative_phrases_as_positive(data_dir: Path) -> None:
    made = mpqa_phrases(data_dir, [], balanced=True)
    labels = [FIVE[ex.label] for ex in made]
    assert labels.count("negative") == labels.count("positive") == 4
    assert made == mpqa_phrases(data_dir, [], balanced=True)  # seeded
