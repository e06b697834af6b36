"""TODO: nn.init."""
from __future__ import annotations
