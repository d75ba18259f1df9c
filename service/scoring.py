"""Scoring records in-process, in batches, with the answers written in input order.

`Scorer.run` takes records a window at a time (`WINDOW_BATCHES` batches), routes each text to its
model as the service does, sorts each model's texts by length so that a batch pads little, runs
`Predictor.predict` on batches of ``batch_size`` and writes every answer as one JSON line, in the
order of the input. Memory holds one window, whatever the size of the input. A bad record (no
text, blank, too long) is reported with its line number, then skipped or, with ``on_error="stop"``,
ends the run after the answers before it have been written.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, Literal, TextIO

import orjson
import torch

from service.inputs import Record, Source
from service.language import Router
from service.predictor import Answer, PredictItem, Predictor
from service.schemas import text_problem

WINDOW_BATCHES = 16  # sorting by length within a window of this many batches keeps padding low
OnError = Literal["stop", "skip"]


@dataclass(frozen=True)
class Options:
    """What every answer is asked for (the API's options) and how the run goes."""

    lang: str | None = None
    binary: bool = False
    explain: bool = False
    include_hidden: bool = False
    sentences: bool = False
    batch_size: int = 64
    max_chars: int = 100_000  # the service's limits (SENTIMENT_MAX_TEXT_CHARS, ..._EXPLAIN_CHARS)
    max_explain_chars: int = 5000
    on_error: OnError = "stop"


@dataclass
class Summary:
    scored: int = 0
    skipped: int = 0
    stopped_at: int | None = None  # the line of the bad record that ended the run


class Progress:
    """A one-line progress display on stderr, redrawn at most a few times a second.

    Called with the texts scored so far; shows the share of the file read, when its size is known.
    """

    def __init__(self, source: Source | None, enabled: bool, offset: int = 0, stream: TextIO = sys.stderr) -> None:
        self.source = source
        self.enabled = enabled
        self.offset = offset  # texts scored from earlier sources
        self.stream = stream
        self.started = self._drawn = time.monotonic()

    def __call__(self, texts: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._drawn < 0.25 and not final):
            return
        self._drawn = now
        rate = texts / max(now - self.started, 1e-9)
        size = self.source.size if self.source else None
        share = f" {100 * self.source.bytes_read / size:5.1f}%" if self.source and size else ""
        end = "\n" if final else ""
        self.stream.write(f"\r{self.offset + texts:,} texts{share} {rate:,.0f} texts/s{end}")
        self.stream.flush()


class Scorer:
    """The loaded models, routed by language as the service routes them."""

    def __init__(self, predictors: dict[str, Predictor], options: Options) -> None:
        self.predictors = predictors
        self.router = Router.among(predictors)
        self.options = options
        self._context = {"max_text_chars": options.max_chars, "max_explain_chars": options.max_explain_chars}

    def run(
        self,
        records: Iterable[Record],
        out: BinaryIO,
        report: Callable[[Record], None],
        progress: Callable[[int], None],
    ) -> Summary:
        """Score ``records`` to ``out``; ``report`` each bad one; ``progress(texts scored so far)``."""
        summary = Summary()
        window: list[tuple[Predictor, str]] = []
        room = self.options.batch_size * WINDOW_BATCHES
        for record in records:
            bad = self._problem(record)
            if bad is not None:
                report(bad)
                if self.options.on_error == "stop":
                    summary.scored += self._flush(window, out)
                    summary.stopped_at = bad.line
                    return summary
                summary.skipped += 1
                continue
            assert record.text is not None
            window.append((self._predictor(record.text), record.text))
            if len(window) >= room:
                summary.scored += self._flush(window, out)
                progress(summary.scored)
        summary.scored += self._flush(window, out)
        progress(summary.scored)
        return summary

    def _problem(self, record: Record) -> Record | None:
        """The record with its error when it cannot be scored, else None."""
        if record.error is not None:
            return record
        assert record.text is not None
        problem = text_problem(record.text, self._context, self.options.explain)
        return None if problem is None else Record(record.line, record.text, problem)

    def _predictor(self, text: str) -> Predictor:
        lang = self.options.lang or self.router(text)
        return self.predictors[lang]

    def _item(self, predictor: Predictor, text: str) -> PredictItem:
        o = self.options
        return predictor.item(
            text, explain=o.explain, include_hidden=o.include_hidden, binary=o.binary, sentences=o.sentences
        )

    def _flush(self, window: list[tuple[Predictor, str]], out: BinaryIO) -> int:
        """Score the window in length-sorted batches per model, write its answers in order, empty it."""
        answers: list[Answer | None] = [None] * len(window)
        groups: dict[str, list[int]] = {}
        for i, (predictor, _) in enumerate(window):
            groups.setdefault(predictor.name, []).append(i)
        with torch.inference_mode():
            for indices in groups.values():
                predictor = window[indices[0]][0]
                items = [(i, self._item(predictor, window[i][1])) for i in indices]
                items.sort(key=lambda item: len(item[1].encoded.ids))
                for start in range(0, len(items), self.options.batch_size):
                    chunk = items[start : start + self.options.batch_size]
                    batch = [item for _, item in chunk]
                    for (i, _), answer in zip(chunk, predictor.predict(batch), strict=True):
                        answers[i] = answer
        out.write(b"".join(orjson.dumps(a, option=orjson.OPT_APPEND_NEWLINE) for a in answers))
        n = len(window)
        window.clear()
        return n
