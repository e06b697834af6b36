"""Data types and torch-style type promotion.

ember's dtypes are NumPy dtypes (``ember.float32 is np.dtype('float32')``), so they compare equal
to NumPy's and pass straight to NumPy. Promotion follows PyTorch, not NumPy: an int tensor combined
with a Python float gives the default float dtype (NumPy would give float64), and a 0-dim tensor
or a Python scalar never widens a dimensioned tensor of the same category.
"""
from __future__ import annotations

import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")
int64 = long = np.dtype("int64")
bool_ = np.dtype("bool")

_default_float = float32

_BY_NAME = {
    "float16": float16, "half": float16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "int8": int8, "uint8": uint8, "int16": int16,
    "short": int16, "int32": int32, "int": int32, "int64": int64, "long": int64, "bool": bool_,
}


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    global _default_float
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def as_dtype(dtype) -> np.dtype:
    """Normalise a dtype spec (an ember/NumPy dtype, a Python type or a name) to a NumPy dtype."""
    if dtype is None:
        return _default_float
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.").removeprefix("ember.")
        if name in _BY_NAME:
            return _BY_NAME[name]
        if name == "bfloat16":
            raise TypeError("bfloat16 is a storage format only in ember (NumPy has no bfloat16); "
                            "load such weights as float32")
        raise TypeError(f"unknown dtype {dtype!r}")
    if dtype is builtins_float:
        return _default_float
    if dtype is builtins_int:
        return int64
    if dtype is builtins_bool:
        return bool_
    return np.dtype(dtype)


import builtins as _b  # noqa: E402  (the names float/int/bool above shadow the builtins)

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _category(dtype: np.dtype) -> int:
    return _CATEGORY[dtype.kind]


def scalar_dtype(x) -> np.dtype:
    """The dtype a Python scalar would get as a tensor."""
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, (builtins_int, np.integer)):
        return int64
    return _default_float


def result_type(*operands) -> np.dtype:
    """torch.result_type over ndarrays and Python scalars.

    Three priority tiers: arrays with ndim > 0, then 0-dim arrays, then Python scalars. A lower tier
    only matters when its category (bool < int < float) is higher than everything above it.
    """
    tiers: list[list[np.dtype]] = [[], [], []]
    for x in operands:
        if isinstance(x, np.ndarray):
            tiers[0 if x.ndim else 1].append(x.dtype)
        else:
            tiers[2].append(scalar_dtype(x))
    result = None
    for tier in tiers:
        if not tier:
            continue
        top = max(_category(d) for d in tier)
        best = None
        for d in tier:
            if _category(d) == top:
                best = d if best is None else np.promote_types(best, d)
        if result is None or top > _category(result):
            result = best
    return result
