"""Training texts built from other training texts by a rule of the language (data augmentation)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from model.data import Example
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


def _vader_valences() -> dict[str, float]:
    """VADER's lexicon (vaderSentiment, MIT): token -> mean valence of its raters, -4 .. 4."""
    from importlib.resources import files

    out = {}
    for line in files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out[parts[0]] = float(parts[1])
    return out


def lexicon_words(train: list[Example], tokenize: Callable[[str], list[str]]) -> list[Example]:
    """VADER's words that are not a one-word training text, each labelled on the training scale.

    The valence bands are fitted to the words both have, so a lexicon word is labelled as the
    treebank labels words like it (its annotators call mildly polar single words neutral)."""
    single: dict[str, Counter[int]] = {}
    for ex in train:
        tokens = tokenize(ex.text)
        if len(tokens) == 1:
            single.setdefault(tokens[0], Counter())[ex.label] += 1
    labelled = {w: c.most_common(1)[0][0] for w, c in single.items()}
    valences = {w: v for w, v in _vader_valences().items() if len(tokenize(w)) == 1}
    both = [w for w in valences if w in labelled]
    grid = [(a / 10, b / 10) for a in range(3, 16) for b in range(a + 1, 36)]
    bands = max(grid, key=lambda ab: sum(_band(valences[w], *ab) == labelled[w] for w in both))
    return [Example(w, _band(v, *bands)) for w, v in sorted(valences.items()) if w not in labelled]


def _band(valence: float, weak: float, strong: float) -> int:
    """The five-point label of a valence: |v| < weak neutral, >= strong very polar."""
    if valence <= -strong:
        return 0
    if valence <= -weak:
        return 1
    if valence < weak:
        return 2
    return 3 if valence < strong else 4
