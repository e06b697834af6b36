"""Truncation and padding parity with HF ``tokenizers``: ``truncate_encodings`` (every strategy,
direction and stride, and the errors when a pair cannot be cut enough), ``pad_encodings`` (fixed,
batch-longest, multiples, left/right; overflowing windows padded too), and their JSON forms."""
from __future__ import annotations

import itertools
import json
import re

import pytest
from test_tok_processors import (
    PAIRS,
    TEXTS,
    assert_same,
    byte_level_tokenizer,
    check_pipeline,
    configured,
    ember_encoding,
    ember_post_process,
    hf_call,
    wordpiece_tokenizer,
)
from tokenizers import processors as hp

from ember.tokenizers import processors as ep
from ember.tokenizers.encoding import Encoding
from ember.tokenizers.padding import PaddingParams, pad_encodings
from ember.tokenizers.serialization import TokenizerFormatError
from ember.tokenizers.truncation import TruncationError, TruncationParams, truncate_encodings

SHORT = ("a b c", "one two three four five six seven")


def truncations(max_lengths, strides=(0, 1, 3)):
    for m, s, strategy, direction in itertools.product(
            max_lengths, strides, ("longest_first", "only_first", "only_second"),
            ("right", "left")):
        yield dict(max_length=m, stride=s, strategy=strategy, direction=direction)


def test_truncate_encodings_matches_hf_without_processor():
    """Every strategy/direction/stride on singles and pairs of various lengths, including the
    cases HF refuses (only_second without a pair, a sequence too short to cut, a stride not
    below the length it gets)."""
    raw = wordpiece_tokenizer()
    pairs = PAIRS + [(SHORT[0], SHORT[1]), (SHORT[1], SHORT[0]), (SHORT[1], None)]
    errors = 0
    for trunc in truncations((0, 1, 2, 5, 8, 13, 40)):
        for a, b in pairs:
            hf_tok = configured(raw, truncation=trunc)
            errors += hf_call(lambda: hf_tok.encode(a, b))[1] is not None
            check_pipeline(raw, None, None, a, b, trunc)
    assert errors > 0  # the error paths were exercised


@pytest.mark.parametrize("name", ["bert", "template", "template_odd", "sequence"])
def test_truncation_leaves_room_for_special_tokens(name):
    """HF truncates to max_length minus the special tokens the processor adds (and a max_length
    below that count wraps around in HF's unsigned arithmetic: nothing is cut)."""
    from test_tok_processors import wordpiece_cases
    ours, theirs = wordpiece_cases()[name]
    raw = wordpiece_tokenizer()
    # template_odd repeats $B, so a pair's windows multiply: keep its windows few
    small = name in ("template_odd", "sequence")
    lengths, strides = ((1, 2, 9, 16), (0,)) if small else ((1, 2, 6, 11), (0, 2))
    inputs = [(TEXTS[1], None), (SHORT[1], SHORT[0])] if small else \
        [(TEXTS[0], TEXTS[2]), (TEXTS[2], None), (SHORT[1], SHORT[0])]
    for trunc in truncations(lengths, strides):
        for a, b in inputs:
            for add in (True, False):
                check_pipeline(raw, ours, theirs, a, b, trunc, add_special_tokens=add)


def test_roberta_truncation_and_padding():
    from test_tok_processors import byte_level_cases
    ours, theirs = byte_level_cases()["roberta"]
    raw = byte_level_tokenizer(True)
    for trunc, pad in itertools.product(
            [None, dict(max_length=10, stride=2), dict(max_length=7, direction="left",
                                                         strategy="only_first")],
            [None, dict(length=24), dict(pad_to_multiple_of=8, direction="left", pad_id=1,
                                         pad_token="<pad>", pad_type_id=3)]):
        for a, b in [(TEXTS[2], TEXTS[6]), (TEXTS[5], None)]:
            check_pipeline(raw, ours, theirs, a, b, trunc, pad)


PADDINGS = [dict(), dict(length=40), dict(length=3), dict(pad_to_multiple_of=8),
            dict(length=21, pad_to_multiple_of=4, direction="left", pad_id=4, pad_type_id=2,
                 pad_token="[MASK]"),
            dict(direction="left", pad_to_multiple_of=0), dict(length=0)]


@pytest.mark.parametrize("padding", PADDINGS)
def test_padding_single_encode(padding):
    ours, theirs = ep.BertProcessing(("[SEP]", 3), ("[CLS]", 2)), \
        hp.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    raw = wordpiece_tokenizer()
    for a, b in PAIRS:
        check_pipeline(raw, ours, theirs, a, b, None, padding)
        check_pipeline(raw, ours, theirs, a, b, dict(max_length=9, stride=2), padding)


@pytest.mark.parametrize("padding", PADDINGS)
def test_padding_batch_matches_hf_encode_batch(padding):
    """Batch padding pads every row and every overflowing window to one length."""
    raw = wordpiece_tokenizer()
    for trunc in (None, dict(max_length=12, stride=2), dict(max_length=6, direction="left")):
        hf_tok = configured(raw, hp.BertProcessing(("[SEP]", 3), ("[CLS]", 2)), trunc, padding)
        inputs = [(a, b) if b is not None else a for a, b in PAIRS]
        expected = hf_tok.encode_batch(inputs)
        ours = ep.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
        t = None if trunc is None else TruncationParams(**trunc)
        rows = [ember_post_process(ember_encoding(raw, a, 0),
                                   None if b is None else ember_encoding(raw, b, 1), ours, t)
                for a, b in PAIRS]
        assert pad_encodings(rows, PaddingParams(**padding)) is rows
        assert len(rows) == len(expected)
        for k, (o, e) in enumerate(zip(rows, expected)):
            assert_same(o, e, f"row {k}")


def test_pad_encodings_empty_batch():
    assert pad_encodings([], PaddingParams()) == []
    enc = Encoding(ids=[1, 2], tokens=["a", "b"])
    pad_encodings([enc], PaddingParams(length=1))
    assert enc.ids == [1, 2]  # longer than the target: unchanged


def test_truncation_errors_are_truncation_errors():
    enc = ember_encoding(wordpiece_tokenizer(), TEXTS[0], 0)
    with pytest.raises(TruncationError, match="Second sequence not provided"):
        truncate_encodings(enc.copy(), None, TruncationParams(3, strategy="only_second"))
    pair = Encoding(ids=[1, 2], tokens=["a", "b"])
    with pytest.raises(TruncationError, match="too short"):
        truncate_encodings(enc.copy(), pair, TruncationParams(len(enc), strategy="only_second"))


# ---------------------------------------------------------------------------- settings, JSON
TRUNCATION_SETTINGS = [dict(max_length=10), dict(max_length=128, stride=16,
                                                 strategy="only_second", direction="left"),
                       dict(max_length=0, strategy="only_first")]
PADDING_SETTINGS = [dict(), dict(direction="left", pad_id=3, pad_type_id=1, pad_token="<p>",
                                 length=16, pad_to_multiple_of=8), dict(length=0)]


@pytest.mark.parametrize("kwargs", TRUNCATION_SETTINGS)
def test_truncation_json_matches_hf(kwargs):
    tok = configured(wordpiece_tokenizer(), truncation=kwargs)
    expected = json.loads(tok.to_str())["truncation"]
    params = TruncationParams(**kwargs)
    assert params.to_dict() == expected
    assert list(params.to_dict()) == list(expected)  # HF's key order
    assert TruncationParams.from_dict(expected) == params
    assert params.as_python_dict() == tok.truncation


@pytest.mark.parametrize("kwargs", PADDING_SETTINGS)
def test_padding_json_matches_hf(kwargs):
    tok = configured(wordpiece_tokenizer(), padding=kwargs)
    expected = json.loads(tok.to_str())["padding"]
    params = PaddingParams(**kwargs)
    assert params.to_dict() == expected
    assert list(params.to_dict()) == list(expected)
    assert PaddingParams.from_dict(expected) == params
    assert params.as_python_dict() == tok.padding
    assert params.strategy == ("batch_longest" if params.length is None else params.length)


def test_truncation_json_direction_defaults_to_right_like_hf():
    d = {"max_length": 5, "strategy": "OnlyFirst", "stride": 1}
    tok = configured(wordpiece_tokenizer())
    loaded = json.loads(tok.from_str(json.dumps({**json.loads(tok.to_str()),
                                                 "truncation": d})).to_str())["truncation"]
    assert TruncationParams.from_dict(d).to_dict() == loaded


TRUNCATION_BAD = [({"max_length": 5, "strategy": "LongestFirst"}, "'stride'"),
                  ({"max_length": 5, "strategy": "longest_first", "stride": 0},
                   "truncation.strategy"),
                  ({"max_length": "5", "strategy": "OnlyFirst", "stride": 0},
                   "truncation.max_length"),
                  ({"max_length": 5, "strategy": "OnlyFirst", "stride": 0, "direction": "up"},
                   "truncation.direction"),
                  ({"max_length": 5, "strategy": "OnlyFirst", "stride": 0, "x": 0}, "'x'")]
PADDING_BAD = [({"strategy": "BatchLongest", "direction": "Left", "pad_id": 0,
                 "pad_type_id": 0}, "'pad_token'"),
               ({"strategy": "Fixed", "direction": "Left", "pad_id": 0, "pad_type_id": 0,
                 "pad_token": "x"}, "padding.strategy"),
               ({"strategy": {"Fixed": "3"}, "direction": "Left", "pad_id": 0,
                 "pad_type_id": 0, "pad_token": "x"}, "padding.strategy.Fixed"),
               ({"strategy": "BatchLongest", "direction": "left", "pad_id": 0,
                 "pad_type_id": 0, "pad_token": "x"}, "padding.direction")]


@pytest.mark.parametrize("d,path_part", TRUNCATION_BAD)
def test_truncation_from_dict_rejects_like_hf(d, path_part):
    with pytest.raises(TokenizerFormatError, match=re.escape(path_part)):
        TruncationParams.from_dict(d)
    if path_part != "'x'":  # HF ignores unknown fields
        base = json.loads(wordpiece_tokenizer().to_str())
        assert hf_call(lambda: type(configured(wordpiece_tokenizer())).from_str(
            json.dumps({**base, "truncation": d})))[1] is not None


@pytest.mark.parametrize("d,path_part", PADDING_BAD)
def test_padding_from_dict_rejects_like_hf(d, path_part):
    with pytest.raises(TokenizerFormatError, match=re.escape(path_part)):
        PaddingParams.from_dict(d)
    base = json.loads(wordpiece_tokenizer().to_str())
    assert hf_call(lambda: type(configured(wordpiece_tokenizer())).from_str(
        json.dumps({**base, "padding": d})))[1] is not None


@pytest.mark.parametrize("kwargs", [dict(strategy="longest"), dict(direction="up"),
                                    dict(max_length=-1)])
def test_truncation_settings_validated(kwargs):
    with pytest.raises(ValueError):
        TruncationParams(**{"max_length": 4, **kwargs})
    if "max_length" not in kwargs:  # HF's enable_truncation takes a usize, so -1 is a TypeError
        with pytest.raises(ValueError):
            configured(wordpiece_tokenizer()).enable_truncation(**{"max_length": 4, **kwargs})


def test_with_max_length_wraps_like_hf():
    p = TruncationParams(max_length=1)
    assert p.with_max_length(-1).max_length == (1 << 64) - 1
    assert p.with_max_length(7) == TruncationParams(max_length=7)
