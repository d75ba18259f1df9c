"""Text -> tokens -> ids, with the same conventions as the SST-2 training data.

SST-2 is lower-cased, PTB-tokenized text (``is n't``, ``it 's``, ``-lrb-``, ``\\/``). Users send raw
text ("This ISN'T great (at all)!"), so `tokenize` maps raw text onto those conventions and is
idempotent on text that already follows them; otherwise most of what users type would miss the
vocabulary the model was trained on.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import html
import itertools
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

TOKENIZER_VERSION = 1
PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

# Typographic variants that NFKC leaves alone but that mean an ASCII character.
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": " -- ",
        "\u2014": " -- ",
        "\u2015": " -- ",
        "\u2212": "-",
        "\u2026": " ... ",
        "\u3002": ".",
        "\u3001": ",",  # ideographic full stop and comma
    }
)
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_ESCAPED = {"/": "\\/", "*": "\\*"}
# Apostrophe-less contractions common in user text, split the way PTB splits the real ones.
_BARE_NEGATIONS = {
    w + "nt": (w, "n't")
    for w in (
        "do",
        "does",
        "did",
        "is",
        "was",
        "are",
        "were",
        "could",
        "should",
        "would",
        "have",
        "has",
        "had",
        "must",
        "need",
        "might",
    )
}
_BARE_NEGATIONS.update({"cant": ("ca", "n't"), "wont": ("wo", "n't"), "aint": ("ai", "n't")})
# The same for the other clitics, where the bare form is no other English word ("its", "ill", "were",
# "lets" and "id" are, so they stay as written).
_BARE_CONTRACTIONS = {
    **_BARE_NEGATIONS,
    "im": ("i", "'m"),
    **{w + "ve": (w, "'ve") for w in ("i", "you", "we", "they")},
    **{w + "re": (w, "'re") for w in ("you", "they")},
    **{w + "ll": (w, "'ll") for w in ("you", "they", "it")},
    **{w + "s": (w, "'s") for w in ("that", "there", "what", "he", "she")},
}
_SPECIAL_WORDS = {"cannot": ("can", "not")}
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_ABBREVIATIONS = frozenset(
    [
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "vs.",
        "jr.",
        "sr.",
        "st.",
        "mt.",
        "etc.",
        "inc.",
        "ltd.",
        "co.",
        "prof.",
        "gen.",
        "sgt.",
        "lt.",
    ]
)
# Emoticons and emoji carry sentiment that the SST vocabulary lacks; they are rewritten to a word
# the model knows. Kept small and explicit: a reviewer can read the whole table.
_EMOTICONS = {
    ":)": "good",
    ":-)": "good",
    ":d": "great",
    ":-d": "great",
    ";)": "good",
    ";-)": "good",
    "(:": "good",
    ":p": "fun",
    ":(": "bad",
    ":-(": "bad",
    ":'(": "sad",
    "):": "bad",
    ":/": "meh",
    ":-/": "meh",
    "<3": "love",
}
_EMOJI = {
    **dict.fromkeys("😀😃😄😁😆😊☺🙂😎🤩🥳👌👏🙌✨🎉⭐🌟💯✅", "great"),
    **dict.fromkeys("😍🥰😘😻❤♥💕💖💗💓💞💘🧡💛💚💙💜🤍", "love"),
    **dict.fromkeys("😂🤣😹", "hilarious"),
    **dict.fromkeys("👍", "good"),
    **dict.fromkeys("👎💩🤮🤢", "awful"),
    **dict.fromkeys("😞😔😟🙁☹😕😒🙄😩😫🥱😴", "disappointing"),
    **dict.fromkeys("😢😭💔😿", "sad"),
    **dict.fromkeys("😠😡🤬👿", "angry"),
    **dict.fromkeys("😐😑🤷", "meh"),
}
_EMOTICON_RE = "|".join(re.escape(e) for e in sorted(_EMOTICONS, key=len, reverse=True))

_TOKEN_RE = re.compile(
    rf"""
    (?P<url>(?:https?://|www\.)\S+)
  | (?P<emoticon>(?<!\S)(?:{_EMOTICON_RE})(?!\S))
  | (?P<escaped>-[lr][rsc]b-|\\[/*]|``|'')
  | (?P<ellipsis>\.{{2,}})
  | (?P<dash>-{{2,}})
  | (?P<initials>(?:[^\W\d_]\.){{2,}}|\b[b-hj-z]\.(?=\s+\w))
  | (?P<lead>'(?:em|n|til|\d0s|s|re|ve|ll|d|m)\b)
  | (?P<number>\d+(?:(?:[.,:]|\\?/)\d+)*(?:s|th|st|nd|rd)?\b(?:-[^\W_]+)*)
  | (?P<word>[^\W_]+(?:(?:[-']|\\?/)[^\W_]+)*)
  | (?P<symbol>\S)
    """,
    re.VERBOSE,
)
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DROPPED = frozenset("\ufe0e\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400))))


class CharacterTable(dict[int, str]):
    """A `str.translate` table for a per-character ``form``, filled as characters are met: the
    translation runs in C, where a loop over the characters ran in Python, and a character no
    earlier text held costs one call of ``form``."""

    _LIMIT = 1 << 13  # distinct characters remembered (CJK text uses a few thousand); others are worked out each time

    def __init__(self, form: Callable[[str], str]) -> None:
        super().__init__()
        self.form = form

    def __missing__(self, code: int) -> str:
        out = self.form(chr(code))
        if len(self) < self._LIMIT:
            self[code] = out
        return out


def _separated_or_dropped(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf" or char in _DROPPED:
        return ""
    return " " if category in ("Cc", "Zl", "Zp") else char


_SEPARATE_AND_DROP = CharacterTable(_separated_or_dropped)


def separate_and_drop(text: str) -> str:
    """Control characters (NUL, tabs, newlines) and line/paragraph separators become spaces, which
    separate words; format characters (zero-width joiners), variation selectors and skin-tone
    modifiers carry no meaning here and are dropped (English and Chinese alike)."""
    return text.translate(_SEPARATE_AND_DROP)


# HTML that users paste with their text (scraped reviews, web forms): an element's tag separates
# words ("<br />", "<b>", "</p>"), an entity is its character ("&#39;", "&quot;", "&amp;"). Only
# the names of common HTML elements make a tag, so "<3" and "x <y" stay text, and only entities that
# end in ";" are read, so "AT&T" and "r&b" stay as typed.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|blockquote|br|center|cite|code|del|div|em|font|h[1-6]|hr|i|img|ins|li|mark|ol|p|pre"
    r"|q|s|small|span|strike|strong|sub|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.IGNORECASE)
# Markdown emphasis ("**great**", "_awful_", "*sigh*") is the words it wraps: read with its marks,
# "\*" was the treebank's censored-word token and "**Great** product" was answered negative. Only a
# closed pair at word boundaries counts ("f***", "snake_case", "5*" stay), over at most a line's
# short span, so a text of unclosed marks costs linear time.
_EMPHASIS = re.compile(r"(?<![\w*\\])(\*{1,3}|_{1,3})(?![\s*_])(.{1,100}?)(?<![\s\\*_])\1(?![\w*])")


def without_tags(text: str) -> str:
    """``text`` with HTML element tags as spaces (English and Chinese)."""
    return _HTML_TAG.sub(" ", text) if "<" in text else text


def without_markup(text: str) -> str:
    """``text`` with HTML element tags as spaces, character entities decoded and Markdown emphasis
    marks dropped (English; the Chinese training reviews hold entities undecoded and kaomoji such
    as "(*^__^*)", so Chinese reads them as they come)."""
    text = without_tags(text)
    if "&" in text:
        text = _HTML_ENTITY.sub(lambda m: html.unescape(m.group()), text)
    if "*" in text or "_" in text:
        text = _EMPHASIS.sub(r"\2", text)
    return text


def normalize(text: str) -> str:
    """Unicode-normalize and lower-case: full-width forms, smart quotes and dashes become ASCII;
    HTML markup and Markdown emphasis are read as what they display (`without_markup`)."""
    text = without_markup(text)
    if text.isascii():  # the common case, and NFKC, the table and the categories are no-ops on it
        return _ASCII_CONTROL.sub(" ", text.lower())
    return separate_and_drop(unicodedata.normalize("NFKC", text).translate(_TRANSLATE).lower())


def _split_word(word: str) -> list[str]:
    """PTB treatment of one word: clitics, bare negations, escaped slashes, a final period."""
    if len(set(word)) > 1:  # "goooood" -> "good", but "xxx" and "iii" stay
        word = _REPEATS.sub(r"\1\1", word)
    word = word.replace("\\/", "/").replace("/", "\\/")
    if word in _SPECIAL_WORDS:
        return list(_SPECIAL_WORDS[word])
    if word in _BARE_CONTRACTIONS:
        return list(_BARE_CONTRACTIONS[word])
    for clitic in _CLITICS:
        if word.endswith(clitic) and len(word) > len(clitic):
            return [*_split_word(word[: -len(clitic)]), clitic]
    return [word]


@functools.lru_cache(maxsize=1 << 16)
def _split_word_cached(word: str) -> tuple[str, ...]:
    """Words repeat (Zipf): remembering the last 65,536 distinct ones makes the split nearly free."""
    return tuple(_split_word(word))


_INITIAL_LETTERS = frozenset("bcdefghjklmnopqrstuvwxyz")
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _crosses_space(text: str) -> bool:
    r"""Whether `initials`' look-ahead could match here, the only pattern whose match depends on text
    past the next space: r"\b[b-hj-z]\.\s" in normalized ASCII text (lower case, whose only
    whitespace is " "), found through str.find at a fraction of the regex's cost."""
    i = text.find(". ")
    while i != -1:
        if i > 0 and text[i - 1] in _INITIAL_LETTERS and (i == 1 or text[i - 2] not in _ASCII_WORD):
            return True
        i = text.find(". ", i + 2)
    return False


def tokenize(text: str) -> list[str]:
    """Map raw or already-tokenized English text to SST-2's lower-cased PTB conventions.

    The same result as `tokenize_whole`, faster: no token pattern matches across a space, so an
    ASCII text (whose only whitespace after `normalize` is " ") is the concatenation of its
    space-separated chunks' tokens, and chunks repeat as words do, so they are cached.
    """
    text = normalize(text)
    if not text.isascii() or _crosses_space(text):
        return _across_spaces(_tokens(text))
    return _across_spaces(list(itertools.chain.from_iterable(map(_chunk_tokens, text.split()))))


def tokenize_whole(text: str) -> list[str]:
    """The definition of `tokenize`: the token pattern run over the whole normalized text."""
    return _across_spaces(_tokens(normalize(text)))


@functools.lru_cache(maxsize=1 << 16)
def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    return tuple(_tokens(chunk))


def _tokens(text: str) -> list[str]:
    """The token pattern's matches in normalized text, each rewritten to SST's form."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text):
        kind, piece = match.lastgroup, match.group()
        if kind == "emoticon":
            tokens.append(_EMOTICONS[piece])
        elif kind == "ellipsis":
            tokens.append("...")
        elif kind == "dash":
            tokens.append("--")
        elif kind in ("word", "number"):
            tokens.extend(_split_word_cached(piece))
        elif kind == "symbol":
            if piece == '"':
                opening = match.start() == 0 or text[match.start() - 1] in " ([{"
                tokens.append("``" if opening else "''")
            else:
                tokens.append(_BRACKETS.get(piece) or _ESCAPED.get(piece) or _EMOJI.get(piece, piece))
        else:  # url, escaped, initials, lead: already in SST form
            tokens.append(piece)
    return tokens


def _across_spaces(tokens: list[str]) -> list[str]:
    """The rewrites that join tokens a space separates, done on the whole text's tokens."""
    return _attach_abbreviations(_join_split_negations(tokens))


def _join_split_negations(tokens: list[str]) -> list[str]:
    """Read "don 't" and "can ' t" (an apostrophe split off by hand or by another tool, as in the
    CR and MR corpora) as "don't": "do" "n't", "ca" "n't"."""
    if "t" not in tokens:
        return tokens  # the usual case
    out: list[str] = []
    for tok in tokens:
        joined = _BARE_NEGATIONS.get(out[-2] + "t") if tok == "t" and len(out) >= 2 and out[-1] == "'" else None
        if joined:
            out[-2:] = joined
        else:
            out.append(tok)
    return out


def _attach_abbreviations(tokens: list[str]) -> list[str]:
    """Re-join "mr" "." into "mr." as SST writes titles; sentence-final periods stay separate."""
    if "." not in tokens[:-1]:
        return tokens  # the usual case: no period before the last token
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if tok == "." and out and out[-1] + "." in _ABBREVIATIONS and i + 1 < len(tokens):
            out[-1] += "."
        else:
            out.append(tok)
    return out


class Aliases:
    """Words outside a vocabulary, each read as a word inside it (its nearest, chosen in training).

    Kept as sorted 64-bit digests of the words and the ids they read as, two flat arrays (a dict of
    the words would take several times the memory of a worker): a lookup is a binary search, and
    only a token the vocabulary lacks looks one up.
    """

    def __init__(self, keys: Sequence[int], ids: Sequence[int]) -> None:
        self.keys, self.ids = array("q", keys), array("i", ids)
        if len(self.keys) != len(self.ids):
            raise ValueError("aliases need one id per word")
        if any(a >= b for a, b in itertools.pairwise(self.keys)):
            raise ValueError("alias keys must be sorted and distinct")

    @staticmethod
    def key(word: str) -> int:
        return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little", signed=True)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, int]]) -> Aliases:
        """From (word, id) pairs; a word's first id counts."""
        table: dict[int, int] = {}
        for word, i in pairs:
            table.setdefault(cls.key(word), i)
        keys = sorted(table)
        return cls(keys, [table[k] for k in keys])

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, word: str) -> int:
        """The id ``word`` reads as, or UNK_ID."""
        key = self.key(word)
        at = bisect.bisect_left(self.keys, key)
        return self.ids[at] if at < len(self.keys) and self.keys[at] == key else UNK_ID


class Vocab:
    """Token <-> id mapping; id 0 is padding and id 1 the unknown token. With ``aliases``, a token
    outside the vocabulary that they hold is read as their id for it instead of as unknown."""

    def __init__(self, itos: Sequence[str], aliases: Aliases | None = None) -> None:
        if tuple(itos[:2]) != (PAD, UNK):
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        self.itos: tuple[str, ...] = tuple(itos)
        self._stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self._stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")
        if aliases and not UNK_ID < min(aliases.ids) <= max(aliases.ids) < len(self.itos):
            raise ValueError("an alias reads as an id outside the vocabulary")
        self.aliases = aliases

    @classmethod
    def build(cls, texts: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Vocabulary from tokenized training texts, most frequent first (ties broken by token)."""
        counts = Counter(tok for toks in texts for tok in toks if tok not in (PAD, UNK))
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls((PAD, UNK, *ranked[:max_size]))

    def with_aliases(self, aliases: Aliases | None) -> Vocab:
        return Vocab(self.itos, aliases)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        get = self._stoi.get
        ids = [get(t, UNK_ID) for t in tokens]
        if self.aliases is not None and UNK_ID in ids:
            # each distinct unknown token looked up once: a text repeats its unknown words
            unknown = {t for t, i in zip(tokens, ids, strict=True) if i == UNK_ID}
            read = {t: self.aliases.get(t) for t in unknown}
            return [read[t] if i == UNK_ID else i for t, i in zip(tokens, ids, strict=True)]
        return ids
