"""``ember.tokenizers``: the Hugging Face tokenizer pipeline in pure Python, plus the
transformers-style tokenizer API (``AutoTokenizer`` & co.).

The pipeline (same names as the ``tokenizers`` package)::

    from ember.tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer.from_file("tokenizer.json")

The transformers API::

    from ember.tokenizers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained("path/to/folder")
    batch = tok(["a text", "another"], padding=True, return_tensors="np")
"""
from __future__ import annotations

from . import decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: F401
from .added_vocabulary import AddedToken  # noqa: F401
from .encoding import Encoding  # noqa: F401
from .normalized import NormalizedString  # noqa: F401
from .patterns import Regex  # noqa: F401
from .pre_tokenized import PreTokenizedString  # noqa: F401
from .serialization import TokenizerFormatError  # noqa: F401
from .tokenizer import Tokenizer  # noqa: F401

# the transformers-style API (AutoTokenizer & co.)
from .auto import AutoTokenizer  # noqa: E402,F401
from .tokenization_utils import (  # noqa: E402,F401
    BatchEncoding, BertTokenizer, BertTokenizerFast, GPT2Tokenizer, GPT2TokenizerFast,
    PreTrainedTokenizerBase, PreTrainedTokenizerFast,
)
