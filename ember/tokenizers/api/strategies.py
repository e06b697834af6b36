"""``padding=`` / ``truncation=`` / ``max_length=`` argument resolution, as transformers does it.

Example: ``resolve(tok, padding=True, truncation=None, max_length=8)`` gives
``(PaddingStrategy.LONGEST, TruncationStrategy.DO_NOT_TRUNCATE, 8)`` and warns that ``max_length``
is ignored (pad to it with ``padding="max_length"``).
"""
from __future__ import annotations

import warnings
from enum import Enum

__all__ = ["LARGE_INTEGER", "PaddingStrategy", "TruncationStrategy", "VERY_LARGE_INTEGER",
           "resolve_strategies"]

VERY_LARGE_INTEGER = int(1e30)  # model_max_length of a model without a length limit
LARGE_INTEGER = int(1e20)


class _ExplicitEnum(str, Enum):
    @classmethod
    def _missing_(cls, value):
        raise ValueError(f"{value} is not a valid {cls.__name__}, please select one of "
                         f"{[m.value for m in cls]}")


class PaddingStrategy(_ExplicitEnum):
    LONGEST = "longest"
    MAX_LENGTH = "max_length"
    DO_NOT_PAD = "do_not_pad"


class TruncationStrategy(_ExplicitEnum):
    ONLY_FIRST = "only_first"
    ONLY_SECOND = "only_second"
    LONGEST_FIRST = "longest_first"
    DO_NOT_TRUNCATE = "do_not_truncate"


def resolve_strategies(tok, padding=False, truncation=None, max_length: int | None = None,
                       pad_to_multiple_of: int | None = None, verbose: bool = True):
    """``(padding_strategy, truncation_strategy, max_length)`` for a call on ``tok``.

    Rules (transformers'): ``max_length`` alone turns on ``longest_first`` truncation; a missing
    ``max_length`` defaults to ``tok.model_max_length`` unless that is "unlimited", in which case
    max-length padding/truncation is dropped; padding needs a pad token."""
    if max_length is not None and padding is False and truncation is None:
        truncation = "longest_first"
    if padding is True:
        if verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
            warnings.warn("`max_length` is ignored when `padding`=`True` and there is no "
                          "truncation strategy. To pad to max length, use `padding='max_length'`.",
                          stacklevel=4)
        pad = PaddingStrategy.LONGEST
    elif padding is False or padding is None:
        pad = PaddingStrategy.DO_NOT_PAD
    else:
        pad = PaddingStrategy(padding)
    if truncation is True:
        trunc = TruncationStrategy.LONGEST_FIRST
    elif truncation is False or truncation is None:
        trunc = TruncationStrategy.DO_NOT_TRUNCATE
    else:
        trunc = TruncationStrategy(truncation)
    if max_length is None:
        unlimited = tok.model_max_length > LARGE_INTEGER
        if pad == PaddingStrategy.MAX_LENGTH:
            if unlimited:
                pad = PaddingStrategy.DO_NOT_PAD
            else:
                max_length = tok.model_max_length
        if trunc != TruncationStrategy.DO_NOT_TRUNCATE:
            if unlimited:
                trunc = TruncationStrategy.DO_NOT_TRUNCATE
            else:
                max_length = tok.model_max_length
    if pad != PaddingStrategy.DO_NOT_PAD and (tok.pad_token is None or tok.pad_token_id is None
                                              or tok.pad_token_id < 0):
        raise ValueError(
            "Asking to pad but the tokenizer does not have a padding token. Please select a "
            "token to use as `pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or "
            "add a new pad token via `tokenizer.add_special_tokens({'pad_token': '[PAD]'})`.")
    if trunc != TruncationStrategy.DO_NOT_TRUNCATE and pad != PaddingStrategy.DO_NOT_PAD and \
            pad_to_multiple_of is not None and max_length is not None and \
            max_length % pad_to_multiple_of != 0:
        raise ValueError("Truncation and padding are both activated but truncation length "
                         f"({max_length}) is not a multiple of pad_to_multiple_of "
                         f"({pad_to_multiple_of}).")
    return pad, trunc, max_length
