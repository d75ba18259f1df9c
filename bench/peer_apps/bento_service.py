"""BentoML serving the shipped checkpoint with adaptive batching.

``bentoml serve bench.peer_apps.bento_service:SentimentPeer``.

BentoML's batchable APIs take a list and return a list, so the body is ``{"texts": [text]}`` (one
text per request; the dispatcher concatenates concurrent requests' lists into one forward pass, up
to ``MAX_BATCH_SIZE``) and the answer is a one-element list. One worker, no access log (as every
server in the benchmark); readiness at /readyz.
"""

from __future__ import annotations

import bentoml  # type: ignore[import-not-found, unused-ignore]

from bench.peer_apps.model import Answer, PeerModel

MAX_BATCH_SIZE = 64
# An upper bound for the dispatcher (past it BentoML answers 503), not a wait: the dispatcher
# chooses its own wait from the batch times it measures. Generous, so that no request is refused.
MAX_LATENCY_MS = 1000


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class SentimentPeer:
    def __init__(self) -> None:
        self.model = PeerModel()

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)  # type: ignore[untyped-decorator, unused-ignore]
    def predict(self, texts: list[str]) -> list[Answer]:
        return self.model.predict(texts)
