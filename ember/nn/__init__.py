"""``ember.nn``: modules, parameters, functional layers, init, utils."""
from __future__ import annotations

from . import functional, init, utils  # noqa: F401
from .module import Module  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parameter import Buffer, Parameter  # noqa: F401
