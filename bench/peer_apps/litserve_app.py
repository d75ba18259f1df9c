"""LitServe serving the shipped checkpoint with its batching: ``python -m bench.peer_apps.litserve_app``.

POST /predict ``{"text": ...}`` -> ``{"label": ..., "probabilities": {...}}`` (LitServe's default
response encoding); readiness at /health.
LitServe collects up to ``--max-batch-size`` requests, waiting at most ``--batch-timeout`` seconds,
and `predict` runs them in one forward pass. One inference worker on the CPU, one API server, no
access log (as every server in the benchmark).
"""

import argparse
from typing import Any

import litserve as ls  # type: ignore[import-not-found, unused-ignore]

from bench.peer_apps.model import Answer, PeerModel, Review


class SentimentAPI(ls.LitAPI):  # type: ignore[misc, unused-ignore]
    def setup(self, device: str) -> None:
        self.model = PeerModel()

    # LitServe reads this annotation at run time (no postponed annotations in this module): the body
    # is parsed into a `Review`, as FastAPI parses the naive endpoint's.
    def decode_request(self, request: Review, **kwargs: Any) -> str:
        return request.text

    def predict(self, texts: list[str], **kwargs: Any) -> list[Answer]:
        return self.model.predict(texts)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--batch-timeout", type=float, default=0.001, help="seconds")
    args = p.parse_args(argv)
    api = SentimentAPI(max_batch_size=args.max_batch_size, batch_timeout=args.batch_timeout)
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1)
    server.run(host="127.0.0.1", port=args.port, log_level="warning", generate_client_file=False, access_log=False)


if __name__ == "__main__":
    main()
