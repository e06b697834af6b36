"""The segmentation lattice used to train Unigram models (HF ``unigram/lattice.rs``, itself
SentencePiece's): every vocabulary piece found in a word is a node; a segmentation is a path.

``marginal`` runs forward-backward (expected piece counts for EM), ``Lattice.viterbi`` finds the
best path and ``Lattice.nbest`` the n best ones (A* over the Viterbi scores). The float
operations, their order and every tie-break follow HF's code, so scores agree to the last bit.
"""
from __future__ import annotations

import math

__all__ = ["Lattice", "PieceTable", "marginal", "substrings"]

UNK_PENALTY = 10.0


def substrings(word: str, universe: dict[str, int], max_len: int) -> list[list[tuple]]:
    """Per char position of ``word``, the ``(length, uid)`` of every string of ``universe``
    starting there, by increasing length (what HF's trie search finds)."""
    get = universe.get
    rows = []
    n = len(word)
    for p in range(n):
        row = []
        for k in range(1, min(max_len, n - p) + 1):
            u = get(word[p:p + k])
            if u is not None:
                row.append((k, u))
        rows.append(row)
    return rows


class PieceTable:
    """The pieces being trained. Pieces are only ever removed during training, so every one is
    a string of the seed ``universe`` (string -> uid); ``ids[uid]`` is its current id (-1 once
    removed; a repeated piece keeps its last id). Unknown chars score ``min_score - 10``."""

    def __init__(self, pieces: list[tuple[str, float]], universe: dict[str, int],
                 unk_id: int | None = 0):
        self.pieces = pieces
        self.universe = universe
        self.ids = [-1] * len(universe)
        for i, (p, _) in enumerate(pieces):
            self.ids[universe[p]] = i
        self.scores = [s for _, s in pieces]
        self.min_score = min((s for s in self.scores if not math.isnan(s)), default=math.inf)
        self.unk_id = unk_id
        self.unk_score = self.min_score - UNK_PENALTY

    def nodes(self, rows: list[list[tuple]]) -> list[list[tuple[int, int, float]]]:
        """Per position, ``[(length, id, score), ...]``: the current pieces among ``rows``
        (``substrings`` output; pruned in place to the pieces still present), then the unk node
        if no piece is exactly the char there."""
        ids, scores = self.ids, self.scores
        unk = (1, self.unk_id, self.unk_score) if self.unk_id is not None else None
        out = []
        for row in rows:
            nodes = []
            alive = []
            for k, u in row:
                i = ids[u]
                if i >= 0:
                    nodes.append((k, i, scores[i]))
                    alive.append((k, u))
            if len(alive) != len(row):
                row[:] = alive
            if unk is not None and not (nodes and nodes[0][0] == 1):
                nodes.append(unk)
            out.append(nodes)
        return out


def marginal(rows: list[list[tuple]], table: PieceTable, freq: float,
             expected: list[float]) -> float:
    """Add ``freq`` x the posterior count of every node to ``expected`` (forward-backward in
    log space); returns ``freq`` x the log-likelihood of the word whose ``substrings`` are
    ``rows``.

    HF computes a node's forward score once per node, but it only depends on where the node
    starts (and the backward score on where it ends), so it is computed once per position here
    with the same sequence of operations.
    """
    begin = table.nodes(rows)
    n = len(begin)
    ends: list[list] = [[] for _ in range(n + 1)]
    for p, row in enumerate(begin):
        for k, tid, s in row:
            ends[p + k].append((p, tid, s))
    exp, log = math.exp, math.log
    # SentencePiece's log-sum-exp (the smaller term is dropped past e^-50), inlined: this is
    # the hot spot of training
    alpha = [0.0] * (n + 1)  # alpha[0]: from the BOS node (score 0)
    for e in range(1, n + 1):
        row = ends[e]
        first = row[0][1]
        x = 0.0
        for p, tid, s in row:
            y = s + alpha[p]
            if tid == first:  # subtle: HF restarts the sum at any node with the first's id
                x = y
            else:
                lo, hi = (y, x) if x > y else (x, y)
                x = hi if hi > lo + 50.0 else hi + log(exp(lo - hi) + 1.0)
        alpha[e] = x
    beta = [0.0] * (n + 1)  # beta[n]: to the EOS node (score 0)
    for p in range(n - 1, -1, -1):
        row = begin[p]
        first = row[0][1]
        x = 0.0
        for k, tid, s in row:
            y = s + beta[p + k]
            if tid == first:
                x = y
            else:
                lo, hi = (y, x) if x > y else (x, y)
                x = hi if hi > lo + 50.0 else hi + log(exp(lo - hi) + 1.0)
        beta[p] = x
    z = alpha[n]
    for p, row in enumerate(begin):
        a = alpha[p]
        for k, tid, s in row:
            expected[tid] += freq * exp(a + s + beta[p + k] - z)
    return freq * z


class _RustMaxHeap:
    """Rust's ``BinaryHeap`` (same sift order), ordered by ``key``; with HF's hypothesis order
    (never ``Equal``) equal keys pop in the order Rust pops them."""

    def __init__(self):
        self.data: list = []

    def __len__(self) -> int:
        return len(self.data)

    def push(self, item) -> None:
        data = self.data
        data.append(item)
        self._sift_up(0, len(data) - 1)

    def pop(self):
        data = self.data
        item = data.pop()
        if data:
            item, data[0] = data[0], item
            self._sift_down_to_bottom(0)
        return item

    def _sift_up(self, start: int, pos: int) -> None:
        data = self.data
        elem = data[pos]
        while pos > start:
            parent = (pos - 1) // 2
            if elem[0] < data[parent][0]:  # Rust's `elem <= parent`
                break
            data[pos] = data[parent]
            pos = parent
        data[pos] = elem

    def _sift_down_to_bottom(self, pos: int) -> None:
        data = self.data
        end = len(data)
        start = pos
        elem = data[pos]
        child = 2 * pos + 1
        while child + 1 < end:  # both children exist
            if data[child][0] < data[child + 1][0]:  # `child <= right` picks the right one
                child += 1
            data[pos] = data[child]
            pos = child
            child = 2 * pos + 1
        if child == end - 1:
            data[pos] = data[child]
            pos = child
        data[pos] = elem
        self._sift_up(start, pos)


class Lattice:
    """Nodes of one sentence: node 0 is BOS, node 1 EOS, then the pieces in insertion order."""

    def __init__(self, rows: list[list[tuple]], table: PieceTable, bos_id: int, eos_id: int):
        n = len(rows)
        self.n = n
        self.ids = [bos_id, eos_id]
        self.pos = [0, n]
        self.scores = [0.0, 0.0]
        self.begin: list[list[int]] = [[] for _ in range(n + 1)]
        self.end: list[list[int]] = [[] for _ in range(n + 1)]
        self.begin[n].append(1)
        self.end[0].append(0)
        for p, nodes in enumerate(table.nodes(rows)):
            for k, tid, s in nodes:
                node = len(self.ids)
                self.ids.append(tid)
                self.pos.append(p)
                self.scores.append(s)
                self.begin[p].append(node)
                self.end[p + k].append(node)
        self.back = [0.0] * len(self.ids)  # best score of a path from BOS through the node

    def viterbi(self) -> list[int]:
        """Vocab ids of the best path (earliest-inserted predecessor wins ties)."""
        back, scores = self.back, self.scores
        prev = [-1] * len(self.ids)
        for p in range(self.n + 1):
            if not self.begin[p]:
                return []
            lefts = self.end[p]
            for r in self.begin[p]:
                rs = scores[r]
                best, best_score = -1, 0.0
                for left in lefts:
                    s = back[left] + rs
                    if best < 0 or s > best_score:
                        best, best_score = left, s
                if best < 0:
                    return []
                prev[r] = best
                back[r] = best_score
        out = []
        node = prev[1]
        if node < 0:
            return []
        while prev[node] >= 0:
            out.append(self.ids[node])
            node = prev[node]
        out.reverse()
        return out

    def nbest(self, n: int) -> list[list[int]]:
        """Vocab ids of the ``n`` best paths, best first (HF's A* search)."""
        if n == 0:
            return []
        if n == 1:
            return [self.viterbi()]
        bos_id = self.ids[0]
        # hypothesis: (fx, gx, node, next hypothesis)
        agenda = _RustMaxHeap()
        agenda.push((self.scores[1], self.scores[1], 1, None))
        self.viterbi()
        out: list[list[int]] = []
        while agenda:
            top = agenda.pop()
            node = top[2]
            if self.ids[node] == bos_id:
                path = []
                hyp = top[3]
                while hyp[3] is not None:
                    path.append(self.ids[hyp[2]])
                    hyp = hyp[3]
                out.append(path)
                if len(out) == n:
                    return out
                continue
            gx = top[1]
            for left in self.end[self.pos[node]]:
                agenda.push((self.back[left] + gx, self.scores[left] + gx, left, top))
            # like HF, cap the agenda on pathological inputs
            if len(agenda) > 100_000:
                small = _RustMaxHeap()
                for _ in range(min(512, n * 10)):
                    small.push(agenda.pop())
                agenda = small
        return out
