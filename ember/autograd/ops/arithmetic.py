"""Elementwise binary ops with broadcasting, selection ops, comparisons."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, check_broadcast, promote, unbroadcast


def _shape(x):
    return np.shape(x)


class Add(Function):
    def forward(ctx, a, b, alpha=1):
        ctx.sa, ctx.sb, ctx.alpha = _shape(a), _shape(b), alpha
        return a + b if alpha == 1 else a + alpha * b

    def backward(ctx, g):
        ga = unbroadcast(g, ctx.sa) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(g if ctx.alpha == 1 else g * ctx.alpha, ctx.sb)
        return ga, gb


class Sub(Function):
    def forward(ctx, a, b, alpha=1):
        ctx.sa, ctx.sb, ctx.alpha = _shape(a), _shape(b), alpha
        return a - b if alpha == 1 else a - alpha * b

    def backward(ctx, g):
        ga = unbroadcast(g, ctx.sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g if ctx.alpha == 1 else g * -ctx.alpha, ctx.sb) \
            if ctx.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        if need:  # keep only what backward reads (x * 2 keeps nothing of x)
            ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
            ctx.sa, ctx.sb = _shape(a), _shape(b)
        return a * b

    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g * b, ctx.sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, ctx.sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        if need:
            ctx.save_for_backward(a if need[1] else None, b)
            ctx.sa, ctx.sb = _shape(a), _shape(b)
        return a / b

    def backward(ctx, g):
        a, b = ctx.saved
        gdivb = g / b
        ga = unbroadcast(gdivb, ctx.sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-gdivb * a / b, ctx.sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, g):
        a, b, out = ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if np.ndim(b) == 0 and not isinstance(b, np.ndarray):
                ga = 0 * g if b == 0 else g * b * np.power(a, b - 1)
            else:  # torch: the gradient is 0 where the exponent is 0 (even at a == 0)
                ga = np.where(b == 0, 0, g * b * np.power(a, b - 1))
            ga = unbroadcast(ga, _shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.log(a)
            gb = np.where((a == 0) & (b >= 0), 0, gb)  # torch masks these to 0
            gb = unbroadcast(gb.astype(out.dtype, copy=False), _shape(b))
        return ga, gb


class Maximum(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        return _split_ties(g, a, b, a > b, ctx.needs_input_grad)


class Minimum(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        return _split_ties(g, a, b, a < b, ctx.needs_input_grad)


def _split_ties(g, a, b, a_wins, needs):
    # torch: the winner takes the gradient; exact ties split it in half
    tie = a == b
    wa = np.where(tie, 0.5, a_wins).astype(g.dtype)
    ga = unbroadcast(g * wa, _shape(a)) if needs[0] else None
    gb = unbroadcast(g * (1 - wa), _shape(b)) if needs[1] else None
    return ga, gb


class Where(Function):
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, _shape(a), _shape(b)
        return np.where(cond, a, b)

    def backward(ctx, g):
        c = ctx.cond
        ga = unbroadcast(np.where(c, g, 0).astype(g.dtype, copy=False), ctx.sa) \
            if ctx.needs_input_grad[1] else None
        gb = unbroadcast(np.where(c, 0, g).astype(g.dtype, copy=False), ctx.sb) \
            if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Clamp(Function):
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out

    def backward(ctx, g):
        x, lo, hi = ctx.saved
        keep = np.ones(x.shape, dtype=bool)
        if lo is not None:
            keep = keep & (x >= lo)
        if hi is not None:
            keep = keep & (x <= hi)
        gx = np.where(keep, g, 0).astype(g.dtype, copy=False) if ctx.needs_input_grad[0] else None
        glo = ghi = None
        if lo is not None and ctx.needs_input_grad[1]:
            glo = unbroadcast(np.where(x < lo, g, 0).astype(g.dtype, copy=False), _shape(lo))
        if hi is not None and ctx.needs_input_grad[2]:
            ghi = unbroadcast(np.where(x > hi, g, 0).astype(g.dtype, copy=False), _shape(hi))
        return gx, glo, ghi


class MaskedFill(Function):
    def forward(ctx, x, mask, value):
        ctx.mask, ctx.vshape = mask, _shape(value)
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    def backward(ctx, g):
        m = ctx.mask
        gx = np.where(m, 0, g).astype(g.dtype, copy=False) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[2]:
            gv = np.where(m, g, 0).sum().astype(g.dtype).reshape(ctx.vshape)
        return gx, None, gv


class Remainder(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.remainder(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * np.floor_divide(a, b), _shape(b)) if ctx.needs_input_grad[1] \
            else None
        return ga, gb


def _binary(cls, a, b, name: str, **kw):
    (a, b), _ = promote(a, b)
    check_broadcast(a, b, f"{name}: ")
    return cls.apply(a, b, **kw)


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    return _binary(Add, input, other, "add", alpha=alpha)


def sub(input, other, *, alpha=1) -> Tensor:
    return _binary(Sub, input, other, "sub", alpha=alpha)


def rsub(input, other, *, alpha=1) -> Tensor:
    return sub(other, input, alpha=alpha)


def mul(input, other) -> Tensor:
    return _binary(Mul, input, other, "mul")


def div(input, other, *, rounding_mode=None) -> Tensor:
    """True division (ints give floats, as in torch); rounding_mode 'floor' or 'trunc'."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        (a, b), _ = promote(input, other)
        return Tensor._make(np.trunc(np.true_divide(a.data if isinstance(a, Tensor) else a,
                                                    b.data if isinstance(b, Tensor) else b))
                            .astype(np.result_type(a.data if isinstance(a, Tensor) else a)))
    (a, b), dt = promote(input, other)
    if dt.kind in "biu":
        from .. import dtypes
        from .convert import cast
        fd = dtypes.get_default_dtype()
        a = cast(a, fd) if isinstance(a, Tensor) else a
        b = cast(b, fd) if isinstance(b, Tensor) else b
    check_broadcast(a, b, "div: ")
    return Div.apply(a, b)


def pow(input, exponent) -> Tensor:
    a, b = as_operand(input), as_operand(exponent)
    if not isinstance(a, Tensor):  # scalar ** tensor
        from .. import dtypes
        a = Tensor._make(np.asarray(a, dtype=dtypes.scalar_dtype(a)))
    (a, b), dt = promote(a, b)
    if dt.kind in "iu" and isinstance(b, Tensor) and (b.data < 0).any():
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    check_broadcast(a, b, "pow: ")
    return Pow.apply(a, b)


def neg(input) -> Tensor:
    return mul(input, -1)


def maximum(input, other) -> Tensor:
    return _binary(Maximum, input, other, "maximum")


def minimum(input, other) -> Tensor:
    return _binary(Minimum, input, other, "minimum")


def where(condition, input=None, other=None) -> Tensor:
    """``input`` where condition is true, else ``other``; with one argument, the nonzero indices."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(cond))
    (a, b), _ = promote(input, other)
    check_broadcast(a, b, "where: ")
    check_broadcast(Tensor._make(cond), a, "where: ")
    check_broadcast(Tensor._make(cond), b, "where: ")
    return Where.apply(cond, a, b)


def clamp(input, min=None, max=None) -> Tensor:
    """Clamp into [min, max]; the gradient passes where min <= x <= max (torch's rule)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    x = as_operand(input)
    lo = as_operand(min) if min is not None else None
    hi = as_operand(max) if max is not None else None
    operands = [o for o in (x, lo, hi) if o is not None]
    _, dt = promote(*operands)
    from .convert import cast

    def fix(o):
        if isinstance(o, Tensor):
            return cast(o, dt) if o.data.dtype != dt else o
        return None if o is None else np.asarray(o, dtype=dt)
    return Clamp.apply(fix(x), fix(lo), fix(hi))


clip = clamp


def clamp_min(input, min) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input, max) -> Tensor:
    return clamp(input, max=max)


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` (broadcast to input's shape) is true."""
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{m.dtype}")
    try:
        if np.broadcast_shapes(m.shape, input.shape) != tuple(input.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"masked_fill: the mask of shape {list(m.shape)} does not broadcast to "
                           f"the input's shape {list(input.shape)}") from None
    v = value
    if isinstance(v, Tensor):
        if v.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {v.ndim} dimension(s).")
    elif isinstance(v, np.generic):
        v = v.item()
    return MaskedFill.apply(input, m, v)


def floor_divide(input, other) -> Tensor:
    (a, b), dt = promote(input, other)
    return Tensor._make(np.floor_divide(a.data if isinstance(a, Tensor) else a,
                                        b.data if isinstance(b, Tensor) else b).astype(dt))


def remainder(input, other) -> Tensor:
    return _binary(Remainder, input, other, "remainder")


def _compare(fn, a, b) -> Tensor:
    a, b = as_operand(a), as_operand(b)
    check_broadcast(a, b)
    return Tensor._make(fn(a.data if isinstance(a, Tensor) else a,
                           b.data if isinstance(b, Tensor) else b))


def eq(a, b): return _compare(np.equal, a, b)
def ne(a, b): return _compare(np.not_equal, a, b)
def lt(a, b): return _compare(np.less, a, b)
def le(a, b): return _compare(np.less_equal, a, b)
def gt(a, b): return _compare(np.greater, a, b)
def ge(a, b): return _compare(np.greater_equal, a, b)
def logical_and(a, b): return _compare(np.logical_and, a, b)
def logical_or(a, b): return _compare(np.logical_or, a, b)
def logical_xor(a, b): return _compare(np.logical_xor, a, b)
def bitwise_and(a, b): return _compare(np.bitwise_and, a, b)
def bitwise_or(a, b): return _compare(np.bitwise_or, a, b)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_not(a) -> Tensor:
    return Tensor._make(np.logical_not(as_operand(a).data))


def bitwise_not(a) -> Tensor:
    return Tensor._make(np.invert(as_operand(a).data))


def equal(a: Tensor, b: Tensor) -> bool:
    """True when both have the same shape and elements."""
    return a.shape == b.shape and bool(np.array_equal(a.data, b.data))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(as_operand(a).data, as_operand(b).data, rtol, atol, equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return Tensor._make(np.isclose(as_operand(a).data, as_operand(b).data, rtol, atol, equal_nan))
