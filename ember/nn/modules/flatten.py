"""Flatten and Unflatten: reshape a contiguous range of dims into one, and back."""
from __future__ import annotations

import math

from ...autograd import ops as _ops
from ...autograd.ops._util import norm_dim
from ...autograd.tensor import Tensor
from ..module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return _ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into ``unflattened_size`` (one entry may be -1).

    Example: ``Unflatten(1, (2, 3))`` maps shape (N, 6) to (N, 2, 3).
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]):
        super().__init__()
        if isinstance(dim, str):
            raise NotImplementedError("named dimensions are not supported: dim must be an int")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, s in enumerate(unflattened_size):
            if not isinstance(s, int) or isinstance(s, bool):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of "
                                f"type {type(s).__name__} at pos {i}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        sizes = list(self.unflattened_size)
        n = input.shape[norm_dim(self.dim, input.ndim)]
        known = math.prod(s for s in sizes if s != -1)
        if sizes.count(-1) > 1:
            raise RuntimeError("unflatten: only one dimension can be inferred (-1)")
        bad = known != n if -1 not in sizes else (known == 0 or n % known)
        if bad:
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size "
                               f"of dim {self.dim} ({n}) in the input tensor")
        return _ops.unflatten(input, self.dim, sizes)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
