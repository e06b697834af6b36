"""Key/value caches for incremental decoding (``transformers.cache_utils`` semantics).

A decoder layer hands the cache the keys and values of its new tokens and attends over what
``update`` returns: the past and the new ones together. The model reads ``get_seq_length()``
before its layers run (the number of tokens already seen: where the new tokens' positions start)
and ``get_kv_length(query_length)`` (how many keys the layers will attend over, for the mask).

``Cache`` is that interface; ``DynamicCache`` grows by concatenation, one (k, v) pair per layer.
A preallocated cache implements the same three methods (its ``update`` may return longer,
zero-filled arrays: positions past the new tokens are hidden by the causal mask anyway).

Models also accept the legacy format, a tuple with one ``(key, value)`` pair per layer, each
``(batch, heads, seq, head_dim)``, and return a ``DynamicCache``.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor

__all__ = ["Cache", "DynamicCache", "StaticCache"]

LegacyCache = tuple[tuple[Tensor, Tensor], ...]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _index(x: np.ndarray | Tensor | Sequence[int]) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    return arr.astype(np.int64, copy=False).reshape(-1)


class Cache:
    """Interface of a key/value cache, as the models use it."""

    def update(self, key_states: Tensor, value_states: Tensor,
               layer_idx: int) -> tuple[Tensor, Tensor]:
        """Store the new ``(B, nh, T, hs)`` keys and values of ``layer_idx``; return the keys
        and values to attend over (past and new)."""
        raise NotImplementedError

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Tokens already cached for ``layer_idx`` (0 when empty)."""
        raise NotImplementedError

    def get_kv_length(self, query_length: int, layer_idx: int = 0) -> int:
        """Length of the keys that ``update`` will return after ``query_length`` new tokens."""
        return self.get_seq_length(layer_idx) + query_length


class DynamicCache(Cache):
    """A cache that grows with every ``update``: per layer, keys and values of shape
    ``(batch, heads, seq, head_dim)`` concatenated along ``seq``.

    >>> cache = DynamicCache()
    >>> out = model(ids, past_key_values=cache, use_cache=True)   # fills it
    >>> out = model(next_ids, past_key_values=out.past_key_values, use_cache=True)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # transformers' DynamicCache takes (config=...) or a legacy tuple; accept the latter too
        self.key_cache: list[Tensor] = []
        self.value_cache: list[Tensor] = []
        legacy = args[0] if args and not hasattr(args[0], "model_type") else None
        if legacy is not None:
            for k, v in legacy:
                self.key_cache.append(_tensor(k))
                self.value_cache.append(_tensor(v))

    # -- the Cache interface -----------------------------------------------------------------
    def update(self, key_states: Tensor, value_states: Tensor,
               layer_idx: int) -> tuple[Tensor, Tensor]:
        if layer_idx > len(self.key_cache):
            raise IndexError(f"DynamicCache.update: layer {layer_idx} before layer "
                             f"{len(self.key_cache)} was filled")
        if layer_idx == len(self.key_cache):
            self.key_cache.append(key_states)
            self.value_cache.append(value_states)
        else:
            past_k, past_v = self.key_cache[layer_idx], self.value_cache[layer_idx]
            if past_k.shape[0] != key_states.shape[0]:
                raise ValueError(f"DynamicCache.update: the cache holds batch {past_k.shape[0]}, "
                                 f"the new keys batch {key_states.shape[0]}")
            self.key_cache[layer_idx] = ops.cat([past_k, key_states], dim=-2)  # (B, nh, S, hs)
            self.value_cache[layer_idx] = ops.cat([past_v, value_states], dim=-2)
        return self.key_cache[layer_idx], self.value_cache[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        if layer_idx >= len(self.key_cache):
            return 0
        return self.key_cache[layer_idx].shape[-2]

    # -- sequence-like access ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.key_cache)

    def __getitem__(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= layer_idx < len(self):
            raise IndexError(f"DynamicCache has {len(self)} layers, no layer {layer_idx}")
        return self.key_cache[layer_idx], self.value_cache[layer_idx]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return iter(zip(self.key_cache, self.value_cache))

    def __repr__(self) -> str:
        return f"DynamicCache(layers={len(self)}, seq_length={self.get_seq_length()})"

    # -- conversion ----------------------------------------------------------------------------
    def to_legacy_cache(self) -> LegacyCache:
        """One ``(key, value)`` pair per layer."""
        return tuple(zip(self.key_cache, self.value_cache))

    @classmethod
    def from_legacy_cache(cls, past_key_values: Sequence[tuple[Any, Any]] | None) -> DynamicCache:
        """A cache holding the ``(key, value)`` pairs of ``past_key_values`` (None: empty)."""
        return cls(tuple(past_key_values)) if past_key_values is not None else cls()

    # -- editing (speculative decoding, beam search) ---------------------------------------------
    def crop(self, max_length: int) -> None:
        """Keep the first ``max_length`` tokens; a negative value removes that many."""
        if max_length < 0:
            max_length = self.get_seq_length() + max_length
        if self.get_seq_length() <= max_length:
            return
        self.key_cache = [k[..., :max_length, :] for k in self.key_cache]
        self.value_cache = [v[..., :max_length, :] for v in self.value_cache]

    def batch_select_indices(self, indices: np.ndarray | Tensor | Sequence[int]) -> None:
        """Keep only the batch entries ``indices`` (in that order)."""
        idx = _index(indices)
        self.key_cache = [ops.index_select(k, 0, Tensor(idx)) for k in self.key_cache]
        self.value_cache = [ops.index_select(v, 0, Tensor(idx)) for v in self.value_cache]

    def reorder_cache(self, beam_idx: np.ndarray | Tensor | Sequence[int]) -> None:
        """Reorder the batch entries for beam search: entry i becomes old entry beam_idx[i]."""
        self.batch_select_indices(beam_idx)

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Repeat every batch entry ``repeats`` times (expanding a batch into beams)."""
        idx = np.repeat(np.arange(self.key_cache[0].shape[0] if self.key_cache else 0), repeats)
        self.batch_select_indices(idx)


class StaticCache(Cache):
    """A cache preallocated for ``max_cache_len`` tokens: per layer, key and value buffers of
    shape ``(batch, heads, max_cache_len, head_dim)``, written in place, so a decoding step
    costs no reallocation however long the sequence already is (``generate``'s
    ``ModelSession`` uses it).

    The buffers are allocated by each layer's first ``update`` (their shape and dtype are the
    keys'), and kept by ``reset``. ``update`` returns views of the filled part only: a single
    new token attends over exactly the tokens seen, with no mask needed. It stores arrays, not
    graph nodes: use it for inference (under ``no_grad``).

    >>> cache = StaticCache(config=model.config, max_cache_len=64)
    >>> out = model(ids, past_key_values=cache, use_cache=True)
    """

    def __init__(self, config: Any = None, max_cache_len: int | None = None,
                 max_batch_size: int | None = None, **_: Any) -> None:
        if max_cache_len is None or int(max_cache_len) < 1:
            raise ValueError(f"StaticCache needs max_cache_len >= 1, got {max_cache_len!r}")
        self.config = config
        self.max_cache_len = int(max_cache_len)
        self.max_batch_size = max_batch_size
        self.key_cache: list[np.ndarray] = []  # per layer (B, nh, max_cache_len, hs)
        self.value_cache: list[np.ndarray] = []
        self._lengths: list[int] = []  # tokens filled, per layer

    def update(self, key_states: Tensor, value_states: Tensor,
               layer_idx: int) -> tuple[Tensor, Tensor]:
        k = key_states.data if isinstance(key_states, Tensor) else np.asarray(key_states)
        v = value_states.data if isinstance(value_states, Tensor) else np.asarray(value_states)
        if layer_idx > len(self.key_cache):
            raise IndexError(f"StaticCache.update: layer {layer_idx} before layer "
                             f"{len(self.key_cache)} was filled")
        if layer_idx == len(self.key_cache):
            B, nh, _, hs = k.shape
            self.key_cache.append(np.zeros((B, nh, self.max_cache_len, hs), k.dtype))
            self.value_cache.append(np.zeros((B, nh, self.max_cache_len, hs), v.dtype))
            self._lengths.append(0)
        kbuf, vbuf = self.key_cache[layer_idx], self.value_cache[layer_idx]
        start, T = self._lengths[layer_idx], k.shape[-2]
        if k.shape[0] != kbuf.shape[0]:
            raise ValueError(f"StaticCache.update: the cache holds batch {kbuf.shape[0]}, the "
                             f"new keys batch {k.shape[0]}")
        if start + T > self.max_cache_len:
            raise ValueError(f"StaticCache is full: {start} cached + {T} new tokens exceed "
                             f"max_cache_len {self.max_cache_len}")
        kbuf[:, :, start:start + T] = k
        vbuf[:, :, start:start + T] = v
        self._lengths[layer_idx] = start + T
        return Tensor(kbuf[:, :, :start + T]), Tensor(vbuf[:, :, :start + T])

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self._lengths[layer_idx] if layer_idx < len(self._lengths) else 0

    def get_max_cache_shape(self) -> int:
        return self.max_cache_len

    def __len__(self) -> int:
        return len(self.key_cache)

    def reset(self) -> None:
        """Forget every token; the buffers stay allocated."""
        self._lengths = [0] * len(self._lengths)

    def crop(self, max_length: int) -> None:
        """Keep the first ``max_length`` tokens; a negative value removes that many."""
        if max_length < 0:
            max_length = self.get_seq_length() + max_length
        self._lengths = [min(n, max(max_length, 0)) for n in self._lengths]

    def batch_select_indices(self, indices: np.ndarray | Tensor | Sequence[int]) -> None:
        """Row i becomes old row ``indices[i]``. The same batch size reuses the buffers; another
        size allocates new ones."""
        idx = _index(indices)
        for i, n in enumerate(self._lengths):
            for bufs in (self.key_cache, self.value_cache):
                buf = bufs[i]
                if idx.size == buf.shape[0]:
                    buf[:, :, :n] = buf[idx, :, :n]  # the gather copies first: no aliasing
                else:
                    new = np.zeros((idx.size,) + buf.shape[1:], buf.dtype)
                    new[:, :, :n] = buf[idx, :, :n]
                    bufs[i] = new

    def reorder_cache(self, beam_idx: np.ndarray | Tensor | Sequence[int]) -> None:
        """Beam search: row i becomes old row ``beam_idx[i]``."""
        self.batch_select_indices(beam_idx)

    def __repr__(self) -> str:
        return (f"StaticCache(layers={len(self)}, seq_length={self.get_seq_length()}, "
                f"max_cache_len={self.max_cache_len})")
