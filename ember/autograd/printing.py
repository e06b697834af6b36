"""How tensors print: ``ember.set_printoptions`` and torch's choice of number format."""
from __future__ import annotations

import math
import sys

import numpy as np

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options: dict = {**_PROFILES["default"], "sci_mode": None}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as ``torch.set_printoptions``: ``precision`` digits, summarize
    above ``threshold`` elements showing ``edgeitems`` per edge, wrap at ``linewidth``;
    ``sci_mode`` True/False forces or forbids scientific notation (None: automatic, and passing
    None resets it, as in torch); ``profile`` is 'default', 'short' or 'full'."""
    if profile is not None:
        _options.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _options[key] = value
    _options["sci_mode"] = sci_mode


def _edges(a: np.ndarray, k: int) -> np.ndarray:
    """The elements a summarized print shows (the first and last k along each dim)."""
    for ax, n in enumerate(a.shape):
        if n > 2 * k:
            a = np.take(a, list(range(k)) + list(range(n - k, n)), axis=ax)
    return a


def _float_formatter(a: np.ndarray):
    """torch's rule: integral values print as ``1.``; scientific when the nonzero magnitudes
    span over 1000x, exceed 1e8 or (non-integral) go below 1e-4; else ``precision`` decimals.
    Every element is padded to one width."""
    p = _options["precision"]
    finite = a[np.isfinite(a)]
    shown = finite[finite != 0]
    mags = np.abs(shown)
    int_mode = bool(np.all(np.ceil(finite) == finite))
    sci = False
    if mags.size:  # all zero or non-finite: torch keeps the fixed format, whatever sci_mode says
        big, small = float(mags.max()), float(mags.min())
        sci = big / small > 1000 or big > 1e8 or (not int_mode and small < 1e-4)
        if _options["sci_mode"] is not None:
            sci = _options["sci_mode"]
    spec = f".{p}e" if sci else ".0f" if int_mode else f".{p}f"
    dot = "." if int_mode and not sci else ""

    def one(v) -> str:
        return format(float(v), spec) + dot if np.isfinite(v) else str(float(v))
    width = max((len(one(v)) for v in shown), default=1)  # NaN and inf do not widen
    return lambda v: one(v).rjust(width)


def format_array(arr: np.ndarray, prefix: str = "tensor(") -> str:
    """The body of a tensor's repr, following the current print options."""
    o = _options
    threshold = sys.maxsize if o["threshold"] == math.inf else int(o["threshold"])
    kw = {}
    if arr.dtype.kind == "f" and arr.size:
        shown = _edges(arr, o["edgeitems"]) if arr.size > threshold else arr
        kw["formatter"] = {"float_kind": _float_formatter(shown)}
    body = np.array2string(arr, separator=", ", prefix=prefix, precision=o["precision"],
                           threshold=threshold, edgeitems=o["edgeitems"],
                           max_line_width=o["linewidth"], **kw)
    return body.replace(", ...,", ",  ...,")  # torch's summary mark is " ..."


def add_suffixes(text: str, suffixes: list, indent: int = 7) -> str:
    """Close a repr with ``, dtype=...``-style suffixes, each moved to its own line when it
    would pass the line width (torch's ``_add_suffixes``)."""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > _options["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(parts) + ")"
