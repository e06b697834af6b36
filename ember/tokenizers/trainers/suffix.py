"""Repeated substrings of a text with their frequencies, from a suffix array: the internal nodes
of the suffix tree, as the ``esaxx`` library (which HF's Unigram trainer uses) enumerates them.

Example: in "abab" the repeated substrings are "ab" (2 times) and "b" (2 times); "a" is not a node
because it is always followed by "b" (its node is "ab").
"""
from __future__ import annotations

import numpy as np

__all__ = ["repeated_substrings", "suffix_array"]


def suffix_array(codes: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Suffix array of an int sequence by prefix doubling (a suffix sorts before the longer
    suffixes it is a prefix of). Also returns the rank of every suffix's first 2**k symbols
    for each doubling level k, which ``lcp_array`` uses."""
    n = len(codes)
    _, rank = np.unique(codes, return_inverse=True)
    rank = rank.astype(np.int64).reshape(-1)
    levels = [rank]
    sa = np.argsort(rank, kind="stable")
    k = 1
    while n and len(np.unique(rank)) < n:
        second = np.full(n, -1, dtype=np.int64)
        second[:n - k] = rank[k:]
        sa = np.lexsort((second, rank))
        r, s = rank[sa], second[sa]
        new = np.empty(n, dtype=np.int64)
        new[0] = 0
        new[1:] = np.cumsum((r[1:] != r[:-1]) | (s[1:] != s[:-1]))
        rank = np.empty(n, dtype=np.int64)
        rank[sa] = new
        levels.append(rank)
        k *= 2
    return sa, levels


def lcp_array(sa: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """``h[i]`` = longest common prefix of suffixes ``sa[i-1]`` and ``sa[i]`` (``h[0] = -1``),
    by binary lifting over the doubling ranks (equal rank at level k = equal first 2**k)."""
    n = len(sa)
    h = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return h
    a, b = sa[:-1].astype(np.int64), sa[1:].astype(np.int64)
    common = np.zeros(n - 1, dtype=np.int64)
    for k in range(len(levels) - 1, -1, -1):
        rank = levels[k]
        pa, pb = a + common, b + common
        ok = (pa < n) & (pb < n)
        ok[ok] = rank[pa[ok]] == rank[pb[ok]]
        common[ok] += 1 << k
    h[1:] = common
    return h


def repeated_substrings(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The suffix tree's internal nodes as arrays ``(start, length, freq)``: the substring
    ``text[start:start + length]`` occurs ``freq`` (>= 2) times. Includes the root (length 0)."""
    n = len(text)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    sa, levels = suffix_array(codes)
    h = lcp_array(sa, levels).tolist()
    sa_list = sa.tolist()
    # esaxx's stack walk over the LCP array: a node is emitted when an interval spanning
    # more than one suffix closes. Leaves are pushed with depth len(suffix) + 1.
    starts, depths, freqs = [], [], []
    stack = [(-1, -1)]
    for i in range(n + 1):
        cur_first, cur_depth = i, (-1 if i == n else h[i])
        cand_first, cand_depth = stack[-1]
        while cand_depth > cur_depth:
            if i - cand_first > 1:
                starts.append(sa_list[cand_first])
                depths.append(cand_depth)
                freqs.append(i - cand_first)
            cur_first = cand_first
            stack.pop()
            cand_first, cand_depth = stack[-1]
        if cand_depth < cur_depth:
            stack.append((cur_first, cur_depth))
        if i == n:
            break
        stack.append((i, n - sa_list[i] + 1))
    return (np.array(starts, dtype=np.int64), np.array(depths, dtype=np.int64),
            np.array(freqs, dtype=np.int64))
