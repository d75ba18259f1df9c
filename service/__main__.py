"""``python -m service``: run uvicorn with the settings' host, port, workers, log level and timeouts.

Connections get a deadline for their request headers, and one worker drains on SIGTERM before it
shuts down (`service.server`).
"""

from __future__ import annotations

import gc

# Start-up makes millions of objects that live as long as the process (torch's and FastAPI's
# modules, then the models); collecting while they are made finds nothing to free. The lifespan
# freezes what was loaded and turns collection back on (`service.app`).
gc.disable()

import sys
from typing import cast

import uvicorn
from starlette.types import ASGIApp
from uvicorn._types import ASGIApplication
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from service.app import create_app
from service.config import Settings, get_settings
from service.server import DrainGate, DrainingServer, HeaderDeadline


def uvicorn_config(app: ASGIApp | str, s: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        cast("ASGIApplication | str", app),  # Starlette's and uvicorn's ASGI types are the same protocol
        factory=isinstance(app, str),
        host=s.host,
        port=s.port,
        workers=s.workers,
        log_level=s.log_level,
        access_log=False,  # the service logs one JSON line per request itself
        http=HeaderDeadline,
        timeout_keep_alive=s.keep_alive_s,
        timeout_graceful_shutdown=s.shutdown_timeout_s,
    )


def main() -> None:
    s = get_settings()
    if s.workers > 1:  # as uvicorn.run does: each worker process imports and builds the app itself
        gc.enable()  # this process only supervises; it runs no lifespan
        config = uvicorn_config("service.app:create_app", s)
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    gate = DrainGate(create_app(s))
    server = DrainingServer(uvicorn_config(gate, s), gate, s.drain_s)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
