"""Convolutions: ``conv1d`` and ``conv2d`` as im2col + one GEMM per group.

Forward copies every kernel offset's strided slice of the (padded) input into a column matrix
``cols`` of shape (C, kH, kW, N, Ho, Wo), i.e. (groups, C/groups * kH * kW, N * Ho * Wo), and
multiplies it by the weight viewed as (groups, O/groups, C/groups * kH * kW): one batched
``np.matmul`` call covers all groups. Backward gets the weight gradient as ``cols @ grad.T`` and
the input gradient as ``weight.T @ grad`` scattered back per kernel offset (col2im). Channels
lead in ``cols`` so the GEMM output is (O, N, Ho, Wo) and the batch never becomes a Python loop.
The column matrix is built a few MB at a time (chunks of samples or output rows) and rebuilt in
backward rather than stored. conv1d runs the same code with a unit height.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...autograd.function import Function
from ...autograd.ops._util import as_operand, shape_str
from ...autograd.tensor import Tensor

__all__ = ["conv1d", "conv2d"]

_IntOrTuple = int | Sequence[int]


def _ntuple(value, n: int, name: str) -> tuple:
    """``value`` as an n-tuple of ints (a single int, or a one-element sequence, is repeated)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    vals = tuple(int(v) for v in value)
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values "
                           f"to match the convolution dimensions, but got {name}={list(vals)}")
    return vals


def _offset_slice(start: int, step: int, count: int) -> slice:
    """The ``count`` positions ``start, start + step, ...`` of one kernel offset."""
    return slice(start, start + step * (count - 1) + 1, step)


# Internal layouts, channels first: (C, N, H, W), or (C, H, W, N) ("batch last") when output rows
# are shorter than the batch: every im2col/col2im copy then moves runs of N (or W * N) elements
# instead of W (measured 10-15% faster end to end on a 32->64 conv of 8x8 maps).
_TO_INTERNAL = {False: (1, 0, 2, 3), True: (1, 2, 3, 0)}
_FROM_INTERNAL = {False: (1, 0, 2, 3), True: (3, 0, 1, 2)}
# im2col works on chunks of about this many elements (8 MB in float32): a full column matrix is
# kH * kW times the input, and its allocation (page faults), memory traffic and the memory it
# would hold until backward cost more than extra GEMM calls (single-threaded 15-25% faster end to
# end). Smaller chunks mean many small GEMM calls, which multi-threaded BLAS handles badly on a
# busy machine (each call waits for all its threads).
_CHUNK = 1 << 21


def _grid(batch_last: bool, n: int, h: int, w: int) -> tuple:
    return (h, w, n) if batch_last else (n, h, w)


def _at(batch_last: bool, rows: slice, cols: slice) -> tuple:
    """Index of a spatial window in an internal-layout (C, ...) array."""
    return (slice(None), rows, cols, slice(None)) if batch_last else (slice(None), slice(None),
                                                                      rows, cols)


class _Geometry:
    """Sizes of one convolution and the chunking of its output grid.

    Chunks split the outer axis of the internal output grid: samples (batch first) or output
    rows (batch last).
    """

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.N, self.C, self.H, self.W = x_shape
        self.O, _, self.kh, self.kw = w_shape
        (self.pt, pb), (self.pl, pr) = padding
        (self.sh, self.sw), (self.dh, self.dw), self.G = stride, dilation, groups
        self.Hp, self.Wp = self.H + self.pt + pb, self.W + self.pl + pr
        self.Ho = (self.Hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
        self.Wo = (self.Wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        self.K = self.C * self.kh * self.kw
        # batch last pays off when im2col/col2im (K rows) outweigh the output transposes
        self.bl = self.N > self.Wo and self.K >= 2 * self.O
        self.outer = self.Ho if self.bl else self.N
        self.inner = self.Wo * self.N if self.bl else self.Ho * self.Wo  # per outer index
        self.step = max(1, _CHUNK // max(1, self.K * self.inner))

    def buffer(self, dtype) -> np.ndarray:
        """Scratch space for one chunk's (C * kH * kW, chunk) column matrix."""
        return np.empty(self.K * min(self.step, self.outer) * self.inner, dtype=dtype)

    def chunks(self):
        for o0 in range(0, self.outer, self.step):
            yield o0, min(self.outer, o0 + self.step)

    def chunk_grid(self, n: int) -> tuple:
        return (n, self.Wo, self.N) if self.bl else (n, self.Ho, self.Wo)

    def window(self, o0: int, o1: int, i: int, j: int) -> tuple:
        """Index of kernel offset (i, j)'s input pixels for output chunk [o0, o1)."""
        cols = _offset_slice(j * self.dw, self.sw, self.Wo)
        if self.bl:
            return (slice(None), _offset_slice(o0 * self.sh + i * self.dh, self.sh, o1 - o0),
                    cols, slice(None))
        return (slice(None), slice(o0, o1), _offset_slice(i * self.dh, self.sh, self.Ho), cols)

    def im2col(self, xp: np.ndarray, o0: int, o1: int, buf: np.ndarray) -> np.ndarray:
        """The (C, kH, kW, *chunk grid) columns of chunk [o0, o1), written into ``buf``."""
        shape = (self.C, self.kh, self.kw) + self.chunk_grid(o1 - o0)
        cols = buf[:self.K * (o1 - o0) * self.inner].reshape(shape)
        for i in range(self.kh):
            for j in range(self.kw):
                cols[:, i, j] = xp[self.window(o0, o1, i, j)]
        return cols


class Conv2dFn(Function):
    """2-D convolution of (N, C, H, W) by (O, C/groups, kH, kW); 1-D and unbatched inputs are
    reshaped views of it. ``padding`` is ((top, bottom), (left, right))."""

    def forward(ctx, x, w, b, *, stride, padding, dilation, groups):
        ctx.x_shape, ctx.w_shape = x.shape, w.shape
        x_in, w_in = x, w
        if w.ndim == 3:  # conv1d: unit height
            x = x.reshape(x.shape[:-1] + (1, x.shape[-1]))
            w = w.reshape(w.shape[:2] + (1, w.shape[2]))
        if x.ndim == 3:  # unbatched
            x = x[None]
        geo = _Geometry(x.shape, w.shape, stride, padding, dilation, groups)
        N, C, H, W, O, G, bl = geo.N, geo.C, geo.H, geo.W, geo.O, geo.G, geo.bl

        xp = x.transpose(_TO_INTERNAL[bl])
        if geo.Hp != H or geo.Wp != W:
            xp_view, xp = xp, np.zeros((C,) + _grid(bl, N, geo.Hp, geo.Wp), dtype=x.dtype)
            xp[_at(bl, slice(geo.pt, geo.pt + H), slice(geo.pl, geo.pl + W))] = xp_view
        res = np.empty((N, O, geo.Ho, geo.Wo), dtype=x.dtype)
        res_t = res.transpose(_TO_INTERNAL[bl])  # (O, *grid) view
        w2 = w.reshape(G, O // G, -1)
        bias = b.reshape((O, 1, 1, 1)) if b is not None else None
        buf = geo.buffer(x.dtype)
        for o0, o1 in geo.chunks():
            cols = geo.im2col(xp, o0, o1, buf)
            out = np.matmul(w2, cols.reshape(G, w2.shape[2], -1))  # (G, O/G, chunk)
            out = out.reshape((O,) + geo.chunk_grid(o1 - o0))
            if bias is not None:
                np.add(out, bias, out=res_t[:, o0:o1])
            else:
                res_t[:, o0:o1] = out

        needs = ctx.needs_input_grad
        if needs:  # only when recording; keep just what backward will read
            ctx.geo = geo
            # the input is saved (and version-checked, as torch does) for the weight gradient;
            # a padded copy is kept too, a view of the input is rebuilt in backward
            ctx.save_for_backward(x_in if needs[1] else None, w_in if needs[0] else None)
            ctx.xp = xp if needs[1] and xp.base is None else None
        out_shape = (N, O, geo.Ho, geo.Wo) if len(ctx.w_shape) == 4 else (N, O, geo.Wo)
        if len(ctx.x_shape) < len(ctx.w_shape):  # unbatched in, unbatched out
            out_shape = out_shape[1:]
        return res.reshape(out_shape)

    def backward(ctx, g):
        geo = ctx.geo
        N, C, O, G, bl = geo.N, geo.C, geo.O, geo.G, geo.bl
        needs = ctx.needs_input_grad
        x_saved, w = ctx.saved
        g4 = g.reshape(N, O, geo.Ho, geo.Wo)
        gx = gw = gb = None
        if needs[2]:
            gb = g4.sum(axis=(0, 2, 3))
        if not (needs[0] or needs[1]):
            return gx, gw, gb
        gt = np.ascontiguousarray(g4.transpose(_TO_INTERNAL[bl]))  # (O, *grid)
        if needs[1]:
            xp = ctx.xp
            if xp is None:
                xp = x_saved.reshape(geo.N, C, geo.H, geo.W).transpose(_TO_INTERNAL[bl])
            gw_acc = np.zeros((G, geo.K // G, O // G), dtype=g.dtype)
            buf = geo.buffer(g.dtype)
        if needs[0]:
            w_t = w.reshape(G, O // G, -1).transpose(0, 2, 1)  # (G, K/G, O/G)
            dxp = np.zeros((C,) + _grid(bl, N, geo.Hp, geo.Wp), dtype=g.dtype)
            gbuf = geo.buffer(g.dtype)
        for o0, o1 in geo.chunks():
            gtc = gt[:, o0:o1].reshape(G, O // G, -1)
            if needs[1]:
                # cols @ grad.T: BLAS is ~3x slower on grad @ cols.T for these shapes
                cols = geo.im2col(xp, o0, o1, buf).reshape(G, geo.K // G, -1)
                gw_acc += np.matmul(cols, gtc.transpose(0, 2, 1))
            if needs[0]:
                gcols = gbuf[:geo.K * gtc.shape[2]].reshape(G, geo.K // G, -1)
                np.matmul(w_t, gtc, out=gcols)
                gcols = gcols.reshape((C, geo.kh, geo.kw) + geo.chunk_grid(o1 - o0))
                for i in range(geo.kh):  # col2im: scatter-add each offset's columns back
                    for j in range(geo.kw):
                        dxp[geo.window(o0, o1, i, j)] += gcols[:, i, j]
        if needs[1]:
            gw = np.ascontiguousarray(gw_acc.transpose(0, 2, 1)).reshape(ctx.w_shape)
        if needs[0]:
            gx = dxp[_at(bl, slice(geo.pt, geo.pt + geo.H), slice(geo.pl, geo.pl + geo.W))]
            gx = np.ascontiguousarray(gx.transpose(_FROM_INTERNAL[bl])).reshape(ctx.x_shape)
        return gx, gw, gb


def _conv(name: str, nd: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    x, w = as_operand(input), as_operand(weight)
    b = as_operand(bias) if bias is not None else None
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {shape_str(x.shape)}")
    if w.ndim != nd + 2:
        kernel = "kH, kW" if nd == 2 else "kW"
        raise RuntimeError(f"{name}: expected weight to be {nd + 2}-D (out_channels, "
                           f"in_channels/groups, {kernel}), but got weight of size "
                           f"{shape_str(w.shape)}")
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    groups = int(groups)
    ksize = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # torch: the odd pixel of an even total padding goes after (bottom/right)
            totals = [d * (k - 1) for d, k in zip(dilation, ksize)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise RuntimeError(f"Invalid padding string: {padding!r}")
    else:
        pad = _ntuple(padding, nd, "padding")
        if any(p < 0 for p in pad):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((p, p) for p in pad)

    wshape = shape_str(w.shape)
    O = w.shape[0]
    if O < 1:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least 1 at dimension "
                           f"0, but got weight of size {wshape} instead")
    if O % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {wshape} instead")
    channels = x.shape[-nd - 1]
    if channels != w.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {wshape}, expected "
                           f"input{shape_str(x.shape)} to have {w.shape[1] * groups} channels, but "
                           f"got {channels} channels instead")
    if b is not None and (b.ndim != 1 or b.shape[0] != O):
        raise RuntimeError(f"Given weight of size {wshape}, expected bias to be 1-dimensional with "
                           f"{O} elements, but got bias of size {shape_str(b.shape)} instead")
    if x.dtype.kind not in "fiu":
        raise RuntimeError(f'"{name}" not implemented for \'{x.dtype}\'')
    if x.dtype != w.dtype:
        raise RuntimeError(f"Input type ({x.dtype}) and weight type ({w.dtype}) should be the same")
    if b is not None and b.dtype != x.dtype:
        raise RuntimeError(f"Input type ({x.dtype}) and bias type ({b.dtype}) should be the same")
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[-nd:], pads)]
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, ksize)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    if nd == 1:  # the unit height of the 2-D core
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    return Conv2dFn.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _IntOrTuple = 1,
           padding: _IntOrTuple | str = 0, dilation: _IntOrTuple = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C_in, L) or (C_in, L) by a
    (C_out, C_in/groups, kW) weight. ``padding``: an int, a 1-tuple, ``'valid'`` or ``'same'``."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _IntOrTuple = 1,
           padding: _IntOrTuple | str = 0, dilation: _IntOrTuple = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) by a
    (C_out, C_in/groups, kH, kW) weight. ``padding``: an int, a pair, ``'valid'`` or ``'same'``
    (with an even kernel the extra row/column of padding goes at the bottom/right, as in torch)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)
