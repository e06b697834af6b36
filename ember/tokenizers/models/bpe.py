"""Byte-Pair Encoding (HF ``tokenizers.models.BPE``).

A word starts as one symbol per char and merges the adjacent pair with the lowest merge rank,
leftmost first, until no pair has a merge. Example with merges ``[("a", "b"), ("ab", "c")]``:
"abcab" -> a b c a b -> ab c a b -> ab c ab -> abc ab (rank 0 everywhere before rank 1).
"""
from __future__ import annotations

import heapq
import json
import os

from ..serialization import TokenizerFormatError, expect, fields
from ._vocab import (DEFAULT_CACHE_CAPACITY, WordCache, byte_spans_to_chars, check_vocab,
                     dump_compact_json, ordered_vocab, output_path)
from .base import MODELS, Model

__all__ = ["BPE"]

# Words with more symbols than this merge through a heap instead of rescanning all pairs.
_HEAP_THRESHOLD = 48

# Sorts after every real (rank, new_id) merge entry.
_NO_MERGE = (1 << 62, -1)

# Settings whose change invalidates cached words.
_CONFIG = frozenset({"dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                     "fuse_unk", "byte_fallback", "ignore_merges"})


def _parse_merges(merges, path: str) -> list[tuple[str, str]]:
    """Merges as ``[(a, b), ...]`` from pairs or the older ``"a b"`` strings."""
    out = []
    for i, m in enumerate(merges):
        if isinstance(m, str):
            parts = m.split(" ")
            if len(parts) != 2:
                raise TokenizerFormatError(f"{path}[{i}]: merge {m!r} is not two tokens "
                                           f"separated by one space")
            out.append((parts[0], parts[1]))
        elif isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(x, str) for x in m):
            out.append((m[0], m[1]))
        else:
            raise TokenizerFormatError(f"{path}[{i}]: expected a pair of strings or an "
                                       f"\"a b\" string, got {m!r:.60}")
    return out


@MODELS.register("BPE")
class BPE(Model):
    """Byte-Pair Encoding with HF's options: ``unk_token`` (optionally fused), subword
    prefix/suffix, ``byte_fallback`` to ``<0xXX>`` tokens, BPE-dropout and ``ignore_merges``."""

    def __init__(self, vocab: dict[str, int] | None = None,
                 merges: list[tuple[str, str]] | None = None, cache_capacity: int | None = None,
                 dropout: float | None = None, unk_token: str | None = None,
                 continuing_subword_prefix: str | None = None,
                 end_of_word_suffix: str | None = None, fuse_unk: bool | None = None,
                 byte_fallback: bool = False, ignore_merges: bool = False):
        if dropout is not None and not 0.0 <= dropout <= 1.0:
            raise ValueError("BPE: dropout should be between 0 and 1, inclusive")
        self._cache = None  # set for real below; __setattr__ clears it on config changes
        self.dropout = dropout
        self.unk_token = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix
        self.end_of_word_suffix = end_of_word_suffix
        self.fuse_unk = bool(fuse_unk)
        self.byte_fallback = bool(byte_fallback)
        self.ignore_merges = bool(ignore_merges)
        self.generator = None  # BPE-dropout draws from ember's default generator unless set
        capacity = DEFAULT_CACHE_CAPACITY if cache_capacity is None else cache_capacity
        self._cache = WordCache(capacity) if capacity > 0 else None
        self._set_vocab_and_merges(dict(vocab or {}), list(merges or []))

    def __setattr__(self, name, value) -> None:
        object.__setattr__(self, name, value)
        if name in _CONFIG and self._cache:
            self._cache.clear()

    def _set_vocab_and_merges(self, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
        """Install a vocab and ranked merges; each merge's result must be in the vocab."""
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}
        # Like HF, the prefix is cut from the second token by its length, whether or not the
        # token starts with it.
        cut = len((self.continuing_subword_prefix or "").encode("utf-8"))
        table: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, (a, b) in enumerate(merges):
            ids = []
            for tok in (a, b):
                if tok not in vocab:
                    raise ValueError(f"BPE: merge token {tok!r} is not in the vocabulary")
                ids.append(vocab[tok])
            raw = b.encode("utf-8")
            try:
                new = a + raw[cut:].decode("utf-8") if len(raw) >= cut else None
            except UnicodeDecodeError:  # the cut falls inside a char (HF panics)
                new = None
            if new is None:
                raise ValueError(f"BPE: cannot cut the continuing subword prefix from merge "
                                 f"token {b!r}")
            if new not in vocab:
                raise ValueError(f"BPE: merge result {new!r} is not in the vocabulary")
            table[(ids[0], ids[1])] = (rank, vocab[new])  # a repeated pair keeps its last rank
        self._merges = table
        self.clear_cache()

    def _load_trained(self, vocab: dict[str, int],
                      merges: list[tuple[tuple[int, int], int]]) -> None:
        """Install what a trainer learned: ``merges`` as ``((left_id, right_id), new_id)`` in
        rank order (a repeated pair keeps its last rank, as in HF)."""
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}
        self._merges = {pair: (rank, new) for rank, (pair, new) in enumerate(merges)}
        self.clear_cache()

    # ---------------------------------------------------------------- construction helpers
    @staticmethod
    def read_file(vocab: str, merges: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """Read a vocab.json and a merges.txt (``#version`` lines are skipped)."""
        with open(vocab, encoding="utf-8") as f:
            v = json.load(f)
        if not isinstance(v, dict):
            raise ValueError(f"{vocab}: expected a JSON object of token -> id")
        v = {k: i for k, i in v.items() if isinstance(i, int)}
        with open(merges, encoding="utf-8") as f:
            lines = [ln.rstrip("\r\n") for ln in f.read().split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        lines = [ln for ln in lines if not ln.startswith("#version")]
        m = []
        for n, line in enumerate(lines, 1):
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(f"{merges}: line {n} is not two tokens separated by a space")
            m.append((parts[0], parts[1]))
        return v, m

    @classmethod
    def from_file(cls, vocab: str, merges: str, **kwargs) -> BPE:
        """``BPE.from_file("vocab.json", "merges.txt", unk_token=...)``."""
        v, m = cls.read_file(vocab, merges)
        return cls(v, m, **kwargs)

    # ---------------------------------------------------------------- vocabulary
    def get_trainer(self):
        from ..trainers import BpeTrainer
        return BpeTrainer()

    def clear_cache(self) -> None:
        if self._cache is not None:
            self._cache.clear()

    def resize_cache(self, capacity: int) -> None:
        self._cache = WordCache(capacity) if capacity > 0 else None

    # ---------------------------------------------------------------- tokenizing
    def tokenize(self, sequence: str) -> list[tuple]:
        """``[(id, token, (start, end)), ...]`` for one word, offsets in chars of it."""
        if not sequence:
            return []
        if self.dropout:  # None and 0.0 are exact (and cached)
            return self._tokenize(sequence, self.dropout)
        if self.ignore_merges:
            tid = self.vocab.get(sequence)
            if tid is not None:
                return [(tid, sequence, (0, len(sequence)))]
        cache = self._cache
        if cache is not None:
            hit = cache.get(sequence)
            if hit is not None:
                return list(hit)
            tokens = self._tokenize(sequence, None)
            cache.put(sequence, tokens)
            return list(tokens)
        return self._tokenize(sequence, None)

    def _tokenize(self, word: str, dropout: float | None) -> list[tuple]:
        vocab_r = self.vocab_r
        if self.continuing_subword_prefix is None and self.end_of_word_suffix is None:
            ids = list(map(self.vocab.get, word))
            if None not in ids:
                # Common case: every char is a token, spans are the tokens' lengths.
                ids = self._merge_ids(ids, dropout)
                out = []
                pos = 0
                for i in ids:
                    tok = vocab_r[i]
                    end = pos + len(tok)
                    out.append((i, tok, (pos, end)))
                    pos = end
                return out
        ids, lens = self._initial_symbols(word)
        ids, lens = self._merge(ids, lens, dropout)
        spans = []
        pos = 0
        for n in lens:
            spans.append((pos, pos + n))
            pos += n
        if not word.isascii():  # lengths are in bytes here: convert as HF does
            spans = byte_spans_to_chars(word, spans)
        return [(i, vocab_r[i], span) for i, span in zip(ids, spans)]

    def _initial_symbols(self, word: str) -> tuple[list[int], list[int]]:
        """One symbol per char (with prefix/suffix), unknown chars as ``<0xXX>`` bytes or the
        (fused) unk token. Lengths are in UTF-8 bytes, as HF counts them."""
        vocab = self.vocab
        prefix, suffix = self.continuing_subword_prefix, self.end_of_word_suffix
        ids: list[int] = []
        lens: list[int] = []
        unk = None  # pending [unk_id, byte_len]
        last = len(word) - 1
        for i, c in enumerate(word):
            s = c
            if i and prefix is not None:
                s = prefix + s
            if i == last and suffix is not None:
                s = s + suffix
            n = len(c.encode("utf-8"))
            tid = vocab.get(s)
            if tid is not None:
                if unk is not None:
                    ids.append(unk[0])
                    lens.append(unk[1])
                    unk = None
                ids.append(tid)
                lens.append(n)
                continue
            if self.byte_fallback:
                byte_ids = [vocab.get(f"<0x{b:02X}>") for b in s.encode("utf-8")]
                if None not in byte_ids:
                    # HF appends these without flushing a pending unk, so it may follow them.
                    ids.extend(byte_ids)
                    lens.extend([1] * len(byte_ids))
                    continue
            if self.unk_token is None:
                continue  # HF drops the char
            if unk is not None and self.fuse_unk:
                unk[1] += n
                continue
            if unk is not None:
                ids.append(unk[0])
                lens.append(unk[1])
            unk_id = vocab.get(self.unk_token)
            if unk_id is None:
                raise ValueError(f"Unk token `{self.unk_token}` not found in the vocabulary")
            unk = [unk_id, n]
        if unk is not None:
            ids.append(unk[0])
            lens.append(unk[1])
        return ids, lens

    def _merge_ids(self, ids: list[int], dropout: float | None) -> list[int]:
        """Merge a word given as ids (lengths not tracked)."""
        if dropout or len(ids) > _HEAP_THRESHOLD:
            return self._merge_heap(ids, [1] * len(ids), dropout)[0]
        return self._merge(ids, None, None)[0]

    def _merge(self, ids: list[int], lens: list[int] | None,
               dropout: float | None) -> tuple[list[int], list[int] | None]:
        """Repeatedly merge the lowest-ranked pair, leftmost first (exactly HF's heap order).
        ``pairs[i]`` is the (rank, new_id) of ids[i], ids[i+1]; a merge only changes the
        two pairs around it."""
        if dropout or len(ids) > _HEAP_THRESHOLD:
            return self._merge_heap(ids, lens if lens is not None else [1] * len(ids), dropout)
        get = self._merges.get
        pairs = [get(p, _NO_MERGE) for p in zip(ids, ids[1:])]
        while pairs:
            best = min(pairs)
            if best is _NO_MERGE:
                break
            i = pairs.index(best)
            new = best[1]
            ids[i:i + 2] = (new,)
            if lens is not None:
                lens[i:i + 2] = (lens[i] + lens[i + 1],)
            del pairs[i]
            if i < len(pairs):
                pairs[i] = get((new, ids[i + 1]), _NO_MERGE)
            if i:
                pairs[i - 1] = get((ids[i - 1], new), _NO_MERGE)
        return ids, lens

    def _merge_heap(self, ids: list[int], lens: list[int],
                    dropout: float | None) -> tuple[list[int], list[int]]:
        """HF's merge loop: a heap of (rank, position) over a linked list of symbols; with
        dropout each popped merge is skipped with that probability (skipped ones come back
        after the next merge that is not skipped)."""
        merges = self._merges
        n = len(ids)
        c = list(ids)
        ln = list(lens)
        nxt = list(range(1, n)) + [-1]
        prv = list(range(-1, n - 1))
        queue = []
        for i in range(n - 1):
            m = merges.get((c[i], c[i + 1]))
            if m is not None:
                queue.append((m[0], i, m[1]))
        heapq.heapify(queue)
        rng = None
        if dropout:
            gen = self.generator
            if gen is None:
                from ...autograd.random import default_generator as gen
            rng = gen.rng
        skipped: list = []
        while queue:
            top = heapq.heappop(queue)
            if rng is not None and rng.random() < dropout:
                skipped.append(top)
                continue
            for s in skipped:
                heapq.heappush(queue, s)
            skipped.clear()
            _, pos, new_id = top
            if ln[pos] == 0 or nxt[pos] == -1:
                continue
            right = nxt[pos]
            m = merges.get((c[pos], c[right]))
            if m is None or m[1] != new_id:
                continue  # an outdated entry
            c[pos] = new_id
            ln[pos] += ln[right]
            ln[right] = 0
            nxt[pos] = nxt[right]
            if nxt[pos] != -1:
                prv[nxt[pos]] = pos
            p = prv[pos]
            if p >= 0:
                m = merges.get((c[p], new_id))
                if m is not None:
                    heapq.heappush(queue, (m[0], p, m[1]))
            q = nxt[pos]
            if q != -1:
                m = merges.get((new_id, c[q]))
                if m is not None:
                    heapq.heappush(queue, (m[0], pos, m[1]))
        keep = [i for i in range(n) if ln[i]]
        return [c[i] for i in keep], [ln[i] for i in keep]

    # ---------------------------------------------------------------- serialization
    def merges(self) -> list[tuple[str, str]]:
        """The merges in rank order."""
        vr = self.vocab_r
        return [(vr[a], vr[b]) for (a, b), _ in sorted(self._merges.items(),
                                                         key=lambda kv: kv[1][0])]

    def to_dict(self) -> dict:
        return {"type": "BPE", "dropout": self.dropout, "unk_token": self.unk_token,
                "continuing_subword_prefix": self.continuing_subword_prefix,
                "end_of_word_suffix": self.end_of_word_suffix, "fuse_unk": self.fuse_unk,
                "byte_fallback": self.byte_fallback, "ignore_merges": self.ignore_merges,
                "vocab": ordered_vocab(self.vocab_r),
                "merges": [[a, b] for a, b in self.merges()]}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> BPE:
        f = fields(d, path, ("vocab", "merges"), {
            "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": False})
        vocab = check_vocab(f["vocab"], f"{path}.vocab")
        merges = _parse_merges(expect(f["merges"], list, f"{path}.merges"), f"{path}.merges")
        if f["dropout"] is not None:
            expect(f["dropout"], (int, float), f"{path}.dropout")
        for k in ("unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
            if f[k] is not None:
                expect(f[k], str, f"{path}.{k}")
        for k in ("fuse_unk", "byte_fallback", "ignore_merges"):
            expect(f[k], bool, f"{path}.{k}")
        try:
            return cls(vocab, merges, dropout=f["dropout"], unk_token=f["unk_token"],
                       continuing_subword_prefix=f["continuing_subword_prefix"],
                       end_of_word_suffix=f["end_of_word_suffix"], fuse_unk=f["fuse_unk"],
                       byte_fallback=f["byte_fallback"], ignore_merges=f["ignore_merges"])
        except ValueError as e:
            raise TokenizerFormatError(f"{path}: {e}") from None

    def save(self, folder: str, prefix: str | None = None) -> list[str]:
        """Write ``vocab.json`` and ``merges.txt`` (``{prefix}-vocab.json`` ...) like HF."""
        os.makedirs(folder, exist_ok=True)
        vocab_path = output_path(folder, prefix, "vocab.json")
        dump_compact_json(ordered_vocab(self.vocab_r), vocab_path)
        merges_path = output_path(folder, prefix, "merges.txt")
        with open(merges_path, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            f.writelines(f"{a} {b}\n" for a, b in self.merges())
        return [vocab_path, merges_path]

    def __repr__(self) -> str:
        return (f"BPE(vocab_size={len(self.vocab)}, merges={len(self._merges)}, "
                f"unk_token={self.unk_token!r}, dropout={self.dropout})")
