"""What every benchmark shares: servers pinned to a CPU, wrk load, request bodies, the test texts.

`Server` starts a uvicorn process (or ``python -m service``, as the image runs it) pinned to
`SERVER_CPU` and knows its start-to-ready time and memory; `wrk` drives it from `LOAD_CPU` with a
file of JSON bodies; `machine` names what a report was measured on. Used by `bench.run` (``make
bench``), `bench.ab`, `bench.peers`, `bench.stages`, `bench.cli` and the fault tests.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from bench.memory import status_mb
from model.languages import language

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
EN_CHECKPOINT = language("en").checkpoint_path
SERVER_CPU, LOAD_CPU = "0", "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVICE = "service"  # a Server target: the service as its image runs it, ``python -m service``


class Server:
    """A uvicorn process pinned to one CPU; knows its start-to-ready time and peak RSS.

    ``target`` is an ``module:app`` for uvicorn's command line, or `SERVICE`: ``python -m service``
    (uvicorn run by `service.server`, with its header deadline and drain, as the image runs it).
    """

    def __init__(
        self, target: str, env: dict[str, str] | None = None, factory: bool = False, root: Path = ROOT
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = (
            self._uvicorn(target, factory)
            if target != SERVICE
            else ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "service"]
        )
        full_env = {
            **os.environ,
            "SENTIMENT_LOG_LEVEL": "warning",
            "SENTIMENT_HOST": "127.0.0.1",
            "SENTIMENT_PORT": str(self.port),
            **(env or {}),
        }
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, cwd=root, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.ready_s = self._wait_ready()

    def _uvicorn(self, target: str, factory: bool) -> list[str]:
        cmd = [
            "taskset",
            "-c",
            SERVER_CPU,
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        if factory:
            cmd.append("--factory")
        return cmd

    def _wait_ready(self, timeout: float = 60) -> float:
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url + "/ready", timeout=0.5).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        raise RuntimeError("server not ready")

    def peak_rss_mb(self) -> float:
        return status_mb("VmHWM", self.proc.pid)

    def rss_mb(self) -> float:
        return status_mb("VmRSS", self.proc.pid)

    def memory_mb(self) -> dict[str, float]:
        """Peak RSS, and the resident memory now split into anonymous and file-backed pages (the
        shared libraries' pages, which move with the machine's page cache)."""
        return {field: status_mb(field, self.proc.pid) for field in ("VmHWM", "RssAnon", "RssFile")}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.proc.stderr:
            self.proc.stderr.close()


def wrk(url: str, bodies: Path, connections: int, seconds: int, script: str = "wrk_bodies.lua") -> dict[str, Any]:
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / script),
        url,
    ]
    out = subprocess.run(
        cmd, env={**os.environ, "BODIES_FILE": str(bodies)}, capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors_total"] = sum(result["errors"].values())
    return result


def write_bodies(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    return path


def sst_test_sentences() -> list[str]:
    from model.data import default_data_dir, read_sst

    return [ex.text for ex in read_sst(default_data_dir(), "test")]


def zh_test_sentences() -> list[str]:
    from model.data import default_data_dir, read_chnsenticorp

    return [ex.text for ex in read_chnsenticorp(default_data_dir(), "test")]


def shipped_members() -> int:
    """How many members the shipped English checkpoint holds ("all members" in a benchmark)."""
    from model.checkpoint import load_checkpoint

    return len(load_checkpoint(EN_CHECKPOINT).members)


def typical_sentences(texts: list[str]) -> list[str]:
    """The typical sentences (15-25 words) that latency at one connection is measured on."""
    return [t for t in texts if 15 <= len(t.split()) <= 25]


def machine() -> dict[str, Any]:
    import fastapi
    import uvicorn

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "wrk": wrk_version.split("[")[0].strip() or "wrk",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
