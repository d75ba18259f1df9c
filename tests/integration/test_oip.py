"""The Open Inference Protocol v2 routes through the real app on a tiny real checkpoint.

The protocol's details (shapes, the binary tensor extension, every error) are checked here with
hand-built bodies; `tests/system/test_oip_client.py` drives a real server with ``tritonclient``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.config import Settings
from service.oip import HEADER_LENGTH

LIMIT = Settings.model_fields["max_text_chars"].default
TEXTS = ["A gorgeous, witty film.", "Dull and far too long.", "It is a film."]


def infer_body(texts: list[str], shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    tensor = {"name": "text", "datatype": "BYTES", "shape": shape or [len(texts)], "data": texts}
    return {"inputs": [tensor], **extra}


def model_url(client: TestClient) -> str:
    return f"/v2/models/{client.get('/model').json()['name']}"


def test_server_metadata_and_health(client: TestClient) -> None:
    assert client.get("/v2").json() == {
        "name": "sentiment-rnn",
        "extensions": ["binary_tensor_data"],
        "version": "1.0.0",
    }
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    url = model_url(client)
    assert client.get(url + "/ready").json() == {"name": "tiny", "ready": True}


def test_model_metadata_names_the_checkpoint_and_its_labels(client: TestClient) -> None:
    info = client.get("/model").json()
    meta = client.get(model_url(client)).json()
    assert meta == {
        "name": "tiny",
        "versions": [info["model_version"]],
        "platform": "pytorch",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "sentiment", "datatype": "FP32", "shape": [-1]},
        ],
        "parameters": {"language": "en", "labels": "negative,neutral,positive", "binary_labels": "negative,positive"},
    }
    version = info["model_version"]
    assert client.get(f"{model_url(client)}/versions/{version}").json() == meta


@pytest.mark.parametrize("shape", [[3], [3, 1]])
def test_infer_equals_predict_batch(client: TestClient, shape: list[int]) -> None:
    expected = client.post("/predict/batch", json={"texts": TEXTS}).json()["predictions"]
    r = client.post(model_url(client) + "/infer", json=infer_body(TEXTS, shape, id="req-1"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == "tiny"
    assert body["model_version"] == expected[0]["model_version"]
    assert body["id"] == "req-1"
    out = {t["name"]: t for t in body["outputs"]}
    assert list(out) == ["label", "probabilities", "sentiment"]
    assert out["label"] == {"name": "label", "datatype": "BYTES", "shape": [3], "data": [p["label"] for p in expected]}
    probs = out["probabilities"]
    assert (probs["datatype"], probs["shape"], probs["parameters"]) == (
        "FP32",
        [3, 3],
        {"labels": "negative,neutral,positive"},
    )
    rows = [probs["data"][i * 3 : i * 3 + 3] for i in range(3)]
    for row, p in zip(rows, expected, strict=True):
        assert row == pytest.approx([p["probabilities"][k] for k in ("negative", "neutral", "positive")], abs=1e-6)
    assert out["sentiment"]["data"] == pytest.approx([p["sentiment"] for p in expected], abs=1e-6)


def test_binary_parameter_gives_polar_probabilities(client: TestClient) -> None:
    expected = client.post("/predict/batch", json={"texts": TEXTS, "binary": True}).json()["predictions"]
    body = client.post(model_url(client) + "/infer", json=infer_body(TEXTS, parameters={"binary": True})).json()
    probs = body["outputs"][1]
    assert (probs["shape"], probs["parameters"]) == ([3, 2], {"labels": "negative,positive"})
    flat = [p["probabilities"][k] for p in expected for k in ("negative", "positive")]
    assert probs["data"] == pytest.approx(flat, abs=1e-6)
    assert body["outputs"][0]["data"] == [p["label"] for p in expected]


def _bytes_tensor(texts: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)


def test_binary_tensor_extension_in_and_out(client: TestClient) -> None:
    """Triton's binary tensor data: the JSON header, then each input's bytes; outputs the same way."""
    json_part = client.post(model_url(client) + "/infer", json=infer_body(TEXTS)).json()
    blob = _bytes_tensor(TEXTS)
    header = json.dumps(
        {
            "inputs": [
                {"name": "text", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(blob)}}
            ],
            "outputs": [{"name": "sentiment", "parameters": {"binary_data": True}}, {"name": "label"}],
        }
    ).encode()
    r = client.post(model_url(client) + "/infer", content=header + blob, headers={HEADER_LENGTH: str(len(header))})
    assert r.status_code == 200, r.text
    length = int(r.headers[HEADER_LENGTH])
    assert r.headers["content-type"] == "application/octet-stream"
    doc = json.loads(r.content[:length])
    sentiment, label = doc["outputs"]
    assert sentiment["parameters"] == {"binary_data_size": 12}
    assert "data" not in sentiment
    values = struct.unpack("<3f", r.content[length:])
    assert values == pytest.approx(json_part["outputs"][2]["data"], abs=1e-6)
    assert label["data"] == json_part["outputs"][0]["data"]


def test_unicode_texts_round_trip_through_binary_input(client: TestClient) -> None:
    texts = ["naïve 😀 film", "très bien"]
    blob = _bytes_tensor(texts)
    tensor = {"name": "text", "datatype": "BYTES", "shape": [2, 1], "parameters": {"binary_data_size": len(blob)}}
    header = json.dumps({"inputs": [tensor]}).encode()
    r = client.post(model_url(client) + "/infer", content=header + blob, headers={HEADER_LENGTH: str(len(header))})
    assert r.status_code == 200, r.text
    expected = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    assert r.json()["outputs"][0]["data"] == [p["label"] for p in expected]


def _tensor(**changes: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["fine"], **changes}]}


BAD: list[tuple[bytes | dict[str, Any], str]] = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    ({"inputs": []}, "exactly one tensor"),
    ({"inputs": [{}, {}]}, "exactly one tensor"),
    ({"input": []}, "unknown request field(s): input"),
    (_tensor(name="TEXT"), "must be named 'text'"),
    (_tensor(datatype="FP32"), "datatype BYTES"),
    (_tensor(shape=[1, 2]), "shape [n] or [n, 1]"),
    (_tensor(shape=[0], data=[]), "shape [n] or [n, 1]"),
    (_tensor(shape=["1"]), "shape [n] or [n, 1]"),
    (_tensor(shape=[2]), "has shape [2] but 1 elements"),
    (_tensor(data=[1]), "must be a string"),
    (_tensor(data="fine"), "has no 'data'"),
    (_tensor(data=["   "]), "input 'text': element 0: text must contain at least one non-whitespace character"),
    (_tensor(data=["x" * (LIMIT + 1)]), f"element 0: text is {LIMIT + 1} characters long; the limit is {LIMIT}"),
    (_tensor(shape=[257], data=["ok"] * 257), "input 'text': batch has 257 texts; the limit is 256"),
    (_tensor(shape=[2], data=["ok", "\t"]), "input 'text': element 1: text must contain"),
    ({**_tensor(), "parameters": {"explain": True}}, "unknown parameter 'explain'"),
    ({**_tensor(), "parameters": {"binary": "yes"}}, "parameter 'binary' must be a boolean"),
    ({**_tensor(), "parameters": {"lang": "fr"}}, "parameter lang: Input should be"),
    ({**_tensor(), "parameters": {"lang": "zh"}}, "model 'tiny' reads 'en', not 'zh'"),
    ({**_tensor(), "parameters": []}, "'parameters' must be an object"),
    ({**_tensor(), "outputs": [{"name": "logits"}]}, "unknown output 'logits'"),
    ({**_tensor(), "outputs": [{"name": "label", "parameters": {"classification": 2}}]}, "only output parameter"),
    ({**_tensor(), "id": 7}, "'id' must be a string"),
    (_tensor(parameters={"binary_data_size": 9}), "binary_data_size is 9 but 0 bytes follow"),
]


@pytest.mark.parametrize(("body", "detail"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_requests_are_400_with_the_protocol_error(client: TestClient, body: Any, detail: str) -> None:
    url = model_url(client) + "/infer"
    r = client.post(url, content=body) if isinstance(body, bytes) else client.post(url, json=body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"}
    assert detail in r.json()["error"]
    assert client.post(url, json=infer_body(["fine"])).status_code == 200  # still healthy


@pytest.mark.parametrize(
    ("blob", "header_length", "detail"),
    [
        (b"\x05\x00\x00\x00ab", None, "ends inside an element"),
        (b"\x05\x00", None, "ends inside an element's length"),
        (b"\x02\x00\x00\x00\xff\xfe", None, "not valid UTF-8"),
        (b"\x02\x00\x00\x00ok", "999999", "must be a length within the body"),
        (b"\x02\x00\x00\x00ok", "-1", "must be a length within the body"),
    ],
)
def test_bad_binary_tensors_are_400(client: TestClient, blob: bytes, header_length: str | None, detail: str) -> None:
    header = (
        b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": %d}}]}'
        % len(blob)
    )
    length = header_length or str(len(header))
    r = client.post(model_url(client) + "/infer", content=header + blob, headers={HEADER_LENGTH: length})
    assert r.status_code == 400
    assert detail in r.json()["error"]


def test_unknown_model_or_version_is_404(client: TestClient) -> None:
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/tiny/versions/tiny@000000000000"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.json()["error"].startswith(("no model 'nope'; loaded: tiny", "model 'tiny' has no version"))
    r = client.post("/v2/models/nope/infer", json=infer_body(["fine"]))
    assert (r.status_code, r.json()) == (404, {"error": "no model 'nope'; loaded: tiny"})


def test_not_ready_is_503(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no `with`: the lifespan (model loading) never runs
    for r in (
        client.get("/v2/health/ready"),
        client.get("/v2/models/tiny/ready"),
        client.post("/v2/models/tiny/infer", json=infer_body(["fine"])),
    ):
        assert r.status_code == 503
        assert r.json() == {"error": "the model is not loaded yet"}
        assert r.headers["retry-after"] == "1"
    assert client.get("/v2/health/live").status_code == 200


def test_api_key_guards_metadata_and_inference(tiny_checkpoint: Any) -> None:
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, api_key=SecretStr("s3cret"))
    with TestClient(create_app(settings)) as client:
        assert client.get("/v2/health/ready").status_code == 200
        r = client.post("/v2/models/tiny/infer", json=infer_body(["fine"]))
        assert r.status_code == 401
        assert set(r.json()) == {"error"}
        ok = client.post("/v2/models/tiny/infer", json=infer_body(["fine"]), headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        assert client.get("/v2/models/tiny").status_code == 401
