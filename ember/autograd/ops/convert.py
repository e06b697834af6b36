"""Dtype casts and copies."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor


class Cast(Function):
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    def backward(ctx, g):
        return g  # the engine casts it back to the input's dtype


class Clone(Function):
    def forward(ctx, x):
        return x.copy()

    def backward(ctx, g):
        return g


class CopyFrom(Function):
    """``dst.copy_(src)`` recorded out of place: the result is ``src`` broadcast to dst's shape."""

    def forward(ctx, dst, src):
        ctx.src_shape = src.shape
        return np.broadcast_to(src, dst.shape).astype(dst.dtype, copy=True)

    def backward(ctx, g):
        from ._util import unbroadcast
        return None, unbroadcast(g, ctx.src_shape)


class FullLike(Function):
    """``x.fill_(v)`` recorded out of place: no gradient reaches x; v may be a 0-d tensor."""

    def forward(ctx, x, value):
        return np.full_like(x, value)

    def backward(ctx, g):
        return None, g.sum()


def cast(x: Tensor, dtype) -> Tensor:
    if x.requires_grad and np.dtype(dtype).kind not in "fc":
        return Tensor._make(x.data.astype(dtype))  # integer results carry no gradient
    return Cast.apply(x, dtype=np.dtype(dtype))


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def copy_from(dst: Tensor, src: Tensor) -> Tensor:
    from ._util import check_broadcast
    check_broadcast(dst, src, "copy_: ")
    return CopyFrom.apply(dst, src)


def full_like_grad(x: Tensor, value) -> Tensor:
    return FullLike.apply(x, value)
