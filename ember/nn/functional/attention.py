"""``scaled_dot_product_attention``: one fused op, softmax and its backward inline.

Grouped-query attention never copies key/value heads: query heads are folded into the rows of
their key head's matrix, ``(*, Hq, L, E) -> (*, Hk, (Hq // Hk) * L, E)``, a free reshape that
turns every group into one GEMM against its shared key (torch's ``repeat_interleave`` order).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand, shape_str, unbroadcast
from ...autograd.tensor import Tensor
from .dropout import _check_p, dropout_mask

__all__ = ["scaled_dot_product_attention"]

_CHUNK = 1 << 18  # score elements per block (1 MiB of float32): a block stays in L2 cache


def _group(x: np.ndarray, g: int) -> np.ndarray:
    """(*, H, L, X) -> (*, H // g, g * L, X): query heads h = hk * g + j become row blocks
    (a view of contiguous arrays, so GEMMs can write into it with ``out=``)."""
    if g == 1:
        return x
    s = x.shape
    return x.reshape(s[:-3] + (s[-3] // g, g * s[-2], s[-1]))


def _mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


@functools.lru_cache(maxsize=16)
def _causal_bias(L: int, S: int, dtype: str) -> np.ndarray:
    """0 on and below the diagonal of an (L, S) grid (top-left aligned), -inf above."""
    bias = np.triu(np.full((L, S), -np.inf, dtype=dtype), k=1)
    bias.flags.writeable = False
    return bias


def _split_lead(shape: tuple) -> tuple[tuple, int]:
    """(*batch, heads, rows, cols) -> (batch, heads); 2-D shapes have no batch and one head."""
    lead = shape[:-2]
    return (lead[:-1], lead[-1]) if lead else ((), 1)


def _layout(q: np.ndarray, k: np.ndarray, v: np.ndarray):
    """Canonical 4-D views: q (nb, h, L, E), k (nb, hk, S, E), v (nb, hv, S, Ev) with hk, hv
    dividing h (a broadcast single head is a group of h). Only broadcast batch dims of k or v
    are copied."""
    batch, h = _split_lead(q.shape)
    nb = math.prod(batch)

    def kv(x):
        xb, hx = _split_lead(x.shape)
        if (1,) * (len(batch) - len(xb)) + xb != batch:
            x = np.broadcast_to(x, batch + (hx,) + x.shape[-2:])
        return x.reshape((nb, hx) + x.shape[-2:]), h // hx
    k4, gk = kv(k)
    v4, gv = kv(v)
    return q.reshape((nb, h) + q.shape[-2:]), k4, v4, gk, gv, batch, h


def _mask_layout(mask: np.ndarray, batch: tuple, nb: int) -> tuple[np.ndarray, bool]:
    """The mask as (1 or nb, 1 or h, L or 1, S or 1); True when that needed a broadcast copy."""
    m = mask.reshape((1,) * (2 - mask.ndim) + mask.shape) if mask.ndim < 2 else mask
    mb, hm = _split_lead(m.shape)
    mb = (1,) * (len(batch) - len(mb)) + mb
    if all(d == 1 for d in mb):
        return m.reshape((1, hm) + m.shape[-2:]), False
    if mb == batch:
        return m.reshape((nb, hm) + m.shape[-2:]), False
    return np.broadcast_to(m, batch + (hm,) + m.shape[-2:]).reshape((nb, hm) + m.shape[-2:]), True


def _softmax_rows_(s: np.ndarray, safe: bool) -> None:
    """In-place softmax over the last axis. ``safe``: rows that are all -inf give zeros."""
    mx = s.max(axis=-1, keepdims=True, initial=-np.inf)
    if safe:
        mx[mx == -np.inf] = 0
    s -= mx
    np.exp(s, out=s)
    den = s.sum(axis=-1, keepdims=True)
    if safe:
        den[den == 0] = 1
    np.divide(1.0, den, out=den)
    s *= den


class Attention(Function):
    """softmax(q k^T * scale + mask) [dropout] v, with the attention weights optionally a second
    output (MultiheadAttention's ``need_weights``).

    Works on (nb, h, L, S) score blocks of a few batch entries at a time, so each block stays in
    cache through the GEMMs and the softmax passes (about 2x faster backward than whole arrays).
    ``safe``: rows where every key is masked give zero weights (torch's SDPA); otherwise NaN (a
    plain softmax, as torch's MultiheadAttention when it returns weights).
    """

    def forward(ctx, q, k, v, mask, causal, scale, dropout_p, safe, need_weights):
        q4, k4, v4, gk, gv, batch, h = _layout(q, k, v)
        nb, L, S, ev = q4.shape[0], q4.shape[2], k4.shape[2], v4.shape[3]
        m4 = mcopied = None
        if mask is not None:
            m4, mcopied = _mask_layout(mask, batch, nb)
        bias = _causal_bias(L, S, q.dtype.str) if causal else None
        p = np.empty((nb, h, L, S), dtype=q.dtype)
        if dropout_p == 1.0:
            u = np.zeros_like(p)
        else:
            u = dropout_mask(p.shape, dropout_p, p.dtype) if dropout_p > 0.0 else None
        pd = np.empty_like(p) if u is not None and need_weights else None
        out = np.empty((nb, h, L, ev), dtype=q.dtype)
        step = ctx.step = max(1, _CHUNK // max(1, h * L * S))
        # the scale goes on q (L x E per head), not on the L x S scores: one pass fewer there
        qs = np.empty((min(step, nb),) + q4.shape[1:], q.dtype) if scale != 1.0 else None
        for a in range(0, nb, step):
            b = min(nb, a + step)
            s = p[a:b]
            qb = q4[a:b] if qs is None else np.multiply(q4[a:b], scale, out=qs[:b - a])
            np.matmul(_group(qb, gk), _mT(k4[a:b]), out=_group(s, gk))
            if bias is not None:
                s += bias
            if m4 is not None:
                s += m4[a:b] if m4.shape[0] > 1 else m4
            _softmax_rows_(s, safe)
            w = s
            if u is not None:
                w = np.multiply(s, u[a:b], out=pd[a:b] if pd is not None else None)
            np.matmul(_group(w, gv), v4[a:b], out=_group(out[a:b], gv))
        ctx.p, ctx.u, ctx.scale = p, u, scale
        ctx.mask_info = None if mask is None else (m4.shape, mcopied, mask.shape, batch)
        out = out.reshape(q.shape[:-1] + (ev,))
        if not need_weights:
            ctx.save_for_backward(q, k, v)
            return out
        weights = (p if u is None else pd).reshape(q.shape[:-2] + (L, S))
        ctx.save_for_backward(q, k, v, weights)  # backward reads p: catch in-place edits of it
        return out, weights

    def backward(ctx, g, gw=None):
        q, k, v = ctx.saved[:3]
        q4, k4, v4, gk, gv, batch, h = _layout(q, k, v)
        p, u, step, need = ctx.p, ctx.u, ctx.step, ctx.needs_input_grad
        nb, L, S, ev = q4.shape[0], q4.shape[2], k4.shape[2], v4.shape[3]
        g4 = None if g is None else g.reshape((nb, h, L, ev))
        gw4 = None if gw is None else gw.reshape((nb, h, L, S))
        dq = np.empty(q4.shape, q.dtype) if need[0] else None
        dk = np.empty(k4.shape, q.dtype) if need[1] else None
        dv = np.empty(v4.shape, q.dtype) if need[2] and g is not None else None
        want_dm = ctx.mask_info is not None and need[3]
        dm = np.zeros(ctx.mask_info[0], q.dtype) if want_dm else None
        buf = np.empty((min(step, nb), h, L, S), q.dtype)
        for a in range(0, nb, step):
            b = min(nb, a + step)
            pc, dp = p[a:b], buf[:b - a]
            if g4 is not None:
                gc = _group(g4[a:b], gv)
                np.matmul(gc, _mT(v4[a:b]), out=_group(dp, gv))  # d loss / d (dropped weights)
                if dv is not None:
                    w = pc if u is None else pc * u[a:b]
                    np.matmul(_mT(_group(w, gv)), gc, out=dv[a:b])
                if gw4 is not None:
                    dp += gw4[a:b]
            else:
                dp[...] = gw4[a:b]
            if u is not None:
                dp *= u[a:b]
            # softmax backward: dS = P * (dP - rowsum(dP * P))
            r = np.einsum("...j,...j->...", dp, pc)
            dp -= r[..., None]
            dp *= pc
            if dm is not None:
                if dm.shape[0] > 1:
                    dm[a:b] += unbroadcast(dp, (b - a,) + dm.shape[1:])
                else:
                    dm += unbroadcast(dp, dm.shape)
            if dq is not None:  # the scale on the (L, E) and (S, E) results, not the scores
                np.matmul(_group(dp, gk), k4[a:b], out=_group(dq[a:b], gk))
                if ctx.scale != 1.0:
                    dq[a:b] *= ctx.scale
            if dk is not None:
                np.matmul(_mT(_group(dp, gk)), _group(q4[a:b], gk), out=dk[a:b])
                if ctx.scale != 1.0:
                    dk[a:b] *= ctx.scale
        if dq is not None:
            dq = dq.reshape(q.shape)
        if dk is not None:
            dk = unbroadcast(dk.reshape(batch + dk.shape[1:]), k.shape)
        if dv is not None:
            dv = unbroadcast(dv.reshape(batch + dv.shape[1:]), v.shape)
        if dm is not None:
            mshape, copied, orig, _ = ctx.mask_info
            dm = unbroadcast(dm.reshape(batch + mshape[1:]), orig) if copied else dm.reshape(orig)
        return dq, dk, dv, dm


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, enable_gqa: bool) -> tuple[int, int]:
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(f"Expected query, key, and value to all be at least 2 dimensional, but "
                           f"got query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: {v.ndim} "
                           f"instead.")
    if not q.dtype == k.dtype == v.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {q.dtype} key.dtype: {k.dtype} and value.dtype: "
                           f"{v.dtype} instead.")
    if q.dtype.kind != "f":
        raise RuntimeError(f"scaled_dot_product_attention: expected floating point inputs, got "
                           f"{q.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query {shape_str(q.shape)} and key "
                           f"{shape_str(k.shape)} must have the same embedding size (last dim)")
    if k.shape[-2] != v.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key {shape_str(k.shape)} and value "
                           f"{shape_str(v.shape)} must have the same sequence length (dim -2)")
    gk = gv = 1
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and v.ndim >= 3:
        hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(f"Number of heads in key and value must divide the number of heads "
                               f"in query (query heads {hq}, key heads {hk}, value heads {hv})")
        gk, gv = hq // hk, hq // hv
    qb = q.shape[:-3] + (q.shape[-3] // gk,) if q.ndim >= 3 else ()
    vb = q.shape[:-3] + (q.shape[-3] // gv,) if q.ndim >= 3 else ()
    try:
        np.broadcast_shapes(qb, k.shape[:-2])
        np.broadcast_shapes(vb, v.shape[:-2])
    except ValueError:
        raise RuntimeError(f"scaled_dot_product_attention: the batch dims of query "
                           f"{shape_str(q.shape)}, key {shape_str(k.shape)} and value "
                           f"{shape_str(v.shape)} do not broadcast (different head counts need "
                           f"enable_gqa=True)") from None
    return gk, gv


def _attention(q, k, v, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
               scale: float | None = None, enable_gqa: bool = False, safe: bool = True,
               need_weights: bool = False):
    q, k, v = as_operand(q), as_operand(k), as_operand(v)
    gk, gv = _check_qkv(q, k, v, enable_gqa)
    _check_p(dropout_p)

    def lead(shape: tuple, g: int = 1) -> tuple:
        return shape[:-3] + (shape[-3] * g,) if g > 1 else shape[:-2]
    full = np.broadcast_shapes(q.shape[:-2], lead(k.shape, gk), lead(v.shape, gv))
    mask = None
    if attn_mask is not None:
        m = as_operand(attn_mask)
        arr = m.data if isinstance(m, Tensor) else np.asarray(m)
        if arr.dtype == np.bool_:
            mask = np.where(arr, 0.0, -np.inf).astype(q.dtype)
        elif arr.dtype == q.dtype:
            mask = m if isinstance(m, Tensor) else arr
        else:
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                               f"dtype, but got attn_mask.dtype: {arr.dtype} and query.dtype: "
                               f"{q.dtype} instead.")
        score_shape = full + (q.shape[-2], k.shape[-2])
        try:
            ok = np.broadcast_shapes(score_shape, arr.shape)[-2:] == score_shape[-2:]
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(f"scaled_dot_product_attention: attn_mask of shape "
                               f"{shape_str(arr.shape)} does not broadcast to the attention "
                               f"scores' shape {shape_str(score_shape)} (..., L, S)")
        full = np.broadcast_shapes(full, arr.shape[:-2])
    if full != tuple(q.shape[:-2]):  # the output has more batch/head entries than the query
        from ...autograd.ops import expand
        q = expand(q, full + tuple(q.shape[-2:]))
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    return Attention.apply(q, k, v, mask, bool(is_causal), float(scale), float(dropout_p), safe,
                           need_weights)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` for (..., L, E), (..., S, E),
    (..., S, Ev) inputs.

    ``attn_mask``: bool (True = may attend) or an additive float mask, broadcast to (..., L, S);
    ``is_causal``: the top-left aligned ``tril(ones(L, S))`` mask (combined with ``attn_mask`` if
    both are given, as torch's CPU kernel; its reference raises); ``dropout_p``: dropout on the
    attention weights (always applied, as torch); ``scale`` defaults to 1/sqrt(E);
    ``enable_gqa``: key/value may have fewer heads (dim -3) dividing the query's. Rows with every
    key masked give zeros.
    """
    return _attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
