"""``ember.nn.utils``."""
from __future__ import annotations

from .clip_grad import *  # noqa: F401,F403
