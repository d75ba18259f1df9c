"""Readers for the labelled data sets and the batching used in training and evaluation.

The data files are never part of the repository: they are read from a data directory (default
``../shared/data``, or ``$SENTIMENT_DATA_DIR``) laid out as described in the README.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import random
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SST_FILES = {split: f"sst2/stsa.binary.{split}" for split in ("train", "dev", "test")}
PHRASES_FILE = "sst2-phrases/train_full.tsv"
IMDB_FILE = "imdb/aclImdb-labelled.tar.gz"
CHNSENTICORP_FILES = {split: f"chnsenticorp/{split}.tsv" for split in ("train", "dev", "test")}
TREE_FILES = {split: f"sst-trees/{split}.txt" for split in ("train", "dev", "test")}
CR_FILE = "cr/custrev.all"
MPQA_FILE = "mpqa/mpqa.all"


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # an index into the corpus's labels (binary sets: 0 = negative, 1 = positive)
    category: str = ""  # behavioural sets: the construction the text tests


class DataError(RuntimeError):
    """A data file is missing or not in the expected format."""


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"data file not found: {path}. Point --data-dir (or SENTIMENT_DATA_DIR) at the data "
            "folder; the README says where to download it."
        )
    return path


def read_sst(data_dir: Path, split: str) -> list[Example]:
    """SST-2 sentence split: one ``<label> <text>`` per line."""
    examples = []
    with open(_require(data_dir / SST_FILES[split]), encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            label, _, text = line.rstrip("\n").partition(" ")
            if label not in ("0", "1") or not text:
                raise DataError(f"{data_dir / SST_FILES[split]}:{lineno}: expected '<0|1> <text>'")
            examples.append(Example(text, int(label)))
    return examples


def read_tsv(path: Path, text_column: str, label_column: str) -> list[Example]:
    """A headed TSV with a text and a 0/1 label column (GLUE SST-2 phrases, ChnSentiCorp)."""
    with open(_require(path), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames is None or {text_column, label_column} - set(reader.fieldnames):
            raise DataError(f"{path}: expected columns {text_column!r} and {label_column!r}")
        return [Example(row[text_column].strip(), int(row[label_column])) for row in reader]


def parse_tree(line: str) -> list[Example]:
    """Every node of one PTB-style sentiment tree, ``(3 (2 The) (4 ...))``, as (its words, its label);
    the root (the whole sentence) first. A leaf's text may hold a space (``(2 8 1\\/2)``)."""
    nodes: list[tuple[int, list[str]]] = []  # open nodes: label and the words below them so far
    out: list[tuple[int, Example]] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "(":
            j = line.index(" ", i)
            nodes.append((int(line[i + 1 : j]), []))
            i = j + 1
            if line[i] != "(":  # a leaf: its text runs to the closing bracket
                k = line.index(")", i)
                nodes[-1][1].append(line[i:k])
                i = k
        elif c == ")":
            label, words = nodes.pop()
            if nodes:
                nodes[-1][1].extend(words)
            out.append((len(nodes), Example(" ".join(words), label)))
            i += 1
        else:
            i += 1
    if nodes or not out:
        raise ValueError("unbalanced tree")
    out.sort(key=lambda item: item[0])  # stable: the root (depth 0) first, then by depth
    return [ex for _, ex in out]


def read_trees(data_dir: Path, split: str) -> list[list[Example]]:
    """The Stanford Sentiment Treebank's trees of one split, each as its labelled nodes (root first)."""
    return read_tree_file(data_dir / TREE_FILES[split])


def read_tree_file(path: Path) -> list[list[Example]]:
    """The trees of one treebank file, each as its labelled nodes (root first)."""
    _require(path)
    trees = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                trees.append(parse_tree(line.strip()))
            except (ValueError, IndexError) as exc:
                raise DataError(f"{path}:{lineno}: not a labelled tree ({exc})") from None
    return trees


def read_labelled_lines(path: Path) -> list[Example]:
    """``<0|1> <text>`` per line (CR, MPQA); empty texts are skipped."""
    examples = []
    with open(_require(path), encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            label, _, text = line.strip().partition(" ")
            if label not in ("0", "1"):
                raise DataError(f"{path}:{lineno}: expected '<0|1> <text>'")
            if text.strip():
                examples.append(Example(text.strip(), int(label)))
    return examples


def read_tsv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """A headed TSV's rows, each with at least ``columns`` (stripped)."""
    with open(_require(path), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames is None or set(columns) - set(reader.fieldnames):
            raise DataError(f"{path}: expected columns {', '.join(columns)}")
        return [{c: row[c].strip() for c in columns} for row in reader]


def read_phrases(data_dir: Path) -> list[Example]:
    """The 67k GLUE SST-2 training phrases (sub-trees of the SST training sentences)."""
    return read_tsv(data_dir / PHRASES_FILE, "sentence", "label")


def read_chnsenticorp(data_dir: Path, split: str) -> list[Example]:
    return read_tsv(data_dir / CHNSENTICORP_FILES[split], "text_a", "label")


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def read_imdb(data_dir: Path, split: str = "train") -> list[Example]:
    """IMDB reviews of one split (``train`` or ``test``), sorted by file name for determinism."""
    return list(_read_imdb(_require(data_dir / IMDB_FILE).resolve(), split))


@functools.lru_cache(maxsize=2)
def _read_imdb(archive: Path, split: str) -> tuple[Example, ...]:
    """Unpacking the archive takes seconds; a process that reads a split again (evaluation after
    training, the tests) reuses it."""
    found: list[tuple[str, Example]] = []
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[1] == split and parts[2] in ("pos", "neg"):
                fh = tar.extractfile(member)
                assert fh is not None
                text = _BR.sub(" ", fh.read().decode("utf-8"))
                found.append((member.name, Example(text, int(parts[2] == "pos"))))
    found.sort(key=lambda item: item[0])
    return tuple(ex for _, ex in found)


def default_data_dir() -> Path:
    """``$SENTIMENT_DATA_DIR``, else ``shared/data`` beside the project checkout."""
    return Path(os.environ.get("SENTIMENT_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(data_dir: Path, relative_paths: list[str]) -> dict[str, str]:
    """SHA-256 of each data file used, keyed by its path relative to the data directory."""
    return {rel: sha256_file(data_dir / rel) for rel in relative_paths}


def length_bucketed_batches(
    lengths: list[int], batch_size: int, rng: random.Random | None = None
) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (less padding); shuffled when ``rng`` is given.

    Shuffling happens within chunks of 50 batches and then across batches, so each epoch sees a
    different order while each batch stays length-homogeneous.
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if rng is not None:
        rng.shuffle(batches)
    yield from batches
