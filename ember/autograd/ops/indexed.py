"""Updates and reads addressed by an index along a dim: index_add, index_fill, index_copy,
masked_scatter, take (out of place; ``Tensor.index_add_`` and friends write the result back)."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim, shape_str
from .indexing import getitem
from .shape import reshape
from .trig import _dtype_name


def _at(axis: int, index: np.ndarray) -> tuple:
    return (slice(None),) * axis + (index,)


class IndexAdd(Function):
    def forward(ctx, x, src, index, axis, alpha):
        ctx.index, ctx.axis, ctx.alpha = index, axis, alpha
        out = x.copy()
        src = src if alpha == 1 else src * alpha
        if np.unique(index).size == index.size:
            out[_at(axis, index)] += src
        else:
            np.add.at(out, _at(axis, index), src)  # repeated indices accumulate
        return out

    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            gs = np.take(g, ctx.index, axis=ctx.axis)
            gs = gs * ctx.alpha if ctx.alpha != 1 else gs
        return g, gs


class IndexCopy(Function):
    def forward(ctx, x, src, index, axis):
        ctx.index, ctx.axis = index, axis
        out = x.copy()
        out[_at(axis, index)] = src
        return out

    def backward(ctx, g):
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[_at(ctx.axis, ctx.index)] = 0
        if ctx.needs_input_grad[1]:
            gs = np.take(g, ctx.index, axis=ctx.axis)
        return gx, gs


class IndexFill(Function):
    def forward(ctx, x, value, index, axis):
        ctx.index, ctx.axis = index, axis
        out = x.copy()
        out[_at(axis, index)] = value
        return out

    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[_at(ctx.axis, ctx.index)] = 0
        if ctx.needs_input_grad[1]:  # a 0-d value tensor: each filled slot once
            gv = np.take(g, np.unique(ctx.index), axis=ctx.axis).sum().astype(g.dtype)
        return gx, gv


class MaskedScatter(Function):
    def forward(ctx, x, src, mask):
        k = int(mask.sum())
        ctx.mask, ctx.k, ctx.src_shape = mask, k, src.shape
        out = x.copy()
        out[mask] = src.reshape(-1)[:k]
        return out

    def backward(ctx, g):
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = np.where(ctx.mask, 0, g).astype(g.dtype, copy=False)
        if ctx.needs_input_grad[1]:
            gs = np.zeros(int(np.prod(ctx.src_shape)), dtype=g.dtype)
            gs[:ctx.k] = g[ctx.mask]
            gs = gs.reshape(ctx.src_shape)
        return gx, gs


def _index(index, name: str, what: str) -> np.ndarray:
    a = np.asarray(index.data if isinstance(index, Tensor) else index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, but got "
                           f"{_dtype_name(a.dtype)}")
    if a.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a {what}, but got dim: {a.ndim}")
    return a.reshape(-1).astype(np.int64, copy=False)


def _check_bounds(index: np.ndarray, n: int, axis: int, name: str, negative_ok: bool):
    lo = -n if negative_ok else 0
    bad = index[(index < lo) | (index >= n)]
    if bad.size:
        raise IndexError(f"{name}(): index {int(bad[0])} is out of bounds for dimension {axis} "
                         f"with size {n}")
    return np.where(index < 0, index + n, index)


def _check_source(x: Tensor, src: Tensor, index, axis: int, name: str) -> None:
    if src.dtype != x.dtype:
        raise RuntimeError(f"{name}(): self ({_dtype_name(x.dtype)}) and source "
                           f"({_dtype_name(src.dtype)}) must have the same scalar type")
    if src.ndim != x.ndim:
        raise IndexError(f"{name}(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({src.ndim}), "
                         f"destination dimensionality ({x.ndim})")
    if src.shape[axis] != index.size:
        raise RuntimeError(f"{name}(): Number of indices ({index.size}) should be equal to "
                           f"source.size(dim): ({src.shape[axis]}), for dim: {axis}")
    if any(a != b for i, (a, b) in enumerate(zip(x.shape, src.shape)) if i != axis):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {shape_str(x.shape)} "
                           f"source.shape = {shape_str(src.shape)}")


def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source`` added at ``index`` along ``dim`` (repeats accumulate)."""
    x, src = as_operand(input), as_operand(source)
    axis = norm_dim(dim, x.ndim)
    idx = _check_bounds(_index(index, "index_add_", "vector"), x.shape[axis], axis,
                        "index_add_", False)
    _check_source(x, src, idx, axis, "index_add_")
    return IndexAdd.apply(x, src, idx, axis, alpha)


def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """``input`` with the slices at ``index`` along ``dim`` replaced by ``source``'s."""
    x, src = as_operand(input), as_operand(source)
    axis = norm_dim(dim, x.ndim)
    idx = _check_bounds(_index(index, "index_copy_", "vector"), x.shape[axis], axis,
                        "index_copy_", False)
    _check_source(x, src, idx, axis, "index_copy_")
    return IndexCopy.apply(x, src, idx, axis)


def index_fill(input: Tensor, dim: int, index, value) -> Tensor:
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a scalar or a 0-d
    tensor, which then gets a gradient)."""
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    idx = _check_bounds(_index(index, "index_fill_", "vector/scalar"), x.shape[axis], axis,
                        "index_fill_", True)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        if value.dtype != x.dtype:
            value = value.to(x.dtype)
    return IndexFill.apply(x, as_operand(value), idx, axis)


def masked_scatter(input: Tensor, mask, source: Tensor) -> Tensor:
    """``input`` with the positions where ``mask`` is true filled, in row-major order, from the
    first elements of ``source``."""
    x, src = as_operand(input), as_operand(source)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {_dtype_name(m.dtype)}")
    if src.dtype != x.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {_dtype_name(x.dtype)} and {_dtype_name(src.dtype)}")
    try:
        m = np.broadcast_to(m, x.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: the mask of shape {shape_str(m.shape)} does not "
                           f"broadcast to the input's shape {shape_str(x.shape)}") from None
    if m.sum() > src.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return MaskedScatter.apply(x, src, m)


def take(input: Tensor, index) -> Tensor:
    """Elements of ``input`` seen as 1-D, at ``index`` (any shape; negatives count from the
    end); the gradient scatter-adds."""
    x = as_operand(input)
    a = np.asarray(index.data if isinstance(index, Tensor) else index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{_dtype_name(a.dtype)}")
    n = x.numel()
    bad = a[(a < -n) | (a >= n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {int(bad.flat[0])} on a tensor of "
                         f"{n} elements.")
    return getitem(reshape(x, -1), a.astype(np.int64, copy=False))
