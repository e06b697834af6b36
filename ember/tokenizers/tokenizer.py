"""``Tokenizer``: the pipeline (added tokens -> normalizer -> pre-tokenizer -> model ->
post-processor, and decoder back), read from and written to ``tokenizer.json``.

Same API and output as ``tokenizers.Tokenizer``::

    tok = Tokenizer.from_file("tokenizer.json")
    enc = tok.encode("Hello there!", "A pair")
    enc.ids, enc.tokens, enc.offsets, enc.type_ids, enc.attention_mask
    tok.decode(enc.ids)
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from .added_vocabulary import AddedToken, AddedVocabulary
from .decoders import DECODERS, Decoder
from .encoding import Encoding
from .models import MODELS, Model
from .normalizers import NORMALIZERS, Normalizer
from .padding import PaddingParams, pad_encodings
from .pre_tokenized import PreTokenizedString
from .pre_tokenizers import PRE_TOKENIZERS, PreTokenizer
from .processors import POST_PROCESSORS, PostProcessor, default_process
from .serialization import TokenizerFormatError, expect
from .truncation import TruncationParams, truncate_encodings

__all__ = ["Tokenizer"]

_TOP_LEVEL = ("version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
              "post_processor", "decoder", "model")


class Tokenizer:
    """A tokenization pipeline around a ``Model`` (see the module docstring)."""

    def __init__(self, model: Model):
        if not isinstance(model, Model):
            raise TypeError(f"Tokenizer(model): expected an ember tokenizers Model, got "
                            f"{type(model).__name__}")
        self._model = model
        self._normalizer: Normalizer | None = None
        self.pre_tokenizer: PreTokenizer | None = None
        self.post_processor: PostProcessor | None = None
        self.decoder: Decoder | None = None
        self._added = AddedVocabulary()
        self._truncation: TruncationParams | None = None
        self._padding: PaddingParams | None = None

    # ---------------------------------------------------------------- components
    @property
    def model(self) -> Model:
        return self._model

    @model.setter
    def model(self, model: Model) -> None:
        self._model = model
        self._added.refresh(model, self._normalizer)

    @property
    def normalizer(self) -> Normalizer | None:
        return self._normalizer

    @normalizer.setter
    def normalizer(self, normalizer: Normalizer | None) -> None:
        self._normalizer = normalizer
        self._added.refresh(self._model, normalizer)  # normalized added tokens depend on it

    # ---------------------------------------------------------------- vocabulary
    def add_tokens(self, tokens: Iterable[str | AddedToken]) -> int:
        """Add tokens to the vocabulary; returns how many were new."""
        return self._added.add_tokens(list(tokens), self._model, self._normalizer)

    def add_special_tokens(self, tokens: Iterable[str | AddedToken]) -> int:
        """Add special tokens (never split, skippable when decoding); returns how many were
        new."""
        toks = []
        for t in tokens:
            if isinstance(t, AddedToken):
                t.special = True
                toks.append(t)
            else:
                toks.append(AddedToken(t, special=True))
        return self._added.add_tokens(toks, self._model, self._normalizer)

    def token_to_id(self, token: str) -> int | None:
        return self._added.token_to_id(token, self._model)

    def id_to_token(self, id: int) -> str | None:
        return self._added.id_to_token(id, self._model)

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        vocab = dict(self._model.get_vocab())
        if with_added_tokens:
            vocab.update(self._added.get_vocab())
        return vocab

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        if not with_added_tokens:
            return self._model.get_vocab_size()
        return len(self.get_vocab(True))

    def get_added_tokens_decoder(self) -> dict[int, AddedToken]:
        return dict(self._added.added_tokens_map_r)

    def num_special_tokens_to_add(self, is_pair: bool) -> int:
        return self.post_processor.added_tokens(is_pair) if self.post_processor else 0

    # ---------------------------------------------------------------- padding / truncation
    def enable_truncation(self, max_length: int, stride: int = 0,
                          strategy: str = "longest_first", direction: str = "right") -> None:
        added = self.num_special_tokens_to_add(False)
        effective = max_length - added
        # HF checks `effective < stride` in usize arithmetic: a max_length below the special-token
        # count wraps around and passes (encoding without special tokens still truncates fine);
        # stride == effective is refused later, when an encoding is truncated
        if 0 <= effective < stride:
            raise ValueError(f"tokenizer stride set to {stride}, which is greater than or equal "
                             f"to its effective max length of {effective} (= {max_length} "
                             f"original max length - {added} added special tokens), ")
        self._truncation = TruncationParams(max_length=max_length, stride=stride,
                                            strategy=strategy, direction=direction)

    def no_truncation(self) -> None:
        self._truncation = None

    @property
    def truncation(self) -> dict | None:
        return None if self._truncation is None else self._truncation.as_python_dict()

    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length: int | None = None,
                       pad_to_multiple_of: int | None = None) -> None:
        self._padding = PaddingParams(direction=direction, pad_id=pad_id, pad_type_id=pad_type_id,
                                      pad_token=pad_token, length=length,
                                      pad_to_multiple_of=pad_to_multiple_of)

    def no_padding(self) -> None:
        self._padding = None

    @property
    def padding(self) -> dict | None:
        return None if self._padding is None else self._padding.as_python_dict()

    # ---------------------------------------------------------------- encoding
    def _encode_piece(self, text: str, type_id: int, word_idx: int | None) -> Encoding:
        pts = self._added.extract_and_normalize(self._normalizer, text)
        if self.pre_tokenizer is not None:
            self.pre_tokenizer.pre_tokenize(pts)
        pts.tokenize(self._model.tokenize)
        return pts.into_encoding(word_idx, type_id)

    def _encode_sequence(self, seq, type_id: int, is_pretokenized: bool) -> Encoding:
        if is_pretokenized:
            if isinstance(seq, str) or not isinstance(seq, (list, tuple)):
                raise TypeError("encode(is_pretokenized=True) expects each sequence to be a list "
                                f"or tuple of str, got {type(seq).__name__}")
            return Encoding.merge([self._encode_piece(_check_str(w), type_id, i)
                                   for i, w in enumerate(seq)], False)
        return self._encode_piece(_check_str(seq), type_id, None)

    def encode(self, sequence, pair=None, is_pretokenized: bool = False,
               add_special_tokens: bool = True) -> Encoding:
        """Encode one sequence (or a pair) into an Encoding (char offsets)."""
        enc = self._encode_sequence(sequence, 0, is_pretokenized)
        pair_enc = None if pair is None else self._encode_sequence(pair, 1, is_pretokenized)
        return self.post_process(enc, pair_enc, add_special_tokens)

    def encode_batch(self, input: list, is_pretokenized: bool = False,
                     add_special_tokens: bool = True) -> list[Encoding]:
        """Encode a list of sequences or (sequence, pair) tuples; batch padding applies."""
        if isinstance(input, str):
            raise TypeError("encode_batch expects a list of inputs, got a str")
        out = []
        for item in input:
            if isinstance(item, (tuple, list)) and not is_pretokenized:
                if len(item) != 2:
                    raise TypeError("TextEncodeInput must be Union[TextInputSequence, "
                                    "Tuple[InputSequence, InputSequence]]")
                out.append(self.encode(item[0], item[1], is_pretokenized, add_special_tokens))
            elif is_pretokenized and isinstance(item, tuple) and len(item) == 2 and \
                    all(isinstance(x, (list, tuple)) for x in item):
                out.append(self.encode(item[0], item[1], True, add_special_tokens))
            else:
                out.append(self.encode(item, None, is_pretokenized, add_special_tokens, ))
        if self._padding is not None:
            pad_encodings(out, self._padding)
        return out

    encode_batch_fast = encode_batch

    def post_process(self, encoding: Encoding, pair: Encoding | None = None,
                     add_special_tokens: bool = True) -> Encoding:
        """Truncate, add special tokens, then pad (to a fixed length) — HF's order."""
        if self._truncation is not None:
            params = self._truncation
            n_added = self.post_processor.added_tokens(pair is not None) \
                if self.post_processor is not None else 0
            if add_special_tokens and n_added > 0:
                params = params.with_max_length(params.max_length - n_added)
            encoding, pair = truncate_encodings(encoding, pair, params)
        if self.post_processor is not None:
            final = self.post_processor.process(encoding, pair, add_special_tokens)
        else:
            final = default_process(encoding, pair, add_special_tokens)
        if self._padding is not None:
            pad_encodings([final], self._padding)
        return final

    # ---------------------------------------------------------------- decoding
    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        """Text for ``ids`` (special tokens dropped unless ``skip_special_tokens=False``)."""
        tokens = []
        for i in ids:
            t = self._added.id_to_token(int(i), self._model)
            if t is None or (skip_special_tokens and self._added.is_special_token(t)):
                continue
            tokens.append(t)
        if self.decoder is not None:
            return self.decoder.decode(tokens)
        return " ".join(tokens)

    def decode_batch(self, sequences: list[list[int]],
                     skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]

    # ---------------------------------------------------------------- training
    def _words(self, sequence: str) -> list[str]:
        pts = PreTokenizedString(sequence)
        if self._normalizer is not None:
            pts.normalize(self._normalizer.normalize)
        if self.pre_tokenizer is not None:
            self.pre_tokenizer.pre_tokenize(pts)
        return [text for text, _, _ in pts.get_splits("original")]

    def train_from_iterator(self, iterator: Iterable[str], trainer=None,
                            length: int | None = None) -> None:
        """Train the model on an iterator of texts (or of lists of texts)."""
        if trainer is None:
            trainer = self._model.get_trainer()

        def flat() -> Iterator[str]:
            for item in iterator:
                if isinstance(item, str):
                    yield item
                else:
                    yield from item

        trainer.feed(flat(), self._words, length=length)
        special = trainer.train(self._model)
        self.add_special_tokens(special)

    def train(self, files: list[str], trainer=None) -> None:
        """Train the model on text files (read line by line, keeping line endings)."""
        if isinstance(files, (str, os.PathLike)):
            files = [files]

        def lines() -> Iterator[str]:
            for f in files:
                with open(f, encoding="utf-8") as fh:
                    yield from fh

        self.train_from_iterator(lines(), trainer)

    # ---------------------------------------------------------------- tokenizer.json
    def to_dict(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None if self._truncation is None else self._truncation.to_dict(),
            "padding": None if self._padding is None else self._padding.to_dict(),
            "added_tokens": self._added.to_list(),
            "normalizer": None if self._normalizer is None else self._normalizer.to_dict(),
            "pre_tokenizer": None if self.pre_tokenizer is None else self.pre_tokenizer.to_dict(),
            "post_processor": None if self.post_processor is None else
            self.post_processor.to_dict(),
            "decoder": None if self.decoder is None else self.decoder.to_dict(),
            "model": self._model.to_dict(),
        }

    def to_str(self, pretty: bool = False) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2 if pretty else None,
                          separators=None if pretty else (",", ":"))

    def save(self, path: str | os.PathLike, pretty: bool = True) -> None:
        """Write tokenizer.json (atomically: a temporary file renamed into place)."""
        tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_str(pretty))
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, d: Any) -> Tokenizer:
        expect(d, dict, "tokenizer.json")
        unknown = [k for k in d if k not in _TOP_LEVEL]
        if unknown:
            raise TokenizerFormatError(f"tokenizer.json: unknown top-level field(s) "
                                       f"{', '.join(map(repr, unknown))}")
        if "model" not in d:
            raise TokenizerFormatError("tokenizer.json: missing field 'model'")
        version = d.get("version", "1.0")
        if version != "1.0":
            raise TokenizerFormatError(f"tokenizer.json.version: unknown tokenizer version "
                                       f"{version!r} (expected '1.0')")
        tok = cls(MODELS.from_dict(d["model"], "model"))
        tok._normalizer = NORMALIZERS.from_dict(d.get("normalizer"), "normalizer")
        tok.pre_tokenizer = PRE_TOKENIZERS.from_dict(d.get("pre_tokenizer"), "pre_tokenizer")
        tok.post_processor = POST_PROCESSORS.from_dict(d.get("post_processor"), "post_processor")
        tok.decoder = DECODERS.from_dict(d.get("decoder"), "decoder")
        if d.get("truncation") is not None:
            tok._truncation = TruncationParams.from_dict(d["truncation"], "truncation")
        if d.get("padding") is not None:
            tok._padding = PaddingParams.from_dict(d["padding"], "padding")
        tok._added.load(d.get("added_tokens") or [], "added_tokens", tok._model, tok._normalizer)
        return tok

    @classmethod
    def from_str(cls, json_str: str) -> Tokenizer:
        try:
            d = json.loads(json_str)
        except json.JSONDecodeError as e:
            raise TokenizerFormatError(f"tokenizer.json is not valid JSON: {e}") from None
        return cls.from_dict(d)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Tokenizer:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return cls.from_str(text)
        except TokenizerFormatError as e:
            raise TokenizerFormatError(f"{os.fspath(path)}: {e}") from None

    @classmethod
    def from_buffer(cls, buffer: bytes) -> Tokenizer:
        return cls.from_str(buffer.decode("utf-8"))

    def __repr__(self) -> str:
        return (f"Tokenizer(vocabulary_size={self.get_vocab_size()}, "
                f"model={type(self._model).__name__})")


def _check_str(x) -> str:
    if not isinstance(x, str):
        raise TypeError(f"TextInputSequence must be str, got {type(x).__name__}")
    return x
