"""Language detection for routing: Chinese characters against Latin-script words."""

from __future__ import annotations

import re
from collections.abc import Container

from model.tokenizer_zh import is_cjk

_WORD = re.compile(r"[^\W\d_]+")


def detect(text: str, available: Container[str] = ("en", "zh")) -> str:
    """'zh' when the text has at least as many CJK characters as other-script words, else 'en'.

    A Chinese character carries about as much as a word, so "iPhone很好用" (3 characters, 1 word)
    is Chinese and "the 功夫 scenes were great" (2 characters, 4 words) English. Falls back to
    'en' when no Chinese model is loaded, so every text is still answered.
    """
    if "zh" not in available or text.isascii():  # the common case, in well under a microsecond
        return "en"
    cjk = sum(1 for c in text if is_cjk(c))
    if cjk == 0:
        return "en"
    words = len(_WORD.findall("".join(" " if is_cjk(c) else c for c in text)))
    return "zh" if cjk >= words else "en"
