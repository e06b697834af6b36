"""Elementwise kernels over cache-sized blocks, split over threads for large arrays.

A fused op written as a chain of in-place NumPy passes (``np.multiply(a, b, out=t)``, ...) is
fast only when its operands stay in cache between passes: run on whole (8, 128, 3072) arrays,
every pass streams 12 MB through memory. ``chunked`` hands the kernel blocks of ~``CHUNK``
elements instead (whole rows of the leading axis) plus scratch blocks of the same shape, and for
large arrays runs disjoint row ranges on a small thread pool (NumPy releases the GIL inside each
pass). Elementwise kernels give the same result however the work is cut.

Used by the fused activations (GELU) and by the optimizers' flat-buffer updates.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["CHUNK", "chunked", "get_num_threads", "set_num_threads"]

CHUNK = 1 << 16  # elements per block: a few float32 blocks (256 KiB each) stay in L2
MIN_SPLIT = 1 << 20  # ranges below this many elements per thread run on the calling thread
_threads = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))
_pool: ThreadPoolExecutor | None = None


def set_num_threads(n: int) -> None:
    """Threads used for large blocked updates (default: the usable cores, at most 4)."""
    global _threads, _pool
    if _pool is not None:
        _pool.shutdown()
        _pool = None
    _threads = max(1, int(n))


def get_num_threads() -> int:
    return _threads


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="ember-chunked")
    return _pool


def _run(kernel: Callable, arrays: Sequence[np.ndarray], n_scratch: int, lo: int, hi: int,
         rows: int) -> None:
    shape = (min(rows, hi - lo),) + arrays[0].shape[1:]
    scratch = [np.empty(shape, arrays[0].dtype) for _ in range(n_scratch)]
    with np.errstate(all="ignore"):  # as inside Function.apply (errstate is per thread)
        for s in range(lo, hi, rows):
            e = min(s + rows, hi)
            kernel(*[a[s:e] for a in arrays], *(t[:e - s] for t in scratch))


def chunked(kernel: Callable, arrays: Sequence[np.ndarray], n_scratch: int = 0) -> None:
    """Call ``kernel(*blocks, *scratch)`` for consecutive row blocks of ``arrays`` (equal
    shapes; C-contiguous rows, e.g. 1-D views into a flat buffer) and ``n_scratch`` scratch
    blocks of the first array's dtype. The kernel works in place on its blocks."""
    n = arrays[0].shape[0] if arrays[0].ndim else 1
    if not arrays[0].ndim:
        arrays = [a.reshape(1) for a in arrays]
    row = max(1, arrays[0].size // max(n, 1))
    rows = max(1, CHUNK // row)
    nt = min(_threads, arrays[0].size // MIN_SPLIT, n)
    if nt <= 1:
        _run(kernel, arrays, n_scratch, 0, n, rows)
        return
    per = -(-n // nt)
    per = -(-per // rows) * rows  # whole blocks per thread
    bounds = [(i * per, min((i + 1) * per, n)) for i in range(nt)]
    pool = _get_pool()
    futures = [pool.submit(_run, kernel, arrays, n_scratch, a, b, rows)
               for a, b in bounds[1:] if a < b]
    _run(kernel, arrays, n_scratch, *bounds[0], rows)
    for f in futures:
        f.result()
