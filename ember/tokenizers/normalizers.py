"""Normalizers: text clean-up before splitting (HF ``tokenizers.normalizers``).

Each one edits a ``NormalizedString`` with exactly HF's alignment rules (see normalized.py), but
through whole-string operations: ``str.lower``/``re.sub`` for 1:1 char maps (alignments
untouched), and ``_splice`` with a list of edits for the rarer places where chars are inserted or
removed, so ASCII text never goes through a per-char Python loop.
"""
from __future__ import annotations

import re
import unicodedata

import regex

from .normalized import WHITESPACE, NormalizedString
from .patterns import Regex, compile_pattern, find_spans, pattern_from_dict, pattern_to_dict
from .serialization import Registry, TokenizerFormatError, expect, fields
from .unicode_norm import normalize_stream
from .unicode_tables import (BERT_REMOVED, CJK, MARK, MARK_CANDIDATES, MN, MN_CANDIDATES,
                             NORMALIZATION_CANDIDATES, byte_level_chars)

__all__ = ["NORMALIZERS", "Normalizer", "BertNormalizer", "ByteLevel", "Lowercase", "NFC", "NFD",
           "NFKC", "NFKD", "Nmt", "Precompiled", "Prepend", "Replace", "Sequence", "Strip",
           "StripAccents", "byte_level_transform"]

NORMALIZERS = Registry("normalizer")


class Normalizer:
    """Base class: ``normalize`` edits a NormalizedString in place (keeping alignments)."""

    type_name = ""

    def normalize(self, ns: NormalizedString) -> None:
        raise NotImplementedError

    def normalize_str(self, sequence: str) -> str:
        ns = NormalizedString(sequence)
        self.normalize(ns)
        return ns.normalized

    def to_dict(self) -> dict:
        return {"type": self.type_name}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Normalizer:
        fields(d, path)
        return cls()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    __hash__ = None  # mutable configuration


# ---------------------------------------------------------------- alignment edits
def _align_at(ns: NormalizedString, i: int) -> tuple[int, int]:
    if ns.align is None:
        return ns.shift + i, ns.shift + i + 1
    return ns.align[i]


def _identity(shift: int, start: int, end: int):
    """The identity alignments of chars [start, end)."""
    return zip(range(shift + start, shift + end), range(shift + start + 1, shift + end + 1))


def _splice(ns: NormalizedString, edits: list) -> None:
    """Apply sorted, non-overlapping ``(start, end, chars, aligns)`` edits in one pass: each
    replaces ``normalized[start:end]`` by ``chars`` whose alignments are ``aligns``."""
    if not edits:
        return
    text, align, shift = ns.normalized, ns.align, ns.shift
    parts: list[str] = []
    new_align: list = []
    pos = 0
    for s, e, chars, aligns in edits:
        if pos < s:
            parts.append(text[pos:s])
            new_align.extend(align[pos:s] if align is not None else _identity(shift, pos, s))
        parts.append(chars)
        new_align.extend(aligns)
        pos = e
    n = len(text)
    if pos < n:
        parts.append(text[pos:])
        new_align.extend(align[pos:] if align is not None else _identity(shift, pos, n))
    ns.normalized = "".join(parts)
    ns.align = new_align


def _delete(ns: NormalizedString, pattern, exact: frozenset | None = None) -> None:
    """Remove every match of ``pattern`` (HF's ``filter``: kept chars keep their alignment);
    with ``exact``, only the matched chars in it (``pattern`` being a fast superset)."""
    edits = []
    for m in pattern.finditer(ns.normalized):
        if exact is None or all(c in exact for c in m.group()):
            edits.append((m.start(), m.end(), "", ()))
        else:
            edits.extend((i, i + 1, "", ()) for i, c in enumerate(m.group(), m.start())
                         if c in exact)
    _splice(ns, edits)


def _stream_edit(ns: NormalizedString, start: int, end: int, stream: list) -> tuple:
    """HF's ``transform_range`` for ``(char, change)`` pairs replacing ``normalized[start:end]``:
    change 0 takes the next char's alignment, 1 (an insertion) the previous one's, and -n also
    skips n chars."""
    offset = start
    aligns = []
    for _, change in stream:
        if change > 0:
            aligns.append(_align_at(ns, offset - 1) if offset else (ns.shift, ns.shift))
        else:
            aligns.append(_align_at(ns, offset))
            offset += 1 - change
    return start, end, "".join(c for c, _ in stream), aligns


# ---------------------------------------------------------------- unicode forms
# big fixed char classes use the stdlib re (a bitmap lookup per char; the regex module scans
# the ranges); Unicode properties the regex module (fast tables)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# Runs of chars a form may change: each is independent of the rest of the text, given the char
# before it for the composing forms (a starter that may absorb the run's marks).
_CANDIDATE_RUNS = {
    form: regex.compile(("(?s:.)?" if form in ("NFC", "NFKC") else "") + f"[{chars}]+")
    for form, chars in NORMALIZATION_CANDIDATES.items()}


def _unicode_form(ns: NormalizedString, form: str) -> None:
    text = ns.normalized
    if text.isascii() or unicodedata.is_normalized(form, text):
        return
    edits = []
    for m in _CANDIDATE_RUNS[form].finditer(text):
        seg = m.group()
        if not unicodedata.is_normalized(form, seg):
            edits.append(_stream_edit(ns, m.start(), m.end(), normalize_stream(seg, form)))
    _splice(ns, edits)


class _UnicodeForm(Normalizer):
    form = ""

    def normalize(self, ns: NormalizedString) -> None:
        _unicode_form(ns, self.form)


@NORMALIZERS.register("NFD")
class NFD(_UnicodeForm):
    """Canonical decomposition: ``"é"`` -> ``"e\\u0301"`` (both chars aligned to ``é``)."""

    form = "NFD"


@NORMALIZERS.register("NFKD")
class NFKD(_UnicodeForm):
    """Compatibility decomposition: ``"ﬁ"`` -> ``"fi"``."""

    form = "NFKD"


@NORMALIZERS.register("NFC")
class NFC(_UnicodeForm):
    """Canonical composition: ``"e\\u0301"`` -> ``"é"``."""

    form = "NFC"


@NORMALIZERS.register("NFKC")
class NFKC(_UnicodeForm):
    """Compatibility composition: ``"ﬁ"`` -> ``"fi"``, ``"①"`` -> ``"1"``."""

    form = "NFKC"


# ---------------------------------------------------------------- case, accents
_DOTTED_I = "\u0130"  # the only char whose lowercase is two chars: "i\u0307"


def _lowercase(ns: NormalizedString) -> None:
    """Rust's per-char ``to_lowercase``: like ``str.lower`` without the final-sigma rule (with
    CPython's case tables: a case pair newer than its Unicode version stays as it is)."""
    text = ns.normalized
    if text.isascii():
        ns.normalized = text.lower()
        return
    lowered = text.replace("\u03a3", "\u03c3").replace(_DOTTED_I, "I").lower()
    ns.normalized = lowered
    if _DOTTED_I in text:
        edits = []
        i = text.find(_DOTTED_I)
        while i >= 0:
            a = _align_at(ns, i)
            edits.append((i, i + 1, "i\u0307", (a, a)))
            i = text.find(_DOTTED_I, i + 1)
        _splice(ns, edits)


@NORMALIZERS.register("Lowercase")
class Lowercase(Normalizer):
    """Per-char lowercase: ``"ΟΔΟΣ"`` -> ``"οδοσ"`` (no final sigma), ``"İ"`` -> ``"i̇"``."""

    def normalize(self, ns: NormalizedString) -> None:
        _lowercase(ns)


_MARKS = regex.compile(f"[{MARK_CANDIDATES}]+")


@NORMALIZERS.register("StripAccents")
class StripAccents(Normalizer):
    """Removes combining marks (Mn, Mc, Me); use after NFD: ``"é"`` -> NFD -> ``"e"``."""

    def normalize(self, ns: NormalizedString) -> None:
        if not ns.normalized.isascii():
            _delete(ns, _MARKS, MARK)


# ---------------------------------------------------------------- BERT
_BERT_REMOVED = re.compile(f"[{BERT_REMOVED}]+")
_OTHER_SPACES = re.compile(f"[{re.escape(WHITESPACE.replace(' ', ''))}]")
_CJK_CHAR = re.compile(f"[{CJK}]")
_NONSPACING = regex.compile(f"[{MN_CANDIDATES}]+")


@NORMALIZERS.register("BertNormalizer")
class BertNormalizer(Normalizer):
    """BERT's cleanup: drop control chars and map whitespace to ``" "`` (``clean_text``), put
    spaces around CJK ideographs, strip accents (NFD then drop Mn; follows ``lowercase`` when
    ``strip_accents`` is None), lowercase.

    Example: ``BertNormalizer().normalize_str("Héllo\\t中!")`` -> ``"hello  中 !"``.
    """

    def __init__(self, clean_text: bool = True, handle_chinese_chars: bool = True,
                 strip_accents: bool | None = None, lowercase: bool = True):
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.strip_accents = strip_accents
        self.lowercase = lowercase

    def normalize(self, ns: NormalizedString) -> None:
        if self.clean_text:
            _delete(ns, _BERT_REMOVED)
            ns.normalized = _OTHER_SPACES.sub(" ", ns.normalized)  # 1:1
        text = ns.normalized
        if self.handle_chinese_chars and not text.isascii():
            edits = []
            for m in _CJK_CHAR.finditer(text):
                a = _align_at(ns, m.start())
                edits.append((m.start(), m.end(), f" {m.group()} ", (a, a, a)))
            _splice(ns, edits)
        strip = self.lowercase if self.strip_accents is None else self.strip_accents
        if strip and not ns.normalized.isascii():
            _unicode_form(ns, "NFD")
            _delete(ns, _NONSPACING, MN)
        if self.lowercase:
            _lowercase(ns)

    def to_dict(self) -> dict:
        return {"type": "BertNormalizer", "clean_text": self.clean_text,
                "handle_chinese_chars": self.handle_chinese_chars,
                "strip_accents": self.strip_accents, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> BertNormalizer:
        f = fields(d, path, ("clean_text", "handle_chinese_chars", "strip_accents", "lowercase"))
        for k in ("clean_text", "handle_chinese_chars", "lowercase"):
            expect(f[k], bool, f"{path}.{k}")
        if f["strip_accents"] is not None:
            expect(f["strip_accents"], bool, f"{path}.strip_accents")
        return cls(**f)


# ---------------------------------------------------------------- editing
@NORMALIZERS.register("Replace")
class Replace(Normalizer):
    """Replaces every match of ``pattern`` (a literal str or a ``Regex``) by ``content``; new
    chars align to the last char of their match: ``Replace("''", '"')``."""

    def __init__(self, pattern: str | Regex, content: str):
        self.pattern = pattern
        self.content = content
        self._re = compile_pattern(pattern)
        # a one-char literal replaced by one char keeps every alignment
        self._one_to_one = (isinstance(pattern, str) and len(pattern) == 1
                            and len(content) == 1)

    def normalize(self, ns: NormalizedString) -> None:
        text = ns.normalized
        if self._one_to_one:
            ns.normalized = text.replace(self.pattern, self.content)
            return
        content, n = self.content, len(self.content)
        edits = []
        for s, e in find_spans(self._re, text):
            a = _align_at(ns, e - 1) if e else (ns.shift, ns.shift)
            edits.append((s, e, content, (a,) * n))
        _splice(ns, edits)

    def to_dict(self) -> dict:
        return {"type": "Replace", "pattern": pattern_to_dict(self.pattern),
                "content": self.content}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Replace:
        f = fields(d, path, ("pattern", "content"))
        return cls(pattern_from_dict(f["pattern"], f"{path}.pattern"),
                   expect(f["content"], str, f"{path}.content"))


@NORMALIZERS.register("Prepend")
class Prepend(Normalizer):
    """Prepends ``prepend`` to non-empty text (aligned to its first char):
    ``Prepend("▁")`` makes ``"hey"`` -> ``"▁hey"``."""

    def __init__(self, prepend: str):
        self.prepend = prepend

    def normalize(self, ns: NormalizedString) -> None:
        if ns.normalized and self.prepend:
            a = _align_at(ns, 0)
            _splice(ns, [(0, 1, self.prepend + ns.normalized[0], (a,) * (len(self.prepend) + 1))])

    def to_dict(self) -> dict:
        return {"type": "Prepend", "prepend": self.prepend}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Prepend:
        f = fields(d, path, ("prepend",))
        return cls(expect(f["prepend"], str, f"{path}.prepend"))


@NORMALIZERS.register("Strip")
class Strip(Normalizer):
    """Removes leading (``left``) and/or trailing (``right``) whitespace."""

    def __init__(self, left: bool = True, right: bool = True):
        self.left = left
        self.right = right

    def normalize(self, ns: NormalizedString) -> None:
        text = ns.normalized
        n = len(text)
        lead = n - len(text.lstrip(WHITESPACE)) if self.left else 0
        trail = n - len(text.rstrip(WHITESPACE)) if self.right and lead < n else 0
        edits = [(0, lead, "", ())] if lead else []
        if trail:
            edits.append((n - trail, n, "", ()))
        _splice(ns, edits)

    def to_dict(self) -> dict:
        return {"type": "Strip", "strip_left": self.left, "strip_right": self.right}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Strip:
        f = fields(d, path, ("strip_left", "strip_right"))
        return cls(expect(f["strip_left"], bool, f"{path}.strip_left"),
                   expect(f["strip_right"], bool, f"{path}.strip_right"))


_NMT_REMOVED = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]+")
_NMT_SPACES = re.compile("[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]")


@NORMALIZERS.register("Nmt")
class Nmt(Normalizer):
    """SentencePiece's NMT cleanup: drops ASCII control chars, maps other spaces to ``" "``."""

    def normalize(self, ns: NormalizedString) -> None:
        _delete(ns, _NMT_REMOVED)
        ns.normalized = _NMT_SPACES.sub(" ", ns.normalized)  # 1:1


def byte_level_transform(ns: NormalizedString) -> None:
    """Replace every char by its UTF-8 bytes as byte-level chars, each aligned to the char:
    ``"é"`` -> ``"Ã©"`` (GPT-2's byte-to-unicode map; ``" "`` -> ``"Ġ"``)."""
    text = ns.normalized
    if text.isascii():
        ns.normalized = byte_level_chars(text)  # one char per byte: alignments unchanged
        return
    edits = []
    for m in _NON_ASCII.finditer(text):
        aligns = []
        for i, c in enumerate(m.group(), m.start()):
            a = _align_at(ns, i)
            aligns.extend((a,) * len(c.encode("utf-8")))
        edits.append((m.start(), m.end(), byte_level_chars(m.group()), aligns))
    ns.normalized = text.translate(_ASCII_BYTE_LEVEL)
    _splice(ns, edits)


_ASCII_BYTE_LEVEL = {b: byte_level_chars(chr(b)) for b in range(128)}


@NORMALIZERS.register("ByteLevel")
class ByteLevel(Normalizer):
    """Maps text to GPT-2 byte-level chars (without the pre-tokenizer's splitting)."""

    def normalize(self, ns: NormalizedString) -> None:
        byte_level_transform(ns)


@NORMALIZERS.register("Sequence")
class Sequence(Normalizer):
    """Applies ``normalizers`` in order."""

    def __init__(self, normalizers: list[Normalizer]):
        self.normalizers = list(normalizers)

    def normalize(self, ns: NormalizedString) -> None:
        for n in self.normalizers:
            n.normalize(ns)

    def __getitem__(self, i: int) -> Normalizer:
        return self.normalizers[i]

    def __len__(self) -> int:
        return len(self.normalizers)

    def to_dict(self) -> dict:
        return {"type": "Sequence", "normalizers": [n.to_dict() for n in self.normalizers]}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Sequence:
        f = fields(d, path, ("normalizers",))
        items = expect(f["normalizers"], list, f"{path}.normalizers")
        return cls([NORMALIZERS.from_dict(n, f"{path}.normalizers[{i}]")
                    for i, n in enumerate(items)])


@NORMALIZERS.register("Precompiled")
class Precompiled(Normalizer):
    """SentencePiece's precompiled charsmap normalizer: not supported (reading one raises)."""

    def __init__(self, precompiled_charsmap: str):
        raise TokenizerFormatError(_PRECOMPILED_MSG.format(path="Precompiled"))

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Precompiled:
        raise TokenizerFormatError(_PRECOMPILED_MSG.format(path=path))


_PRECOMPILED_MSG = ("{path}.precompiled_charsmap: SentencePiece precompiled charsmaps (the "
                    "'Precompiled' normalizer) are not supported by ember.tokenizers; replace it "
                    "with an equivalent normalizer, e.g. NFKC")
