"""Order statistics and NaN-aware reductions: median, nanmedian, quantile, nanquantile,
aminmax, nansum, nanmean."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim
from .arithmetic import div, logical_not
from .indexing import gather
from .reduction import amax, amin, sort, sum
from .shape import expand, movedim, reshape, squeeze, unsqueeze
from .unary import isnan

median_result = namedtuple("median", ["values", "indices"])
nanmedian_result = namedtuple("nanmedian", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class MedianAll(Function):
    """The lower median of all elements; ties share the gradient evenly, as in torch."""

    def forward(ctx, x, ignore_nan):
        flat = x.reshape(-1)
        nan = np.isnan(flat) if flat.dtype.kind == "f" else np.zeros(flat.shape, bool)
        if ignore_nan:
            flat = flat[~nan]
        if flat.size == 0 or (not ignore_nan and nan.any()):
            value = np.asarray(np.nan, dtype=x.dtype)
        else:
            k = (flat.size - 1) // 2
            value = np.asarray(np.partition(flat, k)[k])
        ctx.save_for_backward(x)
        ctx.value = value
        return value

    def backward(ctx, g):
        (x,) = ctx.saved
        mask = np.isnan(x) if np.isnan(ctx.value) else x == ctx.value
        return np.where(mask, g / max(int(mask.sum()), 1), 0).astype(g.dtype, copy=False)


class NanToZero(Function):
    """NaN -> 0 for nansum; backward multiplies by the mask, as torch (so an infinite gradient
    at a NaN gives NaN, where a select would give 0)."""

    def forward(ctx, x):
        ctx.keep = ~np.isnan(x)
        return np.where(ctx.keep, x, 0).astype(x.dtype, copy=False)

    def backward(ctx, g):
        return g * ctx.keep


def _median(input, dim, keepdim: bool, ignore_nan: bool, result):
    x = as_operand(input)
    if dim is None:
        return MedianAll.apply(x, ignore_nan)
    axis = norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return result(x.clone(), Tensor._make(np.zeros((), np.int64)))
    n = x.shape[axis]
    if n == 0:
        raise IndexError(f"{result.__name__}(): Expected reduction dim {axis} to have non-zero "
                         f"size.")
    a = x.data
    order = np.argsort(a, axis=axis, kind="stable")  # NaNs sort last, in their original order
    if a.dtype.kind == "f":
        nans = np.isnan(a).sum(axis=axis, keepdims=True)
        if ignore_nan:
            k = np.maximum((n - nans - 1) // 2, 0)  # all-NaN rows: the first NaN
        else:
            k = np.where(nans > 0, n - nans, (n - 1) // 2)  # any NaN: the first NaN
    else:
        k = np.full([1 if i == axis else s for i, s in enumerate(a.shape)], (n - 1) // 2)
    idx = np.take_along_axis(order, k, axis).astype(np.int64)
    values = gather(x, axis, Tensor._make(idx))
    if not keepdim:
        values, idx = squeeze(values, axis), np.squeeze(idx, axis)
    return result(values, Tensor._make(idx))


def median(input, dim: int | None = None, keepdim: bool = False):
    """The lower median (no averaging): of all elements (a 0-d tensor; NaN if any is NaN), or
    ``(values, indices)`` along ``dim``."""
    return _median(input, dim, keepdim, False, median_result)


def nanmedian(input, dim: int | None = None, keepdim: bool = False):
    """``median`` ignoring NaNs (NaN only where a row is all NaN)."""
    return _median(input, dim, keepdim, True, nanmedian_result)


def _quantile(input, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    x = as_operand(input)
    if x.dtype.kind != "f":
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if x.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if q.dtype != x.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        qa = q.data
        if np.any((qa < 0) | (qa > 1)):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
        qa = np.asarray(q, dtype=x.dtype)
    out_ndim = x.ndim
    if dim is None:
        xs, axis = reshape(x, -1), None
    else:
        axis = norm_dim(dim, x.ndim)
        xs = movedim(x, axis, -1) if x.ndim else reshape(x, 1)
    s = sort(xs, -1).values  # (*B, n), NaNs last
    n = s.shape[-1]
    nan = np.isnan(s.data)
    qb = qa.reshape(qa.shape + (1,) * (s.ndim - 1))  # (m?, *B-broadcast)
    if ignore_nan:
        valid = n - nan.sum(-1)
        ranks = qb * (valid - 1).astype(x.dtype)
        ranks = np.where(ranks < 0, n - 1, ranks)  # all-NaN rows pick a NaN
    else:
        ranks = np.where(nan.any(-1), n - 1, qb * (n - 1)).astype(x.dtype)  # NaN rows give NaN
    below, above = np.floor(ranks), np.ceil(ranks)
    if interpolation == "lower":
        above = below
    elif interpolation == "higher":
        below = above
    elif interpolation == "nearest":
        below = above = np.round(ranks)  # half to even, as torch.round
    full = ranks.shape + (n,)
    sb = expand(s, full) if s.shape != full else s

    def pick(r):
        return squeeze(gather(sb, -1, Tensor._make(r.astype(np.int64)[..., None])), -1)
    out = pick(below)
    if interpolation in ("linear", "midpoint"):
        w = np.full(ranks.shape, 0.5, x.dtype) if interpolation == "midpoint" else ranks - below
        out = out + Tensor._make(w.astype(x.dtype)) * (pick(above) - out)
    if keepdim:
        lead = qa.ndim
        if axis is None:
            out = reshape(out, out.shape[:lead] + (1,) * out_ndim)
        elif x.ndim:
            out = unsqueeze(out, lead + axis)
    return out


def quantile(input, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles along ``dim`` (all elements if None); a 1-D ``q`` adds a leading
    dim. NaN where a row holds NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """``quantile`` ignoring NaNs."""
    return _quantile(input, q, dim, keepdim, interpolation, True)


def aminmax(input, *, dim: int | None = None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (all elements if None); ties share the gradient."""
    x = as_operand(input)
    if dim is None and x.numel() == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if dim is not None and x.ndim and x.shape[norm_dim(dim, x.ndim)] == 0:
        raise IndexError(f"aminmax: Expected reduction dim {norm_dim(dim, x.ndim)} to have "
                         f"non-zero size.")
    d = () if dim is None else dim
    return aminmax_result(amin(x, d, keepdim), amax(x, d, keepdim))


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``sum`` treating NaN as zero (NaN positions get zero gradient)."""
    x = as_operand(input)
    if x.dtype.kind == "f":
        x = NanToZero.apply(x)
    return sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``mean`` over the non-NaN elements."""
    x = as_operand(input)
    if x.dtype.kind not in "fc":
        from .trig import _dtype_name
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_dtype_name(x.dtype)}")
    if dtype is not None:
        x = x.to(dtype)
    count = sum(logical_not(isnan(x)), dim, keepdim)
    return div(nansum(x, dim, keepdim), count)
