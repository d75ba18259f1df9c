"""Prometheus metrics and JSON logs.

Each app gets its own registry, so several apps (tests, workers) never share counters by accident.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sentiment_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "sentiment_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "sentiment_predictions", "Texts classified, by model and predicted label", ["model", "label"], registry=r
        )
        self.forward_batch = Histogram(
            "sentiment_forward_batch_size",
            "Texts per forward pass (micro-batching)",
            ["model"],
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.request_batch = Histogram(
            "sentiment_request_batch_size", "Texts per /predict/batch request", buckets=SIZE_BUCKETS, registry=r
        )
        self.model_load = Gauge(
            "sentiment_model_load_seconds", "Time to verify and load each checkpoint", ["model"], registry=r
        )
        self.queue = Gauge("sentiment_queue_texts", "Texts waiting for a forward pass", registry=r)
        self.overload = Counter(
            "sentiment_overload_rejections", "Requests answered 503 because the queue was full", registry=r
        )

        # Label children by label values: `labels()` checks and joins its arguments and takes a lock,
        # several microseconds per call, and the hot path counts three per request. (Prometheus
        # keeps a child per label set already, so this mirrors its cardinality.)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._prediction_children: dict[tuple[str, str], Counter] = {}

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        children = self._request_children.get((route, method, status))
        if children is None:
            labels = (route, method, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._request_children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def predicted(self, model: str, label: str) -> None:
        """Count one text classified by ``model`` as ``label``."""
        child = self._prediction_children.get((model, label))
        if child is None:
            child = self._prediction_children[(model, label)] = self.predictions.labels(model, label)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the service's loggers (idempotent)."""
    logger = logging.getLogger("service")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_sentiment", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._sentiment = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
