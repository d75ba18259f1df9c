"""OpenTelemetry tracing: off unless the standard ``OTEL_*`` variables switch it on.

`Tracing.from_env` returns None (tracing off) unless ``OTEL_TRACES_EXPORTER`` names an exporter
(``otlp``: OTLP over HTTP/protobuf; ``console``: stdout) and ``OTEL_SDK_DISABLED`` is not true. The
SDK reads the rest itself: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and ``..._TRACES_ENDPOINT``, headers,
timeout), ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` (and its
argument), ``OTEL_BSP_*``; an unknown exporter, protocol or sampler stops start-up with a message.

With tracing on, `TracingMiddleware` (outermost) continues a W3C ``traceparent`` or starts a trace,
and opens the request's server span; when the client sent no ``X-Request-ID`` it hands the trace
id to `RequestContext` as the request id, and every log line written during the request carries
``trace_id`` and ``span_id``. The routes open ``parse``, ``tokenize`` and ``encode`` spans through
`ServiceState.trace`; `Tracing.predict` adds ``queue`` (waiting for the micro-batcher) and
``forward`` (one per forward pass, with its batch size), timed on the inference thread by
`TracedPredictor`. With tracing off none of this exists: no middleware, plain predictors, and the
routes' spans are one shared no-op context manager.

The OpenTelemetry packages are the ``otel`` extra and are imported only when tracing is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.predictor import Answer, PredictItem, Predictor

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AnyValue

EXPORTERS = ("otlp", "console")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
SERVICE_NAME = "sentiment-rnn"
Forward = tuple[int, int, int]  # one forward pass: start and end (ns since the epoch), texts in it


class TracingConfigError(ValueError):
    """The ``OTEL_*`` variables ask for something this service cannot do."""


class Tracing:
    """One app's tracer provider (not the global one: each app exports and shuts down its own)."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("service")
        self._trace = trace
        self.server_kind = SpanKind.SERVER

    @classmethod
    def from_env(cls, environ: Mapping[str, str], version: str) -> Tracing | None:
        """Tracing as the ``OTEL_*`` variables in ``environ`` configure it, or None when they leave it off."""
        names = [e.strip().lower() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or names in ([], ["none"]):
            return None
        _check(environ, names)
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
        except ImportError:
            raise TracingConfigError(
                "OTEL_TRACES_EXPORTER is set but OpenTelemetry is not installed: pip install 'sentiment-rnn[otel]'"
            ) from None
        resource = Resource.create({"service.version": version})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
        provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
        for name in names:
            exporter: SpanExporter
            if name == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                exporter = OTLPSpanExporter()
            else:
                exporter = ConsoleSpanExporter()
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    def span(self, name: str) -> AbstractContextManager[Span]:
        """A child of the current span, current while it is open."""
        return self.tracer.start_as_current_span(name)

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporters."""
        self.provider.shutdown()

    async def predict(
        self,
        run: Callable[[Predictor, list[PredictItem]], Awaitable[list[Answer]]],
        predictor: Predictor,
        items: list[PredictItem],
    ) -> list[Answer]:
        """``run(predictor, items)``, with a ``queue`` span and one ``forward`` span per forward pass."""
        if not isinstance(predictor, TracedPredictor) or not self._trace.get_current_span().is_recording():
            return await run(predictor, items)
        submitted = time.time_ns()
        passes: list[Forward] = []  # shared by the items: filled on the inference thread
        for item in items:
            predictor.pending[id(item)] = passes
        try:
            return await run(predictor, items)
        finally:
            for item in items:
                predictor.pending.pop(id(item), None)
            self._record(predictor, len(items), submitted, sorted(set(passes)))

    def _record(self, predictor: Predictor, texts: int, submitted: int, passes: list[Forward]) -> None:
        queued = self.tracer.start_span("queue", start_time=submitted, attributes={"sentiment.texts": texts})
        queued.end(end_time=passes[0][0] if passes else time.time_ns())
        for started, ended, size in passes:
            attributes: dict[str, AnyValue] = {
                "sentiment.batch_size": size,
                "sentiment.model_version": predictor.version,
            }
            self.tracer.start_span("forward", start_time=started, attributes=attributes).end(end_time=ended)


def _check(environ: Mapping[str, str], exporters: list[str]) -> None:
    """Refuse what would otherwise be dropped with a warning, or fall back silently."""
    unknown = [e for e in exporters if e not in EXPORTERS]
    if unknown:
        raise TracingConfigError(f"OTEL_TRACES_EXPORTER: unknown exporter(s) {unknown}; supported: {EXPORTERS}")
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if "otlp" in exporters and protocol not in (None, "", "http/protobuf"):
        raise TracingConfigError(f"OTLP protocol {protocol!r} is not supported; use http/protobuf")
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler and sampler not in SAMPLERS:
        raise TracingConfigError(f"OTEL_TRACES_SAMPLER: unknown sampler {sampler!r}; supported: {SAMPLERS}")


class TracedPredictor(Predictor):
    """A `Predictor` that notes, for the requests being traced, when each forward pass ran."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(PredictItem) -> the forward passes it was part of, while `Tracing.predict` awaits it.
        self.pending: dict[int, list[Forward]] = {}

    def predict(self, requests: list[PredictItem]) -> list[Answer]:
        started = time.time_ns()
        answers = super().predict(requests)
        forward = (started, time.time_ns(), len(requests))
        for request in requests:
            passes = self.pending.get(id(request))
            if passes is not None:
                passes.append(forward)
        return answers


class TracingMiddleware:
    """Pure ASGI: one server span per HTTP request, continuing the caller's ``traceparent``."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        from opentelemetry import context, propagate, trace

        self.app = app
        self.tracing = tracing
        self._context = context
        self._propagate = propagate
        self._trace = trace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in (b"traceparent", b"tracestate")}
        parent = self._propagate.extract(carrier)
        method = scope["method"]
        span = self.tracing.tracer.start_span(
            method,
            context=parent,
            kind=self.tracing.server_kind,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        )
        trace_id = format(span.get_span_context().trace_id, "032x")
        if not any(k == b"x-request-id" for k, _ in headers):
            scope = {**scope, "headers": [*headers, (b"x-request-id", trace_id.encode())]}
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send_status)
        finally:
            self._context.detach(token)
            _finish(span, scope, method, status[0])


def _finish(span: Span, scope: Scope, method: str, status: int) -> None:
    from opentelemetry.trace import Status, StatusCode

    route = getattr(scope.get("route"), "path", None)
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class TraceIds(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` to log records written inside a traced request."""

    def __init__(self) -> None:
        super().__init__()
        from opentelemetry import trace

        self._trace = trace

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = self._trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


def install_log_ids() -> None:
    """Put `TraceIds` on the service's log handlers, once per process."""
    for handler in logging.getLogger("service").handlers:
        if not any(isinstance(f, TraceIds) for f in handler.filters):
            handler.addFilter(TraceIds())
