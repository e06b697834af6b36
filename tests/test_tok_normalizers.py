"""Normalizers: parity with the installed HF ``tokenizers`` (the reference) on normalized text and
on the alignment of every normalized char to the original, over an edge-case corpus, real text
(CPython's docs) and every Unicode code point; plus tokenizer.json round trips and strict
reading."""
from __future__ import annotations

import functools
import json
import random
import unicodedata

import pytest
import regex
import tokenizers
from pydoc_data.topics import topics
from tokenizers import normalizers as hn
from tokenizers import pre_tokenizers as hp

from ember.tokenizers import normalizers as en
from ember.tokenizers.normalized import NormalizedString
from ember.tokenizers.patterns import Regex
from ember.tokenizers.serialization import TokenizerFormatError
from ember.tokenizers.unicode_tables import (MARK, MARK_CANDIDATES, MN, MN_CANDIDATES,
                                             NORMALIZATION_CANDIDATES)

EDGE_CASES = [
    "",
    " ",
    "\n",
    "\t \n ",
    "Hello, world!",
    "  leading and trailing  ",
    "multiple   spaces\t\ttabs\n\nnewlines\r\nand\rcarriage",
    "I ❤️ 🍕 and 👨‍👩‍👧‍👦 family 👍🏽 flags 🇫🇷🇯🇵 new 🥰🫠",
    "你好，世界！这是中文。𠀀𪜀",
    "日本語のテキスト、カタカナ・ひらがなー。ｶﾀｶﾅ",
    "안녕하세요 세계! \u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "مرحبا بالعالم! ١٢٣ كَتَبَ",
    "שָׁלוֹם עוֹלָם",
    "abc אבג def مرحبا 123",
    "e\u0301 é café naïve résumé Zoë",
    "a\u0316\u0301\u0300 o\u0308\u0304 \u1e9b\u0323 q\u0307\u0323 \u00e9\u0316",
    "\u212b \u0041\u030a \u00c5 \u2126 \u03a9 \u0958 \u0915\u093c",
    "ﬁ ﬃ ① ½ ² ™ ㎏ ＡＢＣ１２３ ｱｲｳ ℌ𝔢𝔩𝔩𝔬 𝐇𝐞𝐥𝐥𝐨 ⅻ Ⅻ",
    "a\u00a0b\u2003c\u3000d\u2009e\u200bf\ufeffg\u180eh\x1c\x1d\x1e\x1fi\x85j\u2028k\u2029l",
    "a\x00b\x01c\x7fd\ufffde\u200df\u200cg\x0bh\x0ci\u00adj\u202ek",
    "def foo(x):\n    return x**2 + 1  # comment\n",
    "if (a && b) { c[i] = d->e; } else { return -1; }",
    "https://example.com/path?query=1&b=2#frag user@example.com",
    "a" * 300 + "supercalifragilisticexpialidocious" * 10,
    "İstanbul ıiIİ DİYARBAKIR",
    "ΟΔΥΣΣΕΥΣ Σίσυφος ΣΑΣ ς Σ",
    "Straße ẞ ǅ ǈ ﬀ",
    "สวัสดีครับ ภาษาไทย",
    "नमस्ते दुनिया क्षत्रिय",
    "123 4.56 7,890 ٣٤٥ ۶۷ १२३ ² ½ Ⅻ 10th 3rd 1000000",
    "I'm you're he'll they've we'd it's DON'T 'quoted'",
    "«quoted» „German“ ¿Qué? ¡Hola! — dash – en… ellipsis",
    "a--b..c!!d??e__f~~g",
    "tab\tseparated\tvalues\n",
    "\u0301leading mark",
    "x\u20dd\u0903\u093e",
    "ᄀ각 ㄱ",
    "\u0f73 \u0f75 \u0f81",
]
REAL = [topics[k] for k in sorted(topics)]

_NEW = regex.compile(r"\P{Cn}")


@functools.cache
def codespace(shuffled: bool = False) -> str:
    """Every code point except surrogates and those assigned after this Python's Unicode
    version (HF's Rust crates, Oniguruma and the regex module each know a different recent
    version; see unicode_tables.py)."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = [c for c in chars if not (unicodedata.category(c) == "Cn" and _NEW.match(c))]
    if shuffled:
        random.Random(0).shuffle(chars)
    return "".join(chars)


_PER_CHAR = hp.Split(tokenizers.Regex(r"[\s\S]"), "isolated")


def hf_alignments(normalizer, text: str) -> list:
    """HF's normalized chars, each with the original (char) offsets it is aligned to."""
    pts = tokenizers.PreTokenizedString(text)
    pts.normalize(lambda n: normalizer.normalize(n))
    _PER_CHAR.pre_tokenize(pts)
    return [(s, o) for s, o, _ in pts.get_splits(offset_referential="original",
                                                  offset_type="char")]


def our_alignments(normalizer, text: str) -> list:
    ns = NormalizedString(text)
    normalizer.normalize(ns)
    return list(zip(ns.normalized, ns.alignments()))


def both(hf_cls, ours_cls, *args, **kwargs):
    """The same component from both libraries (a Regex argument is converted)."""
    hf_args = [tokenizers.Regex(a.pattern) if isinstance(a, Regex) else a for a in args]
    return getattr(hn, hf_cls)(*hf_args, **kwargs), getattr(en, ours_cls)(*args, **kwargs)


CONFIGS = {
    "nfd": lambda: both("NFD", "NFD"),
    "nfc": lambda: both("NFC", "NFC"),
    "nfkd": lambda: both("NFKD", "NFKD"),
    "nfkc": lambda: both("NFKC", "NFKC"),
    "lowercase": lambda: both("Lowercase", "Lowercase"),
    "strip_accents": lambda: both("StripAccents", "StripAccents"),
    "bert": lambda: both("BertNormalizer", "BertNormalizer"),
    "bert_cased": lambda: both("BertNormalizer", "BertNormalizer", lowercase=False),
    "bert_strip_only": lambda: both("BertNormalizer", "BertNormalizer", clean_text=False,
                                    handle_chinese_chars=False, strip_accents=True,
                                    lowercase=False),
    "bert_no_cjk": lambda: both("BertNormalizer", "BertNormalizer",
                                handle_chinese_chars=False, strip_accents=False),
    "replace_char": lambda: both("Replace", "Replace", "a", "b"),
    "replace_grow": lambda: both("Replace", "Replace", "ss", "ß"),
    "replace_delete": lambda: both("Replace", "Replace", " ", ""),
    "replace_widen": lambda: both("Replace", "Replace", " ", "▁▁"),
    "replace_regex_ws": lambda: both("Replace", "Replace", Regex(r"\s+"), " "),
    "replace_regex_word": lambda: both("Replace", "Replace", Regex(r"\w+"), "W"),
    "replace_regex_empty_matches": lambda: both("Replace", "Replace", Regex("x*"), "-"),
    "replace_regex_lookbehind": lambda: both("Replace", "Replace", Regex(r"(?<=\p{L})\d"), "#"),
    "prepend": lambda: both("Prepend", "Prepend", "▁"),
    "prepend_long": lambda: both("Prepend", "Prepend", "<<"),
    "strip": lambda: both("Strip", "Strip"),
    "strip_right": lambda: both("Strip", "Strip", left=False),
    "strip_left": lambda: both("Strip", "Strip", right=False),
    "nmt": lambda: both("Nmt", "Nmt"),
    "byte_level": lambda: both("ByteLevel", "ByteLevel"),
    "sequence_nfd_strip": lambda: (hn.Sequence([hn.NFD(), hn.StripAccents(), hn.Lowercase()]),
                                   en.Sequence([en.NFD(), en.StripAccents(), en.Lowercase()])),
    "sequence_spm_like": lambda: (
        hn.Sequence([hn.NFKC(), hn.Prepend("▁"), hn.Replace(" ", "▁"), hn.Strip(right=False)]),
        en.Sequence([en.NFKC(), en.Prepend("▁"), en.Replace(" ", "▁"), en.Strip(right=False)])),
}


def assert_equal_seq(ours, theirs) -> None:
    """Equality of two long sequences, reporting the first difference (not a full diff)."""
    if ours != theirs:
        i = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                 min(len(ours), len(theirs)))
        pytest.fail(f"first difference at {i} (lengths {len(ours)}, {len(theirs)}): ours "
                    f"{ours[max(i - 2, 0):i + 3]!r}, HF {theirs[max(i - 2, 0):i + 3]!r}")


def assert_same(hf, ours, text: str) -> None:
    assert_equal_seq(ours.normalize_str(text), hf.normalize_str(text))
    assert_equal_seq(our_alignments(ours, text), hf_alignments(hf, text))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_edge_cases_match_hf(name):
    hf, ours = CONFIGS[name]()
    for text in EDGE_CASES:
        assert_same(hf, ours, text)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_real_text_matches_hf(name):
    hf, ours = CONFIGS[name]()
    for text in REAL[::5]:
        assert_same(hf, ours, text)


@pytest.mark.parametrize("name, shuffled", [
    ("nfd", False), ("nfkd", False), ("nfc", False), ("nfc", True), ("nfkc", False),
    ("nfkc", True), ("lowercase", False), ("strip_accents", False), ("nmt", False),
    ("bert", False), ("bert", True), ("bert_cased", False), ("bert_strip_only", False),
    ("byte_level", False)])
def test_every_code_point_matches_hf(name, shuffled):
    """Char classes (Unicode 8.0/9.0 tables, whitespace, controls, CJK) on every code point, in
    order and shuffled (so that each char also meets unrelated neighbours)."""
    hf, ours = CONFIGS[name]()
    text = codespace(shuffled)
    assert_equal_seq(ours.normalize_str(text), hf.normalize_str(text))


def _composition_corpus() -> str:
    """Everything NFC/NFKC can change: decomposable chars, their decompositions (to be
    recomposed) and runs of combining marks in random orders after random starters."""
    chars = [c for c in codespace() if unicodedata.decomposition(c) or unicodedata.combining(c)]
    rng = random.Random(1)
    marks = [c for c in chars if unicodedata.combining(c)]
    parts = chars + [unicodedata.normalize("NFD", c) for c in chars]
    for _ in range(3000):
        run = "".join(rng.choice(marks) for _ in range(rng.randrange(4)))
        parts.append(rng.choice(chars) + run)
    rng.shuffle(parts)
    return " ".join(parts)


@pytest.mark.parametrize("name", ["nfc", "nfkc", "nfd", "nfkd"])
def test_unicode_forms_compose_like_hf(name):
    hf, ours = CONFIGS[name]()
    text = _composition_corpus()
    assert_equal_seq(ours.normalize_str(text), hf.normalize_str(text))
    # alignments of every char (reordered marks carry their insert/replace changes along)
    for chunk in (text[i:i + 4000] for i in range(0, len(text), 4000)):
        assert_equal_seq(our_alignments(ours, chunk), hf_alignments(hf, chunk))


def test_alignments_compose_after_earlier_edits():
    """A normalizer working on text that an earlier one already re-aligned."""
    hf = hn.Sequence([hn.Replace(" ", "  "), hn.BertNormalizer(), hn.NFKC(), hn.Prepend("▁"),
                      hn.Replace(tokenizers.Regex("o+"), "0"), hn.ByteLevel()])
    ours = en.Sequence([en.Replace(" ", "  "), en.BertNormalizer(), en.NFKC(), en.Prepend("▁"),
                        en.Replace(Regex("o+"), "0"), en.ByteLevel()])
    for text in EDGE_CASES:
        assert_same(hf, ours, text)


# ---------------------------------------------------------------- serialization
def all_components():
    return [
        both("NFD", "NFD"), both("NFC", "NFC"), both("NFKD", "NFKD"), both("NFKC", "NFKC"),
        both("Lowercase", "Lowercase"), both("StripAccents", "StripAccents"),
        both("Nmt", "Nmt"), both("ByteLevel", "ByteLevel"),
        both("BertNormalizer", "BertNormalizer"),
        both("BertNormalizer", "BertNormalizer", clean_text=False, handle_chinese_chars=False,
             strip_accents=True, lowercase=False),
        both("Replace", "Replace", "''", '"'), both("Replace", "Replace", Regex(r"\s+"), " "),
        both("Prepend", "Prepend", "▁"), both("Strip", "Strip", left=False),
        (hn.Sequence([hn.NFC(), hn.Lowercase()]), en.Sequence([en.NFC(), en.Lowercase()])),
    ]


def test_to_dict_is_hf_json():
    for hf, ours in all_components():
        assert ours.to_dict() == json.loads(hf.__getstate__())


def test_from_dict_round_trip():
    for _, ours in all_components():
        d = ours.to_dict()
        back = en.NORMALIZERS.from_dict(json.loads(json.dumps(d)), "normalizer")
        assert type(back) is type(ours) and back.to_dict() == d
        assert back.normalize_str(EDGE_CASES[16]) == ours.normalize_str(EDGE_CASES[16])


def test_reads_what_hf_writes_in_a_tokenizer_json():
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0}, unk_token="a"))
    tok.normalizer = hn.Sequence([hn.NFKC(), hn.BertNormalizer(strip_accents=False),
                                  hn.Replace(tokenizers.Regex(r"\d"), "0"), hn.Strip()])
    d = json.loads(tok.to_str())["normalizer"]
    ours = en.NORMALIZERS.from_dict(d, "normalizer")
    assert ours.to_dict() == d
    for text in EDGE_CASES:
        assert ours.normalize_str(text) == tok.normalizer.normalize_str(text)


@pytest.mark.parametrize("d, where", [
    ({"type": "NFC", "form": "C"}, "normalizer"),
    ({"type": "Lowercase", "x": 1}, "normalizer"),
    ({"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
      "strip_accents": None}, "normalizer"),
    ({"type": "BertNormalizer", "clean_text": 1, "handle_chinese_chars": True,
      "strip_accents": None, "lowercase": True}, "normalizer.clean_text"),
    ({"type": "Strip", "strip_left": True}, "normalizer"),
    ({"type": "Replace", "pattern": "a", "content": "b"}, "normalizer.pattern"),
    ({"type": "Replace", "pattern": {"Glob": "a"}, "content": "b"}, "normalizer.pattern"),
    ({"type": "Replace", "pattern": {"String": "a"}, "content": 3}, "normalizer.content"),
    ({"type": "Prepend"}, "normalizer"),
    ({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nope"}]},
     "normalizer.normalizers[1].type"),
    ({"type": "Sequence", "normalizers": {"type": "NFC"}}, "normalizer.normalizers"),
    ({"type": "Precompiled", "precompiled_charsmap": "AAAA"},
     "normalizer.precompiled_charsmap"),
    ({"normalizers": []}, "normalizer.type"),
])
def test_from_dict_is_strict(d, where):
    with pytest.raises(TokenizerFormatError, match=regex.escape(where)):
        en.NORMALIZERS.from_dict(d, "normalizer")


def test_hf_rejects_what_we_reject():
    """The strictness above is HF's own where HF is strict (missing fields, wrong variants)."""
    base = json.loads(tokenizers.Tokenizer(
        tokenizers.models.WordLevel({"a": 0}, unk_token="a")).to_str())
    for d in [{"type": "Strip", "strip_left": True},
              {"type": "Replace", "pattern": "a", "content": "b"},
              {"type": "Prepend"}, {"type": "Sequence"}]:
        with pytest.raises(Exception):  # noqa: B017 (HF raises a bare Exception)
            tokenizers.Tokenizer.from_str(json.dumps({**base, "normalizer": d}))
        with pytest.raises(TokenizerFormatError):
            en.NORMALIZERS.from_dict(d, "normalizer")


def test_precompiled_is_refused_clearly():
    with pytest.raises(TokenizerFormatError, match="precompiled_charsmap.*not supported"):
        en.Precompiled("AAAA")


def test_fast_candidate_classes_cover_the_exact_sets():
    """Accent stripping and the unicode forms find candidates with recent Unicode properties,
    then filter with the old tables: the properties must cover every char of the tables."""
    for candidates, exact in [(MN_CANDIDATES, MN), (MARK_CANDIDATES, MARK)]:
        pattern = regex.compile(f"[{candidates}]")
        assert all(pattern.match(c) for c in exact)
    nfkc = regex.compile(f"[{NORMALIZATION_CANDIDATES['NFKC']}]")
    for c in codespace():
        if unicodedata.decomposition(c) or unicodedata.combining(c):
            assert nfkc.match(c), hex(ord(c))


def test_python_defaults_match_hf():
    assert en.BertNormalizer().to_dict() == json.loads(hn.BertNormalizer().__getstate__())
    assert en.Strip().to_dict() == json.loads(hn.Strip().__getstate__())
