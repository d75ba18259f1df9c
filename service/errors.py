"""One error shape for the whole service: RFC 9457 ``application/problem+json``.

Validation errors list each problem's location and message, and never echo the input back (it may
be huge, or not even valid UTF-8).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """A domain error with its HTTP status, raised anywhere below a route."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem_bytes(status: int, detail: str, instance: str | None, errors: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


def problem_response(
    status: int,
    detail: str,
    request: Request | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    instance = request.url.path if request is not None else None
    return Response(
        problem_bytes(status, detail, instance, errors), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def validation_problem(errors: list[Any], request: Request) -> Response:
    """422 (or 400 when the body is not JSON at all) listing ``loc: msg`` for each error."""
    items = [
        {
            "loc": ["body", *[p for p in e.get("loc", ()) if p != "body"]],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]
    malformed = any(i["type"] in ("json_invalid", "json_type") for i in items)
    detail = "; ".join(f"{'.'.join(map(str, i['loc']))}: {i['msg']}" for i in items)
    return problem_response(400 if malformed else 422, detail, request, items)


def expected_problem(exc: Exception, request: Request) -> Response | None:
    """The problem response for an error a route raises on purpose (a `ProblemError`, a body that
    fails validation), or None for anything else."""
    if isinstance(exc, ProblemError):
        return problem_response(exc.status, exc.detail, request, headers=exc.headers)
    if isinstance(exc, RequestValidationError | ValidationError):
        return validation_problem(list(exc.errors()), request)
    return None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every expected error into a problem response."""

    async def on_expected(request: Request, exc: Exception) -> Response:
        response = expected_problem(exc, request)
        assert response is not None
        return response

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        if exc.status_code == 404:
            detail = f"no route {request.url.path}"
        elif exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"
        return problem_response(exc.status_code, detail, request, headers=getattr(exc, "headers", None))

    app.add_exception_handler(ProblemError, on_expected)
    app.add_exception_handler(RequestValidationError, on_expected)
    app.add_exception_handler(ValidationError, on_expected)
    app.add_exception_handler(HTTPException, on_http)
