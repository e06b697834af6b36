"""``AutoModel`` and the task Auto classes: the family class a config's ``model_type`` names."""
from __future__ import annotations

import os
from typing import Any, ClassVar

from ..configuration_utils import PretrainedConfig
from .configuration_auto import AutoConfig, family_attr

__all__ = [
    "AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM", "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
    "MODEL_MAPPING_NAMES",
]

# task -> model_type -> class name inside ember.models.<model_type>
MODEL_MAPPING_NAMES: dict[str, dict[str, str]] = {
    "base": {"bert": "BertModel", "gpt2": "GPT2Model"},
    "causal-lm": {"gpt2": "GPT2LMHeadModel"},
    "masked-lm": {"bert": "BertForMaskedLM"},
    "sequence-classification": {"bert": "BertForSequenceClassification",
                                "gpt2": "GPT2ForSequenceClassification"},
    "token-classification": {"bert": "BertForTokenClassification",
                             "gpt2": "GPT2ForTokenClassification"},
    "question-answering": {"bert": "BertForQuestionAnswering"},
}


class _AutoModel:
    _task: ClassVar[str] = "base"
    _registered: ClassVar[dict[type, type]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._registered = {}

    def __init__(self) -> None:
        raise OSError(f"{type(self).__name__} is built with {type(self).__name__}."
                      "from_pretrained(...) or .from_config(config)")

    @classmethod
    def model_class_for(cls, config: PretrainedConfig) -> type:
        for config_cls, model_cls in cls._registered.items():
            if type(config) is config_cls:
                return model_cls
        name = MODEL_MAPPING_NAMES[cls._task].get(config.model_type)
        if name is None:
            have = sorted(MODEL_MAPPING_NAMES[cls._task])
            raise ValueError(f"{cls.__name__}: no {cls._task} model for model_type "
                             f"{config.model_type!r} (available: {', '.join(have)})")
        try:
            return family_attr(config.model_type, name)
        except AttributeError:
            raise ValueError(f"{cls.__name__}: ember does not implement {name} yet") from None

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        """A randomly initialised model (the family's initialisation scheme)."""
        return cls.model_class_for(config)(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any,
                        **kwargs: Any):
        """Load a checkpoint with the class its config's ``model_type`` names; keyword
        arguments that are not loading options override config fields."""
        config = kwargs.pop("config", None)
        hub = {k: kwargs[k] for k in _HUB_KWARGS if k in kwargs}
        load = {k: kwargs.pop(k) for k in list(kwargs) if k in _MODEL_KWARGS or k in _HUB_KWARGS}
        if kwargs.pop("trust_remote_code", False):
            raise ValueError("trust_remote_code=True: ember never runs code from a checkpoint")
        if not isinstance(config, PretrainedConfig):
            config = AutoConfig.from_pretrained(config or pretrained_model_name_or_path,
                                                **hub, **kwargs)
        elif kwargs:
            config.update(kwargs)
        return cls.model_class_for(config).from_pretrained(pretrained_model_name_or_path, *args,
                                                           config=config, **load)

    @classmethod
    def register(cls, config_class: type, model_class: type, exist_ok: bool = False) -> None:
        if config_class in cls._registered and not exist_ok:
            raise ValueError(f"{config_class.__name__} is already registered with {cls.__name__}")
        cls._registered[config_class] = model_class


_HUB_KWARGS = ("cache_dir", "revision", "local_files_only", "token", "subfolder")
_MODEL_KWARGS = {"dtype", "torch_dtype", "output_loading_info", "ignore_mismatched_sizes",
                 "device_map", "attn_implementation", "low_cpu_mem_usage", "use_safetensors",
                 "force_download"}


class AutoModel(_AutoModel):
    """The base model (no head) of a checkpoint's family."""
    _task = "base"


class AutoModelForCausalLM(_AutoModel):
    _task = "causal-lm"


class AutoModelForMaskedLM(_AutoModel):
    _task = "masked-lm"


class AutoModelForSequenceClassification(_AutoModel):
    _task = "sequence-classification"


class AutoModelForTokenClassification(_AutoModel):
    _task = "token-classification"


class AutoModelForQuestionAnswering(_AutoModel):
    _task = "question-answering"
