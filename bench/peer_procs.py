"""The processes behind ``make peers`` (`bench.peers`): a peer's server, pinned like `bench.harness.Server`,
in a process group of its own, and what it forked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.harness import ROOT, SERVER_CPU, Server, free_port


class PeerServer(Server):
    """Any server command, pinned to CPU 0 like `Server`, in a process group of its own: stopping it
    stops every process it forked (LitServe's and BentoML's workers), so none outlives its run."""

    def __init__(self, command: Callable[[int], list[str]], ready_path: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (the server's output, open while it runs; `stop` closes it)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *command(self.port)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.ready_s = self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> float:
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                self.log.seek(0)
                log = self.log.read()[-2000:]
                self.stop()
                raise RuntimeError(f"server exited ({self.proc.returncode}): {log}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=0.5).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout:.0f} s")

    def stop(self) -> None:
        processes = [self.proc.pid, *descendants(self.proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # A worker in a session of its own (BentoML's circus starts them so) is stopped by its parent;
        # any that is still there now is killed, by its id.
        deadline = time.perf_counter() + 10
        while (alive := [p for p in processes[1:] if Path(f"/proc/{p}").exists()]) and time.perf_counter() < deadline:
            time.sleep(0.1)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def pinning(server: Server) -> dict[str, Any]:
    """How many processes serve, and the CPUs they may run on (all of them: CPU 0 alone)."""
    pids = [server.proc.pid, *descendants(server.proc.pid)]
    cpus: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that has just exited
            cpus |= os.sched_getaffinity(pid)
    return {"processes": len(pids), "cpus": sorted(cpus)}
