"""Opt-in API key: when ``SENTIMENT_API_KEY`` is set, guarded routes need it.

Accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from service.config import Settings
from service.errors import ProblemError


def api_key_guard(settings: Settings) -> Callable[[Request], None]:
    expected = settings.api_key.get_secret_value().encode() if settings.api_key else None

    def guard(request: Request) -> None:
        if expected is None:
            return
        supplied = request.headers.get("x-api-key", "")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            supplied = token.strip()
        if not hmac.compare_digest(supplied.encode(), expected):
            raise ProblemError(
                401,
                "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard
