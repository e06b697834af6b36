"""Greedy generation, ember vs transformers + torch (2 threads each), same weights, same run.

For GPT-2 small (124M) and a small config (4 layers, n_embd 256, full vocabulary), both with
random weights written by transformers and loaded by both sides: batch 1, a 16-token prompt,
128 new tokens, greedy. Reported per model:

* tokens/s (128 / wall time of the whole call, prefill and session creation included) of
  ember (``model.generate`` when ember.generation provides it, else a minimal greedy loop over
  ``GPT2DecoderSession``; the output says which) and of transformers' ``generate``, medians of
  --repeats runs interleaved, and whether the tokens are identical;
* per-token times early (new tokens 2-17, positions ~17-32) and late (the last 16, positions
  ~128-143): ours from the session loop, theirs from a LogitsProcessor timestamp;
* the first call of the process, which folds the weights, a refold, and a session on the
  cached fold;
* the memory-bandwidth floor: the same folded weights through a bare chain of matmuls.

Run:  python benchmarks/bench_generate.py [--repeats N] [--quick] [--models small,gpt2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

PROMPT, NEW = 16, 128
CONFIGS = {
    "gpt2": {},  # transformers' defaults: GPT-2 small
    "small": dict(n_layer=4, n_embd=256, n_head=4, vocab_size=50257, n_positions=1024),
}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def session_loop(model, ids: np.ndarray, new: int = NEW, layout: str = "auto"):
    """Greedy decoding over the session; returns (tokens (B, new), per-step seconds)."""
    from ember.models.gpt2.decoding import GPT2DecoderSession
    B, T = ids.shape
    s = GPT2DecoderSession(model, B, T + new, layout=layout)
    mask = np.ones((B, T + new), np.int64)
    out = np.empty((B, new), np.int64)
    stamps = [time.perf_counter()]
    logits = s.forward(ids, np.broadcast_to(np.arange(T), (B, T)), mask[:, :T])
    for i in range(new):
        tok = logits.argmax(-1)
        out[:, i] = tok
        stamps.append(time.perf_counter())
        if i + 1 < new:
            logits = s.forward(tok[:, None], np.full((B, 1), T + i), mask[:, :T + i + 1])
    return out, np.diff(stamps)


def floor_ms(session, repeats: int = 30) -> float:
    """Per-token time of the session's own weight matmuls alone (B = 1, no other work): the
    best of ``repeats`` chains, a floor."""
    w = session._w
    x = np.ones((1, w.C), np.float32)
    f = np.ones((1, w.inner), np.float32)

    def chain():
        for l_qkv, l_o, l_fc, l_proj in w.layers:
            x @ l_qkv.w
            x @ l_o.w
            x @ l_fc.w
            f @ l_proj.w
        x @ w.head.w

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        chain()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def bench(name: str, repeats: int) -> None:
    import torch
    import transformers

    from ember.models.gpt2 import GPT2LMHeadModel
    from ember.models.gpt2.decoding import GPT2DecoderSession, clear_folded_cache
    torch.set_num_threads(2)
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        transformers.GPT2LMHeadModel(transformers.GPT2Config(**CONFIGS[name])).save_pretrained(
            folder)
        theirs = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
        ours = GPT2LMHeadModel.from_pretrained(folder).eval()
    ids = np.random.default_rng(0).integers(0, 50257, (1, PROMPT))
    t_ids = torch.from_numpy(ids)
    has_generate = hasattr(ours, "generate")

    stamps: list[float] = []

    class Stamp(transformers.LogitsProcessor):
        def __call__(self, input_ids, scores):
            stamps.append(time.perf_counter())
            return scores

    def run_theirs():
        stamps.clear()
        with torch.inference_mode():
            out = theirs.generate(t_ids, attention_mask=torch.ones_like(t_ids), do_sample=False,
                                  max_new_tokens=NEW, min_new_tokens=NEW, eos_token_id=None,
                                  pad_token_id=0, logits_processor=[Stamp()])
        return out[:, PROMPT:].numpy(), np.diff(stamps)

    def run_ours():
        if has_generate:
            out = ours.generate(ids, attention_mask=np.ones_like(ids), do_sample=False,
                                max_new_tokens=NEW, min_new_tokens=NEW, eos_token_id=None,
                                pad_token_id=0)
            return np.asarray(getattr(out, "data", out))[:, PROMPT:], None
        return session_loop(ours, ids)

    # the first call folds the weights (and warms both sides up); later sessions reuse the fold
    clear_folded_cache(ours)
    tok_t, _ = run_theirs()
    t = time.perf_counter()
    tok_o, _ = run_ours()
    first = time.perf_counter() - t
    same = np.array_equal(tok_o, tok_t)
    clear_folded_cache(ours)
    t = time.perf_counter()
    GPT2DecoderSession(ours, 1, PROMPT + NEW)
    fold = time.perf_counter() - t
    t = time.perf_counter()
    session = GPT2DecoderSession(ours, 1, PROMPT + NEW)
    warm = time.perf_counter() - t
    t_o, t_t, step_o, step_t = [], [], [], []
    print(f"[{name}] start: {load()}")
    for _ in range(repeats):
        # idle first, so the other library's worker threads (OpenBLAS spins ~0.1 s after a
        # call) have gone to sleep and do not steal a core from the run being timed
        time.sleep(0.3)
        t = time.perf_counter()
        run_theirs()
        t_t.append(time.perf_counter() - t)
        step_t.append(np.diff(stamps))
        time.sleep(0.3)
        t = time.perf_counter()
        run_ours()
        t_o.append(time.perf_counter() - t)
        time.sleep(0.3)
        _, steps = session_loop(ours, ids)
        step_o.append(steps)
    fl = floor_ms(session)
    o, h = NEW / statistics.median(t_o), NEW / statistics.median(t_t)
    early_o = np.median([s[1:17] for s in step_o]) * 1e3
    late_o = np.median([s[-16:] for s in step_o]) * 1e3
    early_t = np.median([s[:16] for s in step_t]) * 1e3
    late_t = np.median([s[-16:] for s in step_t]) * 1e3
    how = "model.generate" if has_generate else "greedy loop over GPT2DecoderSession (no " \
        "ember generate yet)"
    print(f"[{name}] ours: {how}; layout {session._w.layout}")
    print(f"[{name}] tokens identical: {same}")
    print(f"[{name}] ember {o:.1f} tok/s, transformers {h:.1f} tok/s, ratio {o / h:.2f}x "
          f"(medians of {repeats}, interleaved)")
    print(f"[{name}] per token early/late: ember {early_o:.2f}/{late_o:.2f} ms, transformers "
          f"{early_t:.2f}/{late_t:.2f} ms")
    print(f"[{name}] weight matmuls alone (bandwidth floor): {fl:.2f} ms/token "
          f"({1e3 / fl:.0f} tok/s)")
    print(f"[{name}] fold: first call of the process {first * 1e3:.0f} ms in all "
          f"({NEW / first:.1f} tok/s), a refold {fold * 1e3:.0f} ms, a session on the cached "
          f"fold {warm * 1e3:.1f} ms")
    print(f"[{name}] end: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--models", default="gpt2,small")
    args = parser.parse_args()
    for name in args.models.split(","):
        bench(name, 3 if args.quick else args.repeats)


if __name__ == "__main__":
    main()
