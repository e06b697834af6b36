"""The transformers-style tokenizer API (``transformers.tokenization_utils_base`` /
``tokenization_utils_fast``): the classes live in ``ember.tokenizers.api``; this module keeps
transformers' import paths working."""
from __future__ import annotations

from .added_vocabulary import AddedToken
from .api.base import PreTrainedTokenizerBase
from .api.batch_encoding import BatchEncoding, CharSpan, TensorType, TokenSpan
from .api.families import BertTokenizer, BertTokenizerFast, GPT2Tokenizer, GPT2TokenizerFast
from .api.fast import PreTrainedTokenizerFast
from .api.strategies import PaddingStrategy, TruncationStrategy

__all__ = ["AddedToken", "BatchEncoding", "BertTokenizer", "BertTokenizerFast", "CharSpan",
           "GPT2Tokenizer", "GPT2TokenizerFast", "PaddingStrategy", "PreTrainedTokenizerBase",
           "PreTrainedTokenizerFast", "TensorType", "TokenSpan", "TruncationStrategy"]
