"""Chinese: character tokenizer, language detection, and both models behind one API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from model.checkpoint import CheckpointError, load_checkpoint
from model.network import pad_batch
from model.tokenizer import tokenize
from model.tokenizer_zh import is_cjk, tokenize_zh
from service.app import create_app
from service.config import ModelSpec, Settings
from service.language import detect
from tests.conftest import assert_same_prediction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "这家酒店很好，服务也不错！！",
            ["这", "家", "酒", "店", "很", "好", ",", "服", "务", "也", "不", "错", "!", "!"],
        ),
        ("15.4寸笔记本，WIN7系统", ["15.4", "寸", "笔", "记", "本", ",", "win7", "系", "统"]),
        ("虽然价格贵，但是质量好。", ["虽", "然", "价", "格", "贵", ",", "但", "是", "质", "量", "好", "."]),
        ("《三体》真好看…… 😍👍🏻", ["<", "三", "体", ">", "真", "好", "看", "...", "赞", "赞"]),
        ("ＡＢＣ１２３　全角（括号）", ["abc123", "全", "角", "(", "括", "号", ")"]),
        ("這個產品不錯", ["这", "个", "产", "品", "不", "错"]),  # traditional read as simplified
        ("iPhone 很好用 ok", ["iphone", "很", "好", "用", "ok"]),
        ("  \n\t", []),
        ("", []),
    ],
)
def test_tokenize_zh(text: str, expected: list[str]) -> None:
    assert tokenize_zh(text) == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("这家酒店很好", "zh"),
        ("iPhone很好用", "zh"),
        ("房间很干净, location is great", "zh"),
        ("the 功夫 scenes were great", "en"),
        ("A gorgeous, witty film.", "en"),
        ("12345 !!!", "en"),
        ("😀😀", "en"),
        ("", "en"),
    ],
)
def test_detect(text: str, lang: str) -> None:
    assert detect(text) == lang
    assert detect(text, available=("en",)) == "en"
    assert detect(text, available=("zh",)) == "zh"


@pytest.fixture
def both(tiny_checkpoint: Path, tiny_zh_checkpoint: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(checkpoint=tiny_checkpoint, checkpoint_zh=tiny_zh_checkpoint))) as c:
        yield c


ZH = "虽然价格有点贵，但是房间干净，服务很好。"
EN = "A gorgeous, witty film."


def test_language_is_detected_and_reported(both: TestClient) -> None:
    zh = both.post("/predict", json={"text": ZH}).json()
    en = both.post("/predict", json={"text": EN}).json()
    assert zh["language"] == "zh"
    assert zh["model_version"].startswith("tiny-zh@")
    assert zh["tokens"] == len(tokenize_zh(ZH))
    assert en["language"] == "en"
    assert en["model_version"].startswith("tiny@")
    forced = both.post("/predict", json={"text": ZH, "lang": "en"}).json()
    assert forced["language"] == "en"
    chinese_runs = [t for t in tokenize(ZH) if any(is_cjk(c) for c in t)]
    assert len(chinese_runs) == 3
    assert forced["unknown_tokens"] == len(chinese_runs)  # the English model knows no Chinese words
    assert both.get("/ready").json() == {"status": "ready", "models": ["en", "zh"]}
    assert {m["language"] for m in both.get("/models").json()["models"]} == {"en", "zh"}


def test_mixed_batch_equals_single_results(both: TestClient) -> None:
    texts = [ZH, EN, "这本书不好看", "Dull and far too long.", "质量不错，值得购买"]
    batch = both.post("/predict/batch", json={"texts": texts, "explain": True}).json()["predictions"]
    assert [p["language"] for p in batch] == ["zh", "en", "zh", "en", "zh"]
    for text, pred in zip(texts, batch, strict=True):
        assert_same_prediction(pred, both.post("/predict", json={"text": text, "explain": True}).json())


def test_explanation_is_per_character(both: TestClient) -> None:
    body = both.post("/predict", json={"text": "服务很好", "explain": True}).json()
    assert [t["text"] for t in body["explanation"]["tokens"]] == ["服", "务", "很", "好"]


def test_hidden_state_of_each_member_equals_torch_rnn(both: TestClient, tiny_zh_checkpoint: Path) -> None:
    """Every member's h_n: torch.nn.RNN from h0 = 0 over character + left-bigram embeddings."""
    body = both.post("/predict", json={"text": ZH, "include_hidden": True}).json()
    hs = body["hidden_state"]
    assert (hs["members"], hs["num_directions"]) == (2, 2)
    ckpt = load_checkpoint(tiny_zh_checkpoint)
    ids = torch.tensor([ckpt.vocab.encode(tokenize_zh(ZH))])
    served = torch.tensor([s["values"] for s in hs["states"]]).view(2, 2, -1)
    logits = []
    for member, net in enumerate(ckpt.build_models()):
        with torch.no_grad():
            h0 = torch.zeros(2, 1, net.config.hidden_size)
            _, h_n = net.rnn(net.embed(ids), h0)
            logits.append(net(*pad_batch(ids.tolist())).logits)
        torch.testing.assert_close(served[member], h_n[:, 0], rtol=0, atol=1e-5)
    probs = (torch.stack(logits).mean(0) / ckpt.temperature).softmax(-1)[0]
    assert body["probabilities"]["positive"] == pytest.approx(float(probs[1]), abs=1e-5)


def test_limits_apply_to_chinese_too_and_long_reviews_are_read_whole(both: TestClient) -> None:
    r = both.post("/predict", json={"text": "好" * 100_001})
    assert r.status_code == 422
    review = "房间很干净，服务也很周到。" * 30  # 390 characters: longer than the model reads at once
    body = both.post("/predict", json={"text": review, "sentences": True}).json()
    assert (body["truncated"], body["tokens"]) == (False, 390)
    assert len(body["sentences"]) == 30
    assert "scale" not in body
    assert set(body["probabilities"]) == {"negative", "positive"}


def test_serving_fewer_members_uses_their_own_temperature(tiny_checkpoint: Path, tiny_zh_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_zh_checkpoint)
    assert len(ckpt.member_temperatures) == 2
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=tiny_zh_checkpoint, ensemble_members_zh=1)
    with TestClient(create_app(settings)) as c:
        body = c.post("/predict", json={"text": ZH}).json()
        info = next(m for m in c.get("/models").json()["models"] if m["language"] == "zh")
    assert body["hidden_state"]["members"] == 1
    assert info["architecture"]["ensemble_members"] == 1
    assert info["architecture"]["ensemble_members_in_checkpoint"] == 2
    (net,) = ckpt.subset(1).build_models()
    ids = ckpt.vocab.encode(tokenize_zh(ZH))
    with torch.no_grad():
        expected = (net(*pad_batch([ids])).logits / ckpt.member_temperatures[0]).softmax(-1)[0, 1]
    assert body["probabilities"]["positive"] == pytest.approx(float(expected), abs=1e-5)


def test_asking_for_more_members_than_exist_fails_startup(tiny_checkpoint: Path, tiny_zh_checkpoint: Path) -> None:
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=tiny_zh_checkpoint, ensemble_members_zh=3)
    with pytest.raises(CheckpointError, match="has 2 members; cannot serve 3"), TestClient(create_app(settings)):
        pass


def test_models_from_the_environment_in_order_with_members(
    monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path, tiny_zh_checkpoint: Path
) -> None:
    """SENTIMENT_MODELS: every entry served, /model is the first one, ``members`` is honoured."""
    for name in [n for n in os.environ if n.startswith("SENTIMENT_")]:
        monkeypatch.delenv(name)
    entries = [{"checkpoint": str(tiny_zh_checkpoint), "members": 1}, {"checkpoint": str(tiny_checkpoint)}]
    monkeypatch.setenv("SENTIMENT_MODELS", json.dumps(entries))
    with TestClient(create_app(Settings())) as c:
        first = c.get("/model").json()
        assert [m["name"] for m in c.get("/models").json()["models"]] == ["tiny-zh", "tiny"]
        assert c.get("/ready").json() == {"status": "ready", "models": ["en", "zh"]}
        assert c.post("/predict", json={"text": EN}).json()["language"] == "en"
        assert c.post("/predict", json={"text": ZH}).json()["hidden_state"]["members"] == 1
    assert (first["name"], first["language"]) == ("tiny-zh", "zh")
    assert first["architecture"]["ensemble_members"] == 1
    assert first["architecture"]["ensemble_members_in_checkpoint"] == 2


def test_a_single_chinese_model_answers_every_text(tiny_zh_checkpoint: Path) -> None:
    with TestClient(create_app(Settings(models=[ModelSpec(checkpoint=tiny_zh_checkpoint)]))) as c:
        assert c.post("/predict", json={"text": EN}).json()["language"] == "zh"
        r = c.post("/predict", json={"text": EN, "lang": "en"})
        assert r.status_code == 422
        assert r.json()["detail"] == "no model is loaded for language 'en'; loaded: ['zh']"
        assert c.get("/model").json()["language"] == "zh"
        lang = c.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]["properties"]["lang"]
    assert lang["anyOf"][0]["enum"] == ["zh"]


def test_two_checkpoints_of_one_language_fail_startup(tiny_checkpoint: Path) -> None:
    specs = [ModelSpec(checkpoint=tiny_checkpoint), ModelSpec(checkpoint=tiny_checkpoint, members=1)]
    with (
        pytest.raises(CheckpointError, match="two checkpoints for language 'en'"),
        TestClient(create_app(Settings(models=specs))),
    ):
        pass
