"""``Trainer``: transformers' training loop on ember (single process, CPU, float32).

Example::

    from ember.trainer import Trainer, TrainingArguments
    args = TrainingArguments("out", num_train_epochs=3, eval_strategy="epoch",
                             save_strategy="epoch", load_best_model_at_end=True)
    trainer = Trainer(model, args, train_dataset=train, eval_dataset=valid,
                      compute_metrics=lambda p: {"accuracy": (p.predictions.argmax(-1)
                                                              == p.label_ids).mean()})
    trainer.train()                      # or train(resume_from_checkpoint=True)
    trainer.evaluate()                   # {"eval_loss": ..., "eval_accuracy": ..., "epoch": 3.0}

Same loop, events, logs and checkpoint layout as ``transformers.Trainer`` (see the docs of each
method for the details). What differs:

* the loss over an accumulated batch is token-weighted for ember's causal-LM, masked-LM and
  token-classification heads although their ``forward`` does not take ``num_items_in_batch``:
  the Trainer turns each micro-batch's mean into its share of the sum over the whole accumulated
  batch. transformers gets the same result by passing ``num_items_in_batch`` to the model;
* ``model_accepts_loss_kwargs`` is True only for a ``forward`` with an explicit
  ``num_items_in_batch`` parameter (or a model with ``accepts_loss_kwargs = True``), not for any
  ``**kwargs`` (ember heads forward those to their base model);
* checkpoints hold no pickle: optimizer state as safetensors, scheduler/RNG/args as JSON;
  they are written to a temporary folder and renamed into place;
* the random sampler draws each epoch's order from ``seed + epoch`` (ember's generator), so
  resuming mid-epoch replays the order exactly; the order is not torch's;
* ``remove_unused_columns`` filters features in the collator for every dataset type;
* ``preprocess_logits_for_metrics(logits, labels)`` receives NumPy arrays;
* ``compute_loss_func``, ``optimizer_cls_and_kwargs`` and ``preprocess_logits_for_metrics``
  are keyword-only;
* ``report_to`` knows "tensorboard" and "mlflow" (``ember.trainer.integrations``, each an
  optional extra); ``hyperparameter_search`` runs Optuna only (``ember[optuna]``);
  ``total_flos`` adds the attention term to transformers' ``6 * N * tokens``
  (``ember.trainer.flops``); ``train()`` also prints a summary (with energy from RAPL counters
  where the machine has them) and writes ``output_dir/loss.png``;
* not implemented yet (clear errors): ``label_smoothing_factor``.
"""
from __future__ import annotations

import inspect
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.random import Generator
from ..autograd.random import manual_seed as _ember_manual_seed
from ..autograd.tensor import Tensor
from ..data.data_collator import DataCollatorWithPadding, default_data_collator
from ..data.dataloader import DataLoader
from ..data.dataset import IterableDataset
from ..data.sampler import Sampler, SequentialSampler
from ..models.modeling_outputs import ModelOutput
from ..models.safetensors_io import save_file
from ..utils.memory import keep_freed_memory
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
)
from .checkpoint import (
    OPTIMIZER_NAME,
    PREFIX_CHECKPOINT_DIR,
    RNG_STATE_NAME,
    SCHEDULER_NAME,
    TRAINER_STATE_NAME,
    TRAINING_ARGS_NAME,
    atomic_checkpoint_dir,
    clean_stale_checkpoint_dirs,
    get_last_checkpoint,
    load_model_weights,
    load_optimizer_state,
    load_rng_state,
    load_scheduler_state,
    rotate_checkpoints,
    save_optimizer_state,
    save_rng_state,
    save_scheduler_state,
    sort_checkpoints,
)
from .flops import EnergyMeter, format_train_summary
from .flops import floating_point_ops as _estimate_flops
from .integrations import get_reporting_integration_callbacks, plot_loss
from .trainer_state import ExportableState, TrainerControl, TrainerState
from .training_args import SaveStrategy, TrainingArguments

__all__ = ["EvalLoopOutput", "EvalPrediction", "PredictionOutput", "RemoveColumnsCollator",
           "TrainOutput", "Trainer", "get_last_checkpoint", "set_seed", "speed_metrics"]

logger = logging.getLogger("ember.trainer")

DEFAULT_CALLBACKS: list[type[TrainerCallback]] = [DefaultFlowCallback]


# ---------------------------------------------------------------------------- result types
class EvalPrediction:
    """What ``compute_metrics`` receives: ``predictions`` and ``label_ids`` (NumPy), plus
    ``inputs``/``losses`` when ``args.include_for_metrics`` asks for them; unpacks as a tuple."""

    def __init__(self, predictions, label_ids, inputs=None, losses=None) -> None:
        self.predictions = predictions
        self.label_ids = label_ids
        self.inputs = inputs
        self.losses = losses
        self.elements = (predictions, label_ids)
        if inputs is not None:
            self.elements += (inputs,)
        if losses is not None:
            self.elements += (losses,)

    def __iter__(self):
        return iter(self.elements)

    def __getitem__(self, idx: int):
        if idx < 0 or idx >= len(self.elements):
            raise IndexError("tuple index out of range")
        return self.elements[idx]


class EvalLoopOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float] | None
    num_samples: int | None


class PredictionOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float] | None


class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float
    metrics: dict[str, float]


# ---------------------------------------------------------------------------- helpers
def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and ember's default generator."""
    random.seed(seed)
    np.random.seed(seed)
    _ember_manual_seed(seed)


def speed_metrics(split: str, start_time: float, num_samples: float | None = None,
                  num_steps: int | None = None, num_tokens: int | None = None) -> dict:
    """``{split}_runtime`` and, when given counts, ``{split}_{samples,steps,tokens}_per_second``."""
    runtime = time.time() - start_time
    result: dict[str, float] = {f"{split}_runtime": round(runtime, 4)}
    if runtime == 0:
        return result
    for name, n in (("samples", num_samples), ("steps", num_steps), ("tokens", num_tokens)):
        if n is not None:
            result[f"{split}_{name}_per_second"] = round(n / runtime, 3)
    return result


def has_length(dataset: Any) -> bool:
    try:
        return len(dataset) is not None
    except (TypeError, AttributeError):
        return False


def _denumpify(metrics: Any) -> Any:
    if isinstance(metrics, (list, tuple)):
        return type(metrics)(_denumpify(m) for m in metrics)
    if isinstance(metrics, dict):
        return {k: _denumpify(v) for k, v in metrics.items()}
    if isinstance(metrics, np.generic):
        return metrics.item()
    if isinstance(metrics, Tensor) and metrics.numel() == 1:
        return metrics.item()
    if isinstance(metrics, np.ndarray) and metrics.size == 1:
        return metrics.item()
    return metrics


def _to_numpy(x: Any) -> Any:
    """Tensors (also nested in tuples/lists/dicts) as NumPy copies; anything else unchanged."""
    if isinstance(x, Tensor):
        return np.array(x.detach().numpy(), copy=True)
    if isinstance(x, (tuple, list)):
        return type(x)(_to_numpy(v) for v in x)
    if isinstance(x, Mapping):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x


def _is_array_tree(x: Any) -> bool:
    if isinstance(x, (Tensor, np.ndarray)):
        return True
    if isinstance(x, (tuple, list)) and x:
        return all(_is_array_tree(v) for v in x)
    return False


def _concat_padded(arrays: list, padding_index: int = -100) -> Any:
    """Concatenate batches along dim 0; batches whose dim 1 differs are padded on the right
    with ``padding_index`` (transformers' ``nested_concat``). Tuples are handled per element."""
    first = arrays[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_concat_padded([a[i] for a in arrays], padding_index)
                           for i in range(len(first)))
    arrays = [np.atleast_1d(a) for a in arrays]
    if all(a.ndim == 1 or a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    width = max(a.shape[1] for a in arrays)
    out = np.full((sum(a.shape[0] for a in arrays), width) + arrays[0].shape[2:], padding_index,
                  dtype=arrays[0].dtype)
    row = 0
    for a in arrays:
        out[row:row + a.shape[0], :a.shape[1]] = a
        row += a.shape[0]
    return out


def _find_batch_size(inputs: Any) -> int | None:
    if isinstance(inputs, Mapping):
        for v in inputs.values():
            n = _find_batch_size(v)
            if n is not None:
                return n
    elif isinstance(inputs, (list, tuple)):
        for v in inputs:
            n = _find_batch_size(v)
            if n is not None:
                return n
    elif isinstance(inputs, (Tensor, np.ndarray)) and inputs.ndim > 0:
        return int(inputs.shape[0])
    return None


def get_parameter_names(model, forbidden_layer_types: tuple, forbidden_name_patterns=()) -> list:
    """Names of the parameters that are not inside a ``forbidden_layer_types`` module and whose
    lower-cased name matches none of the regexes (transformers' helper)."""
    import re

    patterns = [re.compile(p) for p in forbidden_name_patterns]
    result = []
    for name, child in model.named_children():
        for n in get_parameter_names(child, forbidden_layer_types, forbidden_name_patterns):
            full = f"{name}.{n}"
            if not isinstance(child, forbidden_layer_types) and not any(
                    p.search(full.lower()) for p in patterns):
                result.append(full)
    result += [k for k in model._parameters if not any(p.search(k.lower()) for p in patterns)]
    return result


class _SeededRandomSampler(Sampler):
    """A random permutation per epoch, drawn from ``seed + epoch``: the order depends on
    nothing else, so a resumed run replays it (``set_epoch`` before each pass)."""

    def __init__(self, data_source, seed: int) -> None:
        self.data_source = data_source
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        from ..autograd.creation import randperm

        g = Generator().manual_seed(self.seed + self.epoch)
        return iter(randperm(len(self.data_source), generator=g).tolist())

    def __len__(self) -> int:
        return len(self.data_source)


class _SkipBatchSampler(Sampler):
    """The batches of ``batch_sampler`` after the first ``skip`` (indices only: skipped batches
    are never loaded or collated)."""

    def __init__(self, batch_sampler, skip: int) -> None:
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __iter__(self):
        for i, batch in enumerate(self.batch_sampler):
            if i >= self.skip:
                yield batch

    def __len__(self) -> int:
        return max(0, len(self.batch_sampler) - self.skip)


class RemoveColumnsCollator:
    """Wraps a collator: drops feature keys the model's ``forward`` does not accept."""

    def __init__(self, data_collator: Callable, signature_columns: Iterable[str],
                 description: str | None = None, model_name: str | None = None) -> None:
        self.data_collator = data_collator
        self.signature_columns = set(signature_columns)
        self.description = description
        self.model_name = model_name
        self.message_logged = False

    def _remove_columns(self, feature: Any) -> Any:
        if not isinstance(feature, Mapping):
            return feature
        kept = {k: v for k, v in feature.items() if k in self.signature_columns}
        if not self.message_logged:
            self.message_logged = True
            ignored = sorted(set(feature) - set(kept))
            if ignored:
                where = f" in the {self.description} set" if self.description else ""
                logger.info("The following columns%s don't have a corresponding argument in "
                            "`%s.forward` and have been ignored: %s.", where, self.model_name,
                            ", ".join(ignored))
        if feature and not kept:
            raise ValueError(
                f"No columns in the dataset match the model's forward method signature "
                f"({', '.join(sorted(self.signature_columns))}). The following columns have "
                f"been ignored: [{', '.join(sorted(feature))}]. Please check the dataset and "
                "model. You may need to set `remove_unused_columns=False` in "
                "`TrainingArguments`.")
        return kept

    def __call__(self, features: list) -> Any:
        return self.data_collator([self._remove_columns(f) for f in features])


def _forward_params(fn) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


def _find_labels(model_class: type) -> list[str]:
    names = [p.name for p in _forward_params(model_class.forward)]
    if "QuestionAnswering" in model_class.__name__:
        return [n for n in names if "label" in n or n in ("start_positions", "end_positions")]
    return [n for n in names if "label" in n]


def _is_mapping_output(outputs: Any) -> bool:
    return isinstance(outputs, (Mapping, ModelOutput))


# ---------------------------------------------------------------------------- Trainer
class Trainer:
    """Train, evaluate and predict with an ember model (transformers' ``Trainer`` API).

    ``model`` (or ``model_init``, called after seeding) should return ``.loss`` when given
    labels. Datasets are anything with ``__len__``/``__getitem__`` returning dicts (a list of
    dicts, an ember ``Dataset``, a ``datasets.Dataset``), or an ember ``IterableDataset`` with
    ``max_steps``. ``optimizers=(optimizer, scheduler)`` replaces the default AdamW and
    ``args.lr_scheduler_type`` schedule.
    """

    def __init__(self, model=None, args: TrainingArguments | None = None,
                 data_collator: Callable | None = None, train_dataset: Any = None,
                 eval_dataset: Any = None, processing_class: Any = None,
                 model_init: Callable | None = None,
                 compute_metrics: Callable[[EvalPrediction], dict] | None = None,
                 callbacks: list | None = None,
                 optimizers: tuple[Any, Any] = (None, None), *,
                 compute_loss_func: Callable | None = None,
                 optimizer_cls_and_kwargs: tuple[type, dict] | None = None,
                 preprocess_logits_for_metrics: Callable | None = None) -> None:
        if args is None:
            logger.info("No `TrainingArguments` passed, using `output_dir=tmp_trainer`.")
            args = TrainingArguments(output_dir="tmp_trainer")
        self.args = args
        set_seed(args.seed)  # before model_init, so its weights are reproducible
        if args.label_smoothing_factor != 0:
            raise NotImplementedError("label_smoothing_factor is not implemented in ember's "
                                      "Trainer yet; leave it at 0")
        if model is None:
            if model_init is None:
                raise RuntimeError("`Trainer` requires either a `model` or `model_init` argument")
            self.model_init = model_init
            model = self.call_model_init()
        else:
            if model_init is not None:
                raise ValueError("`Trainer` requires either a `model` or `model_init` argument, "
                                 "but not both.")
            self.model_init = None
        self.model = model
        self._introspect_model()

        if data_collator is None:
            data_collator = (DataCollatorWithPadding(processing_class)
                             if processing_class is not None and hasattr(processing_class, "pad")
                             else default_data_collator)
        self.data_collator = data_collator
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.processing_class = processing_class
        self.compute_metrics = compute_metrics
        self.compute_loss_func = compute_loss_func
        self.preprocess_logits_for_metrics = preprocess_logits_for_metrics
        self.optimizer, self.lr_scheduler = optimizers
        self.optimizer_cls_and_kwargs = optimizer_cls_and_kwargs
        if model_init is not None and (self.optimizer is not None
                                       or self.lr_scheduler is not None):
            raise RuntimeError("Passing a `model_init` is incompatible with providing the "
                               "`optimizers` argument. You should subclass `Trainer` and "
                               "override the `create_optimizer_and_scheduler` method.")

        default = DEFAULT_CALLBACKS + get_reporting_integration_callbacks(args.report_to)
        callbacks = default if callbacks is None else default + list(callbacks)
        self.callback_handler = CallbackHandler(callbacks, self.model, processing_class,
                                                self.optimizer, self.lr_scheduler)
        self.add_callback(PrinterCallback if args.disable_tqdm else ProgressCallback)
        os.makedirs(args.output_dir, exist_ok=True)

        self.control = TrainerControl()
        self.state = TrainerState(stateful_callbacks=self._stateful_callbacks())
        self.is_in_train = False
        self.hp_name = None
        self.hp_search_backend = None
        self.current_flos = 0
        self._signature_columns: list[str] | None = None
        self._train_batch_size = args.train_batch_size
        self._created_lr_scheduler = False
        self.current_gradient_accumulation_steps = 1
        self.control = self.callback_handler.on_init_end(self.args, self.state, self.control)

    # ------------------------------------------------------------------ model introspection
    def _introspect_model(self) -> None:
        """How to feed the model and weight its loss (re-run when ``model_init`` rebuilds it)."""
        model = self.model
        name = type(model).__name__
        from ..models.auto.modeling_auto import MODEL_MAPPING_NAMES

        if name in MODEL_MAPPING_NAMES["base"].values():
            raise ValueError(f"The model you have picked ({name}) cannot be used as is for "
                             "training: it only computes hidden states and does not accept any "
                             "labels. You should choose a model with a head suitable for your "
                             "task, like any of the `AutoModelForXxx` classes.")
        params = _forward_params(model.forward)
        if hasattr(model, "accepts_loss_kwargs"):
            self.model_accepts_loss_kwargs = bool(model.accepts_loss_kwargs)
        else:
            self.model_accepts_loss_kwargs = any(p.name == "num_items_in_batch" for p in params)
        # ember heads whose loss is a mean over label tokens (-100 ignored): the Trainer scales
        # each micro-batch's mean to its share of the token sum of the accumulated batch.
        loss_type = getattr(model, "loss_type", None)
        if loss_type == "ForCausalLM" or name in MODEL_MAPPING_NAMES["causal-lm"].values():
            self._token_loss: str | None = "causal"
        elif loss_type in ("ForMaskedLM", "ForTokenClassification") or name in (
                *MODEL_MAPPING_NAMES["masked-lm"].values(),
                *MODEL_MAPPING_NAMES["token-classification"].values()):
            self._token_loss = "tokens"
        else:
            self._token_loss = None
        self._loss_shifts_labels = self._token_loss == "causal" or (
            self.model_accepts_loss_kwargs and loss_type == "ForCausalLM")
        self.label_names = (_find_labels(type(model)) if self.args.label_names is None
                            else list(self.args.label_names))
        self.can_return_loss = any(p.name == "return_loss" and p.default is True
                                   for p in params)
        self._signature_columns = None

    def call_model_init(self, trial: Any = None):
        """``model_init()`` (or ``model_init(trial)``); it must return a model."""
        n = len(_forward_params(self.model_init))
        model = self.model_init() if n == 0 else self.model_init(trial)
        if model is None:
            raise RuntimeError("model_init should not return None.")
        return model

    # ------------------------------------------------------------------ callbacks
    def add_callback(self, callback) -> None:
        """Add a callback (a class or an instance)."""
        self.callback_handler.add_callback(callback)

    def pop_callback(self, callback):
        """Remove a callback (a class or an instance) and return it."""
        return self.callback_handler.pop_callback(callback)

    def remove_callback(self, callback) -> None:
        self.callback_handler.remove_callback(callback)

    def _stateful_callbacks(self) -> list:
        return [cb for cb in self.callback_handler.callbacks + [self.control]
                if isinstance(cb, ExportableState)]

    # ------------------------------------------------------------------ data
    def _set_signature_columns_if_needed(self) -> None:
        if self._signature_columns is not None:
            return
        params = _forward_params(self.model.forward)
        cols = [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        base = getattr(self.model, "base_model", None)
        if any(p.kind == p.VAR_KEYWORD for p in params) and base is not None \
                and base is not self.model:
            # ember heads pass **kwargs (attention_mask, token_type_ids, ...) to the base model
            cols += [p.name for p in _forward_params(base.forward)
                     if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        self._signature_columns = cols + list({"label", "label_ids", *self.label_names})

    def _get_collator_with_removed_columns(self, data_collator: Callable,
                                           description: str | None = None) -> Callable:
        if not self.args.remove_unused_columns:
            return data_collator
        self._set_signature_columns_if_needed()
        return RemoveColumnsCollator(data_collator, self._signature_columns, description,
                                     type(self.model).__name__)

    def _get_train_sampler(self, train_dataset: Any = None) -> Sampler | None:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if dataset is None or not has_length(dataset):
            return None
        if self.args.train_sampling_strategy == "sequential":
            return SequentialSampler(dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return _SeededRandomSampler(dataset, seed)

    def _get_eval_sampler(self, eval_dataset: Any) -> Sampler | None:
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return SequentialSampler(eval_dataset)

    def _get_dataloader(self, dataset: Any, description: str, batch_size: int,
                        sampler_fn: Callable | None = None) -> DataLoader:
        collator = self._get_collator_with_removed_columns(self.data_collator, description)
        # num_workers/pin_memory are not forwarded: ember loads in the main process on the CPU
        if isinstance(dataset, IterableDataset) or not hasattr(dataset, "__getitem__"):
            return DataLoader(dataset, batch_size=batch_size, collate_fn=collator,
                              drop_last=self.args.dataloader_drop_last)
        sampler = sampler_fn(dataset) if sampler_fn is not None else None
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collator,
                          drop_last=self.args.dataloader_drop_last)

    def get_train_dataloader(self) -> DataLoader:
        """Batches of ``train_dataset`` in the order of ``_get_train_sampler``."""
        if self.train_dataset is None:
            raise ValueError("Trainer: training requires a train_dataset.")
        return self._get_dataloader(self.train_dataset, "Training", self._train_batch_size,
                                    self._get_train_sampler)

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        if eval_dataset is None and self.eval_dataset is None:
            raise ValueError("Trainer: evaluation requires an eval_dataset.")
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        elif eval_dataset is None:
            eval_dataset = self.eval_dataset
        return self._get_dataloader(eval_dataset, "Evaluation", self.args.eval_batch_size,
                                    self._get_eval_sampler)

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        return self._get_dataloader(test_dataset, "test", self.args.eval_batch_size,
                                    self._get_eval_sampler)

    def get_resumed_dataloader(self, dataloader: DataLoader, num_batches: int) -> Iterable:
        """``dataloader`` without its first ``num_batches`` batches (not loaded at all)."""
        if getattr(dataloader, "batch_sampler", None) is None or isinstance(
                dataloader.dataset, IterableDataset):
            it = iter(dataloader)
            for _ in range(num_batches):
                next(it, None)
            return it
        return DataLoader(dataloader.dataset,
                          batch_sampler=_SkipBatchSampler(dataloader.batch_sampler, num_batches),
                          collate_fn=dataloader.collate_fn)

    def num_examples(self, dataloader: DataLoader) -> int:
        try:
            return len(dataloader.dataset)
        except (TypeError, AttributeError):
            return len(dataloader) * self.args.per_device_train_batch_size

    # ------------------------------------------------------------------ optimizer & scheduler
    def get_decay_parameter_names(self, model) -> list[str]:
        """Parameters that get weight decay: all but biases and normalisation weights."""
        from .. import nn

        forbidden = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]
        return get_parameter_names(model, (nn.LayerNorm, nn.RMSNorm), forbidden)

    @staticmethod
    def get_optimizer_cls_and_kwargs(args: TrainingArguments, model=None) -> tuple[type, dict]:
        """``ember.optim.AdamW`` with ``learning_rate``, ``adam_beta1/2``, ``adam_epsilon``."""
        from ..optim import AdamW

        return AdamW, {"lr": args.learning_rate, "betas": (args.adam_beta1, args.adam_beta2),
                       "eps": args.adam_epsilon}

    def create_optimizer(self, model=None):
        """AdamW over two groups: decayed weights (``weight_decay``) and biases/norm weights
        (no decay), unless an optimizer was passed in."""
        model = self.model if model is None else model
        if self.optimizer is None:
            decay = set(self.get_decay_parameter_names(model))
            named = list(model.named_parameters())
            groups = [{"params": [p for n, p in named if n in decay and p.requires_grad],
                       "weight_decay": self.args.weight_decay},
                      {"params": [p for n, p in named if n not in decay and p.requires_grad],
                       "weight_decay": 0.0}]
            if self.optimizer_cls_and_kwargs is not None:
                cls, kwargs = self.optimizer_cls_and_kwargs
            else:
                cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            self.optimizer = cls(groups, **kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """``args.lr_scheduler_type`` with ``args.get_warmup_steps(num_training_steps)``."""
        if self.lr_scheduler is None:
            from ..optim.lr_scheduler import get_scheduler

            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type, self.optimizer if optimizer is None else optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                scheduler_specific_kwargs=self.args.lr_scheduler_kwargs)
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        self.create_optimizer()
        self.create_scheduler(num_training_steps=num_training_steps)

    def _get_learning_rate(self) -> float:
        return float(self.lr_scheduler.get_last_lr()[0])

    # ------------------------------------------------------------------ training
    def train(self, resume_from_checkpoint: str | bool | None = None, trial: Any = None,
              ignore_keys_for_eval: list[str] | None = None, **kwargs: Any) -> TrainOutput:
        """Run the training loop; ``resume_from_checkpoint=True`` continues from the latest
        complete checkpoint in ``output_dir`` (or a given folder), restoring model, optimizer,
        scheduler, trainer state and RNG, and skipping the batches already seen this epoch."""
        if kwargs:
            raise TypeError(f"train() got unexpected keyword arguments: {sorted(kwargs)}")
        if resume_from_checkpoint is False:
            resume_from_checkpoint = None
        args = self.args
        self.is_in_train = True
        keep_freed_memory()  # steps reuse their big arrays without page faults (utils.memory)
        try:
            self._hp_search_setup(trial)  # may change args (seed, ...): before model_init
            if self.model_init is not None:
                set_seed(args.seed)
                self.model = self.call_model_init(trial)
                self._introspect_model()
                self.optimizer, self.lr_scheduler = None, None
            if resume_from_checkpoint is True:
                resume_from_checkpoint = get_last_checkpoint(args.output_dir)
                if resume_from_checkpoint is None:
                    raise ValueError("No valid checkpoint found in output directory "
                                     f"({args.output_dir})")
            if resume_from_checkpoint is not None:
                resume_from_checkpoint = os.fspath(resume_from_checkpoint)
                self._load_from_checkpoint(resume_from_checkpoint)
            return self._inner_training_loop(args, resume_from_checkpoint, trial,
                                             ignore_keys_for_eval)
        finally:
            self.is_in_train = False

    def set_initial_training_values(self, args: TrainingArguments, dataloader) -> tuple:
        """(num_train_epochs, num_update_steps_per_epoch, num_examples, num_train_samples,
        total_train_batch_size, steps_in_epoch, max_steps), as transformers computes them."""
        max_steps = args.max_steps
        epoch_based = max_steps < 0
        len_dataloader = len(dataloader) if has_length(dataloader) else None
        total_bs = self._train_batch_size * args.gradient_accumulation_steps
        ga = args.gradient_accumulation_steps
        if len_dataloader is not None:
            num_update_steps_per_epoch = max(len_dataloader // ga + int(len_dataloader % ga > 0),
                                             1)
            if epoch_based:
                max_steps = math.ceil(args.num_train_epochs * num_update_steps_per_epoch)
        if len_dataloader:
            num_examples = self.num_examples(dataloader)
            if args.max_steps > 0:
                num_train_epochs = (max_steps // num_update_steps_per_epoch
                                    + int(max_steps % num_update_steps_per_epoch > 0))
                num_train_samples = max_steps * total_bs
            else:
                num_train_epochs = math.ceil(args.num_train_epochs)
                num_train_samples = num_examples * args.num_train_epochs
        elif args.max_steps > 0:
            num_train_epochs = 2 ** 62  # an iterable without length: until max_steps
            num_update_steps_per_epoch = max_steps
            num_examples = total_bs * args.max_steps
            num_train_samples = args.max_steps * total_bs
        else:
            raise ValueError("args.max_steps must be set to a positive value if dataloader does "
                             f"not have a length, was {args.max_steps}")
        steps_in_epoch = len_dataloader if len_dataloader is not None else max_steps * ga
        return (num_train_epochs, num_update_steps_per_epoch, num_examples, num_train_samples,
                total_bs, steps_in_epoch, max_steps)

    def _init_training_state(self, max_steps: int, num_update_steps_per_epoch: int,
                             num_train_epochs: int, resume_from_checkpoint: str | None,
                             trial: Any) -> tuple[int, int]:
        self.state = TrainerState(stateful_callbacks=self._stateful_callbacks())
        self.state.is_hyper_param_search = trial is not None
        self.state.train_batch_size = self._train_batch_size
        self.state.compute_steps(self.args, max_steps)
        epochs_trained = 0
        steps_trained_in_current_epoch = 0
        if resume_from_checkpoint is not None and os.path.isfile(
                os.path.join(resume_from_checkpoint, TRAINER_STATE_NAME)):
            self.state = TrainerState.load_from_json(
                os.path.join(resume_from_checkpoint, TRAINER_STATE_NAME))
            best = self.state.best_model_checkpoint
            if best is not None and not os.path.isdir(best):
                logger.warning("The best checkpoint %s recorded in the resumed state does not "
                               "exist anymore. Ignoring it for this run.", best)
                self.state.best_model_checkpoint = None
            self._compare_trainer_and_checkpoint_args()
            self._load_callback_state()
            epochs_trained = self.state.global_step // num_update_steps_per_epoch
            if not self.args.ignore_data_skip:
                steps_trained_in_current_epoch = (
                    self.state.global_step % num_update_steps_per_epoch
                    * self.args.gradient_accumulation_steps)
        self.state.init_training_references(self, max_steps, num_train_epochs, trial)
        return epochs_trained, steps_trained_in_current_epoch

    def _compare_trainer_and_checkpoint_args(self) -> None:
        for name in ("logging_steps", "eval_steps", "save_steps"):
            value = getattr(self.args, name)
            if value is not None and value >= 1 and value != getattr(self.state, name):
                logger.warning("You are resuming training from a checkpoint trained with %s of "
                               "%s but your current args have %s. Using the checkpoint's value.",
                               name, getattr(self.state, name), value)
        if self.state.train_batch_size not in (None, self._train_batch_size):
            logger.warning("You are resuming training from a checkpoint trained with a "
                           "train_batch_size of %s but your current batch size is %s; the data "
                           "skipped on resume will not match.", self.state.train_batch_size,
                           self._train_batch_size)

    def _load_callback_state(self) -> None:
        if not self.args.restore_callback_states_from_checkpoint:
            return
        saved = self.state.stateful_callbacks or {}
        used: dict[str, int] = {}
        for cb in self.callback_handler.callbacks + [self.control]:
            name = type(cb).__name__
            st = saved.get(name)
            if not isinstance(cb, ExportableState) or st is None:
                continue
            if isinstance(st, list):  # several callbacks of one class: in order
                i = used[name] = used.get(name, -1) + 1
                if i >= len(st):
                    continue
                st = st[i]
            for k, v in st.get("attributes", {}).items():
                setattr(cb, k, v)
            if cb is self.control:
                for k, v in st.get("args", {}).items():
                    setattr(cb, k, v)

    def _prepare_for_training(self, max_steps: int, resume_from_checkpoint: str | None) -> None:
        if self._created_lr_scheduler:  # its length may differ on a new train() call
            self.lr_scheduler = None
            self._created_lr_scheduler = False
        self.create_optimizer()
        self.create_scheduler(num_training_steps=max_steps)
        if resume_from_checkpoint is not None:
            self._load_optimizer_and_scheduler(resume_from_checkpoint)
        for attr in ("model", "optimizer", "lr_scheduler"):
            setattr(self.callback_handler, attr, getattr(self, attr))

    def _inner_training_loop(self, args: TrainingArguments, resume_from_checkpoint: str | None,
                             trial: Any, ignore_keys_for_eval: list[str] | None) -> TrainOutput:
        train_dataloader = self.get_train_dataloader()
        (num_train_epochs, num_update_steps_per_epoch, num_examples, num_train_samples,
         total_bs, steps_in_epoch, max_steps) = self.set_initial_training_values(
            args, train_dataloader)
        epochs_trained, steps_trained_in_current_epoch = self._init_training_state(
            max_steps, num_update_steps_per_epoch, num_train_epochs, resume_from_checkpoint,
            trial)
        self._prepare_for_training(max_steps, resume_from_checkpoint)
        self.callback_handler.train_dataloader = train_dataloader
        clean_stale_checkpoint_dirs(args.output_dir)
        model = self.model

        logger.info("***** Running training *****")
        logger.info("  Num examples = %s, Num Epochs = %s, Total optimization steps = %s, "
                    "Total train batch size = %s, Gradient Accumulation steps = %s",
                    num_examples, num_train_epochs, max_steps, total_bs,
                    args.gradient_accumulation_steps)
        if resume_from_checkpoint is not None:
            logger.info("  Resuming from %s at epoch %s, global step %s (skipping %s batches)",
                        resume_from_checkpoint, epochs_trained, self.state.global_step,
                        steps_trained_in_current_epoch)

        start_time = time.time()
        self._energy_meter = EnergyMeter()  # RAPL counters, where the machine exposes them
        self._initial_num_input_tokens_seen = self.state.num_input_tokens_seen
        self._initial_global_step = self.state.global_step
        self._tr_loss = 0.0
        self._total_loss_scalar = 0.0
        self._globalstep_last_logged = self.state.global_step
        model.zero_grad()
        self.control = self.callback_handler.on_train_begin(args, self.state, self.control)
        if args.eval_on_start:
            self._evaluate(trial, ignore_keys_for_eval)

        for epoch in range(epochs_trained, num_train_epochs):
            self.control = self.callback_handler.on_epoch_begin(args, self.state, self.control)
            self._run_epoch(model, epoch, train_dataloader, steps_in_epoch,
                            num_update_steps_per_epoch, trial, ignore_keys_for_eval, start_time,
                            resume_from_checkpoint, epochs_trained,
                            steps_trained_in_current_epoch)
            if self.control.should_training_stop:
                break
        return self._finalize_training(trial, num_train_samples, start_time)

    def _run_epoch(self, model, epoch: int, train_dataloader, steps_in_epoch: int,
                   num_update_steps_per_epoch: int, trial, ignore_keys_for_eval,
                   start_time: float, resume_from_checkpoint: str | None, epochs_trained: int,
                   steps_trained_in_current_epoch: int) -> None:
        args = self.args
        ga = args.gradient_accumulation_steps
        step = -1
        grad_norm = learning_rate = None
        num_update_steps_trained = 0
        sampler = getattr(train_dataloader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        epoch_iterator: Iterable = train_dataloader
        resuming = epoch == epochs_trained and resume_from_checkpoint is not None
        if resuming and steps_trained_in_current_epoch > 0 and not args.ignore_data_skip:
            epoch_iterator = self.get_resumed_dataloader(train_dataloader,
                                                         steps_trained_in_current_epoch)
            step = steps_trained_in_current_epoch - 1
            num_update_steps_trained = steps_trained_in_current_epoch // ga
        epoch_iterator = iter(epoch_iterator)
        if resuming and (steps_trained_in_current_epoch == 0 or not args.ignore_data_skip):
            # before the first batch is collated: collators may draw from the generators
            self._load_rng_state(resume_from_checkpoint)

        remainder = steps_in_epoch % ga or ga
        for update_step in range(num_update_steps_trained, num_update_steps_per_epoch):
            num_batches = ga if update_step != num_update_steps_per_epoch - 1 else remainder
            batch_samples, num_items_in_batch = self.get_batch_samples(epoch_iterator,
                                                                       num_batches)
            if not batch_samples:
                break
            self.current_gradient_accumulation_steps = len(batch_samples)
            for i, inputs in enumerate(batch_samples):
                step += 1
                # the last micro-batch fetched also syncs: an iterable may end early
                do_sync_step = (step + 1) % ga == 0 or (step + 1) == steps_in_epoch \
                    or i == len(batch_samples) - 1
                if step % ga == 0:
                    self.control = self.callback_handler.on_step_begin(args, self.state,
                                                                       self.control)
                tr_loss_step = self.training_step(model, inputs, num_items_in_batch)
                if args.logging_nan_inf_filter and not math.isfinite(tr_loss_step):
                    # a non-finite loss counts as the average of the steps since the last log
                    self._tr_loss += self._tr_loss / (1 + self.state.global_step
                                                      - self._globalstep_last_logged)
                else:
                    self._tr_loss += tr_loss_step
                self._track_num_input_tokens(inputs)
                self.current_flos += float(self.floating_point_ops(inputs))
                self._energy_meter.sample()

                if do_sync_step:
                    grad_norm = self._clip_grad_norm(model)
                    self.control = self.callback_handler.on_pre_optimizer_step(
                        args, self.state, self.control)
                    self.optimizer.step()
                    self.control = self.callback_handler.on_optimizer_step(args, self.state,
                                                                           self.control)
                    learning_rate = self._get_learning_rate()  # the rate this step used
                    self.lr_scheduler.step()
                    model.zero_grad()
                    self.state.global_step += 1
                    self.state.epoch = epoch + (step + 1) / steps_in_epoch
                    self.control = self.callback_handler.on_step_end(args, self.state,
                                                                     self.control)
                    self._maybe_log_save_evaluate(grad_norm, model, trial, epoch,
                                                  ignore_keys_for_eval, start_time,
                                                  learning_rate=learning_rate)
                else:
                    self.control = self.callback_handler.on_substep_end(args, self.state,
                                                                        self.control)
                if self.control.should_epoch_stop or self.control.should_training_stop:
                    break
            if self.control.should_epoch_stop or self.control.should_training_stop:
                break

        if step < 0:
            logger.warning("There seems not to be a single sample in your epoch_iterator, "
                           "stopping training at step %s!", self.state.global_step)
            self.control.should_training_stop = True
        self.control = self.callback_handler.on_epoch_end(args, self.state, self.control)
        self._maybe_log_save_evaluate(grad_norm, model, trial, epoch, ignore_keys_for_eval,
                                      start_time, learning_rate=learning_rate)

    def _clip_grad_norm(self, model) -> float:
        """Clip to ``max_grad_norm`` (when > 0); the total norm before clipping."""
        from ..nn.utils import clip_grad_norm_

        max_norm = self.args.max_grad_norm if self.args.max_grad_norm > 0 else float("inf")
        params = [p for p in model.parameters() if p.grad is not None]
        if not params:
            return 0.0
        return float(clip_grad_norm_(params, max_norm).item())

    def _finalize_training(self, trial, num_train_samples: float, start_time: float
                           ) -> TrainOutput:
        self._total_loss_scalar += self._tr_loss
        self._tr_loss = 0.0
        self.store_flos()
        num_steps_trained = self.state.global_step - self._initial_global_step
        train_loss = self._total_loss_scalar / max(num_steps_trained, 0.001)
        metrics = speed_metrics(
            "train", start_time,
            num_samples=num_train_samples * num_steps_trained / max(self.state.max_steps, 1),
            num_steps=num_steps_trained)
        metrics["total_flos"] = self.state.total_flos
        metrics["train_loss"] = train_loss
        energy = self._energy_meter.stop()
        if energy is not None:  # measured, never estimated
            metrics["train_energy_joules"] = energy.joules
        self.log(metrics)
        if self.is_world_process_zero():
            from tqdm.auto import tqdm

            summary = format_train_summary(metrics, energy, self._energy_meter.reason)
            if self.args.disable_tqdm:  # no console output asked for: the log only
                logger.info("%s", summary)
            else:
                tqdm.write(summary)
            backend = plot_loss(self.state.log_history,
                                os.path.join(self.args.output_dir, "loss.png"))
            if backend is not None:
                logger.info("Loss plot written to %s (%s)",
                            os.path.join(self.args.output_dir, "loss.png"), backend)

        if self.args.load_best_model_at_end and self.state.best_model_checkpoint is not None:
            self._load_best_model()
        best = self.state.best_model_checkpoint
        if best is not None and self.args.save_total_limit == 1:
            # the newest checkpoint was kept for resuming; training is over, keep only the best
            import shutil

            for ckpt in sort_checkpoints(self.args.output_dir, best):
                if os.path.abspath(ckpt) != os.path.abspath(best):
                    shutil.rmtree(ckpt, ignore_errors=True)
        self.control = self.callback_handler.on_train_end(self.args, self.state, self.control)
        return TrainOutput(self.state.global_step, train_loss, metrics)

    # ------------------------------------------------------------------ one step
    def get_batch_samples(self, epoch_iterator: Iterator, num_batches: int,
                          device: Any = None) -> tuple[list, int | None]:
        """The next ``num_batches`` batches, and the number of label tokens in them when the
        loss is token-weighted (else None)."""
        batch_samples = []
        for _ in range(num_batches):
            try:
                batch_samples.append(next(epoch_iterator))
            except StopIteration:
                break
        return batch_samples, self._get_num_items_in_batch(batch_samples)

    def _count_label_tokens(self, batch: Mapping) -> int:
        if "shift_labels" in batch:
            labels = np.asarray(_to_numpy(batch["shift_labels"]))
        else:
            labels = np.asarray(_to_numpy(batch["labels"]))
            if self._loss_shifts_labels:
                labels = labels[..., 1:]
        return int((labels != -100).sum())

    def _get_num_items_in_batch(self, batch_samples: list) -> int | None:
        if not batch_samples or not isinstance(batch_samples[0], Mapping) \
                or "labels" not in batch_samples[0]:
            return None
        if not (self.model_accepts_loss_kwargs or self.compute_loss_func is not None
                or self._token_loss is not None):
            return None
        try:
            return sum(self._count_label_tokens(b) for b in batch_samples)
        except (TypeError, ValueError):
            return None

    def _loss_is_scaled_for_ga(self, num_items_in_batch: int | None) -> bool:
        if num_items_in_batch is None:
            return False
        return (self.model_accepts_loss_kwargs or self.compute_loss_func is not None
                or self._token_loss is not None)

    def training_step(self, model, inputs: dict, num_items_in_batch: int | None = None) -> float:
        """Forward + backward of one micro-batch; returns its (scaled) loss as a float."""
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        if not self._loss_is_scaled_for_ga(num_items_in_batch):
            # a per-batch mean: average it over the micro-batches of this step
            loss = loss / self.current_gradient_accumulation_steps
        loss.backward()
        return float(loss.item())

    def _prepare_inputs(self, inputs: Any) -> Any:
        if isinstance(inputs, Mapping) and len(inputs) == 0:
            raise ValueError("The batch received was empty, your model won't be able to train "
                             "on it. Double-check that your training dataset contains keys "
                             f"expected by the model: {', '.join(self._signature_columns or [])}.")
        return inputs

    def compute_loss(self, model, inputs: dict, return_outputs: bool = False,
                     num_items_in_batch: int | None = None):
        """The model's loss on ``inputs``. With ``num_items_in_batch`` (label tokens in the
        whole accumulated batch) a token-mean loss becomes this micro-batch's share of the
        token-weighted mean: ``mean * tokens_here / num_items_in_batch``."""
        labels = None
        if self.compute_loss_func is not None and "labels" in inputs:
            inputs = dict(inputs)
            labels = inputs.pop("labels")
        call_inputs = inputs
        if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            call_inputs = {**inputs, "num_items_in_batch": num_items_in_batch}
        outputs = model(**call_inputs)
        if self.compute_loss_func is not None:
            loss = self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)
        elif _is_mapping_output(outputs):
            if "loss" not in outputs:
                keys = ",".join(outputs.keys())
                hint = "" if "labels" in inputs else (
                    " The batch has no `labels`: give the dataset a labels column (or use a "
                    "collator that makes one, e.g. DataCollatorForLanguageModeling(tokenizer, "
                    "mlm=False)), or set `label_names`.")
                raise ValueError("The model did not return a loss from the inputs, only the "
                                 f"following keys: {keys}. For reference, the inputs it received "
                                 f"are {','.join(inputs.keys())}.{hint}")
            loss = outputs["loss"]
        else:
            loss = outputs[0]
        if (num_items_in_batch is not None and self._token_loss is not None
                and not self.model_accepts_loss_kwargs and self.compute_loss_func is None
                and "labels" in inputs):
            n = self._count_label_tokens(inputs)
            if n == 0:  # the mean over no tokens is NaN; its share of the sum is 0
                logits = outputs["logits"] if _is_mapping_output(outputs) else outputs[1]
                loss = logits.sum() * 0.0
            else:
                loss = loss * (n / num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

    def _track_num_input_tokens(self, inputs: Any) -> None:
        mode = self.args.include_num_input_tokens_seen
        if mode == "no" or not isinstance(inputs, Mapping):
            return
        name = getattr(self.model, "main_input_name", "input_ids")
        if mode == "non_padding" and "attention_mask" in inputs:
            self.state.num_input_tokens_seen += int(
                np.asarray(_to_numpy(inputs["attention_mask"])).sum())
        elif name in inputs:
            self.state.num_input_tokens_seen += int(np.asarray(_to_numpy(inputs[name])).size)

    # ------------------------------------------------------------------ log / save / evaluate
    def _maybe_log_save_evaluate(self, grad_norm, model, trial, epoch, ignore_keys_for_eval,
                                 start_time: float, learning_rate: float | None = None) -> None:
        if self.control.should_log and self.state.global_step > self._globalstep_last_logged:
            tr_loss = self._tr_loss
            self._tr_loss = 0.0
            logs: dict[str, float] = {
                "loss": tr_loss / (self.state.global_step - self._globalstep_last_logged)}
            if grad_norm is not None:
                logs["grad_norm"] = float(grad_norm)
            logs["learning_rate"] = (learning_rate if learning_rate is not None
                                     else self._get_learning_rate())
            self._total_loss_scalar += tr_loss
            self._globalstep_last_logged = self.state.global_step
            self.log(logs, start_time)
        if self.control.should_evaluate:
            metrics = self._evaluate(trial, ignore_keys_for_eval)
            is_new_best = self._determine_best_metric(metrics, trial)
            if self.args.save_strategy == SaveStrategy.BEST:
                self.control.should_save = is_new_best
        if self.control.should_save:
            self._save_checkpoint(model, trial)
            self.control = self.callback_handler.on_save(self.args, self.state, self.control)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add ``epoch`` (and the token count when tracked), append to ``state.log_history``
        and send to the callbacks' ``on_log``."""
        if self.state.epoch is not None:
            logs["epoch"] = self.state.epoch
        if self.args.include_num_input_tokens_seen != "no":
            logs["num_input_tokens_seen"] = self.state.num_input_tokens_seen
            if start_time is not None:
                seen = self.state.num_input_tokens_seen - getattr(
                    self, "_initial_num_input_tokens_seen", 0)
                logs.update(speed_metrics("train", start_time, num_tokens=seen))
        self.state.log_history.append({**logs, "step": self.state.global_step})
        self.control = self.callback_handler.on_log(self.args, self.state, self.control, logs)

    def _evaluate(self, trial, ignore_keys_for_eval) -> dict[str, float]:
        metrics = self.evaluate(ignore_keys=ignore_keys_for_eval)
        self._report_to_hp_search(trial, self.state.global_step, metrics)
        return metrics

    def _determine_best_metric(self, metrics: dict[str, float], trial=None) -> bool:
        """Update ``state.best_metric``/``best_global_step``; True for a new best."""
        if self.args.metric_for_best_model is None:
            return False
        key = self.args.metric_for_best_model
        if not key.startswith("eval_"):
            key = f"eval_{key}"
        try:
            value = metrics[key]
        except KeyError as exc:
            raise KeyError(f"The `metric_for_best_model` training argument is set to '{key}', "
                           "which is not found in the evaluation metrics. The available "
                           f"evaluation metrics are: {list(metrics.keys())}. Consider changing "
                           "the `metric_for_best_model` via the TrainingArguments.") from exc
        operator = np.greater if self.args.greater_is_better else np.less
        if self.state.best_metric is None:
            self.state.best_metric = float("-inf") if self.args.greater_is_better \
                else float("inf")
        if operator(value, self.state.best_metric):
            self.state.best_metric = value
            if self.args.save_strategy in (SaveStrategy.STEPS, SaveStrategy.EPOCH,
                                           SaveStrategy.BEST):
                self.state.best_global_step = self.state.global_step
            return True
        return False

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, model, trial=None) -> None:
        """Write ``output_dir/checkpoint-<global_step>`` atomically, then rotate."""
        run_dir = self.args.output_dir
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        clean_stale_checkpoint_dirs(run_dir)
        if (self.args.save_strategy in (SaveStrategy.STEPS, SaveStrategy.EPOCH, SaveStrategy.BEST)
                and self.state.best_global_step):
            best_dir = os.path.join(run_dir,
                                    f"{PREFIX_CHECKPOINT_DIR}-{self.state.best_global_step}")
            if self.state.best_global_step == self.state.global_step \
                    or os.path.exists(best_dir):
                self.state.best_model_checkpoint = best_dir
        self.store_flos()
        with atomic_checkpoint_dir(run_dir, name) as tmp:
            self._save(tmp)
            if not self.args.save_only_model:
                self._save_optimizer_and_scheduler(tmp)
                self._save_rng_state(tmp)
            self.state.stateful_callbacks = TrainerState(
                stateful_callbacks=self._stateful_callbacks()).stateful_callbacks
            self.state.save_to_json(os.path.join(tmp, TRAINER_STATE_NAME))  # last: "complete"
        rotate_checkpoints(run_dir, self.args.save_total_limit,
                           self.state.best_model_checkpoint)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        save_optimizer_state(self.optimizer, os.path.join(output_dir, OPTIMIZER_NAME))
        save_scheduler_state(self.lr_scheduler, os.path.join(output_dir, SCHEDULER_NAME))

    def _save_rng_state(self, output_dir: str) -> None:
        save_rng_state(os.path.join(output_dir, RNG_STATE_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        if not os.path.isdir(resume_from_checkpoint):
            raise ValueError(f"Can't find a valid checkpoint at {resume_from_checkpoint}")
        logger.info("Loading model from %s.", resume_from_checkpoint)
        load_model_weights(model, resume_from_checkpoint)

    def _load_optimizer_and_scheduler(self, checkpoint: str) -> None:
        opt = os.path.join(checkpoint, OPTIMIZER_NAME)
        sched = os.path.join(checkpoint, SCHEDULER_NAME)
        if not (os.path.isfile(opt) and os.path.isfile(sched)):
            logger.warning("%s has no optimizer/scheduler state (save_only_model?): they start "
                           "fresh", checkpoint)
            return
        load_optimizer_state(self.optimizer, opt)
        load_scheduler_state(self.lr_scheduler, sched)

    def _load_rng_state(self, checkpoint: str) -> None:
        path = os.path.join(checkpoint, RNG_STATE_NAME)
        if not os.path.isfile(path):
            logger.info("Didn't find an RNG file in %s; if you resume, the random draws will "
                        "differ from an uninterrupted run.", checkpoint)
            return
        load_rng_state(path)

    def _load_best_model(self) -> None:
        logger.info("Loading best model from %s (score: %s).", self.state.best_model_checkpoint,
                    self.state.best_metric)
        load_model_weights(self.model, self.state.best_model_checkpoint)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model (``save_pretrained``: config + safetensors), the processing class and
        ``training_args.json`` to ``output_dir`` (default ``args.output_dir``)."""
        self._save(self.args.output_dir if output_dir is None else output_dir)

    def _save(self, output_dir: str, state_dict: dict | None = None) -> None:
        os.makedirs(output_dir, exist_ok=True)
        if hasattr(self.model, "save_pretrained"):
            self.model.save_pretrained(output_dir, state_dict=state_dict)
        else:
            logger.info("Trainer.model is not a `PreTrainedModel`, only saving its state dict.")
            sd = self.model.state_dict() if state_dict is None else state_dict
            save_file({k: np.asarray(v.data if isinstance(v, Tensor) else v)
                       for k, v in sd.items()},
                      os.path.join(output_dir, "model.safetensors"), metadata={"format": "pt"})
        if self.processing_class is not None and hasattr(self.processing_class,
                                                         "save_pretrained"):
            self.processing_class.save_pretrained(output_dir)
        elif getattr(self.data_collator, "tokenizer", None) is not None and hasattr(
                self.data_collator.tokenizer, "save_pretrained"):
            self.data_collator.tokenizer.save_pretrained(output_dir)
        with open(os.path.join(output_dir, TRAINING_ARGS_NAME), "w", encoding="utf-8") as f:
            f.write(self.args.to_json_string() + "\n")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        """Loss (and ``compute_metrics``) on ``eval_dataset`` (default ``self.eval_dataset``; a
        dict evaluates each, prefixing its name). Returns the metrics, all prefixed
        ``{metric_key_prefix}_``, plus ``epoch``; also logged."""
        override = eval_dataset is not None
        eval_dataset = eval_dataset if override else self.eval_dataset
        if isinstance(eval_dataset, dict):
            metrics: dict[str, float] = {}
            for name, ds in eval_dataset.items():
                metrics.update(self.evaluate(ds if override else name, ignore_keys,
                                             f"{metric_key_prefix}_{name}"))
            return metrics
        dataloader = self.get_eval_dataloader(eval_dataset)
        start_time = time.time()
        output = self.evaluation_loop(
            dataloader, "Evaluation",
            prediction_loss_only=True if self.compute_metrics is None else None,
            ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        output.metrics.update(speed_metrics(
            metric_key_prefix, start_time, num_samples=output.num_samples,
            num_steps=math.ceil(output.num_samples / self.args.eval_batch_size)))
        self.log(output.metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control,
                                                         output.metrics)
        return output.metrics

    def predict(self, test_dataset: Any, ignore_keys: list[str] | None = None,
                metric_key_prefix: str = "test") -> PredictionOutput:
        """Predictions (NumPy; batches of different sequence length padded with -100), labels
        when the dataset has them, and metrics prefixed ``test_``."""
        dataloader = self.get_test_dataloader(test_dataset)
        start_time = time.time()
        output = self.evaluation_loop(dataloader, "Prediction", ignore_keys=ignore_keys,
                                      metric_key_prefix=metric_key_prefix)
        output.metrics.update(speed_metrics(
            metric_key_prefix, start_time, num_samples=output.num_samples,
            num_steps=math.ceil(output.num_samples / self.args.eval_batch_size)))
        self.control = self.callback_handler.on_predict(self.args, self.state, self.control,
                                                        output.metrics)
        return PredictionOutput(output.predictions, output.label_ids, output.metrics)

    def evaluation_loop(self, dataloader, description: str,
                        prediction_loss_only: bool | None = None,
                        ignore_keys: list[str] | None = None,
                        metric_key_prefix: str = "eval") -> EvalLoopOutput:
        """Run ``prediction_step`` over ``dataloader``; gather losses, predictions, labels."""
        args = self.args
        if prediction_loss_only is None:
            prediction_loss_only = args.prediction_loss_only
        model = self.model
        model.eval()
        self.callback_handler.eval_dataloader = dataloader
        eval_dataset = getattr(dataloader, "dataset", None)
        losses: list[float] = []
        preds: list = []
        labels_all: list = []
        inputs_all: list = []
        observed = 0
        main_input = getattr(model, "main_input_name", "input_ids")
        for inputs in dataloader:
            bs = _find_batch_size(inputs)
            if bs is not None:
                observed += bs
            loss, logits, labels = self.prediction_step(model, inputs, prediction_loss_only,
                                                        ignore_keys=ignore_keys)
            if loss is not None:
                losses.append(loss)
            if "inputs" in args.include_for_metrics and isinstance(inputs, Mapping):
                inputs_all.append(_to_numpy(inputs[main_input]))
            if logits is not None:
                if self.preprocess_logits_for_metrics is not None:
                    logits = _to_numpy(self.preprocess_logits_for_metrics(logits, labels))
                preds.append(logits)
            if labels is not None:
                labels_all.append(labels)
            self.control = self.callback_handler.on_prediction_step(args, self.state,
                                                                    self.control)
        all_preds = _concat_padded(preds) if preds else None
        all_labels = _concat_padded(labels_all) if labels_all else None
        all_inputs = _concat_padded(inputs_all) if inputs_all else None
        all_losses = np.asarray(losses, dtype=np.float64) if losses else None

        num_samples = len(eval_dataset) if has_length(eval_dataset) else observed
        if num_samples == 0 and observed > 0:
            num_samples = observed
        if self.compute_metrics is not None and all_preds is not None \
                and all_labels is not None:
            metrics = self.compute_metrics(EvalPrediction(
                all_preds, all_labels,
                inputs=all_inputs if "inputs" in args.include_for_metrics else None,
                losses=all_losses if "loss" in args.include_for_metrics else None))
            metrics = dict(metrics or {})
        else:
            metrics = {}
        metrics = _denumpify(metrics)
        if all_losses is not None:
            finite = np.isfinite(all_losses)
            kept = all_losses[finite] if args.logging_nan_inf_filter and finite.any() \
                else all_losses
            metrics[f"{metric_key_prefix}_loss"] = float(kept.mean())
        for key in list(metrics):
            if not key.startswith(f"{metric_key_prefix}_"):
                metrics[f"{metric_key_prefix}_{key}"] = metrics.pop(key)
        return EvalLoopOutput(all_preds, all_labels, metrics, num_samples)

    def prediction_step(self, model, inputs: dict, prediction_loss_only: bool,
                        ignore_keys: list[str] | None = None) -> tuple:
        """(loss as a float or None, logits as NumPy or None, labels as NumPy or None)."""
        has_labels = bool(self.label_names) and all(
            inputs.get(k) is not None for k in self.label_names)
        return_loss = inputs.get("return_loss")
        if return_loss is None:
            return_loss = self.can_return_loss
        loss_without_labels = not self.label_names and bool(return_loss)
        inputs = self._prepare_inputs(inputs)
        if ignore_keys is None:
            config = getattr(self.model, "config", None)
            ignore_keys = list(getattr(config, "keys_to_ignore_at_inference",
                                       ["cache", "past_key_values"]))
        labels = None
        if has_labels or loss_without_labels:
            found = tuple(_to_numpy(inputs.get(n)) for n in self.label_names)
            labels = found[0] if len(found) == 1 else found
        with no_grad():
            if has_labels or loss_without_labels:
                num_items = (self._get_num_items_in_batch([inputs])
                             if self.model_accepts_loss_kwargs else None)
                loss_t, outputs = self.compute_loss(model, inputs, return_outputs=True,
                                                    num_items_in_batch=num_items)
                loss = float(np.asarray(_to_numpy(loss_t)).mean())
                if _is_mapping_output(outputs):
                    logits = tuple(v for k, v in outputs.items()
                                   if k not in [*ignore_keys, "loss"])
                else:
                    logits = tuple(outputs[1:])
            else:
                loss = None
                outputs = model(**inputs)
                logits = (tuple(v for k, v in outputs.items() if k not in ignore_keys)
                          if _is_mapping_output(outputs) else tuple(outputs))
        if prediction_loss_only:
            return loss, None, None
        logits = tuple(_to_numpy(v) for v in logits if _is_array_tree(v))
        if not logits:
            return loss, None, labels
        return loss, (logits[0] if len(logits) == 1 else logits), labels

    # ------------------------------------------------------------------ search and FLOPs
    def hyperparameter_search(self, hp_space: Callable | None = None,
                              compute_objective: Callable | None = None, n_trials: int = 20,
                              direction: str | list[str] = "minimize",
                              backend: str | None = "optuna", hp_name: Callable | None = None,
                              storage: Any = None, study_name: str | None = None,
                              **kwargs: Any):
        """Search hyper-parameters with Optuna (transformers' method; needs ``model_init``
        and ``pip install 'ember[optuna]'``). Each trial sets the ``TrainingArguments`` fields
        ``hp_space(trial)`` suggests, rebuilds the model, trains into
        ``output_dir/run-<n>`` and is scored by ``compute_objective(metrics)`` (default: eval
        loss, or the sum of the metrics); evaluations during training are reported for
        pruning. ``storage`` (e.g. ``"sqlite:///hp.db"``) with ``study_name`` shares the study
        between processes; other ``kwargs`` go to ``optuna.create_study`` (``sampler``,
        ``pruner``, ...) or ``study.optimize`` (``timeout``, ``catch``, ...). Returns a
        ``BestRun(run_id, objective, hyperparameters)`` (a list of them when ``direction`` is
        a list). See ``ember.trainer.hyperparameter_search``."""
        from .hyperparameter_search import hyperparameter_search

        return hyperparameter_search(self, hp_space, compute_objective, n_trials, direction,
                                     backend, hp_name, storage, study_name, **kwargs)

    def _hp_search_setup(self, trial: Any) -> None:
        from .hyperparameter_search import hp_search_setup

        hp_search_setup(self, trial)

    def _report_to_hp_search(self, trial: Any, step: int, metrics: dict[str, float]) -> None:
        if self.hp_search_backend is None or trial is None:
            return
        from .hyperparameter_search import report_to_hp_search

        report_to_hp_search(self, trial, step, metrics)

    def floating_point_ops(self, inputs: dict) -> int:
        """Training FLOPs of one batch: the model's own ``floating_point_ops`` when it has one
        (transformers 4.x's convention), else ``ember.trainer.flops.floating_point_ops``:
        transformers 5's 6 x non-embedding parameters x tokens, plus the attention term
        6 x n_layer x seq x d_model x tokens."""
        if hasattr(self.model, "floating_point_ops"):
            return self.model.floating_point_ops(inputs)
        return _estimate_flops(self.model, inputs)

    def store_flos(self) -> None:
        """Move the FLOPs counted since the last call into ``state.total_flos``."""
        self.state.total_flos += self.current_flos
        self.current_flos = 0

    def is_local_process_zero(self) -> bool:
        return True

    def is_world_process_zero(self) -> bool:
        return True

