"""LSTM(64 -> 128, 2 layers) forward + backward on (seq 50, batch 32): ember vs torch (2 threads).

    python benchmarks/bench_rnn.py [--repeat 15] [--mode lstm|gru|rnn] [--threads 2]

Same weights and inputs in both engines; runs are interleaved and medians are printed, with the
ratio ember / torch (lower is better for ember). ``--threads`` sets torch's threads; NumPy's
BLAS threads come from the environment (``OPENBLAS_NUM_THREADS``). On a busy machine
multi-threaded BLAS in either library slows down erratically: compare single-threaded there
(``OPENBLAS_NUM_THREADS=1 ... --threads 1``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import ember


def _step(model, x) -> None:
    out, _ = model(x)
    out.sum().backward()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--mode", default="lstm", choices=["lstm", "gru", "rnn"])
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cls = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[args.mode]
    tm = getattr(torch.nn, cls)(64, 128, num_layers=2)
    em = getattr(ember.nn, cls)(64, 128, num_layers=2)
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((args.seq, args.batch, 64)).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    xe = ember.tensor(x.copy(), requires_grad=True)

    times = {"ember": [], "torch": []}
    for i in range(args.repeat + 2):  # two warm-up rounds
        for name, model, inp in (("ember", em, xe), ("torch", tm, xt)):
            model.zero_grad()
            inp.grad = None
            t0 = time.perf_counter()
            _step(model, inp)
            dt = time.perf_counter() - t0
            if i >= 2:
                times[name].append(dt)
    me, mt = np.median(times["ember"]) * 1e3, np.median(times["torch"]) * 1e3
    print(f"{cls}(64->128, 2 layers) fwd+bwd, seq {args.seq}, batch {args.batch}, "
          f"torch threads {args.threads}, {args.repeat} runs")
    print(f"ember median {me:.2f} ms | torch median {mt:.2f} ms | ratio ember/torch {me / mt:.2f}")


if __name__ == "__main__":
    main()
