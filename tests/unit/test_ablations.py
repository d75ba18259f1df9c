"""Research tooling: the ablation rows are data (a frozen base recipe plus overrides), each one valid."""

from __future__ import annotations

import pytest

from model.recipe import TrainConfig
from research.ablations import load_rows, measured, render


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_row_is_a_valid_config_or_names_the_commit_that_reruns_it(lang: str) -> None:
    bases, rows = load_rows(lang)
    assert rows
    for row in rows:
        if row.removed:
            assert row.rerun_at
            kept = set(row.removed) & set(TrainConfig.model_fields)
            assert not kept or row.changed, kept  # really gone from the product, or its meaning changed
            with pytest.raises(ValueError, match="rerun it at"):
                row.config(bases)
        else:
            cfg = row.config(bases)
            assert cfg.lang == lang
            for key, value in row.overrides.items():
                assert getattr(cfg, key) == value


def test_a_row_keeps_its_meaning_when_the_shipped_recipe_changes() -> None:
    """Bases are complete: nothing in a row's config comes from `model/recipes/`."""
    bases, _rows = load_rows("en")
    for base in bases.values():
        assert set(TrainConfig.model_fields) - set(base) <= {"data_dir", "out", "cache_dir", "dry_run"}


def test_render_shows_recorded_rows_only() -> None:
    bases, rows = load_rows("zh")
    record = {
        "metrics": {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.25, "ece": 0.1}, "x": {"accuracy": 1.0}},
        "training": {"seconds": 12.0},
    }
    table = render("zh", bases, rows[:2], {rows[1].label: measured(rows[1].label, record)}, "test machine")
    assert rows[1].label in table
    assert rows[0].label not in table
    (line,) = [row for row in table.splitlines() if row.startswith(f"| {rows[1].label} |")]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:4] == ["50.00", "25.00"]
    assert "100.00" in cells  # its set's column
    assert cells[-2:] == ["0.100", "12 s"]
