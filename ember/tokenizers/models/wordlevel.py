"""WordLevel (HF ``tokenizers.models.WordLevel``): every word is one token, or the unk token.

Example with vocab {"hello": 0, "<unk>": 1}: "hello" -> [hello], "hi" -> [<unk>].
"""
from __future__ import annotations

import json
import os

from ..serialization import expect, fields
from ._vocab import check_vocab, dump_compact_json, ordered_vocab, output_path
from .base import MODELS, Model

__all__ = ["WordLevel"]


@MODELS.register("WordLevel")
class WordLevel(Model):
    """Maps whole words to ids; unknown words become ``unk_token`` (an error if it is not in
    the vocabulary)."""

    def __init__(self, vocab: dict[str, int] | None = None, unk_token: str | None = None):
        self.unk_token = "<unk>" if unk_token is None else unk_token
        self._set_vocab(dict(vocab or {}))

    def _set_vocab(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}

    @staticmethod
    def read_file(vocab: str) -> dict[str, int]:
        """Read a vocab.json (``{token: id}``)."""
        with open(vocab, encoding="utf-8") as f:
            v = json.load(f)
        if not isinstance(v, dict):
            raise ValueError(f"{vocab}: expected a JSON object of token -> id")
        return {k: i for k, i in v.items() if isinstance(i, int)}

    @classmethod
    def from_file(cls, vocab: str, unk_token: str | None = None) -> WordLevel:
        """``WordLevel.from_file("vocab.json", unk_token="<unk>")``."""
        return cls(cls.read_file(vocab), unk_token)

    def get_trainer(self):
        from ..trainers import WordLevelTrainer
        return WordLevelTrainer()

    def tokenize(self, sequence: str) -> list[tuple]:
        """``[(id, token, (0, len))]``: the word itself or the unk token."""
        tid = self.vocab.get(sequence)
        if tid is not None:
            return [(tid, sequence, (0, len(sequence)))]
        tid = self.vocab.get(self.unk_token)
        if tid is None:
            raise ValueError("WordLevel error: Missing [UNK] token from the vocabulary")
        return [(tid, self.unk_token, (0, len(sequence)))]

    def to_dict(self) -> dict:
        return {"type": "WordLevel", "vocab": ordered_vocab(self.vocab_r),
                "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> WordLevel:
        f = fields(d, path, ("vocab", "unk_token"))
        expect(f["unk_token"], str, f"{path}.unk_token")
        return cls(check_vocab(f["vocab"], f"{path}.vocab"), f["unk_token"])

    def save(self, folder: str, prefix: str | None = None) -> list[str]:
        """Write ``vocab.json`` like HF."""
        os.makedirs(folder, exist_ok=True)
        path = output_path(folder, prefix, "vocab.json")
        dump_compact_json(ordered_vocab(self.vocab_r), path)
        return [path]

    def __repr__(self) -> str:
        return f"WordLevel(vocab_size={len(self.vocab)}, unk_token={self.unk_token!r})"
