"""Streamers: receive tokens from ``generate()`` as they are produced.

``generate(streamer=s)`` calls ``s.put(prompt_ids)`` once, then ``s.put(new_token_ids)`` after
every step, then ``s.end()``. ``TextStreamer`` prints text as soon as it is final (whole words;
CJK characters at once); ``TextIteratorStreamer`` hands the same pieces to another thread.

>>> streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
>>> Thread(target=model.generate, kwargs=dict(input_ids=ids, streamer=streamer)).start()
>>> for piece in streamer:
...     print(piece, end="")
"""
from __future__ import annotations

import unicodedata
from queue import Queue
from typing import Any

import numpy as np

__all__ = ["BaseStreamer", "TextIteratorStreamer", "TextStreamer"]


def _as_array(value: Any) -> np.ndarray:
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):  # an ember Tensor
        return data
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


class BaseStreamer:
    """Interface: ``put(token_ids)`` for each batch of new tokens, ``end()`` when done."""

    def put(self, value: Any) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print decoded text to stdout as it becomes final (batch size 1).

    Text is held back while it may still change: the end of a word (up to the last space) until
    the next space, or a symbol that may be half a character. A newline flushes everything.
    ``skip_prompt`` drops the prompt; ``decode_kwargs`` go to ``tokenizer.decode`` (e.g.
    ``skip_special_tokens=True``).
    """

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, **decode_kwargs: Any) -> None:
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def _decode(self, ids: list[int] | int) -> str:
        return self.tokenizer.decode(ids, **self.decode_kwargs)

    def put(self, value: Any) -> None:
        """Take new token ids ((1, n) or (n,)), print what became final."""
        arr = _as_array(value)
        if arr.ndim > 1 and arr.shape[0] > 1:
            raise ValueError("TextStreamer only supports batch size 1")
        if arr.ndim > 1:
            arr = arr[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(int(t) for t in np.atleast_1d(arr).tolist())
        text = self._decode(self.token_cache)
        if text.endswith("\n"):
            # a line is complete: restart the cache but keep its last token, whose decoding
            # context (e.g. a leading space on the next line) must be preserved
            printable = text[self.print_len:]
            self.token_cache = self.token_cache[-1:]
            self.print_len = len(self._decode(self.token_cache[-1]))
        elif text and self._is_chinese_char(ord(text[-1])):
            printable = text[self.print_len:]
            self.print_len += len(printable)
        elif all(c.isspace() or unicodedata.category(c)[0] in "LMN"
                 for c in text[self.print_len:]):
            # letters, marks, digits and spaces cannot change with the next token
            printable = text[self.print_len:]
            self.print_len += len(printable)
        else:
            # a symbol may start formatting or be an incomplete character: print up to the last
            # space only
            printable = text[self.print_len:text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Print whatever is held back, then a newline."""
        if self.token_cache:
            printable = self._decode(self.token_cache)[self.print_len:]
            self.token_cache = []
            self.print_len = 0
        else:
            printable = ""
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Where final text goes: stdout (a newline at the end of the stream)."""
        print(text, flush=True, end="" if not stream_end else None)

    @staticmethod
    def _is_chinese_char(cp: int) -> bool:
        """Whether a code point is a CJK ideograph (printed at once: CJK has no spaces)."""
        return any(lo <= cp <= hi for lo, hi in (
            (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


class TextIteratorStreamer(TextStreamer):
    """A ``TextStreamer`` whose final text goes to a queue, read by iterating over the streamer
    (usually while ``generate`` runs in another thread). ``timeout`` (seconds) bounds each
    wait, so a consumer is not stuck forever if generation fails: ``queue.Empty`` is raised.
    """

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, timeout: float | None = None,
                 **decode_kwargs: Any) -> None:
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value == self.stop_signal:
            raise StopIteration()
        return value
