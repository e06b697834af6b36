"""Decoder parity with HF ``tokenizers.decoders``: the same token lists (real ones from HF
encodes, and edge cases) must decode to the same text, and to the same pieces."""
from __future__ import annotations

import json
import os
import re

import pytest
import regex
import tokenizers
from test_tok_processors import TEXTS, byte_level_tokenizer, hf_call, wordpiece_tokenizer
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers import decoders as hd
from transformers import PreTrainedTokenizerBase

from ember.tokenizers import decoders as ed
from ember.tokenizers.decoders import DECODERS, clean_up_tokenization
from ember.tokenizers.serialization import TokenizerFormatError

os.environ["RUST_BACKTRACE"] = "0"

MORE_TEXTS = ["Hello 👋 world 🌍!", "مرحبا بالعالم", "e\u0301 n\u0303 \u00e9", "日本語のテキスト",
              "  two  spaces\tand\nnewline  "]


def _gpt2_bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable char table as defined in openai/gpt-2 ``encoder.py``."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHAR = _gpt2_bytes_to_unicode()


def byte_level_tokens(data: bytes, size: int = 2) -> list[str]:
    """``data`` in the byte-level alphabet, cut every ``size`` bytes (so cuts fall inside
    multi-byte characters)."""
    chars = "".join(BYTE_CHAR[b] for b in data)
    return [chars[i:i + size] for i in range(0, len(chars), size)]


def test_byte_table_agrees_with_hf():
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    assert set(BYTE_CHAR.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    for c in ["a", " ", "\n", "é", "€", "😀", "\x7f"]:
        assert pre.pre_tokenize_str(c)[0][0] == "".join(BYTE_CHAR[b] for b in c.encode())


INVALID_UTF8 = [b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\x80", b"\xf5\x80\x80", b"\x80\x80",
                b"\xe2\x82", b"a\xffb", b"\xf0\x9f\x98\x80", b"\xe2\x82\xac\xe2", b"\xc3"]


def token_lists() -> dict[str, list[str]]:
    wp, bl = wordpiece_tokenizer(), byte_level_tokenizer(True)
    texts = TEXTS + MORE_TEXTS
    metaspace = pre_tokenizers.Metaspace()
    lists = {"empty": [], "empty_strings": ["", "", ""], "one": ["x"]}
    for i, t in enumerate(texts):
        lists[f"wp{i}"] = wp.encode(t).tokens
        lists[f"bl{i}"] = bl.encode(t).tokens
        lists[f"bytes{i}"] = byte_level_tokens(t.encode(), 3)
        pieces = [p for p, _ in metaspace.pre_tokenize_str(t)]
        lists[f"meta{i}"] = [q for p in pieces for q in (p[:2], p[2:]) if q]
        lists[f"fallback{i}"] = [f"<0x{b:02X}>" if k % 3 else chr(b) if b < 128 else "é"
                                 for k, b in enumerate(t.encode())]
    for i, data in enumerate(INVALID_UTF8):
        lists[f"bad_bytes{i}"] = byte_level_tokens(data, 1) + ["Ġok"]
        lists[f"bad_fallback{i}"] = ["▁a"] + [f"<0x{b:02x}>" for b in data] + ["b"]
    lists["odd_fallback"] = ["<0xZZ>", "<0x+1>", "<0x6>", "<0x610>", "<0xé>", "<0X41>", "<0x41",
                             "<0x 1>", "<0x-1>", "<0x41>", "<0xE2>", "<0x82>", "<0xAC>"]
    lists["meta_inner"] = ["▁Hey▁there", "▁friend▁", "▁", "no_space", "▁▁"]
    lists["wordpiece"] = ["##uelo", "Ara", "##új", "##o", "No", "##guera", ".", "do", "##n't",
                          " do not", "?", "I", "'", "m", "'m", ",", "!"]
    lists["ctc"] = ("<pad> <pad> h e e l l <pad> l o o o <pad> | | <pad> w o r l d "
                    "<pad> . | | do | not ' s x<pad>y").split(" ")
    lists["bpe"] = ["hel", "lo</w>", "there</w>", "a</w>b", "</w>", "end</w>"]
    lists["unicode_mix"] = ["Ġ", "café", "Ġ日本", "ĠðŁĺ", "Ģ", "\u0100"]
    return lists


TOKENS = token_lists()


def decoder_pairs() -> dict[str, tuple]:
    def both(name, *args, **kwargs):
        return getattr(ed, name)(*args, **kwargs), getattr(hd, name)(*args, **kwargs)

    def seq(*pairs):
        return ed.Sequence([o for o, _ in pairs]), hd.Sequence([t for _, t in pairs])

    return {
        "byte_level": both("ByteLevel"),
        "wordpiece": both("WordPiece"),
        "wordpiece_raw": both("WordPiece", "##", False),
        "wordpiece_at": both("WordPiece", prefix="@@", cleanup=True),
        "metaspace": both("Metaspace"),
        "metaspace_never": both("Metaspace", prepend_scheme="never"),
        "metaspace_first": both("Metaspace", prepend_scheme="first", split=False),
        "metaspace_underscore": both("Metaspace", replacement="_"),
        "bpe": both("BPEDecoder"),
        "bpe_at": both("BPEDecoder", suffix="@@"),
        "byte_fallback": both("ByteFallback"),
        "fuse": both("Fuse"),
        "strip": both("Strip", " ", 1, 0),
        "strip_meta": both("Strip", content="▁", left=2, right=1),
        "replace": both("Replace", "▁", " "),
        "replace_word": both("Replace", "ĠĠ", "<2>"),
        "replace_regex": (ed.Replace(regex.compile("a*"), "-"),
                          hd.Replace(tokenizers.Regex("a*"), "-")),
        "replace_regex_class": (ed.Replace(regex.compile(r"\s+|[.,]"), "_"),
                                hd.Replace(tokenizers.Regex(r"\s+|[.,]"), "_")),
        "ctc": both("CTC"),
        "ctc_raw": both("CTC", cleanup=False),
        "ctc_custom": both("CTC", "<pad>", "##", True),
        "llama": seq(both("Replace", "▁", " "), both("ByteFallback"), both("Fuse"),
                     both("Strip", " ", 1, 0)),
        "byte_level_strip": seq(both("ByteLevel"), both("Strip", " ", 1, 1)),
        "fallback_then_metaspace": seq(both("ByteFallback"), both("Metaspace")),
        "empty_sequence": seq(),
    }


DECODERS_UNDER_TEST = decoder_pairs()


@pytest.mark.parametrize("name", DECODERS_UNDER_TEST)
def test_decode_matches_hf(name):
    ours, theirs = DECODERS_UNDER_TEST[name]
    # A WordPiece step after the decoder shows HF's pieces: each later piece gets a " ".
    theirs_pieces = hd.Sequence([theirs, hd.WordPiece(prefix="\uffff", cleanup=False)])
    for key, tokens in TOKENS.items():
        expected, err = hf_call(lambda: theirs.decode(tokens))
        if err is not None:  # HF panics (Strip cutting past a token): ember refuses too
            with pytest.raises(ValueError):
                ours.decode(tokens)
            continue
        assert ours.decode(tokens) == expected, key
        assert " ".join(ours.decode_chain(tokens)) == theirs_pieces.decode(tokens), key


def test_strip_panics_are_errors():
    """HF panics when Strip's cuts overlap or run past the token; ember raises ValueError."""
    for args, tokens in [((" ", 1, 1), [" "]), ((" ", 2, 3), ["  ", "b "]), ((" ", 0, 1), [""])]:
        _, err = hf_call(lambda: hd.Strip(*args).decode(tokens))
        assert err is not None
        with pytest.raises(ValueError):
            ed.Strip(*args).decode(tokens)


CLEANUP_SAMPLES = ["Hello , world ! Is it ? yes .", "I do n't know , I 'm sure it 's fine",
                   "we 've been , they 're here", "quote ' here ' and ' s", " .,!? ", "",
                   "do not touch  . double", "n't 's 've 're 'm at the start"]


@pytest.mark.parametrize("text", CLEANUP_SAMPLES)
def test_clean_up_tokenization_matches_transformers(text):
    # an instance method in transformers 5 that does not use self
    assert clean_up_tokenization(text) == PreTrainedTokenizerBase.clean_up_tokenization(None,
                                                                                         text)


# ---------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("name", DECODERS_UNDER_TEST)
def test_json_matches_hf(name):
    ours, theirs = DECODERS_UNDER_TEST[name]
    expected = json.loads(theirs.__getstate__())
    assert ours.to_dict() == expected
    assert json.dumps(ours.to_dict(), separators=(",", ":"), ensure_ascii=False) == \
        theirs.__getstate__().decode()
    loaded = DECODERS.from_dict(expected, "decoder")
    assert type(loaded) is type(ours) and loaded.to_dict() == expected
    assert loaded.decode(TOKENS["bl2"]) == ours.decode(TOKENS["bl2"])


def _hf_load(decoder: dict):
    base = json.loads(wordpiece_tokenizer().to_str())
    return hf_call(lambda: json.loads(Tokenizer.from_str(json.dumps(
        {**base, "decoder": decoder})).to_str())["decoder"])


META = {"type": "Metaspace", "replacement": "▁"}
# HF's verdict decides: ember must accept what HF accepts (legacy fields included, giving the
# same decoder) and reject what HF rejects.
LOADABLE = [
    META, {**META, "add_prefix_space": True}, {**META, "add_prefix_space": True, "str_rep": "▁"},
    {**META, "add_prefix_space": False, "prepend_scheme": "never"},
    {**META, "add_prefix_space": False}, {**META, "add_prefix_space": False,
                                          "prepend_scheme": "first"},
    {**META, "prepend_scheme": "Always"}, {**META, "split": False},
    {"type": "Metaspace", "replacement": "ab"},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
    {"type": "ByteLevel", "add_prefix_space": False}, {"type": "ByteLevel"},
    {"type": "WordPiece", "prefix": "##"}, {"type": "WordPiece", "prefix": "##", "cleanup": 1},
    {"type": "BPEDecoder"}, {"type": "Strip", "content": " ", "start": 1},
    {"type": "Strip", "content": "ab", "start": 1, "stop": 0},
    {"type": "CTC"}, {"type": "Replace", "pattern": "x", "content": "_"},
    {"type": "Replace", "pattern": {"String": " ", "Regex": "x"}, "content": "_"},
    {"type": "Replace", "pattern": {"Regex": "("}, "content": "_"},
    {"type": "Sequence", "decoders": []}, {"type": "Sequence", "decoders": [{"type": "Nope"}]},
    {"type": "Fuse"},
]


@pytest.mark.parametrize("d", LOADABLE)
def test_from_dict_accepts_what_hf_accepts(d):
    expected, err = _hf_load(d)
    if err is not None:
        with pytest.raises(TokenizerFormatError, match="decoder"):
            DECODERS.from_dict(d, "decoder")
    else:
        assert DECODERS.from_dict(d, "decoder").to_dict() == expected


@pytest.mark.parametrize("d,path_part", [
    ({"type": "Fuse", "x": 1}, "'x'"),
    ({"type": "ByteFallback", "extra": None}, "'extra'"),
    ({"type": "WordPiece", "prefix": 3, "cleanup": True}, "decoder.prefix"),
    ({"type": "Sequence", "decoders": [{"type": "CTC"}]}, "decoder.decoders[0]"),
    ({"type": "Strip", "content": " ", "start": -1, "stop": 0}, "decoder.start"),
])
def test_from_dict_is_strict(d, path_part):
    """Stricter than HF, which ignores unknown fields: nothing is dropped silently."""
    with pytest.raises(TokenizerFormatError, match=re.escape(path_part)):
        DECODERS.from_dict(d, "decoder")


def test_constructor_errors_like_hf():
    for make in (lambda m: m.Metaspace(replacement="ab"),
                 lambda m: m.Metaspace(prepend_scheme="bad"), lambda m: m.Strip("ab")):
        _, err = hf_call(lambda: make(hd))
        assert isinstance(err, ValueError)
        with pytest.raises(ValueError):
            make(ed)
