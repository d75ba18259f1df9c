"""Training texts built from other training texts by a rule of the language (data augmentation)."""

from __future__ import annotations

import random

from model.tokenizer import UNK_ID, Vocab

NEGATORS = (["not"], ["is", "n't"], ["was", "n't"], ["never"])


def negated(
    train: list[tuple[list[int], int]], max_tokens: int, vocab: Vocab, seed: int
) -> list[tuple[list[int], int]]:
    """Each short training text again behind a negator, with the other of the two labels ("bad" ->
    "not bad"). SST-2 has few negated short phrases, so a model trained on it reads "not bad" as "bad"."""
    negators = [vocab.encode(words) for words in NEGATORS]
    if any(UNK_ID in ids for ids in negators):
        raise ValueError("--negations needs the English negators (not, is n't, was n't, never) in the vocabulary")
    rng = random.Random(seed)
    out = []
    for ids, label in train:
        if 1 <= len(ids) <= max_tokens:
            out.append((negators[rng.randrange(len(negators))] + ids, 1 - label))
    return out
