"""The naive peer of `make peers` (bench/peer_apps/naive.py) answers as the service does, so that
bench/PEERS.md compares servers of the same model, not the service with a broken copy of it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bench.peer_apps.naive import app as naive_app
from service.app import create_app
from service.config import Settings

TEXTS = [
    "An utterly delightful, moving film.",
    "This was a dull, lifeless mess!!!",
    "The meeting is scheduled for Monday.",
    "Although the first hour drags, the ending is wonderful.",
]


def test_the_naive_peer_answers_as_the_service_does() -> None:
    with TestClient(create_app(Settings(checkpoint_zh="none"))) as service, TestClient(naive_app) as naive:
        for text in TEXTS:
            expected = service.post("/predict", json={"text": text}).json()
            got = naive.post("/predict", json={"text": text}).json()
            assert got["label"] == expected["label"], text
            assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-4), text
