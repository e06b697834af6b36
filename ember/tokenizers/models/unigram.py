"""Unigram language model (HF ``tokenizers.models.Unigram``, SentencePiece's unigram).

Each piece has a log-probability score; a word is split into the pieces with the highest total
score (Viterbi). Chars without a piece become the unk token, scored ``min_score - 10``, and
consecutive unknowns are fused into one token whose value is the original text. Example with
pieces {"ab": -1, "a": -2, "b": -2}: "abab" -> ab ab (score -2 beats a b a b at -8).
"""
from __future__ import annotations

import json
import math
import os

from ..serialization import TokenizerFormatError, expect, fields
from ._vocab import DEFAULT_CACHE_CAPACITY, WordCache, output_path, serde_json_float
from .base import MODELS, Model

__all__ = ["Unigram"]

UNK_PENALTY = 10.0
_LEAF = ""  # trie key holding (id, score) where a piece ends; never a char


@MODELS.register("Unigram")
class Unigram(Model):
    """Viterbi segmentation over scored pieces, with ``unk_id`` and ``byte_fallback``."""

    def __init__(self, vocab: list[tuple[str, float]] | None = None, unk_id: int | None = None,
                 byte_fallback: bool | None = None, alpha: float | None = None,
                 nbest_size: int | None = None):
        if alpha is not None or nbest_size is not None:
            raise NotImplementedError("Unigram: subword-regularization sampling (alpha, "
                                      "nbest_size) is not implemented")
        if vocab is None:
            vocab, unk_id = [("<unk>", 0.0)], 0
        self._cache = WordCache(DEFAULT_CACHE_CAPACITY)
        self.byte_fallback = bool(byte_fallback)
        self._set_vocab([(str(p), float(s)) for p, s in vocab], unk_id)

    def __setattr__(self, name, value) -> None:
        object.__setattr__(self, name, value)
        if name == "byte_fallback":
            self._cache.clear()

    def _set_vocab(self, vocab: list[tuple[str, float]], unk_id: int | None) -> None:
        if unk_id is not None:
            if not vocab:
                raise ValueError("The vocabulary is empty but at least <unk> is needed")
            if not 0 <= unk_id < len(vocab):
                raise ValueError("The `unk_id` is larger than vocabulary size")
        self.vocab = vocab
        self.unk_id = unk_id
        self.token_to_ids = {p: i for i, (p, _) in enumerate(vocab)}  # a repeat keeps its last id
        # NaN scores are skipped, as HF's `score < min_score` does.
        self.min_score = min((s for _, s in vocab if not math.isnan(s)), default=math.inf)
        trie: dict = {}
        for piece, i in self.token_to_ids.items():
            node = trie
            for ch in piece:
                node = node.setdefault(ch, {})
            node[_LEAF] = (i, vocab[i][1])
        self._trie = trie
        self._cache.clear()

    # ---------------------------------------------------------------- vocabulary
    def token_to_id(self, token: str) -> int | None:
        return self.token_to_ids.get(token)

    def id_to_token(self, id: int) -> str | None:
        return self.vocab[id][0] if 0 <= id < len(self.vocab) else None

    def get_vocab(self) -> dict[str, int]:
        return dict(self.token_to_ids)

    def get_vocab_size(self) -> int:
        return len(self.vocab)

    def get_trainer(self):
        from ..trainers import UnigramTrainer
        return UnigramTrainer()

    def clear_cache(self) -> None:
        self._cache.clear()

    # ---------------------------------------------------------------- tokenizing
    def encode(self, sentence: str) -> list[str]:
        """The best segmentation of ``sentence`` as piece strings (unknowns fused)."""
        if not sentence:
            return []
        n = len(sentence)
        trie = self._trie
        unk_id = self.unk_id
        unk_score = self.min_score - UNK_PENALTY
        # best[i]: score of the best path over sentence[:i]; start[i] = -1 while unreached
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        ids = [0] * (n + 1)
        for s in range(n):
            base = best[s]
            single = False
            node = trie
            i = s
            while i < n:
                node = node.get(sentence[i])
                if node is None:
                    break
                i += 1
                leaf = node.get(_LEAF)
                if leaf is not None:
                    cand = leaf[1] + base
                    # subtle: strict '>' keeps the earliest start (longest piece) on ties
                    if start[i] < 0 or cand > best[i]:
                        best[i] = cand
                        start[i] = s
                        ids[i] = leaf[0]
                    if i == s + 1:
                        single = True
            if not single:
                cand = unk_score + base
                if start[s + 1] < 0 or cand > best[s + 1]:
                    if unk_id is None:
                        raise ValueError("Encountered an unknown token but `unk_id` is missing")
                    best[s + 1] = cand
                    start[s + 1] = s
                    ids[s + 1] = unk_id
        out: list[str] = []
        fused: list[str] = []
        end = n
        while end > 0:
            s = start[end]
            if unk_id is not None and ids[end] == unk_id:
                fused.append(sentence[s:end])
            else:
                if fused:
                    out.append("".join(reversed(fused)))
                    fused = []
                out.append(sentence[s:end])
            end = s
        if fused:
            out.append("".join(reversed(fused)))
        out.reverse()
        return out

    def tokenize(self, sequence: str) -> list[tuple]:
        """``[(id, token, (start, end)), ...]`` for one word, offsets in chars of it."""
        hit = self._cache.get(sequence)
        if hit is not None:
            return list(hit)
        tokens = self._tokenize(sequence)
        self._cache.put(sequence, tokens)
        return list(tokens)

    def _tokenize(self, sequence: str) -> list[tuple]:
        get = self.token_to_ids.get
        out = []
        pos = 0
        for piece in self.encode(sequence):
            end = pos + len(piece)
            tid = get(piece)
            if tid is None:
                if self.byte_fallback:
                    byte_ids = [get(f"<0x{b:02X}>") for b in piece.encode("utf-8")]
                    if None not in byte_ids:
                        # every byte token spans the whole unknown piece, as in HF
                        out.extend((i, f"<0x{b:02X}>", (pos, end))
                                   for i, b in zip(byte_ids, piece.encode("utf-8")))
                        pos = end
                        continue
                if self.unk_id is None:
                    raise ValueError("Encountered an unknown token but `unk_id` is missing")
                tid = self.unk_id
            out.append((tid, piece, (pos, end)))  # an unknown keeps its text as value
            pos = end
        return out

    # ---------------------------------------------------------------- serialization
    def to_dict(self) -> dict:
        return {"type": "Unigram", "unk_id": self.unk_id,
                "vocab": [[p, s] for p, s in self.vocab], "byte_fallback": self.byte_fallback}

    @classmethod
    def from_dict(cls, d: dict, path: str) -> Unigram:
        f = fields(d, path, ("vocab",), {"unk_id": None, "byte_fallback": False})
        vocab = []
        for i, item in enumerate(expect(f["vocab"], list, f"{path}.vocab")):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise TokenizerFormatError(f"{path}.vocab[{i}]: expected [piece, score], got "
                                           f"{item!r:.60}")
            expect(item[1], (int, float), f"{path}.vocab[{i}][1]")
            # scores as HF parses them: they decide ties between segmentations
            vocab.append((item[0], serde_json_float(float(item[1]))))
        if f["unk_id"] is not None:
            expect(f["unk_id"], int, f"{path}.unk_id")
        expect(f["byte_fallback"], bool, f"{path}.byte_fallback")
        try:
            return cls(vocab, f["unk_id"], f["byte_fallback"])
        except ValueError as e:
            raise TokenizerFormatError(f"{path}: {e}") from None

    def save(self, folder: str, prefix: str | None = None) -> list[str]:
        """Write ``unigram.json`` (the model's JSON, pretty-printed) like HF."""
        os.makedirs(folder, exist_ok=True)
        path = output_path(folder, prefix, "unigram.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_dict(), ensure_ascii=False, indent=2))
        return [path]

    def __repr__(self) -> str:
        return f"Unigram(vocab_size={len(self.vocab)}, unk_id={self.unk_id})"
