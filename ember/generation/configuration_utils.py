"""``GenerationConfig``: every knob of ``generate()``, stored as ``generation_config.json``.

As in transformers 5, a field left unset is ``None``: ``generate()`` fills it from the model's own
``generation_config`` and then from the global defaults (``max_length`` 20, ``top_k`` 50, greedy,
one beam, ...; see ``GenerationConfig.DEFAULTS``). Only the fields that differ from ``None`` are
written, so a file saved here is read back by ``transformers.GenerationConfig`` as an equal
config, and an unset ``max_length`` keeps its "20 new tokens" meaning.

ember adds one field: ``sliding_window`` (default off). With it, a generation that runs past the
model's context (``config.n_positions`` / ``max_position_embeddings``) keeps going on the most
recent ``n_positions`` tokens instead of failing; see ``GenerationMixin.generate``.

>>> cfg = GenerationConfig(max_new_tokens=8, do_sample=True, top_p=0.9)
>>> cfg.save_pretrained("out")            # out/generation_config.json
>>> GenerationConfig.from_pretrained("out") == cfg
True
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
from typing import Any, ClassVar

import numpy as np

__all__ = ["GenerationConfig", "GenerationMode"]

logger = logging.getLogger("ember.generation")

GENERATION_CONFIG_NAME = "generation_config.json"

# Fields ember's generate() implements.
_SUPPORTED = (
    "max_length", "max_new_tokens", "min_length", "min_new_tokens", "early_stopping", "max_time",
    "stop_strings", "do_sample", "num_beams", "use_cache", "temperature", "top_k", "top_p",
    "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "bad_words_ids",
    "renormalize_logits", "num_return_sequences", "output_attentions", "output_hidden_states",
    "output_scores", "output_logits", "return_dict_in_generate", "pad_token_id", "bos_token_id",
    "eos_token_id",
)
# transformers fields ember knows but does not implement: generate() refuses a non-neutral value
# (the value here) rather than silently ignoring it. None is always neutral.
_UNSUPPORTED_NEUTRAL: dict[str, Any] = {
    "min_p": None, "top_h": None, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "encoder_repetition_penalty": 1.0, "forced_bos_token_id": None, "forced_eos_token_id": None,
    "remove_invalid_values": False, "exponential_decay_length_penalty": None,
    "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None,
    "token_healing": False, "guidance_scale": 1.0, "watermarking_config": None,
    "encoder_no_repeat_ngram_size": 0, "decoder_start_token_id": None, "low_memory": False,
    "penalty_alpha": None, "dola_layers": None, "diversity_penalty": 0.0, "num_beam_groups": 1,
    "constraints": None, "force_words_ids": None, "use_mtp": False, "is_assistant": False,
    "prompt_lookup_num_tokens": None, "assistant_early_exit": None,
}
# transformers fields that only tune speed or assisted decoding: accepted and ignored
_IGNORED = (
    "cache_implementation", "cache_config", "max_cache_len", "compile_config", "disable_compile",
    "continuous_batching_config", "prefill_chunk_size", "num_assistant_tokens",
    "num_assistant_tokens_schedule", "assistant_confidence_threshold", "max_matching_ngram_size",
    "assistant_lookbehind", "target_lookbehind", "assistant_ensemble_weight", "speculation_type",
)
_EMBER_FIELDS = ("sliding_window",)
_ALL_FIELDS = _SUPPORTED + tuple(_UNSUPPORTED_NEUTRAL) + _IGNORED + _EMBER_FIELDS

# written by to_dict, ignored by equality (transformers' METADATA_FIELDS)
_METADATA = ("_from_model_config", "_commit_hash", "_original_object_hash",
             "transformers_version")
# a bound on lengths: larger values are a mistake (a typo, a token count passed as bytes)
_MAX_TOKENS = 1_000_000


class GenerationMode:
    """The decoding strategies ember implements (transformers' names)."""

    GREEDY_SEARCH = "greedy_search"
    SAMPLE = "sample"
    BEAM_SEARCH = "beam_search"
    BEAM_SAMPLE = "beam_sample"


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _version() -> str:
    from .. import __version__
    return f"ember-{__version__}"


class GenerationConfig:
    """Parameters of ``generate()``, with transformers' names and meaning.

    Length: ``max_length`` (prompt included; default 20 new tokens), ``max_new_tokens`` (takes
    precedence), ``min_length``, ``min_new_tokens`` (suppress EOS until reached), ``max_time``,
    ``stop_strings`` (needs ``tokenizer=`` in generate). Strategy: ``do_sample``, ``num_beams``,
    ``early_stopping`` (True / False / "never"), ``length_penalty``. Logits: ``temperature``,
    ``top_k`` (default 50 when sampling), ``top_p``, ``repetition_penalty``,
    ``no_repeat_ngram_size``, ``bad_words_ids``, ``renormalize_logits``. Output:
    ``num_return_sequences``, ``output_scores``, ``output_logits``, ``return_dict_in_generate``.
    Tokens: ``bos_token_id``, ``eos_token_id`` (an int or a list), ``pad_token_id``.
    ember only: ``sliding_window`` (bool) lets generation run past the model's context.

    Unknown keyword arguments are kept as attributes (as transformers does); invalid values
    raise ``ValueError`` at once (``validate``).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "max_length": 20, "min_length": 0, "do_sample": False, "use_cache": True,
        "early_stopping": False, "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0,
        "typical_p": 1.0, "repetition_penalty": 1.0, "length_penalty": 1.0,
        "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None,
        "num_return_sequences": 1, "output_scores": False, "return_dict_in_generate": False,
        "forced_bos_token_id": None, "forced_eos_token_id": None, "remove_invalid_values": False,
        "exponential_decay_length_penalty": None, "suppress_tokens": None,
        "begin_suppress_tokens": None, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
        "encoder_repetition_penalty": 1.0, "num_assistant_tokens": 20,
        "num_assistant_tokens_schedule": "constant", "assistant_confidence_threshold": 0.4,
        "assistant_lookbehind": 10, "target_lookbehind": 10, "num_beam_groups": 1,
        "diversity_penalty": 0.0, "sliding_window": False,
    }  # what generate() uses for a field that neither the call nor the model sets

    @staticmethod
    def _get_default_generation_params() -> dict[str, Any]:
        """What generate() uses for fields nobody set (transformers' name)."""
        return dict(GenerationConfig.DEFAULTS)

    extra_output_flags = ("output_attentions", "output_hidden_states", "output_scores",
                          "output_logits")

    def __init__(self, **kwargs: Any) -> None:
        for name in _ALL_FIELDS:
            setattr(self, name, kwargs.pop(name, None))
        kwargs.pop("_commit_hash", None)
        self._from_model_config = kwargs.pop("_from_model_config", None)
        self.transformers_version = kwargs.pop("transformers_version", None)
        if not self._from_model_config:  # a model config's other fields are not ours
            for key, value in kwargs.items():
                setattr(self, key, value)
        self.validate()

    # -- validation ---------------------------------------------------------------------------
    def validate(self, strict: bool = False) -> None:
        """Raise ``ValueError`` for values that cannot work (the message names the field and
        the fix); log a warning for flags that will be ignored (an error with ``strict``)."""
        def bad(msg: str) -> None:
            raise ValueError(f"GenerationConfig: {msg}")

        for name, lo in (("max_length", 1), ("max_new_tokens", 1), ("min_length", 0),
                         ("min_new_tokens", 0)):
            v = getattr(self, name)
            if v is None:
                continue
            if not _is_int(v):
                bad(f"`{name}` must be an int, got {v!r}")
            if v < lo:
                bad(f"`{name}` must be {'greater than 0' if lo else 'non-negative'}, got {v}")
            if v > _MAX_TOKENS:
                bad(f"`{name}` = {v} is beyond any model's reach (limit {_MAX_TOKENS})")
        if self.num_beams is not None and (not _is_int(self.num_beams) or self.num_beams < 1):
            bad(f"`num_beams` must be a positive int, got {self.num_beams!r}")
        if self.num_return_sequences is not None and (
                not _is_int(self.num_return_sequences) or self.num_return_sequences < 1):
            bad(f"`num_return_sequences` must be a positive int, got "
                f"{self.num_return_sequences!r}")
        if self.early_stopping not in (None, True, False, "never"):
            bad(f"`early_stopping` must be True, False or 'never', got {self.early_stopping!r}")
        if self.temperature is not None:
            if not _is_number(self.temperature) or math.isnan(self.temperature):
                bad(f"`temperature` must be a number, got {self.temperature!r}")
            if self.do_sample is True and not self.temperature > 0:
                bad(f"`temperature` (={self.temperature}) must be > 0 when sampling; for "
                    "greedy decoding set do_sample=False")
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 0):
            bad(f"`top_k` must be a non-negative int (0 disables it), got {self.top_k!r}")
        if self.top_p is not None and (not _is_number(self.top_p)
                                       or not 0.0 < self.top_p <= 1.0):
            bad(f"`top_p` must lie in (0, 1], got {self.top_p!r}")
        if self.repetition_penalty is not None and (
                not _is_number(self.repetition_penalty) or not self.repetition_penalty > 0):
            bad(f"`repetition_penalty` must be a positive number, got "
                f"{self.repetition_penalty!r}")
        if self.length_penalty is not None and not _is_number(self.length_penalty):
            bad(f"`length_penalty` must be a number, got {self.length_penalty!r}")
        if self.no_repeat_ngram_size is not None and (
                not _is_int(self.no_repeat_ngram_size) or self.no_repeat_ngram_size < 0):
            bad(f"`no_repeat_ngram_size` must be a non-negative int, got "
                f"{self.no_repeat_ngram_size!r}")
        if self.max_time is not None and (not _is_number(self.max_time) or self.max_time <= 0):
            bad(f"`max_time` must be a positive number of seconds, got {self.max_time!r}")
        for name in ("bos_token_id", "pad_token_id"):
            v = getattr(self, name)
            if v is not None and not _is_int(v):
                bad(f"`{name}` must be an int, got {v!r}")
        eos = self.eos_token_id
        if eos is not None:
            ids = eos if isinstance(eos, (list, tuple)) else [eos]
            if not ids or not all(_is_int(i) for i in ids):
                bad(f"`eos_token_id` must be an int or a non-empty list of ints, got {eos!r}")
        if self.bad_words_ids is not None:
            b = self.bad_words_ids
            if (not isinstance(b, list) or not b or not all(
                    isinstance(w, list) and w and all(_is_int(t) and t >= 0 for t in w)
                    for w in b)):
                bad("`bad_words_ids` must be a non-empty list of non-empty lists of token ids, "
                    f"got {b!r}")
        if self.stop_strings is not None:
            s = [self.stop_strings] if isinstance(self.stop_strings, str) else self.stop_strings
            if (not isinstance(s, (list, tuple)) or not s
                    or not all(isinstance(x, str) and x for x in s)):
                bad(f"`stop_strings` must be a non-empty string or list of them, got "
                    f"{self.stop_strings!r}")
        if self.sliding_window not in (None, True, False):
            bad(f"`sliding_window` must be a bool, got {self.sliding_window!r}")
        # combinations
        nrs = self.num_return_sequences
        if nrs is not None and nrs > 1:
            if self.num_beams is None or self.num_beams == 1:
                if not self.do_sample:
                    bad(f"`num_return_sequences`={nrs} needs do_sample=True or num_beams >= "
                        "num_return_sequences: greedy decoding (do_sample != True, "
                        "num_beams == 1) returns one sequence per prompt")
            elif nrs > self.num_beams:
                bad(f"`num_return_sequences` ({nrs}) has to be smaller or equal to `num_beams` "
                    f"({self.num_beams})")
        for arg in ("logits_processor", "stopping_criteria", "prefix_allowed_tokens_fn",
                    "streamer", "assistant_model", "generator", "tokenizer"):
            if arg in self.__dict__:
                bad(f"`{arg}` is an argument of generate(), not a generation config field")

        minor = []
        if self.do_sample is not True:
            for name, neutral in (("temperature", 1.0), ("top_p", 1.0), ("top_k", 50)):
                v = getattr(self, name)
                if v is not None and v != neutral:
                    minor.append(f"`{name}`={v} is only used when sampling (do_sample=True)")
        if self.num_beams is None or self.num_beams == 1:
            if self.early_stopping not in (None, False):
                minor.append("`early_stopping` is only used by beam search (num_beams > 1)")
            if self.length_penalty is not None and self.length_penalty != 1.0:
                minor.append("`length_penalty` is only used by beam search (num_beams > 1)")
        if self.return_dict_in_generate is not True:
            for flag in self.extra_output_flags:
                if getattr(self, flag) is True:
                    minor.append(f"`{flag}` is ignored unless return_dict_in_generate=True")
        if minor:
            if strict:
                bad("; ".join(minor))
            logger.info("GenerationConfig: %s", "; ".join(minor))

    # -- modes --------------------------------------------------------------------------------
    def get_generation_mode(self) -> str:
        """"greedy_search", "sample", "beam_search" or "beam_sample"."""
        beams = self.num_beams or 1
        if beams == 1:
            return GenerationMode.SAMPLE if self.do_sample is True else GenerationMode.GREEDY_SEARCH
        return GenerationMode.BEAM_SAMPLE if self.do_sample is True else GenerationMode.BEAM_SEARCH

    # -- updating -----------------------------------------------------------------------------
    def update(self, defaults_only: bool = False, allow_custom_entries: bool = False,
               **kwargs: Any) -> dict[str, Any]:
        """Set the fields named in ``kwargs``; return the ones that are not fields (e.g. model
        inputs). ``defaults_only`` sets only fields that are None; ``allow_custom_entries``
        adds unknown names as new attributes."""
        used = []
        for key, value in kwargs.items():
            if allow_custom_entries and not hasattr(self, key):
                setattr(self, key, value)
                used.append(key)
            elif hasattr(self, key) and not key.startswith("_"):
                if not defaults_only or getattr(self, key) is None:
                    setattr(self, key, value)
                    used.append(key)
        self.validate()
        return {k: v for k, v in kwargs.items() if k not in used}

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every attribute (custom ones included) and ``transformers_version``."""
        out = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
               if k not in ("_commit_hash", "_original_object_hash")}
        out["transformers_version"] = _version()
        return out

    def to_diff_dict(self) -> dict[str, Any]:
        """The attributes that differ from ``GenerationConfig()`` (what is saved)."""
        default = GenerationConfig().to_dict()
        return {k: v for k, v in self.to_dict().items()
                if k not in default or k == "transformers_version" or v != default[k]}

    def to_json_string(self, use_diff: bool = True, ignore_metadata: bool = False) -> str:
        d = self.to_diff_dict() if use_diff else self.to_dict()
        if ignore_metadata:
            for k in _METADATA:
                d.pop(k, None)
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike, use_diff: bool = True) -> None:
        with open(json_file_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string(use_diff=use_diff))

    def save_pretrained(self, save_directory: str | os.PathLike,
                        config_file_name: str | None = None, **_: Any) -> None:
        """Write ``generation_config.json`` (only the fields that are set) into the folder."""
        self.validate()
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained: {save_directory} is a file, not a folder")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, config_file_name or GENERATION_CONFIG_NAME))

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> GenerationConfig:
        """Build from a dict; ``kwargs`` override it (``return_unused_kwargs=True`` also returns
        the kwargs that are not fields)."""
        return_unused = kwargs.pop("return_unused_kwargs", False)
        config = cls(**{**config_dict, **kwargs})
        unused = config.update(**kwargs)
        return (config, unused) if return_unused else config

    @classmethod
    def from_pretrained(cls, pretrained_model_name: str | os.PathLike,
                        config_file_name: str | None = None, **kwargs: Any) -> GenerationConfig:
        """Load ``generation_config.json`` from a folder, a file path, or a hub name in the
        local HF cache. ``kwargs`` override the loaded fields."""
        name = os.fspath(pretrained_model_name)
        file_name = config_file_name or GENERATION_CONFIG_NAME
        hub = {k: kwargs.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token",
                                          "subfolder") if k in kwargs}
        if os.path.isfile(name):
            path = name
        else:
            folder = name
            if not os.path.isdir(name) or hub.get("subfolder"):
                from ..utils.hub import resolve_pretrained_dir
                folder = resolve_pretrained_dir(name, allow_patterns=[file_name], **hub)
            path = os.path.join(folder, file_name)
            if not os.path.isfile(path):
                raise OSError(f"{folder} has no {file_name}")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
        config = cls.from_dict(data, **kwargs)
        config._original_object_hash = hash(config)
        return config

    @classmethod
    def from_model_config(cls, model_config: Any) -> GenerationConfig:
        """The generation fields of a model config (``bos/eos/pad_token_id``, ``use_cache``,
        ...), as transformers derives them for checkpoints without a generation_config.json."""
        full = model_config.to_dict() if not isinstance(model_config, dict) else model_config
        # ember's own fields are never read from a model config (Mistral's ``sliding_window``
        # is an attention span, not this switch)
        full = {k: v for k, v in full.items() if k not in _EMBER_FIELDS}
        full.pop("_from_model_config", None)
        config = cls.from_dict({k: v for k, v in full.items() if v is not None},
                               _from_model_config=True)
        for attr in config.to_dict():
            if attr in full and attr not in _METADATA and getattr(config, attr) is None:
                setattr(config, attr, full[attr])
        if not config.return_dict_in_generate and any(
                getattr(config, f, False) for f in config.extra_output_flags):
            config.return_dict_in_generate = True
        config._original_object_hash = hash(config)
        return config

    # -- comparison ---------------------------------------------------------------------------
    def __hash__(self) -> int:
        return hash(self.to_json_string(ignore_metadata=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GenerationConfig):
            return False
        return (self.to_json_string(use_diff=False, ignore_metadata=True)
                == other.to_json_string(use_diff=False, ignore_metadata=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string(ignore_metadata=True)}"

    def __deepcopy__(self, memo: dict) -> GenerationConfig:
        new = type(self).__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def _unsupported_fields(self) -> list[str]:
        """Fields set to a value that ember's generate() does not implement."""
        out = []
        for name, neutral in _UNSUPPORTED_NEUTRAL.items():
            v = getattr(self, name, None)
            if v is not None and v != neutral:
                out.append(f"{name}={v!r}")
        for name in ("output_attentions", "output_hidden_states"):
            if getattr(self, name, None):
                out.append(f"{name}=True")
        return out
