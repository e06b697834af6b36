"""``QuestionAnsweringPipeline``: extractive question answering (``"question-answering"``), with
the semantics of transformers 4.x (the pipeline was removed in transformers 5).

Example::

    qa = pipeline("question-answering", "path/to/bert-squad")
    qa(question="Who wrote it?", context="It was written by Jane Doe in 1999.")
    # {'score': 0.93, 'start': 18, 'end': 26, 'answer': 'Jane Doe'}
    qa({"question": "When?", "context": "..."}, top_k=3)   # a list of 3 answers

How an answer is found (per input):

1. The question and the context are tokenized as a pair (question first for right-padding
   tokenizers); a context too long for ``max_seq_len`` is split into windows that overlap by
   ``doc_stride`` tokens (the tokenizer's ``return_overflowing_tokens``).
2. Per window, start and end logits are turned into probabilities with a softmax over the
   context tokens and the CLS token (question, separator and padding tokens are masked out).
3. Every span of context tokens with ``start <= end < start + max_answer_len`` scores
   ``p_start * p_end``; each window contributes its ``top_k`` best spans.
4. Spans become character offsets into the original context (widened to whole words with
   ``align_to_words``); spans with the same text (case-insensitive) across windows are merged
   by adding their scores, as transformers 4.x does; the ``top_k`` best are returned.
5. ``handle_impossible_answer=True`` adds the empty answer, scored by the lowest CLS-span
   probability ``p_start[CLS] * p_end[CLS]`` over the windows.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .base import Pipeline

__all__ = ["QuestionAnsweringPipeline"]

Answer = dict[str, Any]


class QuestionAnsweringPipeline(Pipeline):
    """Answer questions with spans of a context, using a ``*ForQuestionAnswering`` model.

    Inputs: ``question=..., context=...`` (strings, or a list of questions for one context, or
    two equal-length lists), a dict ``{"question", "context"}``, a list of such dicts, or the
    two strings positionally. One input gives one result, a list gives a list.

    Parameters (at construction or per call): ``top_k`` (1), ``doc_stride`` (128 or half of
    ``max_seq_len``), ``max_answer_len`` (15), ``max_seq_len`` (384 or the tokenizer's
    maximum), ``max_question_len`` (64), ``handle_impossible_answer`` (False),
    ``align_to_words`` (True).

    A result is ``{"score", "start", "end", "answer"}`` (character offsets into the context,
    ``context[start:end] == answer``) when ``top_k == 1``, else a list of up to ``top_k`` of them,
    best first.

    >>> qa(question="Where?", context="The cat sat on the mat.", top_k=2)
    [{'score': 0.6, 'start': 15, 'end': 22, 'answer': 'the mat'}, {...}]
    """

    task = "question-answering"

    def _sanitize_parameters(self, top_k: int | None = None, doc_stride: int | None = None,
                             max_answer_len: int | None = None, max_seq_len: int | None = None,
                             max_question_len: int | None = None,
                             handle_impossible_answer: bool | None = None,
                             align_to_words: bool | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        self._reject_unknown(kwargs)
        pre: dict[str, Any] = {}
        post: dict[str, Any] = {}
        for name, value, dest in (("doc_stride", doc_stride, pre),
                                  ("max_seq_len", max_seq_len, pre),
                                  ("max_question_len", max_question_len, pre),
                                  ("top_k", top_k, post), ("max_answer_len", max_answer_len, post)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {value!r}")
            low = 0 if name == "doc_stride" else 1
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
            dest[name] = int(value)
        if handle_impossible_answer is not None:
            post["handle_impossible_answer"] = bool(handle_impossible_answer)
        if align_to_words is not None:
            post["align_to_words"] = bool(align_to_words)
        return pre, {}, post

    # -- inputs -----------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Answer | list:
        """``qa(question=..., context=...)``, ``qa({"question", "context"})``, ``qa([...])`` or
        ``qa("question", "context")``; options by keyword (``top_k=3``)."""
        question = kwargs.pop("question", None)
        context = kwargs.pop("context", None)
        if args and (question is not None or context is not None):
            raise TypeError("pass the inputs either positionally or as question=/context=, "
                            "not both")
        if len(args) == 2 and all(isinstance(a, str) for a in args):
            inputs: Any = {"question": args[0], "context": args[1]}
        elif len(args) == 1:
            inputs = args[0]
        elif args:
            raise TypeError(f"{type(self).__name__}() takes one input (or a question and a "
                            f"context string), got {len(args)} positional arguments")
        elif question is None or context is None:
            raise ValueError("question-answering needs both question=... and context=... (or "
                             "a dict {'question': ..., 'context': ...})")
        else:
            inputs = _pair_inputs(question, context)
        if isinstance(inputs, dict):
            _check_example(inputs)
        elif isinstance(inputs, Iterable) and not isinstance(inputs, str):
            inputs = list(inputs)
            for item in inputs:
                _check_example(item)
        else:
            raise ValueError(f"question-answering inputs must be a dict {{'question', 'context'}}"
                             f" or a list of them, got {type(inputs).__name__}")
        return super().__call__(inputs, **kwargs)

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, dict)

    # -- the three steps --------------------------------------------------------------------------
    def preprocess(self, example: dict, doc_stride: int | None = None,
                   max_seq_len: int | None = None, max_question_len: int = 64) -> list[dict]:
        """One chunk per window of the context: model inputs plus the window's ``encoding``."""
        _check_example(example)
        tok = self.tokenizer
        if max_seq_len is None:
            max_seq_len = min(int(tok.model_max_length), 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len "
                             f"({max_seq_len})")
        question = _truncate_question(tok, example["question"], max_question_len)
        context = example["context"]
        question_first = tok.padding_side == "right"
        try:
            enc = tok(question if question_first else context,
                      context if question_first else question,
                      truncation="only_second" if question_first else "only_first",
                      max_length=max_seq_len, stride=doc_stride, padding=False,
                      return_token_type_ids=True, return_overflowing_tokens=True,
                      return_offsets_mapping=True)
        except ValueError as err:  # window too small for the question or the stride
            n_question = len(tok(question, add_special_tokens=False)["input_ids"])
            room = max_seq_len - n_question - tok.num_special_tokens_to_add(pair=True)
            raise ValueError(
                f"question-answering: cannot split the context into windows of max_seq_len="
                f"{max_seq_len} tokens with doc_stride={doc_stride}: the question takes "
                f"{n_question} tokens, leaving {max(room, 0)} per window for the context, and "
                "doc_stride must be smaller than that. Raise max_seq_len or lower doc_stride / "
                f"max_question_len. ({err})") from None
        context_index = 1 if question_first else 0
        names = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        chunks = []
        for i, window in enumerate(enc.encodings):
            chunk = {k: np.asarray(enc[k][i], dtype=np.int64) for k in names}
            chunk.update(encoding=window, context=context, context_index=context_index)
            chunks.append(chunk)
        return chunks

    def _forward(self, model_inputs: dict) -> dict:
        out = self.model(**self._model_kwargs(model_inputs))
        start, end = _numpy(out["start_logits"]), _numpy(out["end_logits"])
        mask = model_inputs.get("attention_mask")
        keep = np.ones(start.shape, bool) if mask is None else np.asarray(mask).astype(bool)
        # drop the batch's padding: each row keeps exactly its window's tokens
        rows = range(start.shape[0])
        return {"start_logits": [start[i][keep[i]] for i in rows],
                "end_logits": [end[i][keep[i]] for i in rows],
                **{k: v for k, v in model_inputs.items() if isinstance(v, list)}}

    def postprocess(self, model_outputs: list[dict], top_k: int = 1,
                    handle_impossible_answer: bool = False, max_answer_len: int = 15,
                    align_to_words: bool = True) -> Answer | list[Answer]:
        """The ``top_k`` best answers over all windows of one input."""
        answers: list[Answer] = []
        null_score = 1_000_000.0  # transformers' "large and positive" start for the minimum
        cls_id = getattr(self.tokenizer, "cls_token_id", None)
        for window in model_outputs:
            enc, context = window["encoding"], window["context"]
            context_index = window["context_index"]
            n = len(enc.ids)
            start_logits = np.asarray(window["start_logits"], dtype=np.float64)[:n]
            end_logits = np.asarray(window["end_logits"], dtype=np.float64)[:n]
            in_context = np.array([s == context_index for s in enc.sequence_ids], dtype=bool)
            # CLS stays in the softmax (it is the "no answer" of SQuAD 2-style models)
            scored = in_context | (np.asarray(enc.ids) == cls_id if cls_id is not None else False)
            p_start = _masked_softmax(start_logits, scored)
            p_end = _masked_softmax(end_logits, scored)
            if handle_impossible_answer:
                null_score = min(null_score, float(p_start[0] * p_end[0]))
            for s, e, score in _best_spans(p_start, p_end, in_context, top_k, max_answer_len):
                a, b = _char_span(enc, s, e, context_index, align_to_words)
                text = context[a:b]
                same = next((x for x in answers if x["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score
                else:
                    answers.append({"score": score, "start": a, "end": b, "answer": text})
        if handle_impossible_answer:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        if top_k == 1:
            return answers[0] if answers else {"score": 0.0, "start": 0, "end": 0, "answer": ""}
        return answers


# -- helpers ---------------------------------------------------------------------------------------
def _pair_inputs(question: Any, context: Any) -> dict | list[dict]:
    """question=/context= keyword inputs as one example dict or a list of them."""
    if isinstance(question, str) and isinstance(context, str):
        return {"question": question, "context": context}
    if isinstance(question, (list, tuple)) and isinstance(context, str):
        return [{"question": q, "context": context} for q in question]
    if isinstance(question, (list, tuple)) and isinstance(context, (list, tuple)):
        if len(question) != len(context):
            raise ValueError(f"got {len(question)} questions but {len(context)} contexts; pass "
                             "one context, or one per question")
        return [{"question": q, "context": c} for q, c in zip(question, context)]
    raise ValueError("question= and context= must be strings, a list of questions with one "
                     f"context, or two lists (got {type(question).__name__} and "
                     f"{type(context).__name__})")


def _check_example(item: Any) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"a question-answering input must be a dict with 'question' and "
                         f"'context', got {type(item).__name__}")
    for key in ("question", "context"):
        if key not in item:
            raise KeyError(f"a question-answering input needs the keys 'question' and 'context'"
                           f" (got {sorted(item)})")
        value = item[key]
        if not isinstance(value, str):
            raise ValueError(f"`{key}` must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"`{key}` cannot be empty")


def _truncate_question(tok: Any, question: str, max_question_len: int) -> str:
    """The question cut after its ``max_question_len``-th token (the text, so offsets stay
    exact)."""
    enc = tok(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= max_question_len:
        return question
    return question[:offsets[max_question_len - 1][1]]


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)


def _masked_softmax(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Softmax over the ``allowed`` positions; the others get probability 0."""
    out = np.zeros_like(logits)
    if allowed.any():
        x = logits[allowed]
        x = np.exp(x - x.max())
        out[allowed] = x / x.sum()
    return out


def _best_spans(p_start: np.ndarray, p_end: np.ndarray, allowed: np.ndarray, top_k: int,
                max_answer_len: int) -> list[tuple[int, int, float]]:
    """The ``top_k`` spans (start, end, p_start * p_end) of allowed tokens with
    ``start <= end < start + max_answer_len``, best first (ties: earlier start, then end)."""
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        return []
    scores = np.outer(p_start[idx], p_end[idx])
    gap = idx[None, :] - idx[:, None]  # end - start, in token positions
    scores = np.where((gap >= 0) & (gap < max_answer_len), scores, -1.0)
    flat = scores.ravel()
    order = np.argsort(-flat, kind="stable")[:top_k]
    order = order[flat[order] >= 0]
    starts, ends = np.unravel_index(order, scores.shape)
    return [(int(idx[s]), int(idx[e]), float(flat[o])) for s, e, o in zip(starts, ends, order)]


def _char_span(enc: Any, s: int, e: int, context_index: int,
               align_to_words: bool) -> tuple[int, int]:
    """Character offsets of tokens ``s..e`` in the context; with ``align_to_words`` the whole
    words they belong to (as transformers 4.x: falls back to token offsets without words)."""
    if align_to_words:
        ws, we = enc.token_to_word(s), enc.token_to_word(e)
        first = enc.word_to_chars(ws, context_index) if ws is not None else None
        last = enc.word_to_chars(we, context_index) if we is not None else None
        if first is not None and last is not None:
            return int(first[0]), int(last[1])
    return int(enc.offsets[s][0]), int(enc.offsets[e][1])
