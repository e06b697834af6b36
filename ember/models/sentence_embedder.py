"""``SentenceEmbedder``: sentence embeddings from a sentence-transformers folder.

A sentence-transformers checkpoint is a chain of modules listed in ``modules.json``: a
Transformer (the folder itself: config.json, safetensors, tokenizer), a Pooling layer
(``1_Pooling/config.json``), and optionally Dense layers and a Normalize step. We read the same
files and run the same chain, so embeddings match ``sentence_transformers.SentenceTransformer``.

Example::

    embedder = SentenceEmbedder("path/to/all-MiniLM-L6-v2")
    emb = embedder.encode(["A cat sat.", "A dog ran."])      # (2, 384), unit length
    embedder.similarity(emb, emb)                            # (2, 2) cosine similarities
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Tensor, no_grad
from .configuration_utils import ConfigError

__all__ = ["SentenceEmbedder", "SentenceTransformer"]

_POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                  "weightedmean_tokens", "lasttoken")
_ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from None


class _Pooling:
    """sentence_transformers.models.Pooling: token embeddings -> one vector per text."""

    def __init__(self, folder: str) -> None:
        path = os.path.join(folder, "config.json")
        cfg = _read_json(path)
        self.modes = [m for m in _POOLING_MODES if cfg.get(f"pooling_mode_{m}")]
        if not self.modes:
            mode = cfg.get("pooling_mode")
            if mode in ("cls", "mean", "max", "lasttoken", "weightedmean", "mean_sqrt_len_tokens"):
                self.modes = [{"cls": "cls_token", "mean": "mean_tokens", "max": "max_tokens",
                               "weightedmean": "weightedmean_tokens"}.get(mode, mode)]
            else:
                raise ConfigError(f"{path}: no pooling mode is enabled")
        self.include_prompt = cfg.get("include_prompt", True)

    def __call__(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        m = mask[..., None].astype(tokens.dtype)  # (B, T, 1)
        count = np.maximum(m.sum(1), 1e-9)  # (B, 1)
        out = []
        for mode in self.modes:
            if mode == "cls_token":
                out.append(tokens[:, 0])
            elif mode == "max_tokens":
                out.append(np.where(m > 0, tokens, -1e9).max(1))
            elif mode == "mean_tokens":
                out.append((tokens * m).sum(1) / count)
            elif mode == "mean_sqrt_len_tokens":
                out.append((tokens * m).sum(1) / np.sqrt(count))
            elif mode == "weightedmean_tokens":
                w = np.arange(1, tokens.shape[1] + 1, dtype=tokens.dtype)[None, :, None] * m
                out.append((tokens * w).sum(1) / np.maximum(w.sum(1), 1e-9))
            else:  # lasttoken: the last non-padding position (handles left and right padding)
                last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
                out.append(tokens[np.arange(len(tokens)), last])
        return np.concatenate(out, axis=-1)


class _Dense:
    """sentence_transformers.models.Dense: activation(x @ W.T + b)."""

    def __init__(self, folder: str) -> None:
        from .safetensors_io import load_file
        cfg = _read_json(os.path.join(folder, "config.json"))
        act = cfg.get("activation_function", "torch.nn.modules.linear.Identity")
        if act not in _ACTIVATIONS:
            raise ConfigError(f"{folder}/config.json: unsupported activation_function {act!r}")
        self.act = _ACTIVATIONS[act]
        weights = load_file(os.path.join(folder, "model.safetensors"))
        self.weight = np.asarray(weights["linear.weight"], dtype=np.float32)
        self.bias = weights.get("linear.bias")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return self.act(y)


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class SentenceEmbedder:
    """Embeds texts like ``sentence_transformers.SentenceTransformer(folder)``.

    ``model_name_or_path``: a sentence-transformers folder or a hub name in the local HF cache.
    A plain transformers folder (no modules.json) gets mean pooling, as sentence-transformers
    does.
    """

    def __init__(self, model_name_or_path: str | os.PathLike, device: str | None = None,
                 **hub: Any) -> None:
        if device not in (None, "cpu", -1):
            raise ValueError(f"device={device!r}: ember runs on the CPU only")
        from ..tokenizers import AutoTokenizer
        from ..utils.hub import resolve_pretrained_dir
        from .auto import AutoModel
        folder = resolve_pretrained_dir(model_name_or_path, **hub)
        self.folder = folder
        modules_path = os.path.join(folder, "modules.json")
        modules = (_read_json(modules_path) if os.path.isfile(modules_path) else
                   [{"path": "", "type": "sentence_transformers.models.Transformer"},
                    {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
        self.steps: list = []
        transformer_dir = None
        for entry in modules:
            kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
            path = os.path.join(folder, entry.get("path", ""))
            if kind == "Transformer":
                transformer_dir = path
            elif kind == "Pooling":
                self.steps.append(_Pooling(path) if os.path.isdir(path) else None)
            elif kind == "Dense":
                self.steps.append(_Dense(path))
            elif kind == "Normalize":
                self.steps.append(_normalize)
            else:
                raise ConfigError(f"{modules_path}: module type {entry.get('type')!r} is not "
                                  "supported (Transformer, Pooling, Dense, Normalize are)")
        if transformer_dir is None:
            raise ConfigError(f"{modules_path}: no sentence_transformers.models.Transformer")
        if self.steps and self.steps[0] is None:  # a folder without 1_Pooling: mean pooling
            self.steps[0] = _mean_pooling()
        st_config = os.path.join(transformer_dir, "sentence_bert_config.json")
        st = _read_json(st_config) if os.path.isfile(st_config) else {}
        self.tokenizer = AutoTokenizer.from_pretrained(transformer_dir)
        self.model = AutoModel.from_pretrained(transformer_dir)
        self.max_seq_length = int(st.get("max_seq_length") or min(
            self.tokenizer.model_max_length, self.model.config.max_position_embeddings))
        self.do_lower_case = bool(st.get("do_lower_case", False))

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.encode(["a"]).shape[-1])

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        enc = self.tokenizer(texts, padding=True, truncation="longest_first",
                             max_length=self.max_seq_length, return_tensors="np")
        inputs = {k: Tensor(v) for k, v in enc.items()
                  if k in ("input_ids", "attention_mask", "token_type_ids")}
        with no_grad():
            tokens = self.model(**inputs).last_hidden_state.data  # (B, T, H)
        x = tokens
        mask = enc["attention_mask"]
        for step in self.steps:
            x = step(x, mask) if isinstance(step, _Pooling) else step(x)
        return x

    def encode(self, sentences: str | Sequence[str], batch_size: int = 32,
               show_progress_bar: bool | None = None, convert_to_numpy: bool = True,
               convert_to_tensor: bool = False, normalize_embeddings: bool = False,
               **_: Any) -> np.ndarray | Tensor:
        """Embeddings of one text (1-D) or a list (2-D), in input order. Texts are batched by
        length, as sentence-transformers does, so batches carry little padding."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if any(not isinstance(t, str) for t in texts):
            raise TypeError("SentenceEmbedder.encode takes a string or a list of strings")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[i:i + batch_size] for i in range(0, len(texts), batch_size)]
        if show_progress_bar:
            from tqdm.auto import tqdm
            batches = tqdm(batches, desc="Batches")
        out = None
        for idx in batches:
            emb = self._embed_batch([texts[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), emb.shape[-1]), dtype=emb.dtype)
            out[idx] = emb
        if out is None:
            out = np.empty((0, 0), dtype=np.float32)
        if normalize_embeddings:
            out = _normalize(out)
        out = out[0] if single else out
        return Tensor(out) if convert_to_tensor else out

    __call__ = encode

    @staticmethod
    def similarity(a: np.ndarray | Tensor, b: np.ndarray | Tensor) -> np.ndarray:
        """Cosine similarity matrix between two sets of embeddings (rows)."""
        a = np.atleast_2d(a.data if isinstance(a, Tensor) else np.asarray(a))
        b = np.atleast_2d(b.data if isinstance(b, Tensor) else np.asarray(b))
        return _normalize(a) @ _normalize(b).T


def _mean_pooling() -> _Pooling:
    pool = _Pooling.__new__(_Pooling)
    pool.modes, pool.include_prompt = ["mean_tokens"], True
    return pool


SentenceTransformer = SentenceEmbedder  # sentence-transformers' name, for drop-in use
