"""Training-step time of ember vs PyTorch on the same model, in one process.

Two workloads, each a full step (forward, backward, AdamW):
  * a GPT-2-small-shaped transformer (12 blocks, n_embd 768, 12 heads, vocab 50257, tied LM head;
    batch 8 x 128 tokens; dropout 0 and 0.1);
  * an MLP (784-1024-1024-10, batch 256).
The model code below is written once and built twice, from `torch` and from `ember`: the APIs are
the same. Weights are copied from the torch model, the first losses are compared, then steps are
timed interleaved (median of --repeats). Run:  python benchmarks/bench_engine.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402


def build_gpt(lib, vocab=50257, n_pos=1024, n_embd=768, n_head=12, n_layer=12, dropout=0.0):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=dropout if self.training else 0.0)
            y = y.transpose(1, 2).reshape(B, T, C)
            x = x + self.drop(self.c_proj(y))
            return x + self.drop(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)),
                                                      approximate="tanh")))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(n_pos, n_embd)
            self.drop = nn.Dropout(dropout)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            for _name, p in self.named_parameters():  # GPT-2's init scale
                if p.ndim == 2:
                    nn.init.normal_(p, std=0.02)

        def forward(self, idx, targets):
            T = idx.shape[1]
            x = self.drop(self.wte(idx) + self.wpe(lib.arange(T)))
            for block in self.h:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.T  # tied LM head
            return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))

    return GPT()


def build_mlp(lib):
    nn = lib.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                                     nn.ReLU(), nn.Linear(1024, 10))

        def forward(self, x, y):
            return nn.functional.cross_entropy(self.net(x), y)

    return MLP()


def make_optimizer(lib, model):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return lib.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                            {"params": no_decay, "weight_decay": 0.0}], lr=3e-4)


def step(model, opt, *batch):
    opt.zero_grad(set_to_none=True)
    loss = model(*batch)
    loss.backward()
    opt.step()
    return float(loss.item())


def bench(name, builder, make_batch, repeats, warmup=1):
    torch.manual_seed(0)
    t_model = builder(torch)
    e_model = builder(ember)
    e_model.load_state_dict({k: v.detach().numpy().copy() for k, v in
                             t_model.state_dict().items()})
    t_opt, e_opt = make_optimizer(torch, t_model), make_optimizer(ember, e_model)
    rng = np.random.default_rng(0)
    batches = [make_batch(rng) for _ in range(repeats + warmup)]
    t_times, e_times, t_losses, e_losses = [], [], [], []
    for i, batch in enumerate(batches):
        tb = [torch.from_numpy(b) for b in batch]
        eb = [ember.from_numpy(b) for b in batch]
        t0 = time.perf_counter()
        t_losses.append(step(t_model, t_opt, *tb))
        t1 = time.perf_counter()
        e_losses.append(step(e_model, e_opt, *eb))
        t2 = time.perf_counter()
        if i >= warmup:
            t_times.append(t1 - t0)
            e_times.append(t2 - t1)
    t_med, e_med = statistics.median(t_times), statistics.median(e_times)
    print(f"{name:<32} torch {t_med * 1e3:8.1f} ms   ember {e_med * 1e3:8.1f} ms   "
          f"ember/torch {e_med / t_med:5.2f}   (first loss torch {t_losses[0]:.5f} ember "
          f"{e_losses[0]:.5f}; median of {len(t_times)})")
    return e_med / t_med


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 blocks instead of 12 (smoke run)")
    ap.add_argument("--only", choices=["gpt", "gpt-dropout", "mlp"], default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    n_layer = 2 if args.quick else 12
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")

    def gpt_batch(rng):
        idx = rng.integers(0, 50257, (8, 129))
        return idx[:, :-1].copy(), idx[:, 1:].copy()

    def mlp_batch(rng):
        return rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256)

    if args.only in (None, "gpt"):
        bench(f"gpt2-small {n_layer}L, dropout 0", lambda lib: build_gpt(lib, n_layer=n_layer),
              gpt_batch, args.repeats)
    if args.only in (None, "gpt-dropout"):
        bench(f"gpt2-small {n_layer}L, dropout 0.1",
              lambda lib: build_gpt(lib, n_layer=n_layer, dropout=0.1), gpt_batch, args.repeats)
    if args.only in (None, "mlp"):
        bench("mlp 784-1024-1024-10, batch 256", build_mlp, mlp_batch, args.repeats * 4)


if __name__ == "__main__":
    main()
