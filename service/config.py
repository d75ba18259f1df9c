"""Service settings, read from ``SENTIMENT_*`` environment variables (pydantic-settings).

Created in the app factory (`create_app`) or by `get_settings()`, never at import time, so tests
and tools can build apps with their own settings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ARTIFACTS = Path(__file__).resolve().parents[1] / "model" / "artifacts"


class Settings(BaseSettings):
    """Every limit has a safe default; a plain start with no variables serves the shipped model."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore")

    checkpoint: Path = Field(ARTIFACTS / "sentiment-rnn.pt", description="English model checkpoint")
    checkpoint_sha256: str | None = Field(
        None, description="expected SHA-256 of the checkpoint; default: read from '<checkpoint>.sha256' if present"
    )
    checkpoint_zh: Path | None = Field(
        ARTIFACTS / "sentiment-rnn-zh.pt", description="Chinese model checkpoint; 'none' serves English only"
    )
    checkpoint_zh_sha256: str | None = Field(None, description="expected SHA-256 of the Chinese checkpoint")
    ensemble_members: int | None = Field(
        None, ge=1, description="serve only the first N members of the English ensemble (faster); default all"
    )
    ensemble_members_zh: int | None = Field(None, ge=1, description="the same for the Chinese ensemble")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes (python -m service)")
    torch_threads: int = Field(1, ge=1, description="torch intra-op threads per worker")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    max_text_chars: int = Field(5000, ge=1, description="longest accepted text, in characters")
    max_batch_texts: int = Field(256, ge=1, description="most texts in one /predict/batch request")
    max_explain_texts: int = Field(
        16, ge=1, description="most texts in one /predict/batch request with explain (each costs a pass per token)"
    )
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest accepted request body")
    request_timeout_s: float = Field(10.0, gt=0, description="a prediction waiting longer is answered 503")
    shutdown_timeout_s: int = Field(10, ge=1, description="on SIGTERM, how long in-flight requests may take")

    batch_max_size: int = Field(64, ge=1, description="most texts in one micro-batched forward pass")
    # 0.2 ms: best req/s and p99 at 16 connections of 0, 0.1, 0.2, 0.4 and 1 ms (1 ms cost 20-25%).
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
