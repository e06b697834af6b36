"""Tensor methods with no ``ember.*`` function: the ``new_*`` factories (self's dtype by default),
in-place index updates (``index_add_`` ...), ``fill_diagonal_`` and ``apply_``. ``ops/__init__``
installs every name in ``__all__`` on Tensor."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import creation
from ..tensor import Tensor
from .diagonal import fill_diagonal
from .indexed import index_add, index_copy, index_fill, masked_scatter

__all__ = ["new_tensor", "new_zeros", "new_ones", "new_empty", "new_full", "index_add_",
           "index_copy_", "index_fill_", "masked_scatter_", "fill_diagonal_", "apply_"]


def new_tensor(self: Tensor, data, *, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` as a tensor of self's dtype (unless ``dtype`` is given)."""
    return creation.tensor(data, dtype=self.dtype if dtype is None else dtype, device=device,
                           requires_grad=requires_grad)


def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False):
    return creation.zeros(*size, dtype=self.dtype if dtype is None else dtype, device=device,
                          requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False):
    return creation.ones(*size, dtype=self.dtype if dtype is None else dtype, device=device,
                         requires_grad=requires_grad)


def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False):
    return creation.empty(*size, dtype=self.dtype if dtype is None else dtype, device=device,
                          requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    return creation.full(tuple(size), fill_value, dtype=self.dtype if dtype is None else dtype,
                         device=device, requires_grad=requires_grad)


def index_add_(self: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    return self._inplace(index_add(self, dim, index, source, alpha=alpha))


def index_copy_(self: Tensor, dim: int, index, source: Tensor) -> Tensor:
    return self._inplace(index_copy(self, dim, index, source))


def index_fill_(self: Tensor, dim: int, index, value) -> Tensor:
    return self._inplace(index_fill(self, dim, index, value))


def masked_scatter_(self: Tensor, mask, source: Tensor) -> Tensor:
    return self._inplace(masked_scatter(self, mask, source))


def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Fill the main diagonal (all dims equal unless 2-D); ``wrap`` restarts it every N + 1 rows
    of a tall matrix."""
    return self._inplace(fill_diagonal(self, fill_value, wrap))


def apply_(self: Tensor, callable: Callable) -> Tensor:
    """Replace each element ``v`` by ``callable(v)`` (Python numbers in and out; slow; no
    gradient)."""
    if self.requires_grad:
        raise RuntimeError("Can't call apply_() on Variable that requires grad. Use "
                           "var.detach().apply_() instead.")
    out = np.frompyfunc(callable, 1, 1)(self.data)
    np.copyto(self.data, np.asarray(out).astype(self.dtype), casting="unsafe")
    self._version[0] += 1
    return self
