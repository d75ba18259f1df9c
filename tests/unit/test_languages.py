"""One record per language: each names files that exist and a tokenizer that checkpoints can be checked against."""

from __future__ import annotations

import pytest

from model.corpora import EVAL_SETS, read_eval_set
from model.languages import LANGUAGES, language, tokenizer_for


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_record_is_complete(code: str) -> None:
    record = language(code)
    assert record.code == code
    assert record.checkpoint_path.is_file()
    assert record.recipe_path.is_file()
    assert record.intended_use
    assert record.targets
    assert record.corpora
    for name, file in record.eval_sets.items():
        assert (EVAL_SETS / file).is_file(), name
        examples, view = read_eval_set(file)
        labels = {ex.label for ex in examples}
        # Polar sets hold both labels; three-way sets both polar labels, and neutral where they test it.
        assert (labels == {0, 1}) if view == "binary" else ({0, 2} <= labels <= {0, 1, 2}), name
    assert tokenizer_for(record.tokenizer_info) is record.tokenize


def test_unknown_language_and_tokenizers_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        language("fr")
    with pytest.raises(ValueError, match="version"):
        tokenizer_for({"name": "sst-ptb", "version": 99})
    with pytest.raises(ValueError, match="unknown tokenizer"):
        tokenizer_for({"name": "nope", "version": 1})
