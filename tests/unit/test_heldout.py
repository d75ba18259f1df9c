"""Research tooling: the held-out-words run leaves out exactly the templates with those words."""

from __future__ import annotations

from pathlib import Path

from model import augment
from research.heldout import HELD_OUT, config, holds


def test_held_out_words_are_matched_as_whole_words() -> None:
    assert holds("The food was good, but the service was slow.")
    assert holds("NONE of it worked")
    assert not holds("The butter was fresh and the nonexistent menu...")


def test_the_held_out_run_keeps_every_rule_without_the_words() -> None:
    kept = [(t, rule) for t, rule in augment.TEMPLATES if not holds(t)]
    assert 0 < len(kept) < len(augment.TEMPLATES)
    assert {rule for _, rule in kept} == {rule for _, rule in augment.TEMPLATES}  # each construction still taught
    assert not any(w in t.split() for t, _ in kept for w in HELD_OUT)


def test_runs_are_the_one_member_recipe_with_or_without_compositions() -> None:
    none, held_out = config("none", "data", Path("none.pt")), config("held-out", "data", Path("held-out.pt"))
    assert none.members == held_out.members == 1
    assert none.compositions == 0
    assert held_out.compositions > 0
