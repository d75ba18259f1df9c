"""One record per language: everything that differs between the languages the project serves.

Training, evaluation, the model card and the service all read a language from its `Language`
record, so adding a language means adding one record here (with its tokenizer module, recipe file
`model/recipes/<code>.toml` and data reader); `docs/architecture.md` walks through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from model import corpora
from model.corpora import Corpus
from model.data import Example
from model.tokenizer import TOKENIZER_VERSION, tokenize
from model.tokenizer_zh import ZH_TOKENIZER_VERSION, tokenize_zh

LanguageCode = Literal["en", "zh"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
RECIPES = Path(__file__).resolve().parent / "recipes"


@dataclass(frozen=True)
class Language:
    code: LanguageCode
    name: str
    tokenizer: str  # the name checkpoints record; with the version, checked on load
    tokenizer_version: int
    tokenize: Callable[[str], list[str]]
    script: Literal["latin", "cjk"]  # what request routing looks for when no language is given
    checkpoint: str  # the shipped checkpoint's file name in model/artifacts
    card: str  # its model card's file name there
    read_corpus: Callable[[Path], Corpus]
    # Unlabelled (or document-labelled) text for word vectors, and the checksums of its files.
    read_pretraining: Callable[[Path], tuple[list[Example], dict[str, str]]] | None
    # Hand-written evaluation sets (`model/eval_sets/`): name in reports -> file.
    eval_sets: dict[str, str]
    baseline: Literal["vader", "char-tfidf"]  # the reference model the card reports beside this one
    intended_use: str  # the model card's "Intended use and limits"
    targets: dict[str, float] = field(default_factory=dict)  # the card's targets table

    @property
    def checkpoint_path(self) -> Path:
        return ARTIFACTS / self.checkpoint

    @property
    def card_path(self) -> Path:
        return ARTIFACTS / self.card

    @property
    def recipe_path(self) -> Path:
        return RECIPES / f"{self.code}.toml"

    @property
    def tokenizer_info(self) -> dict[str, Any]:
        return {"name": self.tokenizer, "version": self.tokenizer_version}

    def load_corpus(self, data_dir: Path, *, dry_run: bool = False, pretraining: bool = False) -> Corpus:
        """The labelled splits and evaluation sets; ``pretraining`` also reads the word-vector text."""
        corpus = self.read_corpus(data_dir)
        corpus.extra.update({name: corpora.read_eval_set(file) for name, file in self.eval_sets.items()})
        if pretraining and self.read_pretraining is not None:
            corpus.pretraining, sums = self.read_pretraining(data_dir)
            corpus.checksums.update(sums)
        return corpus.dry_run() if dry_run else corpus


LANGUAGES: dict[str, Language] = {
    "en": Language(
        code="en",
        name="English",
        tokenizer="sst-ptb",
        tokenizer_version=TOKENIZER_VERSION,
        tokenize=tokenize,
        script="latin",
        checkpoint="sentiment-rnn.pt",
        card="MODEL_CARD.md",
        read_corpus=corpora.read_sst2,
        read_pretraining=corpora.read_imdb_reviews,
        eval_sets={
            # Raw product/restaurant/app reviews with mixed case, emoji and "!!!"/"...".
            "other-domains": "other_domains.en.tsv",
            # Negation and contrast sentences, the model's known weak spot.
            "negation-contrast": "negation_contrast.en.tsv",
            # Short texts as users type them, most negated ("Not bad.", "No complaints.").
            "short-negations": "short_negations.en.tsv",
        },
        baseline="vader",
        intended_use=(
            "Binary sentiment (negative/positive) of English sentences, reviews and short posts. Trained on "
            "movie-review sentences and phrases (SST-2) with word vectors learned from movie reviews (IMDB): it "
            "reads other domains (products, restaurants) through those vectors, but expect lower accuracy there "
            "(see *other-domains*). Neutral or mixed text still gets one of the two labels; sarcasm and long "
            "documents are weak spots. Short negations are read (*short-negations*), longer negation and "
            "contrast less well (*negation-contrast*); both are hand-written probes."
        ),
        targets={"test": 0.86, "ece": 0.05, "minutes": 30, "mb": 25},
    ),
    "zh": Language(
        code="zh",
        name="Chinese",
        tokenizer="zh-char",
        tokenizer_version=ZH_TOKENIZER_VERSION,
        tokenize=tokenize_zh,
        script="cjk",
        checkpoint="sentiment-rnn-zh.pt",
        card="MODEL_CARD.zh.md",
        read_corpus=corpora.read_chnsenticorp,
        read_pretraining=None,
        # Negation and contrast sentences: 不好 vs 不错, 虽然…但是….
        eval_sets={"negation-contrast": "negation_contrast.zh.tsv"},
        baseline="char-tfidf",
        intended_use=(
            "Binary sentiment of Chinese reviews (hotels, laptops, books), read one character per step. The "
            "training data (ChnSentiCorp) is licensed for **non-commercial research or teaching only**: so is "
            "this model. Very short texts are rarer in training than reviews and are less reliable; negated "
            "negative words (不差, 不贵) are a known weak spot."
        ),
        targets={"test": 0.93, "ece": 0.05, "minutes": 30, "mb": 25},
    ),
}
assert set(LANGUAGES) == set(get_args(LanguageCode)), "LanguageCode lists exactly the records"


def language(code: str) -> Language:
    """The record of ``code``; a clear error for a language this code does not know."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(LANGUAGES)}")
    return LANGUAGES[code]


def tokenizer_for(info: dict[str, Any]) -> Callable[[str], list[str]]:
    """The tokenize function a checkpoint records (name and version); refuses unknown ones."""
    name, version = info.get("name"), info.get("version")
    for lang in LANGUAGES.values():
        if lang.tokenizer == name:
            if version != lang.tokenizer_version:
                raise ValueError(
                    f"tokenizer {name!r} version {version} differs from this code's version {lang.tokenizer_version}"
                )
            return lang.tokenize
    raise ValueError(f"unknown tokenizer {name!r}")
