"""Reading and writing safetensors files and Hugging Face checkpoint folders, on NumPy.

Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
N bytes of JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}``, then the data buffer that the offsets index into. Nothing here ever unpickles.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal

import numpy as np

__all__ = [
    "SafetensorsError", "read_header", "load_file", "load_metadata", "save_file",
    "load_checkpoint", "save_checkpoint", "parse_size",
]

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_SIZE = 100_000_000  # the reference reader's limit

# safetensors dtype -> NumPy dtype as stored (BF16 is read as its raw bits, then widened), in
# the order the reference writer lays tensors out (then by name), which we match byte for byte.
_NP_DTYPES = {
    "U64": "<u8", "I64": "<i8", "F64": "<f8", "F32": "<f4", "U32": "<u4", "I32": "<i4",
    "BF16": "<u2", "F16": "<f2", "U16": "<u2", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}
_RANK = {k: i for i, k in enumerate(_NP_DTYPES)}
# Valid in the format, so headers that use them still parse, but NumPy has no such type.
_UNSUPPORTED_ITEMSIZE = {"F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "C64": 8}
_ITEMSIZE = {k: np.dtype(v).itemsize for k, v in _NP_DTYPES.items()} | _UNSUPPORTED_ITEMSIZE
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _NP_DTYPES.items() if k != "BF16"}

_SHARD_RE = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
# pytorch_model.bin, *.pt, tf_model.h5, flax_model.msgpack, model.ckpt.index, ...
_UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".h5", ".msgpack",
                    ".ckpt.index", ".bin.index.json")


class SafetensorsError(ValueError):
    """A safetensors file or shard index that cannot be read; the message names the file (and
    tensor)."""


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path) -> tuple[dict, int]:
    """Parse and validate the header of the safetensors file at `path`.

    Returns the JSON header (including ``"__metadata__"`` if present) and the byte offset where
    the data buffer starts. Raises SafetensorsError for any inconsistency, naming the file and
    the tensor: truncation, bad offsets/shapes/dtypes, overlapping tensors, malformed JSON.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise SafetensorsError(f"{path}: not a safetensors file ({size} bytes, the 8-byte "
                                   "header length alone needs 8)")
        n = int.from_bytes(f.read(8), "little")
        if n > MAX_HEADER_SIZE:
            raise SafetensorsError(f"{path}: header length {n} exceeds the {MAX_HEADER_SIZE}-byte "
                                   "limit (not a safetensors file?)")
        if 8 + n > size:
            raise SafetensorsError(f"{path}: truncated: header length {n} needs a file of at "
                                   f"least {8 + n} bytes, but the file is {size} bytes")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header must be a JSON object, got "
                               f"{type(header).__name__}")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SafetensorsError(f"{path}: __metadata__ must be an object of strings to strings")

    start, buffer_len = 8 + n, size - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"{path}: tensor {name!r}"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            raise SafetensorsError(f"{where}: entry needs dtype, shape and data_offsets")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
            raise SafetensorsError(f"{where}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise SafetensorsError(f"{where}: shape must be a list of non-negative ints, "
                                   f"got {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(map(_is_int, offs))
                or not 0 <= offs[0] <= offs[1]):
            raise SafetensorsError(f"{where}: data_offsets must be [begin, end] with "
                                   f"0 <= begin <= end, got {offs!r}")
        expected = math.prod(shape) * _ITEMSIZE[dtype]
        if offs[1] - offs[0] != expected:
            raise SafetensorsError(f"{where}: data_offsets {offs} span {offs[1] - offs[0]} "
                                   f"bytes, but {dtype} {shape} needs {expected}")
        spans.append((offs[0], offs[1], name))

    spans.sort()
    prev_end, prev_name = 0, None
    for begin, end, name in spans:
        if end > buffer_len:
            need = start + max(e for _, e, _ in spans)
            raise SafetensorsError(
                f"{path}: truncated or corrupt: tensor {name!r} needs data bytes [{begin}, {end}) "
                f"but the data buffer has only {buffer_len} bytes (file is {size} bytes, the "
                f"header implies at least {need})")
        if begin < prev_end and begin < end:  # empty tensors overlap nothing
            raise SafetensorsError(f"{path}: tensors {prev_name!r} and {name!r} overlap in "
                                   f"the data buffer (at byte {begin})")
        if end > prev_end:
            prev_end, prev_name = end, name
    return header, start


def load_metadata(path) -> dict[str, str]:
    """The file's ``__metadata__`` (free-form string pairs; empty if absent)."""
    return dict(read_header(path)[0].get("__metadata__", {}))


def _to_numpy(info: dict, raw: np.ndarray) -> np.ndarray:
    dtype = info["dtype"]
    arr = raw.view(_NP_DTYPES[dtype]).reshape(info["shape"])
    if dtype == "BF16":
        # bfloat16 is the top half of a float32, so widening is exact.
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def _load(path: str, header: dict, start: int, mmap: bool, keys: Iterable[str] | None):
    names = [k for k in header if k != "__metadata__"] if keys is None else list(keys)
    for name in names:
        if name not in header or name == "__metadata__":
            raise SafetensorsError(f"{path}: no tensor named {name!r}")
        dtype = header[name]["dtype"]
        if dtype not in _NP_DTYPES:
            raise SafetensorsError(f"{path}: tensor {name!r} has dtype {dtype}, which ember "
                                   "cannot load (NumPy has no such type)")
    out: dict[str, np.ndarray] = {}
    if mmap:
        size = os.path.getsize(path)
        # mode "c" (MAP_PRIVATE): arrays are writable, but writes never reach the file.
        buf = (np.memmap(path, dtype=np.uint8, mode="c", offset=start, shape=(size - start,))
               if size > start else np.zeros(0, np.uint8))
        for name in names:
            begin, end = header[name]["data_offsets"]
            # Plain ndarray views (base: the memmap) so results don't carry the subclass along.
            out[name] = np.asarray(_to_numpy(header[name], buf[begin:end]))
        return out
    with open(path, "rb") as f:
        for name in names:
            begin, end = header[name]["data_offsets"]
            raw = np.empty(end - begin, np.uint8)
            f.seek(start + begin)
            if f.readinto(memoryview(raw)) != end - begin:
                raise SafetensorsError(f"{path}: tensor {name!r}: file changed while reading")
            out[name] = _to_numpy(header[name], raw)
    return out


def load_file(path, mmap: bool = True, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """All tensors of the file (or only `keys`) as NumPy arrays, in header order.

    With mmap=True, arrays are copy-on-write views of one np.memmap of the file: no data is
    read until touched, and writing into an array never changes the file. BF16 is widened to
    float32 (exact). Dtypes NumPy lacks (F8_*, C64) raise SafetensorsError.
    """
    path = os.fspath(path)
    header, start = read_header(path)
    return _load(path, header, start, mmap, keys)


def _prepare(tensors: Mapping[str, np.ndarray], path: str) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"{path}: invalid tensor name {name!r}")
        arr = np.asarray(value)
        code = _CODES.get(arr.dtype.newbyteorder("="))
        if code is None:
            raise SafetensorsError(f"{path}: tensor {name!r} has dtype {arr.dtype}, which "
                                   "safetensors cannot store")
        # Not ascontiguousarray: it turns 0-d arrays into 1-d ones.
        arrays[name] = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")
    return arrays


def _atomic_write(path: str, write) -> None:
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:  # open() (not mkstemp) so the umask decides the mode
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_file(tensors: Mapping[str, np.ndarray], path,
              metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` to `path` in safetensors format, atomically (temp file, fsync, replace).

    Arrays are stored C-contiguous little-endian, in the reference writer's layout (largest
    itemsize first, then by name: every tensor stays aligned once the header is padded to 8).
    Unstorable dtypes (object, complex, strings, ...) raise SafetensorsError naming the tensor.
    """
    path = os.fspath(path)
    arrays = _prepare(tensors, path)
    if metadata is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{path}: metadata must map strings to strings")
    codes = {k: _CODES[a.dtype.newbyteorder("=")] for k, a in arrays.items()}
    order = sorted(arrays, key=lambda k: (_RANK[codes[k]], k))
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": codes[name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    # Escaping as serde_json does (raw UTF-8), as the reference writer uses it.
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)

    def write(f) -> None:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for name in order:
            f.write(arrays[name].reshape(-1).view(np.uint8))

    _atomic_write(path, write)


def parse_size(s: int | str) -> int:
    """Bytes in `s`: an int, or a string like "5GB", "500MB", "10KB" (decimal, as transformers)
    or "1GiB", "512MiB" (binary), or a plain number of bytes."""
    if _is_int(s):
        if s < 0:
            raise ValueError(f"size must be non-negative, got {s}")
        return s
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?b|b)?\s*", str(s), re.IGNORECASE)
    if m is None:
        raise ValueError(f"cannot parse size {s!r} (expected e.g. 5GB, 500MB, 1GiB or bytes)")
    unit = (m.group(2) or "B").upper()
    power = "BKMGT".index(unit[0])
    mult = 1024**power if "I" in unit else 1000**power
    return int(Decimal(m.group(1)) * mult)


def _safe_shard_path(folder: str, index_path: str, shard) -> str:
    # A lexical check only: HF cache snapshots are symlinks into ../blobs, which is fine.
    if (not isinstance(shard, str) or not shard or os.path.isabs(shard)
            or ".." in re.split(r"[\\/]", shard) or re.match(r"[A-Za-z]:", shard)):
        raise SafetensorsError(f"{index_path}: shard file name {shard!r} must be a relative "
                               "path inside the checkpoint folder")
    return os.path.join(folder, shard)


def load_checkpoint(folder, mmap: bool = True) -> dict[str, np.ndarray]:
    """The weights of a Hugging Face checkpoint folder, as NumPy arrays.

    Reads ``model.safetensors`` or, failing that, the shards listed by
    ``model.safetensors.index.json`` (transformers' order of preference). Pickle-based weights
    (pytorch_model.bin, *.pt, ...) are refused: ember never unpickles.
    """
    folder = os.fspath(folder)
    if os.path.isfile(folder) and folder.endswith(".safetensors"):
        return load_file(folder, mmap=mmap)
    single = os.path.join(folder, SAFE_WEIGHTS_NAME)
    if os.path.isfile(single):
        return load_file(single, mmap=mmap)
    index_path = os.path.join(folder, SAFE_WEIGHTS_INDEX_NAME)
    if os.path.isfile(index_path):
        try:
            with open(index_path, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (ValueError, KeyError, TypeError) as e:
            raise SafetensorsError(f"{index_path}: not a valid shard index ({e!r})") from None
        by_shard: dict[str, list[str]] = {}
        for name, shard in weight_map.items():
            by_shard.setdefault(_safe_shard_path(folder, index_path, shard), []).append(name)
        out: dict[str, np.ndarray] = {}
        for shard_path, names in by_shard.items():
            shard = os.path.relpath(shard_path, folder)
            if not os.path.isfile(shard_path):
                raise FileNotFoundError(f"{index_path} names shard {shard!r}, but {shard_path} "
                                        "does not exist")
            header, start = read_header(shard_path)
            missing = [n for n in names if n not in header or n == "__metadata__"]
            if missing:
                raise SafetensorsError(f"{index_path} puts tensor {missing[0]!r} in {shard_path}, "
                                       f"but that shard has no such tensor ({len(missing)} "
                                       "missing)")
            out.update(_load(shard_path, header, start, mmap, names))
        return out
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"checkpoint folder {folder} does not exist")
    present = sorted(f for f in os.listdir(folder) if f.endswith(_UNSAFE_SUFFIXES))
    if present:
        raise FileNotFoundError(
            f"{folder} has no safetensors weights, only {', '.join(present)}. ember never "
            "unpickles (pickle files can run arbitrary code); convert the checkpoint to "
            "safetensors, e.g. with transformers: AutoModel.from_pretrained(folder)"
            ".save_pretrained(out, safe_serialization=True)")
    raise FileNotFoundError(f"{folder} has no weights: looked for {SAFE_WEIGHTS_NAME} and "
                            f"{SAFE_WEIGHTS_INDEX_NAME}")


def save_checkpoint(state: Mapping[str, np.ndarray], folder, max_shard_size: int | str = "5GB",
                    metadata: dict[str, str] | None = None) -> list[str]:
    """Save `state` into `folder` as transformers does; returns the file names written.

    One ``model.safetensors`` if it fits in `max_shard_size`, else shards
    ``model-00001-of-0000N.safetensors`` (filled in `state` order; a tensor larger than the limit
    gets its own shard) plus ``model.safetensors.index.json``. Metadata defaults to
    {"format": "pt"}, which transformers expects. Weight files of an earlier save that the new
    ones would not overwrite are removed, so they cannot shadow or mix with the new ones.
    """
    folder = os.fspath(folder)
    limit = parse_size(max_shard_size)
    arrays = _prepare(state, folder)
    meta = {"format": "pt", **(metadata or {})}
    shards: list[dict[str, np.ndarray]] = []
    current: dict[str, np.ndarray] = {}
    current_size = 0
    for name, arr in arrays.items():
        if current and current_size + arr.nbytes > limit:
            shards.append(current)
            current, current_size = {}, 0
        current[name] = arr
        current_size += arr.nbytes
    shards.append(current)
    os.makedirs(folder, exist_ok=True)

    if len(shards) == 1:
        written = [SAFE_WEIGHTS_NAME]
        save_file(shards[0], os.path.join(folder, SAFE_WEIGHTS_NAME), meta)
    else:
        written = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
                   for i in range(len(shards))]
        for name, shard in zip(written, shards):
            save_file(shard, os.path.join(folder, name), meta)
        index = {
            "metadata": {"total_parameters": sum(a.size for a in arrays.values()),
                         "total_size": sum(a.nbytes for a in arrays.values())},
            "weight_map": {k: name for name, shard in zip(written, shards) for k in shard},
        }
        text = json.dumps(index, indent=2, sort_keys=True) + "\n"
        _atomic_write(os.path.join(folder, SAFE_WEIGHTS_INDEX_NAME),
                      lambda f: f.write(text.encode("utf-8")))
        written.append(SAFE_WEIGHTS_INDEX_NAME)
    # Only now that the new files are complete: a stale model.safetensors would shadow new shards,
    # and a stale index would point at a mix of shards.
    for f in os.listdir(folder):
        stale = f in (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME) or _SHARD_RE.fullmatch(f)
        if stale and f not in written and os.path.isfile(os.path.join(folder, f)):
            os.remove(os.path.join(folder, f))
    return written
