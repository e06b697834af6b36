"""Logits processors: small callables that reshape next-token scores before a token is chosen.

Each takes ``(input_ids, scores)``: the ids so far, ``(B, L)`` int64, and the scores of the next
token, ``(B, V)`` float32 NumPy arrays, and returns new scores (the input is never modified).
They compute what the transformers classes of the same name compute, in float32, so a sampling
run or a beam search picks the same tokens and reports the same scores.

>>> procs = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(50)])
>>> scores = procs(input_ids, logits)
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

__all__ = [
    "LogitNormalization", "LogitsProcessor", "LogitsProcessorList", "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor", "NoBadWordsLogitsProcessor",
    "NoRepeatNGramLogitsProcessor", "RepetitionPenaltyLogitsProcessor",
    "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper",
]


def _eos_array(eos_token_id: int | Sequence[int] | np.ndarray | None) -> np.ndarray | None:
    if eos_token_id is None:
        return None
    if hasattr(eos_token_id, "tolist") and not isinstance(eos_token_id, np.ndarray):
        eos_token_id = eos_token_id.tolist()  # a torch or ember tensor
    return np.atleast_1d(np.asarray(eos_token_id, dtype=np.int64))


def _positive_int(name: str, value: object, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < (0 if allow_zero else 1):
        kind = "a non-negative" if allow_zero else "a strictly positive"
        raise ValueError(f"`{name}` has to be {kind} integer, but is {value}")


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in the input's precision (float32 in, float32 out)."""
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    shifted = x - m
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


class LogitsProcessor:
    """Base class: ``__call__(input_ids, scores) -> scores``."""

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")


class LogitsProcessorList(list):
    """A list of processors applied in order; extra keyword arguments reach the processors
    whose ``__call__`` asks for them."""

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray, **kwargs) -> np.ndarray:
        for processor in self:
            params = list(inspect.signature(processor.__call__).parameters)
            if len(params) > 2:
                missing = [p for p in params[2:] if p not in kwargs]
                if missing:
                    raise ValueError(f"{type(processor).__name__} needs {missing}; pass them to "
                                     "the processor list")
                scores = processor(input_ids, scores, **kwargs)
            else:
                scores = processor(input_ids, scores)
        return scores


class MinLengthLogitsProcessor(LogitsProcessor):
    """EOS gets -inf while the sequence (prompt included) is shorter than ``min_length``."""

    def __init__(self, min_length: int, eos_token_id: int | Sequence[int]) -> None:
        _positive_int("min_length", min_length, allow_zero=True)
        self.min_length = min_length
        self.eos_token_id = _eos_array(eos_token_id)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        out = scores.copy()
        if input_ids.shape[-1] < self.min_length:
            out[:, self.eos_token_id[self.eos_token_id < scores.shape[-1]]] = -np.inf
        return out


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """EOS gets -inf until ``min_new_tokens`` tokens follow the ``prompt_length_to_skip``."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int,
                 eos_token_id: int | Sequence[int]) -> None:
        _positive_int("prompt_length_to_skip", prompt_length_to_skip, allow_zero=True)
        _positive_int("min_new_tokens", min_new_tokens, allow_zero=True)
        self.prompt_length_to_skip = prompt_length_to_skip
        self.min_new_tokens = min_new_tokens
        self.eos_token_id = _eos_array(eos_token_id)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        out = scores.copy()
        if input_ids.shape[-1] - self.prompt_length_to_skip < self.min_new_tokens:
            out[:, self.eos_token_id[self.eos_token_id < scores.shape[-1]]] = -np.inf
        return out


class TemperatureLogitsWarper(LogitsProcessor):
    """Divide the scores by ``temperature`` (> 0; below 1 sharpens, above 1 flattens)."""

    def __init__(self, temperature: float) -> None:
        ok = isinstance(temperature, (int, float, np.floating)) and not isinstance(temperature,
                                                                                  bool)
        if not ok or not temperature > 0:
            msg = (f"`temperature` (={temperature}) has to be a strictly positive float, "
                   "otherwise your next token scores will be invalid.")
            if ok and temperature == 0:
                msg += " If you're looking for greedy decoding strategies, set `do_sample=False`."
            raise ValueError(msg)
        self.temperature = float(temperature)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return scores / self.temperature  # a Python float keeps float32 scores float32


class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Make tokens already present less likely: their score is divided by ``penalty`` when
    positive and multiplied by it when negative (CTRL's penalty).

    ``prompt_ignore_length``: an int (skip that many leading tokens of every row) or one int per
    row (generate passes the left-padding lengths, so pad tokens are not penalised).
    """

    def __init__(self, penalty: float,
                 prompt_ignore_length: int | np.ndarray | None = None) -> None:
        ok = isinstance(penalty, (int, float, np.floating)) and not isinstance(penalty, bool)
        if not ok or not penalty > 0:
            raise ValueError(f"`penalty` has to be a strictly positive float, but is {penalty}")
        if isinstance(prompt_ignore_length, (int, np.integer)) and prompt_ignore_length < 0:
            raise ValueError(f"`prompt_ignore_length` has to be a positive integer, but is "
                             f"{prompt_ignore_length}")
        if isinstance(prompt_ignore_length, np.integer):
            prompt_ignore_length = int(prompt_ignore_length)
        if prompt_ignore_length is not None and not isinstance(prompt_ignore_length, int):
            prompt_ignore_length = np.asarray(prompt_ignore_length, dtype=np.int64)
            if prompt_ignore_length.ndim != 1:
                raise ValueError("`prompt_ignore_length` must be an int or 1D")
        self.penalty = float(penalty)
        self.prompt_ignore_length = prompt_ignore_length

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        B, V = scores.shape
        ids = np.asarray(input_ids, dtype=np.int64).reshape(B, -1)
        seen = np.zeros((B, V + 1), dtype=bool)  # the spare column takes ids to ignore
        ignore = self.prompt_ignore_length
        if isinstance(ignore, int):
            ids = ids[:, ignore:]
        elif ignore is not None:
            if ignore.shape[0] != B:
                raise ValueError("Incompatible `prompt_ignore_length` batch size")
            ids = np.where(np.arange(ids.shape[1])[None] < ignore[:, None], V, ids)
        seen[np.arange(B)[:, None], np.minimum(ids, V)] = True
        seen = seen[:, :V]
        p = np.asarray(self.penalty, dtype=scores.dtype)
        penalised = np.where(scores < 0, scores * p, scores / p)
        return np.where(seen, penalised, scores).astype(scores.dtype, copy=False)


class TopKLogitsWarper(LogitsProcessor):
    """Keep the ``top_k`` highest scores (ties with the k-th included); the rest get
    ``filter_value``."""

    def __init__(self, top_k: int, filter_value: float = -float("inf"),
                 min_tokens_to_keep: int = 1) -> None:
        _positive_int("top_k", top_k)
        self.top_k = max(int(top_k), int(min_tokens_to_keep))
        self.filter_value = filter_value

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        V = scores.shape[-1]
        k = min(self.top_k, V)
        kth = np.partition(scores, V - k, axis=-1)[:, V - k: V - k + 1]  # the k-th largest
        return np.where(scores < kth, np.asarray(self.filter_value, scores.dtype), scores)


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability sums to
    at least ``top_p`` (and at least ``min_tokens_to_keep`` tokens)."""

    def __init__(self, top_p: float, filter_value: float = -float("inf"),
                 min_tokens_to_keep: int = 1) -> None:
        top_p = float(top_p)
        if top_p < 0 or top_p > 1.0:
            raise ValueError(f"`top_p` has to be a float > 0 and < 1, but is {top_p}")
        _positive_int("min_tokens_to_keep", min_tokens_to_keep)
        self.top_p = top_p
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        order = np.argsort(scores, axis=-1, kind="stable")  # ascending, as transformers
        sorted_scores = np.take_along_axis(scores, order, axis=-1)
        # torch accumulates a float32 cumsum in double and rounds each partial sum
        cum = np.cumsum(softmax(sorted_scores).astype(np.float64), axis=-1).astype(scores.dtype)
        remove_sorted = cum <= np.asarray(1 - self.top_p, dtype=scores.dtype)
        remove_sorted[:, -self.min_tokens_to_keep:] = False
        remove = np.zeros_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        return np.where(remove, np.asarray(self.filter_value, scores.dtype), scores)


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid any n-gram of ``ngram_size`` tokens from occurring twice (prompt included): a
    token that would complete an n-gram already present gets -inf."""

    def __init__(self, ngram_size: int) -> None:
        _positive_int("ngram_size", ngram_size)
        self.ngram_size = ngram_size

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        n = self.ngram_size
        B, L = input_ids.shape
        if L < n:
            return scores
        V = scores.shape[-1]
        # every window of n tokens whose first n-1 equal the current last n-1 bans its last one
        windows = np.lib.stride_tricks.sliding_window_view(input_ids, n, axis=1)  # (B, W, n)
        prefix = input_ids[:, L + 1 - n:]  # (B, n-1)
        matches = (windows[..., :-1] == prefix[:, None, :]).all(-1)  # (B, W)
        banned = np.zeros((B, V + 1), dtype=bool)
        cols = np.where(matches, np.minimum(windows[..., -1], V), V)
        banned[np.arange(B)[:, None], cols] = True
        return np.where(banned[:, :V], np.asarray(-np.inf, scores.dtype), scores)


class NoBadWordsLogitsProcessor(LogitsProcessor):
    """Forbid token sequences: a one-token entry is never generated; a longer one cannot be
    completed (its last token gets -inf when the ids end with the rest). Entries that are just
    an EOS id are dropped, as in transformers (suppress EOS with ``min_new_tokens`` instead)."""

    def __init__(self, bad_words_ids: list[list[int]],
                 eos_token_id: int | Sequence[int] | None = None) -> None:
        if not isinstance(bad_words_ids, list) or not bad_words_ids:
            raise ValueError(f"`bad_words_ids` has to be a non-empty list, but is "
                             f"{bad_words_ids}.")
        if any(not isinstance(w, list) for w in bad_words_ids):
            raise ValueError(f"`bad_words_ids` has to be a list of lists, but is "
                             f"{bad_words_ids}.")
        if any(not w or any(not isinstance(t, (int, np.integer)) or t < 0 for t in w)
               for w in bad_words_ids):
            raise ValueError(f"Each list in `bad_words_ids` has to be a list of positive "
                             f"integers, but is {bad_words_ids}.")
        self.bad_word_ids = bad_words_ids
        eos = _eos_array(eos_token_id)
        eos_set = set() if eos is None else {int(e) for e in eos}
        words = [tuple(int(t) for t in w) for w in bad_words_ids
                 if not (len(w) == 1 and int(w[0]) in eos_set)]
        words = list(dict.fromkeys(words))  # duplicates count once (a dict in transformers)
        self._single = np.array(sorted({w[0] for w in words if len(w) == 1}), dtype=np.int64)
        by_len: dict[int, list[tuple[int, ...]]] = {}
        for w in words:
            if len(w) > 1:
                by_len.setdefault(len(w) - 1, []).append(w)
        # per prefix length: (prefixes (K, n), last tokens (K,))
        self._multi = [(np.array([w[:-1] for w in ws], dtype=np.int64),
                        np.array([w[-1] for w in ws], dtype=np.int64))
                       for ws in by_len.values()]
        self._all_ids = sorted({t for w in words for t in w})

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        B, V = scores.shape
        bad = [t for t in self._all_ids if t >= V]
        if bad:
            raise ValueError(f"The model vocabulary size is {V}, but the following tokens were "
                             f"being biased: {bad}")
        bias = np.zeros((B, V), dtype=scores.dtype)
        if self._single.size:
            bias[:, self._single] = -np.inf
        for prefixes, last in self._multi:
            n = prefixes.shape[1]
            if n > input_ids.shape[1]:
                continue
            hit = (input_ids[:, None, -n:] == prefixes[None]).all(-1)  # (B, K)
            rows, k = np.nonzero(hit)
            bias[rows, last[k]] = -np.inf
        return scores + bias  # as transformers: a bias of -inf, not an assignment


class LogitNormalization(LogitsProcessor):
    """Log-softmax the scores (``renormalize_logits=True``), after every other processor."""

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return log_softmax(scores)
