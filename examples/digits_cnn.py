"""A small convolutional network for scikit-learn's bundled 8x8 handwritten digits, in ember.

Shows ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.ReLU``, ``nn.Flatten`` and ``nn.Linear`` composed in
an ``nn.Module``, trained with ``DataLoader``, ``F.cross_entropy`` and ``optim.Adam`` exactly as
in torch. Images are (1, 8, 8); no download is needed. A full run (15 epochs, several seconds)
reaches 97.8-99.2% test accuracy depending on the seed (99.2% with the default seed 0).

Run:  python examples/digits_cnn.py [--epochs 15] [--channels 16] [--lr 0.003] [--seed 0]
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


class DigitsCNN(nn.Module):
    def __init__(self, channels: int = 16, n_classes: int = 10):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, kernel_size=3, padding=1),       # (B, c, 8, 8)
            nn.ReLU(),
            nn.MaxPool2d(2),                                 # (B, c, 4, 4)
            nn.Conv2d(c, 2 * c, kernel_size=3, padding=1),   # (B, 2c, 4, 4)
            nn.ReLU(),
            nn.MaxPool2d(2),                                 # (B, 2c, 2, 2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                    # (B, 8c)
            nn.Linear(2 * c * 2 * 2, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),                        # (B, 10) logits
        )

    def forward(self, x):                                    # x: (B, 1, 8, 8) in [0, 1]
        return self.classifier(self.features(x))


def digits_datasets(seed: int, test_fraction: float = 0.2):
    """The 1797 digits as (train, test) datasets of (image (1, 8, 8), label) pairs."""
    d = load_digits()
    x = ember.tensor((d.images / 16.0).astype(np.float32)).unsqueeze(1)   # (1797, 1, 8, 8)
    y = ember.tensor(d.target.astype(np.int64))                            # (1797,)
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


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    args = p.parse_args(argv)

    ember.manual_seed(args.seed)
    train_set, test_set = digits_datasets(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = DigitsCNN(channels=args.channels)
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
    print(f"digits CNN: test accuracy {result['test_accuracy']:.4f} on {len(test_set)} images, "
          f"final train loss {train_loss:.4f}, {result['seconds']:.1f}s")
    return result


if __name__ == "__main__":
    main()
