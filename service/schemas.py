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


def _check_text(text: str, info: ValidationInfo) -> str:
    if not _NOT_BLANK.search(text):
        raise ValueError("text must contain at least one non-whitespace character")
    limit = (info.context or {}).get("max_text_chars")
    if limit is not None and len(text) > limit:
        raise ValueError(f"text is {len(text)} characters long; the limit is {limit}")
    return text


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lang: LanguageCode | None = Field(None, description="Language of the text(s); detected from the text when omitted.")
    explain: bool = Field(False, description="Add a per-token breakdown and the running sentiment.")
    include_hidden: bool = Field(False, description="Add the full final hidden state h_n.")


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


class BatchRequest(_Options):
    texts: list[str] = Field(
        min_length=1,
        description="Texts to classify, in order (at most `SENTIMENT_MAX_BATCH_TEXTS`; with `explain`, at "
        "most `SENTIMENT_MAX_EXPLAIN_TEXTS`; this instance's limits are the schema's maxItems).",
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
        limit = (info.context or {}).get("max_batch_texts")
        if limit is not None and len(texts) > limit:
            raise ValueError(f"batch has {len(texts)} texts; the limit is {limit}")
        for i, text in enumerate(texts):
            try:
                _check_text(text, info)
            except ValueError as exc:
                raise ValueError(f"texts[{i}]: {exc}") from None
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
    known: bool = Field(description="False when the token is outside the vocabulary (read as <unk>).")
    contribution: float = Field(description="Change in log-odds of the predicted label when the RNN read this token.")
    running: dict[str, float] = Field(description="Probability of each label had the text ended after this token.")


class Explanation(_Out):
    baseline: float = Field(description="Log-odds of the predicted label before any token (h_0 = 0).")
    tokens: list[TokenExplanation]
    note: str = Field(description="How to read the numbers for this model.")


class Prediction(_Out):
    label: str = Field(examples=["negative"])
    score: float = Field(description="Probability of the returned label.", examples=[0.93])
    probabilities: dict[str, float] = Field(examples=[{"negative": 0.93, "positive": 0.07}])
    language: LanguageCode = Field(description="Language whose model answered.")
    model_version: str = Field(description="Model name and the first 12 hex digits of its checkpoint SHA-256.")
    tokens: int = Field(description="Tokens the model read (after truncation).")
    unknown_tokens: int = Field(description="Of those, tokens outside the vocabulary.")
    truncated: bool = Field(description="True when the text had more tokens than the model's max length.")
    hidden_state: HiddenState
    explanation: Explanation | None = None


class BatchResponse(_Out):
    predictions: list[Prediction]


class ModelInfo(_Out):
    name: str
    language: LanguageCode
    model_version: str
    architecture: dict[str, Any]
    vocab_size: int
    labels: list[str]
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
