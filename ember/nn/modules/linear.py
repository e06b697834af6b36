"""``Identity`` and ``Linear``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import dtypes
from ...autograd.tensor import Tensor
from ...autograd.tensor import device as _device
from .. import init
from ..functional.linear import linear
from ..module import Module
from ..parameter import Parameter

__all__ = ["Identity", "Linear"]


def _empty(shape: tuple, device=None, dtype=None) -> np.ndarray:
    """Storage for a new parameter (filled by the module's initialiser)."""
    if device is not None:
        _device(device)
    if init.is_meta_init():
        return np.broadcast_to(np.zeros((), dtype=dtypes.as_dtype(dtype)), shape)
    return np.zeros(shape, dtype=dtypes.as_dtype(dtype))


class Identity(Module):
    """Returns its input; constructor arguments are accepted and ignored, as torch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features).

    Initialised as torch: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
