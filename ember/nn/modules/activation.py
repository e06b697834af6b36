"""Activation layers: thin modules over the functional ops, with torch's names, args and repr."""
from __future__ import annotations

import numpy as np

from ...autograd import ops as _ops
from ...autograd.function import Function
from ...autograd.ops.unary import _float_input
from ...autograd.tensor import Tensor
from ..module import Module

__all__ = [
    "ELU",
    "GELU",
    "Hardtanh",
    "LeakyReLU",
    "LogSoftmax",
    "Mish",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]


def _maybe_inplace(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """torch's ``inplace=True``: write the result into the input's storage."""
    return input._inplace(out) if inplace else out


def _inplace_str(inplace: bool, lead: str = ", ") -> str:
    return f"{lead}inplace=True" if inplace else ""


class ReLU(Module):
    """``max(0, x)`` elementwise."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return _maybe_inplace(input, _ops.relu(input), self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class _HardtanhFn(Function):
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    def backward(ctx, g):
        (x,) = ctx.saved
        # torch: open interval, so the boundaries get zero gradient (clamp's is closed)
        return np.where((x > ctx.lo) & (x < ctx.hi), g, 0).astype(g.dtype, copy=False)


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``, with zero gradient at and beyond the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError("max_val must be greater than min_val")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        out = _HardtanhFn.apply(_float_input(input), self.min_val, self.max_val)
        return _maybe_inplace(input, out, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(0, x), 6)``."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class GELU(Module):
    """``x * Phi(x)``; ``approximate='tanh'`` uses the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return _ops.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)`` (swish)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return _maybe_inplace(input, _ops.silu(input), self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class _MishFn(Function):
    # fused (one saved input) so that inplace=True can hand the node a copy of x
    def forward(ctx, x):
        t = np.tanh(np.logaddexp(0, x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(x)
        ctx.t = t
        return x * t

    def backward(ctx, g):
        (x,) = ctx.saved
        t = ctx.t
        sig = 0.5 * np.tanh(0.5 * x) + 0.5
        return g * (t + x * (1 - t * t) * sig)


class Mish(Module):
    """``x * tanh(softplus(x))``."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return _maybe_inplace(input, _MishFn.apply(_float_input(input)), self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Tanh(Module):
    """Hyperbolic tangent, elementwise."""

    def forward(self, input: Tensor) -> Tensor:
        return _ops.tanh(input)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, elementwise."""

    def forward(self, input: Tensor) -> Tensor:
        return _ops.sigmoid(input)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return _ops.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return _maybe_inplace(input, _ops.leaky_relu(input, self.negative_slope), self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class ELU(Module):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return _maybe_inplace(input, _ops.elu(input, self.alpha), self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class Softmax(Module):
    """Softmax along ``dim`` (``None``: torch's legacy implicit choice)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return _ops.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``log(softmax(x))`` along ``dim``, computed stably."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return _ops.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
