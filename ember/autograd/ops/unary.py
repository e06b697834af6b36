"""Elementwise unary ops and activations, each with its derivative."""
from __future__ import annotations

import math

import numpy as np

from ..chunked import chunked
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

_erf64 = np.frompyfunc(math.erf, 1, 1)


def erf_array(x: np.ndarray) -> np.ndarray:
    """erf on an ndarray (NumPy has none). float64 goes through ``math.erf`` exactly; other floats
    use the Chebyshev-fitted erfc of Numerical Recipes (relative error < 1.2e-7, float32's
    precision) evaluated in the input's dtype."""
    if x.dtype == np.float64:
        return np.asarray(_erf64(x), dtype=np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(-z * z + poly)
    return np.copysign(1.0 - erfc, x).astype(x.dtype, copy=False)


class Exp(Function):
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        return g * ctx.saved[0]


class Log(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    def backward(ctx, g):
        return g / ctx.saved[0]


class Log1p(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    def backward(ctx, g):
        return g / (1 + ctx.saved[0])


class Expm1(Function):
    def forward(ctx, x):
        out = np.expm1(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        return g * (ctx.saved[0] + 1)


class Sqrt(Function):
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        return g / (2 * ctx.saved[0])


class Rsqrt(Function):
    def forward(ctx, x):
        out = 1 / np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        out = ctx.saved[0]
        return g * (-0.5 * out * out * out)


class Sin(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    def backward(ctx, g):
        return g * np.cos(ctx.saved[0])


class Cos(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    def backward(ctx, g):
        return -g * np.sin(ctx.saved[0])


class Tanh(Function):
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        y = ctx.saved[0]
        return g * (1 - y * y)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow for large |x| and one transcendental call
    return 0.5 * np.tanh(0.5 * x) + 0.5


class Sigmoid(Function):
    def forward(ctx, x):
        out = _sigmoid(x)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        y = ctx.saved[0]
        return g * y * (1 - y)


class Relu(Function):
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        return g * (ctx.saved[0] > 0)  # subgradient 0 at x == 0, as torch


class LeakyRelu(Function):
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return np.where(x > 0, x, x * slope)

    def backward(ctx, g):
        return np.where(ctx.saved[0] > 0, g, g * ctx.slope)


class Elu(Function):
    def forward(ctx, x, alpha):
        out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        ctx.save_for_backward(x, out)
        ctx.alpha = alpha
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        return np.where(x > 0, g, g * (out + ctx.alpha))


# -- GELU ----------------------------------------------------------------------------------------
# Both forms run as in-place passes over cache-sized blocks (autograd.chunked): on whole
# activations each of the ~10 passes would stream the array through memory.
# Exact GELU is x Phi(x) and NumPy has no erf; for float32, Phi comes from Abramowitz & Stegun
# 7.1.26, erfc(z) = t P(t) exp(-z^2) with t = 1 / (1 + p z), |error| <= 1.5e-7 (measured
# max |gelu error| 3.3e-7 against float64; torch's own float32 kernel: 1.2e-6). float64 takes
# the exact ``math.erf``.
_GELU_K = 0.044715
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _normal_tail_(a: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
    """``out = Q(a) = 1 - Phi(a) = erfc(a / sqrt 2) / 2`` for ``a >= 0``; leaves
    ``t = exp(a^2 / 2)`` (inf past |a| ~ 13, where Q is 0)."""
    np.multiply(a, _AS_P * _INV_SQRT_2, out=t)
    t += 1.0
    np.divide(1.0, t, out=t)
    np.multiply(t, 0.5 * _AS_A[4], out=out)
    for c in _AS_A[3::-1]:  # Horner, the 1/2 of Q folded into the coefficients
        out += 0.5 * c
        out *= t
    np.multiply(a, a, out=t)
    t *= 0.5
    np.exp(t, out=t)
    out /= t


def _gelu_erf_block(x, out, a, t, q) -> None:
    # gelu(x) = x Phi(x) = relu(x) - |x| Q(|x|): no cancellation for either sign
    np.abs(x, out=a)
    _normal_tail_(a, t, q)
    q *= a
    np.maximum(x, 0.0, out=t)
    np.subtract(t, q, out=out)  # out may be x: x was last read above


def _gelu_erf_cdf_block(x, out, cdf, a, t) -> None:
    """gelu into ``out`` and Phi(x) into ``cdf`` (kept for backward)."""
    np.abs(x, out=a)
    _normal_tail_(a, t, cdf)
    np.multiply(a, cdf, out=t)  # |x| Q(|x|)
    np.subtract(0.5, cdf, out=cdf)
    np.copysign(cdf, x, out=cdf)
    cdf += 0.5  # Phi(x) = 1/2 + sign(x) (1/2 - Q(|x|))
    np.maximum(x, 0.0, out=a)
    np.subtract(a, t, out=out)


def _gelu_erf_grad_block(x, cdf, g, out, s) -> None:
    # d gelu / dx = Phi(x) + x phi(x)
    np.multiply(x, x, out=s)
    s *= -0.5
    np.exp(s, out=s)
    s *= _INV_SQRT_2PI
    s *= x
    s += cdf
    np.multiply(s, g, out=out)


def _gelu_tanh_block(x, out, t, s) -> None:
    """0.5 x (1 + t), t = tanh(sqrt(2/pi) (x + k x^3)) kept in ``t``."""
    np.multiply(x, x, out=s)
    s *= _SQRT_2_OVER_PI * _GELU_K
    s += _SQRT_2_OVER_PI
    s *= x
    np.tanh(s, out=t)
    np.multiply(x, 0.5, out=s)
    np.multiply(s, t, out=out)  # out may be x: x was last read above
    out += s


def _gelu_tanh_grad_block(x, t, g, out, s, u) -> None:
    # 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 k x^2)
    np.multiply(x, x, out=s)
    s *= 3 * _GELU_K * _SQRT_2_OVER_PI
    s += _SQRT_2_OVER_PI
    s *= x
    np.multiply(t, t, out=u)
    np.subtract(1.0, u, out=u)
    s *= u
    s += t
    s += 1.0
    s *= 0.5
    np.multiply(s, g, out=out)


def _rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous (rows, last axis) view (or copy) of ``a``, for blocked kernels."""
    a = np.asarray(a, order="C")
    return a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(-1)


def gelu_(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """GELU of a C-contiguous float array, in place (the no-grad kernel); returns ``x``."""
    x2 = _rows(x)
    if approximate == "tanh":
        chunked(_gelu_tanh_block, [x2, x2], 2)
    elif x.dtype == np.float32:
        chunked(_gelu_erf_block, [x2, x2], 3)
    else:
        x *= 0.5 * (1.0 + erf_array(x * _INV_SQRT_2))
    return x


class Gelu(Function):
    """GELU, exact (erf) or the tanh approximation, with a fused derivative; keeps x and tanh(.)
    (or Phi(x)) for backward."""

    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        if not ctx.needs_input_grad:
            return gelu_(np.array(x, order="C"), approximate)
        x = np.asarray(x, order="C")
        ctx.save_for_backward(x)
        x2 = _rows(x)
        out = np.empty_like(x)
        aux = np.empty_like(x)  # tanh(inner) or Phi(x)
        if approximate == "tanh":
            chunked(_gelu_tanh_block, [x2, out.reshape(x2.shape), aux.reshape(x2.shape)], 1)
        elif x.dtype == np.float32:
            chunked(_gelu_erf_cdf_block, [x2, out.reshape(x2.shape), aux.reshape(x2.shape)], 2)
        else:
            aux = 0.5 * (1 + erf_array(x * _INV_SQRT_2))
            np.multiply(x, aux, out=out)
        ctx.aux = aux
        return out

    def backward(ctx, g):
        (x,) = ctx.saved
        x2 = _rows(x)
        out = np.empty_like(x)
        arrays = [x2, ctx.aux.reshape(x2.shape), _rows(g), out.reshape(x2.shape)]
        if ctx.approximate == "tanh":
            chunked(_gelu_tanh_grad_block, arrays, 2)
        else:
            chunked(_gelu_erf_grad_block, arrays, 1)
        return out


class Silu(Function):
    def forward(ctx, x):
        s = _sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    def backward(ctx, g):
        x, s = ctx.saved
        return g * s * (1 + x * (1 - s))


class Softplus(Function):
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * beta
        return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)

    def backward(ctx, g):
        (x,) = ctx.saved
        bx = x * ctx.beta
        return np.where(bx > ctx.threshold, g, g * _sigmoid(bx))


class Abs(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    def backward(ctx, g):
        return g * np.sign(ctx.saved[0])


class Erf(Function):
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    def backward(ctx, g):
        x = ctx.saved[0]
        return g * (_TWO_OVER_SQRT_PI * np.exp(-x * x))


class ZeroGrad(Function):
    """Piecewise-constant ops (round, floor, sign, ...): the gradient is zero everywhere."""

    def forward(ctx, x, fn):
        ctx.shape = x.shape
        return fn(x)

    def backward(ctx, g):
        return np.zeros(ctx.shape, dtype=g.dtype)


def _float_input(x) -> Tensor:
    x = as_operand(x)
    if not isinstance(x, Tensor):
        x = Tensor._make(np.asarray(x))
    if x.data.dtype.kind not in "fc":
        from .. import dtypes
        from .convert import cast
        x = cast(x, dtypes.get_default_dtype())
    return x


def exp(input) -> Tensor: return Exp.apply(_float_input(input))
def log(input) -> Tensor: return Log.apply(_float_input(input))
def log1p(input) -> Tensor: return Log1p.apply(_float_input(input))
def expm1(input) -> Tensor: return Expm1.apply(_float_input(input))
def sqrt(input) -> Tensor: return Sqrt.apply(_float_input(input))
def rsqrt(input) -> Tensor: return Rsqrt.apply(_float_input(input))
def sin(input) -> Tensor: return Sin.apply(_float_input(input))
def cos(input) -> Tensor: return Cos.apply(_float_input(input))
def tanh(input) -> Tensor: return Tanh.apply(_float_input(input))
def sigmoid(input) -> Tensor: return Sigmoid.apply(_float_input(input))
def silu(input) -> Tensor: return Silu.apply(_float_input(input))
def erf(input) -> Tensor: return Erf.apply(_float_input(input))


def log2(input) -> Tensor:
    return log(input) * (1.0 / math.log(2.0))


def log10(input) -> Tensor:
    return log(input) * (1.0 / math.log(10.0))


def square(input) -> Tensor:
    from .arithmetic import mul
    return mul(input, input)


def reciprocal(input) -> Tensor:
    from .arithmetic import div
    return div(1.0, _float_input(input))


def relu(input) -> Tensor:
    x = as_operand(input)
    return Relu.apply(x)


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(_float_input(input), negative_slope)


def elu(input, alpha: float = 1.0) -> Tensor:
    return Elu.apply(_float_input(input), alpha)


def gelu(input, approximate: str = "none") -> Tensor:
    """GELU: ``x * Phi(x)``; ``approximate='tanh'`` gives the GPT-2 ("gelu_new") form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return Gelu.apply(_float_input(input), approximate)


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(_float_input(input), beta, threshold)


def abs(input) -> Tensor:
    return Abs.apply(as_operand(input))


absolute = abs


def _piecewise(fn):
    def op(input) -> Tensor:
        x = as_operand(input)
        if x.data.dtype.kind not in "fc":
            return Tensor._make(fn(x.data))
        return ZeroGrad.apply(x, fn)
    op.__name__ = fn.__name__
    return op


sign = _piecewise(np.sign)
floor = _piecewise(np.floor)
ceil = _piecewise(np.ceil)
trunc = _piecewise(np.trunc)
round = _piecewise(np.round)


def isnan(input) -> Tensor: return Tensor._make(np.isnan(as_operand(input).data))
def isinf(input) -> Tensor: return Tensor._make(np.isinf(as_operand(input).data))
def isfinite(input) -> Tensor: return Tensor._make(np.isfinite(as_operand(input).data))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None) -> Tensor:
    x = as_operand(input)
    return Tensor._make(np.nan_to_num(x.data, nan=nan, posinf=posinf, neginf=neginf))
