"""``ember.data``: datasets and loaders (TODO)."""
from __future__ import annotations
