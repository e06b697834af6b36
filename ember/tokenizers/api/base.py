"""``PreTrainedTokenizerBase``: the backend-independent half of the transformers tokenizer API —
configuration (``model_max_length``, padding/truncation sides, special tokens, chat template),
``__call__``/``encode`` argument handling, ``pad`` (what data collators call), ``decode``,
``apply_chat_template`` and ``from_pretrained``/``save_pretrained``.

The backend half (``_encode_plus``, vocabulary, ``_decode``) is ``PreTrainedTokenizerFast``.
"""
from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping, Sized

import numpy as np

from . import loading
from .batch_encoding import BatchEncoding, to_py_obj
from .special_tokens import SpecialTokensMixin
from .strategies import VERY_LARGE_INTEGER, PaddingStrategy, resolve_strategies

__all__ = ["PreTrainedTokenizerBase"]

logger = logging.getLogger(__name__)


class PreTrainedTokenizerBase(SpecialTokensMixin):
    """Configuration, call/pad/decode semantics and (de)serialization shared by all tokenizers."""

    vocab_files_names: dict[str, str] = {}
    # the first name is the main input: pad() requires it
    model_input_names: list[str] = ["input_ids", "attention_mask"]
    padding_side: str = "right"
    truncation_side: str = "right"

    def __init__(self, **kwargs):
        self.init_inputs = ()
        for key in kwargs:
            if callable(getattr(type(self), key, None)):
                raise AttributeError(f"{key} conflicts with the method {key} in "
                                     f"{type(self).__name__}")
        if "additional_special_tokens" in kwargs and "extra_special_tokens" not in kwargs:
            kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")
        self.init_kwargs = copy.deepcopy(kwargs)
        self.name_or_path = kwargs.pop("name_or_path", "")
        self.verbose = kwargs.pop("verbose", False)
        self._pad_token_type_id = 0
        self._init_special_tokens(kwargs)
        model_max_length = kwargs.pop("model_max_length", kwargs.pop("max_len", None))
        self.model_max_length = VERY_LARGE_INTEGER if model_max_length is None \
            else int(model_max_length)
        self.padding_side = kwargs.pop("padding_side", self.padding_side)
        if self.padding_side not in ("right", "left"):
            raise ValueError("Padding side should be selected between 'right' and 'left', current "
                             f"value: {self.padding_side}")
        self.truncation_side = kwargs.pop("truncation_side", self.truncation_side)
        if self.truncation_side not in ("right", "left"):
            raise ValueError("Truncation side should be selected between 'right' and 'left', "
                             f"current value: {self.truncation_side}")
        self.model_input_names = list(kwargs.pop("model_input_names", type(self).model_input_names))
        self.clean_up_tokenization_spaces = kwargs.pop("clean_up_tokenization_spaces", False)
        self.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output = kwargs.pop(
            "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False)
        self.split_special_tokens = kwargs.pop("split_special_tokens", False)
        chat_template = kwargs.pop("chat_template", None)
        if isinstance(chat_template, (list, tuple)):  # the config's list-of-dicts form
            chat_template = {t["name"]: t["template"] for t in chat_template}
        self.chat_template = chat_template
        self.deprecation_warnings: dict[str, bool] = {}

    @property
    def pad_token_type_id(self) -> int:
        return self._pad_token_type_id

    @property
    def max_len_single_sentence(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    def __repr__(self) -> str:
        added = "\n\t".join(f"{k}: {v!r}," for k, v in self.added_tokens_decoder.items())
        added = f"\n\t{added}\n" if added else ""
        return (f"{type(self).__name__}(name_or_path='{self.name_or_path}', "
                f"vocab_size={self.vocab_size}, model_max_length={self.model_max_length}, "
                f"padding_side='{self.padding_side}', truncation_side='{self.truncation_side}', "
                f"special_tokens={self.special_tokens_map}, added_tokens_decoder={{{added}}})")

    # ---------------------------------------------------------------- encoding
    def __call__(self, text=None, text_pair=None, text_target=None, text_pair_target=None,
                 add_special_tokens: bool = True, padding: bool | str = False,
                 truncation: bool | str | None = None, max_length: int | None = None,
                 stride: int = 0, is_split_into_words: bool = False,
                 pad_to_multiple_of: int | None = None, padding_side: str | None = None,
                 return_tensors: str | None = None, return_token_type_ids: bool | None = None,
                 return_attention_mask: bool | None = None, return_overflowing_tokens: bool = False,
                 return_special_tokens_mask: bool = False, return_offsets_mapping: bool = False,
                 return_length: bool = False, verbose: bool = True,
                 tokenizer_kwargs: dict | None = None, **kwargs) -> BatchEncoding:
        """Tokenize a text, a pair (``text, text_pair``) or batches of them (lists), or
        pre-split words (``is_split_into_words=True``) into model inputs; ``text_target`` adds
        ``labels``."""
        call = dict(add_special_tokens=add_special_tokens, stride=stride,
                    is_split_into_words=is_split_into_words, pad_to_multiple_of=pad_to_multiple_of,
                    padding_side=padding_side, return_tensors=return_tensors,
                    return_token_type_ids=return_token_type_ids,
                    return_attention_mask=return_attention_mask,
                    return_overflowing_tokens=return_overflowing_tokens,
                    return_special_tokens_mask=return_special_tokens_mask,
                    return_offsets_mapping=return_offsets_mapping, return_length=return_length,
                    split_special_tokens=kwargs.pop("split_special_tokens",
                                                    self.split_special_tokens),
                    verbose=verbose)
        max_target_length = kwargs.pop("max_target_length", None)
        call.update(tokenizer_kwargs or {})
        call.update(kwargs)
        if text is None and text_target is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        pad, trunc, max_length = resolve_strategies(
            self, call.pop("padding", padding), call.pop("truncation", truncation),
            call.pop("max_length", max_length), call.get("pad_to_multiple_of"),
            call.get("verbose", True))
        out = targets = None
        if text is not None:
            out = self._encode_plus(text, text_pair, padding_strategy=pad,
                                    truncation_strategy=trunc, max_length=max_length, **call)
        if text_target is not None:
            targets = self._encode_plus(
                text_target, text_pair_target, padding_strategy=pad, truncation_strategy=trunc,
                max_length=max_target_length if max_target_length is not None else max_length,
                **call)
        if out is None:
            return targets
        if targets is not None:
            out["labels"] = targets["input_ids"]
        return out

    def encode(self, text, text_pair=None, add_special_tokens: bool = True,
               padding: bool | str = False, truncation: bool | str | None = None,
               max_length: int | None = None, stride: int = 0, padding_side: str | None = None,
               return_tensors: str | None = None, **kwargs) -> list[int]:
        """Token ids of ``text`` (and ``text_pair``), special tokens included by default."""
        pad, trunc, max_length = resolve_strategies(
            self, padding, truncation, max_length, kwargs.get("pad_to_multiple_of"),
            kwargs.get("verbose", True))
        out = self._encode_plus(text, text_pair, add_special_tokens=add_special_tokens,
                                padding_strategy=pad, truncation_strategy=trunc,
                                max_length=max_length, stride=stride, padding_side=padding_side,
                                return_tensors=return_tensors, **kwargs)
        return out["input_ids"]

    def _encode_plus(self, text, text_pair=None, **kwargs) -> BatchEncoding:
        raise NotImplementedError

    def _eventual_warn_about_too_long_sequence(self, ids: list[int], max_length: int | None,
                                               verbose: bool) -> None:
        # once per tokenizer, like transformers: the message is about the model, not the call
        key = "sequence-length-is-longer-than-the-specified-maximum"
        if max_length is None and len(ids) > self.model_max_length and verbose and \
                self.model_max_length != 0 and not self.deprecation_warnings.get(key):
            logger.warning("Token indices sequence length is longer than the specified maximum "
                           f"sequence length for this model ({len(ids)} > {self.model_max_length})"
                           ". Running this sequence through the model will result in indexing "
                           "errors")
            self.deprecation_warnings[key] = True

    # ---------------------------------------------------------------- padding
    def pad(self, encoded_inputs, padding: bool | str = True, max_length: int | None = None,
            pad_to_multiple_of: int | None = None, padding_side: str | None = None,
            return_attention_mask: bool | None = None, return_tensors: str | None = None,
            verbose: bool = True) -> BatchEncoding:
        """Pad one encoded input (a dict of lists) or a batch (a dict of lists of lists, or a list
        of dicts — a data collator's input) to the longest row or ``max_length``.

        Arrays and tensors come back as the same kind unless ``return_tensors`` says otherwise."""
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and \
                isinstance(encoded_inputs[0], Mapping):
            encoded_inputs = {k: [ex[k] for ex in encoded_inputs] for k in encoded_inputs[0].keys()}
        main = self.model_input_names[0]
        if main not in encoded_inputs:
            raise ValueError("You should supply an encoding or a list of encodings to this method "
                             f"that includes {main}, but you provided "
                             f"{list(encoded_inputs.keys())}")
        required = encoded_inputs[main]
        if required is None or (isinstance(required, Sized) and len(required) == 0):
            if return_attention_mask:
                encoded_inputs["attention_mask"] = []
            return encoded_inputs
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((row[0] for row in required if len(row)), first)
        if not isinstance(first, (int, list, tuple)):
            kind = _tensor_kind(first)
            if kind is None:
                raise ValueError(f"type of {first} unknown: {type(first)}. Should be one of a "
                                 "python, numpy, or ember/pytorch object.")
            return_tensors = kind if return_tensors is None else return_tensors
            encoded_inputs = {k: to_py_obj(v) for k, v in encoded_inputs.items()}
        else:
            encoded_inputs = dict(encoded_inputs)
        strategy, _, max_length = resolve_strategies(self, padding, None, max_length,
                                                     verbose=verbose)
        required = encoded_inputs[main]
        if required and not isinstance(required[0], (list, tuple)):
            out = self._pad(encoded_inputs, max_length, strategy, pad_to_multiple_of, padding_side,
                            return_attention_mask)
            return BatchEncoding(out, tensor_type=return_tensors)
        batch_size = len(required)
        if any(len(v) != batch_size for v in encoded_inputs.values()):
            raise ValueError("Some items in the output dictionary have a different batch size "
                             "than others.")
        if strategy == PaddingStrategy.LONGEST:
            max_length = max(len(row) for row in required)
            strategy = PaddingStrategy.MAX_LENGTH
        batch: dict[str, list] = {}
        for i in range(batch_size):
            row = self._pad({k: v[i] for k, v in encoded_inputs.items()}, max_length, strategy,
                            pad_to_multiple_of, padding_side, return_attention_mask)
            for k, v in row.items():
                batch.setdefault(k, []).append(v)
        return BatchEncoding(batch, tensor_type=return_tensors)

    def _pad(self, encoded: dict, max_length: int | None, strategy: PaddingStrategy,
             pad_to_multiple_of: int | None, padding_side: str | None,
             return_attention_mask: bool | None) -> dict:
        """Pad one row (a dict of lists) on ``padding_side``."""
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        main = self.model_input_names[0]
        required = list(encoded[main])
        if strategy == PaddingStrategy.LONGEST:
            max_length = len(required)
        if max_length is not None and pad_to_multiple_of is not None and \
                max_length % pad_to_multiple_of != 0:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if return_attention_mask and "attention_mask" not in encoded:
            encoded["attention_mask"] = [1] * len(required)
        if strategy == PaddingStrategy.DO_NOT_PAD or len(required) == max_length:
            return encoded
        n = max_length - len(required)
        side = padding_side if padding_side is not None else self.padding_side
        if side not in ("left", "right"):
            raise ValueError(f"Invalid padding strategy:{side}")
        fills = {main: self.pad_token_id, "token_type_ids": self.pad_token_type_id,
                 "special_tokens_mask": 1}
        if return_attention_mask:
            fills["attention_mask"] = 0
        for key, fill in fills.items():
            if key in encoded:
                cur = list(encoded[key])
                encoded[key] = [fill] * n + cur if side == "left" else cur + [fill] * n
        return encoded

    # ---------------------------------------------------------------- decoding
    def decode(self, token_ids, skip_special_tokens: bool = False, **kwargs) -> str | list[str]:
        """Text of a sequence of ids (list, array or tensor); a batch gives a list of texts."""
        token_ids = to_py_obj(token_ids)
        if isinstance(token_ids, list) and token_ids and isinstance(token_ids[0], list):
            return [self._decode(seq, skip_special_tokens=skip_special_tokens, **kwargs)
                    for seq in token_ids]
        return self._decode(token_ids, skip_special_tokens=skip_special_tokens, **kwargs)

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None, **kwargs) -> list[str]:
        """``decode`` of each sequence."""
        out = self.decode(sequences, skip_special_tokens=skip_special_tokens,
                          clean_up_tokenization_spaces=clean_up_tokenization_spaces, **kwargs)
        return [out] if isinstance(out, str) else out

    def _decode(self, token_ids, skip_special_tokens: bool = False,
                clean_up_tokenization_spaces: bool | None = None, **kwargs) -> str:
        raise NotImplementedError

    def clean_up_tokenization(self, text: str) -> str:
        """Remove the spaces WordPiece-era decoding leaves before punctuation and contractions:
        ``"a , b"`` -> ``"a, b"``."""
        from ..decoders import clean_up_tokenization

        return clean_up_tokenization(text)

    # ---------------------------------------------------------------- chat
    def get_chat_template(self, chat_template: str | None = None,
                          tools: list | None = None) -> str:
        """The template to render: ``chat_template`` (a template, or a name among several), else
        the tokenizer's own."""
        from ..chat_template import select_template

        return select_template(self.chat_template, chat_template, tools)

    def apply_chat_template(self, conversation, tools: list | None = None,
                            documents: list | None = None, chat_template: str | None = None,
                            add_generation_prompt: bool = False,
                            continue_final_message: bool | str = False, tokenize: bool = True,
                            padding: bool | str = False, truncation: bool = False,
                            max_length: int | None = None, return_tensors: str | None = None,
                            return_dict: bool = True, return_assistant_tokens_mask: bool = False,
                            tokenizer_kwargs: dict | None = None, **kwargs):
        """Render a conversation (a list of ``{"role", "content"}`` dicts, or a batch of them)
        with the Jinja chat template; tokenize it unless ``tokenize=False`` (then the text)."""
        from ..chat_template import apply_chat_template

        return apply_chat_template(
            self, conversation, tools=tools, documents=documents, chat_template=chat_template,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message, tokenize=tokenize, padding=padding,
            truncation=truncation, max_length=max_length, return_tensors=return_tensors,
            return_dict=return_dict, return_assistant_tokens_mask=return_assistant_tokens_mask,
            tokenizer_kwargs=tokenizer_kwargs, **kwargs)

    # ---------------------------------------------------------------- (de)serialization
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *init_inputs,
                        cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool = False, token: str | bool | None = None,
                        revision: str | None = None, subfolder: str = "", **kwargs):
        """Load from a folder (or a name in the local Hugging Face cache): ``tokenizer.json``
        (or the slow files, converted), ``tokenizer_config.json``, ``special_tokens_map.json``
        and chat templates. Keyword arguments override the config."""
        for dropped in ("trust_remote_code", "use_fast", "force_download", "proxies",
                        "_from_auto", "_commit_hash"):
            kwargs.pop(dropped, None)  # accepted for drop-in use; nothing to do here
        folder = loading.resolve_folder(pretrained_model_name_or_path, cache_dir=cache_dir,
                                        local_files_only=local_files_only, token=token,
                                        revision=revision, subfolder=subfolder)
        init_kwargs, saved_inputs = loading.load_init_kwargs(cls, folder, kwargs)
        init_kwargs["name_or_path"] = os.fspath(pretrained_model_name_or_path)
        return cls(*(init_inputs or saved_inputs), **init_kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike,
                        legacy_format: bool | None = None, filename_prefix: str | None = None,
                        push_to_hub: bool = False, **kwargs) -> tuple[str, ...]:
        """Write ``tokenizer_config.json``, ``special_tokens_map.json``, the chat template
        (``chat_template.jinja``) and the backend's files (``tokenizer.json``); transformers'
        ``AutoTokenizer.from_pretrained`` loads them back."""
        if push_to_hub:
            raise NotImplementedError("push_to_hub is not supported by ember; upload the folder "
                                      "with huggingface_hub instead")
        if os.path.isfile(save_directory):
            raise ValueError(f"Provided path ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        files = loading.save_config_files(self, os.fspath(save_directory), filename_prefix,
                                          kwargs.get("save_jinja_files", True))
        return files + self._save_backend(os.fspath(save_directory), filename_prefix)

    def _save_backend(self, save_directory: str, filename_prefix: str | None) -> tuple[str, ...]:
        raise NotImplementedError


def _tensor_kind(x) -> str | None:
    """``return_tensors`` value that gives back ``x``'s kind (None when unknown)."""
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return "np"
    from ...autograd import Tensor

    if isinstance(x, Tensor):
        return "ember"
    if type(x).__module__.startswith("torch"):
        raise ValueError("pad(): torch tensors are not supported by ember; pass lists, NumPy "
                         "arrays or ember tensors")
    return None

