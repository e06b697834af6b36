"""``AutoConfig``: the config class a checkpoint's ``model_type`` names.

Families are imported only when asked for (``ember.models.<model_type>``), so loading one model
does not import every family.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from ..configuration_utils import ConfigError, PretrainedConfig, resolve_config_file

__all__ = ["CONFIG_MAPPING_NAMES", "AutoConfig", "config_class_for"]

# model_type -> config class name inside ember.models.<model_type>
CONFIG_MAPPING_NAMES: dict[str, str] = {
    "bert": "BertConfig",
    "gpt2": "GPT2Config",
}
_REGISTERED: dict[str, type[PretrainedConfig]] = {}


def family_attr(model_type: str, name: str) -> Any:
    """``ember.models.<model_type>.<name>``, imported on demand."""
    module = importlib.import_module(f"ember.models.{model_type.replace('-', '_')}")
    return getattr(module, name)


def config_class_for(model_type: str, source: str = "config") -> type[PretrainedConfig]:
    if model_type in _REGISTERED:
        return _REGISTERED[model_type]
    if model_type not in CONFIG_MAPPING_NAMES:
        known = ", ".join(sorted({*CONFIG_MAPPING_NAMES, *_REGISTERED}))
        raise ConfigError(f"{source}: unknown model_type {model_type!r}; ember supports {known}")
    return family_attr(model_type, CONFIG_MAPPING_NAMES[model_type])


class AutoConfig:
    """``AutoConfig.from_pretrained(folder)`` -> the family's config; ``for_model(type)``."""

    def __init__(self) -> None:
        raise OSError("AutoConfig is built with AutoConfig.from_pretrained(...) or "
                      "AutoConfig.for_model(model_type)")

    @classmethod
    def for_model(cls, model_type: str, *args: Any, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(*args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike,
                        **kwargs: Any) -> PretrainedConfig:
        hub = {k: kwargs.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token",
                                          "subfolder", "force_download") if k in kwargs}
        if kwargs.pop("trust_remote_code", False):
            raise ValueError("trust_remote_code=True: ember never runs code from a checkpoint")
        path = resolve_config_file(pretrained_model_name_or_path, **hub)
        data = PretrainedConfig.read_json(path)
        model_type = data.get("model_type")
        if not isinstance(model_type, str) or not model_type:
            raise ConfigError(f"{path}: no 'model_type' field, so the model family is unknown "
                              f"(add e.g. \"model_type\": \"gpt2\")")
        config_cls = config_class_for(model_type, path)
        config = config_cls.from_dict({**data, "_source": path}, **kwargs)
        target = config[0] if isinstance(config, tuple) else config
        target.name_or_path = os.fspath(pretrained_model_name_or_path)
        return config

    @staticmethod
    def register(model_type: str, config: type[PretrainedConfig], exist_ok: bool = False) -> None:
        """Make ``model_type`` load as ``config`` (a PretrainedConfig subclass)."""
        if getattr(config, "model_type", model_type) != model_type:
            raise ValueError(f"{config.__name__}.model_type is {config.model_type!r}, not "
                             f"{model_type!r}")
        if not exist_ok and (model_type in _REGISTERED or model_type in CONFIG_MAPPING_NAMES):
            raise ValueError(f"model_type {model_type!r} is already registered")
        _REGISTERED[model_type] = config
