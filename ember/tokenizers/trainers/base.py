"""The trainer interface (HF's ``Trainer`` trait): ``feed`` counts the pre-tokenized words of
the training texts, ``train(model)`` learns a vocabulary from those counts, updates the model in
place and returns the special tokens for the tokenizer to add."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator


from ..added_vocabulary import AddedToken

__all__ = ["ProgressBar", "Trainer", "first_chars", "progress", "special_added_tokens"]

# A progress bar appears only once a step has run this long, so small inputs stay quiet.
_PROGRESS_DELAY_S = 1.0


def progress(iterable: Iterable, show: bool, desc: str, total: int | None = None) -> Iterator:
    """``iterable`` wrapped in a tqdm bar when ``show`` (shown only if the step is slow)."""
    if not show:
        return iter(iterable)
    from tqdm.auto import tqdm  # imported on use: it costs ~30 ms of every ember start
    return iter(tqdm(iterable, desc=desc, total=total, delay=_PROGRESS_DELAY_S, leave=False))


class ProgressBar:
    """A manually advanced tqdm bar, or nothing when ``show`` is false."""

    def __init__(self, show: bool, desc: str, total: int | None = None):
        from tqdm.auto import tqdm
        self._bar = tqdm(desc=desc, total=total, delay=_PROGRESS_DELAY_S, leave=False) \
            if show else None

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def special_added_tokens(tokens: Iterable[str | AddedToken]) -> list[AddedToken]:
    """Special tokens as AddedTokens (plain strings become special, non-normalized ones)."""
    out = []
    for t in tokens:
        if isinstance(t, AddedToken):
            out.append(t)
        elif isinstance(t, str):
            out.append(AddedToken(t, special=True))
        else:
            raise TypeError(f"special tokens must be str or AddedToken, got {type(t).__name__}")
    return out


def first_chars(alphabet: Iterable[str]) -> list[str]:
    """HF's ``initial_alphabet``: the first char of each string (empty ones are ignored)."""
    return list(dict.fromkeys(s[0] for s in alphabet if s))


class Trainer:
    """Base class: word counting shared by every trainer."""

    show_progress: bool = True

    def __init__(self) -> None:
        self.words: Counter[str] = Counter()

    def feed(self, iterator: Iterable[str], process: Callable[[str], list[str]],
             length: int | None = None) -> None:
        """Count the words ``process(sequence)`` yields for every sequence (replacing earlier
        counts, as HF does)."""
        counts: Counter[str] = Counter()
        update = counts.update
        for seq in progress(iterator, self.show_progress, "Pre-processing sequences", length):
            update(process(seq))
        self.words = counts

    def get_word_count(self) -> int:
        """The number of distinct words fed."""
        return len(self.words)

    def should_show_progress(self) -> bool:
        return self.show_progress

    def train(self, model) -> list[AddedToken]:
        raise NotImplementedError
