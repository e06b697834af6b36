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

    def token_to_id(self, token: str) -> int | None:
        raise NotImplementedError

    def id_to_token(self, id: int) -> str | None:
        raise NotImplementedError

    def get_vocab(self) -> dict[str, int]:
        raise NotImplementedError

    def get_vocab_size(self) -> int:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict, path: str) -> "Model":
        raise NotImplementedError
