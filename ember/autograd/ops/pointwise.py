"""More elementwise math: exp2, fmod, logaddexp, xlogy, logsigmoid, lerp, addcmul, addcdiv."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, check_broadcast, promote, unbroadcast
from .arithmetic import add, div, mul, sub
from .trig import _dtype_name, _float_pair
from .unary import _float_input, _sigmoid

_LN2 = math.log(2.0)


class Exp2(Function):
    def forward(ctx, x):
        out = np.exp2(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        return g * ctx.saved[0] * _LN2


class Fmod(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.fmod(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        ga = unbroadcast(g, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(-g * np.trunc(a / b), np.shape(b))
        return ga, gb


class LogAddExp(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.logaddexp(a, b)

    def backward(ctx, g):
        a, b = ctx.saved  # torch's formula: NaN where both are the same infinity
        ga = unbroadcast(g / (1 + np.exp(b - a)), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g / (1 + np.exp(a - b)), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


def _xlogy(x, y):
    """``x * log(y)``, 0 where x == 0 unless y is NaN (torch's definition)."""
    out = np.where(x == 0, 0, x * np.log(y))
    return np.where(np.isnan(y), np.nan, out).astype(np.result_type(x, y), copy=False)


class Xlogy(Function):
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return _xlogy(x, y)

    def backward(ctx, g):
        x, y = ctx.saved
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = np.where((x == 0) & (y <= 0), 0, _xlogy(g, y)).astype(g.dtype, copy=False)
            gx = unbroadcast(gx, np.shape(x))
        if ctx.needs_input_grad[1]:
            gy = unbroadcast(g * x / y, np.shape(y))
        return gx, gy


class LogSigmoid(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))  # no overflow either side

    def backward(ctx, g):
        return g * _sigmoid(-ctx.saved[0])


def exp2(input) -> Tensor:
    """``2 ** input``."""
    return Exp2.apply(_float_input(input))


def fmod(input, other) -> Tensor:
    """C-style remainder: the result has the sign of the dividend (``remainder`` follows the
    divisor)."""
    (a, b), dt = promote(input, other)
    if dt.kind in "iub" and np.any((b.data if isinstance(b, Tensor) else b) == 0):
        raise RuntimeError("ZeroDivisionError")
    check_broadcast(a, b, "fmod: ")
    return Fmod.apply(a, b)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow."""
    return LogAddExp.apply(*_float_pair(input, other, "logaddexp", False))


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, with 0 where input is 0 (even when other is 0)."""
    (x, y), dt = promote(input, other)
    if dt.kind not in "fc":
        fd = dtypes.get_default_dtype()
        x = x.to(fd) if isinstance(x, Tensor) else x
        y = y.to(fd) if isinstance(y, Tensor) else y
    check_broadcast(x, y, "xlogy: ")
    return Xlogy.apply(x, y)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(input))``, stable for large |input| (``nn.functional.logsigmoid``)."""
    x = as_operand(input)
    if x.dtype.kind not in "fc":
        raise NotImplementedError(f'"log_sigmoid_cpu" not implemented for '
                                  f'{_dtype_name(x.dtype)!r}')
    return LogSigmoid.apply(x)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` is a float or a tensor."""
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp() received an invalid combination of arguments: 'end' must be a "
                        f"Tensor, not {type(end).__name__}")
    if input.dtype.kind not in "fc":
        raise NotImplementedError(f'"lerp_kernel_scalar" not implemented for '
                                  f'{_dtype_name(input.dtype)!r}')
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype and (name == "end" or t.ndim):
            raise RuntimeError(f"expected dtype {_dtype_name(input.dtype).lower()} for `{name}` "
                               f"but got dtype {_dtype_name(t.dtype).lower()}")
    check_broadcast(input, end, "lerp: ")
    if isinstance(weight, Tensor):
        check_broadcast(input, weight, "lerp: ")
    return add(input, mul(weight, sub(end, input)))


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    prod = mul(tensor1, tensor2)
    if dtypes.result_type(as_operand(input).data, prod.data).kind in "iub":
        value = int(value)  # torch casts the scalar to the integer result type
    return add(input, prod, alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``; integer tensor1 and tensor2 are an error, as in
    torch."""
    if as_operand(tensor1).dtype.kind in "iub" and as_operand(tensor2).dtype.kind in "iub":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    return add(input, div(tensor1, tensor2), alpha=value)
