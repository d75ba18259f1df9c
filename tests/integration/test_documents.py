"""Documents: every sentence read, answers per sentence with offsets and for the whole; batches
answered item by item. Through the real app on the tiny five-point checkpoint."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest
import torch
from fastapi.testclient import TestClient

from model import document, scale
from service.schemas import BatchResponse, Prediction
from tests.conftest import assert_same_prediction

REVIEW = (
    "I ordered the blue one on Monday. It arrived two days late!\n\n"
    'The screen is gorgeous, e.g. at night. "Worth it?" Yes.   The battery, however, is awful...'
)


def test_sentences_have_offsets_into_the_text_and_their_own_answers(client: TestClient) -> None:
    body = client.post("/predict", json={"text": REVIEW, "sentences": True}).json()
    Prediction.model_validate(body, strict=True)
    spans = [(s["start"], s["end"]) for s in body["sentences"]]
    assert [REVIEW[a:b] for a, b in spans] == [
        "I ordered the blue one on Monday.",
        "It arrived two days late!",
        "The screen is gorgeous, e.g. at night.",
        '"Worth it?"',
        "Yes.",
        "The battery, however, is awful...",
    ]
    for s in body["sentences"]:
        single = client.post("/predict", json={"text": REVIEW[s["start"] : s["end"]]}).json()
        assert (s["label"], s["probabilities"]) == (single["label"], pytest.approx(single["probabilities"], abs=1e-5))
        assert s["sentiment"] == pytest.approx(single["sentiment"], abs=1e-5)
    assert body["tokens"] == sum(client.post("/predict", json={"text": REVIEW[a:b]}).json()["tokens"] for a, b in spans)


def test_the_document_answer_is_the_weighted_mean_of_its_sentences(client: TestClient) -> None:
    body = client.post("/predict", json={"text": REVIEW, "sentences": True}).json()
    predictor = client.app.state.service.predictors["en"]  # type: ignore[attr-defined]
    spans = [REVIEW[x["start"] : x["end"]] for x in body["sentences"]]
    five = torch.tensor([list(client.post("/predict", json={"text": t}).json()["scale"].values()) for t in spans])
    expected = document.combine(five, scale.FIVE, predictor.aggregation)
    assert list(body["scale"].values()) == pytest.approx(expected.tolist(), abs=1e-5)
    polar = 1 - five[:, 2]
    assert document.weights(five, scale.FIVE, document.Aggregation(1.0, 0.0)).tolist() == pytest.approx(
        polar.tolist(), abs=1e-6
    )


def test_a_text_of_one_sentence_answers_as_before(client: TestClient) -> None:
    for text in ("A gorgeous, witty film.", "  not bad at all  ", "ok"):
        plain = client.post("/predict", json={"text": text}).json()
        with_sentences = client.post("/predict", json={"text": text, "sentences": True}).json()
        assert "sentences" not in plain
        assert len(with_sentences.pop("sentences")) == 1
        assert_same_prediction(plain, with_sentences)


def test_a_batch_answers_item_by_item(client: TestClient) -> None:
    texts = ["A gorgeous film.", "", "   \n ", "x" * 100_001, "Dull and far too long."]
    r = client.post("/predict/batch", json={"texts": texts})
    assert r.status_code == 200
    BatchResponse.model_validate(r.json(), strict=True)
    answers = r.json()["predictions"]
    for i in (1, 2, 3):
        assert answers[i]["index"] == i
        assert (answers[i]["status"], answers[i]["title"], answers[i]["type"]) == (
            422,
            HTTPStatus(422).phrase,
            "about:blank",
        )
    assert "non-whitespace" in answers[1]["detail"]
    assert "the limit is 100000" in answers[3]["detail"]
    for i in (0, 4):
        assert_same_prediction(answers[i], client.post("/predict", json={"text": texts[i]}).json())
    assert client.get("/ready").status_code == 200


def test_a_long_text_is_answered_in_time_and_memory_stays_bounded(client: TestClient) -> None:
    sentence = "The plot follows a retired detective in 1940s Los Angeles, and the ending is wonderful. "
    text = (sentence * (100_000 // len(sentence) + 1))[:100_000]
    started = time.perf_counter()
    r = client.post("/predict", json={"text": text, "sentences": True})
    elapsed = time.perf_counter() - started
    assert r.status_code == 200
    body = r.json()
    assert len(body["sentences"]) == text.count(". ") + 1
    assert body["truncated"] is False
    assert elapsed < 5.0  # the tiny model; bench/RESULTS.md measures the shipped one
