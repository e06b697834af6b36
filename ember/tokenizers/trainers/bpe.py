"""``BpeTrainer``: learns BPE merges from word counts exactly as HF ``tokenizers`` does.

Vocabulary: special tokens, then the alphabet (chars by code point, optionally limited to the
most frequent), then the prefixed/suffixed char forms in order of first appearance, then one
token per merge. Each step merges the pair with the highest count, ties going to the smallest
(left id, right id) pair. Example: counts {"hug": 10, "pug": 5} give merges (u, g) (count 15)
then (h, ug) (10).

HF's own quirks are kept on purpose so the output is identical: pair counts live in a lazy
max-heap whose entries carry the set of words to update; the merged pair's count is never
decremented, so an outdated entry with the same count can merge the pair again in other words
(a repeated merge that keeps its last rank); ``max_token_length`` drops new pairs whose length
would reach it (so tokens stay strictly shorter than it).
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from ..added_vocabulary import AddedToken
from .base import ProgressBar, Trainer, first_chars, progress, special_added_tokens

__all__ = ["BpeTrainer"]

_U64 = 1 << 64


def merge_word(word: list[int], lens: list[int], a: int, b: int, new: int,
               max_length: float) -> list[tuple[tuple[int, int], int]]:
    """Merge every non-overlapping (a, b) in ``word`` left to right, in place; return the pair
    count changes ``[((left, right), +1/-1), ...]`` (HF's ``Word::merge``).

    Example: [h, e, l, l, o] merging (l, l) -> l2 gives [h, e, l2, o] and changes
    [((e, l), -1), ((e, l2), +1), ((l, o), -1), ((l2, o), +1)].
    """
    changes = []
    i = 0
    while True:
        n = len(word)
        try:
            i = word.index(a, i, n - 1)  # a pair needs a right neighbour
        except ValueError:
            return changes
        if word[i + 1] != b:
            i += 1
            continue
        size = lens[i] + lens[i + 1]
        if i:
            prev = word[i - 1]
            changes.append(((prev, a), -1))
            if lens[i - 1] + size < max_length:
                changes.append(((prev, new), 1))
        word[i:i + 2] = (new,)
        lens[i:i + 2] = (size,)
        if i < n - 2:
            nxt = word[i + 1]
            changes.append(((b, nxt), -1))
            if lens[i + 1] + size < max_length:
                changes.append(((new, nxt), 1))
        i += 1


class BpeTrainer(Trainer):
    """Trains a ``BPE`` model (HF ``tokenizers.trainers.BpeTrainer``)."""

    def __init__(self, vocab_size: int = 30000, min_frequency: int = 0,
                 show_progress: bool = True, special_tokens: Iterable[str | AddedToken] = (),
                 limit_alphabet: int | None = None, initial_alphabet: Iterable[str] = (),
                 continuing_subword_prefix: str | None = None,
                 end_of_word_suffix: str | None = None, max_token_length: int | None = None):
        super().__init__()
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.show_progress = show_progress
        self.special_tokens = special_added_tokens(special_tokens)
        self.limit_alphabet = limit_alphabet
        self.initial_alphabet = first_chars(initial_alphabet)
        self.continuing_subword_prefix = continuing_subword_prefix
        self.end_of_word_suffix = end_of_word_suffix
        self.max_token_length = max_token_length

    # ---------------------------------------------------------------- vocabulary set-up
    def _initial_vocab(self, counts: dict[str, int]) -> tuple[dict[str, int], list[str]]:
        """Special tokens, then the (limited) alphabet sorted by code point."""
        w2id: dict[str, int] = {}
        id2w: list[str] = []

        def add(tok: str) -> None:
            if tok not in w2id:
                w2id[tok] = len(id2w)
                id2w.append(tok)

        for t in self.special_tokens:
            add(t.content)
        freq: Counter[str] = Counter()
        for word, n in counts.items():
            for c in word:
                freq[c] += n
        for c in self.initial_alphabet:
            freq[c] = _U64 - 1  # always kept (unless the limit is below the initial alphabet)
        kept = list(freq)
        if self.limit_alphabet is not None and len(kept) > self.limit_alphabet:
            # HF drops the rarest chars; it breaks ties arbitrarily, we drop lower code points
            kept.sort(key=lambda c: (freq[c], c))
            kept = kept[len(kept) - self.limit_alphabet:]
        for c in sorted(kept):
            add(c)
        return w2id, id2w

    def _split_words(self, counts: dict[str, int], w2id: dict[str, int],
                     id2w: list[str]) -> tuple[list[list[int]], list[int]]:
        """Each word as alphabet ids (unknown chars dropped), adding the prefixed/suffixed
        forms to the vocabulary as they first appear."""
        prefix, suffix = self.continuing_subword_prefix, self.end_of_word_suffix
        words, freqs = [], []
        for word, n in progress(counts.items(), self.show_progress, "Tokenize words",
                                len(counts)):
            ids = []
            last = len(word) - 1
            for i, c in enumerate(word):
                if c not in w2id:
                    continue
                s = c
                if i and prefix is not None:
                    s = prefix + s
                if i == last and suffix is not None:
                    s = s + suffix
                tid = w2id.get(s)
                if tid is None:
                    tid = w2id[s] = len(id2w)
                    id2w.append(s)
                ids.append(tid)
            words.append(ids)
            freqs.append(n)
        return words, freqs

    # ---------------------------------------------------------------- training
    def train(self, model) -> list[AddedToken]:
        """Learn merges from the fed word counts and install them in ``model`` (a BPE)."""
        vocab, merges = self.learn(self.words)
        model.continuing_subword_prefix = self.continuing_subword_prefix
        model.end_of_word_suffix = self.end_of_word_suffix
        model._load_trained(vocab, merges)
        return list(self.special_tokens)

    def learn(self, counts: dict[str, int]) -> tuple[dict[str, int], list]:
        """``(vocab, [((left_id, right_id), new_id), ...])`` learned from ``counts``."""
        w2id, id2w = self._initial_vocab(counts)
        words, freqs = self._split_words(counts, w2id, id2w)
        max_length = self.max_token_length if self.max_token_length is not None else float("inf")
        lens = [[1] * len(w) for w in words]

        pair_counts: dict[tuple[int, int], int] = {}
        where: dict[tuple[int, int], set[int]] = {}
        for wi, w in enumerate(words):
            n = freqs[wi]
            for pair in zip(w, w[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + n
                s = where.get(pair)
                if s is None:
                    where[pair] = {wi}
                else:
                    s.add(wi)
        # Max-heap on (count, smallest pair first); seq keeps heapq off the sets.
        queue = []
        seq = 0
        for pair, pos in where.items():
            c = pair_counts[pair]
            if c > 0:
                queue.append((-c, pair, seq, pos))
                seq += 1
        heapq.heapify(queue)

        merges: list = []
        prefix = self.continuing_subword_prefix
        bar = ProgressBar(self.show_progress, "Compute merges", max(0, self.vocab_size - len(w2id)))
        while len(w2id) < self.vocab_size and queue:
            neg, pair, _, pos = heapq.heappop(queue)
            current = pair_counts[pair]
            if current < 0:
                current += _U64  # HF reads the (i32) count as u64
            if -neg != current:
                heapq.heappush(queue, (-current, pair, seq, pos))
                seq += 1
                continue
            if current < 1 or self.min_frequency > current:
                break
            a, b = id2w[pair[0]], id2w[pair[1]]
            if prefix is not None and b.startswith(prefix):
                b = b[len(prefix):]
            token = a + b
            new = w2id.get(token)
            if new is None:
                new = w2id[token] = len(id2w)
                id2w.append(token)
            merges.append((pair, new))
            bar.update()

            touched: dict[tuple[int, int], set[int]] = {}
            for wi in pos:
                n = freqs[wi]
                for p, change in merge_word(words[wi], lens[wi], pair[0], pair[1], new,
                                            max_length):
                    pair_counts[p] = pair_counts.get(p, 0) + change * n
                    if change > 0:
                        s = touched.get(p)
                        if s is None:
                            touched[p] = {wi}
                        else:
                            s.add(wi)
            for p, ps in touched.items():
                c = pair_counts[p]
                if c > 0:
                    heapq.heappush(queue, (-c, p, seq, ps))
                    seq += 1
        bar.close()
        return w2id, merges
