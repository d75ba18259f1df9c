"""Augmented training texts, checked on hand-built examples."""

from __future__ import annotations

import pytest

from model.augment import NEGATORS, negated
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
