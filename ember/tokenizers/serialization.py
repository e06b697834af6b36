"""tokenizer.json plumbing: component registries and strict field checking.

Every pipeline component is a class registered under its HF ``"type"`` name with ``to_dict()``
(the exact JSON HF writes) and ``from_dict(d, path)``. Reading is strict: an unknown ``type`` or an
unexpected field raises ``TokenizerFormatError`` naming the JSON path, so nothing is silently
dropped.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Registry", "TokenizerFormatError", "fields"]


class TokenizerFormatError(ValueError):
    """A tokenizer.json (or one of its components) is malformed; the message names the field."""


class Registry:
    """Maps HF ``"type"`` names to component classes of one kind (normalizer, decoder, ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.classes: dict[str, type] = {}

    def register(self, name: str):
        def deco(cls):
            cls.type_name = name
            self.classes[name] = cls
            return cls
        return deco

    def from_dict(self, d: Any, path: str):
        """Build the component described by ``d`` (None stays None)."""
        if d is None:
            return None
        if not isinstance(d, dict):
            raise TokenizerFormatError(f"{path}: expected an object describing a {self.kind}, "
                                       f"got {type(d).__name__}")
        t = d.get("type")
        if t is None:
            raise TokenizerFormatError(f"{path}.type: missing (every {self.kind} names its type)")
        cls = self.classes.get(t)
        if cls is None:
            known = ", ".join(sorted(self.classes))
            raise TokenizerFormatError(f"{path}.type: unknown {self.kind} type {t!r} (ember "
                                       f"supports: {known})")
        return cls.from_dict(d, path)


def fields(d: dict, path: str, required: tuple = (), optional: dict | None = None) -> dict:
    """Check ``d``'s keys: every ``required`` key present, nothing beyond ``required``,
    ``optional`` and ``"type"``. Returns the values, optional ones defaulted."""
    optional = optional or {}
    unknown = [k for k in d if k != "type" and k not in required and k not in optional]
    if unknown:
        raise TokenizerFormatError(f"{path}: unknown field(s) {', '.join(map(repr, unknown))} "
                                   f"for type {d.get('type')!r}")
    missing = [k for k in required if k not in d]
    if missing:
        raise TokenizerFormatError(f"{path}: missing field(s) {', '.join(map(repr, missing))} "
                                   f"for type {d.get('type')!r}")
    out = {k: d[k] for k in required}
    for k, default in optional.items():
        out[k] = d.get(k, default)
    return out


def expect(value: Any, types, path: str) -> Any:
    """``value`` if it is an instance of ``types``, else a TokenizerFormatError naming ``path``."""
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,))):
        names = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TokenizerFormatError(f"{path}: expected {names}, got {type(value).__name__} "
                                   f"{value!r:.60}")
    return value
