"""Pre-tokenizers: parity with the installed HF ``tokenizers`` (the reference) on pieces and their
original offsets, for every component and useful parameter combination, over an edge-case
corpus, real text, every Unicode code point and after normalizers that re-align the text; plus
tokenizer.json round trips and strict reading."""
from __future__ import annotations

import json

import pytest
import regex
import tokenizers
from test_tok_normalizers import EDGE_CASES, REAL, assert_equal_seq, codespace
from tokenizers import normalizers as hn
from tokenizers import pre_tokenizers as hp

from ember.tokenizers import normalizers as en
from ember.tokenizers import pre_tokenizers as ep
from ember.tokenizers.patterns import Regex, translate_onig
from ember.tokenizers.pre_tokenized import PreTokenizedString
from ember.tokenizers.serialization import TokenizerFormatError

BEHAVIORS = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
          r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def both(name, *args, **kwargs):
    """The same pre-tokenizer from both libraries (a Regex argument is converted)."""
    hf_args = [tokenizers.Regex(a.pattern) if isinstance(a, Regex) else a for a in args]
    return getattr(hp, name)(*hf_args, **kwargs), getattr(ep, name)(*args, **kwargs)


def sequence(*pairs):
    return hp.Sequence([h for h, _ in pairs]), ep.Sequence([o for _, o in pairs])


CONFIGS = {
    "byte_level": lambda: both("ByteLevel"),
    "byte_level_no_prefix": lambda: both("ByteLevel", add_prefix_space=False),
    "byte_level_no_regex": lambda: both("ByteLevel", use_regex=False),
    "byte_level_bare": lambda: both("ByteLevel", add_prefix_space=False, use_regex=False),
    "whitespace": lambda: both("Whitespace"),
    "whitespace_split": lambda: both("WhitespaceSplit"),
    "bert": lambda: both("BertPreTokenizer"),
    "metaspace": lambda: both("Metaspace"),
    "metaspace_never": lambda: both("Metaspace", prepend_scheme="never"),
    "metaspace_first_unsplit": lambda: both("Metaspace", prepend_scheme="first", split=False),
    "metaspace_underscore": lambda: both("Metaspace", replacement="_", split=False),
    "digits": lambda: both("Digits"),
    "digits_individual": lambda: both("Digits", individual_digits=True),
    "char_delimiter_space": lambda: both("CharDelimiterSplit", " "),
    "char_delimiter_letter": lambda: both("CharDelimiterSplit", "a"),
    "fixed_length": lambda: both("FixedLength"),
    "fixed_length_3": lambda: both("FixedLength", 3),
    "unicode_scripts": lambda: both("UnicodeScripts"),
    "llama3_split_then_bytes": lambda: sequence(
        both("Split", Regex(LLAMA3), "isolated"),
        both("ByteLevel", add_prefix_space=False, use_regex=False)),
    "split_then_metaspace_first": lambda: sequence(
        both("WhitespaceSplit"), both("Metaspace", prepend_scheme="first")),
    "punct_then_metaspace": lambda: sequence(both("Punctuation"), both("Metaspace")),
    "chain": lambda: sequence(both("WhitespaceSplit"), both("Digits", True),
                              both("Punctuation", "contiguous")),
    "scripts_then_bytes": lambda: sequence(both("UnicodeScripts"), both("ByteLevel")),
}
for _b in BEHAVIORS:
    CONFIGS[f"punctuation_{_b}"] = lambda b=_b: both("Punctuation", b)
    for _inv in (False, True):
        for _i, _pat in enumerate([" ", "--", "a", ""]):
            CONFIGS[f"split_str{_i}_{_b}_{_inv}"] = (
                lambda p=_pat, b=_b, inv=_inv: both("Split", p, b, inv))
        for _i, _pat in enumerate([r"\s+", r"\w+", r"\p{L}+|\p{N}", "x*", r"(?<=a)", r"^\s*",
                                   "$", r"[^\s\p{L}\p{N}]+", r"\d{1,3}", GPT2]):
            CONFIGS[f"split_re{_i}_{_b}_{_inv}"] = (
                lambda p=_pat, b=_b, inv=_inv: both("Split", Regex(p), b, inv))


def assert_same(hf, ours, text: str) -> None:
    assert_equal_seq(ours.pre_tokenize_str(text), hf.pre_tokenize_str(text))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_edge_cases_match_hf(name):
    hf, ours = CONFIGS[name]()
    for text in EDGE_CASES:
        assert_same(hf, ours, text)


@pytest.mark.parametrize("name", sorted(n for n in CONFIGS if not n.startswith("split_")))
def test_real_text_matches_hf(name):
    hf, ours = CONFIGS[name]()
    for text in REAL:
        assert_same(hf, ours, text)


@pytest.mark.parametrize("name, shuffled", [
    ("byte_level", False), ("byte_level", True), ("unicode_scripts", False),
    ("unicode_scripts", True), ("whitespace", False), ("whitespace_split", False),
    ("bert", False), ("metaspace", False), ("digits", False), ("digits_individual", False),
    ("punctuation_isolated", False), ("punctuation_contiguous", False)])
def test_every_code_point_matches_hf(name, shuffled):
    """Char classes (Unicode punctuation of HF's tables, \\w, \\s, \\p{L}, \\p{N}, scripts) on
    every code point: in order, a misclassified char changes a piece boundary; shuffled, every
    char also meets unrelated neighbours (contexts of GPT-2's regex, script changes)."""
    hf, ours = CONFIGS[name]()
    assert_same(hf, ours, codespace(shuffled))


# ---------------------------------------------------------------- after normalizers
PIPELINES = {
    "nfkc_byte_level": lambda: ((hn.NFKC(), en.NFKC()), both("ByteLevel")),
    "bert_bert": lambda: ((hn.BertNormalizer(), en.BertNormalizer()),
                          both("BertPreTokenizer")),
    "bert_cased_whitespace": lambda: ((hn.BertNormalizer(lowercase=False),
                                       en.BertNormalizer(lowercase=False)), both("Whitespace")),
    "lowercase_metaspace": lambda: ((hn.Lowercase(), en.Lowercase()), both("Metaspace")),
    "nfd_strip_scripts": lambda: ((hn.Sequence([hn.NFD(), hn.StripAccents()]),
                                   en.Sequence([en.NFD(), en.StripAccents()])),
                                  both("UnicodeScripts")),
    "replace_split": lambda: ((hn.Replace(" ", "  "), en.Replace(" ", "  ")),
                              both("Split", Regex(r"\s"), "merged_with_next")),
    "prepend_byte_level": lambda: ((hn.Prepend("x"), en.Prepend("x")),
                                   both("ByteLevel", use_regex=False)),
    "strip_digits": lambda: ((hn.Strip(), en.Strip()), both("Digits", True)),
    "nfc_fixed_length": lambda: ((hn.NFC(), en.NFC()), both("FixedLength", 2)),
    "nmt_char_delimiter": lambda: ((hn.Nmt(), en.Nmt()), both("CharDelimiterSplit", " ")),
}


def hf_stage(normalizer, pre_tokenizer, text: str) -> list:
    pts = tokenizers.PreTokenizedString(text)
    pts.normalize(lambda n: normalizer.normalize(n))
    pre_tokenizer.pre_tokenize(pts)
    return [(s, o) for s, o, _ in pts.get_splits(offset_referential="original",
                                                  offset_type="char")]


def our_stage(normalizer, pre_tokenizer, text: str) -> list:
    pts = PreTokenizedString(text)
    pts.normalize(normalizer.normalize)
    pre_tokenizer.pre_tokenize(pts)
    return [(s, o) for s, o, _ in pts.get_splits("original")]


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_offsets_through_normalizers_match_hf(name):
    (hn_, en_), (hp_, ep_) = PIPELINES[name]()
    for text in EDGE_CASES + REAL[::8]:
        assert_equal_seq(our_stage(en_, ep_, text), hf_stage(hn_, hp_, text))


# ---------------------------------------------------------------- Oniguruma dialect
@pytest.mark.parametrize("pattern", [
    r"\w+", r"\W+", r"[\w-]+", r"\h+", r"\H", r"^.", r".$", r"(?m:a.b)", r"\Z", r"\z", "x*",
    r"\b", r"\B.", r"[^\w\s]+", r"[\W]", r"(?i:ss|k)", r"[[:alpha:]]+", r"[]a]",
    r"\p{Lu}\p{Ll}*", r"\x{41}", "(?=a)|a",
])
def test_oniguruma_patterns_match_hf(pattern):
    texts = ["Straße STRASSE ² ½ x\u200dy 0x1F aé\nb\nab\n", "a\nb", "", "xxaxa"] + EDGE_CASES
    hf, ours = both("Split", Regex(pattern), "isolated")
    for text in texts:
        assert_same(hf, ours, text)
    hf_r = hn.Replace(tokenizers.Regex(pattern), "<>")
    ours_r = en.Replace(Regex(pattern), "<>")
    for text in texts:
        assert ours_r.normalize_str(text) == hf_r.normalize_str(text), (pattern, text[:40])


def test_translate_onig_rewrites_only_the_differences():
    assert translate_onig(r"\p{L}+|\d{1,3}|\s+(?!\S)") == r"\p{L}+|\d{1,3}|\s+(?!\S)"
    assert regex.fullmatch(translate_onig(r"\w+"), "a²_1")
    assert not regex.fullmatch(translate_onig(r"\w"), "\u200d")
    assert translate_onig(r"(?m:.)") == r"(?s:.)"


# ---------------------------------------------------------------- serialization
def all_components():
    pairs = [both("ByteLevel"), both("ByteLevel", add_prefix_space=False, trim_offsets=False,
                                    use_regex=False), both("Whitespace"),
             both("WhitespaceSplit"), both("BertPreTokenizer"), both("Metaspace"),
             both("Metaspace", replacement="_", prepend_scheme="first", split=False),
             both("Digits", True), both("CharDelimiterSplit", "|"), both("FixedLength", 7),
             both("UnicodeScripts"), both("Split", Regex(GPT2), "isolated"),
             sequence(both("Digits"), both("Split", "-", "merged_with_next", True))]
    pairs += [both("Punctuation", b) for b in BEHAVIORS]
    pairs += [both("Split", " ", b) for b in BEHAVIORS]
    return pairs


def test_to_dict_is_hf_json():
    for hf, ours in all_components():
        assert ours.to_dict() == json.loads(hf.__getstate__())


def test_from_dict_round_trip():
    for _, ours in all_components():
        d = ours.to_dict()
        back = ep.PRE_TOKENIZERS.from_dict(json.loads(json.dumps(d)), "pre_tokenizer")
        assert type(back) is type(ours) and back.to_dict() == d
        assert back.pre_tokenize_str(EDGE_CASES[4]) == ours.pre_tokenize_str(EDGE_CASES[4])


def _hf_read(d: dict):
    base = json.loads(tokenizers.Tokenizer(
        tokenizers.models.WordLevel({"a": 0}, unk_token="a")).to_str())
    return json.loads(tokenizers.Tokenizer.from_str(json.dumps({**base, "pre_tokenizer": d}))
                      .to_str())["pre_tokenizer"]


@pytest.mark.parametrize("d", [
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True, "str_rep": "▁"},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True, "prepend_scheme": "never"},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": False,
     "prepend_scheme": "never"},
    {"type": "Metaspace", "replacement": "_", "prepend_scheme": "first"},
    {"type": "Punctuation"},
    {"type": "FixedLength"},
])
def test_reads_defaults_and_legacy_fields_like_hf(d):
    assert ep.PRE_TOKENIZERS.from_dict(d, "pre_tokenizer").to_dict() == _hf_read(d)


@pytest.mark.parametrize("d, where", [
    ({"type": "Whitespace", "x": 1}, "pre_tokenizer"),
    ({"type": "ByteLevel", "add_prefix_space": False}, "pre_tokenizer"),
    ({"type": "ByteLevel", "add_prefix_space": "yes", "trim_offsets": True},
     "pre_tokenizer.add_prefix_space"),
    ({"type": "Split", "pattern": {"String": "a"}, "behavior": "isolated", "invert": False},
     "pre_tokenizer.behavior"),
    ({"type": "Split", "pattern": {"String": "a"}, "behavior": "Isolated"}, "pre_tokenizer"),
    ({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": False},
     "(a"),
    ({"type": "Digits"}, "pre_tokenizer"),
    ({"type": "CharDelimiterSplit", "delimiter": "ab"}, "pre_tokenizer.delimiter"),
    ({"type": "Metaspace"}, "pre_tokenizer"),
    ({"type": "Metaspace", "replacement": "_", "add_prefix_space": False,
      "prepend_scheme": "always"}, "pre_tokenizer.add_prefix_space"),
    ({"type": "Metaspace", "replacement": "_", "add_prefix_space": False},
     "pre_tokenizer.add_prefix_space"),
    ({"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"},
     "pre_tokenizer.prepend_scheme"),
    ({"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "Nope"}]},
     "pre_tokenizer.pretokenizers[1].type"),
])
def test_from_dict_is_strict(d, where):
    with pytest.raises(TokenizerFormatError, match=regex.escape(where)):
        ep.PRE_TOKENIZERS.from_dict(d, "pre_tokenizer")


def test_hf_rejects_what_we_reject():
    for d in [{"type": "ByteLevel", "add_prefix_space": False}, {"type": "Digits"},
              {"type": "Metaspace", "replacement": "_", "add_prefix_space": False,
               "prepend_scheme": "first"},
              {"type": "Metaspace", "replacement": "_", "add_prefix_space": False},
              {"type": "Split", "pattern": {"String": "a"}, "behavior": "isolated",
               "invert": False}]:
        with pytest.raises(Exception):  # noqa: B017 (HF raises a bare Exception)
            _hf_read(d)
        with pytest.raises(TokenizerFormatError):
            ep.PRE_TOKENIZERS.from_dict(d, "pre_tokenizer")


def test_byte_level_alphabet_matches_hf():
    assert ep.ByteLevel.alphabet() == sorted(hp.ByteLevel.alphabet())


def test_python_defaults_match_hf():
    for name in ["ByteLevel", "Metaspace", "Punctuation", "Digits", "FixedLength"]:
        hf, ours = both(name)
        assert ours.to_dict() == json.loads(hf.__getstate__())
