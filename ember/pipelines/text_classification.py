"""``text-classification`` (alias ``sentiment-analysis``): labels and scores for texts or pairs.

Example::

    clf = pipeline("text-classification", "path/to/finetuned-bert")
    clf("great movie")                          # [{'label': 'POSITIVE', 'score': 0.98}]
    clf(["great", "awful"])                     # [{'label': ...}, {'label': ...}]
    clf({"text": "A man eats.", "text_pair": "Someone eats."}, top_k=None)  # every label
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Pipeline, unbatch_encoding

__all__ = ["TextClassificationPipeline", "sigmoid", "softmax"]

_FUNCTIONS = ("sigmoid", "softmax", "none")
# tokenizer options a call may set (passed to preprocess)
TOKENIZER_KWARGS = ("truncation", "max_length", "padding", "add_special_tokens",
                    "return_token_type_ids")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class TextClassificationPipeline(Pipeline):
    """Sequence classification with any ``*ForSequenceClassification`` model.

    ``top_k``: 1 (default) gives the best label; an int the k best, sorted; None every label,
    sorted. ``function_to_apply``: "default" (sigmoid for multi-label or one-label models, none
    for regression, softmax otherwise), "sigmoid", "softmax" or "none". Inputs longer than the
    model takes are truncated (``truncation=False`` turns that off).

    Output format follows transformers exactly: a single string without ``top_k`` gives a
    one-element list ``[{"label", "score"}]``; a list of strings gives one dict per string; an
    explicit ``top_k`` gives a list of dicts per input.
    """

    task = "text-classification"

    def _sanitize_parameters(self, top_k: Any = "", function_to_apply: str | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        tokenizer_kwargs = {k: kwargs.pop(k) for k in TOKENIZER_KWARGS if k in kwargs}
        self._reject_unknown(kwargs)
        post: dict[str, Any] = {}
        if top_k is None or (isinstance(top_k, int) and not isinstance(top_k, bool)):
            if top_k is not None and top_k < 1:
                raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
            post["top_k"], post["_legacy"] = top_k, False
        elif top_k != "":
            raise TypeError(f"top_k must be an int or None, got {top_k!r}")
        if function_to_apply is not None:
            name = str(function_to_apply).lower()
            if name not in (*_FUNCTIONS, "default"):
                raise ValueError(f"function_to_apply must be one of 'default', 'sigmoid', "
                                 f"'softmax', 'none'; got {function_to_apply!r}")
            post["function_to_apply"] = None if name == "default" else name
        return tokenizer_kwargs, {}, post

    def __call__(self, inputs: str | dict | list, *args: Any, **kwargs: Any) -> Any:
        """Classify a text, a ``{"text", "text_pair"}`` dict, or a list of them."""
        result = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, str) and "top_k" not in kwargs:
            return [result]  # transformers' (legacy) format for one string
        return result

    def preprocess(self, inputs: str | dict, **tokenizer_kwargs: Any) -> dict:
        kwargs = self._truncating(tokenizer_kwargs)
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"text", "text_pair"}
            if "text" not in inputs or unknown:
                raise ValueError('a text pair is given as {"text": ..., "text_pair": ...}; got '
                                 f"keys {sorted(inputs)}")
            enc = self.tokenizer(inputs["text"], text_pair=inputs.get("text_pair"),
                                 return_tensors="np", **kwargs)
        elif isinstance(inputs, str):
            enc = self.tokenizer(inputs, return_tensors="np", **kwargs)
        else:
            raise ValueError("The pipeline received invalid inputs: give a string, a list of "
                             'strings, or text pairs as {"text": "My text", "text_pair": '
                             '"My pair"}')
        return unbatch_encoding(enc, ("input_ids", "attention_mask", "token_type_ids"))

    def _forward(self, model_inputs: dict) -> dict:
        return {"logits": self.model(**self._model_kwargs(model_inputs)).logits.data}

    def _default_function(self) -> str:
        config = self.model.config
        problem = getattr(config, "problem_type", None)
        if problem == "regression":
            return "none"
        if problem == "multi_label_classification" or config.num_labels == 1:
            return "sigmoid"
        return "softmax"

    def postprocess(self, model_outputs: dict, function_to_apply: str | None = None,
                    top_k: int | None = 1, _legacy: bool = True) -> dict | list[dict]:
        logits = np.asarray(model_outputs["logits"], dtype=np.float32)
        name = function_to_apply or self._default_function()
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[name](logits)
        id2label = self.model.config.id2label
        if top_k == 1 and _legacy:
            best = int(scores.argmax())
            return {"label": id2label[best], "score": float(scores[best])}
        ranked = [{"label": id2label[i], "score": float(s)} for i, s in enumerate(scores)]
        if not _legacy:
            ranked.sort(key=lambda d: d["score"], reverse=True)
            if top_k is not None:
                ranked = ranked[:top_k]
        return ranked
