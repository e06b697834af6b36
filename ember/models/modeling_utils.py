"""``PreTrainedModel``: what every model family shares.

Loading a Hugging Face checkpoint folder, the way ``transformers`` does:

1. resolve the name (folder, local HF cache, optional download; ``ember.utils.hub``);
2. read config.json into the family's config class;
3. build the model without drawing random weights (``nn.init.skip_init``);
4. map checkpoint names onto ours: legacy ``LayerNorm.gamma/beta`` names, and the base-model
   prefix added or stripped so a head model loads a base checkpoint and vice versa;
5. check every shape (all mismatches reported together, by name), then take the checkpoint's
   arrays (memory-mapped, copy-on-write, when no dtype conversion is needed);
6. initialise only what the checkpoint lacks (a new classification head), tie embeddings, and
   report missing and unexpected tensors by name.

Nothing in a checkpoint is executed or unpickled: config.json is JSON, weights are safetensors.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any, ClassVar

import numpy as np

from .. import nn
from ..autograd import dtypes
from ..nn import init
from .configuration_utils import PretrainedConfig
from .safetensors_io import load_checkpoint, save_checkpoint

__all__ = ["CheckpointMismatchError", "PreTrainedModel"]

logger = logging.getLogger("ember.models")

# Names older checkpoints (TF-converted BERTs) use for LayerNorm parameters.
_LEGACY_RENAMES = ((re.compile(r"LayerNorm\.gamma$"), "LayerNorm.weight"),
                   (re.compile(r"LayerNorm\.beta$"), "LayerNorm.bias"))


class CheckpointMismatchError(ValueError):
    """Checkpoint tensors whose shapes differ from the model's; the message lists each by name."""


def _resolve_dtype(dtype: Any, config: PretrainedConfig, state: dict[str, np.ndarray]) -> np.dtype:
    """The float dtype to compute in. None: float32 (as torch's default). "auto": the
    checkpoint's own float dtype (config ``dtype`` first), with bfloat16, which NumPy lacks,
    computed in float32."""
    if dtype == "auto":
        declared = getattr(config, "dtype", None)
        if declared is not None:
            dtype = str(declared).replace("torch.", "")
        else:
            floats = [a.dtype for a in state.values() if a.dtype.kind == "f"]
            dtype = floats[0] if floats else np.float32
        if str(dtype) == "bfloat16":
            dtype = np.float32
    if dtype is None:
        return np.dtype(np.float32)
    if isinstance(dtype, str):
        dtype = dtype.replace("torch.", "")
        if dtype == "bfloat16":
            raise ValueError("dtype=bfloat16: NumPy has no bfloat16 arithmetic; bfloat16 "
                             "checkpoints load in float32 (dtype=None or 'auto')")
    out = np.dtype(dtypes.as_dtype(dtype))
    if out.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
    return out


class PreTrainedModel(nn.Module):
    """Base class of every model: config handling, weight init, tying, loading and saving.

    Subclasses set ``config_class``, ``base_model_prefix`` (the attribute holding the base
    model in head models, e.g. ``"transformer"`` or ``"bert"``), ``_tied_weights_keys``
    (``{"lm_head.weight": "transformer.wte.weight"}``: target <- source when
    ``config.tie_word_embeddings``), implement ``_init_weights(module)`` with the family's
    initialisation scheme, and call ``self.post_init()`` at the end of ``__init__``.
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    main_input_name: ClassVar[str] = "input_ids"
    _tied_weights_keys: ClassVar[dict[str, str]] = {}
    # regexes (re.search) of checkpoint tensors that are expected to be absent / surplus
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = []
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []

    def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"{type(self).__name__} needs a PretrainedConfig (e.g. "
                            f"{self.config_class.__name__}()), got {type(config).__name__}")
        self.config = config
        self.name_or_path = config.name_or_path

    # -- initialisation and tying -----------------------------------------------------------------
    def _init_weights(self, module: nn.Module) -> None:
        """The family's initialisation of one module (HF's scheme); called for every module."""

    def post_init(self) -> None:
        """Initialise all weights with the family's scheme, then tie embeddings."""
        self.init_weights()

    def init_weights(self) -> None:
        self.apply(self._init_weights)  # a no-op inside nn.init.skip_init()
        self.tie_weights()

    def tie_weights(self) -> None:
        """Make each ``_tied_weights_keys`` target the same Parameter as its source."""
        if not getattr(self.config, "tie_word_embeddings", True):
            return
        for target, source in self._tied_weights_keys.items():
            try:
                src = self.get_parameter(source)
                owner, _, name = target.rpartition(".")
                module = self.get_submodule(owner) if owner else self
            except AttributeError:
                continue  # this head does not have the tied pair (e.g. a base model)
            setattr(module, name, src)

    def _tied_targets(self) -> set[str]:
        """The names that are tied to another parameter right now (saved once, under the
        source name, as transformers does)."""
        out = set()
        for target, source in self._tied_weights_keys.items():
            try:
                if self.get_parameter(target) is self.get_parameter(source):
                    out.add(target)
            except AttributeError:
                pass
        return out

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Module:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} does not define its input embeddings")
        return base.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} does not define its input embeddings")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return None

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Number of (distinct) parameters; tied weights count once."""
        skip = set()
        if exclude_embeddings:
            skip = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(p.numel() for p in self.parameters()
                   if (p.requires_grad or not only_trainable) and id(p) not in skip)

    @property
    def dtype(self):
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return np.dtype(np.float32)

    @property
    def device(self):
        from ..autograd import device
        return device("cpu")

    # -- saving -----------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, state_dict: dict | None = None,
                        max_shard_size: int | str = "5GB", safe_serialization: bool = True,
                        is_main_process: bool = True, **_: Any) -> None:
        """Write config.json and the weights as safetensors (sharded above ``max_shard_size``)
        in the layout ``transformers`` reads. Tied weights are stored once."""
        if not safe_serialization:
            raise ValueError("ember saves safetensors only (safe_serialization=False would "
                             "mean a pickle)")
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained: {save_directory} is a file, not a folder")
        if not is_main_process:
            return
        os.makedirs(save_directory, exist_ok=True)
        self.config.architectures = [type(self).__name__]
        self.config.dtype = str(np.dtype(self.dtype))
        if state_dict is None:
            state_dict = self.state_dict()
            for k in self._tied_targets():
                state_dict.pop(k, None)
        arrays = {k: np.ascontiguousarray(v.data if hasattr(v, "data") else v)
                  for k, v in state_dict.items()}
        self.config.save_pretrained(save_directory)
        if callable(getattr(self, "can_generate", None)) and self.can_generate():
            self.generation_config.save_pretrained(save_directory)  # as transformers does
        save_checkpoint(arrays, save_directory, max_shard_size=max_shard_size,
                        metadata={"format": "pt"})

    # -- loading ----------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any,
                        config: PretrainedConfig | str | None = None, dtype: Any = None,
                        torch_dtype: Any = None, output_loading_info: bool = False,
                        ignore_mismatched_sizes: bool = False, cache_dir: Any = None,
                        revision: str | None = None, local_files_only: bool = False,
                        token: Any = None, subfolder: str = "", trust_remote_code: bool = False,
                        device_map: Any = None, **kwargs: Any):
        """Load a model from a Hugging Face checkpoint folder (config.json + safetensors), a
        name in the local HF cache, or (with ``huggingface_hub`` and a network) the Hub.

        ``dtype``: None computes in float32; "auto" keeps the checkpoint's float dtype
        (bfloat16 becomes float32); or float16/float32/float64. Other keyword arguments
        override config fields (``num_labels=3``, ``output_hidden_states=True``). The model
        is returned in eval mode, as in transformers; ``output_loading_info=True`` also
        returns ``{"missing_keys", "unexpected_keys", "mismatched_keys"}``.
        """
        if trust_remote_code:
            raise ValueError("trust_remote_code=True: ember never runs code from a checkpoint")
        if device_map not in (None, "cpu", "auto", -1) and str(device_map) != "cpu":
            raise ValueError(f"device_map={device_map!r}: ember runs on the CPU only")
        for k in ("attn_implementation", "low_cpu_mem_usage", "use_safetensors",
                  "force_download", "proxies", "resume_download", "_from_auto"):
            kwargs.pop(k, None)
        from ..utils.hub import resolve_pretrained_dir
        folder = resolve_pretrained_dir(pretrained_model_name_or_path, revision=revision,
                                        cache_dir=cache_dir, local_files_only=local_files_only,
                                        token=token, subfolder=subfolder)
        if not isinstance(config, PretrainedConfig):
            config = cls.config_class.from_pretrained(config or folder, **kwargs)
        elif kwargs:
            config.update(kwargs)
        config.name_or_path = os.fspath(pretrained_model_name_or_path)
        state = load_checkpoint(folder)
        target = _resolve_dtype(torch_dtype if dtype is None else dtype, config, state)
        with init.skip_init():
            model = cls(config, *model_args)
        info = model._load_checkpoint_state(state, target, ignore_mismatched_sizes, folder)
        if callable(getattr(model, "can_generate", None)) and model.can_generate():
            # generation_config.json when the checkpoint has one, else bos/eos/pad from config
            from ..generation.configuration_utils import GENERATION_CONFIG_NAME, GenerationConfig
            gen = GenerationConfig.from_model_config(config)
            if os.path.isfile(os.path.join(folder, GENERATION_CONFIG_NAME)):
                try:
                    gen = GenerationConfig.from_pretrained(folder)
                except ValueError as err:  # a bad generation config must not block the weights
                    logger.warning("%s: ignoring its generation_config.json (%s)", folder, err)
            model.generation_config = gen
        model.eval()
        return (model, info) if output_loading_info else model

    def _rename_checkpoint_keys(self, keys: list[str], own: set[str]) -> dict[str, str]:
        """checkpoint key -> our key (base-model prefix added or removed, legacy names fixed)."""
        renamed = {}
        for k in keys:
            new = k
            for pattern, repl in _LEGACY_RENAMES:
                new = pattern.sub(repl, new)
            renamed[k] = new
        prefix = self.base_model_prefix
        if prefix:
            p = prefix + "."
            ours_prefixed = any(k.startswith(p) for k in own)
            theirs_prefixed = any(v.startswith(p) for v in renamed.values())
            if ours_prefixed and not theirs_prefixed:  # head model, base checkpoint
                renamed = {k: p + v for k, v in renamed.items()}
            elif theirs_prefixed and not ours_prefixed:  # base model, head checkpoint
                renamed = {k: v[len(p):] if v.startswith(p) else v for k, v in renamed.items()}
        return renamed

    def _load_checkpoint_state(self, state: dict[str, np.ndarray], target: np.dtype,
                               ignore_mismatched_sizes: bool, source: str) -> dict[str, list]:
        own = self.state_dict(keep_vars=True)
        tied = set(self._tied_weights_keys) if getattr(self.config, "tie_word_embeddings",
                                                       True) else set()
        names = self._rename_checkpoint_keys(list(state), set(own))
        mapped = {names[k]: v for k, v in state.items()}
        unexpected = [k for k in state if names[k] not in own
                      and not any(re.search(p, names[k])
                                  for p in self._keys_to_ignore_on_load_unexpected)]
        missing = [k for k in own if k not in mapped and k not in tied
                   and not any(re.search(p, k) for p in self._keys_to_ignore_on_load_missing)]
        mismatched = [(k, tuple(mapped[k].shape), tuple(t.shape)) for k, t in own.items()
                      if k in mapped and tuple(mapped[k].shape) != tuple(t.shape)]
        if mismatched and not ignore_mismatched_sizes:
            raise CheckpointMismatchError(
                f"{source}: {len(mismatched)} tensor(s) in the checkpoint do not fit "
                f"{type(self).__name__}:\n" + "\n".join(
                    f"  {k}: checkpoint {list(a)} vs model {list(b)}" for k, a, b in mismatched)
                + "\n(ignore_mismatched_sizes=True re-initialises them instead)")
        bad = {k for k, _, _ in mismatched}
        for k, t in own.items():
            if k not in mapped or k in bad:
                continue
            arr = np.asarray(mapped[k])
            dt = target if arr.dtype.kind == "f" and t.data.dtype.kind == "f" else t.data.dtype
            # keep the memory map when no conversion is needed: a cold start reads only the pages
            # it touches; copy-on-write keeps the file unchanged if the weights are trained
            t.data = arr.view(np.ndarray) if arr.dtype == dt else arr.astype(dt)
        fresh = set(missing) | bad
        if fresh:
            owners = {k.rpartition(".")[0] for k in fresh}
            for name in sorted(owners):
                module = self.get_submodule(name) if name else self
                self._init_weights(module)
                for pname, p in module.named_parameters(recurse=False):
                    full = f"{name}.{pname}" if name else pname
                    if full in mapped and full not in bad:  # re-take what was loaded
                        p.data = np.asarray(mapped[full]).astype(p.data.dtype, copy=False)
        for k, t in own.items():  # parameters the checkpoint lacked still have the default dtype
            if k in fresh and t.data.dtype.kind == "f" and t.data.dtype != target:
                t.data = t.data.astype(target)
        self.tie_weights()
        if missing or bad:
            logger.warning("Some weights of %s were not initialized from the checkpoint at %s "
                           "and are newly initialized: %s. Train the model before using it.",
                           type(self).__name__, source, sorted(fresh))
        if unexpected:
            logger.warning("Some weights of the checkpoint at %s were not used by %s: %s",
                           source, type(self).__name__, unexpected)
        return {"missing_keys": missing, "unexpected_keys": unexpected,
                "mismatched_keys": mismatched}
