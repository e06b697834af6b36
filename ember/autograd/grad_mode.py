"""Grad mode: whether ops record the graph. Context managers that double as decorators."""
from __future__ import annotations

import copy
import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    """True when new ops are recorded for backward (the default)."""
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class _GradMode:
    """Sets grad mode on enter and restores the previous state on exit; usable as a decorator."""

    _target: bool = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self._target)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with copy.copy(self):  # a fresh copy per call keeps recursion and threads safe
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable graph recording: ``with ember.no_grad(): ...`` or ``@ember.no_grad()``."""

    _target = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    _target = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; as a plain call it takes effect at once, as in torch."""

    def __init__(self, mode: bool):
        self._prev = is_grad_enabled()
        self._target = bool(mode)
        _set(self._target)

    def __enter__(self):
        return self  # the mode was set by __init__; __exit__ restores the one before it


class inference_mode(_GradMode):
    """``inference_mode()`` (or ``inference_mode(True)``) disables recording like ``no_grad``.

    ember keeps no per-tensor bookkeeping that inference mode could skip, so the two are
    equivalent here; ``inference_mode(False)`` leaves the current mode unchanged.
    """

    def __init__(self, mode: bool = True):
        self._mode = bool(mode)

    def __enter__(self):
        self._target = False if self._mode else is_grad_enabled()
        return super().__enter__()
