"""Service settings, read from ``SENTIMENT_*`` environment variables (pydantic-settings).

Created in the app factory (`create_app`) or by `get_settings()`, never at import time, so tests
and tools can build apps with their own settings.

The models to serve are a list, ``SENTIMENT_MODELS`` (JSON: one `ModelSpec` per model, in order;
the first answers ``/model``). Without it, every language record's shipped checkpoint is served,
and the per-language shorthands (`SHORTHANDS`: ``SENTIMENT_CHECKPOINT``, ``SENTIMENT_CHECKPOINT_ZH``,
...) change one field of their language's entry. Setting both is an error.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.languages import LANGUAGES, LanguageCode


class ModelSpec(BaseModel):
    """One model to serve: its checkpoint file and how to load it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: Path = Field(description="checkpoint file")
    sha256: str | None = Field(
        None, description="expected SHA-256 of the file; default: read from '<checkpoint>.sha256' if present"
    )
    members: int | None = Field(
        None, ge=1, description="serve only the first N members of the ensemble (faster); default all"
    )


# The variables from before SENTIMENT_MODELS, as (language, ModelSpec field) of the entry they set.
SHORTHANDS: dict[str, tuple[LanguageCode, str]] = {
    "checkpoint": ("en", "checkpoint"),
    "checkpoint_sha256": ("en", "sha256"),
    "ensemble_members": ("en", "members"),
    "checkpoint_zh": ("zh", "checkpoint"),
    "checkpoint_zh_sha256": ("zh", "sha256"),
    "ensemble_members_zh": ("zh", "members"),
}


class Settings(BaseSettings):
    """Every limit has a safe default; a plain start with no variables serves the shipped models."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore")

    models: list[ModelSpec] = Field(
        default_factory=list,
        description="the models to serve, in order, as a JSON list of {checkpoint, sha256, members}; "
        "default: every language's shipped checkpoint",
    )
    checkpoint: Path | None = Field(None, description="shorthand: the English entry's checkpoint")
    checkpoint_sha256: str | None = Field(None, description="shorthand: the English entry's sha256")
    ensemble_members: int | None = Field(None, ge=1, description="shorthand: the English entry's members")
    checkpoint_zh: Path | None = Field(
        None, description="shorthand: the Chinese entry's checkpoint; 'none' serves no Chinese model"
    )
    checkpoint_zh_sha256: str | None = Field(None, description="shorthand: the Chinese entry's sha256")
    ensemble_members_zh: int | None = Field(None, ge=1, description="shorthand: the Chinese entry's members")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes (python -m service)")
    torch_threads: int = Field(1, ge=1, description="torch intra-op threads per worker")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    max_text_chars: int = Field(100_000, ge=1, description="longest accepted text, in characters")
    max_explain_chars: int = Field(
        5000, ge=1, description="longest text that may ask for explain (each sentence's prefixes are re-read)"
    )
    max_batch_texts: int = Field(256, ge=1, description="most texts in one /predict/batch request")
    max_batch_chars: int = Field(
        0, ge=0, description="most characters in all the texts of one /predict/batch together; 0: max_text_chars"
    )
    max_explain_texts: int = Field(
        16, ge=1, description="most texts in one /predict/batch request with explain (each costs a pass per token)"
    )
    max_body_bytes: int = Field(
        0, ge=0, description="largest accepted request body; 0: 20 bytes per character of max_text_chars"
    )
    request_timeout_s: float = Field(10.0, gt=0, description="a prediction waiting longer is answered 503")
    shutdown_timeout_s: int = Field(10, ge=1, description="on SIGTERM, how long in-flight requests may take")
    # uvicorn's connection handling under `python -m service` (`service.server`)
    drain_s: float = Field(
        2.0, ge=0, description="on SIGTERM, how long /ready answers 503 (other routes still served) before shutdown"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="close a connection whose request headers are not complete within this many seconds"
    )
    header_max_bytes: int = Field(
        65536, ge=1024, description="answer 431 and close once a request's line and headers pass this size"
    )
    keep_alive_s: int = Field(5, ge=1, description="close a keep-alive connection idle this long (uvicorn's default)")

    batch_max_size: int = Field(64, ge=1, description="most texts in one micro-batched forward pass")
    # A short wait lets a batch fill under load; a long one adds latency to every request. The
    # default is the best of the waits measured in `docs/performance.md`.
    batch_wait_ms: float = Field(0.2, ge=0, description="how long a forward waits for more requests")
    queue_size: int = Field(2048, ge=1, description="pending /predict texts before answering 503")

    api_key: SecretStr | None = Field(None, description="when set, prediction and metadata routes need it")
    protect_metrics: bool = Field(False, description="require the API key on /metrics too")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma-separated")

    @field_validator("checkpoint_zh", mode="before")
    @classmethod
    def _optional_path(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _body_follows_text(self) -> Settings:
        """A body must hold the longest text (JSON escapes take up to 12 bytes per character)."""
        if self.max_body_bytes == 0:
            self.max_body_bytes = max(1024, 20 * self.max_text_chars)
        if self.max_batch_chars == 0:  # a batch costs at most about as much as the longest text
            self.max_batch_chars = self.max_text_chars
        return self

    @model_validator(mode="after")
    def _resolve_models(self) -> Settings:
        """``models`` as given, or the shipped checkpoints with the shorthands applied."""
        shorthands = sorted(self.model_fields_set & SHORTHANDS.keys())
        if "models" in self.model_fields_set:
            if shorthands:
                names = ", ".join(f"SENTIMENT_{name.upper()}" for name in shorthands)
                raise ValueError(f"set SENTIMENT_MODELS or the shorthands ({names}), not both")
            if not self.models:
                raise ValueError("SENTIMENT_MODELS lists no model")
            return self
        entries: dict[str, dict[str, Any]] = {
            code: {"checkpoint": lang.checkpoint_path} for code, lang in LANGUAGES.items()
        }
        for name in shorthands:
            code, key = SHORTHANDS[name]
            entries[code][key] = getattr(self, name)
        self.models = [ModelSpec(**entry) for entry in entries.values() if entry["checkpoint"] is not None]
        if not self.models:
            raise ValueError("no model to serve")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
