"""Decoders: turn tokens back into text (HF ``tokenizers.decoders``).

Each decoder maps a list of tokens to a list of text pieces (``decode_chain``), so decoders can
be chained by ``Sequence``; ``decode`` joins the pieces.
"""
from __future__ import annotations

import re

import regex

from .serialization import Registry, TokenizerFormatError, expect, fields
from .unicode_tables import UNICODE_TO_BYTES

__all__ = ["BPEDecoder", "ByteFallback", "ByteLevel", "CTC", "DECODERS", "Decoder", "Fuse",
           "Metaspace", "Replace", "Sequence", "Strip", "WordPiece",
           "clean_up_tokenization"]

DECODERS = Registry("decoder")


class Decoder:
    """Base class: ``decode_chain`` maps tokens to text pieces; ``decode`` joins them."""

    type_name = ""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        raise NotImplementedError

    def decode(self, tokens: list[str]) -> str:
        return "".join(self.decode_chain(list(tokens)))

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Decoder:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()


def _char(value: str, name: str) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ValueError(f"{name}: expected a string of length 1, got {value!r:.60}")
    return value


def _bools(d: dict, path: str, names: tuple, optional: dict | None = None) -> dict:
    f = fields(d, path, required=names, optional=optional)
    return {k: expect(v, bool, f"{path}.{k}") for k, v in f.items()}


# ---------------------------------------------------------------------------- clean-up
def clean_up_tokenization(text: str) -> str:
    """Remove the spaces a word-level join leaves before punctuation and English contractions,
    exactly as ``transformers.PreTrainedTokenizerBase.clean_up_tokenization``.

    Example: "Hello , world ! I do n't" -> "Hello, world! I don't"."""
    return (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m")
            .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re"))


def _wordpiece_cleanup(text: str) -> str:
    # HF tokenizers' own variant (used by WordPiece and CTC): also turns " do not" into
    # " don't", in the middle of the list.
    return (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m")
            .replace(" do not", " don't").replace(" 's", "'s").replace(" 've", "'ve")
            .replace(" 're", "'re"))


# ---------------------------------------------------------------------------- byte level
_CHAR_TO_BYTE = UNICODE_TO_BYTES  # GPT-2's printable stand-in for each byte, reversed


@DECODERS.register("ByteLevel")
class ByteLevel(Decoder):
    """Maps the byte-level alphabet back to bytes and decodes them as UTF-8 (invalid sequences
    become U+FFFD). A token with a character outside the alphabet is kept as its own UTF-8.
    The options only matter to the pre-tokenizer/post-processor; they are kept for the JSON.

    Example: ["Hello", "Ġworld"] -> ["Hello world"]."""

    def __init__(self, add_prefix_space: bool = True, trim_offsets: bool = True,
                 use_regex: bool = True):
        self.add_prefix_space = bool(add_prefix_space)
        self.trim_offsets = bool(trim_offsets)
        self.use_regex = bool(use_regex)

    def decode_chain(self, tokens):
        out = bytearray()
        for t in tokens:
            try:
                out.extend(_CHAR_TO_BYTE[c] for c in t)
            except KeyError:
                out.extend(t.encode("utf-8"))
        # Python's "replace" emits one U+FFFD per maximal invalid subpart, like Rust's
        # String::from_utf8_lossy.
        return [out.decode("utf-8", errors="replace")]

    def to_dict(self):
        return {"type": "ByteLevel", "add_prefix_space": self.add_prefix_space,
                "trim_offsets": self.trim_offsets, "use_regex": self.use_regex}

    @classmethod
    def from_dict(cls, d, path):
        return cls(**_bools(d, path, ("add_prefix_space", "trim_offsets"), {"use_regex": True}))


_BYTE_TOKEN = re.compile(r"\+?[0-9a-fA-F]{1,2}")


@DECODERS.register("ByteFallback")
class ByteFallback(Decoder):
    """Turns runs of byte tokens like ``<0x61>`` back into text; a run that is not valid UTF-8
    gives one U+FFFD per byte token.

    Example: ["<0xE5>", "<0x8F>", "<0xAB>", "a"] -> ["叫", "a"]."""

    def decode_chain(self, tokens):
        out: list[str] = []
        run = bytearray()

        def flush():
            if run:
                try:
                    out.append(run.decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend("\ufffd" * len(run))
                run.clear()

        for t in tokens:
            raw = t.encode("utf-8")
            # HF checks the UTF-8 length (6) and parses bytes 3..5 as u8 hex (a '+' is allowed)
            hexpart = raw[3:5].decode("utf-8", errors="replace") if len(raw) == 6 else ""
            if t.startswith("<0x") and t.endswith(">") and _BYTE_TOKEN.fullmatch(hexpart):
                run.append(int(hexpart, 16))
            else:
                flush()
                out.append(t)
        flush()
        return out

    def to_dict(self):
        return {"type": "ByteFallback"}

    @classmethod
    def from_dict(cls, d, path):
        fields(d, path)
        return cls()


# ---------------------------------------------------------------------------- word pieces
@DECODERS.register("WordPiece")
class WordPiece(Decoder):
    """Joins word pieces: a token starting with ``prefix`` continues the previous word, any
    other token after the first gets a leading space; ``cleanup`` removes spaces before
    punctuation (per token).

    Example: ["un", "##aff", "##able", "!"] -> "unaffable!" (with cleanup)."""

    def __init__(self, prefix: str = "##", cleanup: bool = True):
        self.prefix = expect(prefix, str, "prefix")
        self.cleanup = bool(cleanup)

    def decode_chain(self, tokens):
        out = []
        for i, t in enumerate(tokens):
            if i:
                t = t.replace(self.prefix, "", 1) if t.startswith(self.prefix) else " " + t
            out.append(_wordpiece_cleanup(t) if self.cleanup else t)
        return out

    def to_dict(self):
        return {"type": "WordPiece", "prefix": self.prefix, "cleanup": self.cleanup}

    @classmethod
    def from_dict(cls, d, path):
        f = fields(d, path, required=("prefix", "cleanup"))
        return cls(expect(f["prefix"], str, f"{path}.prefix"),
                   expect(f["cleanup"], bool, f"{path}.cleanup"))


@DECODERS.register("BPEDecoder")
class BPEDecoder(Decoder):
    """Original BPE: the end-of-word ``suffix`` becomes a space (nothing on the last token).

    Example: ["hel", "lo</w>", "there</w>"] -> "hello there"."""

    def __init__(self, suffix: str = "</w>"):
        self.suffix = expect(suffix, str, "suffix")

    def decode_chain(self, tokens):
        last = len(tokens) - 1
        return [t.replace(self.suffix, "" if i == last else " ") for i, t in enumerate(tokens)]

    def to_dict(self):
        return {"type": "BPEDecoder", "suffix": self.suffix}

    @classmethod
    def from_dict(cls, d, path):
        return cls(expect(fields(d, path, required=("suffix",))["suffix"], str, f"{path}.suffix"))


_PREPEND_SCHEMES = ("always", "never", "first")


@DECODERS.register("Metaspace")
class Metaspace(Decoder):
    """SentencePiece-style: ``replacement`` (``▁``) becomes a space, except in the first token
    where it is dropped (the pre-tokenizer added it) unless ``prepend_scheme="never"``.

    Example: ["▁Hey", "▁friend"] -> "Hey friend"."""

    def __init__(self, replacement: str = "\u2581", prepend_scheme: str = "always",
                 split: bool = True):
        self.replacement = _char(replacement, "replacement")
        if prepend_scheme not in _PREPEND_SCHEMES:
            raise ValueError(f"{prepend_scheme} is an unknown variant, should be one of "
                             f"['first', 'never', 'always']")
        self.prepend_scheme = prepend_scheme
        self.split = bool(split)

    def decode_chain(self, tokens):
        r = self.replacement
        out = []
        for i, t in enumerate(tokens):
            # subtle: HF drops every replacement char of the first token, not only the first
            out.append(t.replace(r, "" if i == 0 and self.prepend_scheme != "never" else " "))
        return out

    def to_dict(self):
        return {"type": "Metaspace", "replacement": self.replacement,
                "prepend_scheme": self.prepend_scheme, "split": self.split}

    @classmethod
    def from_dict(cls, d, path):
        # add_prefix_space and str_rep are the pre-0.19 fields, still accepted by HF
        f = fields(d, path, required=("replacement",),
                   optional={"prepend_scheme": "always", "split": True,
                             "add_prefix_space": None, "str_rep": None})
        try:
            replacement = _char(f["replacement"], f"{path}.replacement")
        except ValueError as e:
            raise TokenizerFormatError(str(e)) from None
        scheme = f["prepend_scheme"]
        if scheme not in _PREPEND_SCHEMES:
            raise TokenizerFormatError(f"{path}.prepend_scheme: expected one of "
                                       f"{', '.join(_PREPEND_SCHEMES)}, got {scheme!r:.60}")
        aps = f["add_prefix_space"]
        if aps is not None:
            expect(aps, bool, f"{path}.add_prefix_space")
            if not aps and scheme != "never":
                raise TokenizerFormatError(f"{path}: add_prefix_space=false contradicts "
                                           f"prepend_scheme={scheme!r}")
        if f["str_rep"] is not None:
            expect(f["str_rep"], str, f"{path}.str_rep")
        return cls(replacement, scheme, expect(f["split"], bool, f"{path}.split"))


# ---------------------------------------------------------------------------- string edits
@DECODERS.register("Fuse")
class Fuse(Decoder):
    """Joins all tokens into one piece (so later decoders see a single string)."""

    def decode_chain(self, tokens):
        return ["".join(tokens)]

    def to_dict(self):
        return {"type": "Fuse"}

    @classmethod
    def from_dict(cls, d, path):
        fields(d, path)
        return cls()


@DECODERS.register("Strip")
class Strip(Decoder):
    """Removes up to ``left`` leading and ``right`` trailing ``content`` characters of each
    token (JSON fields ``start``/``stop``).

    Example: Strip(" ", 1, 0) on [" Hello", " there"] -> ["Hello", "there"]."""

    def __init__(self, content: str = " ", left: int = 0, right: int = 0):
        self.content = _char(content, "content")
        self.left, self.right = int(left), int(right)

    def decode_chain(self, tokens):
        c, out = self.content, []
        for t in tokens:
            start = 0
            while start < min(self.left, len(t)) and t[start] == c:
                start += 1
            stop = len(t)
            for i in range(self.right):
                k = len(t) - i - 1
                if k < 0:
                    # HF indexes out of bounds here (a panic); refuse rather than guess
                    raise ValueError(f"Strip: cannot strip {self.right} chars from {t!r}")
                if t[k] != c:
                    break
                stop = k
            if start > stop:
                raise ValueError(f"Strip: the left and right cuts of {t!r} overlap")
            out.append(t[start:stop])
        return out

    def to_dict(self):
        return {"type": "Strip", "content": self.content, "start": self.left, "stop": self.right}

    @classmethod
    def from_dict(cls, d, path):
        f = fields(d, path, required=("content", "start", "stop"))
        try:
            content = _char(f["content"], f"{path}.content")
        except ValueError as e:
            raise TokenizerFormatError(str(e)) from None
        for k in ("start", "stop"):
            if expect(f[k], int, f"{path}.{k}") < 0:
                raise TokenizerFormatError(f"{path}.{k}: must be non-negative")
        return cls(content, f["start"], f["stop"])


@DECODERS.register("Replace")
class Replace(Decoder):
    """Replaces ``pattern`` by ``content`` in each token. ``pattern`` is a literal string, or a
    regex given as any object with a ``.pattern`` string (``regex.compile(...)``,
    ``re.compile(...)``, a ``Regex`` wrapper).

    Example: Replace("▁", " ") on ["▁Hey", "▁there"] -> [" Hey", " there"]."""

    def __init__(self, pattern, content: str):
        if isinstance(pattern, str):
            self.pattern, self.is_regex = pattern, False
        elif isinstance(getattr(pattern, "pattern", None), str):
            self.pattern, self.is_regex = pattern.pattern, True
        else:
            raise TypeError(f"pattern must be a str or a compiled regex, got {pattern!r:.60}")
        self.content = expect(content, str, "content")
        self._re = regex.compile(self.pattern if self.is_regex else regex.escape(self.pattern))

    def _replace(self, text: str) -> str:
        # HF's regex iteration (onig find_iter): an empty match right where the previous match
        # ended is skipped, so "a*" on "banana" gives "-b-n-n-" (Python's re.sub gives an extra
        # "-" at the end); an empty token stays empty.
        out, done, pos, last_end = [], 0, 0, None
        while pos <= len(text):
            m = self._re.search(text, pos)
            if m is None:
                break
            s, e = m.span()
            if s == e and s == last_end:
                pos += 1
                continue
            out += [text[done:s], self.content]
            done = pos = last_end = e
        return "".join(out) + text[done:]

    def decode_chain(self, tokens):
        return [self._replace(t) if t else t for t in tokens]

    def to_dict(self):
        return {"type": "Replace", "pattern": {"Regex" if self.is_regex else "String":
                                               self.pattern}, "content": self.content}

    @classmethod
    def from_dict(cls, d, path):
        f = fields(d, path, required=("pattern", "content"))
        p = f["pattern"]
        if not isinstance(p, dict) or len(p) != 1 or next(iter(p)) not in ("String", "Regex"):
            raise TokenizerFormatError(f"{path}.pattern: expected {{\"String\": s}} or "
                                       f"{{\"Regex\": r}}, got {p!r:.60}")
        kind, value = next(iter(p.items()))
        expect(value, str, f"{path}.pattern.{kind}")
        content = expect(f["content"], str, f"{path}.content")
        if kind == "String":
            return cls(value, content)
        try:
            return cls(regex.compile(value), content)
        except regex.error as e:
            raise TokenizerFormatError(f"{path}.pattern.Regex: invalid regex {value!r}: {e}")\
                from None


@DECODERS.register("CTC")
class CTC(Decoder):
    """Connectionist Temporal Classification output: merges repeated tokens, drops
    ``pad_token``, and with ``cleanup`` turns ``word_delimiter_token`` into spaces.

    Example: ["<pad>", "h", "h", "i", "|", "y", "o"] -> ["h", "i", " ", "y", "o"]."""

    def __init__(self, pad_token: str = "<pad>", word_delimiter_token: str = "|",
                 cleanup: bool = True):
        self.pad_token = expect(pad_token, str, "pad_token")
        self.word_delimiter_token = expect(word_delimiter_token, str, "word_delimiter_token")
        self.cleanup = bool(cleanup)

    def decode_chain(self, tokens):
        out, prev = [], object()
        for t in tokens:
            if t == prev:
                continue
            prev = t
            t = t.replace(self.pad_token, "")
            if self.cleanup:
                t = _wordpiece_cleanup(t).replace(self.word_delimiter_token, " ")
            if t:
                out.append(t)
        return out

    def to_dict(self):
        return {"type": "CTC", "pad_token": self.pad_token,
                "word_delimiter_token": self.word_delimiter_token, "cleanup": self.cleanup}

    @classmethod
    def from_dict(cls, d, path):
        f = fields(d, path, required=("pad_token", "word_delimiter_token", "cleanup"))
        return cls(expect(f["pad_token"], str, f"{path}.pad_token"),
                   expect(f["word_delimiter_token"], str, f"{path}.word_delimiter_token"),
                   expect(f["cleanup"], bool, f"{path}.cleanup"))


@DECODERS.register("Sequence")
class Sequence(Decoder):
    """Chains decoders: each one's pieces are the next one's tokens."""

    def __init__(self, decoders: list[Decoder]):
        self.decoders = list(decoders)

    def decode_chain(self, tokens):
        for d in self.decoders:
            tokens = d.decode_chain(tokens)
        return tokens

    def to_dict(self):
        return {"type": "Sequence", "decoders": [d.to_dict() for d in self.decoders]}

    @classmethod
    def from_dict(cls, d, path):
        items = expect(fields(d, path, required=("decoders",))["decoders"], list,
                       f"{path}.decoders")
        out = []
        for i, x in enumerate(items):
            if x is None:
                raise TokenizerFormatError(f"{path}.decoders[{i}]: null is not a decoder")
            out.append(DECODERS.from_dict(x, f"{path}.decoders[{i}]"))
        return cls(out)
