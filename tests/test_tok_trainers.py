"""Parity of ember's trainers with HF ``tokenizers``' trainers: both learn from the same word
counts (HF's own pre-tokenizer splits the CPython docs for both), and the learned merges,
vocabularies and ids are compared.

HF leaves a few choices to hash-map order (so its own output varies between runs); the tests
pin those down instead of skipping them:
- the ids of prefixed/suffixed chars (``##a``, ``a</w>``): HF numbers them in hash order, so
  the prefix tests give ember HF's numbering of those initial tokens, then compare everything;
- Unigram training sums floats over words in hash order: scores agree to ~1e-10 and
  near-tied pieces may swap places, so those tests compare sets and per-rank scores.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
import tokenizers as hf

from ember.tokenizers.added_vocabulary import AddedToken
from ember.tokenizers.models import BPE, Unigram, WordLevel, WordPiece
from ember.tokenizers.trainers import (BpeTrainer, UnigramTrainer, WordLevelTrainer,
                                       WordPieceTrainer)


def pydoc_lines(n_topics: int | None = None) -> list[str]:
    from pydoc_data.topics import topics
    keys = sorted(topics)[:n_topics]
    return "\n".join(topics[k] for k in keys).splitlines()


LINES = pydoc_lines()
WS = hf.pre_tokenizers.WhitespaceSplit()
BYTE_LEVEL = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)


def splitter(pre):
    return lambda s: [w for w, _ in pre.pre_tokenize_str(s)]


def hf_train(model, trainer, pre, lines=LINES) -> dict:
    tok = hf.Tokenizer(model)
    tok.pre_tokenizer = pre
    tok.train_from_iterator(lines, trainer)
    return json.loads(tok.to_str())["model"]


def our_train(model, trainer, pre, lines=LINES):
    trainer.feed(lines, splitter(pre))
    specials = trainer.train(model)
    assert all(isinstance(t, AddedToken) and t.special for t in specials)
    return model


# ---------------------------------------------------------------- BPE
def _limit_with_unique_boundary(vocab_floor: int = 40) -> int:
    """An alphabet limit whose cut falls between two different char counts (HF breaks ties
    at the cut in hash order)."""
    counts = Counter()
    for line in LINES:
        for w in splitter(WS)(line):
            counts.update(w)
    ranked = sorted(counts.values(), reverse=True)
    for limit in range(vocab_floor, len(ranked)):
        if ranked[limit - 1] != ranked[limit]:
            return limit
    raise AssertionError("no unique boundary")


BPE_CASES = {
    "small": (WS, dict(vocab_size=300)),
    "specials+min_frequency": (WS, dict(vocab_size=1000, min_frequency=3,
                                        special_tokens=["<unk>", "<s>", "</s>"])),
    "large": (WS, dict(vocab_size=2000)),
    "limit_alphabet": (WS, dict(vocab_size=800, limit_alphabet=_limit_with_unique_boundary())),
    "max_token_length": (WS, dict(vocab_size=1500, max_token_length=5)),
    "initial_alphabet": (WS, dict(vocab_size=600, initial_alphabet=["☃", "Ω", "é", "xyz"])),
    "gpt2 recipe": (BYTE_LEVEL, dict(vocab_size=1000, special_tokens=["<|endoftext|>"],
                                     initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet())),
}


@pytest.mark.parametrize("name", list(BPE_CASES))
def test_bpe_trainer_matches_hf_exactly(name):
    pre, kw = BPE_CASES[name]
    ref = hf_train(hf.models.BPE(), hf.trainers.BpeTrainer(show_progress=False, **kw), pre)
    ours = our_train(BPE(), BpeTrainer(show_progress=False, **kw), pre)
    got = ours.to_dict()
    assert len(got["merges"]) > 100
    assert got["vocab"] == ref["vocab"]
    assert got["merges"] == ref["merges"]
    assert got == ref


def initial_tokens(spec: dict, prefix: str | None, suffix: str | None) -> list[str]:
    """HF's tokens before the first merge (specials, alphabet, prefixed/suffixed chars), in id
    order: the tokens merges did not create."""
    created = set()
    for a, b in spec["merges"]:
        created.add(a + (b[len(prefix):] if prefix and b.startswith(prefix) else b))
    return [t for t, _ in sorted(spec["vocab"].items(), key=lambda kv: kv[1])
            if t not in created]


def seeded_bpe_trainer(initial: list[str], **kw) -> BpeTrainer:
    """A BpeTrainer numbering the prefixed/suffixed chars as HF did (see module docstring)."""

    class Seeded(BpeTrainer):
        def _initial_vocab(self, counts):
            w2id, id2w = super()._initial_vocab(counts)
            assert id2w == initial[:len(id2w)]  # specials and alphabet: deterministic
            for t in initial[len(id2w):]:
                w2id[t] = len(id2w)
                id2w.append(t)
            return w2id, id2w

    return Seeded(show_progress=False, **kw)


@pytest.mark.parametrize("kw", [
    dict(vocab_size=1500, continuing_subword_prefix="##"),
    dict(vocab_size=1000, end_of_word_suffix="</w>", special_tokens=["<unk>"]),
    dict(vocab_size=1200, continuing_subword_prefix="##", end_of_word_suffix="</w>",
         min_frequency=2),
], ids=["prefix", "suffix", "both"])
def test_bpe_trainer_with_prefix_suffix_matches_hf(kw):
    ref = hf_train(hf.models.BPE(), hf.trainers.BpeTrainer(show_progress=False, **kw), WS)
    prefix, suffix = kw.get("continuing_subword_prefix"), kw.get("end_of_word_suffix")
    initial = initial_tokens(ref, prefix, suffix)
    ours = our_train(BPE(), seeded_bpe_trainer(initial, **kw), WS)
    assert ours.to_dict() == ref
    assert ours.continuing_subword_prefix == prefix and ours.end_of_word_suffix == suffix
    # unseeded, ember numbers them by first appearance: same initial tokens, deterministic
    a = our_train(BPE(), BpeTrainer(show_progress=False, **kw), WS).to_dict()
    b = our_train(BPE(), BpeTrainer(show_progress=False, **kw), WS).to_dict()
    assert a == b
    assert set(initial_tokens(a, prefix, suffix)) == set(initial)


def test_bpe_trainer_keeps_model_options_and_tokenizes_like_hf():
    kw = dict(vocab_size=800, special_tokens=["<unk>"])
    ref_model = hf.models.BPE(unk_token="<unk>", dropout=None, fuse_unk=True)
    ref_tok = hf.Tokenizer(ref_model)
    ref_tok.pre_tokenizer = WS
    ref_tok.train_from_iterator(LINES, hf.trainers.BpeTrainer(show_progress=False, **kw))
    ours = our_train(BPE(unk_token="<unk>", fuse_unk=True),
                     BpeTrainer(show_progress=False, **kw), WS)
    assert ours.to_dict() == json.loads(ref_tok.to_str())["model"]
    words = list(dict.fromkeys(w for line in LINES[:2000] for w in splitter(WS)(line)))
    words += ["☃☃x", "naïve"]  # unknown chars: fused unk tokens
    for w in words:
        e = ref_tok.encode(w)
        assert [(i, t, tuple(o)) for i, t, o in ours.tokenize(w)] == \
            list(zip(e.ids, e.tokens, e.offsets)), w


def test_bpe_merge_word_changes():
    from ember.tokenizers.trainers.bpe import merge_word
    word, lens = [0, 1, 2, 2, 3], [1] * 5  # h e l l o
    changes = merge_word(word, lens, 2, 2, 4, float("inf"))
    assert word == [0, 1, 4, 3] and lens == [1, 1, 2, 1]
    assert changes == [((1, 2), -1), ((1, 4), 1), ((2, 3), -1), ((4, 3), 1)]
    word, lens = [0, 1, 2, 2, 3], [1] * 5
    assert merge_word(word, lens, 2, 2, 4, 2) == [((1, 2), -1), ((2, 3), -1)]
    word, lens = [5, 5, 5, 5], [1] * 4  # non-overlapping, left to right
    merge_word(word, lens, 5, 5, 6, float("inf"))
    assert word == [6, 6]


# ---------------------------------------------------------------- WordPiece / WordLevel
@pytest.mark.parametrize("kw", [
    dict(vocab_size=1500, special_tokens=["[UNK]", "[CLS]", "[SEP]"]),
    dict(vocab_size=800, continuing_subword_prefix="@@", min_frequency=2,
         limit_alphabet=_limit_with_unique_boundary(), special_tokens=["[UNK]"]),
], ids=["default", "options"])
def test_wordpiece_trainer_matches_hf(kw):
    ref = hf_train(hf.models.WordPiece(unk_token="[UNK]"),
                   hf.trainers.WordPieceTrainer(show_progress=False, **kw), WS)
    prefix = kw.get("continuing_subword_prefix", "##")
    # HF's WordPiece vocab keeps no merges: recover its initial tokens from its BPE twin
    bpe_ref = hf_train(hf.models.BPE(), hf.trainers.BpeTrainer(
        show_progress=False, continuing_subword_prefix=prefix,
        **{k: v for k, v in kw.items() if k != "continuing_subword_prefix"}), WS)
    initial = [t for t, _ in sorted(ref["vocab"].items(), key=lambda kv: kv[1])][
        :len(initial_tokens(bpe_ref, prefix, None))]
    trainer = WordPieceTrainer(show_progress=False, **kw)
    trainer._bpe = seeded_bpe_trainer(initial, continuing_subword_prefix=prefix,
                                      **{k: v for k, v in kw.items()
                                         if k != "continuing_subword_prefix"})
    ours = our_train(WordPiece(unk_token="[UNK]"), trainer, WS)
    assert ours.to_dict() == ref
    # the trained model tokenizes like HF's
    tok = hf.Tokenizer.from_str(json.dumps({"version": "1.0", "model": ref}))
    for w in list(dict.fromkeys(w for line in LINES[:1500] for w in splitter(WS)(line))):
        e = tok.encode(w)
        assert [(i, t, tuple(o)) for i, t, o in ours.tokenize(w)] == \
            list(zip(e.ids, e.tokens, e.offsets)), w


def test_wordpiece_trainer_settings_mirror_hf():
    ours, ref = WordPieceTrainer(), hf.trainers.WordPieceTrainer()
    for k in ("vocab_size", "min_frequency", "show_progress", "limit_alphabet",
              "continuing_subword_prefix", "end_of_word_suffix"):
        assert getattr(ours, k) == getattr(ref, k), k
    ours.vocab_size = 123
    assert ours._bpe.vocab_size == 123


@pytest.mark.parametrize("kw", [
    dict(vocab_size=3000),
    dict(vocab_size=500, min_frequency=20, special_tokens=["<unk>", "the", "<pad>"]),
], ids=["plain", "specials"])
def test_wordlevel_trainer_matches_hf(kw):
    ref = hf_train(hf.models.WordLevel(unk_token="<unk>"),
                   hf.trainers.WordLevelTrainer(show_progress=False, **kw), WS)
    with pytest.warns(UserWarning) if "the" in kw.get("special_tokens", []) else _nothing():
        # "the" is both special and a word: HF gives it the later id, leaving a hole
        ours = our_train(WordLevel(unk_token="<unk>"),
                         WordLevelTrainer(show_progress=False, **kw), WS).to_dict()
    assert ours == ref


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------- Unigram
UNIGRAM_LINES = pydoc_lines(25)

UNIGRAM_CASES = {
    "plain": dict(vocab_size=400),
    "unk in specials": dict(vocab_size=500, special_tokens=["<s>", "<unk>", "</s>"],
                            unk_token="<unk>"),
    "unk added": dict(vocab_size=500, special_tokens=["<pad>"], unk_token="<unk>"),
    "options": dict(vocab_size=450, initial_alphabet=["☃", "Ω"], shrinking_factor=0.5,
                    n_sub_iterations=1, max_piece_length=8),
}


@pytest.mark.parametrize("name", list(UNIGRAM_CASES))
def test_unigram_trainer_matches_hf(name):
    kw = UNIGRAM_CASES[name]
    tok = hf.Tokenizer(hf.models.Unigram())
    tok.pre_tokenizer = WS
    tok.train_from_iterator(UNIGRAM_LINES, hf.trainers.UnigramTrainer(show_progress=False, **kw))
    ref = json.loads(tok.to_str())["model"]
    ours = our_train(Unigram(byte_fallback=True), UnigramTrainer(show_progress=False, **kw),
                     WS, UNIGRAM_LINES)
    got = ours.to_dict()
    assert got["unk_id"] == ref["unk_id"] and got["byte_fallback"] is False
    n_special = len(kw.get("special_tokens", [])) + (
        1 if kw.get("unk_token") and kw["unk_token"] not in kw.get("special_tokens", []) else 0)
    assert got["vocab"][:n_special] == ref["vocab"][:n_special]
    assert len(got["vocab"]) == len(ref["vocab"])
    # the same pieces ...
    assert {p for p, _ in got["vocab"]} == {p for p, _ in ref["vocab"]}
    # ... with the same scores, rank by rank (chars missing from the final pieces get
    # min_score + k * 1e-4, k in HF's hash order: the sorted scores still agree)
    for (p, s), (q, t) in zip(got["vocab"], ref["vocab"]):
        assert abs(s - t) <= 1e-9, (p, s, q, t)
    want = dict((p, s) for p, s in ref["vocab"])
    near = sum(abs(s - want[p]) <= 1e-9 for p, s in got["vocab"])
    assert near >= len(got["vocab"]) - 20  # only the penalized chars may trade scores
    # and the trained models segment the corpus the same way, except the order of the pieces
    # in runs like "=====...": permutations with equal scores up to rounding
    words = list(dict.fromkeys(w for line in UNIGRAM_LINES for w in splitter(WS)(line)))
    ref_tok = hf.Tokenizer(tok.model)
    same = 0
    for w in words:
        a, b = ref_tok.encode(w).tokens, [v for _, v, _ in ours.tokenize(w)]
        same += a == b
        assert sorted(a) == sorted(b), (w, a, b)
    assert same >= 0.99 * len(words), (same, len(words))


def test_unigram_seed_pieces_are_hf_suffix_array_seeds():
    # HF's test: chars by count then substrings by frequency x length, as log-probs
    trainer = UnigramTrainer(show_progress=False)
    seeds = trainer.seed_pieces([("This is a", 1), ("こんにちは友達", 1)])
    assert [p for p, _ in seeds] == ["s", "i", " ", "達", "友", "ん", "は", "に", "ち", "こ",
                                     "h", "a", "T", "is ", "s "]
    want = [-2.5649493574615367] * 3 + [-3.258096538021482] * 10 + [-1.4663370687934272,
                                                                     -1.8718021769015916]
    assert [s for _, s in seeds] == pytest.approx(want, abs=1e-12)


def test_unigram_trainer_errors_like_hf():
    with pytest.raises(Exception, match="not large enough"):
        hf_train(hf.models.Unigram(), hf.trainers.UnigramTrainer(vocab_size=5,
                                                                 show_progress=False),
                 WS, ["abcdefg hij"])
    with pytest.raises(ValueError, match="not large enough"):
        our_train(Unigram(), UnigramTrainer(vocab_size=5, show_progress=False), WS,
                  ["abcdefg hij"])


def _lattice(pieces: list[tuple[str, float]], text: str):
    from ember.tokenizers.trainers.lattice import Lattice, PieceTable, substrings
    table = PieceTable([("<UNK>", float("nan"))] + pieces, {p: i for i, (p, _) in enumerate(
        [("<UNK>", 0.0)] + pieces)})
    rows = substrings(text, table.universe, max(len(p) for p, _ in pieces))
    return Lattice(rows, table, len(pieces) + 2, len(pieces) + 3), rows, table


def test_lattice_nbest_and_viterbi():
    # HF's lattice test: every segmentation of "ABC", best first
    pieces = [("A", 0.0), ("B", 0.0), ("C", 0.0), ("AB", 2.0), ("BC", 5.0), ("ABC", 10.0)]
    lattice, _, _ = _lattice(pieces, "ABC")
    name = {i + 1: p for i, (p, _) in enumerate(pieces)}
    assert [[name[i] for i in path] for path in lattice.nbest(10)] == [
        ["ABC"], ["A", "BC"], ["AB", "C"], ["A", "B", "C"]]
    assert [name[i] for i in lattice.viterbi()] == ["ABC"]


def test_lattice_marginal():
    import math

    from ember.tokenizers.trainers.lattice import marginal
    pieces = [("A", 1.0), ("B", 1.2), ("C", 2.5), ("AB", 3.0), ("BC", 4.0), ("ABC", 2.0)]
    _, rows, table = _lattice(pieces, "ABC")
    expected = [0.0] * (len(pieces) + 1)
    log_z = marginal(rows, table, 1.0, expected)
    p1, p2, p3, p4 = math.exp(1.0 + 1.2 + 2.5), math.exp(3.0 + 2.5), math.exp(1.0 + 4.0), \
        math.exp(2.0)
    z = p1 + p2 + p3 + p4
    assert log_z == pytest.approx(math.log(z), abs=1e-12)
    want = [0.0, (p1 + p3) / z, p1 / z, (p1 + p2) / z, p2 / z, p3 / z, p4 / z]
    assert expected == pytest.approx(want, abs=1e-12)


def test_digamma():
    from ember.tokenizers.trainers.unigram import digamma
    # digamma(1) = -Euler's gamma; digamma(x + 1) = digamma(x) + 1 / x
    # (HF's series is accurate to ~1e-10)
    assert digamma(1.0) == pytest.approx(-0.5772156649015329, abs=1e-9)
    for x in (0.3, 2.5, 9.0, 120.0):
        assert digamma(x + 1) == pytest.approx(digamma(x) + 1 / x, abs=1e-9)


# ---------------------------------------------------------------- feeding
def test_feed_counts_words_like_hf():
    lines = LINES[:3000]
    ref = hf.trainers.BpeTrainer(show_progress=False)
    tok = hf.Tokenizer(hf.models.BPE())
    tok.pre_tokenizer = WS
    tok.train_from_iterator(lines, ref)
    ours = BpeTrainer(show_progress=True)  # the bar only appears for slow inputs
    ours.feed(iter(lines), splitter(WS), length=len(lines))
    assert ours.get_word_count() == ref.get_word_count()
    assert ours.words == Counter(w for line in lines for w in splitter(WS)(line))
    ours.feed(["a b a"], splitter(WS))  # a new feed replaces the counts, as in HF
    assert ours.words == {"a": 2, "b": 1}


def test_trainer_settings_mirror_hf():
    pairs = [(BpeTrainer(special_tokens=["<s>"], initial_alphabet=["xy", "z", ""]),
              hf.trainers.BpeTrainer(special_tokens=["<s>"], initial_alphabet=["xy", "z", ""])),
             (UnigramTrainer(), hf.trainers.UnigramTrainer()),
             (WordLevelTrainer(), hf.trainers.WordLevelTrainer())]
    for ours, ref in pairs:
        for k in ("vocab_size", "show_progress", "special_tokens", "initial_alphabet",
                  "min_frequency", "limit_alphabet", "max_token_length",
                  "continuing_subword_prefix", "end_of_word_suffix"):
            if hasattr(ref, k):
                a, b = getattr(ours, k), getattr(ref, k)
                if k == "special_tokens":
                    a, b = [str(t) for t in a], [str(t) for t in b]
                if k == "initial_alphabet":
                    a, b = sorted(a), sorted(b)
                assert a == b, (type(ours).__name__, k)
    assert BPE().get_trainer().vocab_size == 30000
    assert isinstance(Unigram().get_trainer(), UnigramTrainer)
