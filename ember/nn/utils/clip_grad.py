"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``, as ``torch.nn.utils``.

The total norm is torch's: the norm of the per-tensor norms, in the gradients' dtype. Each
gradient is read once for its norm (a BLAS dot for the 2-norm) and scaled in place.
"""
from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from ...autograd.chunked import chunked
from ...autograd.tensor import Tensor

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
]

_Tensors = Tensor | Iterable[Tensor]


def _vector_norm(a: np.ndarray, p: float) -> np.ndarray:
    """``torch.linalg.vector_norm(a, p)`` of a flattened array, as a 0-d array of a's dtype."""
    flat = a.reshape(-1)
    if flat.dtype == np.float16:  # accumulate in float32, as torch does for half
        return _vector_norm(flat.astype(np.float32), p).astype(np.float16)
    if flat.size == 0:
        return np.zeros((), a.dtype)
    if p == 2.0:
        return np.sqrt(np.dot(flat, flat))
    if p == 1.0:
        return np.abs(flat).sum()
    if p == math.inf:
        return np.maximum(flat.max(), -flat.min())  # no |a| temporary; NaN propagates
    if p == -math.inf:
        return np.abs(flat).min()
    if p == 0.0:
        return np.asarray(np.count_nonzero(flat), a.dtype)
    return (np.abs(flat) ** p).sum() ** (1.0 / p)


def _as_list(tensors: _Tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors: _Tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type`` norm of all ``tensors`` together, as a 0-d tensor."""
    arrays = [t.data for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor._make(np.zeros((), np.float32))
    dtype = np.result_type(*arrays)
    norms = np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype)
    total = _vector_norm(norms, norm_type).astype(dtype, copy=False)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return Tensor._make(np.asarray(total))


def clip_grads_with_norm_(parameters: _Tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = [p.grad.data for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (total + 1e-6), 1.0)  # in the norm's dtype, as torch
    if coef == 1.0:
        return  # torch multiplies by 1.0 here; skipping it changes nothing
    base = _tiled_base(grads)
    if base is not None:  # an optimizer's flat gradient buffer: one blocked, threaded pass
        c = coef.astype(base.dtype)
        chunked(lambda blk: np.multiply(blk, c, out=blk), [base])
        return
    with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in torch, without a warning
        for g in grads:
            g *= coef.astype(g.dtype)


def _tiled_base(arrays: list) -> np.ndarray | None:
    """The 1-D array that ``arrays`` are contiguous, non-overlapping views of and cover exactly,
    in some order (the flat gradient storage of ember's optimizers), else None."""
    base = arrays[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    spans = []
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous:
            return None
        start = a.__array_interface__["data"][0]
        spans.append((start, start + a.nbytes))
    spans.sort()
    end = base.__array_interface__["data"][0]
    for lo, hi in spans:
        if lo != end:
            return None
        end = hi
    return base if end == base.__array_interface__["data"][0] + base.nbytes else None


def clip_grad_norm_(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so their total ``norm_type`` norm is at most ``max_norm``;
    returns the total norm before clipping (a 0-d tensor). ``foreach`` is accepted and
    ignored."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        gen = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if gen and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: _Tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place."""
    v = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -v, v, out=p.grad.data)
