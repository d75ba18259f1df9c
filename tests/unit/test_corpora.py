"""The treebank's dev measures of negation and contrast: which dev phrases they hold, on hand-made trees."""

from __future__ import annotations

from model.corpora import CONNECTIVES, NEGATORS, _holding, _phrases_of
from model.data import parse_tree

TREES = [
    "(1 (2 It) (1 (2 's) (1 (2 not) (3 good))))",
    "(3 (1 (2 Slow) (2 ,)) (3 (2 but) (3 (2 well) (3 acted))))",
    "(1 (2 not) (3 good))",  # a repeat of a phrase of the first tree
]


def test_dev_phrases_are_distinct_and_of_two_or_more_tokens() -> None:
    phrases = _phrases_of([parse_tree(line) for line in TREES])
    assert [ex.text for ex in phrases.values()] == [
        "It 's not good",
        "'s not good",
        "not good",
        "Slow , but well acted",
        "Slow ,",
        "but well acted",
        "well acted",
    ]


def test_negation_and_contrast_phrases_hold_one_of_their_words() -> None:
    phrases = _phrases_of([parse_tree(line) for line in TREES])
    negation = [(ex.text, ex.label) for ex in _holding(phrases, NEGATORS)]
    contrast = [ex.text for ex in _holding(phrases, CONNECTIVES)]
    assert negation == [("It 's not good", 1), ("'s not good", 1), ("not good", 1)]
    assert contrast == ["Slow , but well acted", "but well acted"]
