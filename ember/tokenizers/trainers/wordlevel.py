"""``WordLevelTrainer``: the most frequent words become the vocabulary (HF
``tokenizers.trainers.WordLevelTrainer``)."""
from __future__ import annotations

from collections.abc import Iterable

from ..added_vocabulary import AddedToken
from .base import Trainer, special_added_tokens

__all__ = ["WordLevelTrainer"]


class WordLevelTrainer(Trainer):
    """Vocabulary: special tokens, then words by decreasing count (ties in string order) with
    at least ``min_frequency`` occurrences, up to ``vocab_size`` entries."""

    def __init__(self, vocab_size: int = 30000, min_frequency: int = 0,
                 show_progress: bool = True, special_tokens: Iterable[str | AddedToken] = ()):
        super().__init__()
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.show_progress = show_progress
        self.special_tokens = special_added_tokens(special_tokens)

    def train(self, model) -> list[AddedToken]:
        """Install the vocabulary in ``model`` (a WordLevel)."""
        ranked = sorted(self.words.items(), key=lambda wc: (-wc[1], wc[0]))
        entries = [t.content for t in self.special_tokens]
        entries += [w for w, n in ranked if n >= self.min_frequency]
        vocab: dict[str, int] = {}
        for i, w in enumerate(entries[:self.vocab_size]):
            vocab[w] = i  # like HF, a word equal to a special token takes the later id
        model._set_vocab(vocab)
        return list(self.special_tokens)
