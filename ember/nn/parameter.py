"""``Parameter``: a leaf tensor that a Module registers as learnable."""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad by default and is found by ``Module.parameters()``.

    ``Parameter(t)`` shares ``t``'s memory, as in torch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data.data
        else:
            arr = np.asarray(data)
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    __slots__ = ("persistent",)

    def __init__(self, data, *, persistent: bool = True):
        arr = data.data if isinstance(data, Tensor) else np.asarray(data)
        self._init(arr)
        self.persistent = persistent
