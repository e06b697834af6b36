"""``GenerationMixin.generate``: greedy search, sampling and beam search, with transformers'
semantics (the same tokens, scores and stopping behaviour as ``transformers`` 5.25 on the same
weights), on top of a ``DecoderSession`` (see ``session.py``).

>>> out = model.generate(ids, attention_mask=mask, max_new_tokens=20)              # greedy
>>> out = model.generate(ids, do_sample=True, top_p=0.9, seed=0, max_new_tokens=20)
>>> out = model.generate(ids, num_beams=4, num_return_sequences=2, max_new_tokens=20)

Everything around the model runs in NumPy: the logits of the last position come back from the
session as float32 arrays, the processors and criteria work on those, and the ids grow in a
preallocated buffer.
"""
from __future__ import annotations

import copy
import inspect
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.random import Generator, default_generator
from ..autograd.tensor import Tensor
from ..models.modeling_outputs import ModelOutput
from .configuration_utils import GenerationConfig, GenerationMode
from .logits_process import (
    LogitNormalization, LogitsProcessorList, MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor, NoBadWordsLogitsProcessor, NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
    TopPLogitsWarper, log_softmax, softmax,
)
from .session import DecoderSession
from .stopping_criteria import (
    EosTokenCriteria, MaxLengthCriteria, MaxTimeCriteria, StopStringCriteria,
    StoppingCriteriaList,
)

__all__ = [
    "GenerateBeamDecoderOnlyOutput", "GenerateDecoderOnlyOutput", "GenerationMixin",
    "ModelSession",
]

logger = logging.getLogger("ember.generation")


# -- outputs ---------------------------------------------------------------------------------------

@dataclass
class GenerateDecoderOnlyOutput(ModelOutput):
    """Output of greedy search and sampling with ``return_dict_in_generate=True``.

    ``sequences`` (B * num_return_sequences, length): prompt and new tokens; ``scores``: one
    (B, vocab) tensor per step, the processed scores (``output_scores``); ``logits``: the raw
    ones (``output_logits``). The cache is not returned (``cache`` / ``past_key_values`` are
    None): ember's decoding sessions own theirs.
    """

    sequences: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    attentions: Any = None
    hidden_states: Any = None
    cache: Any = None

    @property
    def past_key_values(self) -> Any:
        return self.cache


@dataclass
class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """Output of beam search with ``return_dict_in_generate=True``: ``sequences``,
    ``sequences_scores`` (length-normalised log-probability of each returned sequence, with
    ``output_scores``), ``scores`` (per step, the processed log-probabilities of every beam,
    (B * num_beams, vocab)), ``beam_indices`` (the beam each token came from)."""

    sequences: Tensor | None = None
    sequences_scores: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    beam_indices: Tensor | None = None
    attentions: Any = None
    hidden_states: Any = None
    cache: Any = None

    @property
    def past_key_values(self) -> Any:
        return self.cache


GenerateOutput = GenerateDecoderOnlyOutput | GenerateBeamDecoderOnlyOutput


# -- the generic session ---------------------------------------------------------------------------

class ModelSession(DecoderSession):
    """The default ``DecoderSession``: the model's own forward (autograd ops under no_grad)
    with a ``StaticCache`` preallocated for ``max_length`` tokens, so a step never reallocates
    the cache. Works for any causal LM whose forward takes ``past_key_values``,
    ``attention_mask``, ``position_ids`` and ``use_cache`` and returns ``logits``."""

    def __init__(self, model: Any, batch_size: int, max_length: int) -> None:
        from ..models.cache_utils import StaticCache

        if int(batch_size) < 1 or int(max_length) < 1:
            raise ValueError(f"batch_size and max_length must be >= 1, got {batch_size}, "
                             f"{max_length}")
        self.model = model
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.cache = StaticCache(config=getattr(model, "config", None),
                                 max_cache_len=self.max_length, max_batch_size=self.batch_size)
        self.length = 0
        params = inspect.signature(model.forward).parameters
        self._logits_to_keep = "logits_to_keep" in params

    def forward(self, input_ids: np.ndarray, position_ids: np.ndarray,
                attention_mask: np.ndarray) -> np.ndarray:
        ids = np.asarray(input_ids, dtype=np.int64)
        pos = np.asarray(position_ids, dtype=np.int64)
        mask = np.asarray(attention_mask, dtype=np.int64)
        B = self.batch_size
        if ids.ndim != 2 or ids.shape[0] != B or ids.shape[1] < 1:
            raise ValueError(f"input_ids must be (batch {B}, T >= 1); got shape {ids.shape}")
        T = ids.shape[1]
        if pos.shape != ids.shape:
            raise ValueError(f"position_ids must have input_ids' shape {ids.shape}; got "
                             f"{pos.shape}")
        if mask.shape != (B, self.length + T):
            raise ValueError(f"attention_mask must be (batch, length + T) = ({B}, "
                             f"{self.length} + {T}); got {mask.shape}")
        if self.length + T > self.max_length:
            raise ValueError(f"session full: {self.length} cached + {T} new tokens exceed "
                             f"max_length {self.max_length}")
        kwargs: dict[str, Any] = dict(past_key_values=self.cache, attention_mask=Tensor(mask),
                                      position_ids=Tensor(pos), use_cache=True, return_dict=True)
        if self._logits_to_keep:
            kwargs["logits_to_keep"] = 1
        with no_grad():
            out = self.model(Tensor(ids), **kwargs)
        self.length += T
        logits = out.logits if hasattr(out, "logits") else out[0]
        data = logits.data if isinstance(logits, Tensor) else np.asarray(logits)
        return np.ascontiguousarray(data[:, -1, :], dtype=np.float32)

    def reorder(self, index: Any) -> None:
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError("reorder: index is empty")
        if idx.min() < 0 or idx.max() >= self.batch_size:
            raise IndexError(f"reorder: index values must lie in [0, {self.batch_size}); got "
                             f"{int(idx.min())}..{int(idx.max())}")
        self.cache.reorder_cache(idx)
        self.batch_size = int(idx.size)

    def reset(self) -> None:
        self.cache.reset()
        self.length = 0


# -- helpers ---------------------------------------------------------------------------------------

def _positions(mask: np.ndarray) -> np.ndarray:
    """cumsum(mask) - 1, padding at 0 (transformers' position ids for left padding)."""
    pos = np.cumsum(mask, axis=-1, dtype=np.int64) - 1
    return np.where(mask == 0, 0, pos)


def _as_ids(x: Any, name: str, allow_bool: bool = False) -> np.ndarray:
    """Token ids (or a mask) as a (B, T) int64 array, from a Tensor, array, torch tensor or
    (nested) list."""
    if isinstance(x, Tensor):
        arr = x.data
    elif isinstance(x, np.ndarray):
        arr = x
    elif hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        arr = x.detach().cpu().numpy()
    elif isinstance(x, (list, tuple)):
        try:
            arr = np.array(x)
        except ValueError:
            arr = None
        if arr is None or arr.dtype == object:
            raise ValueError(f"{name}: the sequences have different lengths; pad them on the "
                             "left (tokenizer(..., padding=True) with padding_side='left') and "
                             "pass the attention_mask")
    else:
        raise TypeError(f"{name} must be a Tensor, a NumPy array or a list of token ids, got "
                        f"{type(x).__name__}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): generation needs a prompt of "
                         "at least one token (e.g. the BOS token)")
    if allow_bool and arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (batch, sequence_length); got shape "
                         f"{tuple(arr.shape)}")
    return arr.astype(np.int64, copy=False)


def _rng(generator: Any, seed: int | None) -> np.random.Generator:
    if seed is not None:
        if generator is not None:
            raise ValueError("pass generator= or seed=, not both")
        return Generator().manual_seed(int(seed)).rng
    if generator is None:
        return default_generator.rng
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(getattr(generator, "rng", None), np.random.Generator):
        return generator.rng
    raise TypeError(f"generator must be an ember.Generator, got {type(generator).__name__}")


def _stable_topk(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of each row, largest first (ties: lower index first)."""
    return np.argsort(-x, axis=-1, kind="stable")[:, :k]


def _multinomial(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row (inverse CDF in float64; zero-probability tokens are never drawn)."""
    cdf = np.cumsum(probs.astype(np.float64), axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    idx = (cdf <= u[:, None]).sum(-1)
    return np.minimum(idx, probs.shape[-1] - 1)


def _sample_without_replacement(probs: np.ndarray, k: int,
                                rng: np.random.Generator) -> np.ndarray:
    """k distinct draws per row, each proportional to ``probs`` (Gumbel top-k)."""
    with np.errstate(divide="ignore"):
        keys = np.log(probs.astype(np.float64)) - np.log(-np.log(rng.random(probs.shape)))
    return _stable_topk(keys, k)


def _tensors(arrays: tuple | None) -> tuple | None:
    return None if arrays is None else tuple(Tensor(a) for a in arrays)


class _Runner:
    """Drives a session: prefill, then one token per step; with a ``window`` (sliding-window
    generation) the session is re-prefilled with the last ``window`` tokens once the sequence
    is longer than the model's context, because absolute positions make the cache stale."""

    def __init__(self, session: DecoderSession, window: int | None) -> None:
        self.session = session
        self.window = window

    def prefill(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.window is not None and ids.shape[1] > self.window:
            ids, mask = ids[:, -self.window:], mask[:, -self.window:]
        return self._own(self.session.forward(ids, _positions(mask), mask))

    @staticmethod
    def _own(logits: np.ndarray) -> np.ndarray:
        # a float32 copy: a session may hand out a buffer it reuses, and custom processors
        # (written for torch) may edit their scores in place
        return np.array(logits, dtype=np.float32)

    def step(self, seqs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Logits after ``seqs`` (B, L), whose last column is the new token; ``mask`` (B, L)."""
        L = seqs.shape[1]
        if self.window is not None and L > self.window:
            self.session.reset()
            return self.prefill(seqs, mask)
        pos = mask.sum(-1, keepdims=True) - 1  # the last position + 1
        return self._own(self.session.forward(seqs[:, -1:], pos, mask))

    def reorder(self, index: np.ndarray) -> None:
        self.session.reorder(index)


# -- the mixin -------------------------------------------------------------------------------------

class GenerationMixin:
    """Adds ``generate`` to a causal LM (a ``PreTrainedModel`` whose forward returns logits).

    ``model.generation_config`` holds the model's defaults: loaded from generation_config.json
    by ``from_pretrained``, else derived from the model config (bos/eos/pad token ids).
    ``model._decoder_session(batch_size, max_length)`` gives the decoding session; the default
    is ``ModelSession`` (the model's forward with a static cache), families may return a faster
    one that produces the same logits.
    """

    @classmethod
    def can_generate(cls) -> bool:
        return True

    @property
    def generation_config(self) -> GenerationConfig:
        gc = self.__dict__.get("_generation_config")
        if gc is None:
            gc = GenerationConfig.from_model_config(self.config)
            self.__dict__["_generation_config"] = gc
        return gc

    @generation_config.setter
    def generation_config(self, value: GenerationConfig | None) -> None:
        if value is not None and not isinstance(value, GenerationConfig):
            raise TypeError(f"generation_config must be a GenerationConfig, got "
                            f"{type(value).__name__}")
        self.__dict__["_generation_config"] = value

    def _decoder_session(self, batch_size: int, max_length: int) -> DecoderSession:
        """The session ``generate`` decodes with (override for a faster one)."""
        return ModelSession(self, batch_size, max_length)

    # -- configuration -----------------------------------------------------------------------
    def _prepare_generation_config(self, generation_config: GenerationConfig | None,
                                   kwargs: dict[str, Any]) -> tuple[GenerationConfig, dict]:
        """user kwargs > ``generation_config`` > ``self.generation_config`` > global defaults."""
        provided = generation_config is not None
        config = copy.deepcopy(generation_config if provided else GenerationConfig())
        config.update(**self.generation_config.to_dict(), defaults_only=True,
                      allow_custom_entries=True)
        config.update(**GenerationConfig.DEFAULTS, defaults_only=True)
        unused = config.update(**kwargs)
        return config, unused

    def _n_positions(self) -> int | None:
        cfg = self.config
        for name in ("n_positions", "max_position_embeddings"):
            v = getattr(cfg, name, None)
            if isinstance(v, int) and v > 0:
                return v
        return None

    # -- generate ----------------------------------------------------------------------------
    def generate(self, input_ids: Any = None, attention_mask: Any = None,
                 generation_config: GenerationConfig | None = None,
                 logits_processor: LogitsProcessorList | None = None,
                 stopping_criteria: StoppingCriteriaList | None = None,
                 streamer: Any = None, generator: Generator | None = None,
                 seed: int | None = None, tokenizer: Any = None,
                 **kwargs: Any) -> Tensor | GenerateOutput:
        """Continue the prompts ``input_ids`` (B, T) (a Tensor, array or list; left-padded
        batches need ``attention_mask``).

        Keyword arguments set ``GenerationConfig`` fields for this call (``max_new_tokens``,
        ``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``num_beams``, ``eos_token_id``,
        ``stop_strings``, ...) over ``generation_config`` and ``model.generation_config``.
        ``logits_processor`` / ``stopping_criteria`` add custom ones (replacing a built-in of
        the same class). ``generator`` (``ember.Generator().manual_seed(s)``) or ``seed``
        makes sampling reproducible. ``tokenizer`` is needed by ``stop_strings``; ``streamer``
        receives the tokens as they come (``TextStreamer``).

        Returns a (B * num_return_sequences, length) int64 Tensor: prompt plus new tokens, rows
        that finished early padded with ``pad_token_id`` (EOS when no pad token is set). With
        ``return_dict_in_generate=True``: a ``GenerateDecoderOnlyOutput`` or, for beam search,
        a ``GenerateBeamDecoderOnlyOutput``.

        Long inputs: a prompt plus ``max_new_tokens`` longer than the model's context
        (``config.n_positions``) raises ``ValueError``. ``sliding_window=True`` (ember only)
        keeps going instead: once the sequence is longer than the context, every step
        re-encodes the most recent ``n_positions`` tokens (positions restart at the window's
        start); the output holds every token. Until the window is full, the tokens are those
        of plain generation.

        The model runs in eval mode under ``no_grad``; its training mode is restored after.

        >>> ids = tokenizer(["Hello"], return_tensors="np")["input_ids"]
        >>> out = model.generate(ids, max_new_tokens=10)
        >>> tokenizer.decode(out[0])
        """
        was_training = bool(getattr(self, "training", False))
        if was_training:
            self.eval()
        try:
            with no_grad():
                return self._generate(input_ids, attention_mask, generation_config,
                                      logits_processor, stopping_criteria, streamer, generator,
                                      seed, tokenizer, kwargs)
        finally:
            if was_training:
                self.train()

    def _generate(self, input_ids, attention_mask, generation_config, logits_processor,
                  stopping_criteria, streamer, generator, seed, tokenizer, kwargs):
        # 0. inputs given as a tokenizer's output, or under transformers' name
        if isinstance(input_ids, Mapping):
            enc = dict(input_ids)
            input_ids = enc.pop("input_ids", None)
            if attention_mask is None:
                attention_mask = enc.pop("attention_mask", None)
        if "inputs" in kwargs:
            if input_ids is not None:
                raise ValueError("pass the prompt as input_ids or inputs, not both")
            input_ids = kwargs.pop("inputs")

        # 1. the generation config of this call
        if isinstance(generation_config, dict):
            generation_config = GenerationConfig(**generation_config)
        has_default_max_length = (kwargs.get("max_length") is None
                                  and (generation_config is None
                                       or getattr(generation_config, "max_length", None) is None)
                                  and self.generation_config.max_length is None)
        has_default_min_length = (kwargs.get("min_length") is None
                                  and (generation_config is None
                                       or getattr(generation_config, "min_length", None) is None)
                                  and self.generation_config.min_length is None)
        gc, unused = self._prepare_generation_config(generation_config, kwargs)
        if unused:
            raise ValueError(f"generate() got arguments it does not use: {sorted(unused)} "
                             "(neither GenerationConfig fields nor model inputs; a typo?)")
        unsupported = gc._unsupported_fields()
        if unsupported:
            raise NotImplementedError(f"ember's generate() does not implement "
                                      f"{', '.join(unsupported)}")
        mode = gc.get_generation_mode()
        beam = mode in (GenerationMode.BEAM_SEARCH, GenerationMode.BEAM_SAMPLE)
        if beam and streamer is not None:
            raise ValueError("`streamer` cannot be used with beam search (yet!). Make sure that "
                             "`num_beams` is set to 1.")

        # 2. the prompt
        eos = None if gc.eos_token_id is None else np.atleast_1d(
            np.asarray(gc.eos_token_id, dtype=np.int64))
        if input_ids is None:
            if gc.bos_token_id is None:
                raise ValueError("`bos_token_id` has to be defined when no `input_ids` are "
                                 "provided.")
            input_ids = [[gc.bos_token_id]]
        ids = _as_ids(input_ids, "input_ids")
        B, T = ids.shape
        vocab = getattr(self.config, "vocab_size", None)
        if isinstance(vocab, int) and (ids.min() < 0 or ids.max() >= vocab):
            raise ValueError(f"input_ids must lie in [0, {vocab}) (config.vocab_size); got "
                             f"{int(ids.min())}..{int(ids.max())}")
        has_mask = attention_mask is not None
        pad = gc.pad_token_id
        if pad is None and eos is not None:
            if not has_mask and B > 1:
                logger.warning("The attention mask and the pad token id were not set, with a "
                               "batched input. As a consequence, you may observe unexpected "
                               "behavior. Please pass your input's `attention_mask` to obtain "
                               "reliable results.")
            pad = int(eos[0])
        if eos is not None and (eos < 0).any():
            logger.warning("`eos_token_id` should consist of positive integers, but is %s. "
                           "Generation will not stop until the maximum length is reached.",
                           eos.tolist())

        # 3. the attention mask: given, or inferred from pad tokens as transformers does
        if has_mask:
            mask = _as_ids(attention_mask, "attention_mask", allow_bool=True)
            if mask.shape != ids.shape:
                raise ValueError(f"attention_mask has shape {mask.shape}, input_ids "
                                 f"{ids.shape}; they must match")
            if not np.isin(mask, (0, 1)).all():
                raise ValueError("attention_mask must hold only 0 (padding) and 1 (token)")
        elif pad is not None and np.isin(ids, pad).any() and (eos is None
                                                              or not np.isin(eos, pad).any()):
            mask = (ids != pad).astype(np.int64)
        else:
            mask = np.ones_like(ids)
        if (mask.sum(-1) == 0).any():
            raise ValueError("a row of attention_mask is all zeros: every prompt needs at least "
                             "one token")
        if (mask[:, -1] == 0).any():
            raise ValueError("A decoder-only architecture is being used, but right-padding was "
                             "detected (a prompt ends with padding). Pad on the left: set "
                             "`padding_side='left'` when initializing the tokenizer.")
        if not has_mask and pad is not None and B > 1 and (ids[:, -1] == pad).any():
            logger.warning("A decoder-only architecture is being used, but right-padding was "
                           "detected! For correct generation results, please set "
                           "`padding_side='left'` when initializing the tokenizer.")
        padded = bool((mask == 0).any())

        # 4. lengths
        if gc.max_new_tokens is not None:
            if not has_default_max_length and gc.max_length is not None:
                logger.warning("Both `max_new_tokens` (=%d) and `max_length`(=%d) seem to have "
                               "been set. `max_new_tokens` will take precedence.",
                               gc.max_new_tokens, gc.max_length)
            gc.max_length = gc.max_new_tokens + T
        elif has_default_max_length:
            gc.max_length = gc.max_length + T
            mpe = getattr(self.config, "max_position_embeddings", None)
            if isinstance(mpe, int) and not gc.sliding_window:
                gc.max_length = min(gc.max_length, mpe)
        if gc.min_new_tokens is not None:
            if not has_default_min_length:
                logger.warning("Both `min_new_tokens` and `min_length` seem to have been set. "
                               "`min_new_tokens` will take precedence.")
            gc.min_length = gc.min_new_tokens + T
        if has_default_max_length and gc.max_new_tokens is None:
            warnings.warn(f"Using the model-agnostic default `max_length` (={gc.max_length}) "
                          "to control the generation length. We recommend setting "
                          "`max_new_tokens` to control the maximum length of the generation.",
                          UserWarning, stacklevel=3)
        if T >= gc.max_length:
            n_pos = self._n_positions()
            hint = (f" (the prompt fills the model's {n_pos} positions: sliding_window=True "
                    "generates past them)") if n_pos is not None and T >= n_pos else ""
            raise ValueError(f"Input length of input_ids is {T}, but `max_length` is set to "
                             f"{gc.max_length}. This can lead to unexpected behavior. You should "
                             "consider increasing `max_length` or, better yet, setting "
                             f"`max_new_tokens`{hint}.")
        if gc.min_length is not None and gc.min_length > gc.max_length:
            warnings.warn(f"Unfeasible length constraints: `min_length` ({gc.min_length}) is "
                          f"larger than the maximum possible length ({gc.max_length}).",
                          UserWarning, stacklevel=3)
        n_pos = self._n_positions()
        window = None
        if n_pos is not None and gc.max_length > n_pos:
            if not gc.sliding_window:
                raise ValueError(
                    f"the prompt ({T} tokens) plus the tokens to generate "
                    f"({gc.max_length - T}) make {gc.max_length}, more than the model's context "
                    f"of {n_pos} positions (config.n_positions / max_position_embeddings). "
                    "Shorten the prompt, lower max_new_tokens, or pass sliding_window=True to "
                    f"keep generating on the most recent {n_pos} tokens.")
            window = n_pos

        # 5. processors and criteria, in transformers' order
        expand = max(gc.num_beams, gc.num_return_sequences)
        ids = np.repeat(ids, expand, axis=0)
        mask = np.repeat(mask, expand, axis=0)
        processors = self._logits_processors(gc, T, mask if padded else None, eos,
                                             logits_processor)
        criteria = self._stopping_criteria(gc, stopping_criteria, tokenizer, window is not None)

        # 6. decode
        session_len = gc.max_length if window is None else min(gc.max_length, window)
        session = self._decoder_session(batch_size=ids.shape[0], max_length=session_len)
        runner = _Runner(session, window)
        rng = _rng(generator, seed) if gc.do_sample else None
        if streamer is not None:
            streamer.put(Tensor(ids))
        if beam:
            return self._beam_search(runner, ids, mask, gc, processors, criteria, eos, pad, rng)
        return self._sample(runner, ids, mask, gc, processors, criteria, pad, rng, streamer)

    def _logits_processors(self, gc: GenerationConfig, prompt_len: int, mask: np.ndarray | None,
                           eos: np.ndarray | None,
                           custom: LogitsProcessorList | None) -> LogitsProcessorList:
        procs = LogitsProcessorList()
        if gc.repetition_penalty is not None and gc.repetition_penalty != 1.0:
            pad_lengths = (mask != 0).argmax(-1) if mask is not None else None
            procs.append(RepetitionPenaltyLogitsProcessor(gc.repetition_penalty,
                                                          prompt_ignore_length=pad_lengths))
        if gc.no_repeat_ngram_size is not None and gc.no_repeat_ngram_size > 0:
            procs.append(NoRepeatNGramLogitsProcessor(gc.no_repeat_ngram_size))
        if gc.bad_words_ids is not None:
            procs.append(NoBadWordsLogitsProcessor(gc.bad_words_ids, eos))
        if gc.min_length is not None and eos is not None and gc.min_length > 0:
            procs.append(MinLengthLogitsProcessor(gc.min_length, eos))
        if gc.min_new_tokens is not None and eos is not None and gc.min_new_tokens > 0:
            procs.append(MinNewTokensLengthLogitsProcessor(prompt_len, gc.min_new_tokens, eos))
        procs = _merge(procs, custom)
        if gc.do_sample:
            # beams keep one token more than there are EOS ids, so a beam can continue
            keep = (len(eos) + 1 if eos is not None else 2) if gc.num_beams > 1 else 1
            if gc.temperature is not None and gc.temperature != 1.0:
                procs.append(TemperatureLogitsWarper(gc.temperature))
            if gc.top_k is not None and gc.top_k != 0:
                procs.append(TopKLogitsWarper(gc.top_k, min_tokens_to_keep=keep))
            if gc.top_p is not None and gc.top_p < 1.0:
                procs.append(TopPLogitsWarper(gc.top_p, min_tokens_to_keep=keep))
        if gc.renormalize_logits is True:
            procs.append(LogitNormalization())
        return procs

    def _stopping_criteria(self, gc: GenerationConfig, custom: StoppingCriteriaList | None,
                           tokenizer: Any, sliding: bool) -> StoppingCriteriaList:
        crit = StoppingCriteriaList()
        if gc.max_length is not None:
            mpe = None if sliding else getattr(self.config, "max_position_embeddings", None)
            crit.append(MaxLengthCriteria(gc.max_length, max_position_embeddings=mpe))
        if gc.max_time is not None:
            crit.append(MaxTimeCriteria(gc.max_time))
        if gc.stop_strings is not None:
            if tokenizer is None:
                raise ValueError("There are one or more stop strings, either in the arguments "
                                 "to `generate` or in the model's generation config, but we "
                                 "could not locate a tokenizer. When generating with stop "
                                 "strings, you must pass the model's tokenizer to the "
                                 "`tokenizer` argument of `generate`.")
            crit.append(StopStringCriteria(tokenizer, gc.stop_strings))
        if gc.eos_token_id is not None:
            crit.append(EosTokenCriteria(gc.eos_token_id))
        return _merge(crit, custom)

    # -- greedy search and sampling ----------------------------------------------------------
    def _sample(self, runner: _Runner, ids: np.ndarray, mask: np.ndarray, gc: GenerationConfig,
                processors: LogitsProcessorList, criteria: StoppingCriteriaList,
                pad: int | None, rng: np.random.Generator | None,
                streamer: Any) -> Tensor | GenerateDecoderOnlyOutput:
        B, cur_len = ids.shape
        max_length = gc.max_length
        seqs = np.empty((B, max_length), dtype=np.int64)
        seqs[:, :cur_len] = ids
        full_mask = np.ones((B, max_length), dtype=np.int64)
        full_mask[:, :cur_len] = mask
        keep = gc.return_dict_in_generate is True
        scores = () if keep and gc.output_scores else None
        raw = () if keep and gc.output_logits else None
        has_eos = any(hasattr(c, "eos_token_id") for c in criteria)
        if has_eos and pad is None:
            raise ValueError("an EOS stopping criterion needs a pad_token_id (or eos_token_id) "
                             "to fill the rows that finish early")
        unfinished = np.ones(B, dtype=bool)
        logits = runner.prefill(ids, mask)
        while True:
            next_scores = processors(seqs[:, :cur_len], logits)
            if scores is not None:
                scores += (next_scores,)
            if raw is not None:
                raw += (logits,)
            if rng is not None:
                next_tokens = _multinomial(softmax(next_scores), rng)
            else:
                next_tokens = np.argmax(next_scores, axis=-1)
            if has_eos:
                next_tokens = np.where(unfinished, next_tokens, pad)
            seqs[:, cur_len] = next_tokens
            cur_len += 1
            unfinished &= ~criteria(seqs[:, :cur_len], scores)
            if streamer is not None:
                streamer.put(Tensor(next_tokens.copy()))
            if not unfinished.any():
                break
            logits = runner.step(seqs[:, :cur_len], full_mask[:, :cur_len])
        if streamer is not None:
            streamer.end()
        sequences = Tensor(seqs[:, :cur_len].copy())
        if keep:
            return GenerateDecoderOnlyOutput(sequences=sequences, scores=_tensors(scores),
                                             logits=_tensors(raw))
        return sequences

    # -- beam search ------------------------------------------------------------------------
    def _beam_search(self, runner: _Runner, ids: np.ndarray, mask: np.ndarray,
                     gc: GenerationConfig, processors: LogitsProcessorList,
                     criteria: StoppingCriteriaList, eos: np.ndarray | None, pad: int | None,
                     rng: np.random.Generator | None,
                     ) -> Tensor | GenerateBeamDecoderOnlyOutput:
        """transformers' vectorised beam search: per prompt, keep the best ``num_beams``
        running hypotheses and the best ``num_beams`` finished ones, scored by their summed
        log-probabilities divided by (generated length) ** length_penalty."""
        num_beams, max_length = gc.num_beams, gc.max_length
        early_stopping, length_penalty = gc.early_stopping, gc.length_penalty
        flat_batch, cur_len = ids.shape
        B = flat_batch // num_beams
        prompt_len = cur_len
        f32 = np.float32
        neg = f32(-1.0e9)

        # keep (number of EOS ids + 1) * num_beams candidates, so that num_beams of them can
        # continue even if the best ones all end
        n_eos = 0 if eos is None else len(eos)
        beams_to_keep = max(2, 1 + n_eos) * num_beams
        top_num_beam_mask = np.zeros(beams_to_keep, dtype=bool)
        top_num_beam_mask[:num_beams] = True

        # transformers fills unused positions with `pad or eos[0]` (so a pad id of 0 yields to
        # the EOS id), or -1 without EOS
        fill = ((pad if pad else int(eos[0])) if eos is not None else -1)
        running_sequences = np.full((B, num_beams, max_length), fill, dtype=np.int64)
        running_sequences[:, :, :cur_len] = ids.reshape(B, num_beams, cur_len)
        sequences = running_sequences.copy()
        running_beam_scores = np.zeros((B, num_beams), dtype=f32)
        running_beam_scores[:, 1:] = neg  # only the first beam starts: no duplicate beams
        beam_scores = np.full((B, num_beams), neg, dtype=f32)
        is_sent_finished = np.zeros((B, num_beams), dtype=bool)
        unsatisfied = np.ones((B, 1), dtype=bool)  # the early-stop heuristic says: go on
        running_beam_indices = np.full((B, num_beams, max_length - cur_len), -1, dtype=np.int64)
        beam_indices = running_beam_indices.copy()
        full_mask = np.ones((flat_batch, max_length), dtype=np.int64)
        full_mask[:, :cur_len] = mask

        keep = gc.return_dict_in_generate is True
        all_scores = () if keep and gc.output_scores else None
        raw = () if keep and gc.output_logits else None
        batch_offset = np.arange(B)[:, None] * num_beams
        rows = np.arange(B)[:, None]

        flat_running = ids
        logits = runner.prefill(ids, mask)
        while True:
            log_probs = processors(flat_running, log_softmax(logits))
            if raw is not None:
                raw += (logits,)
            if all_scores is not None:
                all_scores += (log_probs.copy(),)
            V = log_probs.shape[-1]
            acc = (log_probs.reshape(B, num_beams, V)
                   + running_beam_scores[:, :, None]).reshape(B, num_beams * V)

            # c. the best (or sampled) beams_to_keep continuations over all beams
            if rng is not None:
                topk_indices = _sample_without_replacement(softmax(acc), beams_to_keep, rng)
                topk_log_probs = np.take_along_axis(acc, topk_indices, -1)
                order = _stable_topk(topk_log_probs, beams_to_keep)
                topk_log_probs = np.take_along_axis(topk_log_probs, order, -1)
                topk_indices = np.take_along_axis(topk_indices, order, -1)
            else:
                topk_indices = _stable_topk(acc, beams_to_keep)
                topk_log_probs = np.take_along_axis(acc, topk_indices, -1)
            source_beam = topk_indices // V
            topk_sequences = running_sequences[rows, source_beam]  # (B, K, max_length), a copy
            topk_beam_indices = running_beam_indices[rows, source_beam]
            topk_sequences[:, :, cur_len] = topk_indices % V
            topk_beam_indices[:, :, cur_len - prompt_len] = source_beam + batch_offset

            # d. which candidates are done
            hits = criteria(topk_sequences[:, :, :cur_len + 1].reshape(B * beams_to_keep, -1),
                            all_scores)
            hits = np.asarray(hits, dtype=bool).reshape(B, beams_to_keep)

            # e. the best unfinished candidates run on
            topk_running_log_probs = topk_log_probs + hits.astype(f32) * neg
            nxt = _stable_topk(topk_running_log_probs, num_beams)
            running_sequences = topk_sequences[rows, nxt]
            running_beam_scores = np.take_along_axis(topk_running_log_probs, nxt, -1)
            running_beam_indices = topk_beam_indices[rows, nxt]

            # f. finished candidates among the top num_beams join the finished set if better
            just_finished = hits & top_num_beam_mask[None, :]
            normed = topk_log_probs / ((cur_len + 1 - prompt_len) ** length_penalty)
            full = is_sent_finished.all(-1, keepdims=True) & (early_stopping is True)
            normed = normed + full.astype(f32) * neg
            normed = normed + (~unsatisfied).astype(f32) * neg
            normed = normed + (~just_finished).astype(f32) * neg
            merged_scores = np.concatenate([beam_scores, normed], axis=1)
            best = _stable_topk(merged_scores, num_beams)
            sequences = np.concatenate([sequences, topk_sequences], axis=1)[rows, best]
            beam_scores = np.take_along_axis(merged_scores, best, -1)
            beam_indices = np.concatenate([beam_indices, topk_beam_indices], axis=1)[rows, best]
            is_sent_finished = np.take_along_axis(
                np.concatenate([is_sent_finished, just_finished], axis=1), best, -1)

            # g. the cache follows the running beams; then decide whether to go on
            runner.reorder(running_beam_indices[..., cur_len - prompt_len].reshape(-1))
            cur_len += 1
            if early_stopping == "never" and length_penalty > 0.0:
                best_len = max_length - prompt_len
            else:
                best_len = cur_len - prompt_len
            best_possible = running_beam_scores[:, :1] / (best_len ** length_penalty)
            worst_finished = np.where(is_sent_finished, beam_scores.min(1, keepdims=True), neg)
            unsatisfied = unsatisfied & (best_possible > worst_finished).any(-1, keepdims=True)
            go_on = (unsatisfied.any()
                     and not (is_sent_finished.all() and early_stopping is True)
                     and not hits.all())
            if not go_on:
                break
            flat_running = running_sequences[:, :, :cur_len].reshape(flat_batch, cur_len)
            logits = runner.step(flat_running, full_mask[:, :cur_len])

        nrs = gc.num_return_sequences
        sequences = sequences[:, :nrs].reshape(B * nrs, max_length)
        seq_scores = beam_scores[:, :nrs].reshape(-1)
        beam_indices = beam_indices[:, :nrs].reshape(B * nrs, -1)
        generated = int((beam_indices != -1).sum(1).max())
        sequences = Tensor(np.ascontiguousarray(sequences[:, :prompt_len + generated]))
        if keep:
            return GenerateBeamDecoderOnlyOutput(
                sequences=sequences,
                sequences_scores=Tensor(seq_scores) if gc.output_scores else None,
                scores=_tensors(all_scores), logits=_tensors(raw),
                beam_indices=Tensor(np.ascontiguousarray(beam_indices[:, :generated])))
        return sequences


def _merge(default: list, custom: list | None) -> Any:
    """transformers' merge: a custom processor/criterion replaces the built-in one of the same
    class in place; the other custom ones come after."""
    if not custom:
        return default
    out = type(default)()
    for d in default:
        same = next((c for c in custom if type(c) is type(d)), None)
        if same is not None:
            logger.warning("A custom %s has been passed to `.generate()`, but it was also "
                           "created in `.generate()`, given its parameterization. The custom "
                           "one will take precedence.", type(same).__name__)
        out.append(same if same is not None else d)
    for c in custom:
        if c not in out:
            out.append(c)
    return out
