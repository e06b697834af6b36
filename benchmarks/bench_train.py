"""Training throughput: ember vs PyTorch (transformers' GPT2LMHeadModel), same process, same
weights, same batches, 2 threads each.

One step is what the Trainer's inner loop does: forward with labels (causal-LM loss), backward,
``clip_grad_norm_(1.0)``, ``AdamW.step()`` (lr 1e-4, weight decay 0.01 on every tensor, both
sides' default implementation: ember's flat-buffer update, torch's foreach), ``zero_grad()``;
dropout 0 on both sides. Steps of the two alternate, after warm-up steps, so changing load hits
both alike. Timed twice: under glibc's default malloc, then after ``keep_freed_memory()`` (which
ember's Trainer turns on; process-wide, so torch's steps get it too). Models:

* ``small``: ``ember train``'s default model (4 layers, n_embd 256, 4 heads, vocabulary 4096),
  batch 16 x 256 tokens;
* ``gpt2``: GPT-2 small shapes (124M: 12 layers, n_embd 768, vocabulary 50257), batch 8 x 128.

Printed per model: median step time (seconds) of each and the ratio ember / torch (target
<= 1.1 on gpt2), tokens per second, the losses of the first steps side by side (same weights,
same data: they agree to float32 rounding), and the model FLOPs utilisation: matmul FLOPs of a
step (forward, attention scores and weighted sums, LM head, x3 for backward; PaLM's "model
FLOPs") per second over the fp32 matmul peak measured here, in the same run, as NumPy's best
GEMM rate (square 2048-4096 and the model's own layer shapes).

Run:  python benchmarks/bench_train.py [--models small,gpt2] [--steps 7] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

THREADS = os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

CONFIGS = {
    "small": (dict(n_layer=4, n_embd=256, n_head=4, vocab_size=4096, n_positions=256,
                   bos_token_id=4095, eos_token_id=4095), 16, 256),
    "gpt2": (dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024), 8, 128),
}
NO_DROPOUT = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def step_flops(cfg: dict, batch: int, seq: int) -> float:
    """Matmul FLOPs of one training step (2 per multiply-add; backward = 2 x forward)."""
    d, L, V = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
    tokens = batch * seq
    layers = L * (2 * tokens * 12 * d * d + 2 * 2 * batch * seq * seq * d)  # qkv/proj/mlp + attn
    head = 2 * tokens * d * V
    return 3.0 * (layers + head)


def matmul_peak(shapes: list[tuple[int, int, int]], repeats: int = 5) -> tuple[float, str]:
    """Best median GFLOP/s of NumPy float32 GEMMs over ``(m, k, n)`` shapes."""
    best, where = 0.0, ""
    r = np.random.default_rng(0)
    for m, k, n in shapes:
        a = r.standard_normal((m, k), dtype=np.float32)
        b = r.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        np.matmul(a, b, out=c)
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            np.matmul(a, b, out=c)
            ts.append(time.perf_counter() - t)
        rate = 2.0 * m * k * n / statistics.median(ts) / 1e9
        if rate > best:
            best, where = rate, f"{m}x{k} @ {k}x{n}"
    return best, where


def build(cfg: dict, seed: int = 0):
    """The same randomly initialised GPT-2 on both sides (transformers' init, copied over)."""
    import torch
    import transformers

    import ember
    from ember.models import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg, **NO_DROPOUT))
    theirs.config.loss_type = "ForCausalLM"
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    with ember.nn.init.skip_init():
        ours = GPT2LMHeadModel(GPT2Config(**cfg, **NO_DROPOUT))
    ours.load_state_dict({k: ember.from_numpy(v.copy()) for k, v in state.items()
                          if k in ours.state_dict()}, strict=False)
    ours.train()
    theirs.train()
    return ours, theirs


def train_step(model, opt, clip, ids):
    """One Trainer-style step of ``model`` (either library), returning the loss."""
    def step() -> float:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        clip(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        return float(loss.item())
    return step


def make_steps(ours, theirs, ids: np.ndarray):
    import torch

    import ember

    opt_e = ember.optim.AdamW(ours.parameters(), lr=1e-4, weight_decay=0.01)
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-4, weight_decay=0.01)
    return (train_step(ours, opt_e, ember.nn.utils.clip_grad_norm_, ember.from_numpy(ids)),
            train_step(theirs, opt_t, torch.nn.utils.clip_grad_norm_, torch.from_numpy(ids)))


def time_steps(step_e, step_t, steps: int) -> tuple[list, list, list]:
    """Alternate ember and torch steps; (ember seconds, torch seconds, (loss, loss) pairs)."""
    te, tt, losses = [], [], []
    for _ in range(steps):
        t = time.perf_counter()
        le = step_e()
        te.append(time.perf_counter() - t)
        t = time.perf_counter()
        lt = step_t()
        tt.append(time.perf_counter() - t)
        losses.append((le, lt))
    return te, tt, losses


def report(name: str, mode: str, te: list, tt: list, peak: float) -> dict:
    cfg, batch, seq = CONFIGS[name]
    me, mt = statistics.median(te), statistics.median(tt)
    flops = step_flops(cfg, batch, seq)
    out = dict(model=name, malloc=mode, ember_s=me, torch_s=mt, ratio=me / mt,
               ember_tok_s=batch * seq / me, torch_tok_s=batch * seq / mt,
               ember_mfu=flops / me / 1e9 / peak, torch_mfu=flops / mt / 1e9 / peak)
    print(f"  {name:<6} step ember {me:6.3f} s [{min(te):.3f}-{max(te):.3f}]  "
          f"torch {mt:6.3f} s [{min(tt):.3f}-{max(tt):.3f}]  ratio {me / mt:.3f}  "
          f"tok/s {out['ember_tok_s']:6.0f} vs {out['torch_tok_s']:6.0f}  "
          f"MFU {out['ember_mfu']:5.1%} vs {out['torch_mfu']:5.1%}")
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="small,gpt2")
    p.add_argument("--steps", type=int, default=7, help="timed steps per side")
    p.add_argument("--threads", type=int, default=int(THREADS))
    args = p.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    from ember.autograd import chunked

    torch.set_num_threads(args.threads)
    chunked.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        shapes = [(2048, 2048, 2048), (4096, 4096, 4096), (1024, 768, 2304), (1024, 768, 3072),
                  (1024, 3072, 768), (4096, 256, 1024)]
        peak, where = matmul_peak(shapes)
        print(f"fp32 matmul peak (NumPy, {args.threads} threads): {peak:.0f} GFLOP/s at {where}")
        names = args.models.split(",")
        runs = {}
        for name in names:
            cfg, batch, seq = CONFIGS[name]
            ours, theirs = build(cfg)
            ids = np.random.default_rng(1).integers(0, cfg["vocab_size"], (batch, seq))
            steps = make_steps(ours, theirs, ids)
            first = [(steps[0](), steps[1]()) for _ in range(3)]  # warm-up; same start: same loss
            runs[name] = steps
            print(f"{name}: batch {batch} x {seq}, {step_flops(cfg, batch, seq) / 1e9:.0f} GFLOP "
                  "per step; first losses (ember/torch) "
                  + "  ".join(f"{a:.5f}/{b:.5f}" for a, b in first))
        results = []
        # glibc's default first: keep_freed_memory() (what ember's Trainer turns on) is
        # process-wide and cannot be undone; it applies to torch's steps as well
        for mode in ("glibc default", "keep_freed_memory"):
            if mode == "keep_freed_memory":
                from ember.utils.memory import keep_freed_memory
                if not keep_freed_memory():
                    break
            print(f"\n{mode} ({load()})")
            for name in names:
                te, tt, _ = time_steps(*runs[name], args.steps)
                results.append(report(name, mode, te, tt, peak))
        return results


if __name__ == "__main__":
    main()
