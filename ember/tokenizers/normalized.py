"""``NormalizedString``: a string being normalized, with the alignment of every normalized char
back to the original text, so token offsets always point into what the user passed in.

The alignment rules are Hugging Face ``tokenizers``' (``NormalizedString::transform_range``),
ported from bytes to chars: a transformation is a stream of ``(char, change)`` pairs where change
``0`` replaces the current char (the new char takes its alignment), ``1`` inserts a char (it takes
the alignment of the char before it, or ``(start, start)`` at the very beginning) and ``-n``
replaces the current char and removes the ``n`` chars after it.

Example: lowercasing "AB" is ``[("a", 0), ("b", 0)]``; NFD of "é" is ``[("e", 0), ("\u0301", 1)]``,
both aligned to the original "é".

For speed the alignment is stored as ``None`` while it is the identity (char i of the normalized
text comes from char i of the original): ASCII text under most normalizers never leaves that state.
Alignments are absolute offsets into the full input (``shift`` is where ``original`` starts in it).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import regex

__all__ = ["NormalizedString", "Pattern", "SPLIT_BEHAVIORS", "WHITESPACE", "find_matches",
           "split_offsets"]

SPLIT_BEHAVIORS = ("removed", "isolated", "merged_with_previous", "merged_with_next",
                   "contiguous")

# A split pattern: a literal string, a compiled regex, or a char predicate.
Pattern = Any


def find_matches(pattern: Pattern, inside: str, invert: bool = False) -> list:
    """``[((start, end), is_match), ...]`` covering ``inside`` contiguously (HF's Pattern).

    Example: ``find_matches("-", "a-b")`` -> ``[((0, 1), False), ((1, 2), True), ((2, 3), False)]``.
    A char predicate makes each matching char its own match.
    """
    if not inside:
        return [((0, 0), invert)]
    out: list = []
    if isinstance(pattern, str):
        if not pattern:
            return [((0, len(inside)), invert)]
        pattern = regex.compile(regex.escape(pattern))
    if callable(pattern) and not hasattr(pattern, "finditer"):
        last = 0
        for i, c in enumerate(inside):
            if pattern(c):
                if last < i:
                    out.append(((last, i), invert))
                out.append(((i, i + 1), not invert))
                last = i + 1
        if last < len(inside):
            out.append(((last, len(inside)), invert))
        return out
    prev = 0
    for m in pattern.finditer(inside):
        s, e = m.span()
        if prev != s:
            out.append(((prev, s), invert))
        out.append(((s, e), not invert))
        prev = e
    if prev != len(inside):
        out.append(((prev, len(inside)), invert))
    return out


class NormalizedString:
    """The original text, its normalized form and per-char alignments (see module docstring)."""

    __slots__ = ("original", "normalized", "align", "shift")

    def __init__(self, original: str, shift: int = 0):
        self.original = original
        self.normalized = original
        self.align: list | None = None
        self.shift = shift

    @classmethod
    def _make(cls, original: str, normalized: str, align, shift: int) -> NormalizedString:
        ns = cls.__new__(cls)
        ns.original, ns.normalized, ns.align, ns.shift = original, normalized, align, shift
        return ns

    # ---------------------------------------------------------------- reading
    def get(self) -> str:
        return self.normalized

    def get_original(self) -> str:
        return self.original

    def __len__(self) -> int:
        return len(self.normalized)

    def __repr__(self) -> str:
        return f"NormalizedString(original={self.original!r}, normalized={self.normalized!r})"

    def alignments(self) -> list:
        """Absolute (start, end) original offsets of every normalized char."""
        if self.align is None:
            s = self.shift
            return [(s + i, s + i + 1) for i in range(len(self.normalized))]
        return self.align

    def offsets_original(self) -> tuple[int, int]:
        return self.shift, self.shift + len(self.original)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Absolute original offsets of the normalized range [start, end) (an empty range maps to
        itself shifted, as HF does)."""
        if start >= end:
            return self.shift + start, self.shift + start
        if self.align is None:
            return self.shift + start, self.shift + end
        return self.align[start][0], self.align[end - 1][1]

    # ---------------------------------------------------------------- transforming
    def transform_range(self, start: int, end: int, items: Iterable[tuple[str, int]],
                        initial_offset: int = 0) -> None:
        """Replace normalized[start:end] by the chars of ``items`` (see module docstring)."""
        align = self.alignments()
        offset = start + initial_offset
        chars: list[str] = []
        new_align: list = []
        for c, change in items:
            if change > 0:
                a = align[offset - 1] if offset >= 1 else (self.shift, self.shift)
            else:
                a = align[offset]
                offset += 1
                if change < 0:
                    offset -= change
            chars.append(c)
            new_align.append(a)
        self.normalized = self.normalized[:start] + "".join(chars) + self.normalized[end:]
        self.align = align[:start] + new_align + align[end:]

    def transform(self, items: Iterable[tuple[str, int]], initial_offset: int = 0) -> None:
        """``transform_range`` over the whole normalized string (a no-op on an empty one)."""
        if not self.normalized:
            return
        self.transform_range(0, len(self.normalized), items, initial_offset)

    def map_chars(self, fn: Callable[[str], str]) -> None:
        """Replace every char c by the non-empty string ``fn(c)``: its first char replaces c, the
        others are insertions (lowercase, NFD). Use ``filter`` to remove chars."""
        pieces = [fn(c) for c in self.normalized]
        if all(len(p) == 1 for p in pieces):
            self.normalized = "".join(pieces)  # 1:1: alignments unchanged
            return
        items: list = []
        for p in pieces:
            if not p:
                raise ValueError("map_chars: fn returned an empty string; use filter() to remove")
            items.append((p[0], 0))
            items.extend((c, 1) for c in p[1:])
        self.transform(items)

    def filter(self, keep: Callable[[str], bool]) -> None:
        """Drop the chars for which ``keep`` is false (HF's filter: a kept char absorbs the
        removals that follow it)."""
        text = self.normalized
        flags = [keep(c) for c in text]
        if all(flags):
            return
        items: list = []
        removed = 0
        for c, k in zip(reversed(text), reversed(flags)):
            if k:
                items.append((c, -removed))
                removed = 0
            else:
                removed += 1
        items.reverse()
        self.transform(items, removed)

    def prepend(self, s: str) -> None:
        if not self.normalized or not s:
            return
        first = self.normalized[0]
        items = [(c, 0 if i == 0 else 1) for i, c in enumerate(s)] + [(first, 1)]
        self.transform_range(0, 1, items)

    def append(self, s: str) -> None:
        if not self.normalized or not s:
            return
        n = len(self.normalized)
        self.transform_range(n - 1, n, [(self.normalized[-1], 0)] + [(c, 1) for c in s])

    def replace(self, pattern: Pattern, content: str) -> None:
        """Replace every match of ``pattern`` by ``content`` (the new chars align to the match's
        last char, as in HF)."""
        shift = 0
        for (s, e), is_match in find_matches(pattern, self.normalized):
            if not is_match:
                continue
            s += shift
            e += shift
            self.transform_range(s, e, [(c, 1) for c in content], e - s)
            shift += len(content) - (e - s)

    def lstrip(self) -> None:
        self._strip(True, False)

    def rstrip(self) -> None:
        self._strip(False, True)

    def strip(self) -> None:
        self._strip(True, True)

    def _strip(self, left: bool, right: bool) -> None:
        text = self.normalized
        n = len(text)
        lead = n - len(text.lstrip(_WS)) if left else 0
        trail = n - len(text.rstrip(_WS)) if right else 0
        if lead == n:
            trail = 0 if left else trail
        if not lead and not trail:
            return
        items = []
        for i, c in enumerate(text):
            if i < lead or i >= n - trail:
                continue
            items.append((c, -trail if i == n - trail - 1 else 0))
        self.transform(items, lead)

    # ---------------------------------------------------------------- splitting
    def slice(self, start: int, end: int) -> NormalizedString:
        """The normalized range [start, end) as its own NormalizedString."""
        if self.align is None:
            return NormalizedString._make(self.original[start:end], self.normalized[start:end],
                                          None, self.shift + start)
        if start >= end:
            return NormalizedString._make("", "", [], self.shift)
        o_start, o_end = self.align[start][0], self.align[end - 1][1]
        original = self.original[o_start - self.shift:o_end - self.shift]
        return NormalizedString._make(original, self.normalized[start:end],
                                      self.align[start:end], o_start)

    def split(self, pattern: Pattern, behavior: str, invert: bool = False) -> list:
        """Split on ``pattern`` with HF's delimiter behaviours (removed, isolated,
        merged_with_previous, merged_with_next, contiguous)."""
        return [self.slice(s, e) for s, e in
                split_offsets(find_matches(pattern, self.normalized, invert), behavior)]


# Rust's char::is_whitespace (the Unicode White_Space property), which HF uses; Python's
# str.isspace() also accepts U+001C..U+001F.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WS = WHITESPACE


def split_offsets(matches: list, behavior: str) -> list[tuple[int, int]]:
    """The (start, end) pieces kept by a split behaviour, from ``find_matches`` output."""
    if behavior == "isolated":
        return [span for span, _ in matches]
    if behavior == "removed":
        return [span for span, m in matches if not m]
    out: list = []
    if behavior == "contiguous":
        prev = False
        for span, m in matches:
            if out and m == prev:
                out[-1] = (out[-1][0], span[1])
            else:
                out.append(span)
            prev = m
        return out
    if behavior == "merged_with_previous":
        prev = False
        for span, m in matches:
            if m and not prev and out:
                out[-1] = (out[-1][0], span[1])
            else:
                out.append(span)
            prev = m
        return out
    if behavior == "merged_with_next":
        prev = False
        for span, m in reversed(matches):
            if m and not prev and out:
                out[-1] = (span[0], out[-1][1])
            else:
                out.append(span)
            prev = m
        out.reverse()
        return out
    raise ValueError(f"unknown split behavior {behavior!r}; expected one of {SPLIT_BEHAVIORS}")
