"""The Open Inference Protocol through the real `tritonclient[http]` client, against a real uvicorn process.

The client is the one KServe and Triton users already have; it sends binary tensors by default and
asks for binary outputs, so these tests also cover the binary tensor data extension end to end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.system.test_server import running

TEXTS = ["A gorgeous, witty film.", "Dull and far too long.", "naïve 😀 but fun"]


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with running({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint)}) as proc_url:
        yield proc_url


@pytest.fixture
def client(server: tuple[subprocess.Popen[str], str]) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(url=server[1].removeprefix("http://"))
    yield c
    c.close()


def text_input(texts: list[str], shape: list[int] | None = None, binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("text", shape or [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array(texts, dtype=object).reshape(shape or [len(texts)]), binary_data=binary)
    return tensor


def test_health_and_metadata(client: triton.InferenceServerClient, server: tuple[subprocess.Popen[str], str]) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.get_server_metadata()["extensions"] == ["binary_tensor_data"]
    assert client.is_model_ready("tiny")
    assert not client.is_model_ready("nope")
    meta = client.get_model_metadata("tiny")
    version = httpx.get(server[1] + "/model").json()["model_version"]
    assert (meta["name"], meta["versions"]) == ("tiny", [version])
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities", "sentiment"]
    assert client.is_model_ready("tiny", model_version=version)


@pytest.mark.parametrize(
    ("shape", "binary"),
    [(None, True), ([3, 1], False)],
    ids=["binary-tensors", "json-tensors"],
)
def test_infer_matches_predict_batch(
    client: triton.InferenceServerClient,
    server: tuple[subprocess.Popen[str], str],
    shape: list[int] | None,
    binary: bool,
) -> None:
    expected = httpx.post(server[1] + "/predict/batch", json={"texts": TEXTS}).json()["predictions"]
    outputs = None if binary else [triton.InferRequestedOutput(n, binary_data=False) for n in ("label", "sentiment")]
    result = client.infer("tiny", [text_input(TEXTS, shape, binary)], outputs=outputs, request_id="r-7")
    assert result.get_response()["id"] == "r-7"
    # BYTES elements come back as bytes from binary tensors and as str from JSON ones.
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == [p["label"] for p in expected]
    assert result.as_numpy("sentiment").tolist() == pytest.approx([p["sentiment"] for p in expected], abs=1e-6)
    if outputs is None:
        probs = result.as_numpy("probabilities").reshape(3, 3)
        order = result.get_output("probabilities")["parameters"]["labels"].split(",")
        assert order == ["negative", "neutral", "positive"]
        for row, p in zip(probs.tolist(), expected, strict=True):
            assert row == pytest.approx([p["probabilities"][k] for k in order], abs=1e-6)


def test_binary_parameter_and_explicit_version(
    client: triton.InferenceServerClient, server: tuple[subprocess.Popen[str], str]
) -> None:
    version = client.get_model_metadata("tiny")["versions"][0]
    result = client.infer("tiny", [text_input(TEXTS)], model_version=version, parameters={"binary": True})
    assert result.as_numpy("probabilities").reshape(3, 2).sum(axis=1).tolist() == pytest.approx([1, 1, 1], abs=1e-5)
    assert {v.decode() for v in result.as_numpy("label")} <= {"negative", "positive"}


def test_bad_requests_raise_with_the_servers_message(client: triton.InferenceServerClient) -> None:
    wrong_type = triton.InferInput("text", [2], "FP32")
    wrong_type.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    with pytest.raises(InferenceServerException) as bad:
        client.infer("tiny", [wrong_type])
    assert bad.value.status() == "400"
    assert "must have datatype BYTES, not 'FP32'" in bad.value.message()
    with pytest.raises(InferenceServerException) as blank:
        client.infer("tiny", [text_input(["fine", "  "])])
    assert blank.value.status() == "400"
    assert "element 1: text must contain at least one non-whitespace character" in blank.value.message()
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("nope", [text_input(["fine"])])
    assert unknown.value.status() == "404"
    with pytest.raises(InferenceServerException) as param:
        client.infer("tiny", [text_input(["fine"])], parameters={"explain": True})
    assert param.value.status() == "400"
    assert client.is_server_ready()
    assert client.infer("tiny", [text_input(["fine"])]).as_numpy("label").shape == (1,)
