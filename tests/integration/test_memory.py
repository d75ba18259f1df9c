"""The service's glibc setting: a large block freed after loading goes back to the OS."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from service import memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")

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


def kept_mb(mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout)


def test_fixed_threshold_returns_freed_blocks() -> None:
    assert kept_mb("default") > 12  # the problem the setting exists for
    assert kept_mb("fixed") < 2


def test_operator_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert memory.return_large_blocks() is False
