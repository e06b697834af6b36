"""Build a ``Tokenizer`` from slow-tokenizer files, as transformers' ``BertConverter`` and
``GPT2Converter`` do: BERT's ``vocab.txt`` (+ lower-casing / accent / CJK options) and GPT-2's
``vocab.json`` + ``merges.txt``.

Each builder returns the ``tokenizer.json`` dict HF's converter produces, so the result can be
compared with HF field by field and loaded with ``Tokenizer.from_dict``::

    tok = Tokenizer.from_dict(bert_tokenizer_json(read_wordpiece_vocab("vocab.txt")))
"""
from __future__ import annotations

import json
import os

import regex

from .serialization import TokenizerFormatError
from .tokenizer import Tokenizer

__all__ = ["bert_tokenizer_json", "build_bert", "build_gpt2", "gpt2_tokenizer_json",
           "read_bpe_merges", "read_bpe_vocab", "read_wordpiece_vocab", "template_json"]

_TRAILING_SPACE = regex.compile(r"\p{White_Space}+$")


def read_wordpiece_vocab(path: str | os.PathLike) -> dict[str, int]:
    """``vocab.txt``: one token per line, id = line number; trailing whitespace is dropped and a
    repeated token keeps its last line (what HF's ``WordPiece.read_file`` does)."""
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # subtle: a final newline ends the last line, it does not start a new one
    for i, line in enumerate(lines):
        vocab[_TRAILING_SPACE.sub("", line)] = i
    return vocab


def read_bpe_vocab(path: str | os.PathLike) -> dict[str, int]:
    """``vocab.json``: ``{token: id}``."""
    with open(path, encoding="utf-8") as f:
        try:
            vocab = json.load(f)
        except json.JSONDecodeError as e:
            raise TokenizerFormatError(f"{os.fspath(path)} is not valid JSON: {e}") from None
    if not isinstance(vocab, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in vocab.items()):
        raise TokenizerFormatError(f"{os.fspath(path)}: expected an object mapping tokens to ids")
    return vocab


def read_bpe_merges(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``merges.txt``: one ``"left right"`` pair per line, best first; ``#version`` lines are
    comments."""
    merges = []
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")  # not splitlines(): byte-level tokens may be line breaks
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        line = line.removesuffix("\r")
        if line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise TokenizerFormatError(f"{os.fspath(path)}, line {n}: expected 'left right', got "
                                       f"{line!r:.60}")
        merges.append((parts[0], parts[1]))
    return merges


def template_json(single: list[tuple[str, int]], pair: list[tuple[str, int]],
                  special_ids: dict[str, int]) -> dict:
    """A ``TemplateProcessing`` post-processor; pieces are ``("$A", type_id)``, ``("$B", ...)``
    or ``(special_token, type_id)``."""
    def pieces(items):
        return [{"Sequence": {"id": p[1:], "type_id": t}} if p in ("$A", "$B") else
                {"SpecialToken": {"id": p, "type_id": t}} for p, t in items]

    return {"type": "TemplateProcessing", "single": pieces(single), "pair": pieces(pair),
            "special_tokens": {tok: {"id": tok, "ids": [i], "tokens": [tok]}
                               for tok, i in special_ids.items()}}


def _empty_json() -> dict:
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
            "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None}


def bert_tokenizer_json(vocab: dict[str, int], do_lower_case: bool = True,
                        tokenize_chinese_chars: bool = True, strip_accents: bool | None = None,
                        unk_token: str = "[UNK]", cls_token: str = "[CLS]",
                        sep_token: str = "[SEP]") -> dict:
    """BERT: BertNormalizer, BertPreTokenizer, WordPiece, ``[CLS] A [SEP] (B [SEP])``."""
    def tid(tok: str, default: int) -> int:
        # a special token outside the vocabulary gets the unk id, as convert_tokens_to_ids does
        found = vocab.get(tok, vocab.get(unk_token))
        return default if found is None else found

    cls_id, sep_id = tid(cls_token, 2), tid(sep_token, 3)
    d = _empty_json()
    d["normalizer"] = {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": tokenize_chinese_chars,
                       "strip_accents": strip_accents, "lowercase": do_lower_case}
    d["pre_tokenizer"] = {"type": "BertPreTokenizer"}
    d["post_processor"] = template_json(
        [(cls_token, 0), ("$A", 0), (sep_token, 0)],
        [(cls_token, 0), ("$A", 0), (sep_token, 0), ("$B", 1), (sep_token, 1)],
        {cls_token: cls_id, sep_token: sep_id})
    d["decoder"] = {"type": "WordPiece", "prefix": "##", "cleanup": True}
    d["model"] = {"type": "WordPiece", "unk_token": unk_token, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": dict(vocab)}
    return d


def gpt2_tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]],
                        add_prefix_space: bool = False, add_bos_token: bool = False,
                        bos_token: str = "<|endoftext|>") -> dict:
    """GPT-2: byte-level BPE; the post-processor prepends ``bos`` when asked (``bos A B`` for a
    pair, as GPT2Converter writes it), else it is the no-op ``ByteLevel(trim_offsets=False)``."""
    d = _empty_json()
    d["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": add_prefix_space,
                          "trim_offsets": True, "use_regex": True}
    if add_bos_token:
        d["post_processor"] = template_json([(bos_token, 0), ("$A", 0)],
                                            [(bos_token, 0), ("$A", 0), ("$B", 1)],
                                            {bos_token: vocab.get(bos_token)})
    else:
        d["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True,
                               "trim_offsets": False, "use_regex": True}
    d["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True}
    d["model"] = {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": dict(vocab),
                  "merges": [list(m) for m in merges]}
    return d


def build_bert(vocab: dict[str, int] | str | os.PathLike, **options) -> Tokenizer:
    """A BERT ``Tokenizer`` from a vocab dict or a ``vocab.txt`` path (options: see
    ``bert_tokenizer_json``)."""
    if not isinstance(vocab, dict):
        vocab = read_wordpiece_vocab(vocab)
    return Tokenizer.from_dict(bert_tokenizer_json(vocab, **options))


def build_gpt2(vocab: dict[str, int] | str | os.PathLike,
               merges: list[tuple[str, str]] | str | os.PathLike, **options) -> Tokenizer:
    """A GPT-2 ``Tokenizer`` from vocab/merges (or ``vocab.json``/``merges.txt`` paths)."""
    if not isinstance(vocab, dict):
        vocab = read_bpe_vocab(vocab)
    if not isinstance(merges, list):
        merges = read_bpe_merges(merges)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    return Tokenizer.from_dict(gpt2_tokenizer_json(vocab, merges, **options))
