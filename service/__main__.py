"""``python -m service``: run uvicorn with host, port, workers and log level from the settings."""

from __future__ import annotations

import uvicorn

from service.config import get_settings


def main() -> None:
    s = get_settings()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=s.host,
        port=s.port,
        workers=s.workers,
        log_level=s.log_level,
        access_log=False,  # the service logs one JSON line per request itself
        timeout_graceful_shutdown=s.shutdown_timeout_s,
    )


if __name__ == "__main__":
    main()
