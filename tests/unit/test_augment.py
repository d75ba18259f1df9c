"""Augmented training texts, checked on hand-built examples."""

from __future__ import annotations

import pytest

from model.augment import NEGATORS, SLOTS, TEMPLATES, clauses, composed, composed_zh, negated
from model.data import Example
from model.tokenizer import Vocab


def test_negated_copies_put_a_negator_before_short_texts_and_flip_their_label() -> None:
    vocab = Vocab.build([["bad", "good", "a", "mess", "not", "is", "n't", "was", "never", "very", "long", "text"]])
    train = [
        (vocab.encode(["bad"]), 0),
        (vocab.encode(["a", "mess"]), 0),
        (vocab.encode(["good"]), 1),
        (vocab.encode(["very", "long", "text"]), 1),
    ]
    out = negated(train, 2, vocab, seed=1)
    assert [label for _, label in out] == [1, 1, 0]  # the 3-token text is left out
    negators = [" ".join(n) for n in NEGATORS]
    for (ids, _), (orig, _) in zip(out, train[:3], strict=True):
        words = [vocab.itos[i] for i in ids]
        n = len(words) - len(orig)
        assert " ".join(words[:n]) in negators
        assert ids[n:] == orig
    assert negated(train, 2, vocab, seed=1) == out
    assert len({tuple(ids[:-1]) for ids, _ in negated(train * 20, 1, vocab, seed=2)}) > 1  # negators vary
    with pytest.raises(ValueError, match="negators"):
        negated(train, 2, Vocab.build([["bad", "good"]]), seed=1)  # e.g. a Chinese character vocabulary


def _vocab_and_phrases() -> tuple[Vocab, list[tuple[list[int], int]]]:
    words = {w for text, _ in TEMPLATES for w in text.split() if w not in SLOTS}
    vocab = Vocab.build([[*sorted(words), "awful", "dull", "the", "plot", "great", "fun"]])
    phrases = [(["awful"], 0), (["dull"], 1), (["the", "plot"], 2), (["great"], 3), (["fun"], 4)]
    return vocab, [(vocab.encode(words), label) for words, label in phrases]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("not great", 1),  # a negated positive is negative
        ("hardly dull", 3),  # a negated negative is positive ("not bad")
        ("i did n't find it the plot", 2),  # a negation with nothing to negate says nothing
        ("nothing awful", 3),
        ("extremely dull", 1),  # intensifiers and diminishers keep the side
        ("i ca n't say it was n't fun", 3),  # a double negation keeps it
        ("neither great nor fun", 1),
        ("dull , but great", 3),  # the clause after "but" decides
        ("although great , awful", 1),
        ("fun , even though dull", 3),  # ... and the main clause before "even though"
        ("i thought it would be awful , but it was fun", 3),
        ("not even great could save dull", 1),  # a good part fails to rescue the whole
        ("awful does not take away from fun", 3),  # ... and a bad one fails to spoil it
    ],
)
def test_composed_texts_take_the_label_of_their_construction(text: str, label: int) -> None:
    vocab, phrases = _vocab_and_phrases()
    made = {" ".join(vocab.itos[i] for i in ids): lab for ids, lab in composed(phrases, 5000, vocab, seed=1)}
    assert made[text] == label


def test_composed_texts_use_every_template_and_are_reproducible() -> None:
    vocab, phrases = _vocab_and_phrases()
    out = composed(phrases, 3000, vocab, seed=3)
    assert len(out) == 3000
    assert composed(phrases, 3000, vocab, seed=3) == out
    texts = [" ".join(vocab.itos[i] for i in ids) for ids, _ in out]
    for template, _ in TEMPLATES:
        fixed = [
            part.strip() for part in template.replace("{b}", "{a}").replace("{n}", "{a}").split("{a}") if part.strip()
        ]
        assert any(all(part in text for part in fixed) for text in texts), template
    assert {label for _, label in out} == {1, 2, 3}  # composed texts get mild labels
    with pytest.raises(ValueError, match="vocabulary"):
        composed(phrases, 10, Vocab.build([["great", "awful"]]), seed=1)


def test_chinese_clauses_are_the_recurring_one_sided_ones() -> None:
    train = [Example("服务很好，房间很干净。", 1)] * 5 + [Example("服务很差，房间很干净！", 0)]
    train += [Example("服务很差，价格2008元", 0)] * 5
    pools = clauses(train)
    assert pools == {0: ["服务很差"], 1: ["服务很好"]}  # "房间很干净" is in both; digits are left out


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我不觉得服务很好", 0),  # a negated clause flips
        ("一点也不差", 1),  # a negated predicate ("很差" without its degree word) flips
        ("太好了", 1),  # a degree word keeps it
        ("不得不说，服务很差", 0),  # a double negation keeps it
        ("没有人不觉得服务很好", 1),
        ("不会不差", 0),
        ("虽然服务很差，但是服务很好", 1),  # the clause after the connective decides
        ("除了服务很好以外，服务很差", 0),
    ],
)
def test_composed_chinese_reviews_take_the_label_of_their_construction(text: str, label: int) -> None:
    train = [Example("服务很好，很好", 1)] * 5 + [Example("服务很差，很差", 0)] * 5
    made = {ex.text: ex.label for ex in composed_zh(train, 3000, seed=1)}
    assert made[text] == label
    with pytest.raises(ValueError, match="clauses"):
        composed_zh(train[:5], 10, seed=1)


def test_the_share_of_negations_on_a_neutral_phrase_is_the_recipes() -> None:
    vocab, phrases = _vocab_and_phrases()

    def neutral(share: float) -> int:
        return sum(label == 2 for _, label in composed(phrases, 3000, vocab, seed=3, neutral_share=share))

    assert composed(phrases, 3000, vocab, seed=3, neutral_share=0.2) == composed(phrases, 3000, vocab, seed=3)
    assert neutral(0.0) == 0  # only a negated neutral phrase is a neutral composition
    assert neutral(0.2) < neutral(0.34) < neutral(1.0)
