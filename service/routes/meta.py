"""Everything but prediction: probes, model descriptions, metrics and the playground page.

Three routers, because `create_app` guards them differently when an API key is configured:
`public` (/health, /ready, the playground `/`) never needs it, `model_routes` (/model, /models)
does, and `metrics_routes` (/metrics) does only with ``SENTIMENT_PROTECT_METRICS``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from service import errors
from service.deps import StateDep
from service.openapi import problem_responses
from service.predictor import Predictor
from service.schemas import ModelInfo, ModelsResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
public = APIRouter()
model_routes = APIRouter()
metrics_routes = APIRouter()


@public.get(
    "/health", summary="Liveness", description="200 while the process answers HTTP.", response_model=dict[str, str]
)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@public.get(
    "/ready",
    summary="Readiness",
    description="200 once every model is loaded and a warm-up prediction ran; 503 before that and while shutting down.",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready", "models": ["en"]}}}},
        **problem_responses(503),
    },
)
async def ready(state: StateDep) -> Response:
    if not state.ready:
        return errors.problem_response(503, "the model is not loaded yet", headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "models": sorted(state.predictors)})


@public.get("/", include_in_schema=False)
async def playground() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@model_routes.get(
    "/model",
    response_model=ModelInfo,
    responses=problem_responses(401, 503),
    summary="The first configured model",
    description="The first model of the configuration (the first entry of SENTIMENT_MODELS; by "
    "default English): architecture, vocabulary, labels, limits, training data checksums, the "
    "checkpoint's SHA-256 and its dev/test metrics.",
)
async def model_info(state: StateDep) -> ModelInfo:
    state.require_ready()
    return describe(state.default)


@model_routes.get(
    "/models",
    response_model=ModelsResponse,
    responses=problem_responses(401, 503),
    summary="Every loaded model",
    description="The same description as /model, for each loaded model, in configured order.",
)
async def models(state: StateDep) -> ModelsResponse:
    state.require_ready()
    return ModelsResponse(models=[describe(p) for p in state.predictors.values()])


@metrics_routes.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latency by route and status, predictions by label, forward "
    "batch sizes, queue depth and model load time, in Prometheus text format.",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def describe(p: Predictor) -> ModelInfo:
    """What /model and /models say about one loaded model."""
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
        aliases=len(p.ckpt.vocab.aliases or ()),
        labels=list(p.labels),
        answer_labels=list(p.answer_labels),
        max_length=p.ckpt.max_length,
        tokenizer=p.ckpt.tokenizer,
        inference_path=p.classifier.path,
        checkpoint_sha256=p.sha256,
        training_data=p.ckpt.training.get("data_files", {}),
        metrics={"temperature": p.ckpt.temperature, **p.ckpt.metrics},
    )
