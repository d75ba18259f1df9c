"""Opt-in API key: when ``SENTIMENT_API_KEY`` is set, guarded routes need it.

Accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time.
Both are declared with FastAPI's security classes, so /docs shows them (and an Authorize button)
exactly when a key is configured; with no key the routes carry no dependency at all.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the guard's annotations, which
# refer to the local `bearer` and `header` objects.
import hmac
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.config import Settings
from service.errors import ProblemError


def api_key_dependencies(settings: Settings) -> list[Any]:
    """The dependencies that enforce the key, or none when no key is configured."""
    if settings.api_key is None:
        return []
    expected = settings.api_key.get_secret_value().encode()
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <SENTIMENT_API_KEY>")
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <SENTIMENT_API_KEY>")

    def guard(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        key: Annotated[str | None, Depends(header)],
    ) -> None:
        supplied = credentials.credentials if credentials is not None else (key or "")
        if not hmac.compare_digest(supplied.encode(), expected):
            raise ProblemError(
                401,
                "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return [Depends(guard)]
