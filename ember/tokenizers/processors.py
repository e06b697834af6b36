"""Post-processors: add special tokens, set type ids, merge pairs (HF
``tokenizers.processors``).

``PostProcessor.process`` follows HF: each sequence gets its sequence id and type id (0 for the
first, 1 for the pair), ``process_encodings`` adds what the processor adds (to every overflowing
window too), and the results are merged, so a pair's overflowing windows are combined pairwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .encoding import Encoding
from .serialization import Registry, TokenizerFormatError, expect, fields

__all__ = ["POST_PROCESSORS", "BertProcessing", "ByteLevel", "PostProcessor",
           "RobertaProcessing", "Sequence", "SpecialToken", "TemplateProcessing",
           "default_process", "process_offsets"]

POST_PROCESSORS = Registry("post_processor")


class PostProcessor:
    """Base class."""

    type_name = ""

    def added_tokens(self, is_pair: bool) -> int:
        """How many special tokens ``process`` adds for one sequence or a pair."""
        raise NotImplementedError

    def num_special_tokens_to_add(self, is_pair: bool) -> int:
        return self.added_tokens(is_pair)

    def process(self, encoding: Encoding, pair: Encoding | None = None,
                add_special_tokens: bool = True) -> Encoding:
        """One merged encoding for ``encoding`` (+ ``pair``); the inputs are not modified."""
        encodings = [encoding.copy()] + ([pair.copy()] if pair is not None else [])
        for i, e in enumerate(encodings):
            e.set_sequence_id(i)
            for o in e.overflowing:
                o.set_sequence_id(i)
            # subtle: HF resets the type ids of the sequences but not of their overflowing
            # windows, which keep the type id the tokenizer gave them (0, or 1 for a pair).
            e.type_ids = [i] * len(e)
        return Encoding.merge(self.process_encodings(encodings, add_special_tokens))

    def process_encodings(self, encodings: list[Encoding],
                          add_special_tokens: bool) -> list[Encoding]:
        """Process the sequences (1 or 2, each with overflowing windows) before merging."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict, path: str) -> PostProcessor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()


def default_process(encoding: Encoding, pair: Encoding | None,
                    add_special_tokens: bool = True) -> Encoding:
    """What a tokenizer without post-processor does: mark sequence ids, merge the pair."""
    if pair is None:
        return encoding.copy()
    first, second = encoding.copy(), pair.copy()
    first.set_sequence_id(0)
    second.set_sequence_id(1)
    first.merge_with(second)
    return first


# ---------------------------------------------------------------------------- offset trimming
# Rust's char::is_whitespace (Unicode White_Space); Python's str.isspace also accepts
# U+001C..U+001F, which HF does not trim.
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                        "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_BYTE_LEVEL_SPACE = "\u0120"  # "Ġ", the byte-level alphabet's stand-in for b" "


_SPACE_CHARS = _BYTE_LEVEL_SPACE + "".join(sorted(_WHITESPACE))
_SPACE_SET = frozenset(_SPACE_CHARS)


def process_offsets(encoding: Encoding, add_prefix_space: bool) -> None:
    """Trim the (byte-level) spaces at either end of each token from its offsets, in place.

    Example: token "Ġworld" at (5, 11) -> (6, 11). The first token keeps a single leading space
    when ``add_prefix_space`` (the pre-tokenizer added it, so it is not in the text)."""
    spaces, chars, offsets = _SPACE_SET, _SPACE_CHARS, encoding.offsets
    for i, token in enumerate(encoding.tokens):
        if not token:
            continue
        if token[0] in spaces:
            rest = token.lstrip(chars)
            lead = len(token) - len(rest)
            if not rest:  # all spaces: trimmed from both ends, as HF counts it
                trail = lead
            else:
                trail = len(rest) - len(rest.rstrip(chars)) if rest[-1] in spaces else 0
        elif token[-1] in spaces:
            lead, trail = 0, len(token) - len(token.rstrip(chars))
        else:
            continue  # the common case, decided without scanning the token
        start, end = offsets[i]
        if lead:
            # with pre-tokenized input, a later token can also start at offset 0
            if (i == 0 or start == 0) and add_prefix_space and lead == 1:
                lead = 0
            start = start + lead if start + lead < end else end
        if trail and end >= trail:
            end = end - trail if end - trail > start else start
        offsets[i] = (start, end)


def _trim_all(encodings: list[Encoding], add_prefix_space: bool) -> None:
    for e in encodings:
        process_offsets(e, add_prefix_space)
        for o in e.overflowing:
            process_offsets(o, add_prefix_space)


def _surround(e: Encoding, left: list[tuple[str, int]], right: list[tuple[str, int]],
              type_ids: list[int], sequence_id: int) -> Encoding:
    """``left + e + right`` as HF's Bert/Roberta processors build it: the sequence range
    excludes the special tokens, and attention is 1 everywhere."""
    nl, nr, n = len(left), len(right), len(e)
    return Encoding(
        ids=[i for _, i in left] + e.ids + [i for _, i in right],
        type_ids=type_ids,
        tokens=[t for t, _ in left] + e.tokens + [t for t, _ in right],
        words=[None] * nl + e.words + [None] * nr,
        offsets=[(0, 0)] * nl + e.offsets + [(0, 0)] * nr,
        special_tokens_mask=[1] * nl + [0] * n + [1] * nr,
        attention_mask=[1] * (nl + n + nr),
        sequence_ranges={sequence_id: (nl, nl + n)})


def _special_pair(value, path: str) -> tuple[str, int]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not isinstance(value[0], str)
            or isinstance(value[1], bool) or not isinstance(value[1], int)):
        raise TokenizerFormatError(f"{path}: expected [token, id], got {value!r:.60}")
    return value[0], value[1]


def _checked_pair(value, name: str) -> tuple[str, int]:
    try:
        return _special_pair(value, name)
    except TokenizerFormatError:
        raise TypeError(f"{name} must be a (token: str, id: int) tuple, got {value!r:.60}")\
            from None


# ---------------------------------------------------------------------------- Bert / Roberta
@POST_PROCESSORS.register("BertProcessing")
class BertProcessing(PostProcessor):
    """``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` with type ids 0 for A, 1 for B."""

    def __init__(self, sep: tuple[str, int] = ("[SEP]", 102),
                 cls_token: tuple[str, int] = ("[CLS]", 101)):
        self.sep = _checked_pair(sep, "sep")
        self.cls = _checked_pair(cls_token, "cls_token")

    def added_tokens(self, is_pair: bool) -> int:
        return 3 if is_pair else 2

    def process_encodings(self, encodings, add_special_tokens):
        if not add_special_tokens:
            return encodings
        out = []
        for i, e in enumerate(encodings):
            if i == 0:
                def wrap(x):
                    return _surround(x, [self.cls], [self.sep], [0] + x.type_ids + [0], 0)
            else:
                def wrap(x):
                    return _surround(x, [], [self.sep], x.type_ids + [1], 1)
            new = wrap(e)
            new.overflowing = [wrap(o) for o in e.overflowing]
            out.append(new)
        return out

    def to_dict(self) -> dict:
        return {"type": "BertProcessing", "sep": list(self.sep), "cls": list(self.cls)}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> BertProcessing:
        f = fields(d, path, required=("sep", "cls"))
        return cls(_special_pair(f["sep"], f"{path}.sep"), _special_pair(f["cls"], f"{path}.cls"))


@POST_PROCESSORS.register("RobertaProcessing")
class RobertaProcessing(PostProcessor):
    """``<s> A </s>`` and ``<s> A </s> </s> B </s>``, all type ids 0; optionally trims the
    byte-level spaces from the offsets (like the ByteLevel post-processor)."""

    def __init__(self, sep: tuple[str, int] = ("</s>", 2),
                 cls_token: tuple[str, int] = ("<s>", 0), trim_offsets: bool = True,
                 add_prefix_space: bool = True):
        self.sep = _checked_pair(sep, "sep")
        self.cls = _checked_pair(cls_token, "cls_token")
        self.trim_offsets = bool(trim_offsets)
        self.add_prefix_space = bool(add_prefix_space)

    def added_tokens(self, is_pair: bool) -> int:
        return 4 if is_pair else 2

    def process_encodings(self, encodings, add_special_tokens):
        if self.trim_offsets:
            _trim_all(encodings, self.add_prefix_space)
        for e in encodings:  # overflowing windows keep theirs unless special tokens are added
            e.type_ids = [0] * len(e)
        if not add_special_tokens:
            return encodings
        out = []
        for i, e in enumerate(encodings):
            left, seq = ([self.cls], 0) if i == 0 else ([self.sep], 1)

            def wrap(x, left=left, seq=seq):
                return _surround(x, left, [self.sep], [0] * (len(x) + 2), seq)
            new = wrap(e)
            new.overflowing = [wrap(o) for o in e.overflowing]
            out.append(new)
        return out

    def to_dict(self) -> dict:
        return {"type": "RobertaProcessing", "sep": list(self.sep), "cls": list(self.cls),
                "trim_offsets": self.trim_offsets, "add_prefix_space": self.add_prefix_space}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> RobertaProcessing:
        f = fields(d, path, required=("sep", "cls", "trim_offsets", "add_prefix_space"))
        return cls(_special_pair(f["sep"], f"{path}.sep"), _special_pair(f["cls"], f"{path}.cls"),
                   trim_offsets=expect(f["trim_offsets"], bool, f"{path}.trim_offsets"),
                   add_prefix_space=expect(f["add_prefix_space"], bool,
                                           f"{path}.add_prefix_space"))


@POST_PROCESSORS.register("ByteLevel")
class ByteLevel(PostProcessor):
    """Adds nothing; trims the byte-level spaces (``Ġ``) from the offsets when ``trim_offsets``.
    ``use_regex`` only matters to the pre-tokenizer and is kept for the JSON."""

    def __init__(self, add_prefix_space: bool | None = None, trim_offsets: bool | None = None,
                 use_regex: bool | None = None):
        # None means the default (True), as in HF's signature
        self.add_prefix_space = add_prefix_space is None or bool(add_prefix_space)
        self.trim_offsets = trim_offsets is None or bool(trim_offsets)
        self.use_regex = use_regex is None or bool(use_regex)

    def added_tokens(self, is_pair: bool) -> int:
        return 0

    def process_encodings(self, encodings, add_special_tokens):
        if self.trim_offsets:
            _trim_all(encodings, self.add_prefix_space)
        for i, e in enumerate(encodings):
            e.set_sequence_id(i)
        return encodings

    def to_dict(self) -> dict:
        return {"type": "ByteLevel", "add_prefix_space": self.add_prefix_space,
                "trim_offsets": self.trim_offsets, "use_regex": self.use_regex}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> ByteLevel:
        f = fields(d, path, required=("add_prefix_space", "trim_offsets"),
                   optional={"use_regex": True})
        return cls(**{k: expect(v, bool, f"{path}.{k}") for k, v in f.items()})


@POST_PROCESSORS.register("Sequence")
class Sequence(PostProcessor):
    """Runs several post-processors one after the other."""

    def __init__(self, processors: list[PostProcessor]):
        self.processors = list(processors)

    def added_tokens(self, is_pair: bool) -> int:
        return sum(p.added_tokens(is_pair) for p in self.processors)

    def process_encodings(self, encodings, add_special_tokens):
        for p in self.processors:
            encodings = p.process_encodings(encodings, add_special_tokens)
        return encodings

    def to_dict(self) -> dict:
        return {"type": "Sequence", "processors": [p.to_dict() for p in self.processors]}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Sequence:
        items = expect(fields(d, path, required=("processors",))["processors"], list,
                       f"{path}.processors")
        out = []
        for i, p in enumerate(items):
            if p is None:
                raise TokenizerFormatError(f"{path}.processors[{i}]: null is not a processor")
            out.append(POST_PROCESSORS.from_dict(p, f"{path}.processors[{i}]"))
        return cls(out)


# ---------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class SpecialToken:
    """A template's special token: ``id`` names it in the template; it adds ``ids``/``tokens``
    (usually one of each)."""

    id: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "ids": list(self.ids), "tokens": list(self.tokens)}


@dataclass(frozen=True)
class Piece:
    """One template item: a sequence ("A" or "B") or a special token, with its type id."""

    kind: str  # "Sequence" | "SpecialToken"
    id: str
    type_id: int = 0

    def to_dict(self) -> dict:
        return {self.kind: {"id": self.id, "type_id": self.type_id}}


_U32 = re.compile(r"\+?[0-9]+")


def _parse_u32(s: str) -> int | None:
    # Rust's u32::from_str: ASCII digits with an optional '+'
    if not _U32.fullmatch(s):
        return None
    v = int(s)
    return v if v < 1 << 32 else None


def _parse_piece(s: str) -> Piece:
    """``"$A"``, ``"$B:1"``, ``"$1"`` (sequence A, type id 1), ``"[CLS]"``, ``"[SEP]:1"``."""
    err = ValueError(f'Cannot build Piece from string "{s}"')
    parts = s.split(":")
    if len(parts) > 2:
        raise err
    name = parts[0]
    if name.startswith("$"):
        rest = name[1:]
        if rest in ("", "A", "a"):
            piece = Piece("Sequence", "A")
        elif rest in ("B", "b"):
            piece = Piece("Sequence", "B")
        else:
            tid = _parse_u32(rest)
            if tid is None:
                raise err
            piece = Piece("Sequence", "A", tid)
    else:
        piece = Piece("SpecialToken", name)
    if len(parts) == 2:
        tid = _parse_u32(parts[1])
        if tid is None:
            raise err
        piece = Piece(piece.kind, piece.id, tid)
    return piece


def _template(value, name: str) -> list[Piece]:
    if isinstance(value, str):
        value = value.split(" ")  # HF splits on single spaces: "a  b" has an empty piece
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a string or a list of strings, got {value!r:.60}")
    return [p if isinstance(p, Piece) else _parse_piece(expect(p, str, name)) for p in value]


def _special_token(value) -> SpecialToken:
    if isinstance(value, SpecialToken):
        return value
    if isinstance(value, dict):
        for k in ("id", "ids", "tokens"):
            if k not in value:
                raise ValueError(f"`{k}` must be specified")
        tok = SpecialToken(value["id"], tuple(value["ids"]), tuple(value["tokens"]))
        if len(tok.ids) != len(tok.tokens):
            raise ValueError("SpecialToken: ids and tokens must be of the same length")
        return tok
    if isinstance(value, (list, tuple)) and len(value) == 2:
        a, b = value
        if isinstance(a, int) and isinstance(b, str):
            a, b = b, a
        if isinstance(a, str) and isinstance(b, int) and not isinstance(b, bool):
            return SpecialToken(a, (b,), (a,))
    raise ValueError(f"Expected (str, int), (int, str) or a dict with id/ids/tokens for a "
                     f"special token, got {value!r:.60}")


@POST_PROCESSORS.register("TemplateProcessing")
class TemplateProcessing(PostProcessor):
    """Builds the output from a template per case, e.g. single ``"[CLS] $A [SEP]"`` and pair
    ``"[CLS] $A [SEP] $B:1 [SEP]:1"`` (``$A``/``$B`` are the sequences, ``:n`` the type id).

    Example: single "[CLS] $0 [SEP]" on tokens ["hi"] -> ["[CLS]", "hi", "[SEP]"], types 0 0 0.
    """

    def __init__(self, single: str | list[str] | None = None,
                 pair: str | list[str] | None = None, special_tokens: list | None = None):
        self.single = _template("$0" if single is None else single, "single")
        self.pair = _template("$A:0 $B:1" if pair is None else pair, "pair")
        self.special_tokens: dict[str, SpecialToken] = {}
        for t in special_tokens or []:
            tok = _special_token(t)
            self.special_tokens[tok.id] = tok
        seqs = {p.id for p in self.pair if p.kind == "Sequence"}
        if seqs != {"A", "B"}:
            raise ValueError("Template for `pair` must use both sequences")
        missing = dict.fromkeys(p.id for p in self.single + self.pair
                                if p.kind == "SpecialToken" and p.id not in self.special_tokens)
        if missing:
            raise ValueError(f"Missing SpecialToken(s) with id(s) `{', '.join(missing)}`")

    def added_tokens(self, is_pair: bool) -> int:
        # ids of special tokens the template names; unknown names count 0, as in HF
        return sum(len(self.special_tokens[p.id].ids) if p.id in self.special_tokens else 0
                   for p in (self.pair if is_pair else self.single) if p.kind == "SpecialToken")

    def process_encodings(self, encodings, add_special_tokens):
        if len(encodings) not in (1, 2):
            raise ValueError("encodings vector length must be either 1 or 2")
        out = []
        for p in self.pair if len(encodings) == 2 else self.single:
            if p.kind == "Sequence":
                i = 0 if p.id == "A" else 1
                if i >= len(encodings):
                    raise ValueError("Template expected a pair sequence, but none provided")
                e = encodings[i]
                e.type_ids = [p.type_id] * len(e)
                e.set_sequence_id(i)
                out.append(e.copy())  # its overflowing windows get combined by the merge
            elif add_special_tokens:
                tok = self.special_tokens.get(p.id)
                if tok is None:
                    raise ValueError(f"Missing SpecialToken with id {p.id}")
                n = len(tok.ids)
                out.append(Encoding(ids=list(tok.ids), type_ids=[p.type_id] * n,
                                    tokens=list(tok.tokens), words=[None] * n,
                                    offsets=[(0, 0)] * n, special_tokens_mask=[1] * n,
                                    attention_mask=[1] * n))
        return out

    def to_dict(self) -> dict:
        return {"type": "TemplateProcessing", "single": [p.to_dict() for p in self.single],
                "pair": [p.to_dict() for p in self.pair],
                "special_tokens": {k: self.special_tokens[k].to_dict()
                                   for k in sorted(self.special_tokens)}}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> TemplateProcessing:
        # Like HF, the JSON form is not validated against missing special tokens: those only
        # fail when a template needs them.
        f = fields(d, path, required=("single", "pair", "special_tokens"))
        self = cls.__new__(cls)
        self.single = [_piece_from_dict(p, f"{path}.single[{i}]")
                       for i, p in enumerate(expect(f["single"], list, f"{path}.single"))]
        self.pair = [_piece_from_dict(p, f"{path}.pair[{i}]")
                     for i, p in enumerate(expect(f["pair"], list, f"{path}.pair"))]
        self.special_tokens = {}
        for k, v in expect(f["special_tokens"], dict, f"{path}.special_tokens").items():
            p = f"{path}.special_tokens.{k}"
            t = fields(expect(v, dict, p), p, required=("id", "ids", "tokens"))
            ids = expect(t["ids"], list, f"{p}.ids")
            tokens = expect(t["tokens"], list, f"{p}.tokens")
            for j, x in enumerate(ids):
                expect(x, int, f"{p}.ids[{j}]")
            for j, x in enumerate(tokens):
                expect(x, str, f"{p}.tokens[{j}]")
            if len(ids) != len(tokens):
                raise TokenizerFormatError(f"{p}: ids and tokens must be of the same length")
            self.special_tokens[k] = SpecialToken(expect(t["id"], str, f"{p}.id"), tuple(ids),
                                                  tuple(tokens))
        return self


def _piece_from_dict(d, path: str) -> Piece:
    if not isinstance(d, dict) or len(d) != 1 or next(iter(d)) not in ("Sequence",
                                                                        "SpecialToken"):
        raise TokenizerFormatError(f"{path}: expected {{\"Sequence\": ...}} or "
                                   f"{{\"SpecialToken\": ...}}, got {d!r:.60}")
    kind, body = next(iter(d.items()))
    p = f"{path}.{kind}"
    f = fields(expect(body, dict, p), p, required=("id", "type_id"))
    pid = expect(f["id"], str, f"{p}.id")
    if kind == "Sequence" and pid not in ("A", "B"):
        raise TokenizerFormatError(f"{p}.id: expected \"A\" or \"B\", got {pid!r}")
    tid = expect(f["type_id"], int, f"{p}.type_id")
    if tid < 0:
        raise TokenizerFormatError(f"{p}.type_id: must be non-negative, got {tid}")
    return Piece(kind, pid, tid)
