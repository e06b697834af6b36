"""Indexing: ``x[...]``, index_put (``x[...] = v``), gather/scatter, index_select."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim, shape_str, unbroadcast


def normalize_index(index):
    """Turn a torch-style index into a NumPy one: tensors become arrays, lists of ints become
    integer arrays (torch treats ``x[[0, 2]]`` as advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_norm_one(i) for i in index)
    return _norm_one(index)


def _norm_one(i):
    if isinstance(i, Tensor):
        a = i.data
        return a if a.ndim else (a.item() if a.dtype.kind != "b" else a)
    if isinstance(i, list):
        a = np.asarray(i)
        if a.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return a
    return i


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    is_view = True

    def forward(ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        ctx.basic = _is_basic(index)
        return x[index]

    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        if ctx.basic:
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)  # repeated indices accumulate
        return out


class IndexPut(Function):
    def forward(ctx, x, value, index):
        ctx.index, ctx.vshape = index, np.shape(value)
        out = x.copy()
        out[index] = value
        return out

    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(np.asarray(g[ctx.index]), ctx.vshape)
        return gx, gv


def _full_index(index: np.ndarray, axis: int) -> tuple:
    """The open-grid index that addresses ``x[i0, ..., index[i], ...]`` for take_along_axis."""
    grids = list(np.ogrid[tuple(slice(s) for s in index.shape)])
    grids[axis] = index
    return tuple(grids)


class Gather(Function):
    def forward(ctx, x, index, axis):
        ctx.shape, ctx.axis, ctx.index = x.shape, axis, index
        return x[_full_index(index, axis)]

    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, _full_index(ctx.index, ctx.axis), g)
        return out


class ScatterAdd(Function):
    def forward(ctx, x, src, index, axis):
        ctx.axis, ctx.index = axis, index
        ctx.src_shape = src.shape
        out = x.copy()
        np.add.at(out, _full_index(index, axis), src[tuple(slice(s) for s in index.shape)])
        return out

    def backward(ctx, g):
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(s) for s in ctx.index.shape)] = g[_full_index(ctx.index, ctx.axis)]
        return g, gsrc


class Scatter(Function):
    def forward(ctx, x, src, index, axis):
        ctx.axis, ctx.index = axis, index
        ctx.src_shape = np.shape(src)
        out = x.copy()
        idx = _full_index(index, axis)
        out[idx] = src[tuple(slice(s) for s in index.shape)] if np.ndim(src) else src
        return out

    def backward(ctx, g):
        idx = _full_index(ctx.index, ctx.axis)
        gx = gsrc = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[idx] = 0
        if ctx.needs_input_grad[1]:
            gsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(s) for s in ctx.index.shape)] = g[idx]
        return gx, gsrc


class IndexSelect(Function):
    def forward(ctx, x, index, axis):
        ctx.shape, ctx.axis, ctx.index = x.shape, axis, index
        return np.take(x, index, axis=axis)

    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, (slice(None),) * ctx.axis + (ctx.index,), g)
        return out


def _check_index_bounds(index, shape) -> None:
    items = index if isinstance(index, tuple) else (index,)
    # NumPy raises IndexError already; re-word the common case with both shapes
    dim = 0
    for i in items:
        if i is None:
            continue
        if i is Ellipsis:
            dim = len(shape) - sum(1 for j in items if j is not None and j is not Ellipsis) + dim
            continue
        if isinstance(i, (int, np.integer)) and dim < len(shape):
            if not -shape[dim] <= i < shape[dim]:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{shape[dim]}")
        dim += np.ndim(i) if isinstance(i, np.ndarray) and i.dtype == bool else 1


def getitem(input: Tensor, index) -> Tensor:
    x = as_operand(input)
    index = normalize_index(index)
    _check_index_bounds(index, x.data.shape)
    return GetItem.apply(x, index=index)


def index_put(input: Tensor, index, value) -> Tensor:
    """``x`` with ``x[index] = value`` applied, out of place (what ``x[index] = v`` records)."""
    v = as_operand(value)
    if not isinstance(v, Tensor):
        v = Tensor._make(np.asarray(v, dtype=input.dtype))
    elif v.data.dtype != input.data.dtype:
        v = v.to(input.dtype)
    return IndexPut.apply(input, v, index=normalize_index(index))


def _index_array(index, name: str) -> np.ndarray:
    a = np.asarray(index.data if isinstance(index, Tensor) else index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_gather_shapes(x_shape, idx_shape, axis, name, src_shape=None) -> None:
    if len(idx_shape) != len(x_shape) and not (len(x_shape) == 0 and len(idx_shape) <= 1):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as "
                           f"input tensor ({shape_str(idx_shape)} vs {shape_str(x_shape)})")
    for d, (i, s) in enumerate(zip(idx_shape, x_shape)):
        if d != axis and i > s:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{shape_str(idx_shape)} to be no larger than self "
                               f"{shape_str(x_shape)} apart from dimension {axis}")
        if src_shape is not None and i > src_shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{shape_str(idx_shape)} to be no larger than src "
                               f"{shape_str(src_shape)}")


def gather(input: Tensor, dim: int, index) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim=1 (index may be smaller than input
    in the other dims)."""
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    idx = _index_array(index, "gather")
    _check_gather_shapes(x.data.shape, idx.shape, axis, "gather")
    if idx.size and (idx.min() < -x.data.shape[axis] or idx.max() >= x.data.shape[axis]):
        raise RuntimeError(f"gather(): index {int(idx.max())} is out of bounds for dimension "
                           f"{axis} with size {x.data.shape[axis]}")
    return Gather.apply(x, idx, axis)


def take_along_dim(input: Tensor, indices, dim: int) -> Tensor:
    return gather(input, dim, indices)


def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """``out = input.clone(); out[i][index[i][j]] += src[i][j]`` along ``dim`` (duplicates add)."""
    x, s = as_operand(input), as_operand(src)
    axis = norm_dim(dim, x.ndim)
    idx = _index_array(index, "scatter_add")
    _check_gather_shapes(x.data.shape, idx.shape, axis, "scatter_add", s.data.shape)
    if s.data.dtype != x.data.dtype:
        s = s.to(x.dtype)
    return ScatterAdd.apply(x, s, idx, axis)


def scatter(input: Tensor, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``out[i][index[i][j]] = src[i][j]`` along ``dim`` (src may be a scalar ``value``)."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported; use scatter_add")
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    idx = _index_array(index, "scatter")
    s = as_operand(value if src is None else src)
    if isinstance(s, Tensor):
        _check_gather_shapes(x.data.shape, idx.shape, axis, "scatter", s.data.shape)
        if s.data.dtype != x.data.dtype:
            s = s.to(x.dtype)
    else:
        s = np.asarray(s, dtype=x.data.dtype)
    return Scatter.apply(x, s, idx, axis)


def index_select(input: Tensor, dim: int, index) -> Tensor:
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.size and (idx.min() < 0 or idx.max() >= x.data.shape[axis]):
        raise IndexError(f"index_select(): index out of range in self (dimension {axis} has size "
                         f"{x.data.shape[axis]})")
    return IndexSelect.apply(x, idx.reshape(-1), axis)


def masked_select(input: Tensor, mask) -> Tensor:
    x = as_operand(input)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
    shape = np.broadcast_shapes(x.data.shape, m.shape)
    from .shape import expand
    xb = expand(x, shape)
    return getitem(xb, np.broadcast_to(m, shape))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    a = as_operand(input).data
    nz = np.nonzero(a)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in nz)
    return Tensor._make(np.stack(nz, axis=1).astype(np.int64) if nz else
                        np.zeros((0, a.ndim), np.int64))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)
