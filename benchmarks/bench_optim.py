"""AdamW step on GPT-2 124M-shaped float32 parameters: ember (flat buffers, and the per-tensor
reference path) vs torch.optim.AdamW (its CPU default, and foreach=True), both on --threads.

    python benchmarks/bench_optim.py [--repeats 7] [--layers 12] [--threads 2] [--skip-reference]

Steps of all contenders are interleaved (after one warm-up step each) so changing load hits all
alike; prints the median ms per step and the ember/torch ratios. Gradients
are set once (as after backward) and reused, so only the optimizer step is timed.
"""
from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import torch

import ember
from ember.nn import Parameter
from ember.optim import _flat

__all__ = ["gpt2_shapes", "main"]


def gpt2_shapes(n_layer: int = 12, n_embd: int = 768, vocab: int = 50257, n_ctx: int = 1024):
    """Parameter shapes of GPT-2 (124M for the defaults), in HF's order."""
    shapes = [(vocab, n_embd), (n_ctx, n_embd)]
    for _ in range(n_layer):
        shapes += [(n_embd,), (n_embd,), (n_embd, 3 * n_embd), (3 * n_embd,), (n_embd, n_embd),
                   (n_embd,), (n_embd,), (n_embd,), (n_embd, 4 * n_embd), (4 * n_embd,),
                   (4 * n_embd, n_embd), (n_embd,)]
    return shapes + [(n_embd,), (n_embd,)]


def _ember_step(arrays, grads, fused):
    params = [Parameter(a.copy()) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = ember.tensor(g.copy())
    opt = ember.optim.AdamW(params, lr=1e-4, weight_decay=0.1, fused=fused)
    opt.step()  # builds the flat layout (copying these user-set grads into it)
    if fused is None:
        for p in params:  # as backward leaves them: views of the flat gradient buffer
            p.grad = ember.Tensor._make(p._grad_buffer)
    return opt.step


def _torch_step(arrays, grads, foreach):
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.1, foreach=foreach)
    opt.step()
    return opt.step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="threads for torch and for ember")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _flat.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    shapes = gpt2_shapes(args.layers)
    arrays = [rng.standard_normal(s, dtype=np.float32) * 0.02 for s in shapes]
    grads = [rng.standard_normal(s, dtype=np.float32) * 1e-3 for s in shapes]
    n = sum(a.size for a in arrays)
    print(f"AdamW, {len(shapes)} float32 tensors, {n / 1e6:.1f}M parameters, "
          f"median of {args.repeats} steps (ms)")

    steps = {"ember flat": lambda: _ember_step(arrays, grads, None),
             "torch default": lambda: _torch_step(arrays, grads, None),
             "torch foreach": lambda: _torch_step(arrays, grads, True)}
    if not args.skip_reference:
        steps["ember per-tensor"] = lambda: _ember_step(arrays, grads, False)
    steps = {name: make() for name, make in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):  # interleaved, so load changes hit every contender alike
        for name, step in steps.items():
            gc.collect()
            t0 = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - t0) * 1e3)
    results = {}
    for name, ts in times.items():
        results[name] = float(np.median(ts))
        print(f"  {name:17s} {results[name]:8.1f}   (min {min(ts):.1f}, max {max(ts):.1f})")
    base = results["torch default"]
    for name, ms in results.items():
        if name.startswith("ember"):
            print(f"  {name} / torch default = {ms / base:.2f}x, / torch foreach = "
                  f"{ms / results['torch foreach']:.2f}x")


if __name__ == "__main__":
    main()
