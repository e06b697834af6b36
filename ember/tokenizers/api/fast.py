"""``PreTrainedTokenizerFast``: the transformers tokenizer API on an ember ``Tokenizer``
(``tokenizer.json`` pipeline) — what ``AutoTokenizer.from_pretrained`` returns.

Example::

    tok = PreTrainedTokenizerFast(tokenizer_file="tokenizer.json", pad_token="[PAD]")
    tok(["a pair", "of texts"], padding=True, return_tensors="np")["input_ids"].shape
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections import defaultdict

from ..added_vocabulary import AddedToken
from ..encoding import Encoding
from ..processors import TemplateProcessing
from ..tokenizer import Tokenizer
from .base import PreTrainedTokenizerBase
from .batch_encoding import BatchEncoding
from .strategies import PaddingStrategy, TruncationStrategy

__all__ = ["PreTrainedTokenizerFast"]

logger = logging.getLogger(__name__)


def _is_valid_text_input(t) -> bool:
    """str, list of str, list of lists of str, or list of pairs of lists of str."""
    if isinstance(t, str):
        return True
    if not isinstance(t, (list, tuple)):
        return False
    if not t or isinstance(t[0], str):
        return True
    if not isinstance(t[0], (list, tuple)):
        return False
    if not t[0] or isinstance(t[0][0], str):
        return True
    return isinstance(t[0][0], (list, tuple)) and (not t[0][0] or isinstance(t[0][0][0], str))


class PreTrainedTokenizerFast(PreTrainedTokenizerBase):
    """A transformers-compatible tokenizer backed by ``ember.tokenizers.Tokenizer``.

    Build it from a ``Tokenizer`` (``tokenizer_object``), a ``tokenizer.json``
    (``tokenizer_file``), or — in subclasses — slow vocabulary files."""

    vocab_files_names = {"tokenizer_file": "tokenizer.json"}

    def __init__(self, *args, tokenizer_object: Tokenizer | None = None,
                 tokenizer_file: str | os.PathLike | None = None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__} takes keyword arguments only (got "
                            f"{len(args)} positional)")
        added_tokens_decoder = kwargs.pop("added_tokens_decoder", None) or {}
        if tokenizer_object is not None:
            backend = copy.deepcopy(tokenizer_object)
        elif tokenizer_file is not None:
            backend = self._adapt_backend(Tokenizer.from_file(tokenizer_file), kwargs)
        else:
            backend = self._build_backend(kwargs)
        if backend is None:
            raise ValueError(
                f"{type(self).__name__} needs a backend: pass tokenizer_object (an ember "
                "Tokenizer) or tokenizer_file (a tokenizer.json)"
                + (", or vocabulary files" if type(self).vocab_files_names.keys() -
                   {"tokenizer_file"} else ""))
        self._tokenizer = backend
        # settings stored in tokenizer.json become the defaults, as in transformers
        if backend.truncation is not None:
            kwargs.setdefault("truncation_side", backend.truncation["direction"])
        if backend.padding is not None:
            kwargs.setdefault("pad_token", backend.padding["pad_token"])
            kwargs.setdefault("padding_side", backend.padding["direction"])
        explicit_bos_eos = "add_bos_token" in kwargs or "add_eos_token" in kwargs
        self._add_bos_token = bool(kwargs.pop("add_bos_token", False))
        self._add_eos_token = bool(kwargs.pop("add_eos_token", False))
        add_prefix_space = kwargs.get("add_prefix_space", False)
        super().__init__(**kwargs)
        self.add_prefix_space = add_prefix_space
        if self.split_special_tokens:
            raise NotImplementedError("split_special_tokens=True is not supported by ember's "
                                      "Tokenizer backend")
        self._add_missing_tokens(added_tokens_decoder)
        if explicit_bos_eos or self._tokenizer.post_processor is None:
            self.update_post_processor()

    # ---------------------------------------------------------------- backend construction
    def _build_backend(self, kwargs: dict) -> Tokenizer | None:
        """Build the backend from slow vocabulary files (subclasses); None when impossible."""
        return None

    def _adapt_backend(self, backend: Tokenizer, kwargs: dict) -> Tokenizer:
        """Adjust a backend loaded from tokenizer.json to the class's options (subclasses)."""
        return backend

    def _add_missing_tokens(self, added_tokens_decoder: dict[int, AddedToken]) -> None:
        """Add, in id order, the config's added tokens the backend lacks, then any special token
        (named or extra) not in the vocabulary of added tokens."""
        present = list(self._tokenizer.get_added_tokens_decoder().values())
        to_add = [t for _, t in sorted(added_tokens_decoder.items()) if t not in present]
        encoder = {t.content for t in present} | {str(t) for t in to_add}
        for value in [*self._special_tokens_map.values(), *self._extra_special_tokens]:
            if value is not None and str(value) not in encoder and value not in to_add:
                to_add.append(value)
                encoder.add(str(value))
        named = {str(v) for v in self._special_tokens_map.values() if v is not None}
        tokens = []
        for t in to_add:
            if isinstance(t, str):
                t = AddedToken(t, special=True)
            elif not t.special and t.content in named:
                t = AddedToken(t.content, t.single_word, t.lstrip, t.rstrip, t.normalized, True)
            tokens.append(t)
        if tokens:
            self.add_tokens(tokens)

    def update_post_processor(self) -> None:
        """Make the post-processor add ``bos``/``eos`` as ``add_bos_token``/``add_eos_token``
        say (``$A`` alone when neither)."""
        bos, eos = self.bos_token, self.eos_token
        if bos is None:
            self._add_bos_token = False
        if eos is None:
            self._add_eos_token = False
        b = f"{bos}:0 " if self._add_bos_token else ""
        e = f" {eos}:0" if self._add_eos_token else ""
        single = f"{b}$A:0{e}"
        pair = (f"{single}{(' ' + bos + ':1') if self._add_bos_token else ''} $B:1"
                f"{(' ' + eos + ':1') if self._add_eos_token else ''}")
        special = []
        if self._add_bos_token:
            special.append((bos, self.bos_token_id))
        if self._add_eos_token and not (self._add_bos_token and eos == bos):
            special.append((eos, self.eos_token_id))
        self._tokenizer.post_processor = TemplateProcessing(single=single, pair=pair,
                                                            special_tokens=special)

    @property
    def add_bos_token(self) -> bool:
        return self._add_bos_token

    @add_bos_token.setter
    def add_bos_token(self, value: bool) -> None:
        self._add_bos_token = bool(value)
        self.update_post_processor()

    @property
    def add_eos_token(self) -> bool:
        return self._add_eos_token

    @add_eos_token.setter
    def add_eos_token(self, value: bool) -> None:
        self._add_eos_token = bool(value)
        self.update_post_processor()

    # ---------------------------------------------------------------- vocabulary
    @property
    def is_fast(self) -> bool:
        return True

    @property
    def backend_tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @property
    def decoder(self):
        return self._tokenizer.decoder

    @property
    def vocab_size(self) -> int:
        """Size of the model's vocabulary, without added tokens."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def __bool__(self) -> bool:
        return True  # not len(): `if tokenizer:` must not encode anything

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return dict(sorted(self._tokenizer.get_added_tokens_decoder().items()))

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        return {t.content: i for i, t in self.added_tokens_decoder.items()}

    def get_added_vocab(self) -> dict[str, int]:
        return self.added_tokens_encoder

    def add_tokens(self, new_tokens, special_tokens: bool = False) -> int:
        """Add tokens (str or AddedToken) missing from the vocabulary; returns how many were
        new."""
        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        if special_tokens:
            # the backend marks these special: copy so the caller's AddedToken stays as given
            return self._tokenizer.add_special_tokens(
                [copy.copy(t) if isinstance(t, AddedToken) else t for t in new_tokens])
        return self._tokenizer.add_tokens(list(new_tokens))

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """Id of a token (the unk id when unknown), or ids of a list of tokens."""
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(t) for t in tokens]

    def _token_to_id(self, token: str) -> int | None:
        index = self._tokenizer.token_to_id(token)
        if index is None:
            unk = self._special_tokens_map.get("unk_token")
            return None if unk is None else self._tokenizer.token_to_id(str(unk))
        return index

    def convert_ids_to_tokens(self, ids: int | list[int],
                              skip_special_tokens: bool = False) -> str | list[str]:
        """Token of an id, or tokens of a list of ids (special ones dropped if asked)."""
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Text of tokens, through the backend's decoder."""
        dec = self._tokenizer.decoder
        return dec.decode(tokens) if dec is not None else " ".join(tokens)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    # ---------------------------------------------------------------- special-token layout
    def _post_process_ids(self, ids0: list[int], ids1: list[int] | None) -> Encoding:
        def enc(ids, type_id):
            return Encoding(ids=list(ids), type_ids=[type_id] * len(ids),
                            tokens=[self._tokenizer.id_to_token(i) or "" for i in ids])
        return self._tokenizer.post_process(enc(ids0, 0), None if ids1 is None else enc(ids1, 1),
                                            add_special_tokens=True)

    def build_inputs_with_special_tokens(self, token_ids_0: list[int],
                                         token_ids_1: list[int] | None = None) -> list[int]:
        """``ids`` with the special tokens the post-processor adds: ``[CLS] A [SEP] B [SEP]``."""
        with self._backend_settings(PaddingStrategy.DO_NOT_PAD,
                                    TruncationStrategy.DO_NOT_TRUNCATE, None, 0, None, None):
            return self._post_process_ids(token_ids_0, token_ids_1).ids

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int],
                                             token_ids_1: list[int] | None = None) -> list[int]:
        with self._backend_settings(PaddingStrategy.DO_NOT_PAD,
                                    TruncationStrategy.DO_NOT_TRUNCATE, None, 0, None, None):
            return self._post_process_ids(token_ids_0, token_ids_1).type_ids

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 for special tokens, 0 for sequence tokens: of ``ids`` as given
        (``already_has_special_tokens=True``) or after adding special tokens."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("You should not supply a second sequence if the provided sequence "
                                 "of ids is already formatted with special tokens for the model.")
            special = set(self.all_special_ids)
            return [1 if int(t) in special else 0 for t in token_ids_0]
        with self._backend_settings(PaddingStrategy.DO_NOT_PAD,
                                    TruncationStrategy.DO_NOT_TRUNCATE, None, 0, None, None):
            return self._post_process_ids(token_ids_0, token_ids_1).special_tokens_mask

    # ---------------------------------------------------------------- encoding
    @contextlib.contextmanager
    def _backend_settings(self, padding_strategy, truncation_strategy, max_length, stride,
                          pad_to_multiple_of, padding_side):
        """Set the backend's truncation/padding for one call, then restore what it had."""
        tok = self._tokenizer
        saved_trunc, saved_pad = tok.truncation, tok.padding
        try:
            if truncation_strategy == TruncationStrategy.DO_NOT_TRUNCATE:
                tok.no_truncation()
            else:
                tok.enable_truncation(max_length=max_length, stride=stride,
                                      strategy=TruncationStrategy(truncation_strategy).value,
                                      direction=self.truncation_side)
            if padding_strategy == PaddingStrategy.DO_NOT_PAD:
                tok.no_padding()
            else:
                tok.enable_padding(
                    length=max_length if padding_strategy == PaddingStrategy.MAX_LENGTH else None,
                    direction=padding_side if padding_side is not None else self.padding_side,
                    pad_id=self.pad_token_id, pad_token=self.pad_token,
                    pad_type_id=self.pad_token_type_id, pad_to_multiple_of=pad_to_multiple_of)
            yield
        finally:
            tok.no_truncation() if saved_trunc is None else tok.enable_truncation(**saved_trunc)
            tok.no_padding() if saved_pad is None else tok.enable_padding(**saved_pad)

    def _encode_plus(self, text, text_pair=None, add_special_tokens: bool = True,
                     padding_strategy=PaddingStrategy.DO_NOT_PAD,
                     truncation_strategy=TruncationStrategy.DO_NOT_TRUNCATE,
                     max_length: int | None = None, stride: int = 0,
                     is_split_into_words: bool = False, pad_to_multiple_of: int | None = None,
                     padding_side: str | None = None, return_tensors: str | None = None,
                     return_token_type_ids: bool | None = None,
                     return_attention_mask: bool | None = None,
                     return_overflowing_tokens: bool = False,
                     return_special_tokens_mask: bool = False,
                     return_offsets_mapping: bool = False, return_length: bool = False,
                     verbose: bool = True, split_special_tokens: bool | None = None,
                     **kwargs) -> BatchEncoding:
        if kwargs:  # transformers ignores them too; say so instead of failing drop-in code
            logger.warning("Keyword arguments %s not recognized: ignored.", sorted(kwargs))
        if split_special_tokens:
            raise NotImplementedError("split_special_tokens=True is not supported by ember's "
                                      "Tokenizer backend")
        for t in (text, text_pair):
            if t is not None and not _is_valid_text_input(t):
                raise ValueError(
                    "text input must be of type `str` (single example), `list[str]` (batch or "
                    "single pretokenized example) or `list[list[str]]` (batch of pretokenized "
                    "examples) or `list[tuple[list[str], list[str]]]` (batch of pretokenized "
                    "sequence pairs).")
        if is_split_into_words:
            is_batched = isinstance(text, (list, tuple)) and bool(text) and \
                isinstance(text[0], (list, tuple))
        else:
            is_batched = isinstance(text, (list, tuple))
        if is_batched:
            if isinstance(text_pair, str):
                raise TypeError("when tokenizing batches of text, `text_pair` must be a list or "
                                "tuple with the same length as `text`.")
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(f"batch length of `text`: {len(text)} does not match batch length "
                                 f"of `text_pair`: {len(text_pair)}.")
            batch = list(zip(text, text_pair)) if text_pair is not None else list(text)
        else:
            # subtle: an empty text_pair means "no pair", as in transformers
            batch = [(text, text_pair)] if text_pair else [text]
        with self._backend_settings(padding_strategy, truncation_strategy, max_length, stride,
                                    pad_to_multiple_of, padding_side):
            encodings = self._tokenizer.encode_batch(batch, is_pretokenized=is_split_into_words,
                                                     add_special_tokens=add_special_tokens)
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        data: dict[str, list] = defaultdict(list)
        rows: list[Encoding] = []
        sample_of_row: list[int] = []
        for i, enc in enumerate(encodings):
            windows = [enc, *enc.overflowing] if return_overflowing_tokens else [enc]
            for e in windows:
                data["input_ids"].append(e.ids)
                if return_token_type_ids:
                    data["token_type_ids"].append(e.type_ids)
                if return_attention_mask:
                    data["attention_mask"].append(e.attention_mask)
                if return_special_tokens_mask:
                    data["special_tokens_mask"].append(e.special_tokens_mask)
                if return_offsets_mapping:
                    data["offset_mapping"].append(e.offsets)
                if return_length:
                    data["length"].append(len(e.ids))
                rows.append(e)
                sample_of_row.append(i)
        data = dict(data)
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_of_row
        for ids in data["input_ids"]:
            self._eventual_warn_about_too_long_sequence(ids, max_length, verbose)
        if not is_batched and return_tensors is None and not return_overflowing_tokens:
            data = {k: v[0] if v and isinstance(v[0], list) else v for k, v in data.items()}
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False,
                 **kwargs) -> list[str]:
        """The tokens of ``text`` (no special tokens unless asked)."""
        return self._encode_plus(text, pair, add_special_tokens=add_special_tokens,
                                 **kwargs).tokens()

    # ---------------------------------------------------------------- decoding
    def _decode(self, token_ids, skip_special_tokens: bool = False,
                clean_up_tokenization_spaces: bool | None = None, **kwargs) -> str:
        kwargs.pop("use_source_tokenizer", None)
        if kwargs:
            logger.warning("decode(): keyword arguments %s not recognized: ignored.",
                           sorted(kwargs))
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        if isinstance(token_ids, dict):
            token_ids = token_ids["input_ids"]
        text = self._tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        if clean:
            # the clean-up was made for WordPiece; on BPE it deletes real spaces, so transformers
            # skips it unless forced
            force = self.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output
            if self._tokenizer.model.type_name == "BPE" and not force:
                logger.warning("Ignoring clean_up_tokenization_spaces=True for BPE tokenizer %s.",
                               type(self).__name__)
            else:
                text = self.clean_up_tokenization(text)
        return text

    # ---------------------------------------------------------------- saving
    @property
    def can_save_slow_tokenizer(self) -> bool:
        return True

    def saved_class_name(self) -> str:
        """``tokenizer_class`` written to tokenizer_config.json (``BertTokenizerFast`` ->
        ``BertTokenizer``; transformers maps both to the same class)."""
        name = type(self).__name__
        if name != "PreTrainedTokenizerFast" and name.endswith("Fast"):
            name = name[:-4]
        return name

    def _save_backend(self, save_directory: str, filename_prefix: str | None) -> tuple[str, ...]:
        path = os.path.join(save_directory, (f"{filename_prefix}-" if filename_prefix else "")
                            + "tokenizer.json")
        self._tokenizer.save(path)
        return (path,)
