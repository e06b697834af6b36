"""Where ``from_pretrained(name_or_path)`` finds its files, shared by tokenizers and models.

In order: a local folder; else the local Hugging Face cache
(``$HF_HUB_CACHE``, default ``$HF_HOME/hub``, default ``~/.cache/huggingface/hub``), laid out as
``models--org--name/refs/<revision>`` (a commit hash) and ``models--org--name/snapshots/<commit>/``;
else, only when the optional ``huggingface_hub`` is importable and neither ``local_files_only`` nor
``HF_HUB_OFFLINE`` forbids it, a download into that cache. Otherwise a ``ModelNotFoundError`` lists
every place tried. Nothing found here is executed or unpickled: callers read JSON, text and
safetensors only.

Example::

    folder = resolve_pretrained_dir("sentence-transformers/all-MiniLM-L6-v2")
    # -> ~/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/<sha>
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence

__all__ = ["ModelNotFoundError", "cached_snapshot", "hf_hub_cache", "is_offline_mode",
           "resolve_pretrained_dir"]

_TRUE = {"1", "on", "yes", "true"}
_COMMIT = re.compile(r"[0-9a-f]{40}")
# HF repo ids: "name" or "org/name", letters, digits, '-', '_', '.'
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class ModelNotFoundError(OSError):
    """No folder, cache entry or download provided the requested model files."""


def is_offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) set to 1/on/yes/true."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hf_hub_cache(cache_dir: str | os.PathLike | None = None) -> str:
    """The hub cache folder: ``cache_dir`` if given, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``
    (``HF_HOME`` defaulting to ``$XDG_CACHE_HOME/huggingface`` or ``~/.cache/huggingface``)."""
    if cache_dir is not None:
        return os.fspath(cache_dir)
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):  # the second is the deprecated name
        if os.environ.get(var):
            return os.path.expanduser(os.environ[var])
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        home = os.path.join(xdg, "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def _check_revision(revision: str) -> None:
    # revisions name files under refs/ (e.g. "main", "v1.0", "refs/pr/1"): no way out of the repo
    parts = revision.replace("\\", "/").split("/")
    if not revision or any(p in ("", ".", "..") for p in parts) or os.path.isabs(revision):
        raise ValueError(f"invalid revision {revision!r}")


def cached_snapshot(repo_id: str, revision: str | None = None,
                    cache_dir: str | os.PathLike | None = None,
                    repo_type: str = "model") -> str | None:
    """The cached snapshot folder of ``repo_id`` at ``revision`` (a branch/tag name resolved through
    ``refs/``, or a commit hash), or None when the cache does not hold it."""
    revision = revision or "main"
    _check_revision(revision)
    repo_dir = os.path.join(hf_hub_cache(cache_dir),
                            f"{repo_type}s--{repo_id.replace('/', '--')}")
    ref = os.path.join(repo_dir, "refs", *revision.split("/"))
    if os.path.isfile(ref):
        with open(ref, encoding="utf-8") as f:
            commit = f.read().strip()
        if not _COMMIT.fullmatch(commit):
            raise ModelNotFoundError(f"{ref}: expected a 40-character commit hash, got "
                                     f"{commit!r:.60}")
    elif _COMMIT.fullmatch(revision):
        commit = revision
    else:
        return None
    snapshot = os.path.join(repo_dir, "snapshots", commit)
    return snapshot if os.path.isdir(snapshot) else None


def resolve_pretrained_dir(name_or_path: str | os.PathLike, *, revision: str | None = None,
                           cache_dir: str | os.PathLike | None = None,
                           local_files_only: bool = False, token: str | bool | None = None,
                           subfolder: str = "",
                           allow_patterns: Sequence[str] | None = None) -> str:
    """A local folder holding the files of ``name_or_path`` (see the module docstring).

    ``allow_patterns`` limits what a download fetches (e.g. ``["*.json", "*.txt"]`` for a
    tokenizer); ``subfolder`` is a folder inside the repository."""
    name = os.fspath(name_or_path)
    tried: list[str] = []
    if os.path.isdir(name):
        folder = os.path.join(name, subfolder) if subfolder else name
        if os.path.isdir(folder):
            return folder
        raise ModelNotFoundError(f"{name!r} has no subfolder {subfolder!r}")
    tried.append(f"local folder {name!r}: not a directory")
    if not _REPO_ID.fullmatch(name):
        raise ModelNotFoundError(
            f"Can't find {name!r}: it is not a local folder and not a Hugging Face repo id "
            "('name' or 'org/name').")
    snapshot = cached_snapshot(name, revision, cache_dir)
    if snapshot is not None:
        folder = os.path.join(snapshot, subfolder) if subfolder else snapshot
        if os.path.isdir(folder):
            return folder
    tried.append(f"Hugging Face cache {hf_hub_cache(cache_dir)!r}: no snapshot of {name!r} at "
                 f"revision {revision or 'main'!r}")
    why = _download_blocker(local_files_only)
    if why is None:
        try:
            return _download(name, revision, cache_dir, token, subfolder, allow_patterns)
        except Exception as e:  # network, auth, missing repo: all reported the same way
            why = f"failed ({type(e).__name__}: {e})"
    tried.append(f"download from the Hugging Face Hub: {why}")
    raise ModelNotFoundError(f"Can't find model {name!r}. Tried:\n  - " + "\n  - ".join(tried))


def _download_blocker(local_files_only: bool) -> str | None:
    """Why no download may be tried, or None."""
    if local_files_only:
        return "not tried (local_files_only=True)"
    if is_offline_mode():
        return "not tried (offline mode: HF_HUB_OFFLINE is set)"
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return "not tried (huggingface_hub is not installed: pip install huggingface_hub)"
    return None


def _download(repo_id, revision, cache_dir, token, subfolder, allow_patterns) -> str:
    import huggingface_hub

    if subfolder and allow_patterns:
        allow_patterns = [f"{subfolder}/{p}" for p in allow_patterns]
    elif subfolder:
        allow_patterns = [f"{subfolder}/*"]
    folder = huggingface_hub.snapshot_download(
        repo_id, revision=revision, cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        token=token, allow_patterns=None if allow_patterns is None else list(allow_patterns))
    folder = os.path.join(folder, subfolder) if subfolder else folder
    if not os.path.isdir(folder):
        raise ModelNotFoundError(f"the download of {repo_id!r} has no folder {subfolder!r}")
    return folder
