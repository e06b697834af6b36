"""Helpers shared by the models: vocab checking and ordering, a bounded word cache, the
byte-offset conversion HF applies to byte-level tokens, and file output like HF's ``save``."""
from __future__ import annotations

import json
import math
import os
import warnings

from ..serialization import TokenizerFormatError, expect

__all__ = ["WordCache", "byte_spans_to_chars", "check_vocab", "dump_compact_json",
           "ordered_vocab", "output_path", "serde_json_float"]

# HF's default cache capacity and the longest word (in UTF-8 bytes, exclusive) it caches.
DEFAULT_CACHE_CAPACITY = 10_000
MAX_CACHED_WORD_BYTES = 256


class WordCache(dict):
    """A word -> tokens dict that stops growing at ``capacity`` (as HF's model caches do: no
    eviction, so a hit never pays for bookkeeping)."""

    __slots__ = ("capacity",)

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity

    def put(self, word: str, value) -> None:
        if len(self) < self.capacity and len(word.encode("utf-8")) < MAX_CACHED_WORD_BYTES:
            self[word] = value


def check_vocab(vocab, path: str) -> dict[str, int]:
    """A ``{token: id}`` mapping with string keys and non-negative int ids."""
    expect(vocab, dict, path)
    for k, v in vocab.items():
        if not isinstance(k, str):
            raise TokenizerFormatError(f"{path}: token {k!r} is not a string")
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise TokenizerFormatError(f"{path}[{k!r}]: expected a non-negative int id, got {v!r}")
    return vocab


def ordered_vocab(vocab_r: dict[int, str]) -> dict[str, int]:
    """``{token: id}`` in id order, as HF writes vocabularies (ids missing from the range are
    skipped with a warning, like HF's ``OrderedVocabIter``)."""
    if not vocab_r:
        return {}
    out = {}
    holes = 0
    for i in range(max(vocab_r) + 1):
        tok = vocab_r.get(i)
        if tok is None:
            holes += 1
        else:
            out[tok] = i
    if holes:
        warnings.warn(f"the vocabulary has {holes} missing id(s); they are skipped when "
                      f"serializing", stacklevel=3)
    return out


def byte_spans_to_chars(word: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map UTF-8 byte spans of ``word`` to char spans the way HF reports offsets: the start is
    the char holding the first byte, the end is one past the char holding the last byte (so
    every byte token of a char spans that char). Spans reaching past the word stay as they are.

    Example: for "aé" (bytes a=0, é=1..2) the spans (1, 2) and (2, 3) both become (1, 2).
    """
    owner = []
    for i, c in enumerate(word):
        owner.extend([i] * len(c.encode("utf-8")))
    n = len(owner)
    out = []
    for s, e in spans:
        if s < n and 0 < e <= n:
            out.append((owner[s], owner[e - 1] + 1))
        else:
            out.append((s, e))
    return out


def output_path(folder: str, prefix: str | None, name: str) -> str:
    return os.path.join(folder, f"{prefix}-{name}" if prefix else name)


def dump_compact_json(obj, path: str) -> None:
    """Write JSON the way serde_json's compact writer does (no spaces, raw UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


_POW10 = [float(f"1e{i}") for i in range(309)]


def serde_json_float(x: float) -> float:
    """The float HF gets when it reads ``x`` from JSON.

    HF parses numbers with serde_json's fast path (no ``float_roundtrip``): the decimal digits
    become an integer, converted to f64, then divided by a power of ten; two roundings that
    miss the correctly rounded value by one ulp for roughly one number in eight. Unigram
    scores decide ties, so ember reads them the same way. ``repr`` gives back the digits HF
    wrote (both print the shortest round-tripping decimal).

    Example: "-1.6620069137283995" reads as -1.6620069137283997 in HF.
    """
    if x == 0.0 or not math.isfinite(x):
        return x
    text = repr(x)
    negative = text.startswith("-")
    mantissa, _, exp = text.lstrip("-").partition("e")
    whole, _, frac = mantissa.partition(".")
    exponent = (int(exp) if exp else 0) - len(frac)
    f = float(int(whole + frac))
    while True:
        k = abs(exponent)
        if k < len(_POW10):
            f = f * _POW10[k] if exponent >= 0 else f / _POW10[k]
            break
        if f == 0.0:
            break
        f /= 1e308  # tiny numbers are scaled down in steps, as serde_json does
        exponent += 308
    return -f if negative else f
