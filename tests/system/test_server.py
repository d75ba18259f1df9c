"""A real uvicorn process: serving, graceful shutdown on SIGTERM, and startup that fails loudly."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], module: bool = False) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    full = {**os.environ, "SENTIMENT_CHECKPOINT_ZH": "none", "SENTIMENT_TORCH_THREADS": "1", **env}
    if module:
        full.update(SENTIMENT_HOST="127.0.0.1", SENTIMENT_PORT=str(port))
        cmd = [sys.executable, "-m", "service"]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "service.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
        ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then the output; uvicorn shuts down gracefully and re-raises the signal on exit."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Finished server process" in out
    return out


def wait_ready(proc: subprocess.Popen[str], url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


@contextlib.contextmanager
def running(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A ready server; killed afterwards if a test left it running, its output pipe always closed."""
    proc, url = start(env)
    try:
        wait_ready(proc, url)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.communicate(timeout=10)  # also closes the pipe, even when a test failed before `stop`


@pytest.fixture
def server(tiny_checkpoint: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with running({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint)}) as proc_url:
        yield proc_url


def test_real_server_answers_and_logs_json(server: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = server
    r = httpx.post(url + "/predict", json={"text": "What a great movie!"}, headers={"X-Request-ID": "req-42"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "req-42"
    assert r.json()["label"] in ("negative", "positive")
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    out = stop(proc)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("request_id") == "req-42"]
    assert access == [{**access[0], "logger": "service.access", "method": "POST", "route": "/predict", "status": 200}]
    assert access[0]["duration_ms"] > 0


@pytest.fixture
def slow_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The shipped English model (one member): an explained batch of long texts takes it most of a
    second, where the tiny test model answers in a fraction of that."""
    shipped = ROOT / "model" / "artifacts" / "sentiment-rnn.pt"
    with running({"SENTIMENT_CHECKPOINT": str(shipped), "SENTIMENT_ENSEMBLE_MEMBERS": "1"}) as proc_url:
        yield proc_url


def test_sigterm_lets_in_flight_requests_finish(slow_server: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = slow_server
    # The largest explained batch (16 texts) of long texts, as many as make ~3 s of work on this
    # machine (at least 6; at most 12, which the server accepts at once), so that they are still
    # running when SIGTERM arrives.
    body = {"texts": ["a truly wonderful and moving film that never drags , " * 24] * 16, "explain": True}

    def call() -> tuple[httpx.Response, float]:
        response = httpx.post(url + "/predict/batch", json=body, timeout=60)
        return response, time.monotonic()

    t0 = time.monotonic()
    call()
    one = time.monotonic() - t0
    n = min(12, max(6, math.ceil(3.0 / one)))
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(call) for _ in range(n)]
        time.sleep(min(0.5, one))  # the requests are in flight
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.TransportError):  # no new connections once shutdown began
            httpx.get(url + "/health", timeout=2)
        answers, finished = zip(*[f.result() for f in futures], strict=True)
    assert max(finished) > started  # some requests were still running when SIGTERM arrived
    assert [a.status_code for a in answers] == [200] * n
    assert all(len(a.json()["predictions"]) == 16 for a in answers)
    out = stop(proc)
    assert "Waiting for application shutdown" in out
    assert time.monotonic() - started < 15


def test_python_m_service_reads_host_and_port_from_settings(tiny_checkpoint: Path) -> None:
    proc, url = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint)}, module=True)
    try:
        wait_ready(proc, url)
        assert httpx.post(url + "/predict", json={"text": "fine"}).status_code == 200
    finally:
        stop(proc)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SENTIMENT_CHECKPOINT": "/nonexistent/model.pt"}, "checkpoint not found: /nonexistent/model.pt"),
        ({"SENTIMENT_CHECKPOINT_SHA256": "0" * 64}, "refusing to load it"),
    ],
)
def test_bad_checkpoint_fails_startup_loudly(tiny_checkpoint: Path, env: dict[str, str], message: str) -> None:
    proc, _ = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), **env})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert message in out


def test_corrupt_checkpoint_fails_startup_loudly(tiny_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:5000])
    proc, _ = start({"SENTIMENT_CHECKPOINT": str(bad)})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "is corrupt or not a checkpoint" in out


def test_sidecar_checksum_is_verified(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(tiny_checkpoint.read_bytes())
    (tmp_path / "model.pt.sha256").write_text("f" * 64 + "  model.pt\n")
    proc, _ = start({"SENTIMENT_CHECKPOINT": str(ckpt)})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "expected " + "f" * 64 in out
