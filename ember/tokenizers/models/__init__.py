"""Tokenization models: BPE, WordPiece, WordLevel, Unigram (HF ``tokenizers.models``)."""
from __future__ import annotations

from .base import MODELS, Model  # noqa: F401
from .bpe import BPE
from .unigram import Unigram
from .wordlevel import WordLevel
from .wordpiece import WordPiece

__all__ = ["BPE", "MODELS", "Model", "Unigram", "WordLevel", "WordPiece"]
