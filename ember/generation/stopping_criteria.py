"""Stopping criteria: per-row "this sequence is done" flags, checked after every new token.

A criterion takes ``(input_ids, scores)``, the ids so far ``(B, L)`` (NumPy int64) and the
processed scores of the steps so far (a tuple, or None when they are not kept), and returns a
``(B,)`` bool array. ``generate`` builds ``MaxLengthCriteria``, ``MaxTimeCriteria``,
``StopStringCriteria`` and ``EosTokenCriteria`` from the generation config, as transformers does.
"""
from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tokenizers.unicode_tables import UNICODE_TO_BYTES

__all__ = [
    "EosTokenCriteria", "MaxLengthCriteria", "MaxTimeCriteria", "StopStringCriteria",
    "StoppingCriteria", "StoppingCriteriaList",
]

logger = logging.getLogger("ember.generation")


class StoppingCriteria:
    """Base class: ``__call__(input_ids, scores) -> (B,) bool``."""

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")


class MaxLengthCriteria(StoppingCriteria):
    """Every row is done once the sequences (prompt included) reach ``max_length`` tokens."""

    def __init__(self, max_length: int, max_position_embeddings: int | None = None) -> None:
        self.max_length = max_length
        self.max_position_embeddings = max_position_embeddings
        self._warned = False

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, **kwargs: Any) -> np.ndarray:
        cur_len = input_ids.shape[1]
        done = cur_len >= self.max_length
        mpe = self.max_position_embeddings
        if mpe is not None and not done and cur_len > mpe and not self._warned:
            self._warned = True
            logger.warning("The generation has exceeded the model's maximum length (%d).", mpe)
        return np.full(input_ids.shape[0], done, dtype=bool)


class MaxTimeCriteria(StoppingCriteria):
    """Every row is done once ``max_time`` seconds have passed since ``initial_timestamp``
    (default: construction)."""

    def __init__(self, max_time: float, initial_timestamp: float | None = None) -> None:
        self.max_time = max_time
        self.initial_timestamp = time.time() if initial_timestamp is None else initial_timestamp

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, **kwargs: Any) -> np.ndarray:
        done = time.time() - self.initial_timestamp > self.max_time
        return np.full(input_ids.shape[0], done, dtype=bool)


class EosTokenCriteria(StoppingCriteria):
    """A row is done when its last token is one of ``eos_token_id``."""

    def __init__(self, eos_token_id: int | Sequence[int] | np.ndarray) -> None:
        if hasattr(eos_token_id, "tolist") and not isinstance(eos_token_id, np.ndarray):
            eos_token_id = eos_token_id.tolist()
        self.eos_token_id = np.atleast_1d(np.asarray(eos_token_id, dtype=np.int64))

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, new_token_length: int = 1,
                 **kwargs: Any) -> np.ndarray:
        return np.isin(input_ids[:, -new_token_length:], self.eos_token_id).any(-1)


class StoppingCriteriaList(list):
    """A list of criteria; a row is done when any of them says so."""

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, **kwargs: Any) -> np.ndarray:
        done = np.zeros(input_ids.shape[0], dtype=bool)
        for criterion in self:
            done = done | np.asarray(criterion(input_ids, scores, **kwargs), dtype=bool)
        return done

    @property
    def max_length(self) -> int | None:
        for criterion in self:
            if isinstance(criterion, MaxLengthCriteria):
                return criterion.max_length
        return None


# -- stop strings ---------------------------------------------------------------------------------

def _decoder_config(decoder: Any) -> Any:
    """A decoder's JSON description: ember decoders have ``to_dict``; the ``tokenizers``
    package's expose it through ``__getstate__``."""
    to_dict = getattr(decoder, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict()
        except Exception:  # noqa: BLE001 - an opaque decoder: no mode
            return None
    state = getattr(decoder, "__getstate__", lambda: None)()
    if isinstance(state, str):
        state = state.encode()
    if isinstance(state, bytes):
        try:
            return json.loads(state)
        except json.JSONDecodeError:
            return None
    return None


def _has_type(config: Any, name: str) -> bool:
    if isinstance(config, dict):
        return config.get("type") == name or any(_has_type(v, name) for v in config.values())
    if isinstance(config, list):
        return any(_has_type(v, name) for v in config)
    return False


def _matching_mode(tokenizer: Any) -> str | None:
    """"byte_level" / "byte_fallback" when stop strings must be matched as UTF-8 bytes (a token
    may hold part of a character), else None (match as text)."""
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if decoder is None:
        return None
    if type(decoder).__name__ == "ByteLevel":
        return "byte_level"
    config = _decoder_config(decoder)
    if _has_type(config, "ByteFallback"):
        return "byte_fallback"
    if _has_type(config, "ByteLevel"):
        return "byte_level"
    return None


def _token_bytes(token: str, mode: str | None, byte_decoder: dict[str, int] | None
                 ) -> bytes | None:
    if mode == "byte_level":
        if byte_decoder is not None and all(c in byte_decoder for c in token):
            return bytes(byte_decoder[c] for c in token)
        return None
    if mode == "byte_fallback" and (len(token) == 6 and token.startswith("<0x")
                                    and token.endswith(">")
                                    and all(c in "0123456789abcdefABCDEF" for c in token[3:5])):
        return bytes([int(token[3:5], 16)])
    return None


def _clean_vocab(tokenizer: Any, mode: str | None,
                 static_prefix: str = "abcdef") -> dict[int, str | bytes]:
    """id -> the text (or bytes) a token contributes to a decoded string, without markers such
    as "Ġ" or "##". A token is decoded after a fixed prefix, which is then cut off, so decoders
    that treat the first token differently (stripping a leading space) do not distort it."""
    byte_decoder = UNICODE_TO_BYTES if mode == "byte_level" else None
    base_ids = tokenizer(static_prefix, add_special_tokens=False)["input_ids"]
    if hasattr(base_ids, "tolist"):
        base_ids = base_ids.tolist()
    base_tokens = [tokenizer.convert_ids_to_tokens(int(i)) for i in base_ids]
    out: dict[int, str | bytes] = {}
    for token, idx in tokenizer.get_vocab().items():
        text = _token_bytes(token, mode, byte_decoder)
        if text is None:
            s = tokenizer.convert_tokens_to_string(base_tokens + [token])
            s = s[s.index(static_prefix) + len(static_prefix):]
            text = s.encode("utf-8") if mode is not None else s
        out[int(idx)] = text
    return out


_TABLE_CACHE: OrderedDict = OrderedDict()


class StopStringCriteria(StoppingCriteria):
    """A row is done when its text ends in one of ``stop_strings``, the stop string overlapping
    the last token (transformers' semantics). The stop string may span several tokens and may
    begin or end inside a token: with "stop", ``["st", "op"]``, ``["las", "topper"]`` and
    ``["s", "to", "pped"]`` all stop, ``["stop", "at"]`` does not (the match ended a token ago,
    and was caught then).

    Matching walks backwards from the last token: the last token must begin with the end of the
    stop string (or contain all of it); each earlier token must then end exactly where the
    matched part begins, until the whole stop string is covered. Only the last
    ``len(longest stop string)`` tokens are looked at. For byte-level tokenizers (GPT-2) the
    comparison is done on UTF-8 bytes, as transformers does.

    >>> crit = StopStringCriteria(tokenizer, ["\\n\\n", "User:"])
    """

    def __init__(self, tokenizer: Any, stop_strings: str | Sequence[str]) -> None:
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if not stop_strings or not all(isinstance(s, str) and s for s in stop_strings):
            raise ValueError(f"stop_strings must be non-empty strings, got {stop_strings!r}")
        self.stop_strings: tuple[str, ...] = tuple(stop_strings)
        self._mode = _matching_mode(tokenizer)
        targets = (tuple(s.encode("utf-8") for s in self.stop_strings)
                   if self._mode is not None else self.stop_strings)
        self._targets = targets
        vocab = tokenizer.get_vocab()
        key = (tuple(sorted(vocab.items())), targets, self._mode)
        if key in _TABLE_CACHE:
            _TABLE_CACHE.move_to_end(key)
            tables = _TABLE_CACHE[key]
        else:
            tables = self._build_tables(_clean_vocab(tokenizer, self._mode), targets)
            _TABLE_CACHE[key] = tables
            if len(_TABLE_CACHE) > 8:
                _TABLE_CACHE.popitem(last=False)
        self._lengths, self._positions, self._end_overlaps = tables
        self.maximum_token_len = max(len(t) for t in targets)

    @staticmethod
    def _build_tables(clean: dict[int, str | bytes], targets: tuple) -> tuple:
        """Per token: its length; per stop string and token: the positions (counted from the
        end of the stop string) at which the token may end inside it, running off its start
        allowed; and the overlaps of the token's start with the stop string's end."""
        lengths = {i: len(t) for i, t in clean.items()}
        positions: list[dict[int, frozenset[int]]] = []
        end_overlaps: list[dict[int, tuple[int, ...]]] = []
        for stop in targets:
            rstop = stop[::-1]
            pos: dict[int, frozenset[int]] = {}
            ends: dict[int, tuple[int, ...]] = {}
            last = stop[-1:]
            for idx, tok in clean.items():
                rtok = tok[::-1]
                p = [i for i in range(1, len(stop)) if rtok.startswith(rstop[i:i + len(tok)])]
                if p:
                    pos[idx] = frozenset(p)
                e = []
                i = tok.find(last)
                while i >= 0:
                    overlap = min(i + 1, len(stop))
                    if tok[i + 1 - overlap:i + 1] == stop[-overlap:]:
                        e.append(overlap)
                    i = tok.find(last, i + 1)
                if e:
                    ends[idx] = tuple(e)
            positions.append(pos)
            end_overlaps.append(ends)
        if not any(end_overlaps):
            raise ValueError("Stop string preprocessing was unable to identify tokens matching "
                             "one or more of the supplied stop string(s). This is most often "
                             "caused by the stop strings containing unusual characters that "
                             "are not in the tokenizer vocabulary.")
        return lengths, positions, end_overlaps

    def _row_matches(self, ids: list[int]) -> bool:
        flipped = ids[::-1][:self.maximum_token_len]
        last = flipped[0]
        for j, stop in enumerate(self._targets):
            target = len(stop)
            positions = self._positions[j]
            for matched in self._end_overlaps[j].get(last, ()):
                if matched >= target:
                    return True
                for tok in flipped[1:]:
                    if matched not in positions.get(tok, ()):
                        break
                    matched += self._lengths[tok]
                    if matched >= target:
                        return True
        return False

    def __call__(self, input_ids: np.ndarray, scores: tuple | None, **kwargs: Any) -> np.ndarray:
        ids = np.asarray(input_ids)
        return np.array([self._row_matches(row.tolist()) for row in ids], dtype=bool)
