"""Split/replace patterns as tokenizer.json writes them: ``{"String": s}`` (a literal) or
``{"Regex": r}`` (an Oniguruma regex, HF's ``tokenizers.Regex``), compiled for the ``regex``
module with Oniguruma's semantics where the two differ:

* ``\\w`` is Alphabetic/Mark/Decimal digit/Connector punctuation, without the zero-width
  joiners, and outside a class (so also for ``\\b``) Latin-1 ``²³¹¼½¾`` as well.
* ``\\h`` is a hex digit; ``\\x{HH}`` is a code point; ``^``/``$`` always match at line
  breaks; ``(?m)`` means dot-all; ``\\Z`` also matches before a final newline, ``\\z`` only
  at the end; case-insensitive matching folds fully (``"ß"`` matches ``"ss"``), though
  ``"İ"`` still matches ``"i"`` here, not there.
* An empty match right where the previous match ended is skipped (``find_spans``).
"""
from __future__ import annotations

from typing import Any

import regex

from .serialization import TokenizerFormatError, expect

__all__ = ["Regex", "compile_pattern", "find_spans", "pattern_from_dict", "pattern_to_dict",
           "translate_onig"]

_WORD_IN_CLASS = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}"  # the regex module's \w minus joiners
_WORD = _WORD_IN_CLASS + r"\xB2\xB3\xB9\xBC-\xBE"
_HEX = "0-9a-fA-F"
# escape -> (outside a class, inside a class); None inside = leave to the regex module
_ESCAPES = {
    "w": (f"[{_WORD}]", _WORD_IN_CLASS),
    "W": (f"[^{_WORD}]", r"\W\u200c\u200d"),
    "h": (f"[{_HEX}]", _HEX),
    "H": (f"[^{_HEX}]", None),
    "z": (r"\Z", None),
    "Z": (r"(?=\n?\Z)", None),
    "b": (f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))", None),
    "B": (f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))", None),
}


class Regex:
    """A pattern to be read as a regular expression (like ``tokenizers.Regex``)."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str):
        self.pattern = expect(pattern, str, "Regex.pattern")

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Regex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(("Regex", self.pattern))


def translate_onig(pattern: str) -> str:
    """Rewrite an Oniguruma (Ruby syntax) pattern for the ``regex`` module (see module doc).

    Example: ``translate_onig(r"\\w+(?m:.)")`` -> ``r"[\\p{Alphabetic}...]+(?s:.)"``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            sub = _ESCAPES.get(e)
            if sub is not None and (sub[1 if in_class else 0] is not None):
                out.append(sub[1 if in_class else 0])
            elif e in "pPx" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i)
                close = n - 1 if close < 0 else close
                body = pattern[i + 3:close]
                if e == "x" and body and all(h in "0123456789abcdefABCDEF" for h in body):
                    out.append(f"\\U{int(body, 16):08x}")  # \x{HHHH}
                else:
                    out.append(pattern[i:close + 1])
                i = close + 1
                continue
            else:
                out.append(pattern[i:i + 2])
            i += 2
        elif in_class:
            if pattern.startswith("[:", i):  # POSIX bracket like [:alpha:]
                close = pattern.find(":]", i + 2)
                close = n - 2 if close < 0 else close
                out.append(pattern[i:close + 2])
                i = close + 2
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):  # a leading ] is a literal
                out.append(r"\]")
                i += 1
        elif c == "(" and pattern.startswith("(?", i):
            # inline options: Ruby's m is dot-all (Python's s)
            j = i + 2
            while j < n and (pattern[j].isalpha() or pattern[j] == "-"):
                j += 1
            if j > i + 2 and j < n and pattern[j] in ":)":
                out.append("(?" + pattern[i + 2:j].replace("m", "s"))
                i = j
            else:
                out.append("(?")
                i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def compile_pattern(pattern: str | Regex) -> regex.Pattern:
    """A compiled ``regex`` pattern for a literal string or an Oniguruma ``Regex``."""
    if isinstance(pattern, Regex):
        try:
            # FULLCASE: under (?i) Oniguruma folds fully ("ß" matches "ss")
            return regex.compile(translate_onig(pattern.pattern),
                                 regex.MULTILINE | regex.FULLCASE)
        except regex.error as e:
            raise TokenizerFormatError(f"invalid regex {pattern.pattern!r}: {e}") from None
    return regex.compile(regex.escape(pattern))


def find_spans(compiled: regex.Pattern, text: str) -> list[tuple[int, int]]:
    """Match spans as Oniguruma's ``find_iter`` yields them: like ``finditer``, except that an
    empty match where the previous match ended is skipped and the search moves one char on.

    Example: ``x*`` in ``"axxb"`` -> ``[(0, 0), (1, 3), (4, 4)]`` (Python adds ``(3, 3)``).
    """
    if not text:
        return []  # HF: an empty text has no match, not even an empty one
    spans = [m.span() for m in compiled.finditer(text)]
    if all(s != e for s, e in spans):
        return spans  # no empty match: both engines agree
    spans = []
    pos, last_end, n = 0, -1, len(text)
    while pos <= n:
        m = compiled.search(text, pos)
        if m is None:
            break
        s, e = m.span()
        if s == e and e == last_end:
            pos = s + 1
            continue
        spans.append((s, e))
        last_end = pos = e
    return spans


def pattern_to_dict(pattern: str | Regex) -> dict:
    if isinstance(pattern, Regex):
        return {"Regex": pattern.pattern}
    return {"String": pattern}


def pattern_from_dict(d: Any, path: str) -> str | Regex:
    """``{"String": s}`` -> ``s``; ``{"Regex": r}`` -> ``Regex(r)``."""
    if not isinstance(d, dict) or len(d) != 1 or next(iter(d)) not in ("String", "Regex"):
        raise TokenizerFormatError(f"{path}: expected {{\"String\": ...}} or {{\"Regex\": ...}}, "
                                   f"got {d!r:.60}")
    (kind, value), = d.items()
    expect(value, str, f"{path}.{kind}")
    return Regex(value) if kind == "Regex" else value
