"""Tensor creation: from data, constant fills, ranges, random draws."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .random import _gen
from .tensor import Tensor, device as _device


def _sizes(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _finish(arr: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    if device is not None:
        _device(device)  # a GPU device is a clear error
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer(data) -> np.ndarray:
    """torch.tensor's dtype inference: Python floats give the default dtype, ints int64."""
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, Tensor):
        return data.data.copy()
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _to_nested_arrays(data)
    arr = np.array(data)
    if arr.dtype.kind == "f" and arr.dtype != np.float16 and not _has_numpy_floats(data):
        arr = arr.astype(dtypes.get_default_dtype())
    elif arr.dtype.kind in "iu" and not isinstance(data, np.generic):
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "biufc":
        raise TypeError(f"can't convert {type(data).__name__} of dtype {arr.dtype} to a tensor")
    return arr


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _to_nested_arrays(data):
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)):
        return np.stack([np.asarray(_to_nested_arrays(d)) for d in data]) if data else []
    return data


def _has_numpy_floats(data) -> bool:
    return isinstance(data, np.floating)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (dtype inferred as torch does)."""
    arr = _infer(data)
    if dtype is not None:
        arr = arr.astype(dtypes.as_dtype(dtype), copy=False)
    return _finish(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray (or returns a Tensor as is)."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        arr = data if dtype is None else data.astype(dtypes.as_dtype(dtype), copy=False)
        return _finish(arr, False, device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    return Tensor._make(arr)


def _filled(fill, size, dtype, requires_grad, device, default=None) -> Tensor:
    shape = _sizes(size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    dt = dtypes.as_dtype(dtype) if dtype is not None else (default or dtypes.get_default_dtype())
    return _finish(fill(shape, dt), requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(np.zeros, size, dtype, requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(np.ones, size, dtype, requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    # zero-filled rather than uninitialised: stale memory makes bugs non-reproducible
    return _filled(np.zeros, size, dtype, requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    default = dtypes.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor)
                                  else fill_value)
    return _filled(lambda s, d: np.full(s, fill_value, dtype=d), (size,) if isinstance(size, int)
                   else size, dtype, requires_grad, device, default)


def _like(fn, input: Tensor, dtype, requires_grad, **kw) -> Tensor:
    dt = input.dtype if dtype is None else dtypes.as_dtype(dtype)
    return fn(*input.shape, dtype=dt, requires_grad=requires_grad, **kw)


def zeros_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, input, dtype, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(ones, input, dtype, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(empty, input, dtype, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    dt = input.dtype if dtype is None else dtype
    return full(tuple(input.shape), fill_value, dtype=dt, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals)
        dt = dtypes.int64 if is_int else dtypes.get_default_dtype()
    else:
        dt = dtypes.as_dtype(dtype)
    arr = np.arange(*vals, dtype=np.float64 if dt.kind == "f" else None).astype(dt)
    return _finish(arr, requires_grad, device)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _finish(np.linspace(start, end, int(steps)).astype(dt), requires_grad, device)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _finish(np.logspace(start, end, int(steps), base=base).astype(dt), requires_grad,
                   device)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return _finish(np.eye(n, m, dtype=dt), requires_grad, device)


def _random(draw, size, dtype, requires_grad, device, generator) -> Tensor:
    shape = _sizes(size)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if dt.kind != "f":
        raise RuntimeError(f"random floats requested with non-floating dtype {dt}")
    rng = _gen(generator)
    if dt == np.float64:
        arr = draw(rng, shape, np.float64)
    else:
        arr = draw(rng, shape, np.float32).astype(dt, copy=False)
    return _finish(arr, requires_grad, device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _random(lambda r, s, d: r.random(s, dtype=d), size, dtype, requires_grad, device,
                   generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _random(lambda r, s, d: r.standard_normal(s, dtype=d), size, dtype, requires_grad,
                   device, generator)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` and ``randint(low, high, size)``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    arr = _gen(generator).integers(low, high, size=_sizes((size,)) if isinstance(size, int)
                                   else tuple(size)).astype(dt)
    return _finish(arr, requires_grad, device)


def rand_like(input, *, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, generator=generator,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, generator=None, requires_grad: bool = False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, generator=generator,
                 requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, generator=None) -> Tensor:
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator)


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    return _finish(_gen(generator).permutation(int(n)).astype(dt), False, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None) -> Tensor:
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    shape = tuple(size) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    dt = dtypes.as_dtype(dtype) if dtype is not None else (
        mean.dtype if isinstance(mean, Tensor) else dtypes.get_default_dtype())
    return _finish(_gen(generator).normal(m, s, shape).astype(dt), False)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    probs = input.data if p is None else np.full(input.shape, p)
    return Tensor._make((_gen(generator).random(probs.shape) < probs).astype(input.dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Draw category indices from (rows of) non-negative weights."""
    w = np.asarray(input.data, dtype=np.float64)
    if (w < 0).any() or not np.isfinite(w).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = w.reshape(-1, w.shape[-1])
    rng = _gen(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, r in enumerate(rows):
        total = r.sum()
        if total <= 0:
            raise RuntimeError("multinomial: invalid probability distribution (sum of "
                               "probabilities <= 0)")
        if not replacement and num_samples > np.count_nonzero(r):
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                               "without replacement")
        out[i] = rng.choice(len(r), size=num_samples, replace=replacement, p=r / total)
    return Tensor._make(out.reshape(w.shape[:-1] + (num_samples,)))
