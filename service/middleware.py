"""Pure ASGI middleware (no BaseHTTPMiddleware: it would cost the hot path a task per request).

`RequestContext` does, for every HTTP request: a request id (from ``X-Request-ID`` or new, echoed
in the response), the body-size limit (413 before a too-large body is read), one JSON log line,
the Prometheus request counters, and the generic 500 for an unexpected exception. POSTs to the
paths in ``direct`` (`service.routes.predict.direct_routes`) go straight to their endpoint.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import problem_bytes
from service.telemetry import Metrics

log = logging.getLogger("service.access")
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        direct: Mapping[str, tuple[Any, ASGIApp]] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.direct = direct or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, declared_length = _id_and_length(scope)
        exchange = _Exchange(receive, send, request_id, self.max_body_bytes, scope.get("path"))
        app = self.app
        if scope["method"] == "POST" and not scope.get("root_path") and (direct := self.direct.get(scope["path"])):
            scope["route"], app = direct
        try:
            if declared_length > self.max_body_bytes:
                await exchange.answer_413()
            else:
                await app(scope, exchange.receive, exchange.send)
        except Exception:
            # The one place unexpected errors end: logged with the trace, answered without detail.
            log.exception("unhandled error", extra={"request_id": request_id, "path": scope.get("path")})
            await exchange.answer_500()
        finally:
            self._record(scope, exchange.status, request_id, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, request_id: str, elapsed: float) -> None:
        """The request counters, the latency histogram and the log line."""
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.request_done(path, method, status, elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )


def _id_and_length(scope: Scope) -> tuple[str, int]:
    """The request id (the client's ``X-Request-ID`` if valid, else new) and the declared length."""
    request_id = ""
    declared_length = -1
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            request_id = candidate if _VALID_ID.fullmatch(candidate) else ""
        elif name == b"content-length":
            declared_length = int(value) if value.isdigit() else -1
    return request_id or os.urandom(16).hex(), declared_length  # uuid4's 128 random bits, without a UUID


class _Exchange:
    """One request seen from the middleware: the status sent, the body bytes received so far, and
    the answers the middleware gives itself (413, 500)."""

    __slots__ = (
        "_receive",
        "_send",
        "answered",
        "id_header",
        "max_body_bytes",
        "path",
        "received",
        "started",
        "status",
    )

    def __init__(self, receive: Receive, send: Send, request_id: str, max_body_bytes: int, path: str | None) -> None:
        self._receive = receive
        self._send = send
        self.id_header = (b"x-request-id", request_id.encode())
        self.max_body_bytes = max_body_bytes
        self.path = path
        self.status = 500
        self.started = False  # True once the response has started
        self.answered = False  # True once this middleware itself has answered (413)
        self.received = 0

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.status, self.started = message["status"], True
            message["headers"] = [*message.get("headers", []), self.id_header]
        await self._send(message)

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body_bytes:
                if not self.answered:
                    await self.answer_413()
                return {"type": "http.disconnect"}
        return message

    async def answer_413(self) -> None:
        body = problem_bytes(413, f"request body exceeds the limit of {self.max_body_bytes} bytes", self.path)
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await self.send({"type": "http.response.start", "status": 413, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        self.answered = True

    async def answer_500(self) -> None:
        if self.started:
            return  # too late to change the answer
        body = problem_bytes(500, "an internal error occurred; it has been logged", None)
        headers = [(b"content-type", b"application/problem+json")]
        await self.send({"type": "http.response.start", "status": 500, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
