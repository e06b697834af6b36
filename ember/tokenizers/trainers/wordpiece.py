"""``WordPieceTrainer``: a BPE trainer with the ``##`` continuing-subword prefix whose vocabulary
becomes a WordPiece model's (HF ``tokenizers.trainers.WordPieceTrainer``)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..added_vocabulary import AddedToken
from .base import Trainer
from .bpe import BpeTrainer

__all__ = ["WordPieceTrainer"]


class WordPieceTrainer(Trainer):
    """Trains a ``WordPiece`` model: BPE merges are learned, only the vocabulary is kept."""

    def __init__(self, vocab_size: int = 30000, min_frequency: int = 0,
                 show_progress: bool = True, special_tokens: Iterable[str | AddedToken] = (),
                 limit_alphabet: int | None = None, initial_alphabet: Iterable[str] = (),
                 continuing_subword_prefix: str = "##", end_of_word_suffix: str | None = None):
        self._bpe = BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                               show_progress=show_progress, special_tokens=special_tokens,
                               limit_alphabet=limit_alphabet, initial_alphabet=initial_alphabet,
                               continuing_subword_prefix=continuing_subword_prefix,
                               end_of_word_suffix=end_of_word_suffix)

    # The settings live on the wrapped BPE trainer (as in HF).
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._bpe, name)

    def __setattr__(self, name, value) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._bpe, name, value)

    def feed(self, iterator: Iterable[str], process: Callable[[str], list[str]],
             length: int | None = None) -> None:
        self._bpe.feed(iterator, process, length)

    def train(self, model) -> list[AddedToken]:
        """Learn a vocabulary and install it (and the prefix) in ``model`` (a WordPiece)."""
        vocab, _ = self._bpe.learn(self._bpe.words)
        if self._bpe.continuing_subword_prefix is not None:
            model.continuing_subword_prefix = self._bpe.continuing_subword_prefix
        model._set_vocab(vocab)
        return list(self._bpe.special_tokens)
