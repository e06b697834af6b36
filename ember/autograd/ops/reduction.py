"""Reductions over dims (``dim``/``keepdim`` as in torch), scans, sorting."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, expand_reduced, norm_dim, norm_dims

values_indices = namedtuple("values_indices", ["values", "indices"])


def _axes(dim, x):
    return norm_dims(dim, x.ndim)


class Sum(Function):
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.asarray(np.sum(x, axis=axes, keepdims=keepdim))

    def backward(ctx, g):
        g = expand_reduced(g, ctx.axes, ctx.keepdim, len(ctx.shape))
        return np.broadcast_to(g, ctx.shape)


class Mean(Function):
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
        ctx.n = n
        return np.asarray(np.mean(x, axis=axes, keepdims=keepdim))

    def backward(ctx, g):
        g = expand_reduced(g, ctx.axes, ctx.keepdim, len(ctx.shape))
        return np.broadcast_to(g / ctx.n if ctx.n else g, ctx.shape)


class Var(Function):
    def forward(ctx, x, axes, correction, keepdim):
        mean = np.mean(x, axis=axes, keepdims=True)
        diff = x - mean
        n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
        ctx.axes, ctx.keepdim, ctx.ndim = axes, keepdim, x.ndim
        ctx.save_for_backward(diff)
        ctx.denom = n - correction if n > correction else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.sum(diff * diff, axis=axes, keepdims=keepdim) / ctx.denom)

    def backward(ctx, g):
        (diff,) = ctx.saved
        g = expand_reduced(g, ctx.axes, ctx.keepdim, ctx.ndim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * diff * (2.0 / ctx.denom if ctx.denom else np.inf)


class LogSumExp(Function):
    def forward(ctx, x, axes, keepdim):
        m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        s = np.sum(np.exp(x - m), axis=axes, keepdims=True)
        lse = np.log(s) + m
        ctx.save_for_backward(x)
        ctx.lse, ctx.axes, ctx.keepdim = lse, axes, keepdim
        if keepdim:
            return lse
        return lse.reshape(()) if axes is None else np.squeeze(lse, axis=axes)

    def backward(ctx, g):
        (x,) = ctx.saved
        g = expand_reduced(g, ctx.axes, ctx.keepdim, x.ndim)
        return g * np.exp(x - ctx.lse)


class AmaxAmin(Function):
    """amax/amin (and full max/min): ties share the gradient evenly, as in torch."""

    def forward(ctx, x, axes, keepdim, is_max):
        fn = np.max if is_max else np.min
        out = np.asarray(fn(x, axis=axes, keepdims=True))
        ctx.mask = x == out
        ctx.axes, ctx.keepdim, ctx.ndim = axes, keepdim, x.ndim
        if keepdim:
            return out
        return out.reshape(()) if axes is None else np.squeeze(out, axis=axes)

    def backward(ctx, g):
        g = expand_reduced(g, ctx.axes, ctx.keepdim, ctx.ndim)
        mask = ctx.mask
        count = np.sum(mask, axis=ctx.axes, keepdims=True)
        return np.where(mask, g / count, 0).astype(g.dtype, copy=False)


class Cumsum(Function):
    def forward(ctx, x, axis):
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    def backward(ctx, g):
        a = ctx.axis
        return np.flip(np.cumsum(np.flip(g, a), axis=a), a)


class Prod(Function):
    def forward(ctx, x, axis, keepdim):
        out = np.prod(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdim = axis, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)

    def backward(ctx, g):
        (x,) = ctx.saved
        a = ctx.axis
        flat = x.reshape(-1) if a is None else x
        ax = 0 if a is None else a
        # product of all the others, exact with zeros: exclusive cumprods from both sides
        ones = np.ones_like(np.take(flat, [0], axis=ax))
        left = np.cumprod(np.concatenate([ones, flat], axis=ax), axis=ax)
        left = np.take(left, range(flat.shape[ax]), axis=ax)
        rev = np.flip(flat, ax)
        right = np.cumprod(np.concatenate([ones, rev], axis=ax), axis=ax)
        right = np.flip(np.take(right, range(flat.shape[ax]), axis=ax), ax)
        others = (left * right).reshape(x.shape)
        g = expand_reduced(g, None if a is None else (a,), ctx.keepdim, x.ndim)
        return g * others


class Norm2(Function):
    def forward(ctx, x, axes, keepdim):
        out = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        ctx.save_for_backward(x)
        ctx.out, ctx.axes, ctx.keepdim = out, axes, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axes is None else np.squeeze(out, axis=axes)

    def backward(ctx, g):
        (x,) = ctx.saved
        g = expand_reduced(g, ctx.axes, ctx.keepdim, x.ndim)
        out = ctx.out
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(out == 0, 0, g * x / out).astype(x.dtype, copy=False)


def _check_float(x: Tensor, name: str) -> Tensor:
    if x.data.dtype.kind not in "fc":
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {x.data.dtype}")
    return x


def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.data.dtype.kind in "bi" or x.data.dtype.kind == "u":
        x = Tensor._make(x.data.astype(np.int64))  # torch sums ints and bools as int64
    return Sum.apply(x, _axes(dim, x.data), keepdim)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "mean")
    return Mean.apply(x, _axes(dim, x.data), keepdim)


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``), as torch."""
    if isinstance(dim, bool):  # the old var(x, unbiased) signature
        dim, unbiased = None, dim
    x = _check_float(as_operand(input), "var")
    return Var.apply(x, _axes(dim, x.data), _correction(unbiased, correction), keepdim)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    from .unary import sqrt
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    x = _check_float(as_operand(input), "logsumexp")
    return LogSumExp.apply(x, _axes(dim, x.data), keepdim)


def _check_nonempty(x: Tensor, dim, name: str) -> None:
    if x.data.size == 0 and (dim is None or x.data.shape[norm_dim(dim, x.ndim)] == 0):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0"
                         if dim is None else f"{name}(): cannot reduce over a zero-size dimension")


def amax(input, dim=(), keepdim: bool = False) -> Tensor:
    x = as_operand(input)
    return AmaxAmin.apply(x, _axes(None if dim == () else dim, x.data), keepdim, True)


def amin(input, dim=(), keepdim: bool = False) -> Tensor:
    x = as_operand(input)
    return AmaxAmin.apply(x, _axes(None if dim == () else dim, x.data), keepdim, False)


def _extreme(input, dim, keepdim, is_max: bool, other=None):
    x = as_operand(input)
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        from .arithmetic import maximum, minimum
        return (maximum if is_max else minimum)(x, dim)
    name = "max" if is_max else "min"
    _check_nonempty(x, dim, name)
    if dim is None:
        return AmaxAmin.apply(x, None, False, is_max)
    axis = norm_dim(dim, x.ndim)
    arg = (np.argmax if is_max else np.argmin)(x.data, axis=axis, keepdims=True) if x.ndim else \
        np.zeros((), dtype=np.int64)
    from .indexing import gather
    if x.ndim == 0:
        return values_indices(x.clone(), Tensor._make(np.zeros((), np.int64)))
    vals = gather(x, axis, Tensor._make(arg))
    idx = arg.astype(np.int64)
    if not keepdim:
        vals = vals.squeeze(axis)
        idx = np.squeeze(idx, axis)
    return values_indices(vals, Tensor._make(idx))


def max(input, dim=None, keepdim: bool = False):
    """Full max (a 0-d tensor), ``(values, indices)`` along ``dim``, or elementwise with a
    tensor."""
    return _extreme(input, dim, keepdim, True)


def min(input, dim=None, keepdim: bool = False):
    return _extreme(input, dim, keepdim, False)


def _arg(fn, input, dim, keepdim) -> Tensor:
    x = as_operand(input)
    if dim is None:
        out = np.asarray(fn(x.data.reshape(-1)))
        return Tensor._make(out.reshape((1,) * x.ndim if keepdim else ()).astype(np.int64))
    return Tensor._make(fn(x.data, axis=norm_dim(dim, x.ndim), keepdims=keepdim).astype(np.int64))


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(np.argmax, input, dim, keepdim)


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(np.argmin, input, dim, keepdim)


def cumsum(input, dim: int, *, dtype=None) -> Tensor:
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.data.dtype.kind in "biu":
        x = Tensor._make(x.data.astype(np.int64))
    if x.ndim == 0:
        return x.clone()
    return Cumsum.apply(x, norm_dim(dim, x.ndim))


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    axis = None if dim is None or x.ndim == 0 else norm_dim(dim, x.ndim)
    return Prod.apply(x, axis, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """Vector p-norm (2 by default, also 1, inf, any p > 0) over ``dim`` (all dims if None)."""
    x = _check_float(as_operand(input), "norm")
    axes = _axes(dim, x.data)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, axes, keepdim)
    from .unary import abs as _abs
    a = _abs(x)
    if p in (float("inf"), "inf"):
        return AmaxAmin.apply(a, axes, keepdim, True)
    if p in (-float("inf"), "-inf"):
        return AmaxAmin.apply(a, axes, keepdim, False)
    if p == 1:
        return Sum.apply(a, axes, keepdim)
    return Sum.apply(a ** p, axes, keepdim) ** (1.0 / p)


def all(input, dim=None, keepdim: bool = False) -> Tensor:
    x = as_operand(input)
    return Tensor._make(np.all(x.data, axis=None if dim is None else norm_dim(dim, x.ndim),
                               keepdims=keepdim))


def any(input, dim=None, keepdim: bool = False) -> Tensor:
    x = as_operand(input)
    return Tensor._make(np.any(x.data, axis=None if dim is None else norm_dim(dim, x.ndim),
                               keepdims=keepdim))


def count_nonzero(input, dim=None) -> Tensor:
    x = as_operand(input)
    return Tensor._make(np.asarray(np.count_nonzero(x.data, axis=dim), dtype=np.int64))


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim``; values carry gradient."""
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return values_indices(x.clone(), Tensor._make(np.zeros((), np.int64)))
    key = -x.data if descending and x.data.dtype.kind in "fi" else x.data
    idx = np.argsort(key, axis=axis, kind="stable")
    if descending and x.data.dtype.kind not in "fi":
        idx = np.flip(np.argsort(x.data, axis=axis, kind="stable"), axis)
    from .indexing import gather
    idx_t = Tensor._make(idx.astype(np.int64))
    return values_indices(gather(x, axis, idx_t), idx_t)


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The k largest (or smallest) entries along ``dim`` as ``(values, indices)``."""
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    n = x.data.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k={k} out of range for dimension of size {n}")
    key = -x.data if largest else x.data
    if k < n:
        part = np.argpartition(key, k - 1, axis=axis) if k else np.zeros_like(key, np.int64)
        part = np.take(part, range(k), axis=axis)
        order = np.argsort(np.take_along_axis(key, part, axis), axis=axis, kind="stable")
        idx = np.take_along_axis(part, order, axis)
    else:
        idx = np.argsort(key, axis=axis, kind="stable")
    from .indexing import gather
    idx_t = Tensor._make(idx.astype(np.int64))
    return values_indices(gather(x, axis, idx_t), idx_t)
