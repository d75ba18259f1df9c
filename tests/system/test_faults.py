"""The fast parts of ``make faults`` against a real ``python -m service``: hostile text, slow clients, drain.

The long scenarios (a replica killed or restarted under load behind nginx, the soak) run only in
``make faults`` (`bench.faults`); their report is bench/FAULTS.md. Here the hostile texts are at the
largest sizes a server with a fifth of the default text limit accepts (20,000 characters, 64 texts a
batch), so that the suite stays fast; ``make faults`` sends them at the default limits.
"""

from __future__ import annotations

import contextlib
import math
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench import hostile
from service.config import Settings
from tests.system.test_server import start, stop, wait_ready

HEADER_TIMEOUT_S = 1.0
LIMITS = {"SENTIMENT_MAX_TEXT_CHARS": "20000", "SENTIMENT_MAX_BATCH_TEXTS": "64"}


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path) -> Iterator[str]:
    env = {"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "SENTIMENT_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), **LIMITS}
    proc, url = start(env, module=True)
    try:
        wait_ready(proc, url)
        yield url
    finally:
        stop(proc)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def closed_after(sock: socket.socket, limit: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes ``sock`` (sending ``trickle`` a byte every 0.2 s), or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    i = 0
    while time.monotonic() - started < limit:
        try:
            if trickle:
                sock.send(trickle[i % len(trickle) : i % len(trickle) + 1])
                i += 1
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return time.monotonic() - started
    return None


@pytest.fixture(scope="module")
def hostile_outcomes(server: str) -> list[hostile.Outcome]:
    """Every hostile case sent once, then the server checked: still ready, still answering."""
    limits = {name.removeprefix("SENTIMENT_").lower(): value for name, value in LIMITS.items()}
    cases = hostile.cases(Settings.model_validate(limits))
    assert {c.path for c in cases} == {"/predict", "/predict/batch"}
    with httpx.Client(base_url=server, timeout=30) as client:
        outcomes = [hostile.send(client, case) for case in cases]
        assert client.get("/ready").status_code == 200
        assert client.post("/predict", json={"text": "still fine"}).status_code == 200
    return outcomes


@pytest.mark.slow
def test_hostile_texts_are_answered_or_refused(hostile_outcomes: list[hostile.Outcome]) -> None:
    def expected(o: hostile.Outcome) -> bool:
        return {"answered": o.status == 200, "refused": 400 <= o.status < 500}.get(o.case.expect, o.status < 500)

    assert [(o.case.name, o.case.path, o.status) for o in hostile_outcomes if not expected(o)] == []


def test_hostile_texts_take_under_a_second(hostile_outcomes: list[hostile.Outcome]) -> None:
    slow = [(o.case.name, o.case.path, round(o.seconds, 3)) for o in hostile_outcomes if o.seconds >= 1.0]
    assert slow == []


def test_tokenizer_time_is_linear_in_the_input() -> None:
    # CPU time of this thread: under `make test` another worker shares the cores.
    for kind, row in hostile.tokenizer_scaling(repeats=2, clock=time.thread_time).items():
        for step in ("tokenize_en", "tokenize_zh", "sentences"):
            assert row[f"{step}_ratio"] < 25, (kind, step, row)  # quadratic would be ~100


def test_trickled_headers_are_cut_off(server: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server))) as sock:
        took = closed_after(sock, 5 * HEADER_TIMEOUT_S, trickle=b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaa")
    assert took is not None
    assert HEADER_TIMEOUT_S - 0.1 < took < HEADER_TIMEOUT_S + 1


def test_idle_connection_is_closed(server: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server))) as sock:
        took = closed_after(sock, 5 * HEADER_TIMEOUT_S)
    assert took is not None
    assert took < HEADER_TIMEOUT_S + 1


def test_trickling_after_a_keep_alive_request_is_cut_off(server: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server))) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # one byte every 0.2 s keeps cancelling uvicorn's keep-alive timer; the header deadline still ends it
        took = closed_after(sock, 5 * HEADER_TIMEOUT_S, trickle=b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaa")
    assert took is not None
    assert took < HEADER_TIMEOUT_S + 1


def test_slow_but_complete_headers_are_served(server: str) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=5) as sock:
        for i in range(0, len(request), 8):  # within the deadline
            sock.send(request[i : i + 8])
            time.sleep(HEADER_TIMEOUT_S / 10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_oversized_headers_are_refused(server: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        with contextlib.suppress(OSError):  # the server may close before the last line is sent
            for _ in range(100):  # 1 MB of headers, a line at a time
                sock.sendall(b"X-Big: " + b"a" * 10_000 + b"\r\n")
        with contextlib.suppress(OSError):
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")
    assert httpx.get(server + "/health").status_code == 200


@pytest.mark.slow
def test_sigterm_drains_then_finishes_in_flight(tiny_checkpoint: Path) -> None:
    drain_s = 1.5
    proc, url = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "SENTIMENT_DRAIN_S": str(drain_s)}, module=True)
    body = {"texts": ["a truly wonderful and moving film that never drags , " * 24] * 16, "explain": True}

    def call() -> tuple[int, float]:
        response = httpx.post(url + "/predict/batch", json=body, timeout=60)
        return response.status_code, time.monotonic()

    try:
        wait_ready(proc, url)
        t0 = time.monotonic()
        call()
        # about drain_s + 1.5 s of work, sent as the drain starts: still running when the listener closes
        n = min(32, max(6, math.ceil((drain_s + 1.5) / (time.monotonic() - t0))))
        with httpx.Client(base_url=url, timeout=10) as client, ThreadPoolExecutor(n) as pool:
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            time.sleep(0.2)
            in_flight = [pool.submit(call) for _ in range(n)]
            # draining: not ready, and still serving everything else, new connections included
            ready = client.get("/ready")
            assert ready.status_code == 503
            assert ready.headers["retry-after"] == "1"
            assert client.get("/v2/health/ready").status_code == 503
            assert client.get("/health").status_code == 200
            assert client.post("/predict", json={"text": "fine"}).status_code == 200
            while True:  # until the listener closes
                try:
                    httpx.get(url + "/health", timeout=2)
                except httpx.TransportError:
                    refused_at = time.monotonic()
                    break
                time.sleep(0.02)
            statuses, finished = zip(*[f.result() for f in in_flight], strict=True)
        assert refused_at - sent >= drain_s - 0.1
        assert list(statuses) == [200] * n
        assert max(finished) > refused_at  # some were answered after the shutdown had begun
        assert "Waiting for application shutdown" in stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
