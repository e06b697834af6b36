"""Task pipelines, as ``transformers.pipeline``: ``pipeline(task, model)`` loads the model with
the task's Auto class and its tokenizer, and returns a callable.

Example::

    from ember.pipelines import pipeline
    clf = pipeline("text-classification", "path/to/finetuned-bert")
    clf("I love this!")            # {'label': 'POSITIVE', 'score': 0.99...}
    clf(["good", "bad"], top_k=None)

Stricter than transformers: a checkpoint that lacks the task head's weights (a plain BERT for
text-classification, say) is refused instead of run with a random head, and there is no default
model per task (nothing is downloaded unasked).
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from .base import Pipeline, PipelineException, check_device

__all__ = ["Pipeline", "PipelineException", "SUPPORTED_TASKS", "TASK_ALIASES", "UnknownTaskError",
           "check_task", "get_supported_tasks", "pipeline", "register_pipeline"]

# task -> {"impl": Pipeline subclass or "module:Class", "model": Auto class name, "aliases": [...]}
SUPPORTED_TASKS: dict[str, dict[str, Any]] = {}
TASK_ALIASES: dict[str, str] = {}


def register_pipeline(task: str, impl: type[Pipeline] | str, model: str,
                      aliases: tuple[str, ...] | list[str] = ()) -> None:
    """Register (or replace) a task. ``impl``: the Pipeline subclass, or "module:Class" imported
    on first use; ``model``: the name of the Auto class in ``ember.models`` that loads it."""
    SUPPORTED_TASKS[task] = {"impl": impl, "model": model, "aliases": list(aliases)}
    for alias in aliases:
        TASK_ALIASES[alias] = task


register_pipeline("text-classification", "ember.pipelines.text_classification:"
                  "TextClassificationPipeline", "AutoModelForSequenceClassification",
                  aliases=("sentiment-analysis",))
register_pipeline("token-classification", "ember.pipelines.token_classification:"
                  "TokenClassificationPipeline", "AutoModelForTokenClassification",
                  aliases=("ner",))
register_pipeline("fill-mask", "ember.pipelines.fill_mask:FillMaskPipeline",
                  "AutoModelForMaskedLM")
register_pipeline("feature-extraction", "ember.pipelines.feature_extraction:"
                  "FeatureExtractionPipeline", "AutoModel")
register_pipeline("sentence-similarity", "ember.pipelines.feature_extraction:"
                  "SentenceSimilarityPipeline", "AutoModel")
register_pipeline("question-answering", "ember.pipelines.question_answering:"
                  "QuestionAnsweringPipeline", "AutoModelForQuestionAnswering")
register_pipeline("text-generation", "ember.pipelines.text_generation:TextGenerationPipeline",
                  "AutoModelForCausalLM")


class UnknownTaskError(KeyError, ValueError):
    """A task name that is not registered (a KeyError, as in transformers, and a ValueError)."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_supported_tasks() -> list[str]:
    """Every task name and alias ``pipeline`` accepts."""
    return sorted({*SUPPORTED_TASKS, *TASK_ALIASES})


def check_task(task: str) -> tuple[str, dict[str, Any]]:
    """(canonical task name, its registry entry); KeyError listing the tasks for unknown names."""
    name = TASK_ALIASES.get(task, task)
    if name not in SUPPORTED_TASKS:
        raise UnknownTaskError(f"Unknown task {task!r}, available tasks are "
                       f"{', '.join(get_supported_tasks())}")
    return name, SUPPORTED_TASKS[name]


def _resolve_impl(impl: type[Pipeline] | str) -> type[Pipeline]:
    if isinstance(impl, str):
        module, _, cls = impl.partition(":")
        return getattr(importlib.import_module(module), cls)
    return impl


def pipeline(task: str | None = None, model: Any = None, tokenizer: Any = None,
             device: Any = None, batch_size: int | None = None, *, config: Any = None,
             revision: str | None = None, token: Any = None, dtype: Any = None,
             model_kwargs: dict[str, Any] | None = None,
             pipeline_class: type[Pipeline] | None = None, trust_remote_code: bool | None = None,
             use_fast: bool = True, device_map: Any = None, **kwargs: Any) -> Pipeline:
    """Build the pipeline for ``task`` (a name or alias, see ``get_supported_tasks()``).

    ``model``: a checkpoint folder / hub name (loaded with the task's Auto class, tokenizer from
    the same place unless ``tokenizer`` is given) or a model object (then ``tokenizer`` is an
    object or name, or read from ``model.config.name_or_path``). ``dtype``: None computes in
    float32 (transformers' default is "auto"). Other keyword arguments are task parameters,
    the defaults of every call (``top_k=3``, ``aggregation_strategy="simple"``).

    >>> ner = pipeline("ner", "path/to/bert-ner", aggregation_strategy="simple")
    """
    if task is None:
        raise ValueError("pipeline() needs a task; available tasks are "
                         f"{', '.join(get_supported_tasks())}")
    name, entry = check_task(task)
    check_device(device)
    if device_map not in (None, "auto"):
        check_device(device_map)
    if trust_remote_code:
        raise ValueError("trust_remote_code=True: ember never runs code from a checkpoint")
    if model is None:
        raise ValueError(f"pipeline({task!r}) needs model=... (a checkpoint folder, a hub name in "
                         "the local cache, or a model object): ember has no default model per "
                         "task and downloads nothing unasked")
    cls = pipeline_class or _resolve_impl(entry["impl"])
    from .. import models
    auto_class = getattr(models, entry["model"])
    load_kwargs: dict[str, Any] = dict(model_kwargs or {})
    for key, value in (("revision", revision), ("token", token), ("dtype", dtype),
                       ("config", config)):
        if value is not None:
            load_kwargs[key] = value
    if isinstance(load_kwargs.get("config"), (str, os.PathLike)):
        load_kwargs["config"] = models.AutoConfig.from_pretrained(load_kwargs["config"])
    model, tokenizer = cls._load_components(model, tokenizer, auto_class, name, load_kwargs,
                                            kwargs)
    return cls(model, tokenizer=tokenizer, task=name, device=device, batch_size=batch_size,
               **kwargs)
