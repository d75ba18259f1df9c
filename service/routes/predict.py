"""/predict and /predict/batch: parse and validate the raw body -> predictor -> response bytes.

These are the routes the benchmark drives, so they stay lean, and each choice below was measured
against the alternative (`docs/performance.md`): the body is read and validated in one step
(`model_validate_json`, with the configured limits as validation context); the answer is the
predictor's plain dict serialised by orjson; the state comes from `state_of`, not a dependency;
and `add_routes` registers the routes on the app itself, because FastAPI matches the routes of an
included `APIRouter` through a nested dispatch on every request. Their request models appear in
/docs through `service.openapi`.

`direct_routes` goes one step further: when the routes carry no dependencies (no API key is
configured) and no CORS middleware must see their answers, `RequestContext` calls them as plain
ASGI apps, past Starlette's router, FastAPI's request handler and exception middleware, whose
layers cost about a fifth of a request here.
The answers are the same: the errors these routes raise on purpose become the same problem
responses (`service.errors.expected_problem`), anything else reaches `RequestContext`'s 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import TypeVar

import orjson
from fastapi import FastAPI, Request, params
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import state_of
from service.errors import ProblemError, expected_problem
from service.openapi import json_body, problem_responses
from service.predictor import Answer, Predictor
from service.schemas import BatchRequest, BatchResponse, Prediction, PredictRequest, text_problem
from service.state import ServiceState

M = TypeVar("M", bound=BaseModel)
ReadBody = Callable[[], Awaitable[bytes]]
Answerer = Callable[[ServiceState, str, ReadBody], Awaitable[bytes]]


async def parse(content_type: str, read_body: ReadBody, model: type[M], state: ServiceState) -> M:
    """The body as ``model``: 415 unless it is declared JSON (before reading it); 400/422 (pydantic)
    unless it fits."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, f"expected Content-Type application/json, got {media or 'none'!r}")
    return model.model_validate_json(await read_body(), context=state.validation_context)


async def answer_one(state: ServiceState, content_type: str, read_body: ReadBody) -> bytes:
    """One text -> its model -> one `Prediction`, as JSON bytes."""
    state.require_ready()
    with state.trace("parse"):
        req = await parse(content_type, read_body, PredictRequest, state)
    predictor = state.predictor_for(req.lang, req.text)
    with state.trace("tokenize"):
        item = predictor.item(req.text, req.explain, req.include_hidden, req.binary, req.sentences)
    (result,) = await state.predict(predictor, [item])
    with state.trace("encode"):
        return orjson.dumps(result)


def item_error(index: int, detail: str) -> Answer:
    """The error object that stands in a batch for a text that cannot be answered."""
    return {"index": index, "type": "about:blank", "title": HTTPStatus(422).phrase, "status": 422, "detail": detail}


async def answer_batch(state: ServiceState, content_type: str, read_body: ReadBody) -> bytes:
    """Many texts, grouped by the model that answers each, -> `BatchResponse` in request order; a
    text that cannot be answered gets an error object in its place, as the other texts are answered."""
    state.require_ready()
    with state.trace("parse"):
        req = await parse(content_type, read_body, BatchRequest, state)
    state.metrics.request_batch.observe(len(req.texts))
    answers: list[Answer | None] = [None] * len(req.texts)
    groups: dict[str, list[int]] = {}
    predictors: dict[str, Predictor] = {}
    for i, text in enumerate(req.texts):
        problem = text_problem(text, state.validation_context, req.explain)
        if problem is not None:
            answers[i] = item_error(i, problem)
            continue
        p = state.predictor_for(req.lang, text)
        predictors[p.name] = p
        groups.setdefault(p.name, []).append(i)
    for name, indices in groups.items():
        p = predictors[name]
        with state.trace("tokenize"):
            items = [p.item(req.texts[i], req.explain, req.include_hidden, req.binary, req.sentences) for i in indices]
        for i, result in zip(indices, await state.predict(p, items), strict=True):
            answers[i] = result
    with state.trace("encode"):
        return orjson.dumps({"predictions": answers})


async def predict(request: Request) -> Response:
    """POST /predict through FastAPI (with an API key or CORS; else `direct_routes` serves it)."""
    body = await answer_one(state_of(request), request.headers.get("content-type", ""), request.body)
    return Response(body, media_type="application/json")


async def predict_batch(request: Request) -> Response:
    """POST /predict/batch through FastAPI (with an API key or CORS; else `direct_routes` serves it)."""
    body = await answer_batch(state_of(request), request.headers.get("content-type", ""), request.body)
    return Response(body, media_type="application/json")


def add_routes(app: FastAPI, dependencies: Sequence[params.Depends]) -> None:
    """Register both routes on ``app`` itself, behind ``dependencies`` (the API key guard, if any)."""
    errors = problem_responses(400, 401, 413, 415, 422, 503)
    app.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        dependencies=dependencies,
        response_model=Prediction,
        openapi_extra=json_body(PredictRequest),
        responses=errors,
        summary="Classify one text",
        description="Tokenizes the text, runs the RNN from h_0 = 0 and returns the label, its "
        "probability, a summary of the final hidden state h_n and, on request, a "
        "per-token explanation.",
    )
    app.add_api_route(
        "/predict/batch",
        predict_batch,
        methods=["POST"],
        dependencies=dependencies,
        response_model=BatchResponse,
        openapi_extra=json_body(BatchRequest),
        responses=errors,
        summary="Classify many texts",
        description="The same answer as /predict for each text, in order, computed in batched "
        "forward passes. Texts of different languages are routed to their models.",
    )


def direct_routes(app: FastAPI, dependencies: Sequence[params.Depends]) -> dict[str, tuple[APIRoute, ASGIApp]]:
    """POST /predict and /predict/batch by path: the registered route (for the metrics' route
    label) and the endpoint as a plain ASGI app; none when the routes carry dependencies."""
    if dependencies:
        return {}
    answers: dict[str, Answerer] = {"/predict": answer_one, "/predict/batch": answer_batch}
    return {
        route.path: (route, _plain_asgi(answers[route.path]))
        for route in app.routes
        if isinstance(route, APIRoute) and route.path in answers and "POST" in (route.methods or ())
    }


_JSON = (b"content-type", b"application/json")


def _plain_asgi(answer: Answerer) -> ASGIApp:
    """``answer`` as an ASGI app that builds no `Request` or `Response` unless it must answer an error
    (about 8 us of a request's handling, measured): the content type read from the scope, the body
    from ``receive``, the answer sent as two messages, as Starlette's `Response` sends it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
        try:
            body = await answer(scope["app"].state.service, content_type, lambda: _read_body(receive))
        except (ProblemError, ValidationError) as exc:
            request = Request(scope, receive, send)
            problem = expected_problem(exc, request)
            assert problem is not None
            await problem(scope, receive, send)
            return
        headers = [_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _read_body(receive: Receive) -> bytes:
    """The request body, as `Request.body` reads it: ClientDisconnect if the client goes first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
