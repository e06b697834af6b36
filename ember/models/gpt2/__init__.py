"""GPT-2: ``GPT2Config`` and the models (``GPT2Model``, ``GPT2LMHeadModel``,
``GPT2ForSequenceClassification``, ``GPT2ForTokenClassification``)."""
from __future__ import annotations

from .configuration_gpt2 import GPT2Config
from .modeling_gpt2 import (
    Conv1D, GPT2ForSequenceClassification, GPT2ForTokenClassification, GPT2LMHeadModel,
    GPT2Model, GPT2PreTrainedModel,
)

__all__ = [
    "Conv1D", "GPT2Config", "GPT2ForSequenceClassification", "GPT2ForTokenClassification",
    "GPT2LMHeadModel", "GPT2Model", "GPT2PreTrainedModel",
]
