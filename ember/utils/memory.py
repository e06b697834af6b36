"""Keep freed memory in the process, so large temporaries do not page-fault on every reuse.

glibc's malloc serves blocks above a threshold (128 KiB, rising to 32 MiB as such blocks are
freed) with fresh ``mmap`` regions and gives them back on ``free``; heap memory above the trim
threshold goes back to the OS too. A training step allocates and frees the same activation,
gradient and logits arrays every step, so each step pays the kernel to map and zero them again.
On this project's 2-core VMs that was ~20% of a GPT-2 124M step, for ember and for torch alike
(benchmarks/bench_train.py measures both settings). Raising both thresholds keeps the memory
for reuse, as the allocators tuned for training do (torch's CUDA caching allocator; jemalloc or
tcmalloc for CPU torch). The price: the process keeps its peak heap size until it exits.

Only glibc (Linux) is tuned; elsewhere this is a no-op. ``EMBER_KEEP_FREED_MEMORY=0`` turns it
off.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 1 << 30  # blocks up to 1 GiB come from (and return to) the heap
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (process-wide, once); True when in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("EMBER_KEEP_FREED_MEMORY", "1") == "0" \
            or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _LIMIT)) \
        and bool(mallopt(_M_TRIM_THRESHOLD, 2 * _LIMIT - 1))
    return _done
