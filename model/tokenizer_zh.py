"""Chinese text -> tokens: one token per CJK character, as the RNN reads one character per step.

Traditional characters are read as the simplified ones the model was trained on (OpenCC's
``t2s``, which converts by phrase, so "乾隆" stays while "乾淨" becomes "干净"). Runs of Latin letters
and digits stay whole (lower-cased: "WIN7", "15.4"), full-width and half-width punctuation map to
one form, whitespace is dropped. Characters outside the training vocabulary (rare forms, emoji
without a mapping) become UNK at encoding time.
"""

from __future__ import annotations

import re
import unicodedata

import opencc

from model.tokenizer import CharacterTable, separate_and_drop, without_tags

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
_PUNCT_FORMS = CharacterTable(lambda char: char.translate(_PUNCT))
# Emoji carry sentiment that reviews express with characters: map the common ones to one.
_EMOJI = {
    **dict.fromkeys("😀😃😄😁😆😊☺🙂😎🤩🥳👌👏🙌✨🎉⭐🌟💯✅😍🥰😘❤♥👍💕💖", "赞"),
    **dict.fromkeys("👎💩🤮🤢😞😔😟🙁☹😕😒🙄😩😫😢😭💔😠😡🤬", "差"),
}
# A Latin/digit run, an ellipsis (a run of periods, `_DOTS` writes each as "..."), or one character.
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?|\.{2,}|\S")
_DOTS = re.compile(r"\.{2,}")


def is_cjk(ch: str) -> bool:
    """A CJK ideograph (unified, extension A-F, compatibility)."""
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F or 0xF900 <= cp <= 0xFAFF


# `is_cjk` as a character class, for whole-text passes in C (the service's language routing).
CJK_CHARACTER = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


# ChnSentiCorp is simplified Chinese (a few dozen reviews hold traditional characters); users in
# Taiwan and Hong Kong write traditional, whose characters the model met too rarely to read.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def _simplified(text: str) -> str:
    """``text`` with traditional characters as simplified ones; a text holding a lone surrogate (which
    a JSON escape can make) is left as it is, as OpenCC cannot encode it."""
    if text.isascii():
        return text
    try:
        return str(_TO_SIMPLIFIED.convert(text))
    except UnicodeEncodeError:
        return text


def normalize_zh(text: str) -> str:
    """HTML tags as spaces (`without_tags`), traditional characters as simplified (`_simplified`),
    punctuation to one form, NFKC, lower case, `separate_and_drop`."""
    text = _simplified(without_tags(text)).translate(_PUNCT_FORMS)
    # Nearly every review is NFKC already once its punctuation is mapped (the mapping's forms are
    # ASCII or map to themselves, so mapping again would change nothing): the check is far cheaper.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text).translate(_PUNCT_FORMS)
    return separate_and_drop(text.lower())


def tokenize_zh(text: str) -> list[str]:
    """One token per CJK character; Latin/digit runs whole; punctuation normalised; no whitespace."""
    text = normalize_zh(text)
    if ".." in text:
        text = _DOTS.sub("...", text)
    tokens: list[str] = _TOKEN_RE.findall(text)
    return list(map(_EMOJI.get, tokens, tokens))  # an emoji becomes the character it stands for
