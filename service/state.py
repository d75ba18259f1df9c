"""The service state: settings, metrics, the loaded models and the micro-batcher, one per app.

`create_app` makes it and puts it on ``app.state.service``; the lifespan fills it (`load_models`,
`start_batcher`) and marks it ready; routes reach it through `service.deps`. Every way a
prediction can fail for the caller (not ready, no model for the language, queue full, timeout) is
raised here as a `ProblemError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from model.checkpoint import CheckpointError
from model.languages import LANGUAGES
from service.batching import MicroBatcher, OverloadedError
from service.config import Settings
from service.errors import ProblemError
from service.language import Router
from service.predictor import Answer, PredictItem, Predictor
from service.telemetry import Metrics
from service.tracing import TracedPredictor, Tracing

log = logging.getLogger("service.state")
_NO_SPAN: AbstractContextManager[object] = contextlib.nullcontext()


@dataclass
class ServiceState:
    """Everything the routes need, created per app; ``ready`` only after load and warm-up."""

    settings: Settings
    metrics: Metrics
    predictors: dict[str, Predictor] = field(default_factory=dict)  # by language, in configured order
    router: Router = field(default_factory=lambda: Router.among(LANGUAGES))
    batcher: MicroBatcher | None = None
    tracing: Tracing | None = None  # None: tracing is off (`service.tracing`)
    ready: bool = False
    validation_context: dict[str, Any] = field(init=False)  # the request limits, for pydantic

    def __post_init__(self) -> None:
        s = self.settings
        self.validation_context = {
            "max_text_chars": s.max_text_chars,
            "max_explain_chars": s.max_explain_chars,
            "max_batch_texts": s.max_batch_texts,
            "max_batch_chars": s.max_batch_chars,
            "max_explain_texts": s.max_explain_texts,
        }

    @property
    def default(self) -> Predictor:
        """The first configured model: the one /model describes."""
        return next(iter(self.predictors.values()))

    def predictor_for(self, lang: str | None, text: str) -> Predictor:
        """The model for ``lang``, or for the text's script when no language is given."""
        chosen = lang or self.router(text)
        if chosen not in self.predictors:
            raise ProblemError(422, f"no model is loaded for language {chosen!r}; loaded: {sorted(self.predictors)}")
        return self.predictors[chosen]

    def require_ready(self) -> MicroBatcher:
        """The batcher, or 503 while models load or the service shuts down."""
        if not self.ready or self.batcher is None:
            raise ProblemError(503, "the model is not loaded yet", headers={"Retry-After": "1"})
        return self.batcher

    def trace(self, name: str) -> AbstractContextManager[object]:
        """A span named ``name`` under the request's span; with tracing off, one shared no-op."""
        return _NO_SPAN if self.tracing is None else self.tracing.span(name)

    def predict(self, predictor: Predictor, items: list[PredictItem]) -> Coroutine[Any, Any, list[Answer]]:
        """Answer ``items`` through the micro-batcher within the request timeout, or raise a 503.

        A plain function handing back the coroutine to await, so that without tracing the hot
        path pays for no extra coroutine.
        """
        if self.tracing is not None:
            return self.tracing.predict(self._predict, predictor, items)
        return self._predict(predictor, items)

    async def _predict(self, predictor: Predictor, items: list[PredictItem]) -> list[Answer]:
        batcher = self.require_ready()
        try:
            results = await batcher.submit(predictor, items, self.settings.request_timeout_s)
        except OverloadedError as exc:
            self.metrics.overload.inc()
            raise ProblemError(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        except TimeoutError:
            raise ProblemError(503, "the prediction timed out; retry shortly", headers={"Retry-After": "1"}) from None
        for p in results:
            self.metrics.predicted(predictor.name, p["label"])
        return results

    def start_batcher(self) -> MicroBatcher:
        """Start the micro-batcher's inference thread, with the queue depth as a metric."""
        s = self.settings
        self.batcher = batcher = MicroBatcher(
            s.batch_max_size,
            s.batch_wait_ms,
            s.queue_size,
            s.torch_threads,
            on_batch=lambda p, n: self.metrics.forward_batch.labels(p.name).observe(n),
        )
        self.metrics.queue.set_function(lambda: batcher.queued)
        batcher.start()
        return batcher


def load_models(state: ServiceState) -> None:
    """Verify, load and warm up every configured model, in order; any failure aborts startup."""
    kind = Predictor if state.tracing is None else TracedPredictor
    for spec in state.settings.models:
        predictor = kind.load(spec.checkpoint, spec.sha256, spec.members)
        if predictor.ckpt.language in state.predictors:
            raise CheckpointError(f"two checkpoints for language {predictor.ckpt.language!r}: {spec.checkpoint}")
        predictor.warm_up()
        state.predictors[predictor.ckpt.language] = predictor
        state.metrics.model_load.labels(predictor.name).set(predictor.load_seconds)
        log.info("model loaded", extra={"model": predictor.version, "seconds": round(predictor.load_seconds, 3)})
    state.router = Router.among(state.predictors)
