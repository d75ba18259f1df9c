"""Training texts built from other training texts by a rule of the language (data augmentation)."""

from __future__ import annotations

import random
import re

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


# Sentences composed from labelled training phrases by the rule of an English construction,
# templates in the tokenizer's form ("was n't"), one per line. `{n}` is a subject: a neutral phrase
# that starts with a determiner ("the room"). A rule names the sides the slots take and the side of
# the whole: "flip" `{a}`'s side flips (a neutral `{a}` stays neutral: "not" alone says nothing);
# "keep" it stays; "neither" `{a}` and `{b}` of one side, the whole the other; "contrast" `{a}` and
# `{b}` of opposite sides, `{b}` decides; "save" / "spoil" `{a}` positive and `{b}` negative (or the
# reverse), `{b}` decides.
_FLIP = """not {a} | is n't {a} | was n't {a} | it is not {a} | it was n't {a} | never {a} | hardly {a}
barely {a} | far from {a} | nothing {a} | none of it was {a} | no one found it {a} | not one part was {a}
i did n't find it {a} | i would n't call it {a} | it did not manage to be {a} | i do n't think it was {a}
it never felt {a} | they could not make it {a} | it was less {a} than i expected
{n} is not {a} | {n} was not {a} | {n} is n't {a} | {n} was n't {a} | {n} were n't {a} | {n} are not {a}
{n} did n't feel {a} | {n} does n't look {a} | {n} did not seem {a} | {n} was never {a}
{n} is hardly {a} | {n} was far from {a} | {n} was not {a} at all | {n} does not have {a}
i did not think {n} was {a} | no one would say {n} is {a}"""
_KEEP = """very {a} | really {a} | extremely {a} | a bit {a} | slightly {a} | somewhat {a} | pretty {a}
{n} was really {a} | {n} is a little {a} | i ca n't say it was n't {a} | i ca n't say {n} was n't {a}
it is not that it was n't {a}"""
_CONTRAST = """{a} , but {b} | {a} , yet {b} | {a} . however , {b} | although {a} , {b} | though {a} , {b}
even though {a} , {b} | despite {a} , {b} | {b} , although {a} | {b} , though {a} | {b} , even though {a}
{b} despite {a} | {b} , even if {a} | {n} was {a} , but {b}
i thought it would be {a} , but it was {b} | i expected {a} , but {n} was {b}"""
TEMPLATES: tuple[tuple[str, str], ...] = (
    *(
        (t.strip(), rule)
        for rule, block in (("flip", _FLIP), ("keep", _KEEP), ("contrast", _CONTRAST))
        for t in block.replace("\n", " | ").split(" | ")
    ),
    ("neither {a} nor {b}", "neither"),
    ("not even {a} could save {b}", "save"),
    ("{a} is not enough to make up for {b}", "save"),
    ("not even {a} could spoil {b}", "spoil"),
    ("{a} does not take away from {b}", "spoil"),
)
SIDE_LABEL = {-1: 1, 0: 2, 1: 3}  # the five-point label a composed text gets: a mild one
DETERMINERS = frozenset(["the", "a", "an", "this", "that", "its", "his", "her", "their", "my", "our", "your"])
SLOTS = ("{a}", "{b}", "{n}")
TEMPLATE_WORDS = frozenset(t for text, _ in TEMPLATES for t in text.split() if t not in SLOTS)


def side(label: int) -> int:
    """-1, 0 or +1: the side of a five-point label."""
    return (label > 2) - (label < 2)


def composed(
    train: list[tuple[list[int], int]],
    count: int,
    vocab: Vocab,
    seed: int,
    max_tokens: int = 8,
    neutral_share: float = 0.2,
) -> list[tuple[list[int], int]]:
    """``count`` texts built by TEMPLATES from the five-point training phrases of 1 to
    ``max_tokens`` tokens, each with the label its rule gives: the treebank has few phrases where a
    negator, quantifier or connective meets a phrase of each polarity, so the model reads the word,
    not the construction ("nothing wrong" as negative). ``neutral_share`` of the negations take a
    neutral phrase (the whole stays neutral)."""
    pools: dict[int, list[list[int]]] = {-1: [], 0: [], 1: []}
    subjects = []
    determiners = {vocab.encode([w])[0] for w in DETERMINERS if w in vocab}
    for ids, label in train:
        if 1 <= len(ids) <= max_tokens:
            pools[side(label)].append(ids)
            if label == 2 and 2 <= len(ids) <= 4 and ids[0] in determiners and UNK_ID not in ids:
                subjects.append(ids)
    templates = []  # each token is a slot or its id, encoded once
    for text, rule in TEMPLATES:
        tokens = [t if t in SLOTS else vocab.encode([t])[0] for t in text.split()]
        if UNK_ID in tokens:
            raise ValueError(f"template {text!r} has a word outside the vocabulary")
        if subjects or "{n}" not in tokens:
            templates.append((tokens, rule))
    rng = random.Random(seed)
    out: list[tuple[list[int], int]] = []
    while len(out) < count:
        tokens, rule = templates[rng.randrange(len(templates))]
        if rule != "flip":
            a_side = rng.choice((-1, 1))
        elif neutral_share == 0.2:  # the draw before a third: older runs and ablation rows rerun as they ran
            a_side = rng.choice((-1, 1, 1, -1, 0))
        else:
            a_side = 0 if rng.random() < neutral_share else rng.choice((-1, 1))
        if rule == "save":
            a_side = 1
        elif rule == "spoil":
            a_side = -1
        b_side = a_side if rule == "neither" else -a_side
        whole = {"flip": -a_side, "keep": a_side, "neither": -a_side}.get(rule, b_side)
        slot = {"{a}": rng.choice(pools[a_side]), "{b}": rng.choice(pools[b_side]), "{n}": rng.choice(subjects)}
        out.append(([i for t in tokens for i in (slot[t] if isinstance(t, str) else [t])], SIDE_LABEL[whole]))
    return out


# Chinese: ChnSentiCorp labels whole reviews, not phrases, so the polar pieces are the reviews'
# short clauses that recur in reviews of one side ("服务很好" in positive ones): a clause seen
# CLAUSE_MIN_COUNT+ times, CLAUSE_PURITY of them with one label, takes that label. A predicate is
# such a clause after its leading degree word ("很干净" -> "干净"), for templates that put a negator
# or a degree word in front of it.
CLAUSE_SPLIT = re.compile(r"[，。！？；、,.!?;~～…\s]+")
CLAUSE_MIN_COUNT = 5
CLAUSE_PURITY = 0.9
DEGREE = ("非常", "特别", "比较", "十分", "很", "太", "挺", "蛮")
ZH_TEMPLATES: tuple[tuple[str, str], ...] = (
    *(
        (t.strip(), rule)
        for rule, block in (
            ("flip", "我不觉得{a} | 我并不认为{a} | 没有人会说{a} | 并不是{a} | 说{a}？完全没有"),
            ("flip-predicate", "不{p} | 一点也不{p} | 并不{p} | 从来不{p} | 没有那么{p} | 一点都不{p} | 不太{p}"),
            ("keep", "不得不说，{a} | 不能不承认，{a} | 真的，{a}"),
            ("keep-predicate", "太{p}了 | 有点{p} | 挺{p}的 | 非常{p} | 真的很{p}"),
            (
                "contrast",
                "虽然{a}，但是{b} | {a}，可是{b} | {a}，不过{b} | {a}，但{b} | 不是{a}，而是{b} "
                "| 除了{a}以外，{b} | 尽管{a}，{b}",
            ),
        )
        for t in block.split(" | ")
    ),
)


def _predicate(clause: str) -> str:
    for word in DEGREE:
        if clause.startswith(word) and len(clause) > len(word):
            return clause[len(word) :].removesuffix("了").removesuffix("的")
    return ""


def clauses(train: list[Example], min_count: int = CLAUSE_MIN_COUNT) -> dict[int, list[str]]:
    """The training reviews' recurring one-sided clauses, by label (0 negative, 1 positive)."""
    seen: dict[str, list[int]] = {}
    for ex in train:
        for clause in set(CLAUSE_SPLIT.split(ex.text)):
            if 2 <= len(clause) <= 10 and not clause.isascii() and not any(ch.isdigit() for ch in clause):
                seen.setdefault(clause, [0, 0])[ex.label] += 1
    out: dict[int, list[str]] = {0: [], 1: []}
    for clause, counts in sorted(seen.items()):
        total = sum(counts)
        for label in (0, 1):
            if total >= min_count and counts[label] >= CLAUSE_PURITY * total:
                out[label].append(clause)
    return out


def composed_zh(train: list[Example], count: int, seed: int, min_count: int = CLAUSE_MIN_COUNT) -> list[Example]:
    """``count`` Chinese reviews built by ZH_TEMPLATES from the training reviews' one-sided clauses,
    each labelled by its rule (flip: the other side; keep: the same; contrast: `{b}`'s side). A dry
    run's few reviews repeat few clauses: it asks for ``min_count`` 1."""
    pools = clauses(train, min_count)
    predicates = {label: [p for c in pools[label] if (p := _predicate(c)) and "不" not in p] for label in (0, 1)}
    if not all(pools.values()) or not all(predicates.values()):
        raise ValueError("compositions need recurring one-sided clauses of both labels in the training reviews")
    rng = random.Random(seed)
    out: list[Example] = []
    while len(out) < count:
        template, rule = ZH_TEMPLATES[rng.randrange(len(ZH_TEMPLATES))]
        a = rng.randrange(2)
        b = 1 - a
        text = template.format(a=rng.choice(pools[a]), b=rng.choice(pools[b]), p=rng.choice(predicates[a]))
        label = {"flip": b, "flip-predicate": b, "keep": a, "keep-predicate": a}.get(rule, b)
        out.append(Example(text, label))
    return out
