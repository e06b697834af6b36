"""Drop-in tokenizer classes for BERT and GPT-2 (``BertTokenizer(vocab_file)``,
``GPT2Tokenizer(vocab_file, merges_file)``; the ``...Fast`` names are the same classes), built on
``PreTrainedTokenizerFast``.

Like transformers 5, a folder's ``tokenizer.json`` supplies the vocabulary (and merges), while the
class's options (``do_lower_case``, ``add_prefix_space`` ...) rebuild the rest of the pipeline.
"""
from __future__ import annotations

import os

from ..added_vocabulary import AddedToken
from ..convert import build_bert, build_gpt2
from ..tokenizer import Tokenizer
from .fast import PreTrainedTokenizerFast

__all__ = ["BertTokenizer", "BertTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast"]

Token = str | AddedToken


def _swap_pipeline(backend: Tokenizer, built: Tokenizer, post_processor: bool) -> Tokenizer:
    """``backend`` (from tokenizer.json, keeping its added tokens and truncation/padding) with
    ``built``'s model, normalizer, pre-tokenizer, decoder (and post-processor)."""
    backend.normalizer = built.normalizer
    backend.model = built.model
    backend.pre_tokenizer = built.pre_tokenizer
    backend.decoder = built.decoder
    if post_processor:
        backend.post_processor = built.post_processor
    return backend


class BertTokenizer(PreTrainedTokenizerFast):
    """BERT's WordPiece tokenizer: ``BertTokenizer("vocab.txt", do_lower_case=True)``."""

    vocab_files_names = {"vocab_file": "vocab.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, vocab_file: str | os.PathLike | None = None, do_lower_case: bool = True,
                 unk_token: Token = "[UNK]", sep_token: Token = "[SEP]", pad_token: Token = "[PAD]",
                 cls_token: Token = "[CLS]", mask_token: Token = "[MASK]",
                 tokenize_chinese_chars: bool = True, strip_accents: bool | None = None,
                 vocab: dict[str, int] | str | None = None, **kwargs):
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        if isinstance(vocab, (str, os.PathLike)):
            vocab_file, vocab = vocab, None
        self.vocab_file = None if vocab_file is None else os.fspath(vocab_file)
        self._vocab_source = vocab if vocab is not None else self.vocab_file
        super().__init__(do_lower_case=do_lower_case, unk_token=unk_token, sep_token=sep_token,
                         pad_token=pad_token, cls_token=cls_token, mask_token=mask_token,
                         tokenize_chinese_chars=tokenize_chinese_chars,
                         strip_accents=strip_accents, **kwargs)

    def _options(self, kwargs: dict) -> dict:
        return {"do_lower_case": self.do_lower_case,
                "tokenize_chinese_chars": self.tokenize_chinese_chars,
                "strip_accents": self.strip_accents, "unk_token": str(kwargs["unk_token"]),
                "cls_token": str(kwargs["cls_token"]), "sep_token": str(kwargs["sep_token"])}

    def _build_backend(self, kwargs: dict) -> Tokenizer:
        vocab = self._vocab_source
        if vocab is None:  # no files: a vocabulary of the special tokens only, as transformers
            vocab = {str(kwargs[k]): i for i, k in enumerate(
                ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"))}
        return build_bert(vocab, **self._options(kwargs))

    def _adapt_backend(self, backend: Tokenizer, kwargs: dict) -> Tokenizer:
        built = build_bert(backend.model.get_vocab(), **self._options(kwargs))
        return _swap_pipeline(backend, built, post_processor=True)


class GPT2Tokenizer(PreTrainedTokenizerFast):
    """GPT-2's byte-level BPE tokenizer: ``GPT2Tokenizer("vocab.json", "merges.txt")``."""

    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt",
                         "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str | os.PathLike | None = None,
                 merges_file: str | os.PathLike | None = None, errors: str = "replace",
                 unk_token: Token = "<|endoftext|>", bos_token: Token = "<|endoftext|>",
                 eos_token: Token = "<|endoftext|>", pad_token: Token | None = None,
                 add_prefix_space: bool = False, vocab: dict[str, int] | str | None = None,
                 merges: list | str | None = None, **kwargs):
        if isinstance(vocab, (str, os.PathLike)):
            vocab_file, vocab = vocab, None
        if isinstance(merges, (str, os.PathLike)):
            merges_file, merges = merges, None
        self.vocab_file = None if vocab_file is None else os.fspath(vocab_file)
        self.merges_file = None if merges_file is None else os.fspath(merges_file)
        self._vocab_source = vocab if vocab is not None else self.vocab_file
        self._merges_source = merges if merges is not None else self.merges_file
        self.errors = errors
        super().__init__(errors=errors, unk_token=unk_token, bos_token=bos_token,
                         eos_token=eos_token, pad_token=pad_token,
                         add_prefix_space=add_prefix_space, **kwargs)

    def _build_backend(self, kwargs: dict) -> Tokenizer | None:
        vocab = self._vocab_source if self._vocab_source is not None else {}
        merges = self._merges_source if self._merges_source is not None else []
        return build_gpt2(vocab, merges, add_prefix_space=kwargs.get("add_prefix_space", False),
                          add_bos_token=kwargs.get("add_bos_token", False),
                          bos_token=str(kwargs["bos_token"]))

    def _adapt_backend(self, backend: Tokenizer, kwargs: dict) -> Tokenizer:
        model = backend.model.to_dict()
        built = build_gpt2(model["vocab"], model.get("merges", []),
                           add_prefix_space=kwargs.get("add_prefix_space", False))
        return _swap_pipeline(backend, built, post_processor=False)


BertTokenizerFast = BertTokenizer
GPT2TokenizerFast = GPT2Tokenizer
