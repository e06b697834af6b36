"""A feed-forward classifier for scikit-learn's bundled 8x8 handwritten digits, in ember.

Shows the everyday torch workflow with only the import changed: an ``nn.Module`` subclass,
``TensorDataset`` + ``random_split`` + ``DataLoader(shuffle=True)``, ``F.cross_entropy``,
``optim.Adam``, ``model.train()/eval()`` and ``no_grad()`` for evaluation. The data ships with
scikit-learn (no download). A full run (30 epochs, a few seconds) reaches 97-99.7% test
accuracy depending on the seed (99.7% with the default seed 0).

Run:  python examples/digits_mlp.py [--epochs 30] [--hidden 128] [--lr 0.003] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

import ember
import ember.nn.functional as F
from ember import nn
from ember.data import DataLoader, TensorDataset, random_split


class MLP(nn.Module):
    def __init__(self, n_in: int = 64, hidden: int = 128, n_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x):                       # x: (B, 64) pixels in [0, 1]
        x = F.relu(self.fc1(x))                 # (B, hidden)
        x = F.relu(self.fc2(x))                 # (B, hidden)
        return self.out(x)                      # (B, 10) logits


def digits_datasets(seed: int, test_fraction: float = 0.2, image: bool = False):
    """The 1797 digits as (train, test) datasets of (pixels, label) pairs; pixels are (64,), or
    (1, 8, 8) with ``image=True``."""
    d = load_digits()
    x = ember.tensor((d.data / 16.0).astype(np.float32))     # (1797, 64)
    if image:
        x = x.view(-1, 1, 8, 8)                                # (1797, 1, 8, 8)
    y = ember.tensor(d.target.astype(np.int64))                # (1797,)
    split = ember.Generator().manual_seed(seed)
    return random_split(TensorDataset(x, y), [1 - test_fraction, test_fraction], generator=split)


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with ember.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def train(name: str, model: nn.Module, args, image: bool = False) -> dict:
    """Train ``model`` on the digits with Adam and report its test accuracy."""
    train_set, test_set = digits_datasets(args.seed, image=image)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        train_loss = total / len(train_set)
        if not args.quiet:
            print(f"epoch {epoch:3d}  train loss {train_loss:.4f}  "
                  f"test acc {accuracy(model, test_loader):.4f}")

    result = {"test_accuracy": accuracy(model, test_loader), "train_loss": train_loss,
              "epochs": args.epochs, "seconds": time.perf_counter() - start}
    print(f"digits {name}: test accuracy {result['test_accuracy']:.4f} on {len(test_set)} images, "
          f"final train loss {train_loss:.4f}, {result['seconds']:.1f}s")
    return result


def arg_parser(doc: str, epochs: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    return p


def main(argv: list[str] | None = None) -> dict:
    p = arg_parser(__doc__, epochs=30)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args(argv)
    ember.manual_seed(args.seed)             # weights and the shuffling order
    return train("MLP", MLP(hidden=args.hidden), args)


if __name__ == "__main__":
    main()
