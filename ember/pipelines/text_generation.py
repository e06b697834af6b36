"""``TextGenerationPipeline``: continue prompts (or chats) with a causal LM's ``generate``
(``"text-generation"``), as transformers 5 does.

Example::

    gen = pipeline("text-generation", "path/to/gpt2")
    gen("Once upon a time", max_new_tokens=20, do_sample=False)
    # [{'generated_text': 'Once upon a time, ...'}]
    gen(["Hello", "The sky is"], num_return_sequences=2, num_beams=2, batch_size=2)
    # [[{...}, {...}], [{...}, {...}]]
    gen([{"role": "user", "content": "Hi"}])   # with a chat template: the chat + a reply
    # [{'generated_text': [{'role': 'user', ...}, {'role': 'assistant', 'content': '...'}]}]

Unless the call or the model's generation config says otherwise, generation uses the pipeline
defaults of transformers: ``max_new_tokens=256, do_sample=True, temperature=0.7``.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from .base import Pipeline

__all__ = ["TextGenerationPipeline"]

FULL_TEXT, NEW_TEXT, TENSORS = "full_text", "new_text", "tensors"
# transformers' pipeline defaults (sampling ones only apply when sampling)
_DEFAULTS = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7}
_SAMPLING = {"temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff",
             "eta_cutoff"}
# generate() arguments that are not GenerationConfig fields
_GENERATE_ARGS = {"generation_config", "streamer", "logits_processor", "stopping_criteria",
                  "stop_strings", "tokenizer", "prefix_allowed_tokens_fn", "synced_gpus",
                  "assistant_model", "negative_prompt_ids", "negative_prompt_attention_mask",
                  "use_model_defaults", "prefix_length", "seed", "generator"}


class _Chat:
    """A conversation (list of ``{"role", "content"}`` dicts) travelling as one input."""

    def __init__(self, messages: list[dict]) -> None:
        self.messages = list(messages)


def _is_chat(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and \
        all(isinstance(m, dict) and "role" in m for m in x)


class TextGenerationPipeline(Pipeline):
    """Complete prompts with ``model.generate`` (a ``*ForCausalLM``, e.g. GPT-2).

    Input: a string, a chat (list of ``{"role", "content"}`` dicts; needs a tokenizer with a chat
    template), or a list of them. Output per input: a list of ``{"generated_text": ...}``, one
    per returned sequence (``num_return_sequences``); a list input gives a list of those lists.

    Parameters: ``return_full_text`` (True: prompt + continuation; False: the new text only),
    ``return_text``, ``return_tensors`` (``{"generated_token_ids": [...]}`` instead of text),
    ``prefix`` (text prepended to the prompt, not returned), ``handle_long_generation``
    (None or ``"hole"``: drop the start of a prompt too long to leave room for the new tokens),
    ``stop_sequence`` (str or list: stop once generated, kept in the output),
    ``clean_up_tokenization_spaces``, ``skip_special_tokens`` (True), ``continue_final_message``
    (chats), ``add_special_tokens``, ``truncation``/``max_length``; every other keyword goes to
    ``generate`` (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``, ``top_p``,
    ``num_beams``, ``repetition_penalty``, ``generation_config``, ``streamer``, ...).

    Batches (``batch_size``) are padded on the left; a tokenizer without a pad token pads with
    its eos token (with a warning), as generate does for GPT-2.

    >>> gen("Hello", max_new_tokens=5, do_sample=False, return_full_text=False)
    [{'generated_text': ', I am a'}]
    """

    task = "text-generation"

    def __init__(self, model: Any, tokenizer: Any = None, **kwargs: Any) -> None:
        if not callable(getattr(model, "generate", None)):
            raise ValueError(f"text-generation needs a model with generate() (a causal LM such "
                             f"as GPT2LMHeadModel), got {type(model).__name__}")
        super().__init__(model, tokenizer, **kwargs)
        self._warned_pad = False

    # -- padding: left, with eos when there is no pad token ---------------------------------------
    @property
    def padding_side(self) -> str:
        return "left"

    @property
    def pad_token_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        if pad is None:
            pad = self._eos_token_id()
        return 0 if pad is None else int(pad)

    def _eos_token_id(self) -> int | None:
        eos = getattr(self.tokenizer, "eos_token_id", None)
        if eos is None:
            eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
            if eos is None:
                eos = getattr(self.model.config, "eos_token_id", None)
        if isinstance(eos, (list, tuple)):
            eos = eos[0] if eos else None
        return eos

    # -- parameters -------------------------------------------------------------------------------
    def _sanitize_parameters(self, return_full_text: bool | None = None,
                             return_tensors: bool | None = None, return_text: bool | None = None,
                             clean_up_tokenization_spaces: bool | None = None,
                             prefix: str | None = None, handle_long_generation: str | None = None,
                             stop_sequence: str | list[str] | None = None,
                             truncation: bool | str | None = None, max_length: int | None = None,
                             continue_final_message: bool | None = None,
                             skip_special_tokens: bool | None = None,
                             add_special_tokens: bool | None = None,
                             **generate_kwargs: Any) -> tuple[dict, dict, dict]:
        unknown = [k for k in generate_kwargs if not _is_generate_arg(k)]
        self._reject_unknown({k: generate_kwargs[k] for k in unknown})
        pre: dict[str, Any] = {}
        if add_special_tokens is not None:
            pre["add_special_tokens"] = add_special_tokens
        if truncation is not None:
            pre["truncation"] = truncation
        if max_length is not None:
            pre["max_length"] = max_length
            generate_kwargs["max_length"] = max_length
        if prefix is not None:
            pre["prefix"] = prefix
            if prefix:  # a total max_length has to include the prefix
                ids = self.tokenizer(prefix, add_special_tokens=bool(add_special_tokens))
                generate_kwargs["prefix_length"] = len(ids["input_ids"])
        if handle_long_generation is not None:
            if handle_long_generation != "hole":
                raise ValueError(f"{handle_long_generation!r} is not a valid value for "
                                 "handle_long_generation: expected None or 'hole'")
            pre["handle_long_generation"] = handle_long_generation
        if continue_final_message is not None:
            pre["continue_final_message"] = continue_final_message
        pre.update(generate_kwargs)  # preprocess needs the lengths they ask for
        fwd = generate_kwargs
        if stop_sequence is not None:
            fwd["stop_strings"] = [stop_sequence] if isinstance(stop_sequence, str) \
                else list(stop_sequence)
            fwd["tokenizer"] = self.tokenizer

        post: dict[str, Any] = {}
        return_type = None
        if return_full_text is not None:
            if return_text is not None:
                raise ValueError("`return_text` is mutually exclusive with `return_full_text`")
            if return_tensors is not None:
                raise ValueError("`return_full_text` is mutually exclusive with `return_tensors`")
            return_type = FULL_TEXT if return_full_text else NEW_TEXT
        if return_tensors is not None and return_type is None:
            if return_text is not None:
                raise ValueError("`return_text` is mutually exclusive with `return_tensors`")
            return_type = TENSORS if return_tensors else FULL_TEXT
        if return_type is not None:
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if continue_final_message is not None:
            post["continue_final_message"] = continue_final_message
        if skip_special_tokens is not None:
            post["skip_special_tokens"] = skip_special_tokens
        return pre, fwd, post

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, (str, _Chat)) or _is_chat(inputs)

    def __call__(self, text_inputs: Any, **kwargs: Any) -> list:
        """Complete a prompt, a chat, or a list of them (see the class docstring)."""
        if isinstance(text_inputs, (list, tuple)) and not _is_chat(text_inputs):
            text_inputs = [_Chat(x) if _is_chat(x) else x for x in text_inputs]
        return super().__call__(text_inputs, **kwargs)

    def _generation_params(self, generate_kwargs: dict) -> dict:
        """What generate() will use beyond its global defaults: the model's generation config,
        then a ``generation_config`` argument, then the keyword arguments."""
        params: dict[str, Any] = {}
        for config in (getattr(self.model, "generation_config", None),
                       generate_kwargs.get("generation_config")):
            if config is not None:
                params.update(_config_diff(config))
        params.update({k: v for k, v in generate_kwargs.items() if k != "generation_config"})
        return params

    def _generate_kwargs(self, generate_kwargs: dict) -> dict:
        """The call's generate() arguments plus the pipeline defaults nobody set (transformers'
        ``_prepare_generate_kwargs``) and the pad token."""
        set_params = self._generation_params(generate_kwargs)
        added = {k: v for k, v in _DEFAULTS.items() if k not in set_params and
                 not (k == "max_new_tokens" and "max_length" in set_params)}
        if not {**set_params, **added}.get("do_sample"):
            added = {k: v for k, v in added.items() if k not in _SAMPLING}
        if set_params.get("pad_token_id") is None:
            pad = getattr(self.tokenizer, "pad_token_id", None)
            if pad is None:
                pad = self._eos_token_id()
            if pad is not None:
                added["pad_token_id"] = int(pad)
        user_config = generate_kwargs.get("generation_config")
        if user_config is None:
            return {**generate_kwargs, **added}
        config = copy.deepcopy(user_config)
        config.update(**added)
        return {**generate_kwargs, "generation_config": config}

    # -- the three steps --------------------------------------------------------------------------
    def preprocess(self, prompt: Any, prefix: str = "", handle_long_generation: str | None = None,
                   add_special_tokens: bool | None = None, truncation: bool | str | None = None,
                   max_length: int | None = None, continue_final_message: bool | None = None,
                   **generate_kwargs: Any) -> dict:
        """Token ids of ``prefix + prompt`` (or of the rendered chat) and the prompt itself."""
        tok = self.tokenizer
        encode = {k: v for k, v in (("add_special_tokens", add_special_tokens),
                                    ("truncation", truncation), ("max_length", max_length))
                  if v is not None}
        if _is_chat(prompt):
            prompt = _Chat(prompt)
        if isinstance(prompt, _Chat):
            if not getattr(tok, "chat_template", None):
                raise ValueError("text-generation got a chat (a list of role/content messages) "
                                 "but the tokenizer has no chat template; pass a string prompt, "
                                 "or set tokenizer.chat_template")
            encode.pop("add_special_tokens", None)
            if continue_final_message is None:
                continue_final_message = prompt.messages[-1]["role"] == "assistant"
            ids = tok.apply_chat_template(prompt.messages, tokenize=True, return_dict=True,
                                          add_generation_prompt=not continue_final_message,
                                          continue_final_message=continue_final_message,
                                          **encode)["input_ids"]
        elif isinstance(prompt, str):
            ids = tok(prefix + prompt, **encode)["input_ids"]
        else:
            raise ValueError(f"text-generation inputs must be strings or chats, got "
                             f"{type(prompt).__name__}")
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:  # an empty prompt: generate from the start token, as generate() does
            bos = getattr(tok, "bos_token_id", None)
            if bos is None:
                bos = self._eos_token_id()
            if bos is None:
                raise ValueError("text-generation got an empty prompt and the tokenizer has no "
                                 "bos/eos token to start from")
            ids = np.array([bos], dtype=np.int64)
        ids = self._fit_length(ids, handle_long_generation, generate_kwargs)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids), "prompt_text": prompt}

    def _fit_length(self, ids: np.ndarray, handle_long_generation: str | None,
                    generate_kwargs: dict) -> np.ndarray:
        """``ids``, left-truncated with ``"hole"`` so that the prompt plus the new tokens fit the
        model; a clear error when they cannot fit."""
        limit = self._max_positions()
        if limit is None:
            return ids
        params = self._generation_params(self._generate_kwargs(generate_kwargs))
        if params.get("sliding_window"):  # ember's generate runs past the context itself
            return ids
        new_tokens = params.get("max_new_tokens")
        cur = ids.shape[0]
        if new_tokens is None:
            max_length = params.get("max_length")
            new_tokens = 0 if max_length is None else max_length - cur
        if cur + new_tokens <= limit:
            return ids
        if handle_long_generation == "hole":
            keep = limit - new_tokens
            if keep <= 0:
                raise ValueError(f"handle_long_generation='hole' cannot make room: "
                                 f"{new_tokens} new tokens alone exceed the model's maximum "
                                 f"length ({limit})")
            return ids[-keep:]
        hint = "ask for fewer new tokens" if new_tokens >= limit else \
            "pass handle_long_generation='hole' to drop the start of the prompt, or ask for " \
            "fewer new tokens"
        raise ValueError(f"the prompt has {cur} tokens and {new_tokens} new tokens are asked for, "
                         f"but the model handles at most {limit} positions; {hint} (or pass "
                         "sliding_window=True to let generate() run past the context)")

    def _max_positions(self) -> int | None:
        """The longest sequence the model and tokenizer handle (None: no known limit)."""
        limits = [getattr(self.model.config, name, None)
                  for name in ("n_positions", "max_position_embeddings")]
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and tok_max < 10**9:
            limits.append(tok_max)
        limits = [int(x) for x in limits if isinstance(x, int) and x > 0]
        return min(limits) if limits else None

    def _forward(self, model_inputs: dict, **generate_kwargs: Any) -> dict:
        input_ids = model_inputs["input_ids"]
        attention_mask = model_inputs.get("attention_mask")
        prefix_length = generate_kwargs.pop("prefix_length", 0)
        kwargs = self._generate_kwargs(generate_kwargs)
        if prefix_length:  # a total length has to include the prefix
            params = self._generation_params(kwargs)
            for length, new in (("max_length", "max_new_tokens"), ("min_length", "min_new_tokens")):
                if length in params and new not in params:
                    kwargs[length] = params[length] + prefix_length
        if getattr(self.tokenizer, "pad_token_id", None) is None and not self._warned_pad and \
                input_ids.shape[0] > 1 and attention_mask is not None and \
                not np.asarray(attention_mask).all():
            warnings.warn("the tokenizer has no pad token: padding the batch with the eos token "
                          f"(id {self.pad_token_id}), as generate() does", stacklevel=3)
            self._warned_pad = True
        output = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        sequences = getattr(output, "sequences", output)
        sequences = np.asarray(getattr(sequences, "data", sequences))
        b = input_ids.shape[0]
        return {"generated_sequence": sequences.reshape(b, -1, sequences.shape[-1]),
                "input_ids": input_ids, "attention_mask": attention_mask,
                "prompt_text": model_inputs["prompt_text"]}

    def postprocess(self, model_outputs: dict, return_type: str = FULL_TEXT,
                    clean_up_tokenization_spaces: bool | None = None,
                    continue_final_message: bool | None = None,
                    skip_special_tokens: bool | None = None) -> list[dict]:
        """One ``{"generated_text": ...}`` (or ``{"generated_token_ids": [...]}``) per returned
        sequence of one input."""
        sequences = np.asarray(model_outputs["generated_sequence"])
        prompt_len = np.asarray(model_outputs["input_ids"]).shape[-1]  # padded length
        mask = model_outputs.get("attention_mask")
        n_pad = 0 if mask is None else prompt_len - int(np.asarray(mask).sum())
        prompt = model_outputs["prompt_text"]
        skip = True if skip_special_tokens is None else skip_special_tokens
        records = []
        for seq in sequences.tolist():
            if return_type == TENSORS:
                records.append({"generated_token_ids": seq[n_pad:]})
                continue
            text = self.tokenizer.decode(seq[prompt_len:], skip_special_tokens=skip,
                                         clean_up_tokenization_spaces=clean_up_tokenization_spaces)
            if return_type == FULL_TEXT:
                if isinstance(prompt, _Chat):
                    messages = list(prompt.messages)
                    cont = continue_final_message
                    if cont is None:
                        cont = messages[-1]["role"] == "assistant"
                    if cont:  # the reply continues the last (assistant) message
                        last = messages[-1]
                        text = messages[:-1] + [{"role": last["role"],
                                                 "content": last["content"] + text}]
                    else:
                        text = messages + [{"role": "assistant", "content": text}]
                else:
                    text = prompt + text
            records.append({"generated_text": text})
        return records


def _is_generate_arg(name: str) -> bool:
    """Whether ``name`` is a generate() argument (a GenerationConfig field or one of
    ``_GENERATE_ARGS``); every name passes while ember.generation has no GenerationConfig."""
    if name in _GENERATE_ARGS:
        return True
    fields = _generation_config_fields()
    return fields is None or name in fields


def _generation_config_fields() -> set[str] | None:
    try:
        from ..generation import GenerationConfig
    except ImportError:
        return None
    return {k for k in vars(GenerationConfig()) if not k.startswith("_")}


def _config_diff(config: Any) -> dict:
    """The fields of a GenerationConfig that differ from the defaults."""
    if hasattr(config, "to_diff_dict"):
        diff = dict(config.to_diff_dict())
    else:
        try:
            default = vars(type(config)())
        except TypeError:
            default = {}
        diff = {k: v for k, v in vars(config).items()
                if not k.startswith("_") and default.get(k, object()) != v}
    diff.pop("transformers_version", None)
    return diff
