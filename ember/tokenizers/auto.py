"""``AutoTokenizer``: pick the tokenizer class for a folder and load it.

The class named by ``tokenizer_config.json``'s ``tokenizer_class`` (else by ``config.json``'s
``model_type``) when ember has it; else ``PreTrainedTokenizerFast`` on the folder's
``tokenizer.json``; else the slow files decide (``vocab.txt`` -> BERT, ``vocab.json`` +
``merges.txt`` -> GPT-2).

Example::

    tok = AutoTokenizer.from_pretrained("path/to/all-MiniLM-L6-v2")   # a BertTokenizer
"""
from __future__ import annotations

import json
import logging
import os

from .api.families import BertTokenizer, GPT2Tokenizer
from .api.fast import PreTrainedTokenizerFast
from .api.loading import resolve_folder

__all__ = ["AutoTokenizer", "TOKENIZER_CLASSES"]

logger = logging.getLogger(__name__)

# names found in tokenizer_config.json -> ember classes (the Fast/slow names share a class)
TOKENIZER_CLASSES: dict[str, type[PreTrainedTokenizerFast]] = {
    "BertTokenizer": BertTokenizer, "BertTokenizerFast": BertTokenizer,
    "GPT2Tokenizer": GPT2Tokenizer, "GPT2TokenizerFast": GPT2Tokenizer,
    "PreTrainedTokenizerFast": PreTrainedTokenizerFast,
    "TokenizersBackend": PreTrainedTokenizerFast,
}
_MODEL_TYPES = {"bert": BertTokenizer, "gpt2": GPT2Tokenizer}


def _read_json_field(path: str, field: str):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None
    return d.get(field) if isinstance(d, dict) else None


def _choose_class(folder: str) -> type[PreTrainedTokenizerFast]:
    has = lambda name: os.path.isfile(os.path.join(folder, name))  # noqa: E731
    name = _read_json_field(os.path.join(folder, "tokenizer_config.json"), "tokenizer_class")
    if name in TOKENIZER_CLASSES:
        return TOKENIZER_CLASSES[name]
    model_type = _read_json_field(os.path.join(folder, "config.json"), "model_type")
    if name is None and model_type in _MODEL_TYPES:
        return _MODEL_TYPES[model_type]
    if has("tokenizer.json"):
        if name is not None:
            logger.info("tokenizer_class %r has no ember class: loading tokenizer.json with "
                        "PreTrainedTokenizerFast", name)
        return PreTrainedTokenizerFast
    if has("vocab.txt"):
        return BertTokenizer
    if has("vocab.json") and has("merges.txt"):
        return GPT2Tokenizer
    raise OSError(f"Can't load a tokenizer from {folder!r}: it has no tokenizer.json, no vocab.txt "
                  "(BERT WordPiece) and no vocab.json + merges.txt (GPT-2 BPE)")


class AutoTokenizer:
    """Use ``AutoTokenizer.from_pretrained(name_or_path, **kwargs)``."""

    def __init__(self):
        raise OSError("AutoTokenizer is designed to be instantiated using the "
                      "`AutoTokenizer.from_pretrained(pretrained_model_name_or_path)` method.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *inputs,
                        **kwargs) -> PreTrainedTokenizerFast:
        """The tokenizer saved in a folder (or a name in the local Hugging Face cache)."""
        hub = {k: kwargs.get(k) for k in ("cache_dir", "token", "revision")}
        folder = resolve_folder(pretrained_model_name_or_path,
                                local_files_only=kwargs.get("local_files_only", False),
                                subfolder=kwargs.get("subfolder", ""), **hub)
        tokenizer_type = kwargs.pop("tokenizer_type", None)
        if tokenizer_type is not None:
            if tokenizer_type not in _MODEL_TYPES:
                raise ValueError(f"Passed `tokenizer_type` {tokenizer_type} does not exist. "
                                 f"`tokenizer_type` should be one of {', '.join(_MODEL_TYPES)}.")
            klass = _MODEL_TYPES[tokenizer_type]
        else:
            klass = _choose_class(folder)
        kwargs.pop("subfolder", None)
        tok = klass.from_pretrained(folder, *inputs, **kwargs)
        tok.name_or_path = os.fspath(pretrained_model_name_or_path)
        return tok
