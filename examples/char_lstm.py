"""A character-level LSTM language model, trained with backpropagation through time, in ember.

The text is the Python documentation that ships with every CPython
(``pydoc_data.topics.topics``, about 465k characters), so nothing is downloaded. Shows a
map-style ``Dataset`` returning NumPy arrays (collated into int64 batches by the
``DataLoader``), ``nn.Embedding`` -> ``nn.LSTM(batch_first=True)`` -> ``nn.Linear``, BPTT over
``--seq-len`` steps, ``clip_grad_norm_``, ``optim.Adam``, and sampling text with
``ember.multinomial``. It prints the held-out loss before and after training (in nats per
character; ln(vocab) ~ 4.6 is chance) and a generated sample. A full run (1500 steps, about
6 minutes on 2 busy cores) takes the held-out loss from 4.63 to 1.10 nats/char.

Run:  python examples/char_lstm.py [--steps 1500] [--hidden 256] [--seq-len 64] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import time
from pydoc_data.topics import topics

import numpy as np

import ember
import ember.nn.functional as F
from ember import nn
from ember.data import DataLoader, Dataset


class CharChunks(Dataset):
    """Item i: (ids[i*T : (i+1)*T], the same shifted by one), as int64 arrays of length T."""

    def __init__(self, ids: np.ndarray, seq_len: int):
        self.ids, self.seq_len = ids, seq_len

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.seq_len

    def __getitem__(self, i: int):
        s = i * self.seq_len
        return self.ids[s:s + self.seq_len], self.ids[s + 1:s + self.seq_len + 1]


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, embed: int = 64, hidden: int = 256, layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):           # x: (B, T) character ids
        h, state = self.lstm(self.embed(x), state)   # (B, T, hidden)
        return self.head(h), state              # (B, T, vocab) logits, (h_n, c_n)


def load_text(n_chars: int) -> str:
    text = "".join(topics[k] for k in sorted(topics))
    return text[:n_chars] if n_chars > 0 else text


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    """Mean cross-entropy per character (nats) over the loader."""
    model.eval()
    total = count = 0.0
    with ember.no_grad():
        for x, y in loader:
            logits, _ = model(x)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    return total / count


def sample(model: nn.Module, prompt: str, n: int, stoi: dict, itos: list, temperature: float,
           generator: ember.Generator) -> str:
    """Continue ``prompt`` by ``n`` characters drawn one at a time, carrying the LSTM state."""
    model.eval()
    out = list(prompt)
    with ember.no_grad():
        x = ember.tensor([[stoi[c] for c in prompt]])           # (1, len(prompt))
        state = None
        for _ in range(n):
            logits, state = model(x, state)
            probs = F.softmax(logits[0, -1] / temperature, dim=-1)   # (vocab,)
            nxt = ember.multinomial(probs, 1, generator=generator).item()
            out.append(itos[nxt])
            x = ember.tensor([[nxt]])
    return "".join(out)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--chars", type=int, default=0, help="use the first N characters (0: all)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0, help="max grad norm (0: off)")
    p.add_argument("--eval-chars", type=int, default=20000, help="held-out characters")
    p.add_argument("--sample-chars", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100)
    args = p.parse_args(argv)

    ember.manual_seed(args.seed)
    text = load_text(args.chars)
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    ids = np.array([stoi[c] for c in text], dtype=np.int64)
    held_out = ids[-args.eval_chars:]             # the end of the text, never trained on
    train_loader = DataLoader(CharChunks(ids[:-args.eval_chars], args.seq_len),
                              batch_size=args.batch_size, shuffle=True, drop_last=True)
    eval_loader = DataLoader(CharChunks(held_out, args.seq_len), batch_size=64)

    model = CharLSTM(len(itos), args.embed, args.hidden, args.layers)
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    initial = evaluate(model, eval_loader)
    print(f"{len(text)} characters, vocabulary {len(itos)} (chance: {math.log(len(itos)):.3f} "
          f"nats), {len(train_loader)} batches per epoch")
    print(f"step     0  held-out loss {initial:.4f}")

    start, step, running = time.perf_counter(), 0, []
    while step < args.steps:
        model.train()
        for x, y in train_loader:                # x, y: (B, T) int64
            logits, _ = model(x)                 # BPTT through all T steps of the LSTM
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            running.append(loss.item())
            step += 1
            if step % args.log_every == 0 or step == args.steps:
                print(f"step {step:5d}  train loss {np.mean(running[-args.log_every:]):.4f}  "
                      f"{time.perf_counter() - start:.0f}s")
            if step == args.steps:
                break

    final = evaluate(model, eval_loader)
    seconds = time.perf_counter() - start
    text_out = sample(model, "The ", args.sample_chars, stoi, itos, args.temperature,
                      ember.Generator().manual_seed(args.seed))
    print(f"char LSTM: held-out loss {initial:.4f} -> {final:.4f} nats/char after {step} steps, "
          f"{seconds:.0f}s")
    print("sample:\n" + text_out)
    return {"initial_loss": initial, "final_loss": final, "steps": step, "seconds": seconds,
            "sample": text_out}


if __name__ == "__main__":
    main()
