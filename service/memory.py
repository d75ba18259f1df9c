"""Process-wide memory settings for the service: glibc's mmap threshold, one for loading and one
for serving.

glibc serves large allocations with mmap, but after such a block is freed it raises its threshold
(up to 32 MiB) so that later blocks of that size come from the heap, which it rarely gives back.
Loading a model makes large short-lived tensors (the randomly initialised net that checks the
state_dicts fit; blocks of widened embedding rows): without a fixed threshold they stayed resident
after loading. So loading runs with a fixed 1 MiB threshold (`return_large_blocks`).

Serving is the opposite case: every forward pass allocates the same few blocks of one to a few MiB
(a batch's step inputs and states), and as fresh mappings each block costs its page faults again on
every batch (about 1,500 per batch of 16 Chinese reviews; 10-15% of the forward pass). Once the
models are loaded, `serve_from_heap` raises the threshold to 8 MiB, with the heap trimmed past
twice that, so that a batch's blocks are reused from the heap while a block of a very long input
still comes and goes as a mapping. The figures are in `docs/performance.md`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 1 << 20
SERVING_THRESHOLD_BYTES = 8 << 20


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 1 MiB (for loading); False where the C library is not glibc or
    the operator set MALLOC_MMAP_THRESHOLD_ (their choice wins)."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))


def serve_from_heap() -> bool:
    """Raise the threshold to 8 MiB and the heap's trim threshold to 16 MiB (for serving, after
    loading); False where the C library is not glibc or the operator set MALLOC_MMAP_THRESHOLD_."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, SERVING_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, 2 * SERVING_THRESHOLD_BYTES)
    )


def _mallopt() -> Callable[[int, int], int] | None:
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return None
    try:
        mallopt: Callable[[int, int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    return mallopt
