"""Texts to score from files, streamed: plain lines, JSON Lines or CSV, one record at a time.

A `Source` reads its file in binary, one line at a time, so memory stays flat however large the
file, and each line is decoded on its own: an invalid line becomes a `Record` with an ``error`` and
its line number, and the lines after it are still read. `Source.bytes_read` is what a progress bar
shows against `Source.size`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import orjson

Format = Literal["txt", "jsonl", "csv"]
SUFFIXES: dict[str, Format] = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class InputError(ValueError):
    """A source that cannot be read at all (unknown format, no such CSV column)."""


@dataclass(frozen=True)
class Record:
    """One input: its line number (1-based; for CSV the record's first line) and its text or why it has none."""

    line: int
    text: str | None
    error: str | None = None


def format_of(path: Path, given: Format | None) -> Format:
    """The format ``given``, else the one the file's suffix names."""
    if given is not None:
        return given
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; use --format txt, jsonl or csv") from None


class Source:
    """One stream of records from ``stream`` (a file opened in binary, or stdin's buffer)."""

    def __init__(self, name: str, stream: BinaryIO, fmt: Format, column: str = "text") -> None:
        self.name = name
        self.fmt = fmt
        self.column = column
        self._stream = stream
        self.bytes_read = 0
        try:
            self.size: int | None = os.fstat(stream.fileno()).st_size or None
        except (OSError, ValueError):  # not a regular file (a pipe, a test's BytesIO)
            self.size = None

    def records(self) -> Iterator[Record]:
        if self.fmt == "txt":
            return (Record(n, text, error) for n, text, error in self._lines())
        if self.fmt == "jsonl":
            return (
                self._json(n, text) if error is None else Record(n, None, error) for n, text, error in self._lines()
            )
        return self._csv()

    def _lines(self) -> Iterator[tuple[int, str, str | None]]:
        """(line number, the line without its end, a decoding error or None), one line in memory at a time."""
        for n, raw in enumerate(self._stream, 1):
            self.bytes_read += len(raw)
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n"), None
            except UnicodeDecodeError:
                yield n, "", "not valid UTF-8"

    def _json(self, n: int, line: str) -> Record:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return Record(n, None, "not valid JSON")
        if isinstance(value, dict):
            value = value.get(self.column)
            if value is None:
                return Record(n, None, f"no {self.column!r} field")
        if not isinstance(value, str):
            return Record(n, None, f"{self.column!r} is not a string" if self.column else "not a string")
        return Record(n, value)

    def _csv(self) -> Iterator[Record]:
        undecodable: set[int] = set()

        def lines() -> Iterable[str]:
            for n, text, error in self._lines():
                if error is not None:
                    undecodable.add(n)
                    yield "\n"  # an empty row: the reader stays in step and the line is reported below
                else:
                    yield text + "\n"

        reader = csv.reader(lines())
        header = next(reader, None)
        if header is None:
            return
        if self.column not in header:
            raise InputError(f"{self.name}: no column {self.column!r}; the header has {header}")
        index = header.index(self.column)
        first = reader.line_num + 1
        for row in reader:
            line, first = first, reader.line_num + 1
            if line in undecodable:
                yield Record(line, None, "not valid UTF-8")
            elif not row:
                yield Record(line, None, "empty row")
            elif len(row) <= index:
                yield Record(line, None, f"no value in column {self.column!r}")
            else:
                yield Record(line, row[index])
