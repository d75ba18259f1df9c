"""The FastAPI app: `create_app(settings)` wires state, lifespan, middleware, errors and routes.

``uvicorn service.app:app`` serves the shipped models with settings from ``SENTIMENT_*`` variables.
Nothing here answers a request: routes are in `service.routes`, the state they share in
`service.state`, the OpenAPI document in `service.openapi`.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from service import errors, memory, openapi
from service.config import Settings, get_settings
from service.middleware import RequestContext
from service.routes import meta, predict, v2
from service.security import api_key_dependencies
from service.state import ServiceState, load_models
from service.telemetry import Metrics, configure_logging
from service.tracing import Tracing, TracingMiddleware, install_log_ids

VERSION = "1.0.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load and warm up the models, start the batcher, then mark the service ready."""
    state: ServiceState = app.state.service
    torch.set_num_threads(state.settings.torch_threads)
    memory.return_large_blocks()
    await asyncio.to_thread(load_models, state)
    batcher = state.start_batcher()
    # Everything loaded so far (models, vocabularies, tokenizer tables) lives as long as the
    # process: move it out of the garbage collector's reach, so that full collections under load
    # do not walk it again and again (what that did to latency and throughput: `docs/performance.md`).
    # Not collected first: start-up leaves little garbage, and finding it walks every object, a
    # noticeable part of start-up. Python's own advice for `gc.freeze`: disable early
    # (`python -m service` does), freeze, enable.
    gc.freeze()
    gc.enable()
    memory.serve_from_heap()
    state.ready = True
    try:
        yield
    finally:
        state.ready = False
        batcher.stop()
        if state.tracing is not None:
            state.tracing.shutdown()
        gc.unfreeze()  # an app that is shut down (tests make many) can be collected again


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own state and metrics; the models load when its lifespan starts."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    state = ServiceState(settings, Metrics(), tracing=Tracing.from_env(os.environ, VERSION))
    app = FastAPIOffline(
        title="sentiment-rnn",
        version=VERSION,
        summary="Sentiment analysis with a torch.nn.RNN (tanh Elman RNN) classifier.",
        description=openapi.description(settings),
        lifespan=lifespan,
    )
    app.state.service = state
    errors.install(app)
    guard = api_key_dependencies(settings)
    predict.add_routes(app, dependencies=guard)
    v2.add_routes(app, dependencies=guard)
    app.include_router(meta.public)
    app.include_router(meta.model_routes, dependencies=guard)
    app.include_router(meta.metrics_routes, dependencies=guard if settings.protect_metrics else [])
    app.mount("/static", StaticFiles(directory=meta.STATIC_DIR, check_dir=False), name="static")
    openapi.install(app, state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(
        RequestContext,
        metrics=state.metrics,
        max_body_bytes=settings.max_body_bytes,
        # CORS must see every answer: with it, the prediction routes go through FastAPI too.
        direct=predict.direct_routes(app, guard) if not settings.cors_origins else {},
    )
    if state.tracing is not None:  # outermost: its span holds the whole request, RequestContext's too
        app.add_middleware(TracingMiddleware, tracing=state.tracing)
        install_log_ids()
    return app


def __getattr__(name: str) -> FastAPI:
    """``service.app:app`` for uvicorn, built on first access (not at import) from the environment."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
