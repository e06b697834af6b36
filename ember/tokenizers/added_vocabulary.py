"""Added tokens: words added on top of the model's vocabulary (special tokens like ``[CLS]`` and
user additions), found in the input before the model runs, with HF ``tokenizers``' matching rules:
leftmost-longest, ``single_word`` boundaries, ``lstrip``/``rstrip`` whitespace absorption, and
``normalized`` tokens matched in the normalized text."""
from __future__ import annotations

import warnings
from typing import Any

import regex

from .normalized import NormalizedString
from .pre_tokenized import PreTokenizedString
from .serialization import TokenizerFormatError, expect, fields

__all__ = ["AddedToken", "AddedVocabulary"]

# Rust regex's Unicode \w and \s, which HF's boundary checks use
_W = r"[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]"
_STARTS_WITH_WORD = regex.compile("^" + _W)
_ENDS_WITH_WORD = regex.compile(_W + "$")
_SPACE_AT_START = regex.compile(r"^\p{White_Space}*")
_SPACE_AT_END = regex.compile(r"\p{White_Space}*$")


class AddedToken:
    """A token matched literally in the input (``tokenizers.AddedToken``)."""

    __slots__ = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, content: str = "", single_word: bool = False, lstrip: bool = False,
                 rstrip: bool = False, normalized: bool | None = None, special: bool = False):
        self.content = content
        self.single_word = single_word
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = (not special) if normalized is None else normalized
        self.special = special

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            return self.content == other
        return isinstance(other, AddedToken) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __hash__(self) -> int:
        return hash(self.content)

    def __str__(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return (f'AddedToken("{self.content}", rstrip={self.rstrip}, lstrip={self.lstrip}, '
                f'single_word={self.single_word}, normalized={self.normalized}, '
                f'special={self.special})')

    def to_dict(self, id: int | None = None) -> dict:
        d = {} if id is None else {"id": id}
        d.update(content=self.content, single_word=self.single_word, lstrip=self.lstrip,
                 rstrip=self.rstrip, normalized=self.normalized, special=self.special)
        return d

    @classmethod
    def from_dict(cls, d: dict, path: str) -> AddedToken:
        f = fields(d, path, ("content",), {"id": None, "single_word": False, "lstrip": False,
                                          "rstrip": False, "normalized": True, "special": False})
        expect(f["content"], str, f"{path}.content")
        for k in ("single_word", "lstrip", "rstrip", "normalized", "special"):
            expect(f[k], bool, f"{path}.{k}")
        return cls(f["content"], f["single_word"], f["lstrip"], f["rstrip"], f["normalized"],
                   f["special"])


class _Matcher:
    """Leftmost-longest literal matching (what HF's Aho-Corasick trie does)."""

    def __init__(self, patterns: list[tuple[str, int]]):
        self.ids: dict[str, int] = {}
        for text, tid in patterns:
            if text:
                self.ids.setdefault(text, tid)  # duplicates: the first one wins
        alts = sorted(self.ids, key=len, reverse=True)  # longest first = longest at a position
        self.re = regex.compile("|".join(regex.escape(a) for a in alts)) if alts else None


class AddedVocabulary:
    """Added and special tokens with their ids, and the logic that splits them out of the input."""

    def __init__(self):
        self.added_tokens_map: dict[str, int] = {}
        self.added_tokens_map_r: dict[int, AddedToken] = {}
        self.added_tokens: list[AddedToken] = []
        self.special_tokens: list[AddedToken] = []
        self.special_tokens_set: set[str] = set()
        self._plain = _Matcher([])
        self._normalized = _Matcher([])

    def __len__(self) -> int:
        return len(self.added_tokens_map)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.added_tokens_map)

    def token_to_id(self, token: str, model) -> int | None:
        tid = self.added_tokens_map.get(token)
        return model.token_to_id(token) if tid is None else tid

    def id_to_token(self, id: int, model) -> str | None:
        t = self.added_tokens_map_r.get(id)
        if t is None:
            return model.id_to_token(id)
        # HF gives a normalized token's normalized form ("HELLO" -> "hello" under lowercasing)
        return self.__dict__.get("_normalized_content", {}).get(id, t.content)

    def is_special_token(self, token: str) -> bool:
        return token in self.special_tokens_set

    def add_tokens(self, tokens: list, model, normalizer, refresh: bool = True) -> int:
        """Add tokens (AddedToken or str); returns how many were new. Tokens the model already
        knows keep their model id."""
        tokens = [t if isinstance(t, AddedToken) else AddedToken(t) for t in tokens]
        for t in tokens:
            if t.special and t.content and t.content not in self.special_tokens_set:
                self.special_tokens.append(t)
                self.special_tokens_set.add(t.content)
        ignored = 0
        for t in tokens:
            if not t.content or any(v == t for v in self.added_tokens_map_r.values()):
                ignored += 1
                continue
            new_id = self.token_to_id(t.content, model)
            if new_id is None:
                size = model.get_vocab_size()
                top = max(self.added_tokens_map.values(), default=None)
                new_id = size if top is None or (top < size and size != 0) else top + 1
            self.added_tokens_map[t.content] = new_id
            self.added_tokens_map_r[new_id] = t
            if t.content not in self.special_tokens_set:
                self.added_tokens.append(t)
        if refresh:
            self.refresh(model, normalizer)
        return len(tokens) - ignored

    def refresh(self, model, normalizer) -> None:
        """Rebuild the matchers (after tokens or the normalizer changed)."""
        plain, normed = [], []
        normalized_content: dict[int, str] = {}
        for t in self.special_tokens + self.added_tokens:
            tid = self.token_to_id(t.content, model)
            if t.normalized:
                content = t.content
                if normalizer is not None:
                    ns = NormalizedString(content)
                    normalizer.normalize(ns)
                    content = ns.normalized
                normed.append((content, tid))
                normalized_content[tid] = content
            else:
                plain.append((t.content, tid))
        self._plain = _Matcher(plain)
        self._normalized = _Matcher(normed)
        self._normalized_content = normalized_content

    def _find_matches(self, sentence: str, matcher: _Matcher) -> list:
        if not sentence:
            return [(None, (0, 0))]
        if matcher.re is None:
            return [(None, (0, len(sentence)))]
        splits = []
        start_offset = 0
        for m in matcher.re.finditer(sentence):
            start, stop = m.span()
            tid = matcher.ids[m.group()]
            tok = self.added_tokens_map_r[tid]
            if tok.single_word:
                start_space = start == 0 or not _ENDS_WITH_WORD.search(sentence[:start])
                stop_space = stop == len(sentence) or not _STARTS_WITH_WORD.search(
                    sentence[stop:])
                if not (start_space and stop_space):
                    continue
            if tok.lstrip:
                start = max(_SPACE_AT_END.search(sentence[:start]).start(), start_offset)
            if tok.rstrip:
                stop += _SPACE_AT_START.match(sentence[stop:]).end()
            if start_offset < start:
                splits.append((None, (start_offset, start)))
            splits.append((tid, (start, stop)))
            start_offset = stop
        if start_offset != len(sentence):
            splits.append((None, (start_offset, len(sentence))))
        return splits

    def _split(self, ns: NormalizedString, matcher: _Matcher) -> list:
        out = []
        for tid, (s, e) in self._find_matches(ns.normalized, matcher):
            piece = ns.slice(s, e)
            if tid is None:
                out.append(piece)
            else:
                out.append((piece, [(tid, piece.normalized, (0, len(piece.normalized)))]))
        return out

    def extract_and_normalize(self, normalizer, sequence: str) -> PreTokenizedString:
        """Split out non-normalized added tokens from the raw text, normalize the rest, then
        split out normalized added tokens from the normalized pieces."""
        pts = PreTokenizedString(sequence)
        if self._plain.re is not None:
            pts.split(lambda _, ns: self._split(ns, self._plain))

        def normalize_and_split(_, ns):
            if normalizer is not None:
                normalizer.normalize(ns)
            if self._normalized.re is None:
                return [ns]
            return self._split(ns, self._normalized)

        pts.split(normalize_and_split)
        return pts

    # ---------------------------------------------------------------- tokenizer.json
    def to_list(self) -> list[dict]:
        return [self.added_tokens_map_r[i].to_dict(i) for i in sorted(self.added_tokens_map_r)]

    def load(self, items: Any, path: str, model, normalizer) -> None:
        """Restore ``added_tokens`` entries one by one, as HF does; an entry whose stored id
        differs from the one it gets is reported with a warning."""
        expect(items, list, path)
        for i, d in enumerate(items):
            where = f"{path}[{i}]"
            tok = AddedToken.from_dict(expect(d, dict, where), where)
            tid = d.get("id")
            if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
                raise TokenizerFormatError(f"{where}.id: expected a non-negative integer, got "
                                           f"{tid!r}")
            self.add_tokens([tok], model, normalizer, refresh=False)
            got = self.token_to_id(tok.content, model)
            if got != tid:
                warnings.warn(f"Token {tok.content!r} was expected to have ID '{tid}' but was "
                              f"given ID '{got}'", stacklevel=3)
        self.refresh(model, normalizer)
