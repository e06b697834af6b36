"""Model outputs: small dataclasses with ``transformers``' field names.

As in ``transformers``, fields that are None are skipped by indexing, ``keys()`` and
``to_tuple()``, so ``out[0]`` is the loss when labels were given and the logits otherwise, and
``out["logits"]`` / ``out.logits`` both work.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..autograd import Tensor

__all__ = [
    "BaseModelOutput", "BaseModelOutputWithPastAndCrossAttentions",
    "BaseModelOutputWithPoolingAndCrossAttentions", "CausalLMOutputWithCrossAttentions",
    "MaskedLMOutput", "ModelOutput", "QuestionAnsweringModelOutput",
    "SequenceClassifierOutput", "SequenceClassifierOutputWithPast", "TokenClassifierOutput",
]


@dataclass
class ModelOutput:
    """Base of every output: attribute, key and position access over the non-None fields."""

    def keys(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_tuple(self) -> tuple:
        return tuple(self.values())

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None)
        return default if value is None else value

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())


Hidden = tuple[Tensor, ...] | None


@dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: Tensor | None = None
    hidden_states: Hidden = None
    attentions: Hidden = None


@dataclass
class BaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    last_hidden_state: Tensor | None = None
    past_key_values: Any = None
    hidden_states: Hidden = None
    attentions: Hidden = None
    cross_attentions: Hidden = None


@dataclass
class BaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    last_hidden_state: Tensor | None = None
    pooler_output: Tensor | None = None
    hidden_states: Hidden = None
    past_key_values: Any = None
    attentions: Hidden = None
    cross_attentions: Hidden = None


@dataclass
class CausalLMOutputWithCrossAttentions(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    past_key_values: Any = None
    hidden_states: Hidden = None
    attentions: Hidden = None
    cross_attentions: Hidden = None


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: Hidden = None
    attentions: Hidden = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: Hidden = None
    attentions: Hidden = None


@dataclass
class SequenceClassifierOutputWithPast(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    past_key_values: Any = None
    hidden_states: Hidden = None
    attentions: Hidden = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: Hidden = None
    attentions: Hidden = None


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: Tensor | None = None
    start_logits: Tensor | None = None
    end_logits: Tensor | None = None
    hidden_states: Hidden = None
    attentions: Hidden = None
