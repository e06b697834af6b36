"""Reading and writing a tokenizer folder the way transformers does: ``tokenizer_config.json``
(init options, special tokens incl. AddedToken dicts, ``added_tokens_decoder``, chat template),
``special_tokens_map.json`` and ``added_tokens.json`` (legacy), ``chat_template.jinja`` and
``additional_chat_templates/*.jinja``. Only JSON and text are read; nothing is executed.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any

from ...utils.hub import resolve_pretrained_dir
from ..added_vocabulary import AddedToken
from ..serialization import TokenizerFormatError

__all__ = ["load_init_kwargs", "resolve_folder", "save_config_files"]

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"
CHAT_TEMPLATE_DIR = "additional_chat_templates"
_TOKENIZER_PATTERNS = ["*.json", "*.txt", "*.jinja", f"{CHAT_TEMPLATE_DIR}/*.jinja"]
# set at load time or describing the machine, not the tokenizer: never written back
_RUNTIME_KEYS = ("name_or_path", "is_local", "local_files_only", "backend", "files_loaded",
                 "special_tokens_map_file", "tokenizer_file", "vocab_file", "merges_file",
                 "added_tokens_file", "device_map", "slow_tokenizer_class", "tokenizer_object",
                 "model_specific_special_tokens", "vocab", "merges")


def resolve_folder(name_or_path, **kwargs) -> str:
    """The folder holding the tokenizer files (a local folder, the HF cache, or a download of the
    small tokenizer files only)."""
    path = os.fspath(name_or_path)
    if os.path.isfile(path):
        raise ValueError(f"from_pretrained({path!r}): pass the folder holding the tokenizer files, "
                         "not a single file")
    return resolve_pretrained_dir(path, allow_patterns=_TOKENIZER_PATTERNS, **kwargs)


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise TokenizerFormatError(f"{path} is not valid JSON: {e}") from None


def _added_token(d: Any, where: str) -> AddedToken:
    """An AddedToken from a config dict (``{"content": ..., "lstrip": ..., "__type": ...}``)."""
    if isinstance(d, AddedToken):
        return d
    if not isinstance(d, dict) or not isinstance(d.get("content"), str):
        raise TokenizerFormatError(f"{where}: expected an AddedToken object with a 'content' "
                                   f"string, got {d!r:.80}")
    known = {"content", "single_word", "lstrip", "rstrip", "normalized", "special"}
    unknown = set(d) - known - {"__type"}
    if unknown:
        raise TokenizerFormatError(f"{where}: unknown AddedToken field(s) {sorted(unknown)}")
    return AddedToken(**{k: v for k, v in d.items() if k in known})


def _convert_added_tokens(obj: Any, where: str) -> Any:
    """Turn ``{"__type": "AddedToken", ...}`` dicts (anywhere in the config) into AddedTokens."""
    if isinstance(obj, dict) and obj.get("__type") == "AddedToken":
        return _added_token(obj, where)
    if isinstance(obj, list):
        return [_convert_added_tokens(o, f"{where}[{i}]") for i, o in enumerate(obj)]
    if isinstance(obj, dict):
        return {k: _convert_added_tokens(v, f"{where}.{k}") for k, v in obj.items()}
    return obj


def _chat_templates(folder: str) -> dict[str, str]:
    out = {}
    main = os.path.join(folder, CHAT_TEMPLATE_FILE)
    if os.path.isfile(main):
        with open(main, encoding="utf-8") as f:
            out["default"] = f.read()
    extra = os.path.join(folder, CHAT_TEMPLATE_DIR)
    if os.path.isdir(extra):
        for name in sorted(os.listdir(extra)):
            if name.endswith(".jinja"):
                with open(os.path.join(extra, name), encoding="utf-8") as f:
                    out[name.removesuffix(".jinja")] = f.read()
    return out


def load_init_kwargs(cls, folder: str, kwargs: dict) -> tuple[dict, tuple]:
    """The keyword arguments ``cls(**...)`` needs to rebuild the tokenizer saved in ``folder``
    (user ``kwargs`` override the config), and the saved positional ``init_inputs``."""
    config_path = os.path.join(folder, TOKENIZER_CONFIG_FILE)
    init = _read_json(config_path) if os.path.isfile(config_path) else {}
    if not isinstance(init, dict):
        raise TokenizerFormatError(f"{config_path}: expected a JSON object")
    init.pop("tokenizer_class", None)
    init.pop("auto_map", None)  # remote code is never run
    saved_inputs = tuple(init.pop("init_inputs", ()))
    files = {name: os.path.join(folder, fname) for name, fname in
             {**cls.vocab_files_names, "tokenizer_file": TOKENIZER_FILE}.items()}
    files = {k: v for k, v in files.items() if os.path.isfile(v)}
    if "tokenizer_file" in files:
        # the backend file decides these (transformers ignores them next to a tokenizer.json)
        init.pop("add_bos_token", None)
        init.pop("add_eos_token", None)
    templates = _chat_templates(folder)  # the separate files win over the config entry
    if templates:
        init["chat_template"] = templates["default"] if list(templates) == ["default"] \
            else templates
    init.update(kwargs)
    if "additional_special_tokens" in init and not init.get("extra_special_tokens"):
        init["extra_special_tokens"] = init.pop("additional_special_tokens")
    init = _convert_added_tokens(init, TOKENIZER_CONFIG_FILE)

    decoder: dict[int, AddedToken] = {}
    if "added_tokens_decoder" in init:
        raw = init["added_tokens_decoder"]
        if not isinstance(raw, dict):
            raise TokenizerFormatError(f"{config_path}: added_tokens_decoder must be an object "
                                       "mapping ids to AddedToken objects")
        for idx, tok in raw.items():
            try:
                decoder[int(idx)] = _added_token(tok, f"{TOKENIZER_CONFIG_FILE}."
                                                      f"added_tokens_decoder.{idx}")
            except ValueError as e:
                raise TokenizerFormatError(str(e)) from None
    else:
        decoder = _legacy_added_tokens(folder, init, kwargs, files.get("tokenizer_file"))
    init["added_tokens_decoder"] = decoder
    by_content = {t.content: t for t in decoder.values()}
    for key in cls.SPECIAL_TOKENS_ATTRIBUTES:  # keep the AddedToken flags of named tokens
        if init.get(key) is not None and by_content:
            init[key] = by_content.get(str(init[key]), init[key])
    for key, path in files.items():
        if kwargs.get(key) is None:
            init[key] = path
    return init, saved_inputs


def _legacy_added_tokens(folder: str, init: dict, kwargs: dict,
                         tokenizer_file: str | None) -> dict[int, AddedToken]:
    """Special tokens from special_tokens_map.json, added tokens from added_tokens.json and the
    tokenizer.json's ``added_tokens`` (folders written before ``added_tokens_decoder``)."""
    path = os.path.join(folder, SPECIAL_TOKENS_MAP_FILE)
    if os.path.isfile(path):
        smap = _read_json(path)
        for key, value in smap.items():
            if kwargs.get(key):
                continue  # the caller's value wins
            if key in ("additional_special_tokens", "extra_special_tokens") and \
                    isinstance(value, list):
                existing = list(init.get("extra_special_tokens") or [])
                for tok in value:
                    if isinstance(tok, dict):
                        tok = _added_token({**tok, "special": True}, f"{path}.{key}")
                    if tok not in existing:
                        existing.append(tok)
                init["extra_special_tokens"] = existing
            elif isinstance(value, dict):
                init[key] = _added_token({**value, "special": True}, f"{path}.{key}")
            else:
                init[key] = value
    decoder: dict[int, AddedToken] = {}
    path = os.path.join(folder, ADDED_TOKENS_FILE)
    if os.path.isfile(path):
        special = {str(init[k]) for k in ("bos_token", "eos_token", "unk_token", "sep_token",
                                          "pad_token", "cls_token", "mask_token") if init.get(k)}
        special.update(str(t) for t in init.get("extra_special_tokens") or [])
        for content, idx in _read_json(path).items():
            decoder[int(idx)] = AddedToken(content, normalized=content not in special,
                                           special=content in special)
    if tokenizer_file is not None:
        for d in _read_json(tokenizer_file).get("added_tokens") or []:
            d = dict(d)
            idx = d.pop("id")  # popped first: the right-hand side is evaluated before the key
            decoder[idx] = _added_token(d, f"{tokenizer_file}.added_tokens")
    return decoder


# ---------------------------------------------------------------- writing
def _token_dict(tok: AddedToken, form: str = "decoder") -> dict:
    """``form``: "config" (with ``__type``), "decoder" (added_tokens_decoder entries) or "map"
    (special_tokens_map.json: no ``special``, which its readers set themselves)."""
    d = {"content": tok.content, "lstrip": tok.lstrip, "normalized": tok.normalized,
         "rstrip": tok.rstrip, "single_word": tok.single_word}
    if form == "map":
        return d
    d["special"] = tok.special
    return {"__type": "AddedToken", **d} if form == "config" else d


def _jsonable(obj: Any, form: str = "config") -> Any:
    if isinstance(obj, AddedToken):
        return _token_dict(obj, form)
    if isinstance(obj, (list, tuple)):
        return [_jsonable(o, form) for o in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v, form) for k, v in obj.items()}
    return obj


def _write_json(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def save_config_files(tok, folder: str, prefix: str | None,
                      save_jinja_files: bool = True) -> tuple[str, ...]:
    """Write tokenizer_config.json, special_tokens_map.json and the chat template files."""
    pre = f"{prefix}-" if prefix else ""
    written: list[str] = []
    config = copy.deepcopy(tok.init_kwargs)
    for k in list(config):
        if k in _RUNTIME_KEYS or k in tok.vocab_files_names or k.startswith("_"):
            config.pop(k)
        elif k in ("padding_side", "truncation_side", "model_input_names",
                   "clean_up_tokenization_spaces", "split_special_tokens"):
            config[k] = getattr(tok, k)
    config.pop("add_bos_token", None)
    config.pop("add_eos_token", None)
    config.pop("extra_special_tokens", None)
    # user-settable after loading: always written, so a reload gets what was set
    for key in ("model_max_length", "padding_side", "truncation_side",
                "clean_up_tokenization_spaces"):
        config[key] = getattr(tok, key)
    for key in tok.SPECIAL_TOKENS_ATTRIBUTES:
        config.pop(key, None)
    config.update(tok.special_tokens_map)
    if tok.extra_special_tokens:
        # the 4.x name: transformers 5 reads it too, 4.x would misread a list "extra_special_tokens"
        config["additional_special_tokens"] = tok.extra_special_tokens
    template = tok.chat_template
    config.pop("chat_template", None)
    if isinstance(template, str) and save_jinja_files:
        path = os.path.join(folder, pre + CHAT_TEMPLATE_FILE)
        with open(path, "w", encoding="utf-8") as f:
            f.write(template)
        written.append(path)
    elif isinstance(template, dict) and save_jinja_files:
        for name, text in template.items():
            if name == "default":
                path = os.path.join(folder, pre + CHAT_TEMPLATE_FILE)
            else:
                if os.path.basename(name) != name or name.startswith("."):
                    raise ValueError(f"Invalid chat template name: {name!r}")
                os.makedirs(os.path.join(folder, pre + CHAT_TEMPLATE_DIR), exist_ok=True)
                path = os.path.join(folder, pre + CHAT_TEMPLATE_DIR, f"{name}.jinja")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            written.append(path)
    elif isinstance(template, dict):
        config["chat_template"] = [{"name": k, "template": v} for k, v in template.items()]
    elif template is not None:
        config["chat_template"] = template
    config = _jsonable(config)
    config["added_tokens_decoder"] = {str(i): _token_dict(t)
                                      for i, t in sorted(tok.added_tokens_decoder.items())}
    config["tokenizer_class"] = tok.saved_class_name()
    path = os.path.join(folder, pre + TOKENIZER_CONFIG_FILE)
    _write_json(path, config)
    smap_path = os.path.join(folder, pre + SPECIAL_TOKENS_MAP_FILE)
    _write_json(smap_path, _jsonable(tok.special_tokens_map_extended, "map"))
    return (path, smap_path, *written)
