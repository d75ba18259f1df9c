"""The service's memory settings: a large block freed after loading goes back to the OS (glibc), and
the garbage collector is off while the service starts and on, past what was loaded, once it is ready."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from service import memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")

# A 24 MiB block freed raises glibc's default mmap threshold, so the next 16 MiB block comes
# from the heap and is kept after it is freed: the pattern of loading a model.
SCRIPT = """
import sys, torch
from service import memory
if sys.argv[1] == "fixed":
    assert memory.return_large_blocks()
def rss_mb():
    line = next(x for x in open("/proc/self/status") if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
first = torch.ones(24 << 18)
del first
before = rss_mb()
second = torch.ones(16 << 18)
del second
print(rss_mb() - before)
"""


def run_script(script: str, mode: str) -> float:
    """What ``script`` prints, run in a fresh interpreter with glibc's own defaults."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout)


def kept_mb(mode: str) -> float:
    return run_script(SCRIPT, mode)


@glibc_only
def test_fixed_threshold_returns_freed_blocks() -> None:
    assert kept_mb("default") > 12  # the problem the setting exists for
    assert kept_mb("fixed") < 2


@glibc_only
def test_operator_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert memory.return_large_blocks() is False


# A forward pass allocates blocks of one to a few MiB and frees them, batch after batch: as
# mappings each costs its page faults again; from the heap, only the first time. The shipped
# Chinese model on a batch of 16 reviews of 120 characters.
REUSE_SCRIPT = """
import random, resource, sys, torch
from service import memory
from service.predictor import Predictor
from model.languages import language
torch.set_num_threads(1)
assert memory.return_large_blocks()
predictor = Predictor.load(language("zh").checkpoint_path)
predictor.warm_up()
if sys.argv[1] == "serving":
    assert memory.serve_from_heap()
characters = [c for c in predictor.ckpt.vocab.itos[2:3000] if len(c) == 1]
rng = random.Random(0)  # reviews of known characters in random order: many distinct bigrams
batch = [predictor.item("".join(rng.choices(characters, k=120))) for _ in range(16)]
with torch.inference_mode():
    predictor.predict(batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        predictor.predict(batch)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_batch(mode: str) -> float:
    return run_script(REUSE_SCRIPT, mode)


@glibc_only
def test_serving_threshold_reuses_a_batch_s_blocks() -> None:
    loading, serving = faults_per_batch("loading"), faults_per_batch("serving")
    assert loading > 500, loading  # every batch maps its blocks afresh
    assert serving < loading / 5, (loading, serving)


@glibc_only
def test_operator_choice_wins_when_serving_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert memory.serve_from_heap() is False


# What `python -m service` does before uvicorn runs the app: import its entry module, then start the
# app's lifespan (here through a TestClient on the tiny checkpoint).
START = """
import gc, sys
import service.__main__
from fastapi.testclient import TestClient
from service.app import create_app
from service.config import Settings
print(gc.isenabled())
with TestClient(create_app(Settings(checkpoint=sys.argv[1], checkpoint_zh=None))) as client:
    assert client.get("/ready").status_code == 200
    print(gc.isenabled(), gc.get_freeze_count() > 0)
print(gc.isenabled(), gc.get_freeze_count())
"""


def test_collector_off_while_starting_and_on_once_ready(tiny_checkpoint: Path) -> None:
    argv = [sys.executable, "-c", START, str(tiny_checkpoint)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["False", "True True", "True 0"]  # shut down: collectable again
