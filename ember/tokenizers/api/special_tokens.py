"""Special tokens of a tokenizer: the named ones (``bos_token`` ... ``mask_token``, each with an
``*_id`` twin), the extra ones (``extra_special_tokens``, alias ``additional_special_tokens``) and
model-specific named ones from the config (e.g. ``image_token``), with transformers' semantics:
setting an attribute only records the token (``tok.pad_token = tok.eos_token``); adding it to the
vocabulary is ``add_special_tokens``'s job.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..added_vocabulary import AddedToken

__all__ = ["SPECIAL_TOKENS_ATTRIBUTES", "SpecialTokensMixin"]

SPECIAL_TOKENS_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                             "cls_token", "mask_token")


class _SpecialToken:
    """Descriptor for ``bos_token`` etc.: reads the token string (or None), sets str/AddedToken."""

    def __set_name__(self, owner, name: str):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = obj._special_tokens_map.get(self.name)
        return None if value is None else str(value)

    def __set__(self, obj, value) -> None:
        if value is not None and not isinstance(value, (str, AddedToken)):
            raise ValueError(f"Cannot set a non-string value as the {self.name}")
        obj._special_tokens_map[self.name] = value


class _SpecialTokenId:
    """Descriptor for ``bos_token_id`` etc.: the id of the token (unk id if out of vocabulary)."""

    def __set_name__(self, owner, name: str):
        self.name = name
        self.token = name.removesuffix("_id")

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = obj._special_tokens_map.get(self.token)
        return None if value is None else obj.convert_tokens_to_ids(str(value))

    def __set__(self, obj, value) -> None:
        token = None if value is None else obj.convert_ids_to_tokens(value)
        if value is not None and token is None:
            raise ValueError(f"Cannot set {self.name} to {value}: no token has this id")
        obj._special_tokens_map[self.token] = token


class SpecialTokensMixin:
    """Named and extra special tokens; needs ``convert_tokens_to_ids``/``convert_ids_to_tokens``
    and ``add_tokens`` from the class it is mixed into."""

    SPECIAL_TOKENS_ATTRIBUTES: tuple[str, ...] = SPECIAL_TOKENS_ATTRIBUTES

    bos_token = _SpecialToken()
    eos_token = _SpecialToken()
    unk_token = _SpecialToken()
    sep_token = _SpecialToken()
    pad_token = _SpecialToken()
    cls_token = _SpecialToken()
    mask_token = _SpecialToken()
    bos_token_id = _SpecialTokenId()
    eos_token_id = _SpecialTokenId()
    unk_token_id = _SpecialTokenId()
    sep_token_id = _SpecialTokenId()
    pad_token_id = _SpecialTokenId()
    cls_token_id = _SpecialTokenId()
    mask_token_id = _SpecialTokenId()

    def _init_special_tokens(self, kwargs: dict) -> None:
        """Take the special tokens out of ``kwargs`` (named, extra, and model-specific ``*_token``
        ones, e.g. ``image_token`` from a multimodal config)."""
        self._special_tokens_map: dict[str, str | AddedToken | None] = dict.fromkeys(
            SPECIAL_TOKENS_ATTRIBUTES)
        self._extra_special_tokens: list[str | AddedToken] = []
        self._model_specific: tuple[str, ...] = ()
        specific = dict(kwargs.pop("model_specific_special_tokens", None) or {})
        for key in list(kwargs):
            value = kwargs[key]
            if key in SPECIAL_TOKENS_ATTRIBUTES:
                kwargs.pop(key)
                if value is not None and not isinstance(value, (str, AddedToken)):
                    raise TypeError(f"Special token {key} has to be either str or AddedToken but "
                                    f"got: {type(value)}")
                self._special_tokens_map[key] = value
            elif key == "extra_special_tokens":
                kwargs.pop(key)
                if isinstance(value, dict):
                    specific.update(value)
                elif isinstance(value, (list, tuple)):
                    self._extra_special_tokens = list(value)
                elif value is not None:
                    raise TypeError("extra_special_tokens must be a list/tuple of tokens or a dict "
                                    "of named tokens")
            elif key.endswith("_token") and isinstance(value, (str, AddedToken)):
                specific[key] = kwargs.pop(key)
        for key, value in specific.items():
            if not isinstance(value, (str, AddedToken)):
                raise TypeError(f"Special token {key} has to be either str or AddedToken but got: "
                                f"{type(value)}")
            self._special_tokens_map[key] = value
        self._model_specific = tuple(specific)

    def __getattr__(self, key: str):
        # only model-specific named tokens (e.g. image_token / image_token_id) land here
        base = key.removesuffix("_id")
        specific = self.__dict__.get("_model_specific", ())
        if base in specific:
            value = self._special_tokens_map.get(base)
            if value is None:
                return None
            return self.convert_tokens_to_ids(str(value)) if key != base else str(value)
        raise AttributeError(f"{type(self).__name__} has no attribute {key}")

    # ---------------------------------------------------------------- extra special tokens
    @property
    def extra_special_tokens(self) -> list[str]:
        return [str(t) for t in self._extra_special_tokens]

    @extra_special_tokens.setter
    def extra_special_tokens(self, value: Sequence[str | AddedToken] | None) -> None:
        if value is not None and not isinstance(value, (list, tuple)):
            raise ValueError(f"extra_special_tokens must be a list or tuple, got {type(value)}")
        self._extra_special_tokens = [] if value is None else list(value)

    @property
    def extra_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.extra_special_tokens)

    # transformers 4.x name, still what most user code calls
    additional_special_tokens = extra_special_tokens
    additional_special_tokens_ids = extra_special_tokens_ids

    # ---------------------------------------------------------------- views
    @property
    def special_tokens_map(self) -> dict[str, str]:
        """Named special tokens that are set, as strings (extra ones are not included)."""
        return {k: str(v) for k, v in self._special_tokens_map.items() if v is not None}

    @property
    def special_tokens_map_extended(self) -> dict:
        """Like ``special_tokens_map`` but keeping AddedToken objects, plus the extra tokens."""
        out = {k: v for k, v in self._special_tokens_map.items() if v is not None}
        if self._extra_special_tokens:
            out["additional_special_tokens"] = list(self._extra_special_tokens)
        return out

    @property
    def all_special_tokens(self) -> list[str]:
        """Unique special tokens (named first, then extra) as strings."""
        seen: dict[str, None] = {}
        for v in [*self._special_tokens_map.values(), *self._extra_special_tokens]:
            if v is not None:
                seen.setdefault(str(v))
        return list(seen)

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    # ---------------------------------------------------------------- adding
    def add_special_tokens(self, special_tokens_dict: dict,
                           replace_extra_special_tokens: bool = True,
                           replace_additional_special_tokens: bool | None = None) -> int:
        """Set named special tokens (``{"pad_token": "[PAD]"}``) and/or the extra ones
        (``"additional_special_tokens"``/``"extra_special_tokens"``: a list), adding those missing
        from the vocabulary; returns how many tokens were new."""
        if not special_tokens_dict:
            return 0
        if replace_additional_special_tokens is not None:
            replace_extra_special_tokens = replace_additional_special_tokens
        special_tokens_dict = dict(special_tokens_dict)
        if "additional_special_tokens" in special_tokens_dict and \
                not special_tokens_dict.get("extra_special_tokens"):
            special_tokens_dict["extra_special_tokens"] = special_tokens_dict.pop(
                "additional_special_tokens")
        allowed = set(SPECIAL_TOKENS_ATTRIBUTES) | {"extra_special_tokens"}
        to_add: list[AddedToken] = []
        for key, value in special_tokens_dict.items():
            if key not in allowed:
                raise ValueError(f"Key {key} is not a valid special token. Valid keys are: "
                                 f"{sorted(allowed)}")
            if key == "extra_special_tokens":
                if not isinstance(value, (list, tuple)) or \
                        not all(isinstance(t, (str, AddedToken)) for t in value):
                    raise ValueError(f"Tokens {value} for key {key} should all be str or "
                                     "AddedToken instances")
                new = [_as_special(t) for t in value
                       if replace_extra_special_tokens or str(t) not in self.extra_special_tokens]
                if replace_extra_special_tokens and new:
                    self._extra_special_tokens = list(new)
                else:
                    self._extra_special_tokens.extend(new)
                to_add.extend(new)
            else:
                if not isinstance(value, (str, AddedToken)):
                    raise ValueError(f"Token {value} for key {key} should be a str or an "
                                     "AddedToken instance")
                value = _as_special(value)
                self._special_tokens_map[key] = value
                to_add.append(value)
        return self.add_tokens(to_add, special_tokens=True)


def _as_special(token: str | AddedToken) -> AddedToken:
    if isinstance(token, AddedToken):
        return token
    return AddedToken(token, rstrip=False, lstrip=False, normalized=False, special=True)
