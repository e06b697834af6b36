"""Trigonometric and hyperbolic functions: sinh, cosh, asin, acos, atan, atan2, hypot."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, check_broadcast, promote, unbroadcast
from .unary import _float_input


class Sinh(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sinh(x)

    def backward(ctx, g):
        return g * np.cosh(ctx.saved[0])


class Cosh(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cosh(x)

    def backward(ctx, g):
        return g * np.sinh(ctx.saved[0])


class Asin(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arcsin(x)

    def backward(ctx, g):
        x = ctx.saved[0]
        return g / np.sqrt(1 - x * x)


class Acos(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arccos(x)

    def backward(ctx, g):
        x = ctx.saved[0]
        return -g / np.sqrt(1 - x * x)


class Atan(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arctan(x)

    def backward(ctx, g):
        x = ctx.saved[0]
        return g / (1 + x * x)


class Atan2(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        denom = a * a + b * b
        # torch masks the 1 / 0 at the origin to 0, so atan2(0, 0) has zero gradient
        recip = np.where(denom == 0, 0, 1 / np.where(denom == 0, 1, denom)).astype(g.dtype)
        ga = unbroadcast(g * b * recip, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * -a * recip, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Hypot(Function):
    def forward(ctx, a, b):
        out = np.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, g):
        a, b, out = ctx.saved  # d/da = a / out: NaN at the origin, as in torch
        ga = unbroadcast(g * a / out, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * b / out, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


def sinh(input) -> Tensor: return Sinh.apply(_float_input(input))
def cosh(input) -> Tensor: return Cosh.apply(_float_input(input))
def asin(input) -> Tensor: return Asin.apply(_float_input(input))
def acos(input) -> Tensor: return Acos.apply(_float_input(input))
def atan(input) -> Tensor: return Atan.apply(_float_input(input))


arcsin, arccos, arctan = asin, acos, atan


_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double"}


def _dtype_name(dt) -> str:
    """torch's name of a dtype in error messages (``Long`` for int64)."""
    return _TORCH_NAMES.get(str(np.dtype(dt)), str(dt))


def _float_pair(input, other, name: str, allow_int: bool):
    if not isinstance(as_operand(other), Tensor) or not isinstance(as_operand(input), Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    (a, b), dt = promote(input, other)
    if dt.kind not in "fc":
        if not allow_int:
            raise NotImplementedError(f'"{name}_cpu" not implemented for {_dtype_name(dt)!r}')
        from .. import dtypes
        a, b = a.to(dtypes.get_default_dtype()), b.to(dtypes.get_default_dtype())
    check_broadcast(a, b, f"{name}: ")
    return a, b


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Angle of (other, input) in (-pi, pi]; integer inputs give the default float dtype."""
    return Atan2.apply(*_float_pair(input, other, "atan2", True))


arctan2 = atan2


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)`` without overflow; floating inputs only, as in torch."""
    return Hypot.apply(*_float_pair(input, other, "hypot", False))
