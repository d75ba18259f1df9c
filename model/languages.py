"""One record per language: everything that differs between the languages the project serves.

Training, evaluation, the model card and the service all read a language from its `Language`
record, so adding a language means adding one record here (with its tokenizer module, recipe file
`model/recipes/<code>.toml` and data reader); `docs/architecture.md` walks through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from model import corpora, scale
from model.corpora import Corpus
from model.data import Example
from model.tokenizer import TOKENIZER_VERSION, tokenize
from model.tokenizer_zh import ZH_TOKENIZER_VERSION, tokenize_zh

LanguageCode = Literal["en", "zh"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
RECIPES = Path(__file__).resolve().parent / "recipes"


@dataclass(frozen=True)
class Target:
    """One line of the model card's targets table: a measure of one evaluated set and its goal."""

    what: str
    split: str  # a key of the metrics (dev, test or an extra set)
    measure: str  # a path into that set's report: "accuracy", "ece", "per_class.neutral.recall", ...
    goal: float
    at_most: bool = False  # the goal is an upper bound (ECE)

    def value(self, metrics: dict[str, Any]) -> float:
        node: Any = metrics[self.split]
        for key in self.measure.split("."):
            node = node[key]
        return float(node)

    def met(self, metrics: dict[str, Any]) -> bool:
        value = self.value(metrics)
        return value <= self.goal if self.at_most else value >= self.goal


@dataclass(frozen=True)
class Language:
    code: LanguageCode
    name: str
    tokenizer: str  # the name checkpoints record; with the version, checked on load
    tokenizer_version: int
    tokenize: Callable[[str], list[str]]
    script: Literal["latin", "cjk"]  # what request routing looks for when no language is given
    # What the model was trained to read, and so how a long text is cut up: each sentence on its
    # own, or whole texts (split into runs of sentences only when longer than the model reads).
    reads: Literal["sentences", "texts"]
    checkpoint: str  # the shipped checkpoint's file name in model/artifacts
    card: str  # its model card's file name there
    # The labelled corpora a recipe may train on (`TrainConfig.corpus`), the default first, each
    # with the labels it has.
    corpora: dict[str, tuple[Callable[[Path], Corpus], tuple[str, ...]]]
    # Unlabelled (or document-labelled) text for word vectors, and the checksums of its files.
    read_pretraining: Callable[[Path], tuple[list[Example], dict[str, str]]] | None
    # Labelled documents (training side) that fit how sentence answers combine into a document's.
    read_documents: Callable[[Path], list[Example]] | None
    # Hand-written evaluation sets (`model/eval_sets/`): name in reports -> file.
    eval_sets: dict[str, str]
    baselines: tuple[Literal["vader", "word-tfidf", "char-tfidf"], ...]  # reported beside it (model.evaluate)
    intended_use: str  # the model card's "Intended use and limits"
    targets: tuple[Target, ...] = ()  # the card's targets table (besides training time and file size)

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

    def load_corpus(
        self, data_dir: Path, *, corpus_name: str | None = None, dry_run: bool = False, pretraining: bool = False
    ) -> Corpus:
        """The labelled splits (of ``corpus_name``, default the first) and evaluation sets;
        ``pretraining`` also reads the word-vector text."""
        name = corpus_name or next(iter(self.corpora))
        if name not in self.corpora:
            raise ValueError(f"{self.code} has no corpus {name!r}; choose from {', '.join(self.corpora)}")
        corpus = self.corpora[name][0](data_dir)
        for name, file in self.eval_sets.items():
            corpus.add_eval_set(name, file)
        if pretraining and self.read_pretraining is not None:
            corpus.pretraining, sums = self.read_pretraining(data_dir)
            corpus.checksums.update(sums)
        return corpus.dry_run() if dry_run else corpus

    def corpus_of(self, training: dict[str, Any], labels: tuple[str, ...]) -> str:
        """The corpus a checkpoint was trained on: as its training config says, else the first with its labels."""
        name = training.get("config", {}).get("corpus")
        if name in self.corpora:
            return str(name)
        return next((n for n, (_, have) in self.corpora.items() if have == labels), next(iter(self.corpora)))


LANGUAGES: dict[str, Language] = {
    "en": Language(
        code="en",
        name="English",
        tokenizer="sst-ptb",
        tokenizer_version=TOKENIZER_VERSION,
        tokenize=tokenize,
        script="latin",
        reads="sentences",
        checkpoint="sentiment-rnn.pt",
        card="MODEL_CARD.md",
        corpora={
            "sst-treebank": (corpora.read_treebank, scale.FIVE),
            "sst2": (corpora.read_sst2, scale.BINARY),
        },
        read_pretraining=corpora.read_imdb_reviews,
        read_documents=corpora.read_imdb_documents,
        eval_sets={
            # Raw product/restaurant/app reviews with mixed case, emoji and "!!!"/"...".
            "other-domains": "other_domains.en.tsv",
            # Negation and contrast sentences, the model's known weak spot.
            "negation-contrast": "negation_contrast.en.tsv",
            # Short texts as users type them, most negated ("Not bad.", "No complaints.").
            "short-negations": "short_negations.en.tsv",
            # Sentences without sentiment (deliveries, specifications, ...) and polar ones that sound factual.
            "neutral": "neutral.en.tsv",
            # Negation scope, contrast and the other constructions word order decides, per category.
            "behaviour": "behaviour.en.tsv",
            # Everyday text of the same kinds, hand-written as a dev set: it may choose between runs.
            "everyday-dev": "everyday_dev.en.tsv",
        },
        baselines=("vader", "word-tfidf"),
        intended_use=(
            "Sentiment of English sentences, reviews and longer texts on the Stanford Sentiment Treebank's "
            "five-point scale, answered as negative / neutral / positive with a score in [-1, 1] (or polar, with "
            "`binary`). Trained on the treebank's labelled phrases (film reviews) with word vectors from IMDB "
            "reviews and GloVe (Wikipedia and news): other domains work, less well (*cr*, *other-domains*). A "
            "longer text is read sentence by sentence and answered from its sentences. Known weak spots, per "
            'category of the behavioural set: negation at a distance ("did not manage to"), double negation, '
            "negative quantifiers, a part that fails to rescue the whole, and polar facts "
            '("the screen cracked") that it calls neutral.'
        ),
        targets=(
            Target("SST-5 test accuracy (five classes)", "test", "accuracy", 0.50),
            Target("SST-3 test accuracy (negative / neutral / positive)", "sst3-test", "accuracy", 0.70),
            Target("SST-3 test ECE", "sst3-test", "ece", 0.05, at_most=True),
            Target("SST-2 test accuracy, polar answer", "sst2-test", "accuracy", 0.86),
            Target("neutral set: neutral texts answered neutral", "neutral", "per_class.neutral.recall", 0.85),
            Target("neutral set: polar-but-factual texts right", "neutral", "by_category.polar-factual.accuracy", 0.85),
            Target("CR product reviews, polar answer", "cr", "accuracy", 0.80),
            Target("IMDB test, all 25,000 reviews, polar answer", "imdb-test", "accuracy", 0.89),
            Target("IMDB test reviews over 1,500 characters", "imdb-test", "longer_than.1500.accuracy", 0.88),
            Target("behavioural set, all categories", "behaviour", "accuracy", 0.90),
        ),
    ),
    "zh": Language(
        code="zh",
        name="Chinese",
        tokenizer="zh-char",
        tokenizer_version=ZH_TOKENIZER_VERSION,
        tokenize=tokenize_zh,
        script="cjk",
        reads="texts",
        checkpoint="sentiment-rnn-zh.pt",
        card="MODEL_CARD.zh.md",
        corpora={"chnsenticorp": (corpora.read_chnsenticorp, scale.BINARY)},
        read_pretraining=None,
        read_documents=corpora.read_chnsenticorp_dev,
        # Negation and contrast sentences: 不好 vs 不错, 虽然…但是….
        eval_sets={
            "negation-contrast": "negation_contrast.zh.tsv",
            "behaviour": "behaviour.zh.tsv",
            # The same polar constructions, hand-written as a dev set: it may choose between runs.
            "constructions-dev": "constructions_dev.zh.tsv",
        },
        baselines=("char-tfidf",),
        intended_use=(
            "Binary sentiment of Chinese reviews (hotels, laptops, books), read one character per step. The "
            "training data (ChnSentiCorp) is licensed for **non-commercial research or teaching only**: so is "
            "this model. Very short texts are rarer in training than reviews and are less reliable; negated "
            "negative words (不差, 不贵) are a known weak spot."
        ),
        targets=(
            Target("ChnSentiCorp test accuracy", "test", "accuracy", 0.93),
            Target("ChnSentiCorp test ECE", "test", "ece", 0.05, at_most=True),
            Target("behavioural set (polar texts), all categories", "behaviour", "accuracy", 0.90),
        ),
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
