"""Language routing: which loaded model answers a text sent without ``lang``, by its script.

Each language record (`model.languages`) names its script. A text goes to the CJK-script model
when it has at least as many CJK characters as other-script words, else to the Latin-script one;
a script with no loaded model falls back to the first loaded language, so every text is answered
(with one model loaded, everything goes to it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from model.languages import LANGUAGES, language
from model.tokenizer import without_tags
from model.tokenizer_zh import CJK_CHARACTER

Script = Literal["latin", "cjk"]  # the values of `model.languages.Language.script`
_WORD = re.compile(r"[^\W\d_]+")


def script_of(text: str) -> Script:
    """'cjk' when the text has at least as many CJK characters as other-script words, else 'latin'.

    A Chinese character carries about as much as a word, so "iPhone很好用" (3 characters, 1 word)
    counts as CJK and "the 功夫 scenes were great" (2 characters, 4 words) as Latin.
    """
    if text.isascii():  # the common case, decided without looking at each character
        return "latin"
    blanked, cjk = CJK_CHARACTER.subn(" ", text)  # counted and blanked out in C
    if cjk == 0:
        return "latin"
    return "cjk" if cjk >= len(_WORD.findall(without_tags(blanked))) else "latin"  # a tag's name is no word


@dataclass(frozen=True)
class Router:
    """The language code that answers each script, chosen once when the models are loaded."""

    latin: str
    cjk: str

    @classmethod
    def among(cls, loaded: Iterable[str]) -> Router:
        """The first loaded language of each script; the first loaded language where none has it."""
        codes = list(loaded)
        if not codes:
            raise ValueError("no language to route to")
        by_script: dict[Script, str] = {}
        for code in codes:
            by_script.setdefault(language(code).script, code)
        return cls(latin=by_script.get("latin", codes[0]), cjk=by_script.get("cjk", codes[0]))

    def __call__(self, text: str) -> str:
        if self.latin == self.cjk:
            return self.latin
        return self.cjk if script_of(text) == "cjk" else self.latin


def detect(text: str, available: Iterable[str] = LANGUAGES) -> str:
    """The language among ``available`` (default: every known one) that would answer ``text``."""
    return Router.among(available)(text)
