"""``ember.optim``: optimizers and learning-rate schedules (TODO)."""
from __future__ import annotations
