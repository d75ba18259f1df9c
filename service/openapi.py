"""The OpenAPI document: what FastAPI generates, plus what it cannot see.

The prediction routes parse their raw body themselves (`service.routes.predict`), so their request
models are declared here (`json_body`), along with the problem+json answers (`problem_responses`).
`install` replaces ``app.openapi`` with one that fills in this instance's limits and languages: the
``lang`` enum lists the loaded models' languages (every known language before they are loaded).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from model.languages import LANGUAGES
from service.config import Settings
from service.errors import PROBLEM_JSON
from service.schemas import TEXT_PATTERN, BatchRequest, PredictRequest, Problem
from service.state import ServiceState

_PROBLEMS = {
    400: "The body is not valid JSON (or not UTF-8).",
    401: "The API key is missing or wrong (only when SENTIMENT_API_KEY is set).",
    413: "The body is larger than SENTIMENT_MAX_BODY_BYTES.",
    415: "The body is not declared as application/json.",
    422: "The body does not match the schema: the detail says which field and why.",
    503: "Not ready, or at capacity: retry after the Retry-After header's seconds.",
}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` from its raw JSON body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries for the problem+json answers a route can give."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {c: {"description": _PROBLEMS[c], "content": {PROBLEM_JSON: problem}} for c in codes}


def install(app: FastAPI, state: ServiceState) -> None:
    """Serve `schema` as the app's OpenAPI document."""
    app.openapi = lambda: schema(app, state)  # type: ignore[method-assign]


def schema(app: FastAPI, state: ServiceState) -> dict[str, Any]:
    """FastAPI's schema plus the raw-body request models, with the configured limits filled in.

    Cached once the models are loaded (before that, the languages are not known yet).
    """
    if app.openapi_schema:
        return app.openapi_schema
    settings = state.settings
    doc = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (PredictRequest, BatchRequest, Problem):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    text_limits = {"minLength": 1, "maxLength": settings.max_text_chars, "pattern": TEXT_PATTERN}
    components["PredictRequest"]["properties"]["text"].update(text_limits)
    # What JSON Schema cannot say (explain's own length limit), for the playground and generators.
    components["PredictRequest"]["x-max-explain-chars"] = settings.max_explain_chars
    components["BatchRequest"]["properties"]["texts"]["maxItems"] = settings.max_batch_texts
    # With explain, a smaller limit (JSON Schema if/then, part of OpenAPI 3.1).
    components["BatchRequest"]["if"] = {"properties": {"explain": {"const": True}}, "required": ["explain"]}
    components["BatchRequest"]["then"] = {"properties": {"texts": {"maxItems": settings.max_explain_texts}}}
    languages = list(state.predictors or LANGUAGES)
    for name in ("PredictRequest", "BatchRequest"):
        lang = components[name]["properties"]["lang"]
        lang["anyOf"] = [{"enum": languages, "type": "string"}, {"type": "null"}]
    if state.predictors:
        app.openapi_schema = doc
    return doc


def description(s: Settings) -> str:
    """The API overview shown in /docs, with this instance's limits."""
    auth = "required on prediction and metadata routes" if s.api_key else "not required (SENTIMENT_API_KEY unset)"
    names = " and ".join(lang.name for lang in LANGUAGES.values())
    return f"""
Classifies the sentiment of text with one model per language ({names}; /models lists those this
instance serves). Each is a recurrent network whose core is `torch.nn.RNN`, the tanh Elman RNN
h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), run from h_0 = 0.

Every answer carries the label, its probability, and a summary of the final hidden state h_n;
`explain: true` adds how each token moved the decision. Errors are RFC 9457 problem details
(`application/problem+json`) with one shape everywhere; unknown request fields are rejected (422)
so that a typo such as `"explian"` is not silently ignored.

| limit (setting) | this instance |
|---|---|
| characters per text (`SENTIMENT_MAX_TEXT_CHARS`) | {s.max_text_chars} |
| texts per batch (`SENTIMENT_MAX_BATCH_TEXTS`) | {s.max_batch_texts} |
| characters in all the texts of a batch (`SENTIMENT_MAX_BATCH_CHARS`) | {s.max_batch_chars} |
| texts per batch with `explain` (`SENTIMENT_MAX_EXPLAIN_TEXTS`) | {s.max_explain_texts} |
| request body bytes (`SENTIMENT_MAX_BODY_BYTES`; larger: 413 before the body is read) | {s.max_body_bytes} |
| seconds a prediction may wait (`SENTIMENT_REQUEST_TIMEOUT_S`; then 503) | {s.request_timeout_s:g} |
| texts queued for the model (`SENTIMENT_QUEUE_SIZE`; beyond: 503 + Retry-After) | {s.queue_size} |
| API key | {auth} |

Texts longer than the model's token limit are read up to the limit and answered with `truncated: true`.
"""
