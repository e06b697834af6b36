"""Random number generation: a default generator, ``manual_seed`` and ``Generator`` objects.

ember draws from NumPy's PCG64; the same seed gives the same numbers in ember, not the numbers
torch would give.
"""
from __future__ import annotations

import numpy as np


class Generator:
    """``ember.Generator().manual_seed(0)``: an independent random stream."""

    def __init__(self, device="cpu"):
        self._seed = np.random.SeedSequence().entropy % (2 ** 63)
        self.rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = np.random.SeedSequence().entropy % (2 ** 63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed ember's default generator (everything random in ember draws from it by default)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _gen(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).rng
