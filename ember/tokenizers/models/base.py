"""The model interface and registry."""
from __future__ import annotations

from ..serialization import Registry

__all__ = ["MODELS", "Model"]

MODELS = Registry("model")


class Model:
    """Turns one pre-tokenized piece into tokens: ``tokenize(text)`` returns
    ``[(id, value, (start, end)), ...]`` with offsets in chars of ``text``."""

    type_name = ""

    def tokenize(self, sequence: str) -> list[tuple]:
        raise NotImplementedError

    # Defaults for models that keep ``vocab`` (token -> id) and ``vocab_r`` (id -> token) dicts.
    vocab: dict[str, int]
    vocab_r: dict[int, str]

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return self.vocab_r.get(id)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def get_vocab_size(self) -> int:
        return len(self.vocab)

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Model:
        raise NotImplementedError
