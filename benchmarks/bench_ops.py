"""Forward + backward time of ember's transformer hot paths vs PyTorch, in one process.

Workloads (float32, GPT-2 124M training shapes, batch 8 x 128 tokens):
  * linear: x (1024, 768) @ W (3072, 768)^T + b  (the MLP's c_fc)
  * layer_norm: x (1024, 768), weight and bias
  * cross_entropy: logits (1024, 50257), int64 targets, reduction 'mean'
  * sdpa: q, k, v (8, 12, 128, 64), is_causal=True

Each engine computes the op and the gradients of all inputs for one random cotangent without
accumulating into ``.grad`` (torch: ``torch.autograd.grad``; ember: the op's graph node's
backward, which is what ember's engine runs before it copies into a leaf's ``.grad``), so the
figures are the ops' own cost. Outputs and gradients are compared once, then the engines run
interleaved and the median of --repeats is reported (and the ratio of the minima, steadier on a
busy machine), torch at 2 threads. Run:
    python benchmarks/bench_ops.py [--repeats 9] [--only NAME]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF


def _inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)

    def r(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    return {
        "linear": ([r(1024, 768), r(3072, 768, scale=0.02), r(3072, scale=0.02)], {}),
        "layer_norm": ([r(1024, 768), 1 + r(768, scale=0.1), r(768, scale=0.1)], {}),
        "cross_entropy": ([r(1024, 50257, scale=2.0)],
                          {"target": rng.integers(0, 50257, 1024)}),
        "sdpa": ([r(8, 12, 128, 64), r(8, 12, 128, 64), r(8, 12, 128, 64)], {}),
    }


def _ops(lib_f, tensor):
    return {
        "linear": lambda x, w, b: lib_f.linear(x, w, b),
        "layer_norm": lambda x, w, b: lib_f.layer_norm(x, (768,), w, b),
        "cross_entropy": lambda x, target: lib_f.cross_entropy(x, tensor(target)),
        "sdpa": lambda q, k, v: lib_f.scaled_dot_product_attention(q, k, v, is_causal=True),
    }


def _ember_step(fn, arrays, extra, cot):
    xs = [ember.from_numpy(a).requires_grad_(True) for a in arrays]
    out = fn(*xs, **extra)
    grads = out.grad_fn.backward(cot)
    return out.data, [g for g in (grads if isinstance(grads, tuple) else (grads,))
                      if g is not None]


def _torch_step(fn, arrays, extra, cot):
    xs = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
    out = fn(*xs, **extra)
    grads = torch.autograd.grad(out, xs, torch.from_numpy(cot))
    return out.detach().numpy(), [g.numpy() for g in grads]


def _time(step, *args) -> float:
    t0 = time.perf_counter()
    step(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = _inputs()
    e_ops = _ops(EF, ember.tensor)
    t_ops = _ops(TF, torch.from_numpy)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
          f"{np.__version__}; medians of {args.repeats} runs, forward + backward")
    print(f"{'op':<15}{'ember ms':>10}{'torch ms':>10}{'ember/torch':>13}"
          f"{'(min-based)':>13}")
    for name, (arrays, extra) in data.items():
        if args.only and name != args.only:
            continue
        rng = np.random.default_rng(1)
        out_shape = e_ops[name](*[ember.from_numpy(a) for a in arrays], **extra).shape
        cot = rng.standard_normal(out_shape).astype(np.float32)
        e_out, e_grads = _ember_step(e_ops[name], arrays, extra, cot)
        t_out, t_grads = _torch_step(t_ops[name], arrays, extra, cot)
        err = max([float(np.max(np.abs(e_out - t_out)))] +
                  [float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
                   for a, b in zip(e_grads, t_grads)])
        te, tt = [], []
        for _ in range(args.repeats):
            te.append(_time(_ember_step, e_ops[name], arrays, extra, cot))
            tt.append(_time(_torch_step, t_ops[name], arrays, extra, cot))
        me, mt = statistics.median(te) * 1e3, statistics.median(tt) * 1e3
        print(f"{name:<15}{me:>10.2f}{mt:>10.2f}{me / mt:>13.2f}{min(te) / min(tt):>13.2f}"
              f"   (max rel. diff {err:.1e})")


if __name__ == "__main__":
    main()
