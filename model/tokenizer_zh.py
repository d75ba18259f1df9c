"""Chinese text -> tokens: one token per CJK character, as the RNN reads one character per step.

Runs of Latin letters and digits stay whole (lower-cased: "WIN7", "15.4"), full-width and
half-width punctuation map to one form, whitespace is dropped. Characters outside the training
vocabulary (rare or traditional forms, emoji without a mapping) become UNK at encoding time.
"""

from __future__ import annotations

import re
import unicodedata

ZH_TOKENIZER_VERSION = 1

# CJK punctuation that NFKC leaves alone, mapped to the ASCII form NFKC gives the full-width ones.
_PUNCT = str.maketrans(
    {
        "。": ".",
        "、": ",",
        "，": ",",
        "；": ";",
        "：": ":",
        "？": "?",
        "！": "!",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "《": "<",
        "》": ">",
        "〈": "<",
        "〉": ">",
        "【": "[",
        "】": "]",
        "〔": "[",
        "〕": "]",
        "（": "(",
        "）": ")",
        "～": "~",
        "〜": "~",
        "·": "·",
        "•": "·",
        "…": "...",
        "—": "-",
        "–": "-",
        "－": "-",
    }
)
# Emoji carry sentiment that reviews express with characters: map the common ones to one.
_EMOJI = {
    **dict.fromkeys("😀😃😄😁😆😊☺🙂😎🤩🥳👌👏🙌✨🎉⭐🌟💯✅😍🥰😘❤♥👍💕💖", "赞"),
    **dict.fromkeys("👎💩🤮🤢😞😔😟🙁☹😕😒🙄😩😫😢😭💔😠😡🤬", "差"),
}
_DROPPED = frozenset("\ufe0e\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400))))
_TOKEN_RE = re.compile(
    r"""
    (?P<latin>[a-z0-9]+(?:\.[0-9]+)?)
  | (?P<ellipsis>\.{2,})
  | (?P<char>\S)
    """,
    re.VERBOSE,
)


def is_cjk(ch: str) -> bool:
    """A CJK ideograph (unified, extension A-F, compatibility)."""
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F or 0xF900 <= cp <= 0xFAFF


def normalize_zh(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_PUNCT)).translate(_PUNCT).lower()
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in text
        if unicodedata.category(c) != "Cf" and c not in _DROPPED
    )


def tokenize_zh(text: str) -> list[str]:
    """One token per CJK character; Latin/digit runs whole; punctuation normalised; no whitespace."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(normalize_zh(text)):
        kind, piece = match.lastgroup, match.group()
        if kind == "ellipsis":
            tokens.append("...")
        elif kind == "char":
            tokens.append(_EMOJI.get(piece, piece))
        else:
            tokens.append(piece)
    return tokens
