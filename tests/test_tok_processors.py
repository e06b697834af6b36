"""Post-processor parity with HF ``tokenizers``: the same single-sequence encodings (taken from
HF's own ``encode(..., add_special_tokens=False)``) go through ember's post-processors, and every
field of the result, overflowing windows included, must equal HF's full ``encode`` output."""
from __future__ import annotations

import json
import os
import pydoc
import re
from collections import Counter
from functools import cache

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from tokenizers import processors as hp

from ember.tokenizers import processors as ep
from ember.tokenizers.encoding import Encoding
from ember.tokenizers.padding import PaddingParams, pad_encodings
from ember.tokenizers.processors import POST_PROCESSORS, default_process
from ember.tokenizers.serialization import TokenizerFormatError
from ember.tokenizers.truncation import TruncationParams, truncate_encodings

os.environ["RUST_BACKTRACE"] = "0"  # HF panics on some inputs; keep the log short

CORPUS = "\n".join(pydoc.render_doc(o, renderer=pydoc.plaintext) for o in (str, list, dict))
LINES = [ln.strip() for ln in CORPUS.splitlines() if len(ln.split()) >= 4]
TEXTS = [LINES[3], LINES[10], LINES[25] + " " + LINES[26], "", "x",
         "  Leading,   inner\tand trailing spaces  ", "line one\n\nline two ?! café naïve 東京"]
PAIRS = [(TEXTS[0], None), (TEXTS[2], None), (TEXTS[3], None), (TEXTS[5], None),
         (TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[4]), (TEXTS[3], TEXTS[6]), (TEXTS[5], TEXTS[2])]


# ---------------------------------------------------------------------------- HF references
@cache
def wordpiece_tokenizer() -> Tokenizer:
    """WordPiece over words of the pydoc text seen 3+ times, with "##" pieces for the rest."""
    words = re.findall(r"\w+|[^\w\s]", CORPUS)
    chars = sorted(set("".join(words)))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += sorted(w for w, c in Counter(words).items() if c >= 3 and len(w) > 1)
    vocab += chars + ["##" + c for c in chars]
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(dict.fromkeys(vocab))},
                                     unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


@cache
def byte_level_tokenizer(add_prefix_space: bool) -> Tokenizer:
    """Byte-level BPE trained on the pydoc text (tokens carry "Ġ" spaces to trim)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    trainer = trainers.BpeTrainer(vocab_size=700, show_progress=False,
                                  special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS.splitlines(), trainer)
    return tok


def configured(raw: Tokenizer, processor=None, truncation: dict | None = None,
               padding: dict | None = None) -> Tokenizer:
    tok = Tokenizer.from_str(raw.to_str())
    if truncation is not None:
        # enable_truncation refuses a stride >= max_length (minus special tokens): that check
        # is the Tokenizer's; to compare the truncation itself, the stride goes in via JSON.
        tok.enable_truncation(**{**truncation, "stride": 0})
        d = json.loads(tok.to_str())
        d["truncation"]["stride"] = truncation.get("stride", 0)
        tok = Tokenizer.from_str(json.dumps(d))
    if processor is not None:
        tok.post_processor = processor
    if padding is not None:
        tok.enable_padding(**padding)
    return tok


def hf_call(fn):
    """(result, None) or (None, exception); HF panics raise BaseException subclasses."""
    try:
        return fn(), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: B036 - pyo3's PanicException is a BaseException
        return None, e


# ---------------------------------------------------------------------------- ember side
def ember_encoding(raw: Tokenizer, text, type_id: int, pretokenized: bool = False) -> Encoding:
    """The Encoding HF builds for one sequence before post-processing (type id 1 for a pair)."""
    e = raw.encode(text, is_pretokenized=pretokenized, add_special_tokens=False)
    return Encoding(ids=list(e.ids), type_ids=[type_id] * len(e.ids), tokens=list(e.tokens),
                    words=list(e.word_ids), offsets=[tuple(o) for o in e.offsets],
                    special_tokens_mask=list(e.special_tokens_mask),
                    attention_mask=list(e.attention_mask))


def ember_post_process(encoding: Encoding, pair: Encoding | None, processor,
                       truncation: TruncationParams | None = None,
                       padding: PaddingParams | None = None,
                       add_special_tokens: bool = True) -> Encoding:
    """HF's ``TokenizerImpl::post_process``: truncate (leaving room for the special tokens),
    post-process, pad."""
    if truncation is not None:
        n_added = processor.added_tokens(pair is not None) if processor else 0
        if add_special_tokens and n_added:
            truncation = truncation.with_max_length(truncation.max_length - n_added)
        encoding, pair = truncate_encodings(encoding, pair, truncation)
    if processor is not None:
        out = processor.process(encoding, pair, add_special_tokens)
    else:
        out = default_process(encoding, pair, add_special_tokens)
    if padding is not None:
        pad_encodings([out], padding)
    return out


FIELDS = ("ids", "type_ids", "tokens", "offsets", "word_ids", "sequence_ids", "attention_mask",
          "special_tokens_mask", "n_sequences")


def assert_same(ours: Encoding, theirs, where: str = "encoding", depth: int = 0) -> None:
    """Every field and the overflowing windows, recursively; the token/word/char mappings down
    to the first level of windows (deeper ones are many and share the same code paths)."""
    for name in FIELDS:
        assert getattr(ours, name) == getattr(theirs, name), f"{where}.{name}"
    assert len(ours.overflowing) == len(theirs.overflowing), f"{where}.overflowing"
    for k, (o, t) in enumerate(zip(ours.overflowing, theirs.overflowing)):
        assert_same(o, t, f"{where}.overflowing[{k}]", depth + 1)
    if depth > 1:
        return
    n = len(theirs.ids)
    for i in range(n + 1):
        assert ours.token_to_sequence(i) == theirs.token_to_sequence(i), f"{where} tok->seq {i}"
    for i in range(n):
        assert ours.token_to_chars(i) == theirs.token_to_chars(i), f"{where} tok->chars {i}"
        assert ours.token_to_word(i) == theirs.token_to_word(i), f"{where} tok->word {i}"
    for seq in range(theirs.n_sequences):
        words = {w for w, s in zip(theirs.word_ids, theirs.sequence_ids)
                 if w is not None and s == seq}
        for w in sorted(words) + [max(words, default=0) + 1]:
            assert ours.word_to_tokens(w, seq) == theirs.word_to_tokens(w, seq), \
                f"{where} word->tokens {w} seq {seq}"
        ends = [e for (_, e), s in zip(theirs.offsets, theirs.sequence_ids) if s == seq]
        for pos in range(max(ends, default=0) + 1):
            assert ours.char_to_token(pos, seq) == theirs.char_to_token(pos, seq), \
                f"{where} char->token {pos} seq {seq}"


def check_pipeline(raw: Tokenizer, ours, theirs, a, b, truncation: dict | None = None,
                   padding: dict | None = None, add_special_tokens: bool = True,
                   pretokenized: bool = False) -> None:
    """HF's ``encode(a, b)`` with the processor/truncation/padding vs ember's pipeline."""
    hf_tok = configured(raw, theirs, truncation, padding)
    expected, err = hf_call(lambda: hf_tok.encode(a, b, is_pretokenized=pretokenized,
                                                  add_special_tokens=add_special_tokens))
    enc = ember_encoding(raw, a, 0, pretokenized)
    pair = None if b is None else ember_encoding(raw, b, 1, pretokenized)
    trunc = None if truncation is None else TruncationParams(**truncation)
    pad = None if padding is None else PaddingParams(**padding)
    if err is not None:
        with pytest.raises(ValueError):
            ember_post_process(enc, pair, ours, trunc, pad, add_special_tokens)
        return
    assert_same(ember_post_process(enc, pair, ours, trunc, pad, add_special_tokens), expected,
                f"{a!r:.20}/{b!r:.20}")


# ---------------------------------------------------------------------------- the processors
BERT_TOKENS = [("[CLS]", 2), ("[SEP]", 3)]
ODD_SPECIALS = [(2, "[CLS]"), ("[SEP]", 3), {"id": "[M]", "ids": [4, 0],
                                             "tokens": ["[MASK]", "[PAD]"]}]
ROBERTA_TOKENS = dict(sep=("</s>", 2), cls_token=("<s>", 0))


def _both(name, *args, **kwargs):
    return getattr(ep, name)(*args, **kwargs), getattr(hp, name)(*args, **kwargs)


def _sequence(*pairs):
    return ep.Sequence([o for o, _ in pairs]), hp.Sequence([t for _, t in pairs])


def wordpiece_cases():
    bert = _both("BertProcessing", ("[SEP]", 3), ("[CLS]", 2))
    template = _both("TemplateProcessing", single="[CLS] $A [SEP]",
                     pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=BERT_TOKENS)
    # $B used twice, multi-token special token, type ids out of order
    odd = _both("TemplateProcessing", single=["$A:1", "[M]:2"],
                pair="[CLS] $B:1 [SEP] $A [M]:3 $B:2", special_tokens=ODD_SPECIALS)
    return {"none": (None, None), "bert": bert, "template": template, "template_odd": odd,
            "sequence": _sequence(bert, odd),
            "template_default": _both("TemplateProcessing")}


def byte_level_cases():
    return {
        "roberta": _both("RobertaProcessing", **ROBERTA_TOKENS),
        "roberta_no_trim": _both("RobertaProcessing", **ROBERTA_TOKENS, trim_offsets=False),
        "roberta_no_prefix": _both("RobertaProcessing", **ROBERTA_TOKENS,
                                   add_prefix_space=False),
        "byte_level": _both("ByteLevel", trim_offsets=True),
        "byte_level_no_prefix": _both("ByteLevel", trim_offsets=True, add_prefix_space=False),
        "byte_level_no_trim": _both("ByteLevel", trim_offsets=False),
        "byte_level_defaults": _both("ByteLevel", add_prefix_space=None),
        "sequence": _sequence(_both("ByteLevel", trim_offsets=True),
                              _both("TemplateProcessing", single="<s> $A </s>",
                                    pair="<s>:0 $A:0 </s>:0 $B:1 </s>:1",
                                    special_tokens=[("<s>", 0), ("</s>", 2)])),
    }


ALL_CASES = [("wp", k) for k in wordpiece_cases()] + \
    [(f"bl{aps:d}", k) for aps in (True, False) for k in byte_level_cases()]


def case(kind: str, name: str):
    if kind == "wp":
        return wordpiece_tokenizer(), *wordpiece_cases()[name]
    return byte_level_tokenizer(kind == "bl1"), *byte_level_cases()[name]


@pytest.mark.parametrize("kind,name", ALL_CASES)
def test_process_matches_hf(kind, name):
    raw, ours, theirs = case(kind, name)
    if ours is not None:
        for is_pair in (False, True):
            assert ours.added_tokens(is_pair) == theirs.num_special_tokens_to_add(is_pair)
            assert ours.num_special_tokens_to_add(is_pair) == ours.added_tokens(is_pair)
    for a, b in PAIRS:
        for add in (True, False):
            check_pipeline(raw, ours, theirs, a, b, add_special_tokens=add)


@pytest.mark.parametrize("kind,name", ALL_CASES)
def test_overflowing_windows_are_processed(kind, name):
    """Truncation with stride leaves overflowing windows (several per sequence of a pair);
    each must get the special tokens, type ids, ranges and trimmed offsets HF gives it."""
    raw, ours, theirs = case(kind, name)
    inputs = [(TEXTS[2], None), (TEXTS[2], TEXTS[0]), (TEXTS[6], TEXTS[5])]
    if name in ("template_odd", "sequence"):  # $B twice: a pair's windows multiply
        inputs = [(TEXTS[2], None), (TEXTS[6], TEXTS[4])]
    for a, b in inputs:
        for trunc in (dict(max_length=12, stride=2), dict(max_length=9, stride=1,
                                                          direction="left"),
                      dict(max_length=11, strategy="only_second")):
            for add in (True, False):
                check_pipeline(raw, ours, theirs, a, b, trunc, add_special_tokens=add)


def test_pretokenized_offsets_trimming():
    """With pre-tokenized words every word's offsets restart at 0, so the first token of each
    word keeps its added prefix space."""
    raw = byte_level_tokenizer(True)
    words = ["Hello", "  spaced", "world", " !"]
    for name in ("roberta", "byte_level", "roberta_no_prefix"):
        ours, theirs = byte_level_cases()[name]
        check_pipeline(raw, ours, theirs, words, ["pair", " words"], pretokenized=True)


def test_offset_trimming_on_whitespace_tokens():
    """Tokens of spaces only, inner/trailing "Ġ", and whitespace that only Python calls
    whitespace (U+001C) or only Rust does not: a WordLevel model over "|"-separated pieces."""
    pieces = ["ĠĠĠ", "Ġx", "x\u00a0", "\u001cx\u001c", "ĠxĠ", "Ġ", " y\u2003", "\u0085"]
    raw = Tokenizer(models.WordLevel({p: i for i, p in enumerate(pieces + ["?"])},
                                     unk_token="?"))
    raw.pre_tokenizer = pre_tokenizers.CharDelimiterSplit("|")
    text = "|".join(pieces)
    for name in ("byte_level", "byte_level_no_prefix", "roberta", "roberta_no_prefix"):
        ours, theirs = byte_level_cases()[name]
        check_pipeline(raw, ours, theirs, text, None)
        check_pipeline(raw, ours, theirs, "|".join(pieces[::-1]), text)
    assert any(a != b for a, b in zip(ember_encoding(raw, text, 0).offsets,
                                      configured(raw, hp.ByteLevel()).encode(text).offsets))


def test_inputs_are_not_modified():
    raw, ours, _ = case("wp", "bert")
    enc, pair = ember_encoding(raw, TEXTS[0], 0), ember_encoding(raw, TEXTS[1], 1)
    before = (enc.copy(), pair.copy())
    ours.process(enc, pair)
    default_process(enc, pair, True)
    assert (enc, pair) == before


# ---------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("kind,name", [c for c in ALL_CASES if c[1] != "none"])
def test_json_matches_hf(kind, name):
    raw, ours, theirs = case(kind, name)
    expected = json.loads(theirs.__getstate__())
    assert ours.to_dict() == expected
    # same key order too
    assert json.dumps(ours.to_dict(), separators=(",", ":"), ensure_ascii=False) == \
        theirs.__getstate__().decode()
    loaded = POST_PROCESSORS.from_dict(expected, "post_processor")
    assert type(loaded) is type(ours) and loaded.to_dict() == expected
    # and as HF writes it inside a tokenizer.json
    tok = configured(raw, theirs)
    assert json.loads(tok.to_str())["post_processor"] == ours.to_dict()


TEMPLATE_STRINGS = ["$0", "$1", "$", "$a $b:3", "$A:0 $B:1", "$:2 [CLS]:+1", "[CLS] $A [SEP]",
                    "$A  $B", "$C", "$A:x", "$A:", "a:b:c", "$-1", "$A:4294967296"]


@pytest.mark.parametrize("single", TEMPLATE_STRINGS)
def test_template_strings_match_hf(single):
    specials = [("[CLS]", 1), ("[SEP]", 2)]
    expected, err = hf_call(lambda: hp.TemplateProcessing(single=single,
                                                          special_tokens=specials))
    if err is not None:
        assert isinstance(err, ValueError)
        with pytest.raises(ValueError):
            ep.TemplateProcessing(single=single, special_tokens=specials)
        return
    assert ep.TemplateProcessing(single=single, special_tokens=specials).to_dict() == \
        json.loads(expected.__getstate__())


@pytest.mark.parametrize("kwargs", [
    dict(pair="$A $A"), dict(single="[X] $A"), dict(pair="$A [Y] $B"),
    dict(special_tokens=[{"id": "x", "ids": [1]}]),
    dict(special_tokens=[{"id": "x", "ids": [1, 2], "tokens": ["x"]}])])
def test_template_invalid_like_hf(kwargs):
    _, err = hf_call(lambda: hp.TemplateProcessing(**kwargs))
    assert err is not None
    with pytest.raises(ValueError):
        ep.TemplateProcessing(**kwargs)


def test_template_json_special_token_lookup_is_lazy_like_hf():
    """HF loads a template naming an unknown special token; only using it fails."""
    d = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "X", "type_id": 0}},
                                                  {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                  {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {}}
    t = POST_PROCESSORS.from_dict(d, "post_processor")
    assert t.to_dict() == d and t.added_tokens(False) == 0
    enc = Encoding(ids=[5], tokens=["a"])
    assert t.process(enc, add_special_tokens=False).ids == [5]
    with pytest.raises(ValueError, match="Missing SpecialToken"):
        t.process(enc)


# (json, part of the error path, whether HF rejects it too: HF ignores unknown fields, and its
# untagged enum reads a RobertaProcessing with bad flags as a BertProcessing)
MALFORMED = [
    ({"type": "BertProcessing", "sep": ["[SEP]", 2]}, "'cls'", True),
    ({"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1], "x": 1}, "'x'", False),
    ({"type": "BertProcessing", "sep": [2, "[SEP]"], "cls": ["[CLS]", 1]}, "post_processor.sep",
     True),
    ({"type": "RobertaProcessing", "sep": ["a", 2], "cls": ["b", 1], "trim_offsets": 1,
      "add_prefix_space": True}, "post_processor.trim_offsets", False),
    ({"type": "ByteLevel", "trim_offsets": False}, "'add_prefix_space'", True),
    ({"type": "TemplateProcessing", "single": [{"Sequence": {"id": "C", "type_id": 0}}],
      "pair": [], "special_tokens": {}}, "post_processor.single[0].Sequence.id", True),
    ({"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A"}}], "pair": [],
      "special_tokens": {}}, "post_processor.single[0].Sequence", True),
    ({"type": "TemplateProcessing", "single": "$A", "pair": [], "special_tokens": {}},
     "post_processor.single", True),
    ({"type": "TemplateProcessing", "single": [], "pair": [],
      "special_tokens": {"X": {"id": "X", "ids": [1]}}}, "post_processor.special_tokens.X", True),
    ({"type": "Sequence", "processors": [{"type": "Nope"}]}, "post_processor.processors[0].type",
     True),
]


@pytest.mark.parametrize("d,path_part,hf_rejects", MALFORMED)
def test_from_dict_rejects_malformed(d, path_part, hf_rejects):
    with pytest.raises(TokenizerFormatError, match=re.escape(path_part)):
        POST_PROCESSORS.from_dict(d, "post_processor")
    _, err = hf_call(lambda: Tokenizer.from_str(json.dumps(
        {**json.loads(wordpiece_tokenizer().to_str()), "post_processor": d})))
    assert (err is not None) == hf_rejects
