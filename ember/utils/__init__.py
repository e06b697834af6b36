"""``ember.utils.data`` is ``ember.data``, so ``from torch.utils.data import DataLoader`` ports."""
from __future__ import annotations

import sys

from .. import data  # noqa: F401

sys.modules[__name__ + ".data"] = data
