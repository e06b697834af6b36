"""NFD/NFKD/NFC/NFKC as a stream of ``(char, change)`` pairs, the way HF's
``unicode-normalization-alignments`` crate produces them (Unicode 9.0 data), so that
``NormalizedString`` alignments match HF's exactly.

Decomposition: every char is fully decomposed; its first char gets change ``0`` (it replaces
the char), the others ``1`` (insertions). Runs of non-starters are then stably sorted by
combining class, the changes travelling with their chars.
Example: ``"é"`` -> ``[("e", 0), ("\\u0301", 1)]``.

Composition (NFC, NFKC) runs on that stream: when the current starter ``k`` absorbs ``c``, the
composite gets change ``k.change + c.change - 1`` (so ``"e\\u0301"`` -> ``[("é", -1)]``: one
original char removed).
"""
from __future__ import annotations

import unicodedata

from .unicode_tables import assigned_in_unicode_9

__all__ = ["normalize_stream"]

_S_BASE, _L_BASE, _V_BASE, _T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
_L_COUNT, _V_COUNT, _T_COUNT = 19, 21, 28
_N_COUNT = _V_COUNT * _T_COUNT
_S_COUNT = _L_COUNT * _N_COUNT

_CCC: dict[str, int] = {}
_DECOMP: tuple[dict[str, str], dict[str, str]] = ({}, {})  # canonical, compatibility
_COMPOSE: dict[tuple[str, str], str | None] = {}


def _ccc(c: str) -> int:
    v = _CCC.get(c)
    if v is None:
        v = unicodedata.combining(c)
        if v and not assigned_in_unicode_9(c):
            v = 0  # unknown to the crate's tables
        _CCC[c] = v
    return v


def _decompose(c: str, compat: bool) -> str:
    """Full decomposition of ``c`` in mapping order (not reordered)."""
    cache = _DECOMP[compat]
    d = cache.get(c)
    if d is not None:
        return d
    cp = ord(c)
    if _S_BASE <= cp < _S_BASE + _S_COUNT:
        i = cp - _S_BASE
        d = chr(_L_BASE + i // _N_COUNT) + chr(_V_BASE + (i % _N_COUNT) // _T_COUNT)
        if i % _T_COUNT:
            d += chr(_T_BASE + i % _T_COUNT)
    else:
        raw = unicodedata.decomposition(c) if assigned_in_unicode_9(c) else ""
        if raw.startswith("<"):
            raw = raw.split(" ", 1)[1] if compat else ""
        d = "".join(_decompose(chr(int(h, 16)), compat) for h in raw.split()) if raw else c
    cache[c] = d
    return d


def _compose(a: str, b: str) -> str | None:
    key = (a, b)
    if key in _COMPOSE:
        return _COMPOSE[key]
    r = None
    pa, pb = ord(a), ord(b)
    if _L_BASE <= pa < _L_BASE + _L_COUNT and _V_BASE <= pb < _V_BASE + _V_COUNT:
        r = chr(_S_BASE + ((pa - _L_BASE) * _V_COUNT + pb - _V_BASE) * _T_COUNT)
    elif (_S_BASE <= pa < _S_BASE + _S_COUNT and (pa - _S_BASE) % _T_COUNT == 0
          and _T_BASE < pb < _T_BASE + _T_COUNT):
        r = chr(pa + pb - _T_BASE)
    else:
        # a primary composite is NFC-stable and canonically decomposes to exactly (a, b)
        s = unicodedata.normalize("NFC", a + b)
        if (len(s) == 1 and unicodedata.decomposition(s) == f"{pa:04X} {pb:04X}"
                and assigned_in_unicode_9(s)):
            r = s
    _COMPOSE[key] = r
    return r


def _decomposed(text: str, compat: bool) -> list[tuple[str, int]]:
    out: list[tuple[int, str, int]] = []
    pending = 0  # start of the run not yet in canonical order
    for c in text:
        for i, d in enumerate(_decompose(c, compat)):
            cc = _ccc(d)
            if cc == 0:
                if len(out) - pending > 1:
                    out[pending:] = sorted(out[pending:], key=lambda t: t[0])
                pending = len(out)
            out.append((cc, d, 1 if i else 0))
    if len(out) - pending > 1:
        out[pending:] = sorted(out[pending:], key=lambda t: t[0])
    return [(d, change) for _, d, change in out]


def _recomposed(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    buffer: list[tuple[str, int]] = []  # non-starters blocked from or not composing with k
    k: tuple[str, int] | None = None  # the starter being composed ("composee")
    last_ccc: int | None = None
    for ch, change in items:
        cc = _ccc(ch)
        if k is None:
            if cc:
                out.append((ch, change))
            else:
                k = (ch, change)
            continue
        if last_ccc is not None and last_ccc >= cc:  # blocked
            if cc == 0:
                out.append(k)
                out.extend(buffer)
                buffer.clear()
                k, last_ccc = (ch, change), None
            else:
                buffer.append((ch, change))
                last_ccc = cc
            continue
        r = _compose(k[0], ch)
        if r is not None:
            k = (r, k[1] + change - 1)
        elif cc == 0 and last_ccc is None:
            out.append(k)
            k = (ch, change)
        else:
            buffer.append((ch, change))
            last_ccc = cc
    if k is not None:
        out.append(k)
    out.extend(buffer)
    return out


def normalize_stream(text: str, form: str) -> list[tuple[str, int]]:
    """``text`` under ``form`` ("NFD", "NFKD", "NFC", "NFKC") as ``(char, change)`` pairs."""
    items = _decomposed(text, form in ("NFKD", "NFKC"))
    return _recomposed(items) if form in ("NFC", "NFKC") else items
