"""Text -> sentences, as character offsets into the original string (English and Chinese rules).

Contract of `sentences(text, lang)`:
- each `Span` has `text[span.start:span.end]` equal to one sentence with no surrounding whitespace,
  never empty; spans are in order, do not overlap, and only whitespace lies between them, before the
  first and after the last, so together they cover every non-whitespace character of `text`;
- empty or whitespace-only text gives `[]`; text with no sentence break gives one span (the stripped
  text); the last sentence needs no final punctuation;
- one pass over the text with a bounded amount of work per character: linear time, no regex that
  can backtrack without limit.

Rules (every language):
- a line break ends a sentence (reviews use line breaks as sentence breaks); so does a blank line;
- the full-width terminators 。！？；｡． (and runs of them) end a sentence wherever they stand, except a
  full-width period between digits ("３．５");
- closing quotes and brackets after a terminator, then emoji and emoticons, stay with the sentence
  ("Loved it! 😍 Will return." -> "Loved it! 😍" / "Will return.");
- a piece with no letter, digit or emoji (a stray quote, a second period, "!!!" on a line of its
  own) is not a sentence: it joins the sentence before it, or the one after it when none comes
  before ('screams " break ! "' is one sentence, not two); a text with nothing else is one span.

English rules (any `lang` other than Chinese):
- "." "!" "?" and runs of them ("?!", "!!!") end a sentence when whitespace, an emoji or the end of
  the line follows, so nothing inside "3.5", "v2.0.1", "https://example.com/a.b?c=1" or
  "a.b@c.com" splits;
- an ellipsis ("...", "…") ends a sentence only when an uppercase letter or CJK character (after any
  opening quotes and brackets) or the end of the line follows;
- a period does not end a sentence after an abbreviation (Dr. Mr. Mrs. Ms. Prof. St. vs. e.g. i.e.
  a.m. p.m. U.S. and other dotted letters), a single capital initial ("J. K. Rowling"), a single
  letter before a lowercase word ("philip k. dick", typed in lower case) or a list number at the
  start of a sentence ("1. The plot"); "etc." ends one when a capital follows;
- after a closing quote or bracket, a lowercase next word continues the sentence ('"Great!" he said').

Chinese rules (`lang` "zh", "zh-CN", ...), on top of the English ones: after a CJK character, the
ASCII forms ! ? ; and the ellipses "…", "……", "..." end a sentence too, unless an ASCII letter, a
digit or URL punctuation follows at once; so does an ASCII "." between two CJK characters.

Known limits (a missed split only merges two sentences): an abbreviation or dotted acronym that
really ends a sentence ("... in the U.S. It rained") does not split there, nor does a single capital
letter ("plan B. Then"), nor a terminator glued to the next word ("Great!Will return",
"good....does it"); informal Chinese separators such as "~~" or "，" runs are not sentence ends.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Span", "sentences", "split"]


@dataclass(frozen=True, slots=True)
class Span:
    """One sentence: `text[start:end]`, with `start < end`."""

    start: int
    end: int


# Python's str.splitlines() separators (all of them whitespace, so the gaps stay whitespace).
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_CLOSERS = "\"')\\]}»›”’」』）》〕】〉〗〙〛］｝｣"
# A run of candidate terminators, then closing quotes and brackets (which stay with the sentence);
# which runs end a sentence is decided below. Two disjoint classes in a row: no backtracking.
_RUN = re.compile(f"([.!?;…。！？；｡．]+)([{_CLOSERS}]*)")
_NONSPACE = re.compile(r"\S")
_FULL_WIDTH = frozenset("。！？；｡．")
_OPENERS = frozenset("\"'([{«‹“‘「『（《〔【〈〖〘〚［｛｢¿¡")
# Emoticons only; `_tail` checks that a whole token matched. Bounded quantifiers only.
_EMOTICON_START = frozenset(":;=<^xXT-")
_EMOTICON = re.compile(r"[:;=][-'^o]?[)(\]\[DPpOo3/\\|*$@xX]|<3|\^_{0,3}\^|[xX][dD]|T_T|-_-|:'\(")
# Lower-cased words that a period does not end (dotted ones like "e.g", "U.S" match _DOTTED).
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "mx", "dr", "prof", "st", "jr", "sr", "mt", "rev", "fr", "hon", "gen", "col", "capt"}
    | {"lt", "sgt", "gov", "sen", "rep", "pres", "vs", "etc", "cf", "approx", "dept"}
)
_DOTTED = re.compile(r"(?:[A-Za-z]\.){1,6}[A-Za-z]")
_LIST_NUMBER = re.compile(r"\d{1,3}|[A-Za-z]")
_WORD_LOOKBACK = 16  # longer than any abbreviation: how far back a period's word is read
_OPENER_LOOKAHEAD = 4  # opening quotes/brackets skipped when looking at the next sentence's start
_URL_PUNCT = frozenset("/=&#%@_")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def sentences(text: str, lang: str = "en") -> list[Span]:
    """The sentences of `text` in order, as spans into `text`; see the module docstring."""
    cjk = _is_chinese(lang)
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        start, end = line.span()
        for cut in _cuts(text, start, end, cjk):
            _emit(text, start, cut, spans)
            start = cut
        _emit(text, start, end, spans)
    return _without_bare_punctuation(text, spans)


@functools.lru_cache(maxsize=64)
def _is_chinese(lang: str) -> bool:
    return lang.lower().replace("_", "-").split("-")[0] == "zh"


def split(text: str, lang: str = "en") -> list[str]:
    """The sentences of `text` as strings (`text[s.start:s.end]` for each span)."""
    return [text[s.start : s.end] for s in sentences(text, lang)]


def _emit(text: str, start: int, end: int, spans: list[Span]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        start += len(piece) - len(piece.lstrip())
        spans.append(Span(start, start + len(stripped)))


def _without_bare_punctuation(text: str, spans: list[Span]) -> list[Span]:
    """The spans with each one that holds no letter, digit or emoji merged into its neighbour: the
    previous sentence, else the next one (the model would read a lone "." as a sentence of its own)."""
    out: list[Span] = []
    leading: int | None = None  # where bare spans before the first real sentence began
    for span in spans:
        if not any(ch.isalnum() or _is_emoji(ch) for ch in text[span.start : span.end]):
            if out:
                out[-1] = Span(out[-1].start, span.end)
            elif leading is None:
                leading = span.start
            continue
        out.append(span if leading is None else Span(leading, span.end))
        leading = None
    if leading is not None:  # nothing but punctuation: one span
        out.append(Span(leading, spans[-1].end))
    return out


def _cuts(text: str, ls: int, le: int, cjk: bool) -> list[int]:
    """Offsets inside the line [ls, le) where a sentence ends, in increasing order."""
    cuts: list[int] = []
    last = ls  # where the current sentence began (before its leading whitespace)
    first = _first_nonspace(text, ls, le)  # its first character
    for run in _RUN.finditer(text, ls, le):
        rs = run.start()
        if rs < last:  # inside what the previous cut already took (";)" after a terminator)
            continue
        chars, p = run.group(1), run.end()
        if p == le or text[p:le].isspace():
            break  # only whitespace follows: the line's end ends this sentence whatever the run is
        full_width = not _FULL_WIDTH.isdisjoint(chars)
        if not full_width and p < le and text[p] in _ASCII_ALNUM:
            continue  # inside a decimal, version, URL, e-mail or "a.b": the commonest run, so settled first
        if full_width:
            if _decimal_point(text, rs, chars, p, le):
                continue
            cut: int | None = _tail(text, p, le)[0]
        elif cjk and rs > ls and _is_cjk(text[rs - 1]) and _cjk_ends(text, chars, p, le):
            cut = _tail(text, p, le)[0]
        else:
            cut = _english(text, le, rs, chars, p, bool(run.group(2)), first)
        if cut is not None:
            cuts.append(cut)
            last = cut
            first = _first_nonspace(text, cut, le)
    return cuts


def _first_nonspace(text: str, p: int, le: int) -> int:
    m = _NONSPACE.search(text, p, le)
    return m.start() if m else le


def _decimal_point(text: str, rs: int, chars: str, p: int, le: int) -> bool:
    # The full-width period is also a decimal point between full-width digits: "３．５".
    return chars == "．" and rs > 0 and text[rs - 1].isdigit() and p < le and text[p].isdigit()


def _cjk_ends(text: str, chars: str, p: int, le: int) -> bool:
    """Whether an ASCII run after CJK text ends a sentence (closers up to p)."""
    if p == le:
        return True
    nxt = text[p]
    if chars == ".":  # only between CJK characters: "很好.下次" but not "3.5分", "a.b"
        return _is_cjk(nxt)
    return not ((nxt.isascii() and nxt.isalnum()) or nxt in _URL_PUNCT)


def _english(text: str, le: int, rs: int, chars: str, p: int, closed: bool, first: int) -> int | None:
    """Where the sentence ends if the run `chars` at rs (then closers up to p) ends one by English rules."""
    if p < le and not (text[p].isspace() or text[p] in _EMOTICON_START or _is_emoji(text[p])):
        return None  # glued to what follows ("a.b?c", "end.(", "好.下"): no split without a gap
    chars = chars.replace(";", "")  # an English semicolon never ends a sentence
    if not chars:
        return None
    cut, emoji = _tail(text, p, le)
    if not (cut == le or text[cut].isspace() or emoji):
        return None  # glued to something that only looked like an emoticon: "end.:Dave"
    nxt = _next_start(text, cut, le)
    if "!" in chars or "?" in chars:
        return None if closed and nxt.islower() else cut
    if len(chars) > 1 or chars == "…":  # an ellipsis: a pause unless a new sentence starts
        return cut if nxt == "" or nxt.isupper() or _is_cjk(nxt) else None
    if closed and nxt.islower():
        return None
    word, at_start = _word_before(text, rs, first)
    lower = word.lower()
    if lower == "etc":
        return cut if nxt.isupper() else None
    if lower in _ABBREVIATIONS or _DOTTED.fullmatch(word):
        return None
    if len(word) == 1 and (word.isupper() or (word.isalpha() and nxt.islower())):  # "J. K. Rowling", "john q. public"
        return None
    if at_start and _LIST_NUMBER.fullmatch(word):  # "1. The plot", "a. Pros"
        return None
    return cut


def _word_before(text: str, rs: int, first: int) -> tuple[str, bool]:
    """The word that ends at rs (opening quotes/brackets dropped), read back at most a few characters,
    and whether it is the first word of the sentence whose first character is at `first`."""
    lo = max(first, rs - _WORD_LOOKBACK)
    chunk = text[lo:rs]
    i = len(chunk)
    while i > 0 and not chunk[i - 1].isspace():
        i -= 1
    if i == 0 and lo > first:
        return "", False  # longer than any abbreviation (or the run ends a long token): an ordinary word
    word = chunk[i:]
    at_start = lo + i == first
    while word and word[0] in _OPENERS:
        word = word[1:]
    return word, at_start


def _next_start(text: str, p: int, le: int) -> str:
    """The first character of what follows p on the line (after whitespace and openers), or ''."""
    while p < le and text[p].isspace():
        p += 1
    q = p
    for _ in range(_OPENER_LOOKAHEAD):
        if q < le and text[q] in _OPENERS:
            q += 1
    if q < le and not text[q].isspace():
        return text[q]
    return text[p] if p < le else ""  # openers that open nothing count as themselves


def _tail(text: str, p: int, le: int) -> tuple[int, bool]:
    """Extend the end of a sentence at p over the emoji and emoticons that follow it (across spaces).
    Returns the new end and whether an emoji was taken."""
    end, took_emoji = p, False
    q = p
    while True:
        while q < le and text[q].isspace():
            q += 1
        if q < le and _is_emoji(text[q]):
            while q < le and (_is_emoji(text[q]) or text[q] in "\u200d\ufe0e\ufe0f\u20e3"):
                q += 1
            end, took_emoji = q, True
            continue
        m = _EMOTICON.match(text, q, le) if q < le and text[q] in _EMOTICON_START else None
        # An emoticon must be a whole token: "Great! :Dave" keeps its "D".
        if m and (m.end() == le or text[m.end()].isspace() or _is_emoji(text[m.end()])):
            q = end = m.end()
            continue
        return end, took_emoji


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return o >= 0x2300 and (
        0x1F000 <= o <= 0x1FAFF  # pictographs, emoticons, transport, flags, skin tones, ...
        or 0x2600 <= o <= 0x27BF  # miscellaneous symbols and dingbats (❤ ✨ ☀)
        or 0x2B00 <= o <= 0x2BFF  # ⭐ ⬆
        or 0x2300 <= o <= 0x23FF  # ⌛ ⏰
        or 0xE0020 <= o <= 0xE007F  # tag characters of subdivision flags
    )


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF  # unified ideographs
        or 0x3400 <= o <= 0x4DBF  # extension A
        or 0x20000 <= o <= 0x3134F  # extensions B-G
        or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
        or 0x3000 <= o <= 0x30FF  # CJK punctuation, kana
        or 0xFF01 <= o <= 0xFF65  # full-width forms and half-width punctuation
        or 0xAC00 <= o <= 0xD7AF  # hangul
        or ch in "”’"  # a closing quote inside Chinese text: '他说“好”!'
    )
