"""Trainers: learn a model's vocabulary from word counts (HF ``tokenizers.trainers``)."""
from __future__ import annotations

from .base import Trainer
from .bpe import BpeTrainer
from .unigram import UnigramTrainer
from .wordlevel import WordLevelTrainer
from .wordpiece import WordPieceTrainer

__all__ = ["BpeTrainer", "Trainer", "UnigramTrainer", "WordLevelTrainer", "WordPieceTrainer"]
