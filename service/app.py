"""The FastAPI app: `create_app(settings)` wires settings, model loading, routes and errors.

``uvicorn service.app:app`` serves the shipped model with settings from ``SENTIMENT_*`` variables.
Routes stay thin: parse and validate -> predictor (through the micro-batcher) -> response bytes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import torch
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from model.checkpoint import CheckpointError
from service import errors, language, memory
from service.batching import MicroBatcher, OverloadedError
from service.config import Settings, get_settings
from service.errors import PROBLEM_JSON, ProblemError
from service.middleware import RequestContext
from service.predictor import Answer, Predictor
from service.predictor import Request as PredictRequestItem
from service.schemas import (
    TEXT_PATTERN,
    BatchRequest,
    BatchResponse,
    ModelInfo,
    ModelsResponse,
    Prediction,
    PredictRequest,
    Problem,
)
from service.security import api_key_dependencies
from service.telemetry import Metrics, configure_logging

log = logging.getLogger("service.app")
STATIC_DIR = Path(__file__).resolve().parent / "static"
M = TypeVar("M", bound=BaseModel)


@dataclass
class ServiceState:
    """Everything the routes need, created per app; ``ready`` only after load and warm-up."""

    settings: Settings
    metrics: Metrics
    predictors: dict[str, Predictor] = field(default_factory=dict)
    batcher: MicroBatcher | None = None
    ready: bool = False

    def predictor_for(self, lang: str | None, text: str) -> Predictor:
        chosen = lang or language.detect(text, available=self.predictors)
        if chosen not in self.predictors:
            raise ProblemError(422, f"no model is loaded for language {chosen!r}; loaded: {sorted(self.predictors)}")
        return self.predictors[chosen]

    def require_ready(self) -> MicroBatcher:
        """The batcher, or 503 while models load or the service shuts down."""
        if not self.ready or self.batcher is None:
            raise ProblemError(503, "the model is not loaded yet", headers={"Retry-After": "1"})
        return self.batcher


def _load(state: ServiceState) -> None:
    """Verify, load and warm up every configured model; any failure aborts startup."""
    s = state.settings
    configured = [(s.checkpoint, s.checkpoint_sha256, s.ensemble_members)]
    if s.checkpoint_zh is not None:
        configured.append((s.checkpoint_zh, s.checkpoint_zh_sha256, s.ensemble_members_zh))
    for path, expected, members in configured:
        predictor = Predictor.load(path, expected, members)
        if predictor.ckpt.language in state.predictors:
            raise CheckpointError(f"two checkpoints for language {predictor.ckpt.language!r}: {path}")
        predictor.warm_up()
        state.predictors[predictor.ckpt.language] = predictor
        state.metrics.model_load.labels(predictor.name).set(predictor.load_seconds)
        log.info("model loaded", extra={"model": predictor.version, "seconds": round(predictor.load_seconds, 3)})


def _json_body(model: type[M]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def _problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "The body is not valid JSON (or not UTF-8).",
        401: "The API key is missing or wrong (only when SENTIMENT_API_KEY is set).",
        413: "The body is larger than SENTIMENT_MAX_BODY_BYTES.",
        415: "The body is not declared as application/json.",
        422: "The body does not match the schema: the detail says which field and why.",
        503: "Not ready, or at capacity: retry after the Retry-After header's seconds.",
    }
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {c: {"description": descriptions[c], "content": {PROBLEM_JSON: problem}} for c in codes}


async def _parse(request: Request, model: type[M], state: ServiceState) -> M:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, f"expected Content-Type application/json, got {media or 'none'!r}")
    body = await request.body()
    s = state.settings
    context = {
        "max_text_chars": s.max_text_chars,
        "max_batch_texts": s.max_batch_texts,
        "max_explain_texts": s.max_explain_texts,
    }
    return model.model_validate_json(body, context=context)


async def _run(state: ServiceState, predictor: Predictor, items: list[PredictRequestItem]) -> list[Answer]:
    batcher = state.require_ready()
    try:
        results = await asyncio.wait_for(batcher.submit(predictor, items), state.settings.request_timeout_s)
    except OverloadedError as exc:
        state.metrics.overload.inc()
        raise ProblemError(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except TimeoutError:
        raise ProblemError(503, "the prediction timed out; retry shortly", headers={"Retry-After": "1"}) from None
    for p in results:
        state.metrics.predictions.labels(predictor.name, p["label"]).inc()
    return results


def _model_info(p: Predictor) -> ModelInfo:
    cfg = p.ckpt.model_config
    return ModelInfo(
        name=p.name,
        language=p.ckpt.language,
        model_version=p.version,
        architecture={
            "type": "torch.nn.RNN",
            "nonlinearity": "tanh",
            "input_size": cfg.embedding_dim,
            "hidden_size": cfg.hidden_size,
            "num_layers": cfg.num_layers,
            "bidirectional": cfg.bidirectional,
            "num_directions": cfg.num_directions,
            "pooling": cfg.pooling,
            "ensemble_members": len(p.ckpt.members),
            "ensemble_members_in_checkpoint": p.available_members,
        },
        vocab_size=len(p.ckpt.vocab),
        labels=list(p.labels),
        max_length=p.ckpt.max_length,
        tokenizer=p.ckpt.tokenizer,
        inference_path=p.classifier.path,
        checkpoint_sha256=p.sha256,
        training_data=p.ckpt.training.get("data_files", {}),
        metrics={"temperature": p.ckpt.temperature, **p.ckpt.metrics},
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    metrics = Metrics()
    state = ServiceState(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(settings.torch_threads)
        memory.return_large_blocks()
        await asyncio.to_thread(_load, state)
        state.batcher = MicroBatcher(
            settings.batch_max_size,
            settings.batch_wait_ms,
            settings.queue_size,
            settings.torch_threads,
            on_batch=lambda p, n: metrics.forward_batch.labels(p.name).observe(n),
        )
        metrics.queue.set_function(lambda: state.batcher.queued if state.batcher else 0)
        state.batcher.start()
        # Everything loaded so far (models, vocabularies, tokenizer tables) lives as long as the
        # process: move it out of the garbage collector's reach. Without this, full collections
        # walk it all again and again under load: p99 latency 150-170 ms instead of 6 ms, and
        # 20% fewer requests/s (`bench/RESULTS.md`).
        gc.collect()
        gc.freeze()
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            state.batcher.stop()
            gc.unfreeze()  # an app that is shut down (tests make many) can be collected again

    app = FastAPIOffline(
        title="sentiment-rnn",
        version="1.0.0",
        summary="Sentiment analysis with a torch.nn.RNN (tanh Elman RNN) classifier.",
        description=_description(settings),
        lifespan=lifespan,
    )
    app.state.service = state
    errors.install(app)
    guard = api_key_dependencies(settings)

    @app.post(
        "/predict",
        response_model=Prediction,
        dependencies=guard,
        openapi_extra=_json_body(PredictRequest),
        responses=_problem_responses(400, 401, 413, 415, 422, 503),
        summary="Classify one text",
        description="Tokenizes the text, runs the RNN from h_0 = 0 and returns the label, its "
        "probability, a summary of the final hidden state h_n and, on request, a "
        "per-token explanation.",
    )
    async def predict(request: Request) -> Response:
        state.require_ready()
        req = await _parse(request, PredictRequest, state)
        predictor = state.predictor_for(req.lang, req.text)
        item = PredictRequestItem(predictor.encode(req.text), req.explain, req.include_hidden)
        (result,) = await _run(state, predictor, [item])
        return Response(orjson.dumps(result), media_type="application/json")

    @app.post(
        "/predict/batch",
        response_model=BatchResponse,
        dependencies=guard,
        openapi_extra=_json_body(BatchRequest),
        responses=_problem_responses(400, 401, 413, 415, 422, 503),
        summary="Classify many texts",
        description="The same answer as /predict for each text, in order, computed in batched "
        "forward passes. Texts of different languages are routed to their models.",
    )
    async def predict_batch(request: Request) -> Response:
        state.require_ready()
        req = await _parse(request, BatchRequest, state)
        metrics.request_batch.observe(len(req.texts))
        groups: dict[str, list[int]] = {}
        predictors: dict[str, Predictor] = {}
        for i, text in enumerate(req.texts):
            p = state.predictor_for(req.lang, text)
            predictors[p.name] = p
            groups.setdefault(p.name, []).append(i)
        answers: list[Answer | None] = [None] * len(req.texts)
        for name, indices in groups.items():
            p = predictors[name]
            items = [PredictRequestItem(p.encode(req.texts[i]), req.explain, req.include_hidden) for i in indices]
            for i, result in zip(indices, await _run(state, p, items), strict=True):
                answers[i] = result
        return Response(orjson.dumps({"predictions": answers}), media_type="application/json")

    @app.get(
        "/health", summary="Liveness", description="200 while the process answers HTTP.", response_model=dict[str, str]
    )
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        summary="Readiness",
        description="200 once every model is loaded and a warm-up prediction ran; 503 before that "
        "and while shutting down.",
        responses={
            200: {"content": {"application/json": {"example": {"status": "ready", "models": ["en"]}}}},
            **_problem_responses(503),
        },
    )
    async def ready() -> Response:
        if not state.ready:
            return errors.problem_response(503, "the model is not loaded yet", headers={"Retry-After": "1"})
        return JSONResponse({"status": "ready", "models": sorted(state.predictors)})

    @app.get(
        "/model",
        response_model=ModelInfo,
        dependencies=guard,
        responses=_problem_responses(401, 503),
        summary="The default (English) model",
        description="Architecture, vocabulary, labels, limits, training data checksums, the "
        "checkpoint's SHA-256 and its dev/test metrics.",
    )
    async def model_info() -> ModelInfo:
        state.require_ready()
        return _model_info(state.predictors.get("en") or next(iter(state.predictors.values())))

    @app.get(
        "/models",
        response_model=ModelsResponse,
        dependencies=guard,
        responses=_problem_responses(401, 503),
        summary="Every loaded model",
        description="The same description as /model, for each language.",
    )
    async def models() -> ModelsResponse:
        state.require_ready()
        return ModelsResponse(models=[_model_info(p) for p in state.predictors.values()])

    metrics_guard = guard if settings.protect_metrics else []

    @app.get(
        "/metrics",
        dependencies=metrics_guard,
        summary="Prometheus metrics",
        description="Request counts and latency by route and status, predictions by label, forward "
        "batch sizes, queue depth and model load time, in Prometheus text format.",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(RequestContext, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's schema plus the raw-body request models, with the configured limits filled in."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (PredictRequest, BatchRequest, Problem):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    text_limits = {"minLength": 1, "maxLength": settings.max_text_chars, "pattern": TEXT_PATTERN}
    components["PredictRequest"]["properties"]["text"].update(text_limits)
    components["BatchRequest"]["properties"]["texts"]["maxItems"] = settings.max_batch_texts
    components["BatchRequest"]["properties"]["texts"]["items"].update(text_limits)
    # With explain, a smaller limit (JSON Schema if/then, part of OpenAPI 3.1).
    components["BatchRequest"]["if"] = {"properties": {"explain": {"const": True}}, "required": ["explain"]}
    components["BatchRequest"]["then"] = {"properties": {"texts": {"maxItems": settings.max_explain_texts}}}
    # Only the languages whose model this instance serves.
    languages = ["en", *(["zh"] if settings.checkpoint_zh is not None else [])]
    for name in ("PredictRequest", "BatchRequest"):
        lang = components[name]["properties"]["lang"]
        lang["anyOf"] = [{"enum": languages, "type": "string"}, {"type": "null"}]
    app.openapi_schema = schema
    return schema


def _description(s: Settings) -> str:
    """The API overview shown in /docs, with this instance's limits."""
    auth = "required on prediction and metadata routes" if s.api_key else "not required (SENTIMENT_API_KEY unset)"
    return f"""
Classifies the sentiment of English (and, where its model is loaded, Chinese) text with a
recurrent network whose core is `torch.nn.RNN`, the tanh Elman RNN
h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), run from h_0 = 0.

Every answer carries the label, its probability, and a summary of the final hidden state h_n;
`explain: true` adds how each token moved the decision. Errors are RFC 9457 problem details
(`application/problem+json`) with one shape everywhere; unknown request fields are rejected (422)
so that a typo such as `"explian"` is not silently ignored.

| limit (setting) | this instance |
|---|---|
| characters per text (`SENTIMENT_MAX_TEXT_CHARS`) | {s.max_text_chars} |
| texts per batch (`SENTIMENT_MAX_BATCH_TEXTS`) | {s.max_batch_texts} |
| texts per batch with `explain` (`SENTIMENT_MAX_EXPLAIN_TEXTS`) | {s.max_explain_texts} |
| request body bytes (`SENTIMENT_MAX_BODY_BYTES`; larger: 413 before the body is read) | {s.max_body_bytes} |
| seconds a prediction may wait (`SENTIMENT_REQUEST_TIMEOUT_S`; then 503) | {s.request_timeout_s:g} |
| texts queued for the model (`SENTIMENT_QUEUE_SIZE`; beyond: 503 + Retry-After) | {s.queue_size} |
| API key | {auth} |

Texts longer than the model's token limit are read up to the limit and answered with `truncated: true`.
"""


def __getattr__(name: str) -> FastAPI:
    """``service.app:app`` for uvicorn, built on first access (not at import) from the environment."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
