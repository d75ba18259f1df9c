"""The processes behind ``make faults`` (`bench.faults`): supervised replicas, nginx, slow clients.

`Replica` is ``python -m service`` pinned to the server CPU (`bench.harness.Server`'s readiness and
memory helpers); `Supervised` starts it again whenever it exits, standing in for compose's
``restart: unless-stopped``; `nginx` runs Debian's nginx on the shipped ``deploy/nginx/nginx.conf``,
rendered by `nginx_conf` for loopback; `SlowClients` holds connections that send their headers a byte
a second. `heavy_load` follows the machine's protocol with the benchmark (/tmp/bench.running).
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.harness import LOAD_CPU, ROOT, SERVER_CPU, Server, free_port

NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
BENCH_LOCK, FAULTS_LOCK = Path("/tmp/bench.running"), Path("/tmp/faults.running")


class Replica(Server):
    """``python -m service`` on one port, pinned to the server CPU; ready when constructed."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        full = {**os.environ, **env, "SENTIMENT_HOST": "127.0.0.1", "SENTIMENT_PORT": str(port)}
        self.started = time.perf_counter()
        with log.open("a") as out:
            self.proc = subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "service"],
                cwd=ROOT,
                env=full,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            self.ready_s = self._wait_ready()
        except RuntimeError as exc:
            self.proc.kill()
            raise RuntimeError(f"{exc}; log: {log}") from None


class Supervised:
    """A replica that is started again whenever it exits: the restart policy's stand-in."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.env, self.log = port, env, log
        self.replica = Replica(port, env, log)
        self.events: list[tuple[float, str]] = []  # (time.perf_counter(), what)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self.replica.url

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            code = self.replica.proc.poll()
            if code is not None:
                self.events.append((time.perf_counter(), f"exited {code}"))
                self.replica = Replica(self.port, self.env, self.log)
                self.events.append((time.perf_counter(), "ready"))

    def ready_after(self, since: float) -> float | None:
        """When the replica was ready again after ``since``, if it was."""
        return next((t for t, what in self.events if what == "ready" and t > since), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.replica.stop()


def nginx_conf(upstreams: list[int], port: int, tmp: Path) -> str:
    """The shipped nginx.conf with loopback replicas, a loopback port and ``tmp`` for its files."""
    conf = NGINX_CONF.read_text()
    conf, n = re.subn(
        r"^( *)server sentiment-replica:8000 (.*);$",
        lambda m: "\n".join(f"{m[1]}server 127.0.0.1:{p} {m[2]};" for p in upstreams),
        conf,
        flags=re.M,
    )
    conf, m = re.subn(r"^( *)listen 8080;$", rf"\1listen 127.0.0.1:{port};", conf, flags=re.M)
    if n != 1 or m != 1:
        raise ValueError(f"{NGINX_CONF}: expected one 'server sentiment-replica:8000' and one 'listen 8080'")
    return conf.replace("/tmp/", f"{tmp}/")


@contextlib.contextmanager
def nginx(upstreams: list[int], tmp: Path) -> Iterator[str]:
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(upstreams, port, tmp))
    tmp.chmod(0o777)  # the workers run as nobody when the master is root
    with (tmp / "nginx.log").open("a") as log:
        proc = subprocess.Popen(
            ["taskset", "-c", LOAD_CPU, "nginx", "-p", str(tmp), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/nginx-health", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"nginx did not start: {(tmp / 'nginx.log').read_text()}")
        yield url
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(20)


@contextlib.contextmanager
def heavy_load() -> Iterator[None]:
    """Wait while the benchmark runs (/tmp/bench.running), and mark our own load (/tmp/faults.running)."""
    while BENCH_LOCK.exists():
        print("waiting: /tmp/bench.running exists", file=sys.stderr)
        time.sleep(30)
    FAULTS_LOCK.write_text(f"{os.getpid()}\n")
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` runs on SIGTERM
    try:
        yield
    finally:
        FAULTS_LOCK.unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def wrk_env(**values: str) -> Iterator[None]:
    """Variables for wrk_faults.lua (bench.harness.wrk passes the environment through)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def predictions_served(url: str) -> int:
    """The replica's own count of answered /predict requests (since it started)."""
    text = httpx.get(url + "/metrics", timeout=5).text
    pattern = r'^sentiment_http_requests_total\{[^}]*route="/predict"[^}]*\} ([0-9.e+]+)$'
    return int(sum(float(v) for v in re.findall(pattern, text, flags=re.M)))


class SlowClients:
    """``n`` connections that each send a request's headers one byte a second and never finish them.

    A connection the server closes is counted, with how long it lived, and opened again, so that
    ``n`` stay open for as long as the clients run.
    """

    REQUEST = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 4096

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.lifetimes: list[float] = []  # seconds each closed connection was open
        self.connect_errors = 0
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowClients:
        for _ in range(self.n):
            self._open()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    @property
    def open_now(self) -> int:
        return len(self._selector.get_map())

    def _open(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            self.connect_errors += 1
            return
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, [time.monotonic(), 0])  # opened, bytes sent

    def _closed(self, sock: socket.socket, opened: float) -> None:
        self.lifetimes.append(time.monotonic() - opened)
        self._selector.unregister(sock)
        sock.close()
        self._open()

    def _run(self) -> None:
        next_byte = time.monotonic()
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=max(0.0, next_byte - time.monotonic())):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:  # reset by the server
                    data = b""
                if not data:  # closed by the server (an answer is read, and its close comes next)
                    self._closed(sock, key.data[0])
            if time.monotonic() >= next_byte:
                next_byte += 1.0
                for key in list(self._selector.get_map().values()):
                    sock, state = key.fileobj, key.data  # type: ignore[assignment]
                    try:
                        sock.send(self.REQUEST[state[1] % len(self.REQUEST) : state[1] % len(self.REQUEST) + 1])
                        state[1] += 1
                    except OSError:
                        self._closed(sock, state[0])
