"""Loss functions, each one fused op with its own backward.

``cross_entropy`` (class indices) never materialises log-probabilities: forward computes the row
log-sum-exp over cache-sized row chunks (on 2 threads) and keeps ``exp(x - rowmax)``; backward
rescales that array in place into ``softmax(x) * a - b * onehot - c * weight``: one exp pass and
no new (N, C) array in backward.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand, shape_str, unbroadcast
from ...autograd.tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "kl_div",
           "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]

# Row chunks of ~256K elements (1 MiB of float32): large enough that NumPy's per-call overhead and
# the GIL between calls stay small next to the work, small enough to stay in cache between passes.
_CHUNK = 1 << 18
_THREADS = min(2, os.cpu_count() or 1)  # 2, as PERF-NOTES measured: elementwise work over 2 cores
_POOL: tuple[int, ThreadPoolExecutor] | None = None


# ---------------------------------------------------------------------------- reductions
def _legacy_reduction(size_average, reduce) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _reduction(reduction: str, size_average=None, reduce=None, extra: tuple = ()) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in ("none", "mean", "sum") + extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    with np.errstate(invalid="ignore"):  # mean of nothing is nan, as torch
        return np.asarray(loss.sum() / loss.size if loss.size else np.nan, dtype=loss.dtype)


def _reduce_grad(g: np.ndarray, shape: tuple, reduction: str) -> np.ndarray:
    """The gradient of the reduction, broadcast back to the elementwise loss's shape."""
    if reduction == "none":
        return g
    n = int(np.prod(shape)) if reduction == "mean" else 1
    return np.broadcast_to(g * (1.0 / max(n, 1)) if n != 1 else g, shape)


def _no_grad_arg(t, fn: str, name: str):
    if isinstance(t, Tensor) and t.requires_grad:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{name}'. This input cannot have requires_grad True.")
    return None if t is None else np.asarray(t.data if isinstance(t, Tensor) else t)


# ---------------------------------------------------------------------------- class targets
def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():  # a forked child has no worker threads
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=_THREADS - 1,
                                                 thread_name_prefix="ember-loss"))
    return _POOL[1]


def _parallel_rows(m: int, c: int, work) -> None:
    """Call ``work(r0, r1)`` on contiguous row ranges covering [0, m): split over threads when
    the array is large (NumPy releases the GIL inside each call; small chunks would not)."""
    n = min(_THREADS, m) if m * c >= 2 * _CHUNK else 1
    if n <= 1:
        work(0, m)
        return
    bounds = [m * i // n for i in range(n + 1)]
    futures = [_pool().submit(work, bounds[i], bounds[i + 1]) for i in range(1, n)]
    work(bounds[0], bounds[1])
    for f in futures:
        f.result()


def _steps(r0: int, r1: int, c: int):
    step = max(1, _CHUNK // max(c, 1))
    for a in range(r0, r1, step):
        yield a, min(r1, a + step)


def _logsumexp_rows(x: np.ndarray, w: np.ndarray | None, want_dot: bool, keep: bool):
    """Per-row log-sum-exp of (M, C) ``x``, chunked over rows, plus ``x @ w`` (or row sums) if
    ``want_dot``. With ``keep`` also returns ``exp(x - rowmax)`` (M, C) and 1 / its row sums, so
    that backward needs no second exp pass."""
    m, c = x.shape
    lse = np.empty(m, dtype=x.dtype)
    dot = np.empty(m, dtype=x.dtype) if want_dot else None
    e = np.empty((m, c), dtype=x.dtype) if keep else None
    rsum = np.empty(m, dtype=x.dtype) if keep else None

    def work(r0: int, r1: int) -> None:
        buf = None if keep else np.empty((min(r1 - r0, max(1, _CHUNK // max(c, 1))), c), x.dtype)
        for a, b in _steps(r0, r1, c):
            xc = x[a:b]
            o = e[a:b] if keep else buf[:b - a]
            mx = xc.max(axis=1)
            np.subtract(xc, mx[:, None], out=o)
            np.exp(o, out=o)
            ssum = o.sum(axis=1)
            if keep:
                np.divide(1.0, ssum, out=rsum[a:b])
            np.log(ssum, out=ssum)
            np.add(ssum, mx, out=lse[a:b])
            if want_dot:
                dot[a:b] = xc @ w if w is not None else xc.sum(axis=1)
    _parallel_rows(m, c, work)
    return lse, dot, e, rsum


def _class_last(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C); (N, C) unchanged."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _class_back(g2: np.ndarray, shape: tuple) -> np.ndarray:
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g2.reshape(moved), -1, 1)


class NllLoss(Function):
    """Shared by cross_entropy (``log_softmax=True``) and nll_loss on class-index targets.

    Per valid row i with target t_i and class weights w: loss_i = (1 - eps) * w_t * nll_i
    + (eps / C) * sum_c w_c * nll_ic, where nll_ic = lse_i - x_ic (cross-entropy) or -x_ic (nll).
    Cross-entropy's forward keeps exp(x - rowmax); backward rescales it in place into the
    gradient ``softmax * a - b * onehot - c * w`` (one pass, no new (M, C) array).
    """

    def forward(ctx, x, t, w, ignore_index, reduction, eps, log_softmax):
        x2 = _class_last(x)
        tt = t.reshape(-1)
        m, c = x2.shape
        valid = tt != ignore_index
        tsafe = np.where(valid, tt, 0)
        wt = (w[tsafe] if w is not None else np.ones(m, dtype=x.dtype)) * valid
        xt = x2[np.arange(m), tsafe]
        ctx.e = ctx.rsum = None
        if log_softmax:
            keep = bool(ctx.needs_input_grad) and ctx.needs_input_grad[0]
            lse, dot, ctx.e, ctx.rsum = _logsumexp_rows(x2, w, eps > 0, keep)
            nll = lse - xt
        else:
            lse, dot = None, ((x2 @ w if w is not None else x2.sum(axis=1)) if eps > 0 else None)
            nll = -xt
        loss = nll * wt
        if eps > 0:
            wsum = float(w.sum()) if w is not None else float(c)
            smooth = (lse * wsum - dot) if log_softmax else -dot
            smooth *= valid
            loss *= 1.0 - eps
            loss += smooth * (eps / c)
        else:
            wsum = 0.0
        ctx.save_for_backward(x)
        ctx.t, ctx.w, ctx.valid, ctx.tsafe, ctx.wt, ctx.lse = tt, w, valid, tsafe, wt, lse
        ctx.reduction, ctx.eps, ctx.wsum, ctx.log_softmax = reduction, eps, wsum, log_softmax
        if reduction == "none":
            return loss.reshape(t.shape)
        total = loss.sum(dtype=x.dtype)
        if reduction == "sum":
            return np.asarray(total)
        ctx.denom = float(wt.sum(dtype=np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as torch
            return np.asarray(total / x.dtype.type(ctx.denom), dtype=x.dtype)

    def backward(ctx, g):
        (x,) = ctx.saved
        x2 = _class_last(x)
        m, c = x2.shape
        eps, w, valid = ctx.eps, ctx.w, ctx.valid
        if ctx.reduction == "none":
            gi = np.where(valid, g.reshape(-1), 0).astype(x.dtype, copy=False)
        else:
            scale = float(g) / ctx.denom if ctx.reduction == "mean" and ctx.denom else float(g)
            if ctx.reduction == "mean" and not ctx.denom:
                scale = 0.0  # every row ignored: torch's gradient is zero
            gi = valid * x.dtype.type(scale)
        b = gi * ctx.wt * (1.0 - eps)  # subtracted at each row's target
        cs = gi * (eps / c) if eps > 0 else None  # times w_c, subtracted from every class
        if ctx.log_softmax:
            a = b + cs * ctx.wsum if eps > 0 else b
            out, lse = ctx.e, ctx.lse
            fresh = out is None  # not kept, or consumed by an earlier (retain_graph) backward
            if fresh:
                out = np.empty((m, c), dtype=x.dtype)
            else:
                a = a * ctx.rsum  # softmax = e / rowsum(e)
                ctx.e = None

            def work(r0: int, r1: int) -> None:
                for p, q in _steps(r0, r1, c):
                    o = out[p:q]
                    if fresh:
                        np.subtract(x2[p:q], lse[p:q, None], out=o)
                        np.exp(o, out=o)
                    o *= a[p:q, None]
                    if cs is not None:
                        o -= cs[p:q, None] * w if w is not None else cs[p:q, None]
            _parallel_rows(m, c, work)
        else:  # nll_loss: no label smoothing, the gradient is only at the targets
            out = np.zeros((m, c), dtype=x.dtype)
        out[np.arange(m), ctx.tsafe] -= b
        return _class_back(out, x.shape), None, None


class ProbTargetCrossEntropy(Function):
    """Cross-entropy against class probabilities t (same shape as x): with t' = (1 - eps) t +
    eps / C, loss_i = -sum_c w_c t'_ic log_softmax(x)_ic."""

    def forward(ctx, x, t, w, reduction, eps):
        x2, t2 = _class_last(x), _class_last(t)
        c = x2.shape[1]
        lse, _, _, _ = _logsumexp_rows(x2, None, False, False)
        tw = t2 * (1.0 - eps) + eps / c if eps > 0 else t2
        if w is not None:
            tw = tw * w
        tsum = tw.sum(axis=1)
        loss = lse * tsum - np.einsum("ij,ij->i", tw, x2)
        ctx.save_for_backward(x, t)
        ctx.lse, ctx.tsum, ctx.w, ctx.reduction, ctx.eps = lse, tsum, w, reduction, eps
        if reduction == "none":
            return loss.reshape(x.shape[:1] + x.shape[2:] if x.ndim > 1 else ())
        return _reduce(loss, reduction)

    def backward(ctx, g):
        x, t = ctx.saved
        x2, t2 = _class_last(x), _class_last(t)
        m, c = x2.shape
        gi = (g.reshape(-1) if ctx.reduction == "none" else
              np.full(m, float(g) / (max(m, 1) if ctx.reduction == "mean" else 1), dtype=x.dtype))
        logp = x2 - ctx.lse[:, None]
        gx = gt = None
        if ctx.needs_input_grad[0]:
            tw = t2 * (1.0 - ctx.eps) + ctx.eps / c if ctx.eps > 0 else t2.copy()
            if ctx.w is not None:
                tw *= ctx.w
            gx = np.exp(logp) * (gi * ctx.tsum)[:, None]
            gx -= tw * gi[:, None]
            gx = _class_back(gx, x.shape)
        if ctx.needs_input_grad[1]:
            logp *= -(1.0 - ctx.eps) * gi[:, None]
            if ctx.w is not None:
                logp *= ctx.w
            gt = _class_back(logp, t.shape)
        return gx, gt, None


def _class_args(fn: str, x: Tensor, target, weight):
    if x.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got {x.dtype}")
    if x.ndim == 0:
        raise RuntimeError(f"{fn}: input must have at least 1 dimension (classes), got a 0-d "
                           f"tensor")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    w = _no_grad_arg(weight, fn, "weight")
    if w is not None:
        if w.ndim != 1 or w.shape[0] != c:
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                               f"classes but got weight tensor of shape: {shape_str(w.shape)}")
        w = w.astype(x.dtype, copy=False)
    return c, w


def _check_index_target(x: Tensor, t: np.ndarray, c: int, ignore_index: int) -> np.ndarray:
    if x.ndim == 1:
        if t.size != 1 or t.ndim > 1:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported "
                               f"(input {shape_str(x.shape)}, target {shape_str(t.shape)})")
    elif x.ndim == 2:
        if t.ndim != 1:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported "
                               f"(input {shape_str(x.shape)}, target {shape_str(t.shape)})")
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target "
                             f"batch_size ({t.shape[0]}).")
    elif t.shape != x.shape[:1] + x.shape[2:]:
        raise RuntimeError(f"Expected target size {shape_str(x.shape[:1] + x.shape[2:])}, got "
                           f"{shape_str(t.shape)}")
    if t.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {t.dtype} (class "
                           f"index targets must be int64; float targets must have the input's "
                           f"shape {shape_str(x.shape)})")
    t = t.astype(np.int64, copy=False)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    return t


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` ((N, C), (C,) or (N, C, d1, ...)) and either class
    indices (int64, shape (N, d1, ...)) or class probabilities (input's shape)."""
    reduction = _reduction(reduction, size_average, reduce)
    x = as_operand(input)
    c, w = _class_args("cross_entropy", x, target, weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    tgt = as_operand(target)
    t = tgt.data if isinstance(tgt, Tensor) else np.asarray(tgt)
    if t.shape == x.shape:  # class probabilities
        if t.dtype.kind != "f":
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {t.dtype}")
        if not isinstance(tgt, Tensor) or tgt.dtype != x.dtype:
            tgt = Tensor._make(t.astype(x.dtype))
        return ProbTargetCrossEntropy.apply(x, tgt, w, reduction, float(label_smoothing))
    t = _check_index_target(x, t, c, ignore_index)
    return NllLoss.apply(x, t, w, ignore_index, reduction, float(label_smoothing), True)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``."""
    reduction = _reduction(reduction, size_average, reduce)
    x = as_operand(input)
    c, w = _class_args("nll_loss", x, target, weight)
    tgt = as_operand(target)
    t = _check_index_target(x, tgt.data if isinstance(tgt, Tensor) else np.asarray(tgt), c,
                            ignore_index)
    return NllLoss.apply(x, t, w, ignore_index, reduction, 0.0, False)


# ---------------------------------------------------------------------------- pointwise losses
class PointwiseLoss(Function):
    """An elementwise loss of broadcast (input, target), reduced. ``fn(x, t, *params)`` returns
    the loss and a closure giving (d/dx, d/dt) of each element."""

    def forward(ctx, x, t, fn, params, reduction):
        loss, ctx.grads = fn(x, t, *params)
        ctx.save_for_backward(x, t)  # only so that in-place changes to them are caught
        ctx.sx, ctx.st, ctx.shape, ctx.reduction = x.shape, t.shape, loss.shape, reduction
        return _reduce(loss, reduction)

    def backward(ctx, g):
        gl = _reduce_grad(g, ctx.shape, ctx.reduction)
        dx, dt = ctx.grads(ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        gx = unbroadcast(gl * dx, ctx.sx) if dx is not None else None
        gt = unbroadcast(gl * dt, ctx.st) if dt is not None else None
        return gx, gt


def _mse(x, t):
    d = x - t
    return d * d, lambda nx, nt: (2.0 * d if nx else None, -2.0 * d if nt else None)


def _l1(x, t):
    d = x - t
    s = np.sign(d)
    return np.abs(d), lambda nx, nt: (s if nx else None, -s if nt else None)


def _smooth_l1(x, t, beta):
    d = x - t
    ad = np.abs(d)
    if beta == 0:
        return _l1(x, t)
    small = ad < beta
    loss = np.where(small, (0.5 / beta) * d * d, ad - 0.5 * beta)
    dd = np.where(small, d * (1.0 / beta), np.sign(d))
    return loss, lambda nx, nt: (dd if nx else None, -dd if nt else None)


def _log_sigmoid(x):
    return -(np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))


def _bce_logits(x, t, w, pw):
    ls = _log_sigmoid(x)  # log(sigmoid(x)); log(1 - sigmoid(x)) = ls - x
    if pw is None:
        loss = (1 - t) * x - ls
    else:
        lw = (pw - 1) * t + 1
        loss = (1 - t) * x - lw * ls
    if w is not None:
        loss = loss * w

    def grads(nx, nt):
        gx = gt = None
        if nx:
            sig = np.exp(ls)
            gx = sig - t if pw is None else sig * ((pw - 1) * t + 1) - pw * t
            gx = gx * w if w is not None else gx
        if nt:
            gt = -x if pw is None else (1 - pw) * ls - x
            gt = gt * w if w is not None else gt
        return gx, gt
    return loss, grads


_BCE_EPS = float(np.float32(1e-12))  # torch's EPSILON is a C float, also for float64 inputs


def _bce(x, t, w):
    with np.errstate(divide="ignore"):
        logx = np.maximum(np.log(x), -100.0)
        log1mx = np.maximum(np.log1p(-x), -100.0)
    loss = -(t * logx + (1 - t) * log1mx)
    if w is not None:
        loss = loss * w

    def grads(nx, nt):
        gx = gt = None
        if nx:
            gx = (x - t) / np.maximum((1 - x) * x, _BCE_EPS)
            gx = gx * w if w is not None else gx
        if nt:
            with np.errstate(divide="ignore"):
                gt = np.log1p(-x) - np.log(x)  # unclamped, as torch
            gt = gt * w if w is not None else gt
        return gx, gt
    return loss, grads


def _kl(x, t, log_target):
    if log_target:
        et = np.exp(t)
        return et * (t - x), lambda nx, nt: (-et if nx else None, et * (t - x + 1) if nt else None)
    with np.errstate(divide="ignore", invalid="ignore"):
        tlogt = np.where(t == 0, 0, t * np.log(np.where(t == 0, 1, t)))

    def grads(nx, nt):
        gt = None
        if nt:  # torch's xlogy derivative: nan where t == 0 (from t / t)
            with np.errstate(divide="ignore", invalid="ignore"):
                gt = np.where(t == 0, 0, np.log(t)) + t / t - x
        return (-t if nx else None), gt
    return tlogt - t * x, grads


def _pair(fn: str, input, target, warn_shape: bool = True, same_shape: str | None = None):
    x, t = as_operand(input), as_operand(target)
    if not isinstance(t, Tensor):
        t = Tensor._make(np.asarray(t))
    if x.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got {x.dtype}")
    if same_shape is not None and tuple(t.shape) != tuple(x.shape):
        raise ValueError(same_shape.format(t=f"torch.Size({list(t.shape)})",
                                           x=f"torch.Size({list(x.shape)})"))
    if warn_shape and tuple(t.shape) != tuple(x.shape):
        warnings.warn(f"Using a target size ({tuple(t.shape)}) that is different to the input "
                      f"size ({tuple(x.shape)}). This will likely lead to incorrect results due "
                      f"to broadcasting. Please ensure they have the same size.", stacklevel=3)
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise RuntimeError(f"{fn}: input of shape {shape_str(x.shape)} and target of shape "
                           f"{shape_str(t.shape)} are not broadcastable") from None
    if t.dtype != x.dtype:
        from ...autograd.ops import cast
        t = cast(t, x.dtype)
    return x, t


def _weighted(loss: Tensor, weight, x: Tensor, reduction: str) -> Tensor:
    """torch's elementwise ``weight`` for mse/l1: mean divides by the sum of the weights."""
    from ...autograd import ops
    w = as_operand(weight)
    if tuple(np.shape(w.data if isinstance(w, Tensor) else w)) != tuple(x.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = ops.mul(loss, w)
    if reduction == "none":
        return loss
    return ops.sum(loss) if reduction == "sum" else ops.div(ops.sum(loss), ops.sum(w))


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)^2``, reduced."""
    reduction = _reduction(reduction, size_average, reduce)
    x, t = _pair("mse_loss", input, target)
    if weight is not None:
        return _weighted(PointwiseLoss.apply(x, t, _mse, (), "none"), weight, x, reduction)
    return PointwiseLoss.apply(x, t, _mse, (), reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced."""
    reduction = _reduction(reduction, size_average, reduce)
    x, t = _pair("l1_loss", input, target)
    if weight is not None:
        return _weighted(PointwiseLoss.apply(x, t, _l1, (), "none"), weight, x, reduction)
    return PointwiseLoss.apply(x, t, _l1, (), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Huber-like loss: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, t = _pair("smooth_l1_loss", input, target)
    return PointwiseLoss.apply(x, t, _smooth_l1, (float(beta),), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one numerically stable op; ``pos_weight`` scales the
    positive term (broadcast along the last dim), ``weight`` each element."""
    reduction = _reduction(reduction, size_average, reduce)
    fn = "binary_cross_entropy_with_logits"
    x, t = _pair(fn, input, target, warn_shape=False,
                 same_shape="Target size ({t}) must be the same as input size ({x})")
    w = _no_grad_arg(weight, fn, "weight")
    pw = _no_grad_arg(pos_weight, fn, "pos_weight")
    w = None if w is None else w.astype(x.dtype, copy=False)
    pw = None if pw is None else pw.astype(x.dtype, copy=False)
    for name, a in (("weight", w), ("pos_weight", pw)):
        if a is not None:
            try:
                ok = np.broadcast_shapes(a.shape, x.shape) == tuple(x.shape)
            except ValueError:
                ok = False
            if not ok:
                raise RuntimeError(f"{fn}: {name} of shape {shape_str(a.shape)} does not "
                                   f"broadcast to the input's shape {shape_str(x.shape)}")
    return PointwiseLoss.apply(x, t, _bce_logits, (w, pw), reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1]; each log is clamped to at
    least -100, as torch."""
    reduction = _reduction(reduction, size_average, reduce)
    fn = "binary_cross_entropy"
    x, t = _pair(fn, input, target, warn_shape=False,
                 same_shape="Using a target size ({t}) that is different to the input size "
                            "({x}) is deprecated. Please ensure they have the same size.")
    if x.data.size and (np.any(x.data < 0) or np.any(x.data > 1) or np.isnan(x.data).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = _no_grad_arg(weight, fn, "weight")
    if w is not None:
        w = w.astype(x.dtype, copy=False)
        try:
            np.broadcast_shapes(w.shape, x.shape)
        except ValueError:
            raise RuntimeError(f"{fn}: weight of shape {shape_str(w.shape)} does not broadcast "
                               f"to the input's shape {shape_str(x.shape)}") from None
    return PointwiseLoss.apply(x, t, _bce, (w,), reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` as log-probabilities: ``target * (log target - input)``
    (``log_target``: target given as log-probabilities). ``'batchmean'`` divides the sum by the
    batch size (the mathematical KL); ``'mean'`` averages over every element."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    else:
        reduction = _reduction(reduction, extra=("batchmean",))
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                          "support size.'batchmean' divides only by the batch size, and aligns "
                          "with the KL div math definition.'mean' will be changed to behave the "
                          "same as 'batchmean' in the next major release.", stacklevel=2)
    x, t = _pair("kl_div", input, target, warn_shape=False)
    if reduction != "batchmean":
        return PointwiseLoss.apply(x, t, _kl, (bool(log_target),), reduction)
    out = PointwiseLoss.apply(x, t, _kl, (bool(log_target),), "sum")
    if x.ndim == 0:
        return out
    from ...autograd import ops
    return ops.div(out, float(x.shape[0]))
