"""Process-wide memory setting for the service: large freed blocks go back to the OS.

glibc serves large allocations with mmap, but after such a block is freed it raises its threshold
(up to 32 MiB) so that later blocks of that size come from the heap, which it rarely gives back.
Loading a model makes large short-lived tensors (the randomly initialised net that checks the
state_dicts fit; blocks of widened embedding rows): without a fixed threshold ~20 MB more stayed
resident after loading both models, 14 MB more at the peak with 1 English member (`python -m
bench.memory`, with and without ``--no-glibc-setting``). A fixed 1 MiB threshold keeps such
blocks in mmap. Serving allocates little above 1 MiB (per-step tensors of a 64-text batch are
~400 KB), and `make bench` showed no throughput change.
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
