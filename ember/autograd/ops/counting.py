"""Sets, searching and counting (no gradients): unique, unique_consecutive, searchsorted,
bucketize, histc, bincount."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import norm_dim, shape_str
from .trig import _dtype_name


def _data(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _unique_result(values, inverse, counts, return_inverse: bool, return_counts: bool):
    out = [Tensor._make(values)]
    if return_inverse:
        out.append(Tensor._make(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None):
    """The distinct elements (or slices along ``dim``), sorted; optionally each element's index
    into them (``return_inverse``) and their counts. NaNs are all distinct, as in torch."""
    a = _data(input)
    if dim is None:
        values, inverse, counts = np.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(a.shape)
    else:
        axis = norm_dim(dim, a.ndim)
        values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True,
                                            axis=axis, equal_nan=False)
        inverse = inverse.reshape(-1)
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Collapse runs of equal consecutive elements (or slices along ``dim``) to one."""
    a = _data(input)
    axis = None if dim is None else norm_dim(dim, a.ndim)
    rows = a.reshape(-1, 1) if axis is None else np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
    n = rows.shape[0]
    starts = np.ones(n, dtype=bool)
    starts[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    first = np.flatnonzero(starts)
    values = a.reshape(-1)[first] if axis is None else np.take(a, first, axis=axis)
    inverse = np.cumsum(starts) - 1
    if axis is None:
        inverse = inverse.reshape(a.shape)
    counts = np.diff(np.append(first, n))
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter=None) -> Tensor:
    """Indices where ``input`` would be inserted into the innermost dim of ``sorted_sequence`` to
    keep it sorted (the first such place, or the last with ``right=True``/``side='right'``)."""
    if side not in (None, "left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got "
                           f"{side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got "
                           "side of left while right was True")
    how = "right" if right or side == "right" else "left"
    seq = _data(sorted_sequence)
    scalar = not isinstance(input, (Tensor, np.ndarray, list, tuple))
    vals = _data(input)
    if scalar and seq.ndim != 1:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when "
                           f"boundaries tensor dimension is 1, but we got boundaries tensor "
                           f"dim({seq.ndim}) and input value's dim(0) numel(1)")
    if sorter is not None:
        seq = np.take_along_axis(seq, _data(sorter), -1)
    dt = np.int32 if out_int32 else np.int64
    if seq.ndim <= 1:
        return Tensor._make(np.searchsorted(seq.reshape(-1), vals, side=how).astype(dt))
    if seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor "
                           f"{shape_str(seq.shape)} and input value tensor "
                           f"{shape_str(vals.shape)}")
    s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
    out = np.stack([np.searchsorted(s, v, side=how) for s, v in zip(s2, v2)]) if len(s2) else \
        np.zeros(v2.shape, dt)
    return Tensor._make(out.reshape(vals.shape).astype(dt))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each element: ``i`` with ``boundaries[i-1] < x <= boundaries[i]`` (with
    ``right=True``: ``boundaries[i-1] <= x < boundaries[i]``)."""
    b = _data(boundaries)
    if b.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def histc(input, bins: int = 100, min=0, max=0) -> Tensor:
    """Counts in ``bins`` equal bins over [min, max] (the data's range when min == max);
    elements outside and NaNs are ignored. The result has the input's dtype."""
    a = _data(input)
    if a.dtype.kind != "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f'{_dtype_name(a.dtype)!r}')
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    lo, hi = a.dtype.type(min), a.dtype.type(max)
    if lo == hi and a.size:
        lo, hi = a.min(), a.max()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    keep = a[(a >= lo) & (a <= hi)]
    pos = ((keep - lo) * bins / (hi - lo)).astype(np.int64)  # in the input dtype, as torch
    pos = np.minimum(pos, bins - 1)  # x == max goes in the last bin
    return Tensor._make(np.bincount(pos, minlength=bins).astype(a.dtype))


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """Occurrences of each value 0..max of a 1-D non-negative integer tensor (summed
    ``weights`` instead of counts when given)."""
    a = _data(input)
    if a.dtype.kind not in "iu":
        raise NotImplementedError(f'"bincount_cpu" not implemented for {_dtype_name(a.dtype)!r}')
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return Tensor._make(np.bincount(a, minlength=minlength).astype(np.int64))
    w = _data(weights)
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dt = np.float32 if w.dtype == np.float32 else np.float64
    return Tensor._make(np.bincount(a, weights=w.astype(dt), minlength=minlength).astype(dt))
