"""``Encoding``: the output of a tokenizer for one input (or pair), with HF ``tokenizers``'
fields, truncation (with stride and overflowing windows), merging and padding semantics."""
from __future__ import annotations

__all__ = ["Encoding"]

_FIELDS = ("ids", "type_ids", "tokens", "words", "offsets", "special_tokens_mask",
           "attention_mask")


class Encoding:
    """ids, tokens, offsets (char spans in the input), type ids, word ids, masks, overflowing
    windows and the token range of each sequence."""

    __slots__ = (*_FIELDS, "overflowing", "sequence_ranges")

    def __init__(self, ids=None, type_ids=None, tokens=None, words=None, offsets=None,
                 special_tokens_mask=None, attention_mask=None, overflowing=None,
                 sequence_ranges=None):
        self.ids: list[int] = [] if ids is None else ids
        n = len(self.ids)
        self.type_ids: list[int] = [0] * n if type_ids is None else type_ids
        self.tokens: list[str] = [""] * n if tokens is None else tokens
        self.words: list[int | None] = [None] * n if words is None else words
        self.offsets: list[tuple[int, int]] = [(0, 0)] * n if offsets is None else offsets
        self.special_tokens_mask: list[int] = [0] * n if special_tokens_mask is None \
            else special_tokens_mask
        self.attention_mask: list[int] = [1] * n if attention_mask is None else attention_mask
        self.overflowing: list[Encoding] = [] if overflowing is None else overflowing
        self.sequence_ranges: dict[int, tuple[int, int]] = {} if sequence_ranges is None \
            else sequence_ranges

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"Encoding(num_tokens={len(self.ids)}, attributes=[ids, type_ids, tokens, "
                f"offsets, attention_mask, special_tokens_mask, overflowing])")

    def __eq__(self, other) -> bool:
        return isinstance(other, Encoding) and all(
            getattr(self, f) == getattr(other, f) for f in (*_FIELDS, "overflowing",
                                                            "sequence_ranges"))

    @property
    def word_ids(self) -> list[int | None]:
        return self.words

    @property
    def n_sequences(self) -> int:
        return len(self.sequence_ranges) or 1

    def set_sequence_id(self, sequence_id: int) -> None:
        self.sequence_ranges[sequence_id] = (0, len(self.ids))

    def _range(self, sequence_id: int) -> tuple[int, int]:
        return self.sequence_ranges.get(sequence_id, (0, len(self.ids)))

    @property
    def sequence_ids(self) -> list[int | None]:
        out: list[int | None] = [None] * len(self.ids)
        for seq in range(self.n_sequences):
            s, e = self._range(seq)
            out[s:e] = [seq] * (e - s)
        return out

    def copy(self) -> Encoding:
        return Encoding(*(list(getattr(self, f)) for f in _FIELDS),
                        overflowing=[o.copy() for o in self.overflowing],
                        sequence_ranges=dict(self.sequence_ranges))

    def _slice(self, start: int, stop: int) -> Encoding:
        return Encoding(*(getattr(self, f)[start:stop] for f in _FIELDS))

    # ---------------------------------------------------------------- mappings
    def token_to_sequence(self, token: int) -> int | None:
        if token > len(self.ids):
            return None
        if not self.sequence_ranges:
            return 0
        for seq, (s, e) in self.sequence_ranges.items():
            if s <= token < e:
                return seq
        return None

    def token_to_chars(self, token: int) -> tuple[int, int] | None:
        if self.token_to_sequence(token) is None or token >= len(self.offsets):
            return None
        return self.offsets[token]

    def token_to_word(self, token: int) -> int | None:
        if self.token_to_sequence(token) is None or token >= len(self.words):
            return None
        return self.words[token]

    def word_to_tokens(self, word: int, sequence_index: int = 0) -> tuple[int, int] | None:
        rs, re_ = self._range(sequence_index)
        start = end = None
        for i, w in enumerate(self.words[rs:re_]):
            if w is not None and w > word:
                break
            if w == word:
                start = i if start is None else min(start, i)
                end = i + 1 if end is None else max(end, i + 1)
        return None if start is None else (rs + start, rs + end)

    def word_to_chars(self, word: int, sequence_index: int = 0) -> tuple[int, int] | None:
        span = self.word_to_tokens(word, sequence_index)
        if span is None or span[1] == 0:
            return None
        return self.offsets[span[0]][0], self.offsets[span[1] - 1][1]

    def char_to_token(self, pos: int, sequence_index: int = 0) -> int | None:
        rs, re_ = self._range(sequence_index)
        for i, (s, e) in enumerate(self.offsets[rs:re_]):
            if s <= pos < e:
                return rs + i
        return None

    def char_to_word(self, pos: int, sequence_index: int = 0) -> int | None:
        tok = self.char_to_token(pos, sequence_index)
        return None if tok is None else self.token_to_word(tok)

    # ---------------------------------------------------------------- truncation / merging
    def truncate(self, max_length: int, stride: int = 0, direction: str = "right") -> None:
        """Keep ``max_length`` tokens; the rest become ``overflowing`` windows that overlap by
        ``stride`` tokens."""
        n = len(self.ids)
        if max_length >= n:
            return
        if max_length == 0:
            moved = self.copy()
            for f in _FIELDS:
                setattr(self, f, [])
            self.sequence_ranges = {}
            self.overflowing = [moved]
            return
        if stride >= max_length:
            raise ValueError(f"stride ({stride}) must be smaller than max_length ({max_length})")
        step = max_length - stride
        parts: list[tuple[int, int]] = []
        if direction == "right":
            for start in range(0, n, step):
                stop = min(start + max_length, n)
                parts.append((start, stop))
                if stop == n:
                    break
        else:
            for last in range(n - 1, -1, -step):
                stop = last + 1
                start = max(stop - max_length, 0)
                parts.append((start, stop))
                if start == 0:
                    break
        first = self._slice(*parts[0])
        first.overflowing = [self._slice(s, e) for s, e in parts[1:]]
        for f in (*_FIELDS, "overflowing"):
            setattr(self, f, getattr(first, f))
        self.sequence_ranges = {}

    def merge_with(self, pair: Encoding, growing_offsets: bool = False) -> None:
        """Append ``pair`` in place (overflowing windows are combined pairwise, as HF does)."""
        overflowing = []
        for mine in self.overflowing:
            o = mine.copy()
            o.merge_with(pair.copy(), growing_offsets)
            overflowing.append(o)
            for theirs in pair.overflowing:
                o = mine.copy()
                o.merge_with(theirs.copy(), growing_offsets)
                overflowing.append(o)
        for theirs in pair.overflowing:
            o = self.copy()
            o.merge_with(theirs.copy(), growing_offsets)
            overflowing.append(o)
        n = len(self.ids)
        for seq, (s, e) in pair.sequence_ranges.items():
            self.sequence_ranges[seq] = (n + s, n + e)
        shift = self.offsets[-1][1] if growing_offsets and self.offsets else 0
        self.ids = self.ids + pair.ids
        self.type_ids = self.type_ids + pair.type_ids
        self.tokens = self.tokens + pair.tokens
        self.words = self.words + pair.words
        self.offsets = self.offsets + ([(s + shift, e + shift) for s, e in pair.offsets]
                                       if shift else pair.offsets)
        self.special_tokens_mask = self.special_tokens_mask + pair.special_tokens_mask
        self.attention_mask = self.attention_mask + pair.attention_mask
        self.overflowing = overflowing

    @staticmethod
    def merge(encodings: list[Encoding], growing_offsets: bool = False) -> Encoding:
        out = Encoding()
        for e in encodings:
            out.merge_with(e, growing_offsets)
        return out

    def pad(self, length: int, pad_id: int = 0, pad_type_id: int = 0, pad_token: str = "[PAD]",
            direction: str = "right") -> None:
        """Pad (this and every overflowing window) up to ``length`` tokens."""
        for o in self.overflowing:
            o.pad(length, pad_id, pad_type_id, pad_token, direction)
        k = length - len(self.ids)
        if k <= 0:
            return
        fill = {"ids": [pad_id] * k, "type_ids": [pad_type_id] * k, "tokens": [pad_token] * k,
                "words": [None] * k, "attention_mask": [0] * k, "special_tokens_mask": [1] * k,
                "offsets": [(0, 0)] * k}
        for f in _FIELDS:
            cur = getattr(self, f)
            setattr(self, f, fill[f] + cur if direction == "left" else cur + fill[f])
        if direction == "left":  # the sequences moved right by k tokens
            self.sequence_ranges = {seq: (s + k, e + k) for seq, (s, e) in
                                    self.sequence_ranges.items()}
