"""Pretrained models: configs, the modeling base class, safetensors I/O, Auto classes, and one
folder per model family (``gpt2/``, ``bert/``).

Families are imported on first use (``ember.models.GPT2LMHeadModel`` imports ``gpt2/``), which
keeps ``import ember`` and a cold start fast.
"""
from __future__ import annotations

import importlib
from typing import Any

from .auto import (  # noqa: F401
    AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM,
    AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from .configuration_utils import ConfigError, PretrainedConfig  # noqa: F401
from .modeling_outputs import ModelOutput  # noqa: F401
from .modeling_utils import CheckpointMismatchError, PreTrainedModel  # noqa: F401
from .parameter_count import count_parameters  # noqa: F401
from .safetensors_io import SafetensorsError  # noqa: F401

PreTrainedConfig = PretrainedConfig  # transformers 5.x spelling

# public name -> family module, imported lazily by __getattr__
FAMILY_EXPORTS: dict[str, str] = {
    **{n: "gpt2" for n in ("GPT2Config", "GPT2Model", "GPT2LMHeadModel",
                           "GPT2ForSequenceClassification", "GPT2ForTokenClassification",
                           "GPT2PreTrainedModel")},
    **{n: "bert" for n in ("BertConfig", "BertModel", "BertForMaskedLM",
                           "BertForSequenceClassification", "BertForTokenClassification",
                           "BertForQuestionAnswering", "BertPreTrainedModel")},
    "SentenceEmbedder": "sentence_embedder", "SentenceTransformer": "sentence_embedder",
    "Cache": "cache_utils", "DynamicCache": "cache_utils",
}


def __getattr__(name: str) -> Any:
    family = FAMILY_EXPORTS.get(name)
    if family is None:
        raise AttributeError(f"module 'ember.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{family}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *FAMILY_EXPORTS})
