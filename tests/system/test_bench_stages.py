"""`make stages`' servers: each stage cuts the real service at the point it names, in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
from fastapi.testclient import TestClient
from bench.stages import create_stage_app
with TestClient(create_stage_app()) as client:
    answers = [client.post("/predict", json={"text": t}).json() for t in ("a good film .", "a dull , bad film .")]
    batch = client.post("/predict/batch", json={"texts": ["fine", "awful"]}).json()
print(json.dumps({"answers": answers, "batch": batch}))
"""


def probe(stage: str, checkpoint: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "SENTIMENT_BENCH_STAGE": stage,
        "SENTIMENT_CHECKPOINT": str(checkpoint),
        "SENTIMENT_CHECKPOINT_ZH": "none",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_stages_answer_a_fixed_prediction_of_the_service_shape(tiny_checkpoint: Path) -> None:
    real = probe("service", tiny_checkpoint)
    for stage in ("http", "batcher"):
        cut = probe(stage, tiny_checkpoint)
        answers = cut["answers"]
        assert isinstance(answers, list)
        assert answers[0] == answers[1]  # fixed: the model is not consulted
        assert set(answers[0]) == set(real["answers"][0])  # type: ignore[index]
        assert cut["batch"] == {"predictions": [answers[0], answers[0]]}
    assert real["answers"][0] != real["answers"][1]  # type: ignore[index]


def test_an_unknown_stage_fails_loudly(tiny_checkpoint: Path) -> None:
    with pytest.raises(AssertionError, match="unknown stage"):
        probe("nonsense", tiny_checkpoint)
