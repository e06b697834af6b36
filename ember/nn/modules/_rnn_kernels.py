"""The fused Functions behind ember.nn's recurrent layers (forward and backward on ndarrays).

``_InputProjection`` does the input GEMM of all timesteps at once; ``_RNNStep``, ``_LSTMStep`` and
``_GRUStep`` do one timestep each (hidden GEMM plus gate nonlinearities, hand-written backward);
``_StackSteps`` gathers the per-step outputs into the layer's output tensor.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...autograd.function import Function


def _sigmoid_(a: np.ndarray) -> None:
    # tanh form: no overflow for large |x|; in place on a temporary we own
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _times_sigmoid_grad_(d: np.ndarray, s: np.ndarray) -> None:
    """``d *= s * (1 - s)`` for s = sigmoid(x)."""
    d *= s
    d -= d * s


@lru_cache(maxsize=32)
def _lstm_gate_consts(n: int, dtype: np.dtype) -> tuple:
    """Per-column constants that apply sigmoid (i, f, o) and tanh (g) to all 4H gate columns in
    a few whole-array passes: ``act = scale * tanh(scale * x) + shift`` (sigmoid(x) =
    0.5 tanh(x / 2) + 0.5), and the derivative from the output y, ``y * (b - y) + a``
    (sigmoid: y (1 - y); tanh: 1 - y^2). Returns (scale, shift, b, a)."""
    def cols(sig: float, tanh: float) -> np.ndarray:
        v = np.full(4 * n, sig, dtype=dtype)
        v[2 * n:3 * n] = tanh
        v.flags.writeable = False
        return v
    return cols(0.5, 1.0), cols(0.5, 0.0), cols(1.0, 0.0), cols(0.0, 1.0)


# ---------------------------------------------------------------------- fused Functions
class _InputProjection(Function):
    """``x @ W_ih^T + b_ih (+ b_hh)`` for every timestep in one GEMM.

    With ``time_axis`` set, returns one (B, G) view per timestep (a multi-output node, so the
    backward assembles the per-step gradients without a (T, B, G) scatter per step); with
    ``time_axis=None`` (cells) returns the (B, G) result itself.

    If ``w_hh`` is given, this node also owns W_hh's gradient: for RNN and LSTM the gradient
    w.r.t. step t's gates is exactly the gradient of output t, so ``sum_t d_t^T h_{t-1}`` is one
    GEMM here instead of T small ones (the steps then get W_hh as a plain array). The layer loop
    sets ``ctx.hprev`` (every step's previous hidden state, laid out like the output) once the
    recurrence has run.
    """

    def forward(ctx, x, w, b_ih, b_hh, w_hh, time_axis):
        ctx.save_for_backward(x, w, w_hh)
        ctx.time_axis = time_axis
        out = x.reshape(-1, x.shape[-1]) @ w.T
        if b_ih is not None and b_hh is not None:
            out += b_ih + b_hh  # one pass over the big array
        elif b_ih is not None or b_hh is not None:
            out += b_ih if b_ih is not None else b_hh
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
        if time_axis is None:
            return out
        return tuple(np.moveaxis(out, time_axis, 0))

    def backward(ctx, *grads):
        x, w, _ = ctx.saved
        if ctx.time_axis is None:
            g = grads[0]
        else:
            ref = next(g for g in grads if g is not None)
            zero = np.zeros_like(ref)
            g = np.stack([zero if gi is None else gi for gi in grads], axis=ctx.time_axis)
        g2 = g.reshape(-1, g.shape[-1])
        need = ctx.needs_input_grad
        gx = (g2 @ w).reshape(x.shape) if need[0] else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if need[1] else None
        gb = g2.sum(0) if need[2] or need[3] else None
        gw_hh = None
        if need[4]:
            gw_hh = g2.T @ ctx.hprev.reshape(-1, ctx.hprev.shape[-1])
        return gx, gw, gb, gb, gw_hh


class _RNNStep(Function):
    """``h' = act(xw + h @ W_hh^T)`` with act tanh or relu."""

    def forward(ctx, xw, h, w_hh, relu=False, w_t=None):
        a = h @ (w_hh.T if w_t is None else w_t)
        a += xw
        if relu:
            np.maximum(a, 0, out=a)
        else:
            np.tanh(a, out=a)
        ctx.save_for_backward(h, w_hh, a)
        ctx.relu = relu
        return a

    def backward(ctx, g):
        h, w_hh, y = ctx.saved
        d = g * (y > 0) if ctx.relu else g * (1 - y * y)
        need = ctx.needs_input_grad
        return (d, d @ w_hh if need[1] else None, d.T @ h if need[2] else None)


class _LSTMStep(Function):
    """One LSTM step: gates ``xw + h @ W_hh^T`` in (i, f, g, o) order, optional projection
    ``h' = (o * tanh(c')) @ W_hr^T``. Returns (h', c')."""

    def forward(ctx, xw, h, c, w_hh, w_hr, w_t=None):
        n = c.shape[-1]
        gates = h @ (w_hh.T if w_t is None else w_t)  # (B, 4H)
        gates += xw
        scale, shift, _, _ = _lstm_gate_consts(n, gates.dtype)
        gates *= scale
        np.tanh(gates, out=gates)
        gates *= scale
        gates += shift
        i, f, g, o = gates[:, :n], gates[:, n:2 * n], gates[:, 2 * n:3 * n], gates[:, 3 * n:]
        c_new = f * c
        c_new += i * g
        tc = np.tanh(c_new)
        h_new = o * tc
        if w_hr is not None:
            ctx.h_raw = h_new
            h_new = h_new @ w_hr.T
        ctx.save_for_backward(h, c, w_hh, w_hr)
        ctx.gates, ctx.tc = gates, tc
        return h_new, c_new

    def backward(ctx, gh, gc):
        h, c, w_hh, w_hr = ctx.saved
        gates, tc = ctx.gates, ctx.tc
        n = c.shape[-1]
        i, f, g, o = gates[:, :n], gates[:, n:2 * n], gates[:, 2 * n:3 * n], gates[:, 3 * n:]
        need = ctx.needs_input_grad
        gw_hr = None
        if gh is not None and w_hr is not None:
            if need[4]:
                gw_hr = gh.T @ ctx.h_raw
            gh = gh @ w_hr
        d = np.empty_like(gates)  # gradient w.r.t. the pre-activation gates
        di, df, dg, do = d[:, :n], d[:, n:2 * n], d[:, 2 * n:3 * n], d[:, 3 * n:]
        if gh is not None:
            np.multiply(gh, tc, out=do)
            dc = gh * o
            dc *= 1 - tc * tc
            if gc is not None:
                dc += gc
        else:
            do.fill(0)
            dc = gc
        np.multiply(dc, g, out=di)
        np.multiply(dc, c, out=df)
        np.multiply(dc, i, out=dg)
        _, _, b, a = _lstm_gate_consts(n, gates.dtype)
        deriv = b - gates
        deriv *= gates
        deriv += a
        d *= deriv
        gh_prev = d @ w_hh if need[1] else None
        gc_prev = dc * f if need[2] else None
        gw_hh = d.T @ h if need[3] else None
        return d, gh_prev, gc_prev, gw_hh, gw_hr


class _GRUStep(Function):
    """One GRU step: ``hh = h @ W_hh^T + b_hh``; r, z = sigmoid(xw + hh) on their thirds;
    ``n = tanh(xw_n + r * hh_n)``; ``h' = (1 - z) * n + z * h``."""

    def forward(ctx, xw, h, w_hh, b_hh, w_t=None):
        n_ = h.shape[-1]
        hh = h @ (w_hh.T if w_t is None else w_t)  # (B, 3H)
        if b_hh is not None:
            hh += b_hh
        rz = xw[:, :2 * n_] + hh[:, :2 * n_]
        _sigmoid_(rz)
        r, z = rz[:, :n_], rz[:, n_:]
        hn = hh[:, 2 * n_:]
        nn_ = r * hn
        nn_ += xw[:, 2 * n_:]
        np.tanh(nn_, out=nn_)
        h_new = h - nn_
        h_new *= z
        h_new += nn_
        ctx.save_for_backward(h, w_hh)
        ctx.rz, ctx.n, ctx.hn = rz, nn_, hn
        return h_new

    def backward(ctx, gh):
        h, w_hh = ctx.saved
        rz, nn_, hn = ctx.rz, ctx.n, ctx.hn
        n_ = h.shape[-1]
        r, z = rz[:, :n_], rz[:, n_:]
        dx = np.empty((h.shape[0], 3 * n_), dtype=gh.dtype)  # grad w.r.t. xw
        dr, dz, dn = dx[:, :n_], dx[:, n_:2 * n_], dx[:, 2 * n_:]
        np.subtract(h, nn_, out=dz)
        dz *= gh
        np.subtract(1, z, out=dn)
        dn *= gh
        dn *= 1 - nn_ * nn_
        np.multiply(dn, hn, out=dr)
        _times_sigmoid_grad_(dx[:, :2 * n_], rz)
        need = ctx.needs_input_grad
        dhh = dx.copy()
        dhh[:, 2 * n_:] *= r
        gh_prev = None
        if need[1]:
            gh_prev = dhh @ w_hh
            gh_prev += gh * z
        gw_hh = dhh.T @ h if need[2] else None
        gb_hh = dhh.sum(0) if need[3] else None
        return dx, gh_prev, gw_hh, gb_hh


class _StackSteps(Function):
    """Per-step outputs (direction-major: all forward steps, then all reverse steps, each in
    time order) into one (T, B, D*H) array, or (B, T, D*H) when ``batch_first``."""

    def forward(ctx, *hs, ndir, batch_first):
        t_len = len(hs) // ndir
        b, n = hs[0].shape
        out = np.empty((b, t_len, ndir * n) if batch_first else (t_len, b, ndir * n),
                       dtype=hs[0].dtype)
        for d in range(ndir):
            part = out[..., d * n:(d + 1) * n]
            np.stack(hs[d * t_len:(d + 1) * t_len], axis=1 if batch_first else 0, out=part)
        ctx.ndir, ctx.batch_first, ctx.n = ndir, batch_first, n
        return out

    def backward(ctx, g):
        tm = g.swapaxes(0, 1) if ctx.batch_first else g  # (T, B, D*H) view
        n = ctx.n
        return tuple(tm[t, :, d * n:(d + 1) * n]
                     for d in range(ctx.ndir) for t in range(tm.shape[0]))
