"""``linear``: ``input @ weight.T + bias`` as one fused op (the GEMM at the core of every layer)."""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand
from ...autograd.tensor import Tensor

__all__ = ["linear"]


class Linear(Function):
    """Leading dims of the input are folded into one (M, in) matrix, so forward and each gradient
    is a single GEMM."""

    def forward(ctx, x, w, b):
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        out = x2 @ w2.T
        if b is not None:
            out += b
        ctx.save_for_backward(x, w)
        ctx.b_shape = None if b is None else b.shape
        lead = x.shape[:-1]
        return out.reshape(lead if w.ndim == 1 else lead + (w.shape[0],))

    def backward(ctx, g):
        x, w = ctx.saved
        w2 = w.reshape(1, -1) if w.ndim == 1 else w
        g2 = g.reshape(-1, w2.shape[0])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g2 @ w2).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            gw = np.matmul(g2.T, x.reshape(-1, x.shape[-1]), out=ctx.grad_out(1, w2.shape))
            gw = gw.reshape(w.shape)
        if ctx.b_shape is not None and ctx.needs_input_grad[2]:
            # column sums as a GEMV: ~3x g2.sum(0)
            gb = np.matmul(np.ones(g2.shape[0], dtype=g2.dtype), g2,
                           out=ctx.grad_out(2, g2.shape[1:]))
            if gb.shape != ctx.b_shape:  # a scalar-like bias broadcast over the features
                gb = gb.sum().reshape(ctx.b_shape)
        return gx, gw, gb


def _mat_str(shape) -> str:
    return "x".join(str(s) for s in shape)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = input @ weight.T + bias`` with ``weight`` of shape (out_features, in_features).

    input (*, in) -> (*, out); a 1-D weight (in,) gives output (*).
    """
    x, w = as_operand(input), as_operand(weight)
    b = None if bias is None else as_operand(bias)
    if not isinstance(x, Tensor) or not isinstance(w, Tensor):
        raise TypeError("linear(): input and weight must be Tensors")
    if x.ndim == 0 or w.ndim not in (1, 2):
        raise RuntimeError(f"linear(): expected an input of at least 1 dimension and a 1-D or 2-D "
                           f"weight, got input of shape {list(x.shape)} and weight of shape "
                           f"{list(w.shape)}")
    dts = [x.dtype, w.dtype] + ([b.dtype] if isinstance(b, Tensor) else [])
    if any(d != dts[0] for d in dts) or dts[0].kind != "f":
        raise RuntimeError(f"linear(): expected input, weight and bias to have the same floating "
                           f"dtype, but got {', '.join(str(d) for d in dts)}")
    n_in = w.shape[-1]
    if x.shape[-1] != n_in:
        rows = int(np.prod(x.shape[:-1], dtype=np.int64))
        w_t = (n_in, 1) if w.ndim == 1 else (n_in, w.shape[0])
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({_mat_str((rows, x.shape[-1]))} and {_mat_str(w_t)})")
    if b is not None:
        out_shape = () if w.ndim == 1 else (w.shape[0],)
        bs = np.shape(b.data if isinstance(b, Tensor) else b)
        try:
            ok = np.broadcast_shapes(bs, out_shape) == out_shape
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(f"linear(): bias of shape {list(bs)} does not match the "
                               f"{out_shape[0] if out_shape else 1} output features")
        if not isinstance(b, Tensor):
            b = Tensor._make(np.asarray(b, dtype=x.dtype))
    return Linear.apply(x, w, b)
