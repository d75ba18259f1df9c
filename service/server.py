"""How ``python -m service`` runs uvicorn: a deadline for request headers, and a drain on SIGTERM.

uvicorn has no timeout on reading a request: ``timeout_keep_alive`` only covers the idle time
*between* requests, and any byte received cancels it, so a client that sends its headers a byte a
second holds a connection (and its file descriptor) for as long as it likes. `HeaderDeadline`
closes a connection whose request headers are not complete ``header_timeout_s`` after the
connection opened (first request) or after the request's first byte (later ones on a keep-alive
connection). uvicorn's httptools protocol has no limit on the size of the headers either (200 MB of
headers grew a worker by 196 MB when this was written), so it also answers 431 and closes once a
request's line and headers pass ``header_max_bytes``. The body is the app's to bound
(``max_body_bytes``), and ``request_timeout_s`` bounds the prediction itself.

On SIGTERM, `DrainingServer` first answers ``/ready`` (and ``/v2/health/ready``) with 503 for
``drain_s`` seconds while every other request is still served, so that a load balancer with health
checks stops sending new work; then uvicorn's own graceful shutdown runs: no new connections, idle
keep-alive connections closed, in-flight requests finished within ``shutdown_timeout_s``. SIGINT
(Ctrl-C) and a second SIGTERM skip the drain. The drain needs one worker process (the containers'
setting); with ``workers > 1`` uvicorn's supervisor runs its own servers and only the header
deadline applies.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import get_settings
from service.errors import problem_response

log = logging.getLogger("service.server")
READY_PATHS = frozenset({"/ready", "/v2/health/ready"})
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers are too slow or too large."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # read per process (a spawned worker reads the same SENTIMENT_* variables); cached after the first
        settings = get_settings()
        self.header_timeout_s = settings.header_timeout_s
        self.header_max_bytes = settings.header_max_bytes
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0  # received for the request whose headers are not complete yet

    def _between_requests(self) -> bool:
        """No request whose headers are complete is in progress on this connection."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._header_bytes = 0
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self._between_requests() and not self.transport.is_closing():
            log.info("closing a connection: request headers not complete within %s s", self.header_timeout_s)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._between_requests():
            self._arm()  # the first bytes of a later request on a keep-alive connection
        super().data_received(data)
        if not self._between_requests():
            self._disarm()  # the headers are complete: the request is the app's now
        elif self._deadline is not None:
            self._header_bytes += len(data)
            if self._header_bytes > self.header_max_bytes and not self.transport.is_closing():
                self._disarm()
                self.transport.write(TOO_LARGE)
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class DrainGate:
    """Pure ASGI: while ``draining``, the readiness routes answer 503; everything else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.draining and scope["type"] == "http" and scope["path"] in READY_PATHS:
            response = problem_response(503, "the service is shutting down", headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class DrainingServer(uvicorn.Server):
    """A uvicorn server that, on the first SIGTERM, drains for ``drain_s`` before shutting down."""

    def __init__(self, config: uvicorn.Config, gate: DrainGate, drain_s: float) -> None:
        super().__init__(config)
        self.gate = gate
        self.drain_s = drain_s
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_s > 0 and self.drain_until is None:
            self.gate.draining = True
            self.drain_until = time.monotonic() + self.drain_s
            log.info("SIGTERM: /ready answers 503 for %s s, then shutdown", self.drain_s)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and not self.should_exit and time.monotonic() >= self.drain_until:
            super().handle_exit(signal.SIGTERM, None)  # uvicorn's shutdown, as if SIGTERM came now
        return await super().on_tick(counter)
