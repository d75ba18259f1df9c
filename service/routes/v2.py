"""The Open Inference Protocol v2 routes (KServe, Triton): health, metadata and inference.

Thin, as the other routes: the body is decoded by `service.oip`, the texts are validated against
the same limits as /predict/batch (`BatchRequest`), and the answers come from the same predictor
through the same micro-batcher (`ServiceState.predict`). Models are addressed by the checkpoint's
name (``sentiment-rnn``, ``sentiment-rnn-zh``) and version (`Predictor.version`). Every error is
the protocol's ``{"error": "..."}``, with 400 for a bad request, 401 for a missing API key (when one
is configured), 404 for an unknown model or version and 503 while not ready or at capacity.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, params
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from service import oip
from service.deps import StateDep, state_of
from service.errors import ProblemError
from service.predictor import Predictor
from service.schemas import TEXT_PATTERN, BatchRequest, text_problem
from service.state import ServiceState

SERVER = {"name": "sentiment-rnn", "extensions": ["binary_tensor_data"]}
_OIP_ERRORS = {
    status: {"description": text, "content": {"application/json": {"example": {"error": text}}}}
    for status, text in {
        400: "The request is not a valid inference request for this model.",
        404: "No model of that name (or version) is loaded.",
        503: "Not ready, or at capacity: retry after the Retry-After header's seconds.",
    }.items()
}

# The JSON form of an inference request, for /docs and generators (the body is parsed by `oip`).
_INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "parameters": {
            "type": "object",
            "properties": {"binary": {"type": "boolean"}, "lang": {"type": "string"}},
            "additionalProperties": False,
        },
        "inputs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "datatype", "shape", "data"],
                "properties": {
                    "name": {"const": oip.INPUT},
                    "datatype": {"const": "BYTES"},
                    # [n] or [n, 1] with n = len(data): JSON Schema cannot say all of it (400 when not).
                    "shape": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1},
                        "minItems": 1,
                        "maxItems": 2,
                    },
                    "data": {"type": "array", "items": {"type": "string", "pattern": TEXT_PATTERN}, "minItems": 1},
                },
            },
        },
        "outputs": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"enum": list(oip.OUTPUTS)}}},
        },
    },
    "example": {
        "inputs": [{"name": oip.INPUT, "datatype": "BYTES", "shape": [1], "data": ["A gorgeous, witty film."]}]
    },
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The protocol's error answer."""
    return Response(orjson.dumps({"error": message}), status, headers, media_type="application/json")


class OipRoute(APIRoute):
    """A route whose every expected failure, its dependencies' included, is answered as ``{"error"}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except oip.InferError as exc:
                return error(exc.status, exc.message)
            except ProblemError as exc:
                return error(exc.status, exc.detail, exc.headers)

        return route


public = APIRouter(prefix="/v2", route_class=OipRoute, tags=["Open Inference Protocol v2"])
models = APIRouter(prefix="/v2/models/{name}", route_class=OipRoute, tags=["Open Inference Protocol v2"])


@public.get(
    "",
    summary="Server metadata",
    description="The server's name, version and protocol extensions (binary tensor data).",
)
async def server_metadata(request: Request) -> dict[str, Any]:
    return {**SERVER, "version": request.app.version}


@public.get("/health/live", summary="Liveness (OIP)", description="200 while the process answers HTTP.")
async def live() -> dict[str, bool]:
    return {"live": True}


@public.get(
    "/health/ready",
    summary="Readiness (OIP)",
    description="200 once every model is loaded and warmed up; 503 before that and while shutting down.",
    responses={503: _OIP_ERRORS[503]},
)
async def ready(state: StateDep) -> dict[str, bool]:
    state.require_ready()
    return {"ready": True}


def model(state: ServiceState, name: str, version: str | None = None) -> Predictor:
    """The loaded model called ``name`` (at ``version``, if given), or a 404; a 503 before loading."""
    state.require_ready()
    for predictor in state.predictors.values():
        if predictor.name == name:
            if version is not None and version != predictor.version:
                raise oip.InferError(404, f"model {name!r} has no version {version!r}; it serves {predictor.version!r}")
            return predictor
    names = ", ".join(p.name for p in state.predictors.values())
    raise oip.InferError(404, f"no model {name!r}; loaded: {names}")


@models.get(
    "",
    summary="Model metadata",
    description="The model's versions, its input and output tensors, and its language and label order as "
    "parameters. `name` is the checkpoint's file name without `.pt`.",
    responses={404: _OIP_ERRORS[404], 503: _OIP_ERRORS[503]},
)
@models.get("/versions/{version}", summary="Model metadata, one version", include_in_schema=False)
async def model_metadata(state: StateDep, request: Request, name: str) -> dict[str, Any]:
    return oip.model_metadata(model(state, name, request.path_params.get("version")))


@models.get(
    "/ready",
    summary="Model readiness",
    description="200 when the model is loaded and the service is ready.",
    responses={404: _OIP_ERRORS[404], 503: _OIP_ERRORS[503]},
)
@models.get("/versions/{version}/ready", summary="Model readiness, one version", include_in_schema=False)
async def model_ready(state: StateDep, request: Request, name: str) -> dict[str, Any]:
    return {"name": model(state, name, request.path_params.get("version")).name, "ready": True}


@models.post(
    "/infer",
    summary="Inference",
    description="A BYTES input tensor `text` of shape [n] or [n, 1] -> `label` (BYTES [n]), `probabilities` "
    "(FP32 [n, k], columns as the tensor's `labels` parameter) and `sentiment` (FP32 [n]). Parameters: "
    "`binary` (a polar answer), `lang` (checked against the model's language).",
    responses={400: _OIP_ERRORS[400], 404: _OIP_ERRORS[404], 503: _OIP_ERRORS[503]},
    response_class=Response,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _INFER_REQUEST}}}},
)
@models.post("/versions/{version}/infer", summary="Inference, one version", include_in_schema=False)
async def infer(request: Request, name: str) -> Response:
    """Texts in a BYTES tensor -> label, probabilities and sentiment tensors."""
    state = state_of(request)
    predictor = model(state, name, request.path_params.get("version"))
    with state.trace("parse"):
        req = oip.parse_infer(await request.body(), request.headers.get(oip.HEADER_LENGTH))
        texts = validated(state, req)
    if req.lang is not None and req.lang != predictor.ckpt.language:
        raise oip.InferError(400, f"model {predictor.name!r} reads {predictor.ckpt.language!r}, not {req.lang!r}")
    with state.trace("tokenize"):
        items = [predictor.item(text, binary=req.binary) for text in texts]
    answers = await state.predict(predictor, items)
    with state.trace("encode"):
        body, headers, media_type = oip.encode_infer(predictor, req, answers)
    return Response(body, headers=headers, media_type=media_type)


def validated(state: ServiceState, req: oip.InferRequest) -> list[str]:
    """The texts, held to /predict/batch's limits (count, characters, not blank), or a 400.

    The protocol has no per-element errors: one text that cannot be answered fails the request.
    """
    try:
        BatchRequest.model_validate({"texts": req.texts, "lang": req.lang}, context=state.validation_context)
    except ValidationError as exc:
        raise oip.InferError(400, "; ".join(_message(e["loc"], e["msg"]) for e in exc.errors())) from None
    for i, text in enumerate(req.texts):
        problem = text_problem(text, state.validation_context)
        if problem is not None:
            raise oip.InferError(400, f"input {oip.INPUT!r}: element {i}: {problem}")
    return req.texts


def _message(loc: tuple[int | str, ...], msg: str) -> str:
    """A validation error in the protocol's terms: the input tensor, not BatchRequest's fields."""
    msg = msg.removeprefix("Value error, ")
    if loc[:1] == ("texts",):
        return f"input {oip.INPUT!r}: {msg}"
    return f"parameter {'.'.join(map(str, loc))}: {msg}"


def add_routes(app: FastAPI, dependencies: Sequence[params.Depends]) -> None:
    """The protocol's routes; model metadata and inference behind ``dependencies`` (the API key guard)."""
    app.include_router(public)
    app.include_router(models, dependencies=dependencies)
