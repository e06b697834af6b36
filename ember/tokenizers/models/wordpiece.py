"""WordPiece (HF ``tokenizers.models.WordPiece``): greedy longest-match-first.

From the start of the word take the longest vocab entry, then continue from where it ended with
the ``##``-prefixed entries. If some position has no match the whole word becomes the unk token.
Example with vocab {"un", "##aff", "##able"}: "unaffable" -> un ##aff ##able.
"""
from __future__ import annotations

import os

from ..normalized import WHITESPACE
from ..serialization import TokenizerFormatError, expect, fields
from ._vocab import DEFAULT_CACHE_CAPACITY, WordCache, check_vocab, ordered_vocab, output_path
from .base import MODELS, Model

__all__ = ["WordPiece"]

_CONFIG = frozenset({"unk_token", "continuing_subword_prefix", "max_input_chars_per_word"})


@MODELS.register("WordPiece")
class WordPiece(Model):
    """Greedy longest-match-first subwords; words longer than ``max_input_chars_per_word``
    chars, or with an unmatched part, become ``unk_token``."""

    def __init__(self, vocab: dict[str, int] | None = None, unk_token: str = "[UNK]",
                 max_input_chars_per_word: int = 100, continuing_subword_prefix: str = "##"):
        self._cache = None
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.continuing_subword_prefix = continuing_subword_prefix
        self._cache = WordCache(DEFAULT_CACHE_CAPACITY)
        self._set_vocab(dict(vocab or {}))

    def __setattr__(self, name, value) -> None:
        object.__setattr__(self, name, value)
        if name in _CONFIG and self._cache is not None:
            self._cache.clear()
            if name == "continuing_subword_prefix" and hasattr(self, "vocab"):
                self._set_vocab(self.vocab)

    def _set_vocab(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}
        # The longest entry bounds the candidate lengths (a pure speed-up: longer substrings
        # cannot match).
        prefix = self.continuing_subword_prefix
        self._max_first = max((len(t) for t in vocab), default=0)
        self._max_cont = max((len(t) - len(prefix) for t in vocab if t.startswith(prefix)),
                             default=0)
        self._cache.clear()

    # ---------------------------------------------------------------- construction helpers
    @staticmethod
    def read_file(vocab: str) -> dict[str, int]:
        """Read a vocab.txt: one token per line, its id being the line number."""
        out = {}
        with open(vocab, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for i, line in enumerate(lines):
            out[line.rstrip(WHITESPACE)] = i  # trailing whitespace trimmed; repeats keep last id
        return out

    @classmethod
    def from_file(cls, vocab: str, **kwargs) -> WordPiece:
        """``WordPiece.from_file("vocab.txt", unk_token="[UNK]")``."""
        return cls(cls.read_file(vocab), **kwargs)

    # ---------------------------------------------------------------- vocabulary
    def get_trainer(self):
        from ..trainers import WordPieceTrainer
        return WordPieceTrainer()

    # ---------------------------------------------------------------- tokenizing
    def tokenize(self, sequence: str) -> list[tuple]:
        """``[(id, token, (start, end)), ...]`` for one word, offsets in chars of it."""
        hit = self._cache.get(sequence)
        if hit is not None:
            return list(hit)
        tokens = self._tokenize(sequence)
        self._cache.put(sequence, tokens)
        return list(tokens)

    def _unk(self, sequence: str) -> list[tuple]:
        tid = self.vocab.get(self.unk_token)
        if tid is None:
            raise ValueError("WordPiece error: Missing [UNK] token from the vocabulary")
        return [(tid, self.unk_token, (0, len(sequence)))]

    def _tokenize(self, sequence: str) -> list[tuple]:
        n = len(sequence)
        if n > self.max_input_chars_per_word:
            return self._unk(sequence)
        vocab = self.vocab
        prefix = self.continuing_subword_prefix
        out = []
        start = 0
        while start < n:
            # subtle: the first piece is looked up bare, the others with the prefix
            longest = self._max_cont if start else self._max_first
            end = min(n, start + longest)
            while end > start:
                piece = sequence[start:end]
                if start:
                    piece = prefix + piece
                tid = vocab.get(piece)
                if tid is not None:
                    out.append((tid, piece, (start, end)))
                    break
                end -= 1
            else:
                return self._unk(sequence)
            start = end
        return out

    # ---------------------------------------------------------------- serialization
    def to_dict(self) -> dict:
        return {"type": "WordPiece", "unk_token": self.unk_token,
                "continuing_subword_prefix": self.continuing_subword_prefix,
                "max_input_chars_per_word": self.max_input_chars_per_word,
                "vocab": ordered_vocab(self.vocab_r)}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> WordPiece:
        f = fields(d, path, ("unk_token", "continuing_subword_prefix",
                             "max_input_chars_per_word", "vocab"))
        expect(f["unk_token"], str, f"{path}.unk_token")
        expect(f["continuing_subword_prefix"], str, f"{path}.continuing_subword_prefix")
        m = expect(f["max_input_chars_per_word"], int, f"{path}.max_input_chars_per_word")
        if m < 0:
            raise TokenizerFormatError(f"{path}.max_input_chars_per_word: must be >= 0")
        return cls(check_vocab(f["vocab"], f"{path}.vocab"), unk_token=f["unk_token"],
                   max_input_chars_per_word=m,
                   continuing_subword_prefix=f["continuing_subword_prefix"])

    def save(self, folder: str, prefix: str | None = None) -> list[str]:
        """Write ``vocab.txt`` (one token per line, in id order) like HF."""
        os.makedirs(folder, exist_ok=True)
        path = output_path(folder, prefix, "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{t}\n" for _, t in sorted(self.vocab_r.items()))
        return [path]

    def __repr__(self) -> str:
        return (f"WordPiece(vocab_size={len(self.vocab)}, unk_token={self.unk_token!r}, "
                f"continuing_subword_prefix={self.continuing_subword_prefix!r})")
