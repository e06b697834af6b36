"""Trainer checkpoints: ``output_dir/checkpoint-<step>/`` folders, written atomically, with no
pickle anywhere.

A checkpoint holds::

    config.json, model.safetensors, ...   the model (save_pretrained), plus the tokenizer if any
    optimizer.safetensors                 per-parameter state as "state.<index>.<key>" tensors;
                                          param groups (JSON) in the safetensors metadata
    scheduler.json                        the LR scheduler's state_dict()
    rng_state.json                        Python ``random``, NumPy's global and ember's generator
    trainer_state.json                    TrainerState (transformers' layout)
    training_args.json                    TrainingArguments.to_dict()

Everything is written into a hidden temporary folder in ``output_dir`` that is renamed into place
(``os.replace``) once complete, so a crash never leaves a partial ``checkpoint-<step>``; leftover
temporary folders are ignored by ``get_last_checkpoint`` and removed by the next save.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import random as ember_random
from ..autograd.tensor import Tensor
from ..models.safetensors_io import load_checkpoint, load_file, load_metadata, save_file

__all__ = ["OPTIMIZER_NAME", "PREFIX_CHECKPOINT_DIR", "RNG_STATE_NAME", "SCHEDULER_NAME",
           "TRAINER_STATE_NAME", "TRAINING_ARGS_NAME", "atomic_checkpoint_dir",
           "clean_stale_checkpoint_dirs", "get_last_checkpoint", "load_model_weights",
           "load_optimizer_state", "load_rng_state", "load_scheduler_state",
           "rotate_checkpoints", "save_optimizer_state", "save_rng_state",
           "save_scheduler_state", "sort_checkpoints"]

logger = logging.getLogger("ember.trainer")

PREFIX_CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE_NAME = "trainer_state.json"
TRAINING_ARGS_NAME = "training_args.json"
OPTIMIZER_NAME = "optimizer.safetensors"
SCHEDULER_NAME = "scheduler.json"
RNG_STATE_NAME = "rng_state.json"

_re_checkpoint = re.compile(r"^" + PREFIX_CHECKPOINT_DIR + r"\-(\d+)$")
# hidden names, so transformers' "checkpoint-*" globs and ours never see them
_re_stale = re.compile(r"^\.(tmp|old)-" + PREFIX_CHECKPOINT_DIR + r"-\d+-[0-9a-f]+$")


# ---------------------------------------------------------------------------- folders
def get_last_checkpoint(folder: str) -> str | None:
    """The complete ``checkpoint-<step>`` folder with the highest step in ``folder``, or None.
    Complete means it has ``trainer_state.json``, the last file a save writes."""
    if not os.path.isdir(folder):
        return None
    found = [p for p in os.listdir(folder) if _re_checkpoint.search(p)
             and os.path.isfile(os.path.join(folder, p, TRAINER_STATE_NAME))]
    if not found:
        return None
    return os.path.join(folder, max(found, key=lambda p: int(_re_checkpoint.search(p)[1])))


def sort_checkpoints(output_dir: str, best_model_checkpoint: str | None = None) -> list[str]:
    """``checkpoint-<step>`` folders, oldest step first; the best one (if given) is moved next to
    last, so rotation spares it while the newest stays last for resuming."""
    found = []
    for p in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        m = _re_checkpoint.search(p.name)
        if m and p.is_dir():
            found.append((int(m[1]), str(p)))
    ordered = [p for _, p in sorted(found)]
    if best_model_checkpoint is not None:
        best = str(Path(best_model_checkpoint))
        if best in ordered and ordered[-1] != best:
            newest = ordered[-1]
            ordered = [c for c in ordered if c not in (best, newest)] + [best, newest]
    return ordered


def rotate_checkpoints(output_dir: str, save_total_limit: int | None = None,
                       best_model_checkpoint: str | None = None) -> list[str]:
    """Delete the oldest checkpoints beyond ``save_total_limit``, never the newest nor the best;
    returns the deleted paths."""
    if save_total_limit is None or save_total_limit <= 0:
        return []
    checkpoints = sort_checkpoints(output_dir)
    if len(checkpoints) <= save_total_limit:
        return []
    protected = {checkpoints[-1]}
    if best_model_checkpoint is not None:
        protected.add(str(Path(best_model_checkpoint)))
    keep = max(save_total_limit, len(protected))
    remaining = len(checkpoints)
    deleted = []
    for ckpt in checkpoints:
        if remaining <= keep:
            break
        if ckpt not in protected:
            logger.info("Deleting older checkpoint [%s] due to args.save_total_limit", ckpt)
            shutil.rmtree(ckpt, ignore_errors=True)
            deleted.append(ckpt)
            remaining -= 1
    return deleted


def clean_stale_checkpoint_dirs(output_dir: str) -> list[str]:
    """Remove temporary folders left by a save that crashed; returns their paths."""
    if not os.path.isdir(output_dir):
        return []
    removed = []
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        if _re_stale.match(name) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_checkpoint_dir(output_dir: str, name: str) -> Iterator[str]:
    """Yield a fresh temporary folder in ``output_dir``; when the block finishes, rename it to
    ``output_dir/name`` (replacing an older folder of that name). If the block raises, the
    temporary folder is removed and ``name`` is left as it was."""
    os.makedirs(output_dir, exist_ok=True)
    token = secrets.token_hex(4)
    tmp = os.path.join(output_dir, f".tmp-{name}-{token}")
    final = os.path.join(output_dir, name)
    os.makedirs(tmp)
    try:
        yield tmp
        for f in os.listdir(tmp):  # data on disk before the rename makes it visible
            p = os.path.join(tmp, f)
            if os.path.isfile(p):
                with open(p, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(tmp)
        old = None
        if os.path.exists(final):  # os.replace cannot replace a non-empty folder
            old = os.path.join(output_dir, f".old-{name}-{token}")
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(output_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------- model
def load_model_weights(model, folder: str) -> None:
    """Copy the weights saved in ``folder`` into ``model``'s parameters in place (so optimizers
    holding them stay valid). Tied weights may be absent; anything else missing is an error."""
    state = load_checkpoint(folder, mmap=False)
    if hasattr(model, "_rename_checkpoint_keys"):
        own = set(model.state_dict())
        names = model._rename_checkpoint_keys(list(state), own)
        state = {names[k]: v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = model._tied_targets() if hasattr(model, "_tied_targets") else set()
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise RuntimeError(f"checkpoint {folder} does not match {type(model).__name__}: missing "
                           f"{missing}, unexpected {unexpected}")


# ---------------------------------------------------------------------------- optimizer
def _to_array(value: Any) -> np.ndarray | None:
    if isinstance(value, Tensor):
        return np.array(value.data, copy=True)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.array(value, copy=True)
    return None


def _jsonable(obj: Any) -> Any:
    """``obj`` with tuples as lists and NumPy scalars as Python numbers; TypeError otherwise."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Tensor) and obj.numel() == 1:
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint as JSON")


def save_optimizer_state(optimizer, path: str) -> None:
    """``optimizer.state_dict()`` as safetensors: each tensor state value as
    ``state.<param index>.<key>`` (``step`` as a 0-d tensor), the param groups and any
    non-tensor state values as JSON metadata."""
    sd = optimizer.state_dict()
    tensors: dict[str, np.ndarray] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, st in sd["state"].items():
        for key, value in st.items():
            arr = _to_array(value)
            if arr is None:
                scalars.setdefault(str(index), {})[key] = _jsonable(value)
            else:
                tensors[f"state.{index}.{key}"] = arr
    meta = {"format": "ember-optimizer", "optimizer": type(optimizer).__name__,
            "param_groups": json.dumps(_jsonable(sd["param_groups"])),
            "scalars": json.dumps(scalars)}
    save_file(tensors, path, metadata=meta)


def load_optimizer_state(optimizer, path: str) -> None:
    """Restore what ``save_optimizer_state`` wrote (values copied exactly)."""
    meta = load_metadata(path)
    arrays = load_file(path, mmap=False)
    groups = json.loads(meta["param_groups"])
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    state: dict[int, dict[str, Any]] = {}
    for name, arr in arrays.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = arr
    for index, values in json.loads(meta.get("scalars", "{}")).items():
        state.setdefault(int(index), {}).update(values)
    saved = meta.get("optimizer")
    if saved and saved != type(optimizer).__name__:
        logger.warning("loading %s state into a %s", saved, type(optimizer).__name__)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ---------------------------------------------------------------------------- scheduler
def _write_json(obj: Any, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def save_scheduler_state(scheduler, path: str) -> None:
    _write_json(_jsonable(scheduler.state_dict()), path)


def load_scheduler_state(scheduler, path: str) -> None:
    with open(path, encoding="utf-8") as f:
        sd = json.load(f)
    scheduler.load_state_dict(sd)


# ---------------------------------------------------------------------------- RNG
def save_rng_state(path: str) -> None:
    """Python's ``random``, NumPy's global generator and ember's default generator."""
    py = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    _write_json({"python": [py[0], list(py[1]), py[2]],
                 "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
                 "ember": ember_random.get_rng_state()}, path)


def load_rng_state(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        st = json.load(f)
    version, internal, gauss = st["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = st["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    ember_random.set_rng_state(st["ember"])
