"""Request and response models: the service's public contract, with OpenAPI examples.

Limits that come from settings (characters per text, texts per batch) are checked with the
validation context, so they stay configurable and still produce ordinary 422 errors.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from model.languages import LanguageCode

_EXAMPLE_TEXT = "This ISN'T great (at all)!"


# A text needs one character that is whitespace neither to Python (which counts the separators
# \x1c-\x1f and \x85) nor to JSON Schema's ECMA-262 regexes (which count \ufeff). The OpenAPI
# document states the same rule as TEXT_PATTERN, so the schema and the server agree exactly.
_NOT_BLANK = re.compile(r"[^\s\ufeff]")
TEXT_PATTERN = r"[^\s\x1c-\x1f\x85]"


def text_problem(text: str, context: dict[str, Any] | None, explain: bool = False) -> str | None:
    """Why ``text`` cannot be answered (blank, too long, too long to explain), or None."""
    if not _NOT_BLANK.search(text):
        return "text must contain at least one non-whitespace character"
    limit = (context or {}).get("max_text_chars")
    if limit is not None and len(text) > limit:
        return f"text is {len(text)} characters long; the limit is {limit}"
    explain_limit = (context or {}).get("max_explain_chars")
    if explain and explain_limit is not None and len(text) > explain_limit:
        return f"explain is limited to texts of {explain_limit} characters; this one has {len(text)}"
    return None


def _check_text(text: str, info: ValidationInfo) -> str:
    problem = text_problem(text, info.context)
    if problem is not None:
        raise ValueError(problem)
    return text


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lang: LanguageCode | None = Field(None, description="Language of the text(s); detected from the text when omitted.")
    explain: bool = Field(False, description="Add a per-token breakdown and the running sentiment.")
    include_hidden: bool = Field(False, description="Add the full final hidden state h_n.")
    binary: bool = Field(
        False,
        description="A polar answer: negative or positive, by the probability of each side, renormalised "
        "(the SST-2 protocol), even from a model with a neutral label.",
    )
    sentences: bool = Field(
        False, description="Add each sentence's answer with its character offsets (`text[start:end]`)."
    )


class PredictRequest(_Options):
    text: str = Field(
        description="Raw text to classify (at most `SENTIMENT_MAX_TEXT_CHARS` characters; this instance's "
        "limit is the schema's maxLength).",
        examples=[_EXAMPLE_TEXT],
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"text": _EXAMPLE_TEXT}, {"text": "A gorgeous, witty film.", "explain": True}]},
    )

    _text = field_validator("text")(_check_text)

    @model_validator(mode="after")
    def _explain_length(self, info: ValidationInfo) -> PredictRequest:
        problem = text_problem(self.text, info.context, self.explain)
        if problem is not None:
            raise ValueError(problem)
        return self


class BatchRequest(_Options):
    texts: list[str] = Field(
        min_length=1,
        description="Texts to classify, in order (at most `SENTIMENT_MAX_BATCH_TEXTS`; with `explain`, at "
        "most `SENTIMENT_MAX_EXPLAIN_TEXTS`; this instance's limits are the schema's maxItems; at most "
        "`SENTIMENT_MAX_BATCH_CHARS` characters in all). A text that "
        "cannot be answered (blank, too long) gets an error object in its place; the others are answered.",
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"texts": ["A gorgeous, witty film.", "Dull and far too long."]}]},
    )

    @model_validator(mode="after")
    def _explain_limit(self, info: ValidationInfo) -> BatchRequest:
        # An explanation re-reads every prefix of its text: bounded separately from plain batches.
        limit = (info.context or {}).get("max_explain_texts")
        if self.explain and limit is not None and len(self.texts) > limit:
            raise ValueError(f"explain is limited to {limit} texts per batch; this batch has {len(self.texts)}")
        return self

    @field_validator("texts")
    @classmethod
    def _texts(cls, texts: list[str], info: ValidationInfo) -> list[str]:
        context = info.context or {}
        limit = context.get("max_batch_texts")
        if limit is not None and len(texts) > limit:
            raise ValueError(f"batch has {len(texts)} texts; the limit is {limit}")
        # Every character of every text that is read (those within the text limit; the others get an
        # error in their place) goes through the model: the total bounds the batch's time.
        longest, budget = context.get("max_text_chars", 0), context.get("max_batch_chars")
        chars = sum(n for n in map(len, texts) if n <= longest)
        if budget is not None and chars > budget:
            raise ValueError(f"the texts total {chars} characters; the limit is {budget} per request: split the batch")
        return texts


class _Out(BaseModel):
    """Response models: exactly these fields (the tests validate served answers against them)."""

    model_config = ConfigDict(extra="forbid")


class Unit(_Out):
    index: int = Field(description="Index of the hidden unit (0 .. hidden_size-1).")
    value: float


class StateSummary(_Out):
    member: int = Field(description="Ensemble member (0 for a single network).")
    layer: int
    direction: Literal["forward", "backward"]
    l2_norm: float
    mean: float
    std: float
    min: float
    max: float
    top_units: list[Unit] = Field(description="The units with the largest absolute value, largest first.")
    values: list[float] | None = Field(None, description="All hidden_size values (with include_hidden).")


class HiddenState(_Out):
    """Summary of the final hidden state h_n, one entry per member, layer and direction."""

    members: int = Field(description="Networks in the ensemble whose logits are averaged (1: a single RNN).")
    num_layers: int
    num_directions: int
    hidden_size: int
    states: list[StateSummary]


class TokenExplanation(_Out):
    text: str
    known: bool = Field(description="False when the model reads the token as <unk>: outside its vocabulary, no alias.")
    read_as: str | None = Field(
        description="A token outside the vocabulary is read as its nearest word inside it (chosen in training, "
        "English): that word, else null.",
        examples=["modem"],
    )
    contribution: float = Field(description="Change in log-odds of the predicted label when the RNN read this token.")
    running: dict[str, float] = Field(description="Probability of each label had the text ended after this token.")
    sentiment: float = Field(description="The sentiment score had the text ended after this token.", ge=-1, le=1)


class Explanation(_Out):
    baseline: float = Field(description="Log-odds of the predicted label before any token (h_0 = 0).")
    baseline_sentiment: float = Field(description="The sentiment score before any token (h_0 = 0).", ge=-1, le=1)
    tokens: list[TokenExplanation]
    note: str = Field(description="How to read the numbers for this model.")


class Scale(_Out):
    """The five-point scale of a model trained on the Stanford Sentiment Treebank (sums to 1)."""

    very_negative: float = Field(ge=0, le=1)
    negative: float = Field(ge=0, le=1)
    neutral: float = Field(ge=0, le=1)
    positive: float = Field(ge=0, le=1)
    very_positive: float = Field(ge=0, le=1)


class SentenceAnswer(_Out):
    """One sentence of a text: where it is and what it says."""

    start: int = Field(ge=0, description="Offset of its first character in the text (Python string indices).")
    end: int = Field(ge=1, description="Offset just past its last character: `text[start:end]` is the sentence.")
    label: str
    score: float
    probabilities: dict[str, float]
    sentiment: float = Field(ge=-1, le=1)
    explanation: Explanation | None = None


class Prediction(_Out):
    label: str = Field(
        description="negative, neutral or positive (a model without a neutral label, or `binary`: negative or "
        "positive): the largest of `probabilities`.",
        examples=["negative"],
    )
    score: float = Field(description="Probability of the returned label.", examples=[0.93])
    probabilities: dict[str, float] = Field(
        description="Probability of each answer label (summing to 1).",
        examples=[{"negative": 0.93, "neutral": 0.05, "positive": 0.02}],
    )
    sentiment: float = Field(
        ge=-1,
        le=1,
        description="A continuous score in [-1, 1]: the expected value of the five-point scale mapped to -1..1 "
        "(a two-label model: P(positive) - P(negative)).",
        examples=[-0.71],
    )
    scale: Scale | None = Field(None, description="The five-point probabilities, where the model has them.")
    language: LanguageCode = Field(description="Language whose model answered.")
    model_version: str = Field(description="Model name and the first 12 hex digits of its checkpoint SHA-256.")
    tokens: int = Field(description="Tokens the model read: every sentence of a longer text is read.")
    unknown_tokens: int = Field(description="Of those, tokens read as <unk> (outside the vocabulary, no alias).")
    truncated: bool = Field(
        description="Whether part of the text went unread. Every token is read now (a text longer than the model "
        "reads at once is read in pieces), so this is false; kept for clients that check it."
    )
    hidden_state: HiddenState
    explanation: Explanation | None = None
    sentences: list[SentenceAnswer] | None = Field(
        None,
        description="With `sentences` (or `explain` on a text of several sentences): each sentence's answer. "
        "A text of several sentences is answered from its sentences', polar ones and the last weighing more.",
    )


class ItemError(_Out):
    """A text of a batch that could not be answered, in its place (RFC 9457 fields plus its index)."""

    index: int = Field(ge=0, description="Its position in `texts`.")
    type: str = Field("about:blank")
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["text must contain at least one non-whitespace character"])


class BatchResponse(_Out):
    predictions: list[Prediction | ItemError] = Field(
        description="One entry per text, in order: its answer, or an error object for a text that was refused."
    )


class ModelInfo(_Out):
    name: str
    language: LanguageCode
    model_version: str
    architecture: dict[str, Any]
    vocab_size: int
    aliases: int = Field(
        description="Words outside the vocabulary that are read as their nearest word inside it (0: none).",
        examples=[74660],
    )
    labels: list[str] = Field(description="The model's own labels (the five-point scale, or negative and positive).")
    answer_labels: list[str] = Field(
        description="The labels an answer gives without `binary` (with it: negative, positive)."
    )
    max_length: int = Field(description="Tokens read per text; longer texts are truncated.")
    tokenizer: dict[str, Any]
    inference_path: str = Field(description="Which forward implementation serves requests.")
    checkpoint_sha256: str
    training_data: dict[str, str] = Field(description="Data files used in training and their SHA-256.")
    metrics: dict[str, Any]


class ModelsResponse(_Out):
    models: list[ModelInfo]


class Problem(BaseModel):
    """An RFC 9457 problem detail: the one error shape of this service."""

    type: str = Field("about:blank", examples=["about:blank"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["body.text: text must contain at least one non-whitespace character"])
    instance: str | None = Field(None, examples=["/predict"])
    errors: list[dict[str, Any]] | None = Field(None, description="Each validation error: location and message.")
