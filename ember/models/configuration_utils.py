"""``PretrainedConfig``: a model's hyper-parameters, read from and written to ``config.json``.

Field names are Hugging Face's, so a checkpoint folder's config.json loads unchanged and what we
write loads in ``transformers``. Family configs subclass it, declare their defaults in
``__init__`` and map HF's generic names onto their own (``attribute_map = {"hidden_size":
"n_embd"}``). Keys a config does not know are kept as attributes and written back, because
checkpoints carry fields for tools we do not know about; a typo'd key therefore does not raise,
but a wrong *type* for a known field does (``_field_types``).

Example::

    config = GPT2Config.from_pretrained("path/to/gpt2")   # or a hub name in the local HF cache
    config.hidden_size                                    # == config.n_embd (an alias)
    config.save_pretrained("out/")                        # writes out/config.json
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any, ClassVar

from .. import __version__

__all__ = ["CONFIG_NAME", "ConfigError", "PretrainedConfig"]

CONFIG_NAME = "config.json"

# Written by transformers but meaningless (or harmful) to carry from one load to the next.
_NOT_SERIALIZED = ("_name_or_path", "_commit_hash", "_attn_implementation",
                   "_attn_implementation_internal", "_output_attentions")


class ConfigError(ValueError):
    """A config.json that cannot describe a model: not JSON, not an object, a missing
    ``model_type``, or a field of the wrong type. The message names the file and field."""


def _check_type(source: str, key: str, value: Any, kind: type | tuple) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None:
        return
    ok = any(isinstance(value, k) for k in kinds + ((int,) if float in kinds else ()))
    if ok and not (isinstance(value, bool) and bool not in kinds):  # True is an int in Python
        return
    names = " or ".join(k.__name__ for k in kinds)
    raise ConfigError(f"{source}: field {key!r} must be {names}, got {type(value).__name__} "
                      f"{value!r:.80}")


class PretrainedConfig:
    """Base class of model configurations (``transformers.PretrainedConfig`` semantics).

    Common fields: ``id2label``/``label2id`` (and ``num_labels``), ``problem_type``,
    ``output_hidden_states``, ``output_attentions``, ``return_dict``, ``tie_word_embeddings``,
    ``bos/eos/pad_token_id``, ``architectures``, ``dtype`` (alias ``torch_dtype``) and
    ``is_decoder``. Anything else passed in is kept.
    """

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}
    # Declared types of fields, checked on construction so a bad config.json fails early
    # with the field's name instead of deep inside a forward pass.
    _field_types: ClassVar[dict[str, type | tuple]] = {}
    _COMMON_TYPES: ClassVar[dict[str, type | tuple]] = {
        "output_hidden_states": bool, "output_attentions": bool, "return_dict": bool,
        "tie_word_embeddings": bool, "is_decoder": bool, "id2label": dict, "label2id": dict,
        "architectures": list, "problem_type": str,
        "bos_token_id": (int, list), "eos_token_id": (int, list), "pad_token_id": (int, list),
    }
    _PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

    def __init__(self, **kwargs: Any) -> None:
        source = kwargs.pop("_source", type(self).__name__)
        if "torch_dtype" in kwargs:  # transformers' older name for ``dtype``
            dtype = kwargs.pop("torch_dtype")
            kwargs.setdefault("dtype", dtype)
        for key in _NOT_SERIALIZED + ("transformers_version", "model_type"):
            kwargs.pop(key, None)
        self._name_or_path = str(kwargs.pop("name_or_path", ""))
        self.return_dict = kwargs.pop("return_dict", True)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.output_attentions = kwargs.pop("output_attentions", False)
        self.tie_word_embeddings = kwargs.pop("tie_word_embeddings", True)
        self.is_decoder = kwargs.pop("is_decoder", False)
        self.architectures = kwargs.pop("architectures", None)
        self.dtype = kwargs.pop("dtype", None)
        self.problem_type = kwargs.pop("problem_type", None)
        for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
            setattr(self, key, kwargs.pop(key, getattr(self, key, None)))

        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        for key, value in kwargs.items():
            setattr(self, key, value)
        for key, kind in {**self._COMMON_TYPES, **self._field_types}.items():
            _check_type(source, key, getattr(self, key, None), kind)
        _check_type(source, "id2label", id2label, dict)
        _check_type(source, "label2id", label2id, dict)
        _check_type(source, "num_labels", num_labels, int)
        if id2label is not None:
            try:  # JSON object keys are strings
                self.id2label = {int(k): str(v) for k, v in id2label.items()}
            except ValueError as err:
                raise ConfigError(f"{source}: field 'id2label' needs integer keys "
                                  f"({err})") from None
            if num_labels is not None and num_labels != len(self.id2label):
                raise ConfigError(f"{source}: num_labels={num_labels} but id2label has "
                                  f"{len(self.id2label)} entries")
            self.label2id = ({str(k): int(v) for k, v in label2id.items()} if label2id
                             else {v: k for k, v in self.id2label.items()})
        else:
            self.num_labels = 2 if num_labels is None else num_labels
        if self.problem_type is not None and self.problem_type not in self._PROBLEM_TYPES:
            raise ConfigError(f"{source}: field 'problem_type' must be one of "
                              f"{', '.join(self._PROBLEM_TYPES)}, got {self.problem_type!r}")

    # -- aliases ---------------------------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        object.__setattr__(self, key, value)

    def __getattribute__(self, key: str) -> Any:
        if key != "attribute_map" and not key.startswith("__"):
            amap = type(self).attribute_map
            if key in amap:
                key = amap[key]
        return object.__getattribute__(self, key)

    # -- labels ----------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n: int) -> None:
        if getattr(self, "id2label", None) is None or len(self.id2label) != n:
            self.id2label = {i: f"LABEL_{i}" for i in range(n)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def name_or_path(self) -> str:
        return self._name_or_path

    @name_or_path.setter
    def name_or_path(self, value: str) -> None:
        self._name_or_path = str(value)

    @property
    def use_return_dict(self) -> bool:
        return bool(self.return_dict)

    @property
    def torch_dtype(self):
        return self.dtype

    # -- (de)serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field, with ``model_type`` and ``transformers_version`` as transformers writes
        them (the version field is what transformers checks; we write ours with a prefix)."""
        out = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in _NOT_SERIALIZED}
        out["model_type"] = self.model_type
        out["transformers_version"] = f"ember-{__version__}"
        if out.get("dtype") is not None and not isinstance(out["dtype"], str):
            out["dtype"] = str(out["dtype"]).replace("torch.", "")
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    def save_pretrained(self, save_directory: str | os.PathLike, **_: Any) -> None:
        """Write ``config.json`` into ``save_directory`` (created if needed)."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained: {save_directory} is a file, not a folder")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, CONFIG_NAME))

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        """Build from a dict; ``kwargs`` override its fields. With ``return_unused_kwargs=True``
        returns ``(config, {})`` as transformers does (unknown kwargs are kept, so all are used)."""
        return_unused = kwargs.pop("return_unused_kwargs", False)
        if not isinstance(config_dict, dict):
            raise ConfigError(f"{cls.__name__}.from_dict needs a dict, got "
                              f"{type(config_dict).__name__}")
        if "num_labels" in kwargs and "id2label" not in kwargs:
            # an override of the label count replaces the saved labels, as in transformers
            config_dict = {k: v for k, v in config_dict.items() if k not in ("id2label",
                                                                             "label2id")}
        merged = {**config_dict, **kwargs}
        merged.setdefault("_source", cls.__name__)
        config = cls(**merged)
        return (config, {}) if return_unused else config

    @staticmethod
    def read_json(path: str | os.PathLike) -> dict[str, Any]:
        """A config.json as a dict, with errors that name the file."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text ({err})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return data

    @classmethod
    def from_json_file(cls, path: str | os.PathLike):
        return cls.from_dict({**cls.read_json(path), "_source": os.fspath(path)})

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load ``config.json`` from a folder, a file, or a hub name found in the local HF cache
        (downloaded only when ``huggingface_hub`` is installed and a network exists). ``kwargs``
        override fields; hub options (``cache_dir``, ``revision``, ``local_files_only``,
        ``token``, ``subfolder``) are honoured."""
        hub = {k: kwargs.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token",
                                          "subfolder", "force_download") if k in kwargs}
        path = resolve_config_file(pretrained_model_name_or_path, **hub)
        data = cls.read_json(path)
        if cls.model_type and data.get("model_type") not in (None, cls.model_type):
            raise ConfigError(f"{path}: model_type {data.get('model_type')!r} cannot be loaded "
                              f"by {cls.__name__} (model_type {cls.model_type!r}); use AutoConfig")
        config = cls.from_dict({**data, "_source": path}, **kwargs)
        if isinstance(config, tuple):
            config[0].name_or_path = os.fspath(pretrained_model_name_or_path)
        else:
            config.name_or_path = os.fspath(pretrained_model_name_or_path)
        return config

    def update(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            setattr(self, k, v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __iter__(self):
        return iter(self.to_dict())

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new


def resolve_config_file(name_or_path: str | os.PathLike, **hub: Any) -> str:
    """The config.json of a folder, a file path, or a hub name (see ``ember.utils.hub``)."""
    path = os.fspath(name_or_path)
    if os.path.isfile(path):
        return path
    from ..utils.hub import resolve_pretrained_dir
    subfolder = hub.pop("subfolder", "") or ""
    hub.pop("force_download", None)
    folder = resolve_pretrained_dir(path, subfolder=subfolder, **hub)
    file = os.path.join(folder, CONFIG_NAME)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}: not a model checkpoint folder")
    return file
