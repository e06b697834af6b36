"""Forward + backward time of ember's convolution and pooling vs PyTorch, in one process.

Workloads (float32): Conv2d 1->32 and 32->64 (3x3, padding 1) on digits-sized (64, C, 8, 8)
batches, a 64->64 3x3 conv on (32, 64, 32, 32), max_pool2d(2) and avg_pool2d(2) on both sizes.
The first conv's input does not require grad (a network's input); the others do. Both engines
use the same weights and the same output cotangent; outputs are compared once, then runs are
interleaved; the median and the minimum of --repeats are reported (on a shared, oversubscribed
machine two-thread BLAS medians swing wildly; the minimum is the steadier figure). Run:
    python benchmarks/bench_conv.py [--repeats 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import torch

import ember


def _conv(cin, cout):
    def make(lib):
        return lib.nn.Conv2d(cin, cout, 3, padding=1)
    return make


def _pool(name):
    def make(lib):
        return getattr(lib.nn, name)(2)
    return make


WORKLOADS = [
    ("Conv2d 1->32 3x3, x (64, 1, 8, 8)", _conv(1, 32), (64, 1, 8, 8), False),
    ("Conv2d 32->64 3x3, x (64, 32, 8, 8)", _conv(32, 64), (64, 32, 8, 8), True),
    ("Conv2d 64->64 3x3, x (32, 64, 32, 32)", _conv(64, 64), (32, 64, 32, 32), True),
    ("max_pool2d(2), x (64, 32, 8, 8)", _pool("MaxPool2d"), (64, 32, 8, 8), True),
    ("max_pool2d(2), x (32, 64, 32, 32)", _pool("MaxPool2d"), (32, 64, 32, 32), True),
    ("avg_pool2d(2), x (32, 64, 32, 32)", _pool("AvgPool2d"), (32, 64, 32, 32), True),
]


def _step(lib, module, x, cot):
    for p in module.parameters():
        p.grad = None
    if x.grad is not None:
        x.grad = None
    out = module(x)
    out.backward(cot)
    return out


def bench(name, make, shape, input_grad, repeats):
    rng = np.random.default_rng(0)
    tm, em = make(torch), make(ember)
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    xn = rng.standard_normal(shape).astype(np.float32)
    tx = torch.from_numpy(xn.copy()).requires_grad_(input_grad)
    ex = ember.tensor(xn.copy(), requires_grad=input_grad)
    cot_shape = tuple(tm(tx).shape)
    cn = rng.standard_normal(cot_shape).astype(np.float32)
    tc, ec = torch.from_numpy(cn), ember.tensor(cn)

    to, eo = _step(torch, tm, tx, tc), _step(ember, em, ex, ec)
    err = float(np.abs(eo.data - to.detach().numpy()).max())
    te, tt = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _step(ember, em, ex, ec)
        t1 = time.perf_counter()
        _step(torch, tm, tx, tc)
        t2 = time.perf_counter()
        te.append(t1 - t0)
        tt.append(t2 - t1)
    e, t = statistics.median(te) * 1e3, statistics.median(tt) * 1e3
    emin, tmin = min(te) * 1e3, min(tt) * 1e3
    print(f"{name:38s} median: ember {e:7.2f} ms torch {t:7.2f} ms = {e / t:5.2f}x | "
          f"min: {emin:7.2f} / {tmin:7.2f} ms = {emin / tmin:5.2f}x | max|diff| {err:.0e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (NumPy: set "
                    "OPENBLAS_NUM_THREADS to match)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"forward+backward, median of {args.repeats} (torch {torch.__version__}, "
          f"numpy {np.__version__}, torch threads {args.threads})")
    for name, make, shape, input_grad in WORKLOADS:
        bench(name, make, shape, input_grad, args.repeats)


if __name__ == "__main__":
    main()
