"""Helpers shared by the ops: broadcasting gradients, dims, operand conversion."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` back to ``shape`` (the inverse of NumPy broadcasting).

    Example: a (3, 1) input broadcast to (2, 3, 4) gets ``grad.sum((0, 2))`` reshaped to (3, 1).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def norm_dim(dim: int, ndim: int) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis; 0-d tensors accept 0 and -1."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def norm_dims(dim, ndim: int) -> tuple | None:
    """``dim`` (None, int, or a sequence) as a sorted tuple of axes, or None for all."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    elif len(dim) == 0:
        return None  # torch: an empty dim list reduces over everything
    axes = tuple(sorted({norm_dim(d, ndim) for d in dim}))
    if ndim == 0:
        return ()
    return axes


def as_operand(x):
    """Convert a user operand: Tensors pass, NumPy scalars become Python scalars, arrays and
    lists become Tensors."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):  # before the float check: np.float64 subclasses float
        return x.item()
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        arr = arr.astype(dtypes.get_default_dtype())
    return Tensor._make(arr)


def promote(*operands):
    """Convert operands and cast Tensors to their torch result type (differentiably)."""
    ops = [as_operand(x) for x in operands]
    dt = dtypes.result_type(*[o.data if isinstance(o, Tensor) else o for o in ops])
    from .convert import cast
    return [cast(o, dt) if isinstance(o, Tensor) and o.data.dtype != dt else o for o in ops], dt


def shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_broadcast(a, b, what: str = "") -> None:
    """Raise a clear error naming both shapes when they do not broadcast."""
    sa = np.shape(a.data if isinstance(a, Tensor) else a)
    sb = np.shape(b.data if isinstance(b, Tensor) else b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise RuntimeError(f"{what}shapes {shape_str(sa)} and {shape_str(sb)} are not broadcastable"
                           f" (sizes must match or be 1, aligning trailing dimensions)") from None


def expand_reduced(grad: np.ndarray, axes: tuple | None, keepdim: bool, ndim: int) -> np.ndarray:
    """Re-insert reduced axes (size 1) into ``grad`` so it broadcasts against the input."""
    if keepdim or ndim == 0:
        return grad
    if axes is None:
        return grad.reshape((1,) * ndim)
    return np.expand_dims(grad, axes)
