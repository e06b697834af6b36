"""``PreTokenizedString``: the input split into pieces (each a ``NormalizedString``), some of which
may already carry tokens (added tokens); pre-tokenizers split it further and the model tokenizes
every piece without tokens. ``into_encoding`` then maps every token's offsets back to the original
text. Same semantics as HF ``tokenizers``' ``PreTokenizedString``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .encoding import Encoding
from .normalized import NormalizedString

__all__ = ["PreTokenizedString", "Token"]

# A token: (id, value, (start, end)) with offsets in the piece's normalized chars.
Token = tuple


class PreTokenizedString:
    """Pieces of one input sequence; ``splits`` is a list of ``[NormalizedString, tokens|None]``."""

    __slots__ = ("original", "splits")

    def __init__(self, text: str | NormalizedString):
        ns = text if isinstance(text, NormalizedString) else NormalizedString(text)
        self.original = ns.original
        self.splits: list[list] = [[ns, None]]

    def split(self, fn: Callable[[int, NormalizedString], Iterable]) -> None:
        """Replace each untokenized piece by ``fn(index, piece)``'s pieces (NormalizedStrings,
        or ``(NormalizedString, tokens)`` pairs); empty pieces are dropped."""
        new: list[list] = []
        for i, (ns, tokens) in enumerate(self.splits):
            if tokens is not None:
                new.append([ns, tokens])
                continue
            for piece in fn(i, ns):
                if isinstance(piece, NormalizedString):
                    if piece.normalized:
                        new.append([piece, None])
                else:
                    p, t = piece
                    if p.normalized:
                        new.append([p, t])
        self.splits = new

    def normalize(self, fn: Callable[[NormalizedString], None]) -> None:
        for ns, tokens in self.splits:
            if tokens is None:
                fn(ns)

    def tokenize(self, fn: Callable[[str], list]) -> None:
        """Give every untokenized piece the tokens ``fn(normalized_text)`` returns."""
        for split in self.splits:
            if split[1] is None:
                split[1] = fn(split[0].normalized)

    def get_splits(self, offset_referential: str = "original") -> list:
        """``(normalized text, (start, end), tokens)`` per piece, offsets in the original text
        or, with ``offset_referential="normalized"``, in the concatenated normalized pieces."""
        out = []
        pos = 0
        for ns, tokens in self.splits:
            if offset_referential == "original":
                offsets = ns.offsets_original()
            else:
                offsets = (pos, pos + len(ns.normalized))
                pos += len(ns.normalized)
            out.append((ns.normalized, offsets, tokens))
        return out

    def into_encoding(self, word_idx: int | None = None, type_id: int = 0) -> Encoding:
        """An Encoding of all tokens with original offsets; each piece is one word unless
        ``word_idx`` is given (pre-tokenized input)."""
        ids: list[int] = []
        values: list[str] = []
        offsets: list[tuple[int, int]] = []
        words: list[int | None] = []
        for idx, (ns, tokens) in enumerate(self.splits):
            if tokens is None:
                raise RuntimeError("Split has not been tokenized, call "
                                   "`PreTokenizedString.tokenize` first")
            w = idx if word_idx is None else word_idx
            if len(tokens) == 1:  # most pieces are one token: no inner loop
                tid, value, (s, e) = tokens[0]
                ids.append(tid)
                values.append(value)
                offsets.append((ns.shift + s, ns.shift + e) if ns.align is None
                               else ns.original_span(s, e))
                words.append(w)
                continue
            ids.extend([t[0] for t in tokens])
            values.extend([t[1] for t in tokens])
            if ns.align is None:
                base = ns.shift
                offsets.extend([(base + t[2][0], base + t[2][1]) for t in tokens])
            else:
                span = ns.original_span
                offsets.extend([span(*t[2]) for t in tokens])
            words.extend([w] * len(tokens))
        n = len(ids)
        return Encoding(ids=ids, tokens=values, offsets=offsets, words=words,
                        type_ids=[type_id] * n)
