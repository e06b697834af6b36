"""Scans along a dim: cumprod, cummax, cummin; and finite differences (diff)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim
from .arithmetic import logical_xor, sub
from .indexing import gather
from .shape import cat, narrow

cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


class Cumprod(Function):
    def forward(ctx, x, axis):
        out = np.cumprod(x, axis=axis)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        a = ctx.axis
        if x.size == 0:
            return np.zeros_like(x)
        if np.all(x != 0):  # the common case: sum_{k >= i} g_k out_k / x_i
            return np.flip(np.cumsum(np.flip(g * out, a), axis=a), a) / x
        # Exact with zeros (torch's rule). Let z be the first zero of a row: positions i < z use
        # the formula above restricted to k < z; position z gets
        # prod_{j<z} x_j * sum_{k>=z} g_k prod_{z<j<=k} x_j; positions after z get 0.
        xs, gs, outs = (np.moveaxis(t, a, -1) for t in (x, g, out))
        n = xs.shape[-1]
        pos = np.arange(n)
        zero = xs == 0
        z = np.where(zero.any(-1), zero.argmax(-1), n)[..., None]
        before = pos < z
        acc = np.flip(np.cumsum(np.flip(np.where(before, gs * outs, 0), -1), -1), -1)
        grad = np.where(before, acc / np.where(before, xs, 1), 0)
        after = np.cumprod(np.where(pos > z, xs, 1), axis=-1)  # prod_{z<j<=k} x_j for k >= z
        tail = np.sum(np.where(pos >= z, gs * after, 0), axis=-1, keepdims=True)
        head = np.take_along_axis(outs, np.maximum(z - 1, 0), -1)  # prod_{j<z} x_j
        head = np.where(z == 0, 1, head)
        grad = np.where(pos == z, head * tail, grad)
        return np.moveaxis(grad.astype(g.dtype, copy=False), -1, a)


def cumprod(input, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``; the gradient is exact where the input has zeros."""
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.data.dtype.kind in "biu":
        x = Tensor._make(x.data.astype(np.int64))
    if x.ndim == 0:
        norm_dim(dim, 0)
        return x.clone()
    return Cumprod.apply(x, norm_dim(dim, x.ndim))


def _cum_extreme(input, dim: int, is_max: bool):
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return x.clone(), Tensor._make(np.zeros((), np.int64))
    a = x.data
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    vals = (np.maximum if is_max else np.minimum).accumulate(a, axis=axis)
    # the index moves on ties (torch compares with >=) and stays on the latest NaN
    hit = (a == vals) | (np.isnan(a) & np.isnan(vals)) if a.dtype.kind == "f" else a == vals
    shape = [1] * a.ndim
    shape[axis] = a.shape[axis]
    pos = np.where(hit, np.arange(a.shape[axis]).reshape(shape), 0)
    idx = Tensor._make(np.maximum.accumulate(pos, axis=axis).astype(np.int64))
    return gather(x, axis, idx), idx  # gather's backward scatter-adds, torch's rule


def cummax(input, dim: int):
    """``(values, indices)`` of the running maximum along ``dim``."""
    return cummax_result(*_cum_extreme(input, dim, True))


def cummin(input, dim: int):
    """``(values, indices)`` of the running minimum along ``dim``."""
    return cummin_result(*_cum_extreme(input, dim, False))


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """``n``-th forward difference along ``dim``, after joining ``prepend``/``append``."""
    x = as_operand(input)
    if x.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    axis = norm_dim(dim, x.ndim)
    parts = [as_operand(p) for p in (prepend, x, append) if p is not None]
    if any(p.ndim != x.ndim for p in parts):
        raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if len(parts) > 1:
        x = cat(parts, axis)
    step = logical_xor if x.dtype == np.bool_ else sub
    for _ in range(n):
        m = x.shape[axis]
        if m == 0:
            break
        x = step(narrow(x, axis, 1, m - 1), narrow(x, axis, 0, m - 1))
    return x
