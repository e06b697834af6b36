"""softmax and log_softmax along a dim, fused with their own backward."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim


class Softmax(Function):
    def forward(ctx, x, axis):
        e = x - np.max(x, axis=axis, keepdims=True) if x.size else x.copy()
        np.exp(e, out=e)
        e /= np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    def backward(ctx, g):
        (y,) = ctx.saved
        gy = g * y
        gy -= y * np.sum(gy, axis=ctx.axis, keepdims=True)
        return gy


class LogSoftmax(Function):
    def forward(ctx, x, axis):
        m = np.max(x, axis=axis, keepdims=True) if x.size else 0
        shifted = x - m
        lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        shifted -= lse
        ctx.save_for_backward(shifted)
        ctx.axis = axis
        return shifted

    def backward(ctx, g):
        (out,) = ctx.saved
        return g - np.exp(out) * np.sum(g, axis=ctx.axis, keepdims=True)


def _prep(input, dim, dtype, name):
    x = as_operand(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.data.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: expected a floating point input, got {x.data.dtype}")
    if dim is None:  # torch's legacy implicit dim
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return x, norm_dim(dim, x.ndim) if x.ndim else None


def softmax(input, dim=None, dtype=None) -> Tensor:
    x, axis = _prep(input, dim, dtype, "softmax")
    return Softmax.apply(x, axis)


def log_softmax(input, dim=None, dtype=None) -> Tensor:
    x, axis = _prep(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(x, axis)
