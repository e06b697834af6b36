"""``BatchEncoding``: what a tokenizer call returns — a dict of model inputs (``input_ids``,
``attention_mask``, ...) that also keeps the ``Encoding`` of each row for char/word/token mappings,
and converts its lists to NumPy arrays or ember tensors.

Example::

    enc = tok(["Hello world", "Hi"], padding=True, return_tensors="np")
    enc.input_ids.shape      # (2, 4)
    enc.word_ids(0)          # [None, 0, 1, None]
    enc.char_to_token(0, 6)  # 2
"""
from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, NamedTuple

import numpy as np

from ..encoding import Encoding

__all__ = ["BatchEncoding", "CharSpan", "TensorType", "TokenSpan", "to_py_obj"]


class CharSpan(NamedTuple):
    """Characters ``[start, end)`` of the original string."""
    start: int
    end: int


class TokenSpan(NamedTuple):
    """Tokens ``[start, end)`` of an encoding."""
    start: int
    end: int


class TensorType(str, Enum):
    """``return_tensors`` values: ``"np"`` (int64 arrays), ``"ember"`` or its synonym ``"pt"``
    (ember tensors, so torch-style code runs with only the import changed)."""
    NUMPY = "np"
    EMBER = "ember"
    PYTORCH = "pt"

    @classmethod
    def _missing_(cls, value):
        raise ValueError(f"{value!r} is not a valid TensorType, please select one of "
                         f"{[m.value for m in cls]}")


def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _flatten(item)]
    return [x]


def _as_array(value) -> np.ndarray:
    """A NumPy array of ``value`` (int64 when empty); rows of different lengths give an object array
    of arrays, as transformers does."""
    if isinstance(value, (list, tuple)) and value and \
            isinstance(value[0], (list, tuple, np.ndarray)) and len({len(v) for v in value}) > 1:
        out = np.empty(len(value), dtype=object)
        out[:] = [np.asarray(v) for v in value]
        return out
    if not _flatten(value):
        return np.asarray(value, dtype=np.int64)
    return np.asarray(value)


def to_py_obj(obj: Any) -> Any:
    """Nested lists/ints from arrays, ember or torch tensors (for decode and pad)."""
    if isinstance(obj, dict):
        return {k: to_py_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_py_obj(o) for o in obj]
    if isinstance(obj, (np.ndarray, np.number)):
        return obj.tolist()
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):  # ember.Tensor, torch.Tensor
        return obj.tolist()
    return obj


class BatchEncoding(dict):
    """The output of a tokenizer call: a dict (with attribute access) of model inputs, plus the
    ``Encoding`` of each row (``.encodings``) for the mapping helpers."""

    def __init__(self, data: dict | None = None,
                 encoding: Encoding | Sequence[Encoding] | None = None,
                 tensor_type: str | TensorType | None = None, prepend_batch_axis: bool = False,
                 n_sequences: int | None = None):
        super().__init__(data or {})
        if isinstance(encoding, Encoding):
            encoding = [encoding]
        self._encodings = None if encoding is None else list(encoding)
        if n_sequences is None and self._encodings:
            n_sequences = self._encodings[0].n_sequences
        self._n_sequences = n_sequences
        self.convert_to_tensors(tensor_type, prepend_batch_axis)

    # ---------------------------------------------------------------- dict behaviour
    def __getitem__(self, item):
        """``enc["input_ids"]``; ``enc[i]`` is row i's Encoding; ``enc[a:b]`` slices every value."""
        if isinstance(item, str):
            return dict.__getitem__(self, item)
        if self.__dict__.get("_encodings") is not None:
            return self._encodings[item]
        if isinstance(item, slice):
            return {k: v[item] for k, v in self.items()}
        raise KeyError("Invalid key. Only three types of key are available: (1) string, "
                       "(2) integers for backend Encoding, and (3) slices for data subsetting.")

    def __getattr__(self, item: str):
        # only called when normal lookup fails; dict.get keeps pickling/copy from recursing
        try:
            return dict.__getitem__(self, item)
        except KeyError:
            raise AttributeError(item) from None

    def __reduce__(self):
        return (_rebuild, (dict(self), self.__dict__.get("_encodings"),
                           self.__dict__.get("_n_sequences")))

    @property
    def data(self) -> dict:
        """A plain dict of the values (transformers' ``UserDict.data``)."""
        return dict(self)

    @property
    def n_sequences(self) -> int | None:
        """1 for single sequences, 2 for pairs, None when unknown."""
        return self._n_sequences

    @property
    def is_fast(self) -> bool:
        return self._encodings is not None

    @property
    def encodings(self) -> list[Encoding] | None:
        return self._encodings

    # ---------------------------------------------------------------- mappings
    def _enc(self, batch_index: int, what: str) -> Encoding:
        if not self._encodings:
            raise ValueError(f"{what}() is not available: this BatchEncoding has no encodings "
                             "(it was built from plain lists, e.g. by pad())")
        return self._encodings[batch_index]

    def _split(self, a: int, b: int | None, what: str) -> tuple[Encoding, int]:
        """(encoding, index) for the ``f(index)`` / ``f(batch, index)`` calling convention."""
        batch, index = (0, a) if b is None else (a, b)
        enc = self._enc(batch, what)
        if index < 0:
            index += len(enc)
        return enc, index

    def tokens(self, batch_index: int = 0) -> list[str]:
        return self._enc(batch_index, "tokens").tokens

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """Per token: 0/1 for the first/second sequence, None for added special tokens."""
        return self._enc(batch_index, "sequence_ids").sequence_ids

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """Per token: the index of its word in the input, None for special tokens."""
        return self._enc(batch_index, "word_ids").word_ids

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None) -> int:
        enc, i = self._split(batch_or_token_index, token_index, "token_to_sequence")
        return enc.token_to_sequence(i)

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None) -> int:
        enc, i = self._split(batch_or_token_index, token_index, "token_to_word")
        return enc.token_to_word(i)

    def word_to_tokens(self, batch_or_word_index: int, word_index: int | None = None,
                       sequence_index: int = 0) -> TokenSpan | None:
        enc, i = self._split(batch_or_word_index, word_index, "word_to_tokens")
        span = enc.word_to_tokens(i, sequence_index)
        return None if span is None else TokenSpan(*span)

    def token_to_chars(self, batch_or_token_index: int,
                       token_index: int | None = None) -> CharSpan | None:
        batch, i = (0, batch_or_token_index) if token_index is None else \
            (batch_or_token_index, token_index)
        span = self._enc(batch, "token_to_chars").token_to_chars(i)
        return None if span is None else CharSpan(*span)

    def char_to_token(self, batch_or_char_index: int, char_index: int | None = None,
                      sequence_index: int = 0) -> int | None:
        batch, i = (0, batch_or_char_index) if char_index is None else \
            (batch_or_char_index, char_index)
        return self._enc(batch, "char_to_token").char_to_token(i, sequence_index)

    def word_to_chars(self, batch_or_word_index: int, word_index: int | None = None,
                      sequence_index: int = 0) -> CharSpan:
        batch, i = (0, batch_or_word_index) if word_index is None else \
            (batch_or_word_index, word_index)
        span = self._enc(batch, "word_to_chars").word_to_chars(i, sequence_index)
        if span is None:
            raise TypeError(f"word {i} has no characters in sequence {sequence_index}")
        return CharSpan(*span)

    def char_to_word(self, batch_or_char_index: int, char_index: int | None = None,
                     sequence_index: int = 0) -> int | None:
        batch, i = (0, batch_or_char_index) if char_index is None else \
            (batch_or_char_index, char_index)
        return self._enc(batch, "char_to_word").char_to_word(i, sequence_index)

    # ---------------------------------------------------------------- tensors
    def convert_to_tensors(self, tensor_type: str | TensorType | None = None,
                           prepend_batch_axis: bool = False) -> BatchEncoding:
        """Turn the lists into int64 NumPy arrays (``"np"``) or ember tensors (``"ember"``/
        ``"pt"``), in place."""
        if tensor_type is None:
            return self
        tensor_type = TensorType(tensor_type)
        as_ember = tensor_type != TensorType.NUMPY
        if as_ember:
            from ...autograd import Tensor
            from ...autograd.creation import from_numpy
        target = Tensor if as_ember else np.ndarray
        for key, value in list(self.items()):
            if prepend_batch_axis:
                value = [value]
            if isinstance(value, target):
                continue
            try:
                arr = _as_array(value if isinstance(value, (list, tuple, np.ndarray))
                                else to_py_obj(value))
                if as_ember:
                    if arr.dtype == object:
                        raise ValueError("rows of different lengths")
                    arr = from_numpy(np.ascontiguousarray(arr))
            except Exception as e:
                raise ValueError(
                    "Unable to create tensor, you should probably activate truncation and/or "
                    "padding with 'padding=True' 'truncation=True' to have batched tensors with "
                    f"the same length. Perhaps your features (`{key}` in this case) have "
                    "excessive nesting (inputs type `list` where type `int` is expected).") from e
            dict.__setitem__(self, key, arr)
        return self

    def to(self, device, *, non_blocking: bool = False) -> BatchEncoding:
        """Move every tensor value to ``device`` (``"cpu"`` here); other values stay as they are."""
        for key, value in list(self.items()):
            if hasattr(value, "to") and callable(value.to) and not isinstance(value, np.ndarray):
                dict.__setitem__(self, key, value.to(device))
        return self


def _rebuild(data, encodings, n_sequences) -> BatchEncoding:
    return BatchEncoding(data, encodings, n_sequences=n_sequences)
