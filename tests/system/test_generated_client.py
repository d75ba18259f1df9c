"""A Python client generated from the served /openapi.json (openapi-python-client) calls the real
service: the schema stays accurate enough for generators, answers and errors included."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from service.schemas import BatchResponse, Prediction
from tests.system.test_server import running

PACKAGE = "sentiment_rnn_generated_client"


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with running({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint)}) as proc_url:
        yield proc_url


@pytest.fixture(scope="module")
def generated(server: tuple[subprocess.Popen[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client package, generated from the running server's document into a temporary folder."""
    root = tmp_path_factory.mktemp("generated")
    (root / "openapi.json").write_bytes(httpx.get(server[1] + "/openapi.json").content)
    # No post hooks: the generator would otherwise format its output with whatever ruff is on PATH.
    (root / "config.yaml").write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = str(Path(sys.executable).with_name("openapi-python-client"))
    options = ["--path", "openapi.json", "--config", "config.yaml", "--meta", "none", "--output-path", PACKAGE]
    done = subprocess.run(
        [generator, "generate", *options, "--fail-on-warning"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # --fail-on-warning: every route was generated
    sys.path.insert(0, str(root))
    try:
        yield PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def client(generated: str, server: tuple[subprocess.Popen[str], str]) -> Iterator[Any]:
    with module("client").Client(base_url=server[1], raise_on_unexpected_status=True) as c:
        yield c


def test_predict_through_the_generated_client(client: Any) -> None:
    predict = module("api.default.predict_predict_post")
    request = module("models").PredictRequest(text="A gorgeous, witty film.", explain=True)
    answer = predict.sync(client=client, body=request)
    assert type(answer).__name__ == "Prediction"
    assert answer.label in ("negative", "neutral", "positive")
    assert set(answer.probabilities.to_dict()) == {"negative", "neutral", "positive"}
    assert answer.scale.very_positive >= 0  # the five-point scale, as its own model
    # What the generated model read is the served answer, field for field.
    Prediction.model_validate(answer.to_dict(), strict=True)
    assert len(answer.explanation.tokens) == answer.tokens


def test_batch_through_the_generated_client(client: Any) -> None:
    batch = module("api.default.predict_batch_predict_batch_post")
    models = module("models")
    response = batch.sync(client=client, body=models.BatchRequest(texts=["Great.", "Awful."], binary=True))
    assert [set(p.probabilities.to_dict()) for p in response.predictions] == [{"negative", "positive"}] * 2
    BatchResponse.model_validate(response.to_dict(), strict=True)


def test_errors_come_back_as_the_documented_problem(client: Any) -> None:
    predict = module("api.default.predict_predict_post")
    detailed = predict.sync_detailed(client=client, body=module("models").PredictRequest(text="   "))
    assert detailed.status_code == 422
    problem = detailed.parsed
    assert type(problem).__name__ == "Problem"
    assert problem.status == 422
    assert "non-whitespace" in problem.detail
    assert predict.sync(client=client, body=module("models").PredictRequest(text="fine")).label  # still healthy
