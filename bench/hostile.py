"""Hostile text through /predict and /predict/batch, and how the tokenizer's time grows with input.

`cases(settings)` builds the requests at the largest sizes the settings accept (``max_text_chars``
for one text; ``max_batch_texts`` texts filling ``max_body_bytes`` and ``max_batch_chars`` for a
batch), plus a few that
must be refused. `send` posts one and times it. `tokenizer_scaling` times each language's
tokenizer and the sentence splitter on 10k and 100k characters of each kind of text. Used by
``make faults`` (`bench.faults`) and by ``tests/system/test_faults.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from model.languages import LANGUAGES
from model.segment import sentences
from service.config import Settings

# Each kind of hostile text as a repeating unit; a text is the unit repeated to the wanted length.
KINDS: dict[str, str] = {
    "one long word": "a",
    "emoji": "\U0001f600",
    "stacked combining marks": "e" + "\u0301\u0302\u0303\u0308\u0323" * 20,
    "bidi overrides": "\u202egood film\u202c\u2066bad\u2069 ",
    "NUL and control chars": "\x00\x01\x07\x08\x1b\x7f\u0085\u2028x ",
    "only punctuation": "!?.,;:'\"()[]{}-…",
    "mixed scripts": "good Привет 好电影 جميل अच्छा 映画 ",
    "zero-width and BOM": "go\u200bod\u200d\ufeff ",
    "unclosed HTML tags": "<a x",
    "HTML entities": "&#1114111;&amp;&bogus",
    "unclosed emphasis marks": "*a _b ",
}


@dataclass(frozen=True)
class Case:
    name: str
    path: str  # /predict or /predict/batch
    body: bytes
    expect: str  # "answered" (200) or "refused" (a 4xx)


def text_of(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def _body(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def batch_texts(unit: str, s: Settings) -> list[str]:
    """``max_batch_texts`` texts of ``unit``, as long as a body of ``max_body_bytes`` and the batch's
    ``max_batch_chars`` allow."""
    n = s.max_batch_texts
    per_char = len(_body(unit)) / len(unit)  # UTF-8 bytes (or JSON escapes) per character
    chars = min(s.max_text_chars, int(s.max_body_bytes / n / per_char), s.max_batch_chars // n)
    while len(_body({"texts": [text_of(unit, chars)] * n})) > s.max_body_bytes:
        chars = int(chars * 0.95)
    return [text_of(unit, chars)] * n


def cases(s: Settings) -> list[Case]:
    """Every hostile request, at the largest accepted size, and the ones just past a limit."""
    out: list[Case] = []
    for name, unit in KINDS.items():
        out.append(Case(name, "/predict", _body({"text": text_of(unit, s.max_text_chars)}), "answered"))
        out.append(Case(name, "/predict/batch", _body({"texts": batch_texts(unit, s)}), "answered"))
    depth = 100_000
    out += [
        # JSON's \ud800 escape: a lone surrogate, not a character; answered or refused, never a 500
        Case("lone surrogate \\ud800 (escaped)", "/predict", b'{"text": "good \\ud800 film"}', "either"),
        Case("lone surrogates (escaped), batch", "/predict/batch", b'{"texts": ["\\ud800", "a\\udfff"]}', "either"),
        Case("lone surrogate (raw bytes)", "/predict", _body({"text": "good \ud800 film"}), "refused"),
        Case("invalid UTF-8", "/predict", b'{"text": "good \xff\xfe film"}', "refused"),
        Case("deeply nested JSON", "/predict", b'{"text": ' + b"[" * depth + b"]" * depth + b"}", "refused"),
        Case("deeply nested JSON", "/predict/batch", b'{"texts": ' + b"[" * depth + b"]" * depth + b"}", "refused"),
        Case("text one character too long", "/predict", _body({"text": "a" * (s.max_text_chars + 1)}), "refused"),
        Case("body one byte too large", "/predict", b'{"text": "' + b"a" * s.max_body_bytes + b'"}', "refused"),
        Case("one text too many", "/predict/batch", _body({"texts": ["ok"] * (s.max_batch_texts + 1)}), "refused"),
        Case(
            "texts one character over the batch's total",
            "/predict/batch",
            _body(
                {
                    "texts": ["a" * s.max_text_chars] * (s.max_batch_chars // s.max_text_chars)
                    + ["a" * (s.max_batch_chars % s.max_text_chars + 1)]
                }
            ),
            "refused",
        ),
    ]
    return out


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: int
    seconds: float

    @property
    def ok(self) -> bool:
        """Answered or refused as expected, never a 5xx, in under a second."""
        if self.seconds >= 1.0 or self.status >= 500:
            return False
        answered = self.status == 200
        refused = 400 <= self.status < 500
        return {"answered": answered, "refused": refused, "either": answered or refused}[self.case.expect]


def send(client: httpx.Client, case: Case) -> Outcome:
    started = time.perf_counter()
    r = client.post(case.path, content=case.body, headers={"Content-Type": "application/json"})
    return Outcome(case, r.status_code, time.perf_counter() - started)


def tokenizer_scaling(repeats: int = 3, clock: Callable[[], float] = time.perf_counter) -> dict[str, dict[str, float]]:
    """Seconds to tokenize (each language) and split into sentences 10k and 100k characters, by kind
    (the best of ``repeats``). ``time.thread_time`` counts this thread's CPU time only, so other
    processes' load on the machine does not reach the ratios."""
    steps: list[tuple[str, Callable[[str], object]]] = [
        (f"tokenize_{code}", lang.tokenize) for code, lang in LANGUAGES.items()
    ]
    steps.append(("sentences", lambda t: sentences(t, "en")))
    rows: dict[str, dict[str, float]] = {}
    for name, unit in KINDS.items():
        row = rows[name] = {}
        for step, fn in steps:
            for chars in (10_000, 100_000):
                text = text_of(unit, chars)
                times = []
                for _ in range(repeats):
                    started = clock()
                    fn(text)
                    times.append(clock() - started)
                row[f"{step}_{chars // 1000}k_s"] = min(times)
            row[f"{step}_ratio"] = row[f"{step}_100k_s"] / max(row[f"{step}_10k_s"], 1e-9)
    return rows
