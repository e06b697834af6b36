"""Padding settings and ``pad_encodings``: bring a batch of encodings to one length (HF
``tokenizers``' ``utils/padding.rs``).

Example: lengths [5, 3], batch_longest, pad_to_multiple_of=4 -> both padded to 8.
"""
from __future__ import annotations

from dataclasses import dataclass

from .encoding import Encoding
from .serialization import TokenizerFormatError, expect, fields

__all__ = ["PaddingParams", "pad_encodings"]

DIRECTIONS = {"right": "Right", "left": "Left"}


@dataclass(frozen=True)
class PaddingParams:
    """Pad to ``length`` tokens, or to the longest encoding of the batch when ``length`` is
    None; then round up to a multiple of ``pad_to_multiple_of``. Pads get ``pad_id``,
    ``pad_type_id``, ``pad_token``, attention 0 and special-token mask 1."""

    direction: str = "right"
    pad_id: int = 0
    pad_type_id: int = 0
    pad_token: str = "[PAD]"
    length: int | None = None
    pad_to_multiple_of: int | None = None

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Unknown `direction`: `{self.direction}`. Use one of `left` or "
                             "`right`")
        for name in ("pad_id", "pad_type_id", "length", "pad_to_multiple_of"):
            v = getattr(self, name)
            if v is None and name in ("length", "pad_to_multiple_of"):
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"padding {name} must be a non-negative int, got {v!r}")
        if not isinstance(self.pad_token, str):
            raise ValueError(f"padding pad_token must be a str, got {self.pad_token!r}")

    @property
    def strategy(self) -> str | int:
        """``"batch_longest"`` or the fixed length."""
        return "batch_longest" if self.length is None else self.length

    def target_length(self, encodings: list[Encoding]) -> int:
        n = self.length if self.length is not None else max(len(e) for e in encodings)
        m = self.pad_to_multiple_of
        if m and n % m:
            n += m - n % m
        return n

    def as_python_dict(self) -> dict:
        """What HF's ``Tokenizer.padding`` property returns."""
        return {"length": self.length, "pad_to_multiple_of": self.pad_to_multiple_of,
                "pad_id": self.pad_id, "pad_token": self.pad_token,
                "pad_type_id": self.pad_type_id, "direction": self.direction}

    def to_dict(self) -> dict:
        """The ``"padding"`` object of tokenizer.json."""
        return {"strategy": "BatchLongest" if self.length is None else {"Fixed": self.length},
                "direction": DIRECTIONS[self.direction],
                "pad_to_multiple_of": self.pad_to_multiple_of, "pad_id": self.pad_id,
                "pad_type_id": self.pad_type_id, "pad_token": self.pad_token}

    @classmethod
    def from_dict(cls, d: dict, path: str = "padding") -> PaddingParams:
        if not isinstance(d, dict):
            raise TokenizerFormatError(f"{path}: expected an object, got {type(d).__name__}")
        f = fields(d, path, required=("strategy", "direction", "pad_id", "pad_type_id",
                                      "pad_token"), optional={"pad_to_multiple_of": None})
        strategy = f["strategy"]
        if strategy == "BatchLongest":
            length = None
        elif isinstance(strategy, dict) and list(strategy) == ["Fixed"]:
            length = expect(strategy["Fixed"], int, f"{path}.strategy.Fixed")
        else:
            raise TokenizerFormatError(f"{path}.strategy: expected \"BatchLongest\" or "
                                       f"{{\"Fixed\": n}}, got {strategy!r:.60}")
        direction = f["direction"]
        py_dir = {v: k for k, v in DIRECTIONS.items()}.get(direction)
        if py_dir is None:
            raise TokenizerFormatError(f"{path}.direction: expected \"Left\" or \"Right\", got "
                                       f"{direction!r:.60}")
        multiple = f["pad_to_multiple_of"]
        return cls(direction=py_dir, pad_id=expect(f["pad_id"], int, f"{path}.pad_id"),
                   pad_type_id=expect(f["pad_type_id"], int, f"{path}.pad_type_id"),
                   pad_token=expect(f["pad_token"], str, f"{path}.pad_token"), length=length,
                   pad_to_multiple_of=None if multiple is None else
                   expect(multiple, int, f"{path}.pad_to_multiple_of"))


def pad_encodings(encodings: list[Encoding], params: PaddingParams) -> list[Encoding]:
    """Pad every encoding (and its overflowing windows) in place to the target length; returns
    ``encodings``. Longer encodings are left as they are."""
    if not encodings:
        return encodings
    n = params.target_length(encodings)
    for e in encodings:
        e.pad(n, params.pad_id, params.pad_type_id, params.pad_token, params.direction)
    return encodings
