"""Which files make up each language's train/dev/test splits, and how its text is tokenized."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model import data
from model.data import Example
from model.tokenizer import TOKENIZER_VERSION, tokenize
from model.tokenizer_zh import ZH_TOKENIZER_VERSION, tokenize_zh

LANGUAGES = ("en", "zh")
LABELS = ("negative", "positive")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EVAL_SETS = Path(__file__).resolve().parent / "eval_sets"
DRY_RUN_SIZES = {"train": 1500, "dev": 200, "test": 200, "pretraining": 300}


@dataclass
class Corpus:
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    tokenize: Callable[[str], list[str]]
    tokenizer_info: dict[str, Any]
    checksums: dict[str, str]
    labels: tuple[str, ...] = LABELS
    extra: dict[str, list[Example]] = field(default_factory=dict)
    # Text for pre-training word vectors (with labels where they exist); training text is added too.
    pretraining: list[Example] = field(default_factory=list)
    # The training examples that are whole texts when ``train`` also holds parts of them (the SST
    # sentences among the phrases), so that training may give them more weight.
    whole: list[Example] = field(default_factory=list)

    def extra_test_sets(self) -> dict[str, list[Example]]:
        """Further evaluation-only sets, reported beside test (never used for training or selection)."""
        return self.extra


def default_checkpoint(lang: str) -> Path:
    return ARTIFACTS / {"en": "sentiment-rnn.pt", "zh": "sentiment-rnn-zh.pt"}[lang]


def card_name(lang: str) -> str:
    return {"en": "MODEL_CARD.md", "zh": "MODEL_CARD.zh.md"}[lang]


def _dedupe(examples: list[Example], tok: Callable[[str], list[str]] = tokenize) -> list[Example]:
    """Drop exact repeats (same tokenized text and label), keeping the first occurrence."""
    seen: set[tuple[str, int]] = set()
    out = []
    for ex in examples:
        key = (" ".join(tok(ex.text)), ex.label)
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def _subset(examples: list[Example], n: int) -> list[Example]:
    """A deterministic, label-mixed subset: every k-th example."""
    step = max(1, len(examples) // n)
    return examples[::step][:n]


def load(lang: str, data_dir: Path, dry_run: bool = False, pretraining: bool = False) -> Corpus:
    """The splits of ``lang``; ``pretraining`` also reads the unlabelled-text corpus (IMDB for English)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose from {LANGUAGES}")
    corpus = _load_zh(data_dir) if lang == "zh" else _load_en(data_dir)
    if pretraining and lang == "en":
        # IMDB's train and test reviews alike: they are not SST, and only their text and
        # review-level labels are used, before any SST training.
        corpus.pretraining = data.read_imdb(data_dir, "train") + data.read_imdb(data_dir, "test")
        corpus.checksums[data.IMDB_FILE] = data.checksums(data_dir, [data.IMDB_FILE])[data.IMDB_FILE]
    if dry_run:
        corpus.train = _subset(corpus.train, DRY_RUN_SIZES["train"])
        corpus.whole = _subset(corpus.whole, DRY_RUN_SIZES["train"] // 10)
        corpus.dev = _subset(corpus.dev, DRY_RUN_SIZES["dev"])
        corpus.test = _subset(corpus.test, DRY_RUN_SIZES["test"])
        corpus.extra = {name: _subset(ex, DRY_RUN_SIZES["test"]) for name, ex in corpus.extra.items()}
        corpus.pretraining = _subset(corpus.pretraining, DRY_RUN_SIZES["pretraining"])
    return corpus


def _load_zh(data_dir: Path) -> Corpus:
    """ChnSentiCorp; exact repeats in train are dropped (the 24 texts with conflicting labels keep both)."""
    train = _dedupe(data.read_chnsenticorp(data_dir, "train"), tokenize_zh)
    test = data.read_chnsenticorp(data_dir, "test")
    seen = {ex.text for ex in data.read_chnsenticorp(data_dir, "train")}
    return Corpus(
        train=train,
        dev=data.read_chnsenticorp(data_dir, "dev"),
        test=test,
        tokenize=tokenize_zh,
        tokenizer_info={"name": "zh-char", "version": ZH_TOKENIZER_VERSION},
        checksums=data.checksums(data_dir, list(data.CHNSENTICORP_FILES.values())),
        # 331 test reviews also occur in train: report the rest separately.
        extra={
            "test-unseen": [ex for ex in test if ex.text not in seen],
            # Hand-written negation and contrast sentences (this repository): 不好 vs 不错, 虽然…但是….
            "negation-contrast": data.read_tsv(EVAL_SETS / "negation_contrast.zh.tsv", "text", "label"),
        },
    )


def _load_en(data_dir: Path) -> Corpus:
    files = [data.PHRASES_FILE, *data.SST_FILES.values()]
    sentences = data.read_sst(data_dir, "train")
    train = _dedupe(sentences + data.read_phrases(data_dir))
    return Corpus(
        train=train,
        whole=sentences,
        dev=data.read_sst(data_dir, "dev"),
        test=data.read_sst(data_dir, "test"),
        tokenize=tokenize,
        tokenizer_info={"name": "sst-ptb", "version": TOKENIZER_VERSION},
        checksums=data.checksums(data_dir, files),
        # Hand-written product/restaurant/app reviews (this repository): a probe of raw user text
        # from other domains, with mixed case, emoji and "!!!"/"...".
        extra={
            "other-domains": data.read_tsv(EVAL_SETS / "other_domains.en.tsv", "text", "label"),
            # Hand-written negation and contrast sentences (this repository), the model's known weak spot.
            "negation-contrast": data.read_tsv(EVAL_SETS / "negation_contrast.en.tsv", "text", "label"),
            # Hand-written short texts as users type them, most negated ("Not bad.", "No complaints.").
            "short-negations": data.read_tsv(EVAL_SETS / "short_negations.en.tsv", "text", "label"),
        },
    )
