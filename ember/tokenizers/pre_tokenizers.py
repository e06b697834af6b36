"""Pre-tokenizers: split normalized text into words with offsets (HF
``tokenizers.pre_tokenizers``).

Splitting is one regex ``finditer`` per piece; each word becomes a ``NormalizedString`` slice
that keeps the identity alignment (``align is None``) whenever its parent had one, so the common
case (ASCII text, no normalizer edits) never builds per-char alignment lists.
"""
from __future__ import annotations

import re
from itertools import groupby
from operator import methodcaller

import regex

from .normalized import SPLIT_BEHAVIORS, WHITESPACE, NormalizedString, split_offsets
from .normalizers import byte_level_transform
from .patterns import Regex, compile_pattern, find_spans, pattern_from_dict, pattern_to_dict
from .pre_tokenized import PreTokenizedString
from .serialization import Registry, TokenizerFormatError, expect, fields
from .unicode_tables import PUNCT, UNICODE_TO_BYTES, assigned_in_unicode_9, byte_level_chars

__all__ = ["PRE_TOKENIZERS", "PreTokenizer", "BertPreTokenizer", "ByteLevel",
           "CharDelimiterSplit", "Digits", "FixedLength", "Metaspace", "Punctuation", "Sequence",
           "Split", "UnicodeScripts", "Whitespace", "WhitespaceSplit"]

PRE_TOKENIZERS = Registry("pre_tokenizer")


class PreTokenizer:
    """Base class: ``pre_tokenize`` splits the pieces of a PreTokenizedString in place."""

    type_name = ""

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        raise NotImplementedError

    def pre_tokenize_str(self, sequence: str) -> list[tuple[str, tuple[int, int]]]:
        """``[(piece, (start, end)), ...]`` with offsets in ``sequence``."""
        pts = PreTokenizedString(sequence)
        self.pre_tokenize(pts)
        return [(text, offsets) for text, offsets, _ in pts.get_splits("original")]

    def to_dict(self) -> dict:
        return {"type": self.type_name}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> PreTokenizer:
        fields(d, path)
        return cls()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    __hash__ = None  # mutable configuration


# ---------------------------------------------------------------- slicing helpers
_make = NormalizedString._make
_span = methodcaller("span")  # of a re or regex match


def _slices(ns: NormalizedString, spans) -> list[NormalizedString]:
    """``ns`` cut at the (start, end) ``spans`` of its normalized text."""
    if ns.align is None:
        o, t, sh = ns.original, ns.normalized, ns.shift
        return [_make(o[s:e], t[s:e], None, sh + s) for s, e in spans]
    return [ns.slice(s, e) for s, e in spans]


def _regex_slices(pattern):
    """A ``PreTokenizedString.split`` callback keeping exactly the matches of ``pattern``
    (a compiled ``re`` or ``regex`` pattern)."""
    finditer = pattern.finditer

    def split(_: int, ns: NormalizedString) -> list:
        t = ns.normalized
        if ns.align is None:
            o, sh = ns.original, ns.shift
            return [_make(o[s:e], t[s:e], None, sh + s) for s, e in map(_span, finditer(t))]
        return [ns.slice(s, e) for s, e in map(_span, finditer(t))]
    return split


def _matches(spans: list, n: int, invert: bool = False) -> list:
    """HF's ``find_matches`` output from match spans: ``[((s, e), is_match), ...]`` covering
    ``[0, n)``."""
    if n == 0:
        return [((0, 0), invert)]
    out, prev = [], 0
    for s, e in spans:
        if prev != s:
            out.append(((prev, s), invert))
        out.append(((s, e), not invert))
        prev = e
    if prev != n:
        out.append(((prev, n), invert))
    return out


def _prefixed(ns: NormalizedString, prefix: str) -> tuple[str, int]:
    """The text to split when ``prefix`` (one char) is prepended as HF's ``prepend`` does, and
    how many chars were added (0 or 1)."""
    return (prefix + ns.normalized, 1) if prefix and ns.normalized else (ns.normalized, 0)


def _prefixed_slices(ns: NormalizedString, text: str, added: int, spans,
                     mapped: str | None = None) -> list:
    """Slices of ``text`` (``ns.normalized`` with ``added`` chars prepended, all aligned to the
    first char), without building alignments for the identity case. The pieces' normalized
    text comes from ``mapped``, a 1:1 image of ``text``, when given."""
    mapped = text if mapped is None else mapped
    if ns.align is not None:
        full = _make(ns.original, mapped, [ns.align[0], *ns.align] if added else ns.align,
                     ns.shift)
        return [full.slice(s, e) for s, e in spans]
    o, sh = ns.original, ns.shift
    if not added:
        return [_make(o[s:e], mapped[s:e], None, sh + s) for s, e in spans]
    out = []
    for s, e in spans:
        if s:
            out.append(_make(o[s - 1:e - 1], mapped[s:e], None, sh + s - 1))
        else:  # holds the added char: it shares the first char's alignment
            align = [(sh, sh + 1), *zip(range(sh, sh + e - 1), range(sh + 1, sh + e))]
            out.append(_make(o[:max(e - 1, 1)], mapped[:e], align, sh))
    return out


_BEHAVIOR_JSON = {"removed": "Removed", "isolated": "Isolated",
                  "merged_with_previous": "MergedWithPrevious",
                  "merged_with_next": "MergedWithNext", "contiguous": "Contiguous"}
_BEHAVIOR_PY = {v: k for k, v in _BEHAVIOR_JSON.items()}


def _behavior(value: str) -> str:
    if value not in _BEHAVIOR_JSON:
        raise ValueError(f"unknown split behavior {value!r}; expected one of {SPLIT_BEHAVIORS}")
    return value


def _behavior_from_json(value, path: str) -> str:
    if value not in _BEHAVIOR_PY:
        raise TokenizerFormatError(f"{path}: unknown behavior {value!r} (expected one of "
                                   f"{', '.join(_BEHAVIOR_PY)})")
    return _BEHAVIOR_PY[value]


# ---------------------------------------------------------------- byte level
_ASCII_BYTE_LEVEL = {b: byte_level_chars(chr(b)) for b in range(128)}
_GPT2_SPLIT = regex.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")


@PRE_TOKENIZERS.register("ByteLevel")
class ByteLevel(PreTokenizer):
    """GPT-2's pre-tokenizer: optionally prefix a space, split with GPT-2's regex, then map
    every UTF-8 byte to a printable char (``" "`` -> ``"Ġ"``).

    Example: ``ByteLevel().pre_tokenize_str("Hi there")`` ->
    ``[("ĠHi", (0, 2)), ("Ġthere", (2, 8))]``.
    ``trim_offsets`` is used by the ByteLevel post-processor, not here.
    """

    def __init__(self, add_prefix_space: bool = True, trim_offsets: bool = True,
                 use_regex: bool = True):
        self.add_prefix_space = add_prefix_space
        self.trim_offsets = trim_offsets
        self.use_regex = use_regex

    @staticmethod
    def alphabet() -> list[str]:
        """The 256 chars that byte-level text is made of."""
        return sorted(UNICODE_TO_BYTES)

    def _split(self, _: int, ns: NormalizedString) -> list:
        prefix = " " if self.add_prefix_space and not ns.normalized.startswith(" ") else ""
        text, added = _prefixed(ns, prefix)
        spans = ([m.span() for m in _GPT2_SPLIT.finditer(text)] if self.use_regex
                 else [(0, len(text))])
        if text.isascii():  # one byte per char: map the whole text once
            return _prefixed_slices(ns, text, added, spans, byte_level_chars(text))
        pieces = _prefixed_slices(ns, text, added, spans, text.translate(_ASCII_BYTE_LEVEL))
        for p, (s, e) in zip(pieces, spans):
            if not text[s:e].isascii():
                p.normalized = text[s:e]
                byte_level_transform(p)
        return pieces

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(self._split)

    def to_dict(self) -> dict:
        return {"type": "ByteLevel", "add_prefix_space": self.add_prefix_space,
                "trim_offsets": self.trim_offsets, "use_regex": self.use_regex}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> ByteLevel:
        f = fields(d, path, ("add_prefix_space", "trim_offsets"), {"use_regex": True})
        for k, v in f.items():
            expect(v, bool, f"{path}.{k}")
        return cls(**f)


# ---------------------------------------------------------------- whitespace, punctuation
_WS = re.escape(WHITESPACE)
# \w as Rust's regex crate defines it (Unicode word chars): the regex module's
_WORDS = regex.compile(r"\w+|[^\w" + _WS + "]+")
# fixed char classes use the stdlib re: it looks big classes up in a bitmap
_NON_WS = re.compile(f"[^{_WS}]+")
_BERT_WORDS = re.compile(f"[^{_WS}{PUNCT}]+|[{PUNCT}]")
_PUNCT_CHAR = re.compile(f"[{PUNCT}]")


@PRE_TOKENIZERS.register("Whitespace")
class Whitespace(PreTokenizer):
    """Words (``\\w+``) and runs of other non-space chars: ``"Hi, you!"`` ->
    ``["Hi", ",", "you", "!"]``."""

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_regex_slices(_WORDS))


@PRE_TOKENIZERS.register("WhitespaceSplit")
class WhitespaceSplit(PreTokenizer):
    """Splits on whitespace, which is removed: ``"Hi, you!"`` -> ``["Hi,", "you!"]``."""

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_regex_slices(_NON_WS))


@PRE_TOKENIZERS.register("BertPreTokenizer")
class BertPreTokenizer(PreTokenizer):
    """BERT's basic tokenizer: split on whitespace (removed) and isolate every punctuation char
    (ASCII punctuation or Unicode category P): ``"Hi, you!"`` -> ``["Hi", ",", "you", "!"]``."""

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_regex_slices(_BERT_WORDS))


def _char_class_split(pattern: re.Pattern, behavior: str):
    """Split where each char matching ``pattern`` (one char per match) is a delimiter."""
    def split(_: int, ns: NormalizedString) -> list:
        spans = [m.span() for m in pattern.finditer(ns.normalized)]
        if not spans:
            return [ns]
        return _slices(ns, split_offsets(_matches(spans, len(ns.normalized)), behavior))
    return split


@PRE_TOKENIZERS.register("Punctuation")
class Punctuation(PreTokenizer):
    """Splits on punctuation chars with a delimiter ``behavior`` (default ``"isolated"``)."""

    def __init__(self, behavior: str = "isolated"):
        self.behavior = _behavior(behavior)

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_char_class_split(_PUNCT_CHAR, self.behavior))

    def to_dict(self) -> dict:
        return {"type": "Punctuation", "behavior": _BEHAVIOR_JSON[self.behavior]}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Punctuation:
        f = fields(d, path, optional={"behavior": "Isolated"})
        return cls(_behavior_from_json(f["behavior"], f"{path}.behavior"))


_DIGIT_RUNS = regex.compile(r"\p{N}+|\P{N}+")
_DIGITS_ALONE = regex.compile(r"\p{N}|\P{N}+")


@PRE_TOKENIZERS.register("Digits")
class Digits(PreTokenizer):
    """Splits numbers (chars of category N) from the rest: ``"a123"`` -> ``["a", "123"]``, or
    ``["a", "1", "2", "3"]`` with ``individual_digits=True``."""

    def __init__(self, individual_digits: bool = False):
        self.individual_digits = individual_digits

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_regex_slices(_DIGITS_ALONE if self.individual_digits else _DIGIT_RUNS))

    def to_dict(self) -> dict:
        return {"type": "Digits", "individual_digits": self.individual_digits}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Digits:
        f = fields(d, path, ("individual_digits",))
        return cls(expect(f["individual_digits"], bool, f"{path}.individual_digits"))


# ---------------------------------------------------------------- metaspace
@PRE_TOKENIZERS.register("Metaspace")
class Metaspace(PreTokenizer):
    """SentencePiece-style: spaces become ``replacement`` (``"▁"``), which is prepended to the
    text (``prepend_scheme`` "always", "first": only the piece at the start of the input, or
    "never") and starts every word when ``split``.

    Example: ``Metaspace().pre_tokenize_str("Hey you")`` -> ``[("▁Hey", (0, 3)),
    ("▁you", (3, 7))]``.
    """

    def __init__(self, replacement: str = "\u2581", prepend_scheme: str = "always",
                 split: bool = True):
        if not isinstance(replacement, str) or len(replacement) != 1:
            raise ValueError(f"Metaspace replacement must be one char, got {replacement!r}")
        if prepend_scheme not in ("always", "first", "never"):
            raise ValueError(f"prepend_scheme must be 'always', 'first' or 'never', got "
                             f"{prepend_scheme!r}")
        self.replacement = replacement
        self.prepend_scheme = prepend_scheme
        self.split = split
        r = re.escape(replacement)
        self._words = re.compile(f"{r}[^{r}]*|[^{r}]+")

    def _split(self, _: int, ns: NormalizedString) -> list:
        rep = self.replacement
        ns.normalized = ns.normalized.replace(" ", rep)  # 1:1, alignments unchanged
        prepend = (self.prepend_scheme == "always"
                   or (self.prepend_scheme == "first" and ns.shift == 0))
        prefix = rep if prepend and not ns.normalized.startswith(rep) else ""
        text, added = _prefixed(ns, prefix)
        spans = ([m.span() for m in self._words.finditer(text)] if self.split
                 else [(0, len(text))])
        return _prefixed_slices(ns, text, added, spans)

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(self._split)

    def to_dict(self) -> dict:
        return {"type": "Metaspace", "replacement": self.replacement,
                "prepend_scheme": self.prepend_scheme, "split": self.split}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Metaspace:
        # add_prefix_space and str_rep: fields of tokenizer.json files written before
        # prepend_scheme existed
        f = fields(d, path, ("replacement",), {"prepend_scheme": None, "split": True,
                                               "add_prefix_space": None, "str_rep": None})
        rep = expect(f["replacement"], str, f"{path}.replacement")
        if len(rep) != 1:
            raise TokenizerFormatError(f"{path}.replacement: expected one char, got {rep!r}")
        scheme, legacy = f["prepend_scheme"], f["add_prefix_space"]
        scheme = "always" if scheme is None else scheme
        if scheme not in ("always", "first", "never"):
            raise TokenizerFormatError(f"{path}.prepend_scheme: expected 'always', 'first' or "
                                       f"'never', got {scheme!r}")
        # as HF: a legacy add_prefix_space=false must come with prepend_scheme "never"
        if expect(legacy, (bool, type(None)), f"{path}.add_prefix_space") is False \
                and scheme != "never":
            raise TokenizerFormatError(f"{path}.add_prefix_space: false does not match "
                                       f"prepend_scheme {scheme!r}")
        return cls(rep, scheme, expect(f["split"], bool, f"{path}.split"))


# ---------------------------------------------------------------- generic splits
@PRE_TOKENIZERS.register("Split")
class Split(PreTokenizer):
    """Splits on ``pattern`` (a literal str or a ``Regex``) with a delimiter ``behavior``
    ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"); with
    ``invert`` the pattern describes the pieces instead of the delimiters.

    Example: ``Split("-", "merged_with_next").pre_tokenize_str("a-b")`` -> ``["a", "-b"]``.
    """

    def __init__(self, pattern: str | Regex, behavior: str, invert: bool = False):
        self.pattern = pattern
        self.behavior = _behavior(behavior)
        self.invert = invert
        self._re = compile_pattern(pattern)

    def _split(self, _: int, ns: NormalizedString) -> list:
        text = ns.normalized
        matches = _matches(find_spans(self._re, text), len(text), self.invert)
        return _slices(ns, split_offsets(matches, self.behavior))

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(self._split)

    def to_dict(self) -> dict:
        return {"type": "Split", "pattern": pattern_to_dict(self.pattern),
                "behavior": _BEHAVIOR_JSON[self.behavior], "invert": self.invert}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Split:
        f = fields(d, path, ("pattern", "behavior", "invert"))
        return cls(pattern_from_dict(f["pattern"], f"{path}.pattern"),
                   _behavior_from_json(f["behavior"], f"{path}.behavior"),
                   expect(f["invert"], bool, f"{path}.invert"))


@PRE_TOKENIZERS.register("CharDelimiterSplit")
class CharDelimiterSplit(PreTokenizer):
    """Splits on one ``delimiter`` char, which is removed."""

    def __init__(self, delimiter: str):
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ValueError(f"delimiter must be one char, got {delimiter!r}")
        self.delimiter = delimiter
        self._pieces = re.compile(f"[^{re.escape(delimiter)}]+")

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(_regex_slices(self._pieces))

    def to_dict(self) -> dict:
        return {"type": "CharDelimiterSplit", "delimiter": self.delimiter}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> CharDelimiterSplit:
        f = fields(d, path, ("delimiter",))
        delimiter = expect(f["delimiter"], str, f"{path}.delimiter")
        if len(delimiter) != 1:
            raise TokenizerFormatError(f"{path}.delimiter: expected one char, got {delimiter!r}")
        return cls(delimiter)


@PRE_TOKENIZERS.register("FixedLength")
class FixedLength(PreTokenizer):
    """Chunks of ``length`` chars: ``FixedLength(3)`` makes ``"abcdefg"`` ->
    ``["abc", "def", "g"]``."""

    def __init__(self, length: int = 5):
        self.length = length

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        n = self.length
        if n <= 0:
            raise ValueError("FixedLength pre-tokenizer length must be greater than 0")
        pts.split(lambda _, ns: _slices(
            ns, [(i, min(i + n, len(ns.normalized))) for i in range(0, len(ns.normalized), n)]))

    def to_dict(self) -> dict:
        return {"type": "FixedLength", "length": self.length}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> FixedLength:
        f = fields(d, path, optional={"length": 5})
        return cls(expect(f["length"], int, f"{path}.length"))


# ---------------------------------------------------------------- scripts
# The scripts of HF's table (Unicode 9.0), with the regex module's Script property.
_SCRIPTS = (
    "Latin Common Han Inherited Greek Cyrillic Arabic Hebrew Hangul Hiragana Katakana Thai "
    "Devanagari Adlam Ahom Anatolian_Hieroglyphs Armenian Avestan Balinese Bamum Bassa_Vah Batak "
    "Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian "
    "Caucasian_Albanian Chakma Cham Cherokee Coptic Cuneiform Cypriot Deseret Duployan "
    "Egyptian_Hieroglyphs Elbasan Ethiopic Georgian Glagolitic Gothic Grantha Gujarati Gurmukhi "
    "Hanunoo Hatran Imperial_Aramaic Inscriptional_Pahlavi Inscriptional_Parthian Javanese "
    "Kaithi Kannada Kayah_Li Kharoshthi Khmer Khojki Khudawadi Lao Lepcha Limbu Linear_A "
    "Linear_B Lisu Lycian Lydian Mahajani Malayalam Mandaic Manichaean Marchen Meetei_Mayek "
    "Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani "
    "Myanmar Nabataean New_Tai_Lue Newa Nko Ogham Ol_Chiki Old_Hungarian Old_Italic "
    "Old_North_Arabian Old_Permic Old_Persian Old_South_Arabian Old_Turkic Oriya Osage Osmanya "
    "Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic "
    "Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sora_Sompeng Sundanese "
    "Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangut Telugu "
    "Thaana Tibetan Tifinagh Tirhuta Ugaritic Vai Warang_Citi Yi").split()
_SCRIPT_OF = regex.compile("|".join(f"(\\p{{sc={s}}})" for s in _SCRIPTS))
_ANY = "Any"  # transparent: never starts a piece (a space, or a char unknown to HF's table)
# chars whose script changed since Unicode 9.0
_SCRIPT_9 = {"\u0589": "Common", "\u061c": "Common", "\u0953": "Devanagari",
             "\u0954": "Devanagari"}


class _ScriptCache(dict):
    def __missing__(self, c: str) -> str:
        if c == " " or not assigned_in_unicode_9(c):
            script = _ANY
        elif c == "\u30fc":  # KATAKANA-HIRAGANA PROLONGED SOUND MARK
            script = "Han"
        elif c in _SCRIPT_9:
            script = _SCRIPT_9[c]
        else:
            m = _SCRIPT_OF.match(c)
            script = _SCRIPTS[m.lastindex - 1] if m else _ANY
            if script in ("Hiragana", "Katakana"):
                script = "Han"  # as SentencePiece does: Japanese text stays together
        self[c] = script
        return script


_SCRIPT = _ScriptCache()


@PRE_TOKENIZERS.register("UnicodeScripts")
class UnicodeScripts(PreTokenizer):
    """Splits where the Unicode script changes (spaces belong to any script; kana count as Han):
    ``"どこで生れ。Yes"`` -> ``["どこで生れ", "。", "Yes"]``."""

    @staticmethod
    def _split(_: int, ns: NormalizedString) -> list:
        cuts, last, pos = [], None, 0
        for script, run in groupby(map(_SCRIPT.__getitem__, ns.normalized)):
            if script != _ANY:
                if script != last:
                    cuts.append(pos)
                last = script
            pos += len(list(run))
        # subtle: text before the first cut (leading spaces) belongs to no piece, as in HF
        cuts.append(pos)
        return _slices(ns, list(zip(cuts, cuts[1:])))

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        pts.split(self._split)


# ---------------------------------------------------------------- sequence
@PRE_TOKENIZERS.register("Sequence")
class Sequence(PreTokenizer):
    """Applies ``pretokenizers`` in order."""

    def __init__(self, pretokenizers: list[PreTokenizer]):
        self.pretokenizers = list(pretokenizers)

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        for p in self.pretokenizers:
            p.pre_tokenize(pts)

    def __getitem__(self, i: int) -> PreTokenizer:
        return self.pretokenizers[i]

    def __len__(self) -> int:
        return len(self.pretokenizers)

    def to_dict(self) -> dict:
        return {"type": "Sequence", "pretokenizers": [p.to_dict() for p in self.pretokenizers]}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Sequence:
        f = fields(d, path, ("pretokenizers",))
        items = expect(f["pretokenizers"], list, f"{path}.pretokenizers")
        return cls([PRE_TOKENIZERS.from_dict(p, f"{path}.pretokenizers[{i}]")
                    for i, p in enumerate(items)])

