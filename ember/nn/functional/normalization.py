"""Normalisation: fused ``layer_norm`` and ``rms_norm``; ``normalize`` and ``cosine_similarity``
composed from core ops."""
from __future__ import annotations

import numpy as np

from ...autograd import ops as _ops
from ...autograd.chunked import chunked
from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...autograd.ops._util import as_operand
from ...autograd.tensor import Tensor

__all__ = ["cosine_similarity", "layer_norm", "normalize", "rms_norm"]


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row dot products of two (M, D) arrays, without a product temporary."""
    return np.einsum("ij,ij->i", a, b)


def _sum_parts(parts: list, d: int, dtype) -> np.ndarray:
    return np.sum(parts, axis=0, dtype=dtype) if parts else np.zeros(d, dtype)


class LayerNorm(Function):
    """Rows of the (M, D) view are normalised; mean and 1/std are kept for the closed-form
    backward, x-hat is recomputed there (torch's trade: no (M, D) array saved). Both passes run
    over row blocks that stay in cache (``autograd.chunked``), on threads for large inputs."""

    def forward(ctx, x, w, b, eps, d):
        x2 = x.reshape(-1, d)
        m = x2.shape[0]
        out = np.empty((m, d), x.dtype)
        mu = np.empty(m, x.dtype)
        rstd = np.empty(m, x.dtype)
        inv_d = np.full(d, 1.0 / d, dtype=x.dtype)
        wv = None if w is None else w.reshape(-1)
        bv = None if b is None else b.reshape(-1)

        def block(xb, ob, mb, rb):
            np.matmul(xb, inv_d, out=mb)  # row means as a GEMV: ~3x xb.mean(axis=1)
            np.subtract(xb, mb[:, None], out=ob)
            np.einsum("ij,ij->i", ob, ob, out=rb)
            rb *= 1.0 / d
            rb += eps
            np.sqrt(rb, out=rb)
            np.divide(1.0, rb, out=rb)
            ob *= rb[:, None]  # x-hat
            if wv is not None:
                ob *= wv
            if bv is not None:
                ob += bv

        chunked(block, [x2, out, mu, rstd])
        ctx.save_for_backward(x, w)
        ctx.mu, ctx.rstd, ctx.d, ctx.has_b = mu, rstd, d, b is not None
        return out.reshape(x.shape)

    def backward(ctx, g):
        x, w = ctx.saved
        d, need = ctx.d, ctx.needs_input_grad
        x2, g2 = x.reshape(-1, d), np.asarray(g, order="C").reshape(-1, d)
        want_w = w is not None and need[1]
        want_b = ctx.has_b and need[2]
        dx = np.empty(x2.shape, x.dtype) if need[0] else None
        inv_d = np.full(d, 1.0 / d, dtype=x.dtype)
        wv = None if w is None else w.reshape(-1)
        parts_w: list = []
        parts_b: list = []  # per-block column sums (list.append is atomic across threads)

        def block(xb, gb, mb, rb, *rest):
            xh = rest[-1]
            np.subtract(xb, mb[:, None], out=xh)
            xh *= rb[:, None]  # x-hat
            if want_w:
                parts_w.append(np.einsum("ij,ij->j", gb, xh))
            if want_b:
                parts_b.append(np.ones(gb.shape[0], gb.dtype) @ gb)
            if dx is None:
                return
            # dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * w
            dxb = rest[0]
            if wv is not None:
                np.multiply(gb, wv, out=dxb)
            else:
                np.copyto(dxb, gb)
            c1 = dxb @ inv_d
            c2 = np.einsum("ij,ij->i", dxb, xh)
            c2 *= 1.0 / d
            xh *= c2[:, None]
            dxb -= xh
            dxb -= c1[:, None]
            dxb *= rb[:, None]

        arrays = [x2, g2, ctx.mu, ctx.rstd] + ([dx] if dx is not None else [])
        chunked(block, arrays, n_scratch=1)
        shape = w.shape if w is not None else (d,)
        gw = _sum_parts(parts_w, d, x.dtype).reshape(shape) if want_w else None
        gb = _sum_parts(parts_b, d, x.dtype).reshape(shape) if want_b else None
        return (None if dx is None else dx.reshape(x.shape)), gw, gb


class RMSNorm(Function):
    def forward(ctx, x, w, eps, d):
        x2 = x.reshape(-1, d)
        ms = _rowdot(x2, x2)
        ms *= 1.0 / d
        ms += eps
        rstd = np.sqrt(ms, out=ms)
        np.divide(1.0, rstd, out=rstd)
        rstd = rstd[:, None]
        out = x2 * rstd
        if w is not None:
            out *= w.reshape(-1)
        ctx.save_for_backward(x, w)
        ctx.rstd, ctx.d = rstd, d
        return out.reshape(x.shape)

    def backward(ctx, g):
        x, w = ctx.saved
        d = ctx.d
        g2 = g.reshape(-1, d)
        xhat = x.reshape(-1, d) * ctx.rstd
        gx = gw = None
        if w is not None and ctx.needs_input_grad[1]:
            gw = np.einsum("ij,ij->j", g2, xhat).reshape(w.shape)
        if ctx.needs_input_grad[0]:
            dxhat = g2 * w.reshape(-1) if w is not None else g2.copy()
            c2 = _rowdot(dxhat, xhat)
            c2 *= 1.0 / d
            xhat *= c2[:, None]
            dxhat -= xhat
            dxhat *= ctx.rstd
            gx = dxhat.reshape(x.shape)
        return gx, gw


def _check_norm_args(name: str, x: Tensor, normalized_shape, params: dict) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(s) for s in normalized_shape)
    if not shape:
        raise RuntimeError(f"{name}: Expected normalized_shape to be at least 1-dimensional, "
                           "i.e., containing at least one element, but got normalized_shape = []")
    for pname, p in params.items():
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"Expected {pname} to be of same shape as normalized_shape, but got "
                               f"{pname} of shape {list(p.shape)} and normalized_shape = "
                               f"{list(shape)}")
        if p is not None and p.dtype != x.dtype:
            raise RuntimeError(f"{name}: expected {pname} to have the input's dtype {x.dtype}, "
                               f"got {p.dtype}")
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                           f"{list(x.shape)}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating point input, got {x.dtype}")
    return shape, int(np.prod(shape))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims to zero mean and unit (biased)
    variance, then apply ``weight`` and ``bias`` elementwise."""
    x = as_operand(input)
    _, d = _check_norm_args("layer_norm", x, normalized_shape, {"weight": weight, "bias": bias})
    return LayerNorm.apply(x, weight, bias, float(eps), d)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    ``eps`` defaults to ``finfo(input.dtype).eps``."""
    x = as_operand(input)
    _, d = _check_norm_args("rms_norm", x, normalized_shape, {"weight": weight})
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    return RMSNorm.apply(x, weight, float(eps), d)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    x = as_operand(input)
    denom = _ops.clamp_min(_ops.norm(x, p, dim, keepdim=True), eps)
    return _ops.div(x, denom)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast); each norm is
    clamped to at least ``eps`` without affecting the gradient, as torch."""
    a, b = as_operand(x1), as_operand(x2)
    from ...autograd.ops._util import check_broadcast
    check_broadcast(a, b, "cosine_similarity: ")
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = _ops.broadcast_to(a, shape), _ops.broadcast_to(b, shape)
    na = _ops.clone(_ops.norm(a, 2, dim, keepdim=True))
    nb = _ops.clone(_ops.norm(b, 2, dim, keepdim=True))
    with no_grad():  # torch clamps these in place under no_grad: the clamp has no derivative
        na.data = np.maximum(na.data, eps).astype(na.dtype, copy=False)
        nb.data = np.maximum(nb.data, eps).astype(nb.dtype, copy=False)
    return _ops.sum(_ops.mul(_ops.div(a, na), _ops.div(b, nb)), dim)
