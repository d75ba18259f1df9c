"""OpenTelemetry tracing: a real server exports to a real OTLP/HTTP receiver started here.

The receiver decodes the protobuf `ExportTraceServiceRequest` bodies the SDK's exporter posts, so
these tests see the spans exactly as a collector would.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from service.predictor import Predictor
from service.tracing import Tracing, TracingConfigError, TracingMiddleware
from tests.system.test_server import running, start, stop

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
Span = dict[str, Any]


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace endpoint on 127.0.0.1: every span received, decoded, with its resource."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(self, trace_id: str, names: set[str], timeout: float = 10) -> list[Span]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [s for s in self.spans if s["trace_id"] == trace_id]
            if names <= {s["name"] for s in found}:
                return found
            time.sleep(0.05)
        raise AssertionError(f"spans {sorted(names)} of trace {trace_id} not received; got {found}")


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.path == "/v1/traces"
        assert self.headers["Content-Type"] == "application/x-protobuf"
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.server.spans.extend(_decoded(s, resource) for s in scope.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def _decoded(span: Any, resource: dict[str, str]) -> Span:
    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_id": span.parent_span_id.hex(),
        "kind": span.kind,
        "start": span.start_time_unix_nano,
        "end": span.end_time_unix_nano,
        "attributes": attributes,
        "resource": resource,
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def otel_env(receiver: Receiver) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "sentiment-under-test",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # export within 50 ms, not the default 5 s
    }


@pytest.fixture(scope="module")
def traced(receiver: Receiver, tiny_checkpoint: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with running({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), **otel_env(receiver)}) as proc_url:
        yield proc_url


def traceparent(span_id: str = PARENT_ID, trace_id: str = TRACE_ID) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{span_id}-01"}


def test_an_inference_request_has_its_five_spans_under_the_server_span(
    traced: tuple[subprocess.Popen[str], str], receiver: Receiver
) -> None:
    _, url = traced
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["Great film.", "Dull."]}]}
    r = httpx.post(url + "/v2/models/tiny/infer", json=body, headers=traceparent())
    assert r.status_code == 200
    assert r.headers["x-request-id"] == TRACE_ID  # the request id of the logs is the trace id
    spans = receiver.wait_for(TRACE_ID, {"POST /v2/models/{name}/infer", "parse", "tokenize", "queue", "forward"})
    (server,) = [s for s in spans if s["name"].startswith("POST")]
    assert server["parent_id"] == PARENT_ID  # the caller's traceparent is continued
    assert server["resource"]["service.name"] == "sentiment-under-test"
    assert server["attributes"]["http.route"] == "/v2/models/{name}/infer"
    assert server["attributes"]["http.response.status_code"] == 200
    children = sorted((s for s in spans if s is not server), key=lambda s: s["start"])
    assert [s["name"] for s in children] == ["parse", "tokenize", "queue", "forward", "encode"]
    assert all(s["parent_id"] == server["span_id"] for s in children)
    assert all(server["start"] <= s["start"] <= s["end"] <= server["end"] for s in children)
    queue, forward = children[2], children[3]
    assert queue["end"] == forward["start"]
    assert forward["attributes"]["sentiment.batch_size"] == 2
    assert forward["attributes"]["sentiment.model_version"].startswith("tiny@")


def test_predict_is_traced_through_the_batcher(traced: tuple[subprocess.Popen[str], str], receiver: Receiver) -> None:
    _, url = traced
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    r = httpx.post(url + "/predict", json={"text": "A fine film."}, headers=traceparent(trace_id=trace_id))
    assert r.status_code == 200
    names = {"POST /predict", "parse", "tokenize", "queue", "forward", "encode"}
    spans = receiver.wait_for(trace_id, names)
    (server,) = [s for s in spans if s["name"] == "POST /predict"]
    children = sorted((s for s in spans if s["name"] in names - {"POST /predict"}), key=lambda s: s["start"])
    assert [s["name"] for s in children] == ["parse", "tokenize", "queue", "forward", "encode"]
    assert all(s["parent_id"] == server["span_id"] for s in children)
    assert children[3]["attributes"]["sentiment.batch_size"] == 1


def test_logs_carry_the_trace_id_and_a_clients_request_id_is_kept(
    traced: tuple[subprocess.Popen[str], str], receiver: Receiver
) -> None:
    _, url = traced
    trace_id = "11111111111111111111111111111111"
    headers = {"X-Request-ID": "mine-1", **traceparent(trace_id=trace_id)}
    r = httpx.post(url + "/predict", json={"text": "ok"}, headers=headers)
    assert r.headers["x-request-id"] == "mine-1"
    # Bad input: a 4xx answer with its status on the server span, and the service still answers.
    bad_trace = "22222222222222222222222222222222"
    headers = {"Content-Type": "application/json", **traceparent(trace_id=bad_trace)}
    assert httpx.post(url + "/predict", content=b"{", headers=headers).status_code == 400
    for tid, status in ((trace_id, 200), (bad_trace, 400)):
        (server,) = [s for s in receiver.wait_for(tid, {"POST /predict"}) if s["name"] == "POST /predict"]
        assert server["attributes"]["http.response.status_code"] == status
    assert httpx.get(url + "/ready").status_code == 200
    proc, _ = traced
    out = stop(proc)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    mine = [e for e in lines if e.get("request_id") == "mine-1"]
    assert mine[0]["trace_id"] == trace_id
    assert len(mine[0]["span_id"]) == 16
    assert any(e.get("request_id") == TRACE_ID == e.get("trace_id") for e in lines)


def test_with_tracing_off_nothing_is_in_the_path(client: TestClient) -> None:
    """No middleware, plain predictors, one shared no-op for the routes' spans."""
    app = client.app
    assert isinstance(app, FastAPI)
    state = app.state.service
    assert state.tracing is None
    assert TracingMiddleware.__name__ not in {getattr(m.cls, "__name__", "") for m in app.user_middleware}
    assert all(type(p) is Predictor for p in state.predictors.values())
    assert state.trace("parse") is state.trace("encode")
    assert client.post("/predict", json={"text": "fine"}).status_code == 200


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert Tracing.from_env({}, "1") is None
    assert Tracing.from_env({"OTEL_TRACES_EXPORTER": "none"}, "1") is None
    assert Tracing.from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, "1") is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "unknown exporter(s) ['zipkin']"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "'grpc' is not supported"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, "unknown sampler 'sometimes'"),
    ],
)
def test_a_misconfiguration_is_an_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(TracingConfigError) as exc:
        Tracing.from_env(env, "1")
    assert message in str(exc.value)


def test_a_misconfigured_server_does_not_start(tiny_checkpoint: Path) -> None:
    proc, _ = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "OTEL_TRACES_EXPORTER": "zipkin"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "OTEL_TRACES_EXPORTER: unknown exporter(s) ['zipkin']" in out
