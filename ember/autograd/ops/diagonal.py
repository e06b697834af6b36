"""Diagonals: diagonal (a view), diag, diag_embed, trace, fill_diagonal_, tril/triu_indices."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim
from .reduction import sum


def _diagonal_view(a: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    """A writable view of the ``offset`` diagonal of the (d1, d2) planes, as the last axis
    (np.diagonal's view is read-only, and torch's is writable)."""
    n1, n2 = a.shape[d1], a.shape[d2]
    s1, s2 = (0, offset) if offset >= 0 else (-offset, 0)
    length = max(0, min(n1 - s1, n2 - s2))
    idx = [slice(None)] * a.ndim
    idx[d1], idx[d2] = slice(min(s1, n1), None), slice(min(s2, n2), None)
    base = a[tuple(idx)]
    keep = [i for i in range(a.ndim) if i not in (d1, d2)]
    shape = [a.shape[i] for i in keep] + [length]
    strides = [base.strides[i] for i in keep] + [base.strides[d1] + base.strides[d2]]
    return np.lib.stride_tricks.as_strided(base, shape, strides)


class Diagonal(Function):
    is_view = True

    def forward(ctx, x, offset, d1, d2):
        ctx.shape, ctx.args = x.shape, (offset, d1, d2)
        return _diagonal_view(x, offset, d1, d2)

    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        _diagonal_view(out, *ctx.args)[...] = g
        return out


class DiagEmbed(Function):
    def forward(ctx, x, offset, d1, d2):
        n = x.shape[-1] + abs(offset)
        shape = list(x.shape[:-1])
        for d in sorted((d1, d2)):
            shape.insert(d, n)
        ctx.args = (offset, d1, d2)
        out = np.zeros(shape, dtype=x.dtype)
        _diagonal_view(out, offset, d1, d2)[...] = x
        return out

    def backward(ctx, g):
        return _diagonal_view(g, *ctx.args).copy()


class FillDiagonal(Function):
    """``x.fill_diagonal_(v)`` recorded out of place: the filled entries get no gradient."""

    def forward(ctx, x, value, wrap):
        ctx.wrap = wrap
        out = x.copy()
        np.fill_diagonal(out, value, wrap=wrap)
        return out

    def backward(ctx, g):
        g = g.copy()
        np.fill_diagonal(g, 0, wrap=ctx.wrap)
        return g


def _check_dims(d1: int, d2: int, ndim: int):
    a, b = norm_dim(d1, ndim), norm_dim(d2, ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {d1}, {d2}")
    return a, b


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset`` diagonal of each (dim1, dim2) plane, appended as the last dim (a view)."""
    x = as_operand(input)
    d1, d2 = _check_dims(dim1, dim2, x.ndim)
    return Diagonal.apply(x, offset, d1, d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2 of the output) whose ``offset`` diagonal is the last dim of
    ``input``; the inverse of ``diagonal``."""
    x = as_operand(input)
    d1, d2 = _check_dims(dim1, dim2, x.ndim + 1)
    if x.ndim == 0:
        norm_dim(-2, 1)  # torch's "Dimension out of range" for a 0-d input
    return DiagEmbed.apply(x, offset, d1, d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D -> a square matrix with ``input`` on its ``diagonal``; 2-D -> that diagonal (1-D)."""
    x = as_operand(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return Diagonal.apply(x, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix (integers sum as int64)."""
    x = as_operand(input)
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return sum(Diagonal.apply(x, 0, 0, 1))


def fill_diagonal(input: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Out-of-place ``fill_diagonal_`` (every dim equal unless 2-D; ``wrap`` restarts the
    diagonal of a tall matrix every N + 1 rows, as NumPy and torch)."""
    x = as_operand(input)
    if x.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    return FillDiagonal.apply(x, fill_value, wrap)


def _tri_indices(row: int, col: int, offset: int, dtype, upper: bool) -> Tensor:
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    mask = (np.triu if upper else np.tril)(np.ones((row, col), dtype=bool), offset)
    idx = np.stack(np.nonzero(mask)) if row and col else np.zeros((2, 0), np.int64)
    return Tensor._make(idx.astype(dtypes.as_dtype(dtype)))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=dtypes.int64, device=None,
                 layout=None) -> Tensor:
    """``(2, N)`` row and column indices of the lower triangle of a row x col matrix, in row-major
    order."""
    return _tri_indices(row, col, offset, dtype, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=dtypes.int64, device=None,
                 layout=None) -> Tensor:
    """``(2, N)`` row and column indices of the upper triangle (see ``tril_indices``)."""
    return _tri_indices(row, col, offset, dtype, True)
