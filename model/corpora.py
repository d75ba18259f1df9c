"""Which data files make up each language's train/dev/test splits (the readers named by `model.languages`)."""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import opencc

from model import data
from model.data import Example
from model.scale import BINARY, FIVE, THREE, View
from model.tokenizer import tokenize
from model.tokenizer_zh import tokenize_zh

EVAL_SETS = Path(__file__).resolve().parent / "eval_sets"
DRY_RUN_SIZES = {"train": 1500, "dev": 200, "test": 200, "pretraining": 300}


@dataclass
class Corpus:
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    checksums: dict[str, str]
    labels: tuple[str, ...] = BINARY
    # Other sets reported beside test: never trained on; only those read from dev (``*-dev``) may choose
    # between runs.
    extra: dict[str, list[Example]] = field(default_factory=dict)
    # How each extra set's labels read the model's answer (`model.scale`); absent: the model's labels.
    views: dict[str, View] = field(default_factory=dict)
    # Text for pre-training word vectors (with labels where they exist); training text is added too.
    pretraining: list[Example] = field(default_factory=list)

    def dry_run(self) -> Corpus:
        """A deterministic, label-mixed subset of every split, for seconds-long smoke runs."""

        def subset(examples: list[Example], n: int) -> list[Example]:
            return examples[:: max(1, len(examples) // n)][:n]

        sizes = DRY_RUN_SIZES
        return Corpus(
            train=subset(self.train, sizes["train"]),
            dev=subset(self.dev, sizes["dev"]),
            test=subset(self.test, sizes["test"]),
            checksums=self.checksums,
            labels=self.labels,
            extra={name: subset(ex, sizes["test"]) for name, ex in self.extra.items()},
            views=self.views,
            pretraining=subset(self.pretraining, sizes["pretraining"]),
        )

    def add_eval_set(self, name: str, file: str) -> None:
        """A hand-written set of `model/eval_sets/`: binary ones (0/1 labels) read the polar answer;
        three-way ones (negative/neutral/positive, with categories) the three-way answer, or, for a
        model without a neutral label, the polar answer on their polar texts."""
        examples, view = read_eval_set(file)
        if view == "three" and self.labels == BINARY:
            examples = [Example(ex.text, ex.label // 2, ex.category) for ex in examples if ex.label != 1]
            view = "binary"
        self.extra[name] = examples
        self.views[name] = view


def read_eval_set(name: str) -> tuple[list[Example], View]:
    """A hand-written evaluation set (`model/eval_sets/<name>`) and the answer its labels read."""
    path = EVAL_SETS / name
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
    if "category" not in header:
        return data.read_tsv(path, "text", "label"), "binary"
    rows = data.read_tsv_rows(path, ("label", "category", "text"))
    return [Example(r["text"], THREE.index(r["label"]), r["category"]) for r in rows], "three"


def _dedupe(examples: list[Example], tok: Callable[[str], list[str]]) -> list[Example]:
    """Drop exact repeats (same tokenized text and label), keeping the first occurrence."""
    seen: set[tuple[str, int]] = set()
    out = []
    for ex in examples:
        key = (" ".join(tok(ex.text)), ex.label)
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def read_treebank(data_dir: Path) -> Corpus:
    """The Stanford Sentiment Treebank on its five-point scale: every distinct phrase of the training
    trees (its most frequent label), dev and test sentences; and the other readings of test (three
    classes; SST-2's polar sentences) and of product reviews (CR, evaluation only)."""
    trees = {split: data.read_trees(data_dir, split) for split in ("dev", "test")}
    dev_phrases = _phrases_of(trees["dev"])
    train = list(_treebank_phrases((data_dir / data.TREE_FILES["train"]).resolve()))
    test = [tree[0] for tree in trees["test"]]
    three_of_five = (0, 0, 1, 2, 2)
    files = [*data.TREE_FILES.values(), data.SST_FILES["dev"], data.SST_FILES["test"], data.CR_FILE, data.IMDB_FILE]
    return Corpus(
        train=train,
        dev=[tree[0] for tree in trees["dev"]],
        test=test,
        checksums=data.checksums(data_dir, files),
        labels=FIVE,
        extra={
            "sst3-test": [Example(ex.text, three_of_five[ex.label]) for ex in test],
            **{
                name: [Example(ex.text, three_of_five[ex.label]) for ex in _holding(dev_phrases, words)]
                for name, words in (("negation-dev", NEGATORS), ("contrast-dev", CONNECTIVES))
            },
            "sst2-dev": data.read_sst(data_dir, "dev"),
            "sst2-test": data.read_sst(data_dir, "test"),
            "cr": data.read_labelled_lines(data_dir / data.CR_FILE),
            "imdb-test": data.read_imdb(data_dir, "test"),
        },
        views={
            "sst3-test": "three",
            "negation-dev": "three",
            "contrast-dev": "three",
            "sst2-dev": "binary",
            "sst2-test": "binary",
            "cr": "binary",
            "imdb-test": "binary",
        },
    )


# The treebank's own labelled phrases that hold a negator or a contrast connective: dev's measure
# of how a run reads negation scope and contrast (the behavioural sets are evaluation only).
NEGATORS = frozenset(["not", "n't", "no", "never", "nothing", "none", "nobody", "neither", "nor", "hardly", "barely"])
CONNECTIVES = frozenset(["but", "yet", "although", "though", "however", "despite", "while"])


def _keyed_nodes(trees: list[list[Example]]) -> Iterator[tuple[str, Example]]:
    """Every node of ``trees`` with its key: its tokens, space-joined (one spelling per phrase)."""
    for tree in trees:
        for node in tree:
            yield " ".join(tokenize(node.text)), node


def _phrases_of(trees: list[list[Example]]) -> dict[str, Example]:
    """Every distinct phrase of two or more tokens in ``trees`` (keyed as `_keyed_nodes`), the
    first time it occurs."""
    seen: dict[str, Example] = {}
    for key, node in _keyed_nodes(trees):
        if " " in key:
            seen.setdefault(key, node)
    return seen


def _holding(phrases: dict[str, Example], words: frozenset[str]) -> list[Example]:
    """The phrases with one of ``words`` among their tokens (read from the key: no second tokenizing)."""
    return [ex for key, ex in phrases.items() if not words.isdisjoint(key.split(" "))]


@functools.lru_cache(maxsize=1)
def _treebank_phrases(trees: Path) -> tuple[Example, ...]:
    """Every distinct phrase of the training trees with its most frequent label (seconds of
    tokenizing: a process that reads the same file again, through any data folder, reuses them)."""
    labels: dict[str, Counter[int]] = {}
    first: dict[str, str] = {}
    for key, node in _keyed_nodes(data.read_tree_file(trees)):
        labels.setdefault(key, Counter())[node.label] += 1
        first.setdefault(key, node.text)
    return tuple(Example(first[key], counts.most_common(1)[0][0]) for key, counts in labels.items())


def read_sst2(data_dir: Path) -> Corpus:
    """SST-2: the training sentences and the 67k GLUE phrases (deduplicated), dev and test sentences."""
    files = [data.PHRASES_FILE, *data.SST_FILES.values()]
    return Corpus(
        train=_dedupe(data.read_sst(data_dir, "train") + data.read_phrases(data_dir), tokenize),
        dev=data.read_sst(data_dir, "dev"),
        test=data.read_sst(data_dir, "test"),
        checksums=data.checksums(data_dir, files),
    )


def read_imdb_reviews(data_dir: Path) -> tuple[list[Example], dict[str, str]]:
    """IMDB's training reviews (text and review labels) for word vectors. Its test half is for
    evaluation only: nothing that learns reads it."""
    return data.read_imdb(data_dir, "train"), data.checksums(data_dir, [data.IMDB_FILE])


def read_imdb_documents(data_dir: Path) -> list[Example]:
    """IMDB's training reviews in a seeded order: the documents that fit how sentence answers
    combine into a review's (`model.document.fit`). IMDB's test half is only scored."""
    reviews = data.read_imdb(data_dir, "train")
    return random.Random(0).sample(reviews, len(reviews))


def read_chnsenticorp_dev(data_dir: Path) -> list[Example]:
    """ChnSentiCorp's dev reviews: where a review longer than the model reads is cut into runs of
    sentences, how their answers combine is chosen on dev, as every other choice is."""
    return data.read_chnsenticorp(data_dir, "dev")


def read_chnsenticorp(data_dir: Path) -> Corpus:
    """ChnSentiCorp; exact repeats in train are dropped (the 24 texts with conflicting labels keep both)."""
    raw_train = data.read_chnsenticorp(data_dir, "train")
    test = data.read_chnsenticorp(data_dir, "test")
    seen = {ex.text for ex in raw_train}
    to_taiwan = opencc.OpenCC("s2twp")  # made here: its phrase tables take tens of MB, which serving never needs
    return Corpus(
        train=_dedupe(raw_train, tokenize_zh),
        dev=data.read_chnsenticorp(data_dir, "dev"),
        test=test,
        checksums=data.checksums(data_dir, list(data.CHNSENTICORP_FILES.values())),
        extra={
            # Some test reviews also occur in train: the rest are reported on their own too.
            "test-unseen": [ex for ex in test if ex.text not in seen],
            # Test as a user in Taiwan would write it (OpenCC's s2twp: characters, then Taiwan's words).
            "test-traditional": [Example(to_taiwan.convert(ex.text), ex.label) for ex in test],
        },
    )
