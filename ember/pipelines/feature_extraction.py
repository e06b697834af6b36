"""``feature-extraction`` (token embeddings, or sentence embeddings from a sentence-transformers
model) and ``sentence-similarity`` (cosine scores, the Hugging Face inference API format).

Example::

    fe = pipeline("feature-extraction", "path/to/all-MiniLM-L6-v2")
    fe("Hello world")                     # [[[...384 floats] x tokens]]  (1, T, H) nested lists
    st = pipeline("feature-extraction", "path/to/all-MiniLM-L6-v2", sentence_embeddings=True)
    st("Hello world")                     # [...384 floats]: the sentence-transformers embedding
    sim = pipeline("sentence-similarity", "path/to/all-MiniLM-L6-v2")
    sim({"source_sentence": "A cat.", "sentences": ["A kitten.", "A car."]})  # [0.8, 0.2]
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..models.sentence_embedder import SentenceEmbedder
from .base import Pipeline, unbatch_encoding

__all__ = ["FeatureExtractionPipeline", "SentenceSimilarityPipeline"]


def _embedder(model: Any, task: str, load_kwargs: dict) -> SentenceEmbedder:
    if isinstance(model, SentenceEmbedder):
        return model
    if isinstance(model, (str, os.PathLike)):
        hub = {k: load_kwargs[k] for k in ("revision", "token", "cache_dir") if k in load_kwargs}
        return SentenceEmbedder(model, **hub)
    raise ValueError(f"{task}: sentence embeddings need a sentence-transformers folder (or hub "
                     f"name) or a SentenceEmbedder, got {type(model).__name__}")


class FeatureExtractionPipeline(Pipeline):
    """The model's first output (``last_hidden_state`` for a base model) for each input, as
    nested lists of shape (1, T, H), or an ember Tensor with ``return_tensors=True``.

    ``truncation`` (default True: inputs longer than the model takes are cut) and
    ``tokenize_kwargs`` go to the tokenizer. With a ``SentenceEmbedder`` model
    (``pipeline("feature-extraction", folder, sentence_embeddings=True)``) each input gives its
    sentence embedding instead: a list of H floats, as sentence-transformers computes it.
    """

    task = "feature-extraction"
    _ignore_missing = (r"(^|\.)pooler\.",)  # the pooler is not used for features

    def __init__(self, model: Any, tokenizer: Any = None, *args: Any, **kwargs: Any) -> None:
        self.sentence_embeddings = isinstance(model, SentenceEmbedder)
        if self.sentence_embeddings and tokenizer is None:
            tokenizer = model.tokenizer
        super().__init__(model, tokenizer, *args, **kwargs)

    @classmethod
    def _load_components(cls, model: Any, tokenizer: Any, auto_class: Any, task: str,
                         load_kwargs: dict, task_kwargs: dict) -> tuple[Any, Any]:
        """As ``Pipeline._load_components``; ``sentence_embeddings=True`` (taken out of the
        task options) loads a SentenceEmbedder."""
        if task_kwargs.pop("sentence_embeddings", False) or isinstance(model, SentenceEmbedder):
            embedder = _embedder(model, task, load_kwargs)
            return embedder, tokenizer or embedder.tokenizer
        return super()._load_components(model, tokenizer, auto_class, task, load_kwargs,
                                        task_kwargs)

    @classmethod
    def _check_model(cls, model: Any, auto_class: Any, task: str) -> None:
        """Any model object with a config (its first output is the feature), as transformers."""
        if getattr(model, "config", None) is None:
            super()._check_model(model, auto_class, task)

    def _sanitize_parameters(self, truncation: bool | str | None = None,
                             tokenize_kwargs: dict | None = None,
                             return_tensors: bool | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        self._reject_unknown(kwargs)
        pre = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in pre:
                raise ValueError("truncation parameter defined twice (given as keyword argument "
                                 "as well as in tokenize_kwargs)")
            pre["truncation"] = truncation
        if self.sentence_embeddings and pre:
            raise ValueError("tokenize_kwargs/truncation do not apply to sentence embeddings "
                             "(the model's max_seq_length is used)")
        post = {} if return_tensors is None else {"return_tensors": return_tensors}
        return pre, {}, post

    def preprocess(self, inputs: str | dict, **tokenize_kwargs: Any) -> dict:
        if self.sentence_embeddings:
            if not isinstance(inputs, str):
                raise ValueError("sentence embeddings take a string or a list of strings")
            return {"text": inputs}
        if isinstance(inputs, dict):  # a pair, as the tokenizer takes it
            enc = self.tokenizer(**inputs, return_tensors="np",
                                 **self._truncating(tokenize_kwargs))
        else:
            enc = self.tokenizer(inputs, return_tensors="np", **self._truncating(tokenize_kwargs))
        return unbatch_encoding(enc, ("input_ids", "attention_mask", "token_type_ids"))

    def _forward(self, model_inputs: dict) -> dict:
        if self.sentence_embeddings:
            texts = model_inputs["text"]
            return {"embedding": self.model.encode(texts, batch_size=len(texts))}
        hidden = self.model(**self._model_kwargs(model_inputs))[0].data
        mask = model_inputs.get("attention_mask")
        if mask is None:
            mask = np.ones(hidden.shape[:2], dtype=np.int64)
        return {"features": hidden, "attention_mask": mask}

    def postprocess(self, model_outputs: dict, return_tensors: bool = False) -> Any:
        if self.sentence_embeddings:
            emb = np.asarray(model_outputs["embedding"])
            return Tensor(emb) if return_tensors else emb.tolist()
        # drop the batch's padding, keep transformers' leading batch dim of 1
        features = model_outputs["features"][np.asarray(model_outputs["attention_mask"]) > 0]
        features = features[None]
        return Tensor(features) if return_tensors else features.tolist()


class SentenceSimilarityPipeline(Pipeline):
    """Sentence-transformers similarity: ``{"source_sentence": s, "sentences": [...]}`` gives
    the cosine similarity of ``s`` with each sentence (a list of floats, the Hugging Face
    inference API format); a string or a list of strings gives embeddings (lists of floats).

    The model is a sentence-transformers folder (modules.json: pooling, dense, normalize) or a
    ``SentenceEmbedder``; a plain transformers folder gets mean pooling.
    """

    task = "sentence-similarity"

    def __init__(self, model: Any, tokenizer: Any = None, *args: Any, **kwargs: Any) -> None:
        if not isinstance(model, SentenceEmbedder):
            raise ValueError(f"sentence-similarity needs a SentenceEmbedder (or, through "
                             f"pipeline(), a folder), got {type(model).__name__}")
        super().__init__(model, tokenizer or model.tokenizer, *args, **kwargs)

    @classmethod
    def _load_components(cls, model: Any, tokenizer: Any, auto_class: Any, task: str,
                         load_kwargs: dict, task_kwargs: dict) -> tuple[Any, Any]:
        embedder = _embedder(model, task, load_kwargs)
        return embedder, tokenizer or embedder.tokenizer

    def _sanitize_parameters(self, return_tensors: bool | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        self._reject_unknown(kwargs)
        return {}, {}, ({} if return_tensors is None else {"return_tensors": return_tensors})

    def preprocess(self, inputs: str | dict) -> dict | list[dict]:
        if isinstance(inputs, str):
            return {"text": inputs}
        if isinstance(inputs, dict):
            source, sentences = inputs.get("source_sentence"), inputs.get("sentences")
            if (set(inputs) != {"source_sentence", "sentences"} or not isinstance(source, str)
                    or isinstance(sentences, str) or not isinstance(sentences, (list, tuple))
                    or not all(isinstance(s, str) for s in sentences)):
                raise ValueError('sentence-similarity takes {"source_sentence": str, '
                                 '"sentences": [str, ...]} (or strings to embed)')
            return [{"text": t, "source": i == 0} for i, t in enumerate([source, *sentences])]
        raise ValueError(f"sentence-similarity takes a dict, a string or a list of them, got "
                         f"{type(inputs).__name__}")

    def _forward(self, model_inputs: dict) -> dict:
        texts = model_inputs["text"]
        return {"embedding": self.model.encode(texts, batch_size=len(texts)), **model_inputs}

    def postprocess(self, model_outputs: dict | list[dict], return_tensors: bool = False) -> Any:
        if isinstance(model_outputs, dict):  # a string: its embedding
            emb = np.asarray(model_outputs["embedding"])
            return Tensor(emb) if return_tensors else emb.tolist()
        source, *others = (np.asarray(o["embedding"]) for o in model_outputs)
        scores = SentenceEmbedder.similarity(source, np.stack(others))[0] if others else \
            np.zeros(0, dtype=np.float32)
        return Tensor(scores) if return_tensors else [float(s) for s in scores]
