"""Opt-in API key, CORS, and what stays open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.config import Settings

KEY = "s3cret-key-for-tests"


@pytest.fixture
def keyed(tiny_checkpoint: Path) -> Iterator[TestClient]:
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, api_key=SecretStr(KEY))
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predict", {"text": "good"}),
        ("POST", "/predict/batch", {"texts": ["good"]}),
        ("GET", "/model", None),
        ("GET", "/models", None),
    ],
)
def test_guarded_routes_need_the_key(keyed: TestClient, method: str, path: str, body: object) -> None:
    r = keyed.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"
    assert KEY not in r.text
    assert keyed.request(method, path, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert keyed.request(method, path, json=body, headers={"X-API-Key": KEY[:-1]}).status_code == 401
    assert keyed.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert keyed.request(method, path, json=body, headers={"X-API-Key": KEY}).status_code == 200


def test_probes_docs_and_metrics_stay_open_by_default(keyed: TestClient) -> None:
    for path in ("/health", "/ready", "/metrics", "/docs", "/openapi.json", "/"):
        assert keyed.get(path).status_code == 200, path


def test_metrics_can_be_protected(tiny_checkpoint: Path) -> None:
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, api_key=SecretStr(KEY), protect_metrics=True)
    with TestClient(create_app(settings)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_no_key_configured_means_open(client: TestClient) -> None:
    assert client.post("/predict", json={"text": "good"}).status_code == 200


def test_cors_is_off_by_default_and_configurable(client: TestClient, tiny_checkpoint: Path) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    r = client.options("/predict", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    settings = Settings(checkpoint=tiny_checkpoint, checkpoint_zh=None, cors_origins=["https://app.example"])
    with TestClient(create_app(settings)) as c:
        r = c.options("/predict", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        other = c.options("/predict", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        for path, body in (("/predict", {"text": "fine"}), ("/predict/batch", {"texts": ["fine"]})):
            answer = c.post(path, json=body, headers={"Origin": "https://app.example"})  # the request itself
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == "https://app.example"


def test_cors_origins_parse_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_docs_show_the_key_only_when_one_is_required(keyed: TestClient, client: TestClient) -> None:
    schemes = keyed.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "X-API-Key: <SENTIMENT_API_KEY>",
    }
    assert "securitySchemes" not in client.get("/openapi.json").json()["components"]
