"""``token-classification`` (alias ``ner``): a label per token, optionally grouped into entities.

Example::

    ner = pipeline("ner", "path/to/bert-ner", aggregation_strategy="simple")
    ner("My name is Wolfgang and I live in Berlin")
    # [{'entity_group': 'PER', 'score': 0.99, 'word': 'Wolfgang', 'start': 11, 'end': 19},
    #  {'entity_group': 'LOC', 'score': 0.99, 'word': 'Berlin', 'start': 34, 'end': 40}]
"""
from __future__ import annotations

import enum
import warnings
from typing import Any

import numpy as np

from .base import Pipeline
from .text_classification import softmax

__all__ = ["AggregationStrategy", "NerPipeline", "TokenClassificationPipeline"]


class AggregationStrategy(str, enum.Enum):
    """How tokens become entities: "none" (one result per token), "simple" (adjacent tokens
    with the same tag, B-/I- aware), or word-level "first"/"average"/"max" (a word takes the
    label of its first token / of its averaged scores / of its highest-scoring token)."""

    NONE = "none"
    SIMPLE = "simple"
    FIRST = "first"
    AVERAGE = "average"
    MAX = "max"


_WORD_LEVEL = (AggregationStrategy.FIRST, AggregationStrategy.AVERAGE, AggregationStrategy.MAX)


def _strategy(value: Any) -> AggregationStrategy:
    if isinstance(value, AggregationStrategy):
        return value
    try:
        return AggregationStrategy(str(value).lower())
    except ValueError:
        raise ValueError(f"aggregation_strategy must be one of "
                         f"{[s.value for s in AggregationStrategy]}, got {value!r}") from None


class TokenClassificationPipeline(Pipeline):
    """Named-entity recognition with any ``*ForTokenClassification`` model.

    Options (transformers' names and semantics): ``aggregation_strategy`` ("none" default,
    "simple", "first", "average", "max"), ``ignore_labels`` (["O"]), ``stride`` (split a long
    text into overlapping windows instead of truncating it; needs an aggregation strategy
    other than "none"), ``is_split_into_words`` + ``delimiter`` (input as a list of words).

    Each result: ``{"entity", "score", "index", "word", "start", "end"}`` (strategy "none") or
    ``{"entity_group", "score", "word", "start", "end"}``; ``start``/``end`` are character
    offsets into the input. Texts longer than the model takes are truncated unless ``stride``.
    """

    task = "token-classification"

    def _sanitize_parameters(self, ignore_labels: list[str] | None = None,
                             aggregation_strategy: str | AggregationStrategy | None = None,
                             is_split_into_words: bool | None = None, stride: int | None = None,
                             delimiter: str | None = None,
                             **kwargs: Any) -> tuple[dict, dict, dict]:
        self._reject_unknown(kwargs)
        pre: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if is_split_into_words is not None:
            pre["is_split_into_words"] = bool(is_split_into_words)
        if delimiter is not None:
            pre["delimiter"] = delimiter
        if aggregation_strategy is not None:
            post["aggregation_strategy"] = _strategy(aggregation_strategy)
        if ignore_labels is not None:
            post["ignore_labels"] = list(ignore_labels)
        if stride is not None:
            max_length = self._max_length() or 0
            if not isinstance(stride, int) or stride < 0 or stride >= max_length:
                raise ValueError("`stride` must be less than `tokenizer.model_max_length` (or "
                                 "even lower if the tokenizer adds special tokens)")
            if post.get("aggregation_strategy") == AggregationStrategy.NONE:
                raise ValueError('`stride` was provided to process all the text but '
                                 '`aggregation_strategy="none"`, please select another one '
                                 'instead.')
            pre["stride"] = stride
        return pre, {}, post

    def __call__(self, inputs: str | list, *args: Any, **kwargs: Any) -> Any:
        """Label a text (a list of entities) or each text of a list (a list of lists)."""
        split = kwargs.get("is_split_into_words",
                           self._preprocess_params.get("is_split_into_words", False))
        if split and isinstance(inputs, (list, tuple)) and all(isinstance(w, str)
                                                               for w in inputs):
            # one pre-split text: a one-element list of results, as transformers returns
            return super().__call__([list(inputs)], *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    def preprocess(self, sentence: str | list[str], is_split_into_words: bool = False,
                   delimiter: str | None = None, stride: int | None = None) -> list[dict]:
        word_to_chars = None
        tok_kwargs: dict[str, Any] = {}
        if is_split_into_words:
            if not isinstance(sentence, list):
                raise ValueError("When `is_split_into_words=True`, `sentence` must be a list of "
                                 "tokens.")
            delimiter = " " if delimiter is None else delimiter
            words, sentence, word_to_chars, pos = sentence, delimiter.join(sentence), [], 0
            for word in words:
                word_to_chars.append((pos, pos + len(word)))
                pos += len(word) + len(delimiter)
            text: str | list[str] = words
            tok_kwargs["is_split_into_words"] = True
        else:
            if not isinstance(sentence, str):
                raise ValueError("When `is_split_into_words=False`, `sentence` must be an "
                                 "untokenized string.")
            text = sentence
        if stride is not None:
            tok_kwargs.update(return_overflowing_tokens=True, stride=stride)
        enc = self.tokenizer(text, truncation=True, max_length=self._max_length(),
                             return_special_tokens_mask=True, return_offsets_mapping=True,
                             **tok_kwargs)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids",
                            "special_tokens_mask", "offset_mapping") if k in enc]
        rows = [enc[k] for k in keys]
        if stride is None:  # one window: make it look like the overflowing (batched) layout
            rows = [[r] for r in rows]
        chunks = []
        for i in range(len(rows[0])):
            chunk = {k: np.asarray(r[i], dtype=np.int64) for k, r in zip(keys, rows)}
            chunk["offset_mapping"] = chunk["offset_mapping"].reshape(-1, 2)
            chunk["sentence"] = sentence
            chunk["word_ids"] = enc.word_ids(i) if word_to_chars is not None else None
            chunk["word_to_chars_map"] = word_to_chars
            chunks.append(chunk)
        return chunks

    def _forward(self, model_inputs: dict) -> dict:
        logits = self.model(**self._model_kwargs(model_inputs)).logits.data
        keep = ("input_ids", "special_tokens_mask", "offset_mapping", "sentence", "word_ids",
                "word_to_chars_map")
        return {"logits": logits, **{k: model_inputs[k] for k in keep}}

    def postprocess(self, all_outputs: list[dict],
                    aggregation_strategy: AggregationStrategy = AggregationStrategy.NONE,
                    ignore_labels: list[str] | None = None) -> list[dict]:
        ignore = ["O"] if ignore_labels is None else ignore_labels
        entities: list[dict] = []
        for out in all_outputs:
            scores = softmax(np.asarray(out["logits"], dtype=np.float32))
            pre = self.gather_pre_entities(out["sentence"], out["input_ids"], scores,
                                           out["offset_mapping"], out["special_tokens_mask"],
                                           aggregation_strategy, out["word_ids"],
                                           out["word_to_chars_map"])
            entities += [e for e in self.aggregate(pre, aggregation_strategy)
                         if e.get("entity") not in ignore and e.get("entity_group") not in ignore]
        if len(all_outputs) > 1:
            entities = self.aggregate_overlapping_entities(entities)
        for e in entities:  # plain Python numbers (transformers leaves NumPy scalars)
            e["score"] = float(e["score"])
        return entities

    # -- transformers' algorithm, step by step ----------------------------------------------------
    def _is_word_aware(self) -> bool:
        model = getattr(getattr(self.tokenizer, "_tokenizer", None), "model", None)
        return bool(getattr(model, "continuing_subword_prefix", None))

    def gather_pre_entities(self, sentence: str, input_ids: np.ndarray, scores: np.ndarray,
                            offset_mapping: np.ndarray | None, special_tokens_mask: np.ndarray,
                            aggregation_strategy: AggregationStrategy,
                            word_ids: list[int | None] | None = None,
                            word_to_chars_map: list[tuple[int, int]] | None = None) -> list[dict]:
        """One dict per non-special token: word piece, scores, character span, subword flag."""
        word_aware = self._is_word_aware()
        pre = []
        for idx, token_scores in enumerate(scores):
            if special_tokens_mask[idx]:
                continue
            token_id = int(input_ids[idx])
            word = self.tokenizer.convert_ids_to_tokens(token_id)
            if offset_mapping is None:
                start = end = None
                is_subword = False
            else:
                start, end = int(offset_mapping[idx][0]), int(offset_mapping[idx][1])
                if word_ids is not None and word_to_chars_map is not None:
                    if word_ids[idx] is not None:  # pre-split words: offsets are per word
                        shift = word_to_chars_map[word_ids[idx]][0]
                        start, end = start + shift, end + shift
                word_ref = sentence[start:end]
                if word_aware:  # "##" pieces: a piece shorter/longer than its span is a subword
                    is_subword = len(word) != len(word_ref)
                else:
                    if aggregation_strategy in _WORD_LEVEL:
                        warnings.warn("Tokenizer does not support real words, using fallback "
                                      "heuristic", UserWarning, stacklevel=2)
                    is_subword = start > 0 and " " not in sentence[start - 1:start + 1]
                if token_id == self.tokenizer.unk_token_id:
                    word, is_subword = word_ref, False
            pre.append({"word": word, "scores": token_scores, "start": start, "end": end,
                        "index": idx, "is_subword": is_subword})
        return pre

    def aggregate(self, pre_entities: list[dict],
                  aggregation_strategy: AggregationStrategy) -> list[dict]:
        id2label = self.model.config.id2label
        if aggregation_strategy in (AggregationStrategy.NONE, AggregationStrategy.SIMPLE):
            entities = []
            for pre in pre_entities:
                best = int(pre["scores"].argmax())
                entities.append({"entity": id2label[best], "score": pre["scores"][best],
                                 "index": pre["index"], "word": pre["word"],
                                 "start": pre["start"], "end": pre["end"]})
        else:
            entities = self.aggregate_words(pre_entities, aggregation_strategy)
        if aggregation_strategy == AggregationStrategy.NONE:
            return entities
        return self.group_entities(entities)

    def aggregate_word(self, entities: list[dict],
                       aggregation_strategy: AggregationStrategy) -> dict:
        """One word from its pieces, labelled by the word-level strategy."""
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if aggregation_strategy == AggregationStrategy.FIRST:
            scores = entities[0]["scores"]
        elif aggregation_strategy == AggregationStrategy.MAX:
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        elif aggregation_strategy == AggregationStrategy.AVERAGE:
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        else:
            raise ValueError("Invalid aggregation_strategy")
        best = int(scores.argmax())
        return {"entity": self.model.config.id2label[best], "score": scores[best],
                "word": word, "start": entities[0]["start"], "end": entities[-1]["end"]}

    def aggregate_words(self, entities: list[dict],
                        aggregation_strategy: AggregationStrategy) -> list[dict]:
        """Merge each word's pieces (a piece flagged ``is_subword`` joins the previous word)."""
        if aggregation_strategy not in _WORD_LEVEL:
            raise ValueError("NONE and SIMPLE strategies are invalid for word aggregation")
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self.aggregate_word(group, aggregation_strategy))
                group = [entity]
        if group is not None:
            words.append(self.aggregate_word(group, aggregation_strategy))
        return words

    def group_sub_entities(self, entities: list[dict]) -> dict:
        """One entity group from adjacent entities with the same tag."""
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": np.mean(np.nanmean([e["score"] for e in entities])),
                "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    @staticmethod
    def get_tag(entity_name: str) -> tuple[str, str]:
        """("B" or "I", tag); a label without a B-/I- prefix counts as a continuation."""
        if entity_name.startswith(("B-", "I-")):
            return entity_name[0], entity_name[2:]
        return "I", entity_name

    def group_entities(self, entities: list[dict]) -> list[dict]:
        """Group adjacent entities with the same tag; a "B-" starts a new group."""
        groups, current = [], []
        for entity in entities:
            if current:
                bi, tag = self.get_tag(entity["entity"])
                _, last_tag = self.get_tag(current[-1]["entity"])
                if not (tag == last_tag and bi != "B"):
                    groups.append(self.group_sub_entities(current))
                    current = []
            current.append(entity)
        if current:
            groups.append(self.group_sub_entities(current))
        return groups

    @staticmethod
    def aggregate_overlapping_entities(entities: list[dict]) -> list[dict]:
        """Entities from overlapping windows (``stride``): of overlapping ones keep the longest,
        then the highest-scoring."""
        if not entities:
            return entities
        entities = sorted(entities, key=lambda e: e["start"])
        kept, previous = [], entities[0]
        for entity in entities:
            if previous["start"] <= entity["start"] < previous["end"]:
                length = entity["end"] - entity["start"]
                previous_length = previous["end"] - previous["start"]
                if length > previous_length or (length == previous_length
                                                and entity["score"] > previous["score"]):
                    previous = entity
            else:
                kept.append(previous)
                previous = entity
        kept.append(previous)
        return kept


NerPipeline = TokenClassificationPipeline
