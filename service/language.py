"""Language detection for routing: the share of CJK characters among the letters of a text."""

from __future__ import annotations

from collections.abc import Container

CJK_SHARE = 0.3  # Chinese reviews mix in Latin brand names and numbers; 30% CJK is clearly Chinese.


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F or 0xF900 <= cp <= 0xFAFF


def detect(text: str, available: Container[str] = ("en", "zh")) -> str:
    """'zh' when CJK ideographs make up at least `CJK_SHARE` of the letters, else 'en'.

    Falls back to 'en' when no Chinese model is available, so mixed input is still answered.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters or "zh" not in available:
        return "en"
    cjk = sum(1 for c in letters if is_cjk(c))
    return "zh" if cjk / len(letters) >= CJK_SHARE else "en"
