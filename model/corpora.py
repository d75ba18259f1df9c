"""Which data files make up each language's train/dev/test splits (the readers named by `model.languages`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model import data
from model.data import Example
from model.tokenizer import tokenize
from model.tokenizer_zh import tokenize_zh

LABELS = ("negative", "positive")
EVAL_SETS = Path(__file__).resolve().parent / "eval_sets"
DRY_RUN_SIZES = {"train": 1500, "dev": 200, "test": 200, "pretraining": 300}


@dataclass
class Corpus:
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    checksums: dict[str, str]
    labels: tuple[str, ...] = LABELS
    # Evaluation-only sets, reported beside test (never used for training or selection).
    extra: dict[str, list[Example]] = field(default_factory=dict)
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
            pretraining=subset(self.pretraining, sizes["pretraining"]),
        )


def read_eval_set(name: str) -> list[Example]:
    """A hand-written evaluation set of this repository (`model/eval_sets/<name>`)."""
    return data.read_tsv(EVAL_SETS / name, "text", "label")


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
    """IMDB's train and test reviews alike: they are not SST, and only their text and review-level
    labels are used, before any SST training."""
    reviews = data.read_imdb(data_dir, "train") + data.read_imdb(data_dir, "test")
    return reviews, data.checksums(data_dir, [data.IMDB_FILE])


def read_chnsenticorp(data_dir: Path) -> Corpus:
    """ChnSentiCorp; exact repeats in train are dropped (the 24 texts with conflicting labels keep both)."""
    raw_train = data.read_chnsenticorp(data_dir, "train")
    test = data.read_chnsenticorp(data_dir, "test")
    seen = {ex.text for ex in raw_train}
    return Corpus(
        train=_dedupe(raw_train, tokenize_zh),
        dev=data.read_chnsenticorp(data_dir, "dev"),
        test=test,
        checksums=data.checksums(data_dir, list(data.CHNSENTICORP_FILES.values())),
        # Some test reviews also occur in train: the rest are reported on their own too.
        extra={"test-unseen": [ex for ex in test if ex.text not in seen]},
    )
