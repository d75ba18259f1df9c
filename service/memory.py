"""Process-wide memory setting for the service: large freed blocks go back to the OS.

glibc serves large allocations with mmap, but after such a block is freed it raises its threshold
(up to 32 MiB) so that later blocks of that size come from the heap, which it rarely gives back.
Loading a model makes large short-lived tensors (the randomly initialised net that checks the
state_dicts fit; blocks of widened embedding rows): without a fixed threshold they stayed resident
after loading. A fixed 1 MiB threshold keeps such blocks in mmap, while serving allocates little
above it, so throughput does not change. The resident and peak memory with and without this
setting (`python -m bench.memory`, ``--no-glibc-setting``) are in `docs/performance.md`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD_BYTES = 1 << 20


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc or the operator set
    MALLOC_MMAP_THRESHOLD_ (their choice wins)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
