"""Flat storage for one param group: parameters, gradients and per-parameter state live as views
into one contiguous buffer each, so an optimizer updates a whole group in a few in-place passes
over cache-sized chunks instead of a dozen temporaries per tensor.

The Parameter objects are kept (their ``.data`` is re-homed to a view), and the autograd engine
writes each fresh gradient straight into its slot through ``param._grad_buffer``. Anything that
moved out of the buffers since the last step (``p.data`` replaced, ``p.grad`` set by the user,
state loaded from a checkpoint) is copied back in by ``adopt`` before the update.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..autograd.chunked import chunked, set_num_threads
from ..autograd.tensor import Tensor

__all__ = ["FlatGroup", "set_num_threads"]

class FlatGroup:
    """Flat buffers for ``params`` (all of one floating dtype) and state ``keys``."""

    def __init__(self, params: list, keys: tuple[str, ...]):
        self.params = list(params)
        self.keys = keys
        self.dtype = params[0].data.dtype
        self.shapes = [p.data.shape for p in params]
        offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        self.offsets = offsets
        n = offsets[-1]
        self.param = np.empty(n, self.dtype)
        self.grad = np.zeros(n, self.dtype)
        self.bufs = {k: np.zeros(n, self.dtype) for k in keys}

        def views(buf):
            return [buf[a:b].reshape(s) for a, b, s in zip(offsets, offsets[1:], self.shapes)]

        self.pviews = views(self.param)
        self.gviews = views(self.grad)
        self.sviews = {k: views(b) for k, b in self.bufs.items()}
        for p, pv, gv in zip(self.params, self.pviews, self.gviews):
            np.copyto(pv, p.data)
            p.data = pv
            p._grad_buffer = gv

    @staticmethod
    def eligible(params: list) -> bool:
        if not params:
            return False
        dt = params[0].data.dtype
        return (dt.kind == "f" and all(p.data.dtype == dt for p in params)
                and len({id(p) for p in params}) == len(params))  # duplicates: torch's way

    def matches(self, params: list, keys: tuple[str, ...]) -> bool:
        """Same parameters, shapes, dtype and state keys as when built."""
        if keys != self.keys or len(params) != len(self.params):
            return False
        dt = self.dtype
        for p, q, s in zip(params, self.params, self.shapes):
            if p is not q or p.data.dtype != dt or p.data.shape != s:
                return False
        return True

    def adopt(self, i: int, p: Tensor, st: dict) -> None:
        """Bring parameter ``i``'s data, gradient and state into the flat buffers."""
        pv = self.pviews[i]
        if p.data is not pv:  # replaced (load_state_dict(assign=True), p.data = ...)
            np.copyto(pv, p.data)
            p.data = pv
        gv = self.gviews[i]
        p._grad_buffer = gv
        if p.grad.data is not gv:  # set by the user, or accumulated before the layout existed
            np.copyto(gv, p.grad.data, casting="unsafe")
        for k in self.keys:
            sv = self.sviews[k][i]
            t = st.get(k)
            if t is None:
                sv.fill(0)
                st[k] = Tensor._make(sv)
            elif t.data is not sv:  # loaded from a state dict, or left in an older layout
                np.copyto(sv, t.data, casting="unsafe")
                st[k] = Tensor._make(sv)

    def runs(self, items: Iterable[tuple[int, float]]):
        """Merge ``(index, step)`` pairs (ascending index) into ``(lo, hi, step)`` element ranges
        of consecutive parameters that share a step count."""
        off = self.offsets
        start = prev = step0 = None
        for i, step in items:
            if start is not None and i == prev + 1 and step == step0:
                prev = i
                continue
            if start is not None:
                yield off[start], off[prev + 1], step0
            start = prev = i
            step0 = step
        if start is not None:
            yield off[start], off[prev + 1], step0

    def apply(self, lo: int, hi: int, kernel: Callable, arrays: list[np.ndarray]) -> None:
        """``kernel(*chunks, t1, t2)`` over ``arrays[lo:hi]`` in cache-sized pieces with two
        scratch arrays, split over threads when the range is large (``autograd.chunked``)."""
        chunked(kernel, [a[lo:hi] for a in arrays], n_scratch=2)
