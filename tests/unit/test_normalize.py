"""Text normalization through cached translation tables equals its per-character definition."""

from __future__ import annotations

import random
import re
import unicodedata

import opencc

from model.tokenizer import _TRANSLATE, normalize, separate_and_drop, without_markup, without_tags
from model.tokenizer_zh import _EMOJI, _PUNCT, normalize_zh, tokenize_zh

DROPPED = frozenset("\ufe0e\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400))))
TO_SIMPLIFIED = opencc.OpenCC("t2s")
EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def separate_and_drop_definition(text: str) -> str:
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in text
        if unicodedata.category(c) != "Cf" and c not in DROPPED
    )


def tokenize_zh_definition(text: str) -> list[str]:
    text = TO_SIMPLIFIED.convert(without_tags(text))
    text = unicodedata.normalize("NFKC", text.translate(_PUNCT)).translate(_PUNCT).lower()
    text = separate_and_drop_definition(text)
    tokens = re.findall(r"[a-z0-9]+(?:\.[0-9]+)?|\.{2,}|\S", text)
    return ["..." if t.startswith("..") else _EMOJI.get(t, t) for t in tokens]


def test_separate_and_drop_on_every_character() -> None:
    for start in range(0, len(EVERY_CHARACTER), 1 << 14):  # twice: the table's first fill, then its cache
        chunk = EVERY_CHARACTER[start : start + (1 << 14)]
        assert separate_and_drop(chunk) == separate_and_drop_definition(chunk)
        assert separate_and_drop(chunk) == separate_and_drop_definition(chunk)


PIECES = [*"好不差很的了a1Z9.。…．,，!！?？ \n\t\u200b\u200d\ufe0f😀👍🏻👎💩赞~～·•「」《》\u3000\u2028\x00İﬁ①Ａ㎏½"]
PIECES += ["..", "...", "....", "15.4", "WIN7", "1..5", "a...b", "\u0301", "e\u0301", "３．５"]
PIECES += ["<b>", "</p>", "<br />", "<", "&#183;"]


def test_chinese_tokens_equal_their_definition() -> None:
    rng = random.Random(0)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randrange(30))) for _ in range(20_000)]
    texts += [f"好{c}。" for c in EVERY_CHARACTER[::97]]  # a sample of every block, between CJK
    for text in texts:
        assert tokenize_zh(text) == tokenize_zh_definition(text), text


def test_english_normalize_keeps_the_ascii_shortcut_exact() -> None:
    rng = random.Random(1)
    for _ in range(5000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(30)))
        ascii_only = "".join(c for c in text if c.isascii())
        # the long way: markup read (an entity may decode to a non-ASCII character), NFKC, the table
        unmarked = unicodedata.normalize("NFKC", without_markup(ascii_only)).translate(_TRANSLATE)
        assert normalize(ascii_only) == separate_and_drop_definition(unmarked.lower())
    assert normalize_zh("Ｈｉ\u200b！") == "hi!"
