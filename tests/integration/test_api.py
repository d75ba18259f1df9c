"""The HTTP contract, through the real app (lifespan running) on a tiny real checkpoint."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from model.checkpoint import load_checkpoint
from model.languages import LANGUAGES
from model.network import pad_batch
from model.tokenizer import tokenize
from service.app import create_app
from service.config import Settings
from service.schemas import BatchResponse, ModelInfo, Prediction
from tests.conftest import assert_same_prediction

TEXT = "This ISN'T great (at all)!"


def test_predict_shape(client: TestClient) -> None:
    r = client.post("/predict", json={"text": TEXT})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "label",
        "score",
        "probabilities",
        "sentiment",
        "scale",
        "language",
        "model_version",
        "tokens",
        "unknown_tokens",
        "truncated",
        "hidden_state",
    }
    assert body["label"] in ("negative", "neutral", "positive")
    assert set(body["probabilities"]) == {"negative", "neutral", "positive"}
    assert math.isclose(sum(body["probabilities"].values()), 1.0, rel_tol=1e-6)
    assert body["score"] == body["probabilities"][body["label"]] == max(body["probabilities"].values())
    five = body["scale"]
    assert list(five) == ["very_negative", "negative", "neutral", "positive", "very_positive"]
    assert math.isclose(sum(five.values()), 1.0, rel_tol=1e-6)
    # The three-way answer sums the scale's sides; the score is the scale's expected point on -1..1.
    assert body["probabilities"]["negative"] == pytest.approx(five["very_negative"] + five["negative"], abs=1e-6)
    assert body["probabilities"]["neutral"] == pytest.approx(five["neutral"], abs=1e-6)
    points = dict(zip(five, (-1.0, -0.5, 0.0, 0.5, 1.0), strict=True))
    assert body["sentiment"] == pytest.approx(sum(points[k] * p for k, p in five.items()), abs=1e-6)
    assert -1 <= body["sentiment"] <= 1
    assert body["tokens"] == len(tokenize(TEXT)) == 9
    assert body["truncated"] is False
    assert body["language"] == "en"
    assert body["model_version"].startswith("tiny@")
    hs = body["hidden_state"]
    assert (hs["members"], hs["num_layers"], hs["num_directions"], hs["hidden_size"]) == (1, 1, 2, 12)
    assert [(s["member"], s["layer"], s["direction"]) for s in hs["states"]] == [(0, 0, "forward"), (0, 0, "backward")]
    for s in hs["states"]:
        assert set(s) == {"member", "layer", "direction", "l2_norm", "mean", "std", "min", "max", "top_units"}
        assert len(s["top_units"]) == 5
        mags = [abs(u["value"]) for u in s["top_units"]]
        assert mags == sorted(mags, reverse=True)
        assert -1 <= s["min"] <= s["mean"] <= s["max"] <= 1


def test_answers_conform_to_the_documented_models(client: TestClient) -> None:
    """Answers are built as plain dicts on the hot path; they must still be exactly the documented shape."""
    for options in ({}, {"explain": True}, {"include_hidden": True, "explain": True}):
        body = client.post("/predict", json={"text": TEXT, **options}).json()
        Prediction.model_validate(body, strict=True)
        batch = client.post("/predict/batch", json={"texts": [TEXT, "fine"], **options}).json()
        BatchResponse.model_validate(batch, strict=True)
    info = client.get("/model").json()
    ModelInfo.model_validate(info)


def test_hidden_state_equals_torch_rnn_from_zero_h0(client: TestClient, tiny_checkpoint: Path) -> None:
    """The served h_n is what torch.nn.RNN computes for this text with h0 = zeros, to the float16
    rounding of the fast path's input projection (tests/unit/test_fastpath.py checks the loops exactly)."""
    body = client.post("/predict", json={"text": TEXT, "include_hidden": True}).json()
    ckpt = load_checkpoint(tiny_checkpoint)
    (net,) = ckpt.build_models()
    ids = ckpt.vocab.encode(tokenize(TEXT))
    with torch.no_grad():
        x = net.embedding(torch.tensor([ids]))
        h0 = torch.zeros(net.config.num_layers * 2, 1, net.config.hidden_size)
        _, h_n = net.rnn(x, h0)
        logits = net(*pad_batch([ids])).logits / ckpt.temperature
    served = torch.tensor([s["values"] for s in body["hidden_state"]["states"]])
    torch.testing.assert_close(served, h_n[:, 0], rtol=0, atol=2e-3)
    for s, h in zip(body["hidden_state"]["states"], h_n[:, 0], strict=True):
        assert s["l2_norm"] == pytest.approx(float(h.norm()), abs=2e-3)
        assert s["std"] == pytest.approx(float(h.std(correction=0)), abs=2e-3)
        assert s["top_units"][0]["index"] == int(h.abs().argmax())
    assert list(body["scale"].values()) == pytest.approx(logits.softmax(-1)[0].tolist(), abs=2e-3)


def test_batch_equals_single(client: TestClient) -> None:
    texts = ["A gorgeous, witty film.", "Dull and far too long.", TEXT, "ok", "the " * 40 + "end"]
    batch = client.post("/predict/batch", json={"texts": texts, "explain": True})
    assert batch.status_code == 200
    preds = batch.json()["predictions"]
    assert len(preds) == len(texts)
    for text, pred in zip(texts, preds, strict=True):
        single = client.post("/predict", json={"text": text, "explain": True}).json()
        assert_same_prediction(pred, single)


def test_explanation_is_consistent_with_prediction(client: TestClient) -> None:
    body = client.post(
        "/predict", json={"text": "A gorgeous, witty, moving film that never drags.", "explain": True}
    ).json()
    ex = body["explanation"]
    tokens = ex["tokens"]
    assert [t["text"] for t in tokens] == tokenize("A gorgeous, witty, moving film that never drags.")
    assert len(tokens) == body["tokens"]
    # The running probabilities and score end at the prediction itself ...
    assert tokens[-1]["running"] == pytest.approx(body["probabilities"], abs=1e-5)
    assert tokens[-1]["sentiment"] == pytest.approx(body["sentiment"], abs=1e-5)
    assert -1 <= ex["baseline_sentiment"] <= 1
    # ... and baseline + contributions add up to the final log-odds of the predicted label.
    p = body["score"]
    total = ex["baseline"] + sum(t["contribution"] for t in tokens)
    assert total == pytest.approx(math.log(p / (1 - p)), abs=1e-4)
    assert all(t["known"] for t in tokens if t["text"] in ("a", ",", "film"))


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_binary_forces_a_polar_answer_from_the_same_scale(client: TestClient, path: str) -> None:
    texts = [TEXT, "The meeting is at noon.", "A gorgeous, witty film."]
    for text in texts:
        body = {"text": text} if path == "/predict" else {"texts": [text]}
        plain, polar = (
            client.post(path, json={**body, **extra}).json() for extra in ({}, {"binary": True, "explain": True})
        )
        if path != "/predict":
            plain, polar = plain["predictions"][0], polar["predictions"][0]
        five = plain["scale"]
        neg, pos = five["very_negative"] + five["negative"], five["positive"] + five["very_positive"]
        assert set(polar["probabilities"]) == {"negative", "positive"}
        assert polar["probabilities"]["positive"] == pytest.approx(pos / (neg + pos), abs=1e-6)
        assert polar["label"] == ("positive" if pos > neg else "negative")
        assert (polar["sentiment"], polar["scale"]) == (plain["sentiment"], plain["scale"])
        assert polar["explanation"]["tokens"][-1]["running"] == pytest.approx(polar["probabilities"], abs=1e-5)


@pytest.mark.parametrize("bad", ["yes", 1, None, [True]])
def test_bad_binary_values_are_422(client: TestClient, bad: object) -> None:
    for path, body in (("/predict", {"text": TEXT}), ("/predict/batch", {"texts": [TEXT]})):
        r = client.post(path, json={**body, "binary": bad})
        assert r.status_code == 422
        assert "binary" in r.json()["detail"]
    assert client.get("/ready").status_code == 200


def test_explanation_marks_unknown_tokens(client: TestClient) -> None:
    body = client.post("/predict", json={"text": "zzqxv film", "explain": True}).json()
    assert body["unknown_tokens"] == 1
    assert [t["known"] for t in body["explanation"]["tokens"]] == [False, True]
    assert [t["read_as"] for t in body["explanation"]["tokens"]] == [None, None]  # no aliases in this checkpoint


def test_a_text_longer_than_the_model_reads_is_read_whole(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        limit = load_checkpoint(settings.models[0].checkpoint).max_length
        body = c.post("/predict", json={"text": "good " * (limit + 10), "sentences": True}).json()
        assert (body["truncated"], body["tokens"]) == (False, limit + 10)
        assert len(body["sentences"]) == 2  # one sentence, read in two pieces that each fit
        assert c.post("/predict", json={"text": "good " * limit}).json()["tokens"] == limit


def test_ready_is_503_before_the_model_is_loaded(settings: Settings) -> None:
    app = create_app(settings)
    c = TestClient(app)  # no `with`: the lifespan has not run, nothing is loaded
    r = c.get("/ready")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"
    assert c.get("/health").status_code == 200
    assert c.post("/predict", json={"text": "good"}).status_code == 503
    with c:
        assert c.get("/ready").json() == {"status": "ready", "models": ["en"]}
    assert c.get("/ready").status_code == 503  # after shutdown


def test_a_prediction_past_the_request_timeout_is_503(tiny_checkpoint: Path) -> None:
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, request_timeout_s=1e-6)
    with TestClient(create_app(settings)) as c:
        r = c.post("/predict/batch", json={"texts": ["a long and winding text " * 20] * 64})
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "1"
        assert "timed out" in r.json()["detail"]
        assert c.get("/health").status_code == 200
        assert c.get("/ready").status_code == 200


def test_the_lang_enum_lists_the_loaded_languages(settings: Settings) -> None:
    def lang_enum(c: TestClient) -> list[str]:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
        enums = [schemas[name]["properties"]["lang"]["anyOf"][0]["enum"] for name in ("PredictRequest", "BatchRequest")]
        assert enums[0] == enums[1]
        result: list[str] = enums[0]
        return result

    c = TestClient(create_app(settings))
    assert lang_enum(c) == list(LANGUAGES)  # before loading: every language this code knows
    with c:
        assert lang_enum(c) == ["en"]


def test_model_metadata(client: TestClient, tiny_checkpoint: Path) -> None:
    info = client.get("/model").json()
    arch = info["architecture"]
    assert arch["type"] == "torch.nn.RNN"
    assert arch["nonlinearity"] == "tanh"
    assert (arch["input_size"], arch["hidden_size"], arch["num_layers"], arch["bidirectional"]) == (16, 12, 1, True)
    ckpt = load_checkpoint(tiny_checkpoint)
    assert info["vocab_size"] == len(ckpt.vocab)
    assert info["aliases"] == 0  # the tiny checkpoint has none
    assert info["labels"] == ["very_negative", "negative", "neutral", "positive", "very_positive"]
    assert info["answer_labels"] == ["negative", "neutral", "positive"]
    assert info["max_length"] == ckpt.max_length
    from model.data import sha256_file

    assert info["checkpoint_sha256"] == sha256_file(tiny_checkpoint)
    assert "sst2/stsa.binary.test" in info["training_data"]
    assert {"dev", "test", "temperature"} <= set(info["metrics"])
    assert info["inference_path"]
    assert client.get("/models").json()["models"][0] == info


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client.post("/predict", json={"text": "great"})
    client.post("/predict", json={"text": ""})
    client.post("/predict/batch", json={"texts": ["a", "b", "c"]})
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    reqs = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["sentiment_http_requests"].samples
        if s.name.endswith("_total")
    }
    assert reqs[("/predict", "200")] >= 1
    assert reqs[("/predict", "422")] == 1
    assert reqs[("/predict/batch", "200")] == 1
    preds = sum(s.value for s in families["sentiment_predictions"].samples if s.name.endswith("_total"))
    assert preds == 4  # 1 + 3 texts; the warm-up prediction is not counted
    assert "sentiment_http_request_duration_seconds" in families
    assert "sentiment_forward_batch_size" in families
    (load,) = families["sentiment_model_load_seconds"].samples
    assert load.value > 0


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    r = client.post("/predict", json={"text": "fine"}, headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 32
    replaced = client.get("/health", headers={"X-Request-ID": "bad id {}"}).headers["x-request-id"]
    assert replaced != "bad id {}"
    assert len(replaced) == 32


def test_docs_are_served_offline(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "http://" not in html, path
        assert "https://" not in html, path
        for src in [s.split('"')[1] for s in html.split("src=")[1:]] + [
            h.split('"')[1] for h in html.split("href=")[1:]
        ]:
            assert src.startswith("/"), src
            assert client.get(src).status_code == 200, src
    schema = client.get("/openapi.json").json()
    for path, ops in schema["paths"].items():
        for op in ops.values():
            assert op.get("summary"), path
            assert op.get("description"), path
    text = schema["components"]["schemas"]["PredictRequest"]["properties"]["text"]
    assert text["maxLength"] == 100_000
    assert text["minLength"] == 1
    assert schema["paths"]["/predict"]["post"]["responses"]["422"]["content"]["application/problem+json"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"", 400, "Invalid JSON"),
        (b"{", 400, "Invalid JSON"),
        (b"[]", 422, "Input should be an object"),
        (b'"text"', 422, "Input should be an object"),
        (b"{}", 422, "body.text: Field required"),
        (b'{"text": 123}', 422, "body.text: Input should be a valid string"),
        (b'{"text": null}', 422, "body.text: Input should be a valid string"),
        (b'{"text": ""}', 422, "non-whitespace"),
        (b'{"text": "  \\n\\t "}', 422, "non-whitespace"),
        (b'{"text": "good", "explian": true}', 422, "body.explian: Extra inputs are not permitted"),
        (b'{"text": "good", "explain": "yes"}', 422, "body.explain"),
        (b'{"text": "good", "lang": "fr"}', 422, "body.lang"),
        (b'\xff\xfe{"text": "x"}', 400, "Invalid JSON"),
    ],
)
def test_bad_input_to_predict(client: TestClient, body: bytes, status: int, detail: str) -> None:
    r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status
    assert detail in problem["detail"]
    assert all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])  # the input is never echoed
    assert client.post("/predict", json={"text": "still healthy"}).status_code == 200


def test_limits(client: TestClient) -> None:
    r = client.post("/predict", json={"text": "a" * 100_001})
    assert r.status_code == 422
    assert "100001 characters long; the limit is 100000" in r.json()["detail"]
    assert client.post("/predict", json={"text": "a " * 50_000}).status_code == 200
    r = client.post("/predict", json={"text": "a good film . " * 400, "explain": True})
    assert r.status_code == 422
    assert "explain is limited to texts of 5000 characters" in r.json()["detail"]
    r = client.post("/predict/batch", json={"texts": ["ok"] * 257})
    assert r.status_code == 422
    assert "257 texts; the limit is 256" in r.json()["detail"]
    r = client.post("/predict/batch", json={"texts": []})
    assert r.status_code == 422
    assert "at least 1 item" in r.json()["detail"]
    # Every character is read: a batch's texts together are bounded too (by the text limit).
    r = client.post("/predict/batch", json={"texts": ["a " * 50_000, "a"]})
    assert r.status_code == 422
    assert "the texts total 100001 characters; the limit is 100000" in r.json()["detail"]
    assert client.post("/predict/batch", json={"texts": ["a " * 25_000] * 2 + ["x" * 100_001]}).status_code == 200
    r = client.post("/predict/batch", json={"texts": "x"})
    assert r.status_code == 422
    assert "body.texts: Input should be a valid array" in r.json()["detail"]
    r = client.post("/predict/batch", json={"texts": [" ", ""]})  # well formed: each text gets its error
    assert r.status_code == 200
    assert [p["index"] for p in r.json()["predictions"]] == [0, 1]
    # An explanation re-reads every prefix: explained batches have their own, smaller limit.
    r = client.post("/predict/batch", json={"texts": ["ok"] * 17, "explain": True})
    assert r.status_code == 422
    assert "explain is limited to 16 texts per batch; this batch has 17" in r.json()["detail"]


def test_largest_explained_batch_is_answered_and_consistent(client: TestClient) -> None:
    """16 texts past the model's token limit: thousands of prefixes, run within the memory budget;
    each text is read in pieces, and each piece is explained on its own."""
    texts = [f"{'a gorgeous film ' * 100} number {i}" for i in range(16)]
    r = client.post("/predict/batch", json={"texts": texts, "explain": True})
    assert r.status_code == 200
    for answer in r.json()["predictions"]:
        assert answer["truncated"] is False
        assert "explanation" not in answer
        pieces = answer["sentences"]
        assert sum(len(p["explanation"]["tokens"]) for p in pieces) == answer["tokens"]
        for piece in pieces:
            assert piece["explanation"]["tokens"][-1]["running"] == pytest.approx(piece["probabilities"], abs=1e-5)
    assert client.get("/ready").status_code == 200


def test_wrong_content_type_method_and_route(client: TestClient) -> None:
    r = client.post("/predict", content=b"text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    r = client.get("/predict")
    assert r.status_code == 405
    assert r.json()["detail"] == "method GET is not allowed on /predict"
    r = client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json()["status"] == 404


def test_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    r = client.post("/predict", content=b"x" * 10_000_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "limit of 2000000 bytes" in r.json()["detail"]
    assert client.post("/predict", json={"text": "fine"}).status_code == 200


def test_oversized_body_without_a_length_is_refused_while_reading(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield from [b"x" * 100_000] * 30

    r = client.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/predict"
    assert r.headers["x-request-id"]
    assert client.post("/predict", json={"text": "fine"}).status_code == 200


def test_valid_unusual_text_is_answered(client: TestClient) -> None:
    for text in [
        "\U0001f600\U0001f600",
        "\u4f60\u597d\u4e16\u754c",
        "a\x00b",
        "\u0645\u0631\u062d\u0628\u0627",
        "https://x.y/z",
    ]:
        r = client.post("/predict", json={"text": text, "explain": True})
        assert r.status_code == 200, text


def test_unexpected_error_is_a_generic_500_and_service_recovers(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        predictor = app.state.service.predictors["en"]
        original = predictor.item

        def boom(*args: object) -> object:
            raise RuntimeError("secret internal detail")

        predictor.item = boom
        r = c.post("/predict", json={"text": "hello"})
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert "secret" not in r.text
        assert r.json()["title"] == "Internal Server Error"
        assert r.headers["x-request-id"]
        predictor.item = original
        assert c.post("/predict", json={"text": "hello"}).status_code == 200


DIRECT_CASES: list[tuple[str, dict[str, Any]]] = [
    ("/predict", {"json": {"text": TEXT}}),
    ("/predict", {"json": {"text": TEXT, "explain": True, "sentences": True}}),
    ("/predict/batch", {"json": {"texts": [TEXT, "", "fine"]}}),
    ("/predict", {"json": {"text": ""}}),
    ("/predict", {"json": {"txt": TEXT}}),
    ("/predict", {"json": {"text": TEXT, "lang": "xx"}}),
    ("/predict", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("/predict", {"content": b"text=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    ("/predict/batch", {"json": {"texts": []}}),
]


def test_direct_routes_answer_as_the_framework_routes(tiny_checkpoint: Path) -> None:
    """With no API key the prediction routes are called past FastAPI's routing (`direct_routes`);
    with one they go through it. Every answer, success or problem, is the same either way."""
    from pydantic import SecretStr

    from service.routes.predict import direct_routes

    plain = create_app(Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None))
    keyed = create_app(Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, api_key=SecretStr("k")))
    assert set(direct_routes(plain, [])) == {"/predict", "/predict/batch"}
    with TestClient(plain) as direct, TestClient(keyed) as routed:
        for path, kwargs in DIRECT_CASES:
            headers = kwargs.get("headers", {})
            body = {k: v for k, v in kwargs.items() if k != "headers"}
            a = direct.post(path, headers=headers, **body)
            b = routed.post(path, headers={**headers, "X-API-Key": "k"}, **body)
            assert (a.status_code, a.headers["content-type"]) == (b.status_code, b.headers["content-type"]), path
            assert a.json() == b.json(), (path, kwargs)
        metrics = direct.get("/metrics").text  # the direct route keeps its route label
        assert 'sentiment_http_requests_total{method="POST",route="/predict",status="200"}' in metrics
