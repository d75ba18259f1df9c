"""Training texts built from other training texts by a rule of the language (data augmentation)."""

from __future__ import annotations

import random

from model.scale import BINARY, FIVE
from model.tokenizer import UNK_ID, Vocab

NEGATORS = (["not"], ["is", "n't"], ["was", "n't"], ["never"])
# The label of a negated text, per label of the text. Polar labels swap; on the five-point scale,
# as the treebank labels its own negated short phrases: a negated positive is negative, a negated
# negative is positive ("not bad"), and a neutral text gets no copy ("not the" says nothing).
NEGATED_LABEL: dict[tuple[str, ...], dict[int, int]] = {
    BINARY: {0: 1, 1: 0},
    FIVE: {0: 3, 1: 3, 3: 1, 4: 1},
}


def negated(
    train: list[tuple[list[int], int]], max_tokens: int, vocab: Vocab, seed: int, labels: tuple[str, ...] = BINARY
) -> list[tuple[list[int], int]]:
    """Each short polar training text again behind a negator, with the label a negation gives it
    ("bad" -> "not bad"): the training data have few negated short phrases, so without the copies
    the model reads "not bad" as "bad"."""
    negators = [vocab.encode(words) for words in NEGATORS]
    if any(UNK_ID in ids for ids in negators):
        raise ValueError("--negations needs the English negators (not, is n't, was n't, never) in the vocabulary")
    flip = NEGATED_LABEL[labels]
    rng = random.Random(seed)
    out = []
    for ids, label in train:
        if 1 <= len(ids) <= max_tokens and label in flip:
            out.append((negators[rng.randrange(len(negators))] + ids, flip[label]))
    return out
