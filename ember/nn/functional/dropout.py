"""``dropout``: zero elements with probability p and scale the survivors by 1 / (1 - p)."""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand
from ...autograd.random import _gen
from ...autograd.tensor import Tensor

__all__ = ["dropout"]


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout_mask(shape: tuple, p: float, dtype: np.dtype) -> np.ndarray:
    """A multiplier array: 1 / (1 - p) where kept (probability 1 - p), 0 where dropped.

    Drawn from ember's default generator, in ``dtype`` (one array, reused as the mask).
    """
    u = _gen(None).random(shape, dtype=np.float32 if dtype != np.float64 else np.float64)
    keep = u >= p
    m = u if u.dtype == dtype else np.empty(shape, dtype=dtype)
    np.multiply(keep, 1.0 / (1.0 - p), out=m)
    return m


class Dropout(Function):
    def forward(ctx, x, p):
        if p == 1.0:
            ctx.mask = None
            return np.zeros_like(x)
        ctx.mask = dropout_mask(x.shape, p, x.dtype)
        return x * ctx.mask

    def backward(ctx, g):
        if ctx.mask is None:
            return np.zeros_like(g)
        return g * ctx.mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """During training, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; the identity when ``training`` is False or ``p`` is 0."""
    _check_p(p)
    x = as_operand(input)
    if not training or p == 0.0:
        return x
    if x.dtype.kind != "f":
        raise RuntimeError(f"dropout: expected a floating point input, got {x.dtype}")
    out = Dropout.apply(x, float(p))
    return x._inplace(out) if inplace else out
