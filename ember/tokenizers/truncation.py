"""Truncation settings and ``truncate_encodings``: cut one sequence or a pair down to
``max_length`` tokens, keeping the cut-off parts as ``overflowing`` windows (HF ``tokenizers``'
``utils/truncation.rs``).

Example: max_length=7, longest_first, lengths (4, 8) -> (3, 4); lengths (2, 8) -> (2, 5).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .encoding import Encoding
from .serialization import TokenizerFormatError, expect, fields

__all__ = ["TruncationError", "TruncationParams", "truncate_encodings"]

STRATEGIES = {"longest_first": "LongestFirst", "only_first": "OnlyFirst",
              "only_second": "OnlySecond"}
DIRECTIONS = {"right": "Right", "left": "Left"}
# HF computes lengths in u64 (usize); a length that would go negative wraps around, which in
# practice means "no limit". We reproduce the wrap so results stay identical.
_USIZE = 1 << 64


class TruncationError(ValueError):
    """A pair cannot be truncated as asked (HF's ``TruncationError``)."""


@dataclass(frozen=True)
class TruncationParams:
    """``max_length`` tokens at most; ``stride`` tokens of overlap between overflowing windows;
    ``strategy`` picks which sequence of a pair loses tokens; ``direction`` which end is cut."""

    max_length: int = 512
    stride: int = 0
    strategy: str = "longest_first"
    direction: str = "right"

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown `strategy`: `{self.strategy}`. Use one of "
                             "`longest_first`, `only_first`, or `only_second`")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Unknown `direction`: `{self.direction}`. Use one of `left` or "
                             "`right`.")
        for name in ("max_length", "stride"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"truncation {name} must be a non-negative int, got {v!r}")

    def with_max_length(self, max_length: int) -> TruncationParams:
        """A copy with another ``max_length``; a negative one wraps like HF's usize arithmetic
        (e.g. 1 - 2 added special tokens -> no truncation at all)."""
        return replace(self, max_length=max_length % _USIZE)

    def as_python_dict(self) -> dict:
        """What HF's ``Tokenizer.truncation`` property returns."""
        return asdict(self)

    def to_dict(self) -> dict:
        """The ``"truncation"`` object of tokenizer.json."""
        return {"direction": DIRECTIONS[self.direction], "max_length": self.max_length,
                "strategy": STRATEGIES[self.strategy], "stride": self.stride}

    @classmethod
    def from_dict(cls, d: dict, path: str = "truncation") -> TruncationParams:
        if not isinstance(d, dict):
            raise TokenizerFormatError(f"{path}: expected an object, got {type(d).__name__}")
        f = fields(d, path, required=("max_length", "strategy", "stride"),
                   optional={"direction": "Right"})
        return cls(max_length=expect(f["max_length"], int, f"{path}.max_length"),
                   stride=expect(f["stride"], int, f"{path}.stride"),
                   strategy=_variant(f["strategy"], STRATEGIES, f"{path}.strategy"),
                   direction=_variant(f["direction"], DIRECTIONS, f"{path}.direction"))


def _variant(value, table: dict, path: str) -> str:
    """The Python name of a serialized enum variant ("LongestFirst" -> "longest_first")."""
    for py, js in table.items():
        if value == js:
            return py
    raise TokenizerFormatError(f"{path}: unknown variant {value!r}, expected one of "
                               f"{', '.join(table.values())}")


def truncate_encodings(encoding: Encoding, pair: Encoding | None,
                       params: TruncationParams) -> tuple[Encoding, Encoding | None]:
    """Truncate ``encoding`` (and ``pair``) in place so that together they hold at most
    ``params.max_length`` tokens; returns them. Raises TruncationError when ``only_second``
    has no pair, or when the chosen sequence is too short to remove enough tokens."""
    max_length, stride, direction = params.max_length, params.stride, params.direction
    if max_length == 0:
        encoding.truncate(0, stride, direction)
        if pair is not None:
            pair.truncate(0, stride, direction)
        return encoding, pair

    total = len(encoding) + (len(pair) if pair is not None else 0)
    if total <= max_length:
        return encoding, pair
    to_remove = total - max_length

    if params.strategy == "longest_first":
        if pair is None:
            encoding.truncate(max_length, stride, direction)
            return encoding, pair
        # Give the shorter sequence all it needs (up to half the budget); the longer one gets
        # the rest. subtle: when both are long, the odd token goes to the longer sequence.
        n1, n2 = len(encoding), len(pair)
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        n2 = n1 if n1 > max_length else max(n1, max_length - n1)
        if n1 + n2 > max_length:
            n1 = max_length // 2
            n2 = n1 + max_length % 2
        if swap:
            n1, n2 = n2, n1
        encoding.truncate(n1, stride, direction)
        pair.truncate(n2, stride, direction)
        return encoding, pair

    if params.strategy == "only_first":
        target = encoding
    elif pair is not None:
        target = pair
    else:
        raise TruncationError("Truncation error: Second sequence not provided")
    if len(target) <= to_remove:
        raise TruncationError("Truncation error: Sequence to truncate too short to respect the "
                              "provided max_length")
    target.truncate(len(target) - to_remove, stride, direction)
    return encoding, pair
