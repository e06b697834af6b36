"""Pooling: max / average over sliding windows, and adaptive average / max.

Windows are never materialised: each kernel offset is one strided view of the (padded) input
with the output's shape, so a pooling step is a handful of whole-array NumPy calls per offset
(average pooling even sums rows then columns, kH + kW calls instead of kH * kW). 1-D pooling is
2-D pooling with a unit height; unbatched inputs get a batch of one.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand, shape_str
from ...autograd.tensor import Tensor
from .conv import _offset_slice

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "max_pool1d",
    "max_pool2d",
]

_IntOrTuple = int | Sequence[int]


def _as4d(x: np.ndarray, nd: int) -> np.ndarray:
    """(N, C, H, W) view of a (N, C, [H,] W) or (C, [H,] W) array."""
    if nd == 1:
        x = x[..., None, :]
    return x if x.ndim == 4 else x[None]


def _pair(value, nd: int, name: str, what: str) -> tuple:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * nd
    vals = tuple(int(v) for v in value)
    if len(vals) == 1:
        return vals * nd
    if len(vals) != nd:
        kind = "a single int, or a tuple of two ints" if nd == 2 else "a single int"
        raise RuntimeError(f"{name}: {what} must either be {kind}")
    return vals


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input
        out -= 1
    return out


def _check_input(name: str, x: Tensor, nd: int) -> None:
    if x.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in x.shape[-nd - 1:]):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size for input, but got: {shape_str(x.shape)}")


def _window_args(name, x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate pooling arguments; returns 2-D (kernel, stride, padding, dilation, out_hw)."""
    _check_input(name, x, nd)
    if x.dtype.kind not in "fiu":
        raise RuntimeError(f'"{name}" not implemented for \'{x.dtype}\'')
    k = _pair(kernel_size, nd, name, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _pair(stride, nd, name, "stride")
    p = _pair(padding, nd, name, "padding")
    d = _pair(dilation, nd, name, "dilation")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_size={k}")
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v < 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride={s}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation={d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
        if pp > kk // 2:
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but "
                               f"got pad={pp} and kernel_size={kk}")
    spatial = x.shape[-nd:]
    out = tuple(_out_size(n, kk, ss, pp, dd, ceil_mode)
                for n, kk, ss, pp, dd in zip(spatial, k, s, p, d))
    if any(o < 1 for o in out):
        C = x.shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (C,) + tuple(spatial)))}). "
                           f"Calculated output size: ({'x'.join(map(str, (C,) + out))}). Output "
                           f"size is too small")
    if nd == 1:  # unit height
        k, s, p, d, out = (1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + out
    return k, s, p, d, out


def _padded(x4: np.ndarray, pads: tuple, need: tuple, fill) -> np.ndarray:
    """``x4`` with ``pads`` before each spatial dim and ``fill`` after, long enough for ``need``
    (a copy only when something is added)."""
    N, C, H, W = x4.shape
    (ph, pw), (nh, nw) = pads, need
    Hp, Wp = max(nh, ph + H), max(nw, pw + W)
    if (Hp, Wp) == (H, W):
        return x4
    xp = np.full((N, C, Hp, Wp), fill, dtype=x4.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x4
    return xp


def _unpadded(dxp: np.ndarray, pads: tuple, shape: tuple) -> np.ndarray:
    H, W = shape[-2:]
    ph, pw = pads
    if dxp.shape[-2:] == (H, W):
        return dxp
    return np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W])


class MaxPool2dFn(Function):
    """Max over windows; with ``return_indices`` also the flat input index of each maximum;
    the winner of a window is torch's: the first maximum in row-major order, or the last NaN."""

    def forward(ctx, x, *, kernel, stride, padding, dilation, out_hw, nd, return_indices):
        x4 = _as4d(x, nd)
        N, C, _, W = x4.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = kernel, stride, padding, dilation, out_hw
        need = ((Ho - 1) * sh + dh * (kh - 1) + 1, (Wo - 1) * sw + dw * (kw - 1) + 1)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = _padded(x4, (ph, pw), need, fill)
        has_nan = x.dtype.kind == "f" and bool(np.isnan(x).any())

        # torch starts each window at its first in-input offset (never a padded one)
        i0 = np.maximum(0, -((np.arange(Ho) * sh - ph) // dh))
        j0 = np.maximum(0, -((np.arange(Wo) * sw - pw) // dw))
        best = xp[:, :, _offset_slice(0, sh, Ho), _offset_slice(0, sw, Wo)].copy()
        want_arg = bool(ctx.needs_input_grad) or return_indices
        if want_arg:  # the winning kernel offset per window, as an unsigned code
            code = np.min_scalar_type(kh * kw)
            arg = np.empty((N, C, Ho, Wo), dtype=code)
            arg[...] = (i0[:, None] * kw + j0[None, :]).astype(code)
            upd = np.empty(best.shape, dtype=bool)
            step = np.empty(best.shape, dtype=code)
        for k in range(1, kh * kw):
            i, j = divmod(k, kw)
            v = xp[:, :, _offset_slice(i * dh, sh, Ho), _offset_slice(j * dw, sw, Wo)]
            if want_arg:
                np.greater(v, best, out=upd)
                if has_nan:
                    upd |= np.isnan(v)
                # arg = where(upd, k, arg) by wrap-around unsigned arithmetic: copyto(where=)
                # is ~10x slower
                np.subtract(k, arg, out=step)
                step *= upd
                arg += step
            np.maximum(best, v, out=best)  # NaN propagates, as torch's NaN winner does

        if ctx.needs_input_grad:
            ctx.arg = arg
            ctx.geom = (x.shape, xp.shape, kernel, stride, dilation, (ph, pw), out_hw)
        shape = x.shape[:-nd] + (out_hw if nd == 2 else out_hw[1:])
        if not return_indices:
            return best.reshape(shape)
        rows = np.arange(Ho)[:, None] * sh - ph + (arg // kw).astype(np.int64) * dh
        cols = np.arange(Wo) * sw - pw + (arg % kw).astype(np.int64) * dw
        return best.reshape(shape), (rows * W + cols).reshape(shape)

    def backward(ctx, g, _g_index=None):
        x_shape, xp_shape, (kh, kw), (sh, sw), (dh, dw), pads, (Ho, Wo) = ctx.geom
        N, C = xp_shape[:2]
        g4 = g.reshape(N, C, Ho, Wo)
        arg = ctx.arg
        dxp = np.zeros(xp_shape, dtype=g.dtype)
        # disjoint windows: every input pixel receives from at most one (window, offset)
        disjoint = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
        mask = np.empty(arg.shape, dtype=bool)
        tmp = None if disjoint else np.empty(g4.shape, dtype=g.dtype)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            view = dxp[:, :, _offset_slice(i * dh, sh, Ho), _offset_slice(j * dw, sw, Wo)]
            np.equal(arg, k, out=mask)
            if disjoint:  # this view's every slot belongs to offset k of one window
                np.multiply(g4, mask, out=view)
            else:
                np.multiply(g4, mask, out=tmp)
                view += tmp
        return _unpadded(dxp, pads, x_shape).reshape(x_shape)


class AvgPool2dFn(Function):
    """Mean over windows, with torch's divisors (padding counted or not, windows clipped to the
    padded input in ceil mode, or a fixed ``divisor_override``)."""

    def forward(ctx, x, *, kernel, stride, padding, out_hw, count_include_pad, divisor, nd):
        x4 = _as4d(x, nd)
        N, C, H, W = x4.shape
        (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = kernel, stride, padding, out_hw
        xp = _padded(x4, (ph, pw), ((Ho - 1) * sh + kh, (Wo - 1) * sw + kw), 0)
        acc_dtype = x.dtype if x.dtype.kind == "f" else np.int64
        rows = np.zeros((N, C, Ho, xp.shape[3]), dtype=acc_dtype)
        for i in range(kh):
            rows += xp[:, :, _offset_slice(i, sh, Ho), :]
        out = np.zeros((N, C, Ho, Wo), dtype=acc_dtype)
        for j in range(kw):
            out += rows[:, :, :, _offset_slice(j, sw, Wo)]

        div = _avg_divisor(H, W, kernel, stride, padding, out_hw, count_include_pad, divisor)
        if x.dtype.kind == "f":
            div = div.astype(x.dtype)
            out /= div
        else:  # integer pooling truncates toward zero, as C++ division does
            out = (np.sign(out) * (np.abs(out) // div)).astype(x.dtype)
        if ctx.needs_input_grad:
            ctx.div = div
            ctx.geom = (x.shape, xp.shape, kernel, stride, (ph, pw), out_hw)
        shape = x.shape[:-nd] + (out_hw if nd == 2 else out_hw[1:])
        return out.reshape(shape)

    def backward(ctx, g):
        x_shape, xp_shape, (kh, kw), (sh, sw), pads, (Ho, Wo) = ctx.geom
        N, C, _, Wp = xp_shape
        gd = g.reshape(N, C, Ho, Wo) / ctx.div
        rows = np.zeros((N, C, Ho, Wp), dtype=g.dtype)
        for j in range(kw):
            rows[:, :, :, _offset_slice(j, sw, Wo)] += gd
        dxp = np.zeros(xp_shape, dtype=g.dtype)
        for i in range(kh):
            dxp[:, :, _offset_slice(i, sh, Ho), :] += rows
        return _unpadded(dxp, pads, x_shape).reshape(x_shape)


def _avg_divisor(H, W, kernel, stride, padding, out_hw, count_include_pad, divisor):
    """Per output pixel divisor, (Ho, Wo) as int64 (separable: a row count times a column one)."""
    if divisor is not None:
        return np.full(out_hw, divisor, dtype=np.int64)
    counts = []
    for n, k, s, p, o in zip((H, W), kernel, stride, padding, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, n) - np.maximum(start, 0))
    return counts[0][:, None] * counts[1][None, :]


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    x = as_operand(input)
    k, s, p, d, out = _window_args(name, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    out = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p, dilation=d, out_hw=out, nd=nd,
                            return_indices=bool(return_indices))
    return (out[0], out[1].detach()) if return_indices else out


def max_pool2d(input: Tensor, kernel_size: _IntOrTuple, stride: _IntOrTuple | None = None,
               padding: _IntOrTuple = 0, dilation: _IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); padding counts as -inf. With
    ``return_indices`` also returns each maximum's flat index into its H * W plane."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input: Tensor, kernel_size: _IntOrTuple, stride: _IntOrTuple | None = None,
               padding: _IntOrTuple = 0, dilation: _IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling over (N, C, L) or (C, L); see ``max_pool2d``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override) -> Tensor:
    x = as_operand(input)
    k, s, p, _, out = _window_args(name, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    return AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, out_hw=out,
                             count_include_pad=bool(count_include_pad),
                             divisor=divisor_override, nd=nd)


def avg_pool2d(input: Tensor, kernel_size: _IntOrTuple, stride: _IntOrTuple | None = None,
               padding: _IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size: _IntOrTuple, stride: _IntOrTuple | None = None,
               padding: _IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


# ---------------------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's windows: [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, ((i + 1) * n_in + n_out - 1) // n_out


def _adaptive_args(name: str, x: Tensor, nd: int, output_size) -> tuple:
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{shape_str(x.shape)}")
    for dim in range(1 if x.ndim == nd + 2 else 0, x.ndim):
        if x.shape[dim] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {shape_str(x.shape)} with "
                               f"dimension {dim} being empty")
    if x.dtype.kind != "f":
        raise RuntimeError(f'"{name}" not implemented for \'{x.dtype}\' (floating inputs only)')
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{name}: output_size must be {nd}")
    spatial = x.shape[-nd:]
    out = tuple(int(n) if o is None else int(o) for o, n in zip(output_size, spatial))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 "
                           f"but received {out}")
    return (1,) + out if nd == 1 else out


def _averaging_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in) matrix whose row i averages adaptive window i."""
    start, end = _adaptive_bounds(n_in, n_out)
    pos = np.arange(n_in)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2dFn(Function):
    """Adaptive mean: equal windows reshape and mean; otherwise out = A_h @ x @ A_w.T with
    averaging matrices (windows may overlap and differ in size)."""

    def forward(ctx, x, *, out_hw, nd):
        x4 = _as4d(x, nd)
        N, C, H, W = x4.shape
        Ho, Wo = out_hw
        ctx.x_shape, ctx.x4_shape, ctx.out_hw = x.shape, x4.shape, out_hw
        ctx.even = Ho > 0 and Wo > 0 and H % Ho == 0 and W % Wo == 0
        if ctx.even:
            out = x4.reshape(N, C, Ho, H // Ho, Wo, W // Wo).mean(axis=(3, 5))
        else:
            ah, aw = _averaging_matrix(H, Ho, x.dtype), _averaging_matrix(W, Wo, x.dtype)
            out = np.matmul(ah, np.matmul(x4, aw.T))
            ctx.ah, ctx.aw = ah, aw
        shape = x.shape[:-nd] + (out_hw if nd == 2 else out_hw[1:])
        return out.reshape(shape)

    def backward(ctx, g):
        N, C, H, W = ctx.x4_shape
        Ho, Wo = ctx.out_hw
        g4 = g.reshape(N, C, Ho, Wo)
        if ctx.even:
            kh, kw = H // Ho, W // Wo
            gx = np.broadcast_to((g4 / (kh * kw))[:, :, :, None, :, None], (N, C, Ho, kh, Wo, kw))
        else:
            gx = np.matmul(np.matmul(ctx.ah.T, g4), ctx.aw)
        return gx.reshape(ctx.x_shape)


class AdaptiveMaxPool2dFn(Function):
    """Adaptive max with torch's winner (first maximum in row-major order, or the last NaN).
    Windows are padded to the largest one by repeating their last row/column, which changes
    neither the maximum nor the winner."""

    def forward(ctx, x, *, out_hw):
        x4 = _as4d(x, 2)
        N, C, H, W = x4.shape
        Ho, Wo = out_hw
        hs, he = _adaptive_bounds(H, Ho)
        ws, we = _adaptive_bounds(W, Wo)
        kh = int((he - hs).max()) if Ho else 0
        kw = int((we - ws).max()) if Wo else 0
        rows = np.minimum(hs[:, None] + np.arange(kh), he[:, None] - 1)  # (Ho, kh)
        cols = np.minimum(ws[:, None] + np.arange(kw), we[:, None] - 1)  # (Wo, kw)
        has_nan = x.dtype.kind == "f" and bool(np.isnan(x).any())
        best = index = None
        for i in range(kh):
            xr = x4[:, :, rows[:, i], :]
            for j in range(kw):
                v = xr[:, :, :, cols[:, j]]
                flat = rows[:, i, None] * W + cols[None, :, j]
                if best is None:
                    best, index = v.copy(), np.broadcast_to(flat, v.shape).copy()
                    continue
                upd = v > best
                if has_nan:
                    upd |= np.isnan(v)
                np.copyto(best, v, where=upd)
                np.copyto(index, flat, where=upd)
        if best is None:  # an empty output size
            best = np.empty((N, C, Ho, Wo), dtype=x.dtype)
            index = np.empty((N, C, Ho, Wo), dtype=np.int64)
        ctx.x_shape = x.shape
        if ctx.needs_input_grad:
            ctx.index = index
        shape = x.shape[:-2] + (Ho, Wo)
        return best.reshape(shape), index.reshape(shape)

    def backward(ctx, g, _g_index):
        index = ctx.index
        N, C, Ho, Wo = index.shape
        H, W = ctx.x_shape[-2:]
        dx = np.zeros((N * C, H * W), dtype=g.dtype)
        # windows can overlap, so one pixel may win several: accumulate
        np.add.at(dx, (np.arange(N * C)[:, None], index.reshape(N * C, Ho * Wo)),
                  g.reshape(N * C, Ho * Wo))
        return dx.reshape(ctx.x_shape)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed (Ho, Wo) (an int, a pair, None keeps that input size)."""
    x = as_operand(input)
    out = _adaptive_args("adaptive_avg_pool2d", x, 2, output_size)
    return AdaptiveAvgPool2dFn.apply(x, out_hw=out, nd=2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to a fixed length."""
    x = as_operand(input)
    out = _adaptive_args("adaptive_avg_pool1d", x, 1, output_size)
    return AdaptiveAvgPool2dFn.apply(x, out_hw=out, nd=1)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed (Ho, Wo); with ``return_indices`` also the flat H * W indices."""
    x = as_operand(input)
    out = _adaptive_args("adaptive_max_pool2d", x, 2, output_size)
    values, indices = AdaptiveMaxPool2dFn.apply(x, out_hw=out)
    return (values, indices.detach()) if return_indices else values
