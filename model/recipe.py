"""The training recipe as a typed, validated config: `TrainConfig`, and the shipped recipe per language.

Every option has a type (a `Literal` for each choice), bounds and one line of help; a value outside
them is an error, never a silent fallback. Each language's shipped recipe is a small TOML file,
`model/recipes/<lang>.toml`, that sets what differs from the defaults below and says why.
"""

from __future__ import annotations

import argparse
import tempfile
import tomllib
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.data import default_data_dir
from model.languages import ARTIFACTS, LANGUAGES, LanguageCode, language
from model.network import Pooling

Vectors = Literal["none", "word2vec", "word2vec+sentiment"]
GeneralVectors = Literal["none", "glove-6b-50d"]
CorpusName = Literal["sst-treebank", "sst2", "chnsenticorp"]
# Options that change where a run reads or writes, or how fast it goes, never what it trains.
RUN_OPTIONS = frozenset({"data_dir", "out", "workers", "cache_dir"})
# A dry run is tiny unless the command line says otherwise.
DRY_RUN = {
    "members": 2,
    "workers": 1,
    "epochs": 1,
    "evals_per_epoch": 1,
    "hidden_size": 16,
    "embedding_dim": 16,
    "vectors": "none",
    "general_vectors": "none",
    "aliases": 0,
}


class TrainConfig(BaseModel):
    """Every knob of a training run; stored in the checkpoint so that the run can be repeated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    lang: LanguageCode = Field("en", description="language: its data, tokenizer and shipped recipe")
    data_dir: str = Field("", description="folder with the labelled data (default: $SENTIMENT_DATA_DIR)")
    corpus: CorpusName | None = Field(None, description="the labelled corpus (default: the language's first)")
    out: str = Field("", description="checkpoint to write (default: the shipped file for a full run of its recipe)")
    dry_run: bool = Field(False, description="seconds-long smoke run on a data subset, written to a temporary folder")
    seed: int = Field(1, ge=0, description="seed of every random draw; member i uses seed + i")
    members: int = Field(1, ge=1, description="ensemble members, trained alike from their own seeds; logits averaged")
    workers: int = Field(1, ge=1, description="members trained at once, in processes of one torch thread each")
    threads: int = Field(1, ge=1, description="torch threads per process")
    epochs: int = Field(8, ge=1, description="passes over the training data (cosine learning-rate schedule)")
    batch_size: int = Field(64, ge=1, description="texts per optimizer step")
    lr: float = Field(1e-3, gt=0, description="Adam's peak learning rate")
    clip: float = Field(5.0, gt=0, description="gradient norm clipping")
    ema: float = Field(0.0, ge=0, lt=1, description="decay of the weight average that is evaluated and kept (0: off)")
    evals_per_epoch: int = Field(1, ge=1, description="dev checks per epoch; each member keeps its best-dev state")
    embedding_dim: int = Field(300, ge=1, description="size of the token (and bigram) vectors: the RNN's input_size")
    hidden_size: int = Field(128, ge=1, description="torch.nn.RNN hidden_size")
    num_layers: int = Field(1, ge=1, description="torch.nn.RNN num_layers (the serving fast path covers 1)")
    bidirectional: bool = Field(True, description="read each text in both directions")
    pooling: Pooling = Field("last+max", description="how the RNN's states become the head's input")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout before the linear head")
    embedding_dropout: float = Field(0.25, ge=0, lt=1, description="dropout on the RNN's input vectors")
    word_dropout: float = Field(0.0, ge=0, lt=1, description="probability of reading a training token as UNK")
    aliases: int = Field(
        0,
        ge=0,
        description="the general vectors' N most frequent words, if outside the vocabulary, read as the word "
        "inside it nearest to them (0: none)",
    )
    fgm: float = Field(0.0, ge=0, description="adversarial step on trainable embedding tables (FGM; 0: off)")
    negations: int = Field(0, ge=0, description="training texts of up to N tokens also appear negated, label flipped")
    compositions: int = Field(
        0, ge=0, description="texts composed from five-point training phrases by English construction rules"
    )
    composed_neutral: float = Field(
        0.2, ge=0, le=1, description="share of composed negations built on a neutral phrase"
    )
    freeze_embeddings: bool = Field(False, description="keep the (pre-trained) embedding tables fixed")
    vectors: Vectors = Field("none", description="pre-trained token vectors, optionally tuned towards sentiment")
    general_vectors: GeneralVectors = Field(
        "none", description="general-domain word vectors appended to each token vector (a training-time package)"
    )
    w2v_epochs: int = Field(5, ge=1, description="word2vec passes over its text")
    w2v_min_count: int = Field(3, ge=1, description="word2vec's minimum token count")
    w2v_negative: int = Field(5, ge=1, description="word2vec's negative samples per word")
    w2v_window: int = Field(5, ge=1, description="word2vec's context window")
    sentiment_epochs: int = Field(3, ge=1, description="passes over the labelled reviews when tuning vectors")
    vocab_size: int = Field(0, ge=0, description="vocabulary cap, training tokens first (0: no cap)")
    min_freq: int = Field(1, ge=1, description="training tokens seen fewer times (and without a vector) are UNK")
    bigram_min_freq: int = Field(0, ge=0, description="left-bigram input embeddings for pairs seen N+ times (0: off)")
    max_length: int = Field(256, ge=1, description="tokens read per text")
    cache_dir: str = Field("", description="keep pre-trained vectors here between runs (results do not change)")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.corpus is not None and self.corpus not in language(self.lang).corpora:
            raise ValueError(f"{self.lang} has no corpus {self.corpus!r}")
        if self.fgm > 0 and self.freeze_embeddings:
            raise ValueError("fgm moves the embedding tables: it needs trainable ones (--no-freeze-embeddings)")
        if self.general_vectors != "none" and (self.vectors == "none" or self.lang != "en"):
            raise ValueError("general_vectors extend English pre-trained vectors (set vectors)")
        if self.aliases and self.general_vectors == "none":
            raise ValueError("aliases are chosen by the general vectors (set general_vectors)")
        if self.vectors == "word2vec+sentiment" and language(self.lang).read_pretraining is None:
            raise ValueError(
                f"vectors 'word2vec+sentiment' needs labelled pre-training text, which {self.lang} has not"
            )
        return self

    def override(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` (an ablation row: a base recipe plus its overrides)."""
        return TrainConfig(**{**self.model_dump(), **changes})

    def recipe_fields(self) -> dict[str, Any]:
        """What determines the trained weights (everything but where it reads, writes and how fast)."""
        return self.model_dump(exclude=set(RUN_OPTIONS))


def shipped_recipe(lang: str) -> dict[str, Any]:
    """The values `model/recipes/<lang>.toml` sets (the rest are `TrainConfig`'s defaults)."""
    return read_recipe(language(lang).recipe_path)


def read_recipe(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        values = tomllib.load(fh)
    unknown = set(values) - set(TrainConfig.model_fields)
    if unknown:
        raise ValueError(f"{path}: unknown options {', '.join(sorted(unknown))}")
    return values


def is_shipped(cfg: TrainConfig) -> bool:
    """A full run of the language's shipped recipe: the only kind that may write `model/artifacts/`."""
    shipped = TrainConfig(**{**shipped_recipe(cfg.lang), "lang": cfg.lang})
    return not cfg.dry_run and cfg.recipe_fields() == shipped.recipe_fields()


def output_path(cfg: TrainConfig) -> Path:
    """Where the run writes its checkpoint: ``--out``, else the shipped file for a full run of the
    shipped recipe, else (a dry run) a new temporary folder. Anything else must say ``--out``."""
    shipped = is_shipped(cfg)
    if cfg.out:
        path = Path(cfg.out).resolve()
        if path.parent == ARTIFACTS.resolve() and not shipped:
            raise ValueError(
                f"{ARTIFACTS} holds the shipped checkpoints: only a full run of a shipped recipe writes it"
            )
        return path
    if shipped:
        return language(cfg.lang).checkpoint_path
    if cfg.dry_run:
        return Path(tempfile.mkdtemp(prefix="sentiment-rnn-dry-run-")) / language(cfg.lang).checkpoint
    raise ValueError("this run differs from the shipped recipe: say where to write it with --out PATH")


def _choices(annotation: object) -> tuple[Any, ...] | None:
    """The values of a ``Literal`` (or an optional one), else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return None


def parser() -> argparse.ArgumentParser:
    """`python -m model.train`'s options: one per `TrainConfig` field, with its help and each recipe's value."""
    p = argparse.ArgumentParser(
        prog="python -m model.train",
        description="Train a sentiment RNN checkpoint. Without options: the English shipped recipe "
        "(model/recipes/en.toml). Each option overrides the recipe; [en: x, zh: y] are the recipes' values.",
    )
    p.add_argument("--recipe", type=Path, default=None, help="start from this recipe file, not the shipped one")
    recipes = {code: shipped_recipe(code) for code in LANGUAGES}
    for name, info in TrainConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        default = info.default
        shown = ", ".join(f"{code}: {recipes[code].get(name, default)}" for code in LANGUAGES)
        help_text = (
            f"{info.description} [{shown}]" if name not in RUN_OPTIONS | {"lang", "dry_run"} else info.description
        )
        annotation = info.annotation
        if annotation is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif (choices := _choices(annotation)) is not None:
            p.add_argument(flag, choices=choices, default=None, help=help_text)
        else:
            kind = {int: int, float: float, str: str}[annotation]  # type: ignore[index]
            p.add_argument(flag, type=kind, default=None, metavar=name.upper(), help=help_text)
    return p


def parse_args(argv: list[str]) -> TrainConfig:
    """The recipe of ``--lang`` (or ``--recipe``), then the dry-run sizes, then the command line's options."""
    p = parser()
    args = vars(p.parse_args(argv))
    recipe_file = args.pop("recipe")
    chosen = {k: v for k, v in args.items() if v is not None}
    try:
        if recipe_file:
            base = read_recipe(recipe_file)
            lang = chosen.get("lang", base.get("lang", "en"))
        else:
            lang = chosen.get("lang", "en")
            base = shipped_recipe(lang)
        values = {**base, "lang": lang, "data_dir": str(default_data_dir())}
        if chosen.get("dry_run"):
            values.update(DRY_RUN, members=min(int(values.get("members", 1)), 2))
        return TrainConfig(**{**values, **chosen})
    except (ValidationError, ValueError) as exc:
        p.error(str(exc))
