"""``UnigramTrainer``: SentencePiece's unigram training as HF ``tokenizers`` implements it.

1. Seed pieces: every char, plus the repeated substrings of the distinct words (suffix-tree
   nodes, up to ``max_piece_length`` chars), scored by frequency x length, as log-probs.
2. EM: the E step sums each piece's expected count over all words (forward-backward), the
   M step drops pieces expected less than 0.5 times and rescores the rest with a digamma
   (a sparse Dirichlet prior). ``n_sub_iterations`` rounds, then
3. prune: keep the pieces whose removal would cost the most likelihood, ``shrinking_factor`` of
   them per round, until at most 1.1 x ``vocab_size`` remain, then
4. finalize: special tokens, every char, and the best pieces up to ``vocab_size``.

The arithmetic follows HF's code operation by operation. HF itself is not deterministic: it
visits words (and required chars) in hash order, so its float sums differ in the last bits from
run to run, which can flip near-ties; this trainer visits words in first-seen order.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from ..added_vocabulary import AddedToken
from .base import ProgressBar, Trainer, first_chars, special_added_tokens
from .lattice import Lattice, PieceTable, marginal, substrings
from .suffix import repeated_substrings

__all__ = ["UnigramTrainer", "digamma"]

_TRAINING_UNK = "<UNK>"  # the unk piece used while training, whatever ``unk_token`` is
_SCORE_PENALTY_DELTA = 0.0001


def digamma(x: float) -> float:
    """The digamma function (asymptotic series after shifting x above 7)."""
    result = 0.0
    while x < 7.0:
        result -= 1.0 / x
        x += 1.0
    x -= 1.0 / 2.0
    xx = 1.0 / x
    xx2 = xx * xx
    xx4 = xx2 * xx2
    result += (math.log(x) + (1.0 / 24.0) * xx2 - 7.0 / 960.0 * xx4
               + (31.0 / 8064.0) * xx4 * xx2 - (127.0 / 30720.0) * xx4 * xx4)
    return result


def _ln(x: float) -> float:
    """Rust's ``f64::ln`` (no exception at 0 or below)."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _seq_sum(values: Iterable[float]) -> float:
    """Left-to-right float sum (``sum`` may compensate rounding on newer Pythons)."""
    total = 0.0
    for v in values:
        total += v
    return total


class UnigramTrainer(Trainer):
    """Trains a ``Unigram`` model (HF ``tokenizers.trainers.UnigramTrainer``)."""

    def __init__(self, vocab_size: int = 8000, show_progress: bool = True,
                 special_tokens: Iterable[str | AddedToken] = (),
                 initial_alphabet: Iterable[str] = (), shrinking_factor: float = 0.75,
                 unk_token: str | None = None, max_piece_length: int = 16,
                 n_sub_iterations: int = 2, seed_size: int = 1_000_000):
        super().__init__()
        self.vocab_size = vocab_size
        self.show_progress = show_progress
        self.special_tokens = special_added_tokens(special_tokens)
        self.initial_alphabet = first_chars(initial_alphabet)
        self.shrinking_factor = shrinking_factor
        self.unk_token = unk_token
        self.max_piece_length = max_piece_length
        self.n_sub_iterations = n_sub_iterations
        self.seed_size = seed_size

    # ---------------------------------------------------------------- training
    def train(self, model) -> list[AddedToken]:
        """Train on the fed word counts and install the result in ``model`` (a Unigram)."""
        pieces, unk_id = self.learn(list(self.words.items()))
        model.byte_fallback = False  # HF's trained model starts without byte fallback
        model._set_vocab(pieces, unk_id)
        return list(self.special_tokens)

    def learn(self, sentences: list[tuple[str, int]]) -> tuple[list[tuple[str, float]],
                                                                 int | None]:
        """``(pieces, unk_id)`` learned from ``[(word, count), ...]``."""
        required = self.required_chars(sentences)
        if len(required) > self.vocab_size:
            raise ValueError("The vocabulary is not large enough to contain all chars")
        pieces = [(_TRAINING_UNK, math.nan)] + self.seed_pieces(sentences)
        # Training only removes pieces: find each word's candidate substrings once.
        universe = {p: u for u, (p, _) in enumerate(pieces)}
        max_len = max(len(p) for p in universe)
        rows = [substrings(w, universe, max_len) for w, _ in sentences]
        desired = self.vocab_size * 11 // 10
        loops = int((math.log(desired) - math.log(len(pieces))) /
                    math.log(self.shrinking_factor)) + 1 if len(pieces) > desired else 1
        bar = ProgressBar(self.show_progress, "EM training", loops * self.n_sub_iterations)
        table = PieceTable(pieces, universe)
        while True:
            for _ in range(self.n_sub_iterations):
                expected = self.e_step(table, sentences, rows)
                pieces = self.m_step(pieces, expected)
                table = PieceTable(pieces, universe)
                bar.update()
            if len(pieces) <= desired:
                break
            pieces = self.prune(table, pieces, sentences, rows)
            table = PieceTable(pieces, universe)
        bar.close()
        return self.finalize(table, required)

    def required_chars(self, sentences: list[tuple[str, int]]) -> list[str]:
        """Every char of the words and of ``initial_alphabet`` (HF: a hash set; here sorted)."""
        chars = {c for w, _ in sentences for c in w}
        chars.update(self.initial_alphabet)
        return sorted(chars)

    def seed_pieces(self, sentences: list[tuple[str, int]]) -> list[tuple[str, float]]:
        """Chars by decreasing count, then repeated substrings by decreasing frequency x length
        (ties: larger string first), as log-probabilities."""
        char_counts: dict[str, int] = {}
        for w, n in sentences:
            for c in w:
                if c != "\0":
                    char_counts[c] = char_counts.get(c, 0) + n
        flat = "".join(w + "\0" for w, _ in sentences)
        start, length, freq = repeated_substrings(flat)
        keep = (length > 1) & (length <= self.max_piece_length)
        start, length, freq = start[keep], length[keep], freq[keep]
        # drop substrings that cross a word boundary (contain the "\0" separator)
        zeros = [0]
        for c in flat:
            zeros.append(zeros[-1] + (c == "\0"))
        substrings = []
        for s, k, f in zip(start.tolist(), length.tolist(), freq.tolist()):
            if zeros[s + k] == zeros[s]:
                substrings.append((f * k, flat[s:s + k]))
        seeds = [(c, float(n)) for n, c in sorted(((n, c) for c, n in char_counts.items()),
                                                  reverse=True)]
        substrings.sort(reverse=True)
        for score, s in substrings:
            seeds.append((s, float(score)))
            if len(seeds) >= self.seed_size:
                break
        log_total = _ln(_seq_sum(s for _, s in seeds))
        return [(p, _ln(s) - log_total) for p, s in seeds]

    @staticmethod
    def e_step(table: PieceTable, sentences: list[tuple[str, int]],
               rows: list[list[list[tuple]]]) -> list[float]:
        """Expected count of every piece over the words (``rows``: their substrings)."""
        expected = [0.0] * len(table.pieces)
        for (_, n), word_rows in zip(sentences, rows):
            if math.isnan(marginal(word_rows, table, float(n), expected)):
                raise ValueError("likelihood is NAN. Input sentence may be too long.")
        return expected

    @staticmethod
    def m_step(pieces: list[tuple[str, float]], expected: list[float]) -> list[tuple[str, float]]:
        """Drop pieces expected < 0.5 times; rescore the others digamma(count) - digamma(sum)."""
        kept = [(pieces[0][0], math.nan)]  # the unk piece stays
        total = 0.0
        for (piece, _), f in zip(pieces[1:], expected[1:]):
            if f < 0.5:
                continue
            kept.append((piece, f))
            total += f
        log_total = digamma(total)
        return [(p, digamma(c) - log_total) for p, c in kept]

    def prune(self, table: PieceTable, pieces: list[tuple[str, float]],
              sentences: list[tuple[str, int]],
              rows: list[list[list[tuple]]]) -> list[tuple[str, float]]:
        """Keep the pieces whose removal loses the most likelihood (SentencePiece's
        approximation: a removed piece's count moves to its second-best segmentation)."""
        n_pieces = len(pieces)
        bos, eos = n_pieces + 1, n_pieces + 2
        always_keep = [True] * n_pieces
        alternatives: list[list[int]] = [[] for _ in range(n_pieces)]
        always_keep[0] = False
        universe = table.universe
        max_len = max(len(p) for p in universe)
        for i in range(1, n_pieces):
            token = pieces[i][0]
            if len(token) == 1:
                continue  # one node, one path: kept, no alternative
            best = Lattice(substrings(token, universe, max_len), table, bos, eos).nbest(2)
            if len(best) == 1:
                always_keep[i] = True
            elif len(best[0]) >= 2:
                always_keep[i] = False
            elif len(best[0]) == 1:
                always_keep[i] = True
                alternatives[i] = best[1]

        vsum = 0.0
        freq = [0.0] * n_pieces
        inverted: list[list[int]] = [[] for _ in range(n_pieces)]
        for si, (_, n) in enumerate(sentences):
            vsum += n
            for tid in Lattice(rows[si], table, bos, eos).viterbi():
                freq[tid] += n
                inverted[tid].append(si)

        total = _seq_sum(freq)
        log_total = _ln(total)
        kept = [pieces[0]]
        candidates = []
        for i in range(1, n_pieces):
            if freq[i] == 0.0 and not always_keep[i]:
                continue  # not on any best path: safe to drop
            if not alternatives[i]:
                kept.append(pieces[i])  # no alternative segmentation: keep
                continue
            f = _seq_sum(float(sentences[si][1]) for si in inverted[i])
            if f == 0.0 or math.isnan(f):
                continue
            f /= vsum
            logprob_sp = _ln(freq[i]) - log_total
            # subtle: HF multiplies by the number of pieces minus one here (SentencePiece uses
            # the number of alternatives); kept for identical results
            log_total_alt = _ln(total + freq[i] * (n_pieces - 1))
            logprob_alt = 0.0
            for alt in alternatives[i]:
                logprob_alt += _ln(freq[alt] + freq[i]) - log_total_alt
            candidates.append((i, f * (logprob_sp - logprob_alt)))
        desired = self.vocab_size * 11 // 10
        target = max(desired, int(n_pieces * self.shrinking_factor))
        candidates.sort(key=lambda c: -c[1])  # stable: equal losses keep id order
        for i, _ in candidates:
            if len(kept) == target:  # subtle: never true if the kept pieces already exceed it
                break
            kept.append(pieces[i])
        return kept

    def finalize(self, table: PieceTable, required: list[str]) -> tuple[list[tuple[str, float]],
                                                                          int | None]:
        """Special tokens first, then every required char and the best pieces, by score."""
        existing = dict(table.pieces)
        inserted = {_TRAINING_UNK}
        out: list[tuple[str, float]] = []
        penalty = 0.0
        for c in required:
            inserted.add(c)
            if c in existing:
                out.append((c, existing[c]))
            else:
                out.append((c, table.min_score + penalty))
                penalty += _SCORE_PENALTY_DELTA
        specials = [(t.content, 0.0) for t in self.special_tokens]
        unk_id, add_unk = None, False
        if self.unk_token is not None:
            unk_id = next((i for i, t in enumerate(self.special_tokens)
                           if t.content == self.unk_token), None)
            if unk_id is None:
                unk_id, add_unk = 0, True
        budget = self.vocab_size - len(specials) - (1 if add_unk else 0)
        for piece, score in table.pieces:
            if piece in inserted:
                continue
            inserted.add(piece)
            out.append((piece, 0.0 if math.isnan(score) else score))
            if len(out) == budget:
                break
        out.sort(key=lambda ps: -ps[1])  # stable
        if add_unk:
            specials.insert(0, (self.unk_token, 0.0))
        return specials + out, unk_id
