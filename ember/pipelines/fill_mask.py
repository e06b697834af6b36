"""``fill-mask``: the most likely tokens for the mask token(s) in a text.

Example::

    unmasker = pipeline("fill-mask", "path/to/bert-base-uncased")
    unmasker("Paris is the [MASK] of France.")
    # [{'score': 0.9, 'token': 3007, 'token_str': 'capital',
    #   'sequence': 'paris is the capital of france.'}, ...]
    unmasker("Paris is the [MASK] of France.", targets=["capital", "city"], top_k=2)
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .base import Pipeline, PipelineException, unbatch_encoding
from .text_classification import softmax

__all__ = ["FillMaskPipeline"]

logger = logging.getLogger("ember.pipelines")


class FillMaskPipeline(Pipeline):
    """Masked-language-model predictions for every mask token of the input.

    ``top_k`` (5): predictions per mask. ``targets``: a token or list of tokens/words to score
    instead of the whole vocabulary (a word missing from the vocabulary is replaced by its
    first word piece, with a warning, as transformers does). ``tokenizer_kwargs``: passed to
    the tokenizer (truncation to the model's length is on by default).

    One mask: a list of ``{"score", "token", "token_str", "sequence"}``; several masks: one
    such list per mask. A list of texts gives one result per text (a one-element list gives
    its result alone, as in transformers).
    """

    task = "fill-mask"

    def _sanitize_parameters(self, top_k: int | None = None, targets: str | list | None = None,
                             tokenizer_kwargs: dict | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        self._reject_unknown(kwargs)
        if self.tokenizer.mask_token_id is None:
            raise PipelineException("fill-mask", self.model.base_model_prefix,
                                    "The tokenizer does not define a `mask_token`.")
        pre: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if tokenizer_kwargs is not None:
            pre["tokenizer_kwargs"] = tokenizer_kwargs
        if targets is not None:
            post["target_ids"] = self.get_target_ids(targets)
        if top_k is not None:
            if not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive int, got {top_k!r}")
            post["top_k"] = top_k
        return pre, {}, post

    def get_target_ids(self, targets: str | list[str]) -> np.ndarray:
        """Vocabulary ids of ``targets``; a target outside the vocabulary becomes its first
        word piece (warned), one that tokenizes to nothing is dropped (warned)."""
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            id_ = vocab.get(target)
            if id_ is None:
                pieces = self.tokenizer(target, add_special_tokens=False,
                                        return_attention_mask=False,
                                        return_token_type_ids=False)["input_ids"][:1]
                if len(pieces) == 0:
                    logger.warning("The specified target token `%s` does not exist in the model "
                                   "vocabulary. We cannot replace it with anything meaningful, "
                                   "ignoring it", target)
                    continue
                id_ = pieces[0]
                logger.warning("The specified target token `%s` does not exist in the model "
                               "vocabulary. Replacing with `%s`.", target,
                               self.tokenizer.convert_ids_to_tokens(id_))
            ids.append(int(id_))
        ids = list(set(ids))  # transformers' order (set of ints), so ties rank the same
        if not ids:
            raise ValueError("At least one target must be provided when passed.")
        return np.array(ids)

    def __call__(self, inputs: str | list[str], *args: Any, **kwargs: Any) -> Any:
        """Fill the mask(s) of a text or of each text in a list."""
        outputs = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, list) and len(inputs) == 1:
            return outputs[0]
        return outputs

    def preprocess(self, inputs: str, tokenizer_kwargs: dict | None = None) -> dict:
        if not isinstance(inputs, str):
            raise ValueError(f"fill-mask takes a string or a list of strings, got "
                             f"{type(inputs).__name__}")
        enc = self.tokenizer(inputs, return_tensors="np",
                             **self._truncating(tokenizer_kwargs or {}))
        out = unbatch_encoding(enc, ("input_ids", "attention_mask", "token_type_ids"))
        if not (out["input_ids"] == self.tokenizer.mask_token_id).any():
            raise PipelineException("fill-mask", self.model.base_model_prefix,
                                    f"No mask_token ({self.tokenizer.mask_token}) found on the "
                                    "input")
        return out

    def _forward(self, model_inputs: dict) -> dict:
        logits = self.model(**self._model_kwargs(model_inputs)).logits.data
        return {"logits": logits, "input_ids": model_inputs["input_ids"]}

    def postprocess(self, model_outputs: dict, top_k: int = 5,
                    target_ids: np.ndarray | None = None) -> list:
        input_ids = np.asarray(model_outputs["input_ids"])
        masked = np.flatnonzero(input_ids == self.tokenizer.mask_token_id)
        probs = softmax(np.asarray(model_outputs["logits"][masked], dtype=np.float32))
        if target_ids is not None:
            probs = probs[:, target_ids]
        top_k = min(top_k, probs.shape[-1])
        single = len(masked) == 1
        pad = self.tokenizer.pad_token_id
        result = []
        for row, position in zip(probs, masked):
            best = np.argsort(-row, kind="stable")[:top_k]
            preds = []
            for p in best:
                token = int(target_ids[p]) if target_ids is not None else int(p)
                tokens = input_ids.copy()
                tokens[position] = token
                if pad is not None:
                    tokens = tokens[tokens != pad]
                preds.append({
                    "score": float(row[p]), "token": token,
                    "token_str": self.tokenizer.decode([token]),
                    # with several masks the other [MASK]s stay visible
                    "sequence": self.tokenizer.decode(tokens.tolist(),
                                                      skip_special_tokens=single),
                })
            result.append(preds)
        return result[0] if single else result
