"""A decoding session: what ``generate()`` asks of a model, one forward at a time.

``generate()`` never touches a cache directly. It opens a session for a batch and a maximum
length, feeds it the prompt (prefill), then one token per sequence per step, and reads back the
logits of the last position. A session owns its key/value cache and preallocates it for
``max_length`` tokens, so every step costs the same however long the sequence already is.

Models get a generic session (``ModelSession``: the model's own forward with a preallocated
cache, through autograd ops under no_grad); a family may return a faster one from
``model._decoder_session(...)`` (e.g. a NumPy GPT-2 decoder with folded weights), as long as it
produces the same logits.

Contract (all arrays NumPy, batch rows in generate's order)::

    session = model._decoder_session(batch_size=B, max_length=L)
    logits = session.forward(input_ids, position_ids, attention_mask)
        # input_ids (B, T) int64: the new tokens (T = prompt length at prefill, then 1);
        # position_ids (B, T) int64: their absolute positions (left padding: cumsum(mask) - 1,
        #     padding positions 0, as transformers sets them);
        # attention_mask (B, session.length + T) 0/1: every cached token and the new ones;
        # returns (B, vocab) float32: the logits of the last new position of each row.
    session.length          # tokens cached so far (0 before prefill)
    session.reorder(index)  # beam search: row i of the cache becomes row index[i] (gather);
                            # index may be longer or shorter than B (B changes accordingly)
    session.reset()         # forget everything (a sliding window re-prefills its window)
"""
from __future__ import annotations

import numpy as np

__all__ = ["DecoderSession"]


class DecoderSession:
    """Interface of a decoding session (see the module docstring)."""

    length: int = 0

    def forward(self, input_ids: np.ndarray, position_ids: np.ndarray,
                attention_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reorder(self, index: np.ndarray) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError
