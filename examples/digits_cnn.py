"""A small convolutional network for scikit-learn's bundled 8x8 handwritten digits, in ember.

Shows ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.ReLU``, ``nn.Flatten`` and ``nn.Linear`` composed in
an ``nn.Module``, trained with ``DataLoader``, ``F.cross_entropy`` and ``optim.Adam`` exactly as
in torch. Images are (1, 8, 8); no download is needed. A full run (15 epochs, several seconds)
reaches 97.8-99.2% test accuracy depending on the seed (99.2% with the default seed 0).

Run:  python examples/digits_cnn.py [--epochs 15] [--channels 16] [--lr 0.003] [--seed 0]
"""
from __future__ import annotations

import sys
from pathlib import Path

import ember
from ember import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_mlp import arg_parser, train  # noqa: E402  (the data and training loop are shared)


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


def main(argv: list[str] | None = None) -> dict:
    p = arg_parser(__doc__, epochs=15)
    p.add_argument("--channels", type=int, default=16)
    args = p.parse_args(argv)
    ember.manual_seed(args.seed)
    return train("CNN", DigitsCNN(channels=args.channels), args, image=True)


if __name__ == "__main__":
    main()
