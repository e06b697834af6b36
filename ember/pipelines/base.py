"""``Pipeline``: the base class of every task pipeline (``transformers.Pipeline``'s contract).

A call runs three steps, each overridable::

    preprocess(input, **pre)   -> dict of unbatched arrays (T,) / (T, k) plus Python metadata,
                                  or a list of such dicts (the chunks of one long input)
    _forward(batch, **fwd)     -> dict of arrays with a leading batch dim b (or lists of length
                                  b); ``batch`` is ``_collate`` of up to ``batch_size`` chunks
    postprocess(output, **post) -> the result of one input (its chunk list for chunked inputs)

Keyword arguments given to the constructor are the defaults of every call; those given to a
call override them for that call. ``_sanitize_parameters`` splits them between the three steps.
Arrays returned by ``_forward`` keep the batch's padded length: a postprocess that needs the
input's own length passes ``attention_mask`` (or ``special_tokens_mask``) through.

Example::

    class TokenCount(Pipeline):
        def preprocess(self, text):
            return unbatch_encoding(self.tokenizer(text, return_tensors="np"))
        def _forward(self, batch):
            return {"n": batch["attention_mask"].sum(1)}
        def postprocess(self, out):
            return int(out["n"])

    TokenCount(model, tokenizer)(["a b", "c"], batch_size=2)   # [4, 3]
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ..autograd import Tensor, device as _device, no_grad

__all__ = ["Pipeline", "PipelineException", "check_device", "unbatch_encoding"]


class PipelineException(ValueError):
    """An input the pipeline cannot handle (e.g. fill-mask without a mask token)."""

    def __init__(self, task: str, model: str, reason: str) -> None:
        super().__init__(reason)
        self.task, self.model = task, model


def check_device(device: Any) -> _device:
    """``ember.device("cpu")`` for None, -1, "cpu" or a cpu device; ValueError otherwise."""
    if device is None or (isinstance(device, int) and not isinstance(device, bool)
                          and device == -1):
        return _device("cpu")
    if not isinstance(device, (int, float)) and str(device).partition(":")[0] == "cpu":
        return _device("cpu")  # "cpu", "cpu:0", ember.device / torch.device("cpu")
    raise ValueError(f"device={device!r}: ember has no GPU backend yet; pipelines run on the "
                     "CPU (use device=None, -1 or 'cpu')")


def unbatch_encoding(enc: Any, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The first row of a tokenizer's ``return_tensors="np"`` output as unbatched arrays."""
    names = list(enc.keys()) if keys is None else [k for k in keys if k in enc]
    return {k: np.asarray(enc[k])[0] for k in names}


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.data
    return None


class Pipeline:
    """Base pipeline: ``model`` (+ ``tokenizer``) with preprocess -> _forward -> postprocess.

    ``device``: None, -1, "cpu" or ``ember.device("cpu")`` (ember has no GPU backend).
    ``batch_size``: chunks per model call (default 1). Other keyword arguments are task
    parameters (e.g. ``top_k``) used as defaults for every call.
    """

    task: ClassVar[str] = ""
    # collate padding value per key (along the first axis); other arrays are stacked as they are
    _pad_values: ClassVar[dict[str, int]] = {
        "input_ids": -1,  # -1: the tokenizer's pad_token_id (0 if it has none)
        "attention_mask": 0, "token_type_ids": 0, "offset_mapping": 0,
        "special_tokens_mask": 1, "p_mask": 1,
    }

    def __init__(self, model: Any, tokenizer: Any = None, task: str = "", device: Any = None,
                 batch_size: int | None = None, **kwargs: Any) -> None:
        self.device = check_device(device)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.task = task or type(self).task
        self.batch_size = batch_size
        if hasattr(model, "eval"):
            model.eval()
        pre, fwd, post = self._sanitize_parameters(**kwargs)
        self._preprocess_params, self._forward_params, self._postprocess_params = pre, fwd, post

    # -- the three steps (overridden per task) ----------------------------------------------------
    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        """Split task keyword arguments into (preprocess, forward, postprocess) parameters.
        Only arguments that were given belong in the dicts (call values override defaults)."""
        self._reject_unknown(kwargs)
        return {}, {}, {}

    def preprocess(self, inputs: Any, **params: Any) -> dict | list[dict]:
        raise NotImplementedError

    def _forward(self, model_inputs: dict, **params: Any) -> dict:
        raise NotImplementedError

    def postprocess(self, model_outputs: Any, **params: Any) -> Any:
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------------
    def _reject_unknown(self, kwargs: dict) -> None:
        """TypeError naming keyword arguments this pipeline does not take."""
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")

    def _model_kwargs(self, model_inputs: dict) -> dict:
        """The model's tensor inputs from a collated batch (input_ids, attention_mask, ...)."""
        return {k: model_inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids",
                                             "position_ids") if model_inputs.get(k) is not None}

    def _max_length(self) -> int | None:
        """The longest input the model takes: the tokenizer's ``model_max_length`` capped by
        the config's position count (so over-long inputs are truncated, not crashed on)."""
        limits = [getattr(self.tokenizer, "model_max_length", None)]
        config = getattr(self.model, "config", None)
        limits += [getattr(config, k, None) for k in ("max_position_embeddings", "n_positions")]
        limits = [int(x) for x in limits if isinstance(x, (int, float)) and 0 < x < 1e9]
        return min(limits) if limits else None

    def _truncating(self, tokenizer_kwargs: dict) -> dict:
        """Tokenizer options with truncation on by default, to ``_max_length()``."""
        kwargs = dict(tokenizer_kwargs)
        kwargs.setdefault("truncation", True)
        if kwargs["truncation"] and kwargs.get("max_length") is None:
            kwargs["max_length"] = self._max_length()
        return kwargs

    def _is_single(self, inputs: Any) -> bool:
        """True for one input (a string or a dict); lists, tuples and generators are many."""
        return isinstance(inputs, (str, dict)) or not isinstance(inputs, Iterable)

    @property
    def padding_side(self) -> str:
        return getattr(self.tokenizer, "padding_side", None) or "right"

    @property
    def pad_token_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        return 0 if pad is None else int(pad)

    def _collate(self, items: list[dict]) -> dict:
        """Batch unbatched chunk dicts: padded keys (``_pad_values``) go to the longest along
        their first axis on ``padding_side``; other arrays are stacked; the rest become lists."""
        out: dict[str, Any] = {}
        left = self.padding_side == "left"
        for key in items[0]:
            values = [item.get(key) for item in items]
            arrays = [_as_array(v) for v in values]
            if any(a is None for a in arrays):
                out[key] = values
                continue
            pad = self._pad_values.get(key)
            if pad is None:
                shapes = {a.shape for a in arrays}
                if len(shapes) > 1:
                    raise ValueError(f"cannot batch {key!r}: shapes differ {sorted(shapes)} and "
                                     "the key has no padding value (Pipeline._pad_values)")
                out[key] = np.stack(arrays)
                continue
            if pad == -1:
                pad = self.pad_token_id
            longest = max(a.shape[0] for a in arrays)
            batch = np.full((len(arrays), longest, *arrays[0].shape[1:]), pad,
                            dtype=np.result_type(*arrays))
            for i, a in enumerate(arrays):
                n = a.shape[0]
                if left:
                    batch[i, longest - n:] = a
                else:
                    batch[i, :n] = a
            out[key] = batch
        return out

    @staticmethod
    def _split(outputs: dict, b: int) -> list[dict]:
        """One dict per batch row: arrays/lists indexed on their first axis."""
        rows: list[dict] = [{} for _ in range(b)]
        for key, value in outputs.items():
            arr = _as_array(value)
            for j in range(b):
                if arr is not None and arr.ndim >= 1 and arr.shape[0] == b:
                    rows[j][key] = arr[j]
                elif isinstance(value, (list, tuple)) and len(value) == b:
                    rows[j][key] = value[j]
                else:  # a value shared by the whole batch
                    rows[j][key] = value
        return rows

    # -- running ----------------------------------------------------------------------------------
    def _merged_params(self, kwargs: dict) -> tuple[dict, dict, dict]:
        pre, fwd, post = self._sanitize_parameters(**kwargs)
        return ({**self._preprocess_params, **pre}, {**self._forward_params, **fwd},
                {**self._postprocess_params, **post})

    def _run(self, items: list, batch_size: int, pre: dict, fwd: dict, post: dict) -> list:
        chunks: list[tuple[int, dict]] = []
        chunked = [False] * len(items)
        for i, item in enumerate(items):
            model_inputs = self.preprocess(item, **pre)
            if isinstance(model_inputs, list):
                chunked[i] = True
                chunks.extend((i, c) for c in model_inputs)
            else:
                chunks.append((i, model_inputs))
        per_input: list[list[dict]] = [[] for _ in items]
        for start in range(0, len(chunks), batch_size):
            group = chunks[start:start + batch_size]
            batch = self._collate([c for _, c in group])
            with no_grad():
                outputs = self._forward(batch, **fwd)
            for (i, _), row in zip(group, self._split(outputs, len(group))):
                per_input[i].append(row)
        return [self.postprocess(outs if chunked[i] else outs[0], **post)
                for i, outs in enumerate(per_input)]

    def __call__(self, inputs: Any, *args: Any, batch_size: int | None = None,
                 num_workers: int | None = None, **kwargs: Any) -> Any:
        """One input -> one result; a list/tuple (or generator) of inputs -> a list of results
        in input order, run ``batch_size`` chunks per model call. ``num_workers`` is accepted
        for transformers compatibility and ignored (preprocessing runs in this process)."""
        if args:
            raise TypeError(f"{type(self).__name__}() takes the inputs as its only positional "
                            f"argument ({len(args)} more given); pass options by keyword")
        bs = batch_size or self.batch_size or 1
        if not isinstance(bs, int) or bs < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        pre, fwd, post = self._merged_params(kwargs)
        single = self._is_single(inputs)
        items = [inputs] if single else list(inputs)
        results = self._run(items, bs, pre, fwd, post)
        return results[0] if single else results

    # -- building from names (used by ``ember.pipelines.pipeline``) --------------------------------
    # regexes of weights a checkpoint may lack for this task (feature-extraction: the pooler)
    _ignore_missing: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _load_components(cls, model: Any, tokenizer: Any, auto_class: Any, task: str,
                         load_kwargs: dict, task_kwargs: dict) -> tuple[Any, Any]:
        """(model, tokenizer) for ``pipeline()``: ``model`` is a folder/hub name (loaded with
        ``auto_class``; refused when the checkpoint lacks weights the task needs) or a model
        object (refused when it is not ``auto_class``'s class for its config)."""
        load_kwargs = dict(load_kwargs)
        hub = {k: load_kwargs[k] for k in ("revision", "token", "cache_dir", "local_files_only")
               if k in load_kwargs}
        if isinstance(model, (str, os.PathLike)):
            name = os.fspath(model)
            from ..models import AutoConfig
            config = load_kwargs.pop("config", None) or AutoConfig.from_pretrained(name, **hub)
            try:
                auto_class.model_class_for(config)
            except ValueError as err:
                raise ValueError(f"{task}: {name} has no {auto_class.__name__} class, so it "
                                 f"cannot run {task!r} ({err})") from None
            model, info = auto_class.from_pretrained(name, config=config,
                                                     output_loading_info=True, **load_kwargs)
            missing = [k for k in info["missing_keys"]
                       if not any(re.search(p, k) for p in cls._ignore_missing)]
            if missing:
                shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
                raise ValueError(
                    f"{task}: the checkpoint {name} lacks weights {type(model).__name__} needs "
                    f"({shown}); they would be random, so the pipeline's outputs would be "
                    "meaningless. Fine-tune the model for the task first (and save it), or use "
                    "'feature-extraction' for its embeddings. (transformers only warns here; "
                    "ember refuses.)")
            if tokenizer is None:
                tokenizer = name
        else:
            cls._check_model(model, auto_class, task)
            if tokenizer is None:
                tokenizer = (getattr(model.config, "name_or_path", "") or
                             getattr(model, "name_or_path", "") or None)
                if tokenizer is None:
                    raise ValueError(f"{task}: pass tokenizer=... (the model object does not say "
                                     "which folder it came from)")
        if isinstance(tokenizer, (str, os.PathLike)):
            from ..tokenizers import AutoTokenizer
            tokenizer = AutoTokenizer.from_pretrained(tokenizer, **hub)
        return model, tokenizer

    @classmethod
    def _check_model(cls, model: Any, auto_class: Any, task: str) -> None:
        """ValueError unless ``model`` is the class ``auto_class`` picks for its config (i.e.
        it has the task's head)."""
        config = getattr(model, "config", None)
        if config is None:
            raise ValueError(f"{task}: model must be a folder/hub name or a PreTrainedModel, "
                             f"got {type(model).__name__}")
        try:
            expected = auto_class.model_class_for(config)
        except ValueError as err:
            raise ValueError(f"{task}: {type(model).__name__} cannot run {task!r} ({err})"
                             ) from None
        if not isinstance(model, expected):
            raise ValueError(f"{task}: {type(model).__name__} has no head for {task!r}; it "
                             f"needs {expected.__name__} ({auto_class.__name__}). Load the "
                             "checkpoint with that class, or use 'feature-extraction' for "
                             "embeddings.")

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Save the model and tokenizer so ``pipeline(task, save_directory)`` reloads them."""
        os.makedirs(save_directory, exist_ok=True)
        self.model.save_pretrained(save_directory)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)

    def __repr__(self) -> str:
        name = getattr(getattr(self.model, "config", None), "name_or_path", "") or ""
        return f"{type(self).__name__}(task={self.task!r}, model={name!r})"
