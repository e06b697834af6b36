"""Arranging tensors: broadcasting sets, grids, atleast_nd, column/depth stacking, products of
index sets, rot90, and sliding windows (``Tensor.unfold``). All but unfold compose primitives."""
from __future__ import annotations

import warnings

import numpy as np

from ..function import Function
from ..tensor import Size, Tensor
from ._util import as_operand, norm_dim
from .shape import cat, expand, flip, reshape, stack, transpose


def _tensor_list(tensors) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return [as_operand(t) for t in tensors]


def broadcast_shapes(*shapes) -> Size:
    """The shape that all ``shapes`` (tuples or ints) broadcast to."""
    result: list = []
    for i, s in enumerate(shapes):
        s = (int(s),) if isinstance(s, (int, np.integer)) else tuple(s)
        if any(d < 0 for d in s):
            raise ValueError("Attempting to broadcast a dimension with negative length!")
        result = [1] * (len(s) - len(result)) + result
        for k in range(1, len(s) + 1):
            d, r = s[-k], result[-k]
            if d == r or d == 1:
                continue
            if r != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {d} at {-k}! "
                                   f"Mismatching argument at index {i} had {s}; but expected "
                                   f"shape should be broadcastable to {result}")
            result[-k] = d
    return Size(result)


def broadcast_tensors(*tensors) -> tuple:
    """Expand every tensor to the common broadcast shape (views)."""
    ts = _tensor_list(tensors)
    shape: list = []
    for t in ts:
        s = list(t.shape)
        n = max(len(shape), len(s))
        shape, s = [1] * (n - len(shape)) + shape, [1] * (n - len(s)) + s
        for k in range(n):
            if s[k] != shape[k] and 1 not in (s[k], shape[k]):
                raise RuntimeError(f"The size of tensor a ({shape[k]}) must match the size of "
                                   f"tensor b ({s[k]}) at non-singleton dimension {k}")
            shape[k] = max(shape[k], s[k]) if 0 not in (s[k], shape[k]) else 0
    return tuple(expand(t, shape) for t in ts)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: ``indexing='ij'`` (matrix, the default) gives shape
    (n0, n1, ...); ``'xy'`` (Cartesian) swaps the first two dims."""
    ts = _tensor_list(tensors)
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f'{indexing}')
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a {t.ndim}D tensor")
        if t.dtype != ts[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    n = len(ts)
    grids = [expand(reshape(t, [1] * i + [-1] + [1] * (n - i - 1)), shape)
             for i, t in enumerate(ts)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _atleast(tensors, nd: int):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    out = []
    for t in _tensor_list(tensors):
        if t.ndim == 0 and nd > 0:
            t = reshape(t, (1,) * nd)
        elif t.ndim == 1 and nd > 1:
            t = reshape(t, (1, t.numel(), 1)[:nd])
        elif t.ndim == 2 and nd > 2:
            t = reshape(t, (*t.shape, 1))
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim (a tuple for several tensors or a list)."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """At least 2 dims: 0-d -> (1, 1), (n,) -> (1, n)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """At least 3 dims: 0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(tensors, 3)


def column_stack(tensors) -> Tensor:
    """Join along dim 1, treating 0-d and 1-D tensors as columns."""
    ts = [as_operand(t) for t in tensors]
    return cat([reshape(t, t.numel(), 1) if t.ndim <= 1 else t for t in ts], 1)


def dstack(tensors) -> Tensor:
    """Join along dim 2 (depth) after ``atleast_3d``."""
    return cat(list(atleast_3d(list(tensors))), 2)


def cartesian_prod(*tensors) -> Tensor:
    """All combinations of the elements of 1-D tensors, one per row (a single tensor is
    returned as is)."""
    ts = _tensor_list(tensors)
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    return stack([reshape(g, -1) for g in meshgrid(ts, indexing="ij")], 1)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane ``dims``, from the first dim toward the
    second."""
    x = as_operand(input)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.ndim}")
    d0, d1 = norm_dim(dims[0], x.ndim), norm_dim(dims[1], x.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return transpose(flip(x, d0), d0, d1)
    return x.clone()


class Unfold(Function):
    """Sliding windows as a strided view; backward scatter-adds the (overlapping) windows."""

    is_view = True

    def forward(ctx, x, axis, size, step):
        n = x.shape[axis]
        nwin = (n - size) // step + 1
        ctx.shape, ctx.args = x.shape, (axis, size, step, nwin)
        shape = x.shape[:axis] + (nwin,) + x.shape[axis + 1:] + (size,)
        st = x.strides
        strides = st[:axis] + (st[axis] * step,) + st[axis + 1:] + (st[axis],)
        return np.lib.stride_tricks.as_strided(x, shape, strides)

    def backward(ctx, g):
        axis, size, step, nwin = ctx.args
        out = np.zeros(ctx.shape, dtype=g.dtype)
        lead = (slice(None),) * axis
        if size <= nwin:  # loop over the window offsets: each adds one strided slice
            for j in range(size):
                out[lead + (slice(j, j + step * (nwin - 1) + 1, step),)] += g[..., j]
        else:  # few long windows: loop over the windows
            for w in range(nwin):
                gw = np.moveaxis(np.take(g, w, axis=axis), -1, axis)
                out[lead + (slice(w * step, w * step + size),)] += gw
        return out


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` elements along ``dimension``, ``step`` apart,
    as a new last dim (a view)."""
    x = as_operand(input)
    axis = norm_dim(dimension, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {axis} is {n} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if x.ndim == 0:
        return reshape(x, 1)[:size]
    return Unfold.apply(x, axis, size, step)
