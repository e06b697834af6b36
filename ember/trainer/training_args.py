"""``TrainingArguments``: the Trainer's settings, with transformers 5's names, defaults, derived
values and checks, for a single-process, CPU-only, float32 engine.

Example::

    args = TrainingArguments("out", eval_strategy="steps", eval_steps=50, save_steps=100,
                             load_best_model_at_end=True, warmup_steps=0.1)
    args.metric_for_best_model, args.greater_is_better   # ("loss", False)
    args.get_warmup_steps(1000)                           # 100 (a float < 1 is a ratio)

What differs from transformers (each raises or warns plainly, never silently):

* compute is float32 on the CPU: ``fp16``/``bf16`` (and their ``*_full_eval``) are accepted and
  recorded in ``mixed_precision``, with a logged warning that nothing runs in half precision;
  ``tf32=True`` is a ValueError, as transformers raises where TF32 is unavailable;
* a name transformers knows but ember does not implement (optimizers other than AdamW, schedules
  ``get_scheduler`` lacks, ``push_to_hub``, ``torch_compile``, ``activation_checkpointing``,
  reporting integrations other than tensorboard and mlflow) is a NotImplementedError/ValueError
  at construction, not later;
* values transformers only rejects later (in the optimizer or the Trainer), or never, are
  ValueErrors here: a negative learning rate, weight decay or epsilon, betas outside [0, 1),
  ``gradient_accumulation_steps < 1``, batch sizes < 1, ``max_steps == 0``, a "steps" strategy
  with non-positive steps, ``save_strategy="best"`` without ``metric_for_best_model``;
* names transformers 5 removed (``evaluation_strategy``, ``warmup_ratio``, ``no_cuda``,
  ``overwrite_output_dir``, ``logging_dir``) are accepted as keyword-only legacy spellings with a
  FutureWarning and mapped to their 5.x meaning (transformers 5 raises TypeError for them);
* the default ``optim`` is ``"adamw_torch"`` (transformers picks ``"adamw_torch_fused"`` on
  torch >= 2.8); both mean ``ember.optim.AdamW``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from dataclasses import KW_ONLY, InitVar, dataclass, field, fields
from enum import Enum
from typing import Any

__all__ = ["HubStrategy", "IntervalStrategy", "OptimizerNames", "SaveStrategy", "SchedulerType",
           "TrainingArguments"]

logger = logging.getLogger("ember.trainer")


class ExplicitEnum(str, Enum):
    """A str enum whose bad values name the valid ones (transformers' wording)."""

    @classmethod
    def _missing_(cls, value):
        raise ValueError(f"{value} is not a valid {cls.__name__}, please select one of "
                         f"{list(cls._value2member_map_.keys())}")


class IntervalStrategy(ExplicitEnum):
    """When to log or evaluate: ``"no"``, every ``*_steps`` optimizer steps, or each epoch."""
    NO = "no"
    STEPS = "steps"
    EPOCH = "epoch"


class SaveStrategy(ExplicitEnum):
    """When to save a checkpoint; ``"best"`` saves whenever ``metric_for_best_model`` improves."""
    NO = "no"
    STEPS = "steps"
    EPOCH = "epoch"
    BEST = "best"


class HubStrategy(ExplicitEnum):
    END = "end"
    EVERY_SAVE = "every_save"
    CHECKPOINT = "checkpoint"
    ALL_CHECKPOINTS = "all_checkpoints"


class SchedulerType(ExplicitEnum):
    """transformers' ``lr_scheduler_type`` names; ``SCHEDULER_NAMES`` in ``ember.optim`` lists
    the ones ember implements."""
    LINEAR = "linear"
    COSINE = "cosine"
    COSINE_WITH_RESTARTS = "cosine_with_restarts"
    POLYNOMIAL = "polynomial"
    CONSTANT = "constant"
    CONSTANT_WITH_WARMUP = "constant_with_warmup"
    INVERSE_SQRT = "inverse_sqrt"
    REDUCE_ON_PLATEAU = "reduce_lr_on_plateau"
    COSINE_WITH_MIN_LR = "cosine_with_min_lr"
    COSINE_WARMUP_WITH_MIN_LR = "cosine_warmup_with_min_lr"
    WARMUP_STABLE_DECAY = "warmup_stable_decay"
    GREEDY = "greedy"


class OptimizerNames(ExplicitEnum):
    """transformers' ``optim`` names; ``SUPPORTED_OPTIMIZERS`` are the ones ember implements."""
    ADAMW_TORCH = "adamw_torch"
    ADAMW_TORCH_FUSED = "adamw_torch_fused"
    ADAMW_TORCH_XLA = "adamw_torch_xla"
    ADAMW_TORCH_NPU_FUSED = "adamw_torch_npu_fused"
    ADAFACTOR = "adafactor"
    ADAMW_ANYPRECISION = "adamw_anyprecision"
    ADAMW_TORCH_4BIT = "adamw_torch_4bit"
    ADAMW_TORCH_8BIT = "adamw_torch_8bit"
    ADEMAMIX = "ademamix"
    SGD = "sgd"
    ADAGRAD = "adagrad"
    ADAMW_BNB = "adamw_bnb_8bit"
    ADAMW_8BIT = "adamw_8bit"
    ADEMAMIX_8BIT = "ademamix_8bit"
    LION_8BIT = "lion_8bit"
    LION = "lion_32bit"
    PAGED_ADAMW = "paged_adamw_32bit"
    PAGED_ADAMW_8BIT = "paged_adamw_8bit"
    PAGED_ADEMAMIX = "paged_ademamix_32bit"
    PAGED_ADEMAMIX_8BIT = "paged_ademamix_8bit"
    PAGED_LION = "paged_lion_32bit"
    PAGED_LION_8BIT = "paged_lion_8bit"
    RMSPROP = "rmsprop"
    RMSPROP_BNB = "rmsprop_bnb"
    RMSPROP_8BIT = "rmsprop_bnb_8bit"
    RMSPROP_32BIT = "rmsprop_bnb_32bit"
    GALORE_ADAMW = "galore_adamw"
    GALORE_ADAMW_8BIT = "galore_adamw_8bit"
    GALORE_ADAFACTOR = "galore_adafactor"
    GALORE_ADAMW_LAYERWISE = "galore_adamw_layerwise"
    GALORE_ADAMW_8BIT_LAYERWISE = "galore_adamw_8bit_layerwise"
    GALORE_ADAFACTOR_LAYERWISE = "galore_adafactor_layerwise"
    LOMO = "lomo"
    ADALOMO = "adalomo"
    GROKADAMW = "grokadamw"
    SCHEDULE_FREE_RADAM = "schedule_free_radam"
    SCHEDULE_FREE_ADAMW = "schedule_free_adamw"
    SCHEDULE_FREE_SGD = "schedule_free_sgd"
    APOLLO_ADAMW = "apollo_adamw"
    APOLLO_ADAMW_LAYERWISE = "apollo_adamw_layerwise"
    STABLE_ADAMW = "stable_adamw"


# Every name here builds ember.optim.AdamW with (adam_beta1, adam_beta2), adam_epsilon and
# weight_decay: fusing (or the device it targets) changes speed in torch, not the update.
SUPPORTED_OPTIMIZERS = (OptimizerNames.ADAMW_TORCH, OptimizerNames.ADAMW_TORCH_FUSED)

class _ReportingIntegrations(tuple):
    """The ``report_to`` names ember implements (``name in`` checks all of them, so a missing
    package is the integration's ImportError naming its extra, when the Trainer is built).
    Iterating, which is what ``report_to="all"`` expands to, yields only those whose package is
    installed: transformers' ``get_available_reporting_integrations``."""

    _packages = {"tensorboard": "tensorboardX", "mlflow": "mlflow"}

    def __iter__(self):
        from importlib.util import find_spec

        return (name for name in tuple.__iter__(self) if find_spec(self._packages[name])
                and not (name == "mlflow" and os.environ.get(
                    "DISABLE_MLFLOW_INTEGRATION", "").upper() in ("1", "ON", "YES", "TRUE")))


# Reporting integrations ember ships (ember.trainer.integrations; each needs its optional
# extra: ember[tensorboard], ember[mlflow]). Logs also stay in ``trainer.state.log_history``.
REPORTING_INTEGRATIONS: tuple[str, ...] = _ReportingIntegrations(("tensorboard", "mlflow"))

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical", "passive")
_SAMPLING = ("random", "sequential")
_SAMPLING_HF_ONLY = ("group_by_length", "batch_rebalance")
_DICT_FIELDS = ("lr_scheduler_kwargs",)


def _convert_str_dict(d: dict) -> dict:
    """Typed values in a dict parsed from a CLI JSON string ("true" -> True, "3" -> 3)."""
    for key, value in d.items():
        if isinstance(value, dict):
            d[key] = _convert_str_dict(value)
        elif isinstance(value, str):
            if value.lower() in ("true", "false"):
                d[key] = value.lower() == "true"
            elif value.isdigit():
                d[key] = int(value)
            elif value.replace(".", "", 1).isdigit():
                d[key] = float(value)
    return d


@dataclass
class TrainingArguments:
    """Everything the Trainer needs to know about a run, by transformers' names.

    ``TrainingArguments("out", num_train_epochs=1, eval_strategy="epoch")``; unknown names are a
    TypeError, contradictory values a ValueError; see the module docstring for ember's choices.
    """

    # --- output ---
    output_dir: str | None = None

    # --- duration and batch size ---
    per_device_train_batch_size: int = 8
    num_train_epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides num_train_epochs

    # --- learning rate and schedule ---
    learning_rate: float = 5e-5
    lr_scheduler_type: SchedulerType | str = "linear"
    lr_scheduler_kwargs: dict | str | None = None  # extra arguments of the schedule (or JSON)
    warmup_steps: float = 0  # steps, or a ratio of the training steps when < 1

    # --- optimizer ---
    optim: OptimizerNames | str = "adamw_torch"
    optim_args: str | None = None
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8

    # --- stability ---
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 1.0  # <= 0 disables clipping
    label_smoothing_factor: float = 0.0

    # --- precision (recorded only: ember computes in float32) ---
    bf16: bool = False
    fp16: bool = False
    bf16_full_eval: bool = False
    fp16_full_eval: bool = False
    tf32: bool | None = None

    # --- speed-ups transformers has and ember does not (only their "off" values are accepted) ---
    activation_checkpointing: bool | None = None
    gradient_checkpointing: bool | None = None  # transformers 5's older name for the above
    torch_compile: bool = False

    # --- logging ---
    logging_strategy: IntervalStrategy | str = "steps"
    logging_steps: float = 500  # steps, or a ratio of the training steps when < 1
    logging_first_step: bool = False
    logging_nan_inf_filter: bool = True
    include_num_input_tokens_seen: str | bool = "no"
    log_level: str = "passive"
    disable_tqdm: bool | None = None
    report_to: None | str | list[str] = "none"
    run_name: str | None = None

    # --- evaluation ---
    eval_strategy: IntervalStrategy | str = "no"
    eval_steps: float | None = None  # defaults to logging_steps
    eval_delay: float = 0
    per_device_eval_batch_size: int = 8
    prediction_loss_only: bool = False
    eval_on_start: bool = False
    eval_accumulation_steps: int | None = None
    include_for_metrics: list[str] = field(default_factory=list)
    batch_eval_metrics: bool = False

    # --- checkpoints ---
    save_only_model: bool = False
    save_strategy: SaveStrategy | str = "steps"
    save_steps: float = 500  # steps, or a ratio of the training steps when < 1
    save_total_limit: int | None = None

    # --- hub (no hub client in ember: push_to_hub=True is an error) ---
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_token: str | None = None

    # --- best model ---
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None  # "loss" when load_best_model_at_end
    greater_is_better: bool | None = None  # False when the metric's name ends in "loss"
    ignore_data_skip: bool = False
    restore_callback_states_from_checkpoint: bool = False

    # --- reproducibility and device ---
    full_determinism: bool = False
    seed: int = 42
    data_seed: int | None = None
    use_cpu: bool = False  # ember always runs on the CPU

    # --- data loading ---
    dataloader_drop_last: bool = False
    dataloader_num_workers: int = 0
    dataloader_pin_memory: bool = True
    dataloader_persistent_workers: bool = False
    dataloader_prefetch_factor: int | None = None
    remove_unused_columns: bool = True
    label_names: list[str] | None = None
    train_sampling_strategy: str = "random"
    length_column_name: str = "length"

    # --- for scripts (the Trainer does not read these) ---
    do_train: bool = False
    do_eval: bool = False  # set True when eval_strategy is not "no"
    do_predict: bool = False
    resume_from_checkpoint: str | None = None

    # --- names transformers 5 removed: keyword-only, FutureWarning, not stored (reading them
    # gives None; `dataclasses.replace` needs these class-level defaults) ---
    _: KW_ONLY
    evaluation_strategy: InitVar[IntervalStrategy | str | None] = None
    warmup_ratio: InitVar[float | None] = None
    no_cuda: InitVar[bool | None] = None
    overwrite_output_dir: InitVar[bool | None] = None
    logging_dir: InitVar[str | None] = None

    def __post_init__(self, evaluation_strategy, warmup_ratio, no_cuda, overwrite_output_dir,
                      logging_dir) -> None:
        self._apply_legacy(evaluation_strategy, warmup_ratio, no_cuda, overwrite_output_dir,
                           logging_dir)

        # --- defaults and normalisation (transformers' order) ---
        if self.output_dir is None:
            self.output_dir = "trainer_output"
            logger.info("No output directory specified, defaulting to 'trainer_output'.")
        self.output_dir = os.path.expanduser(os.fspath(self.output_dir))
        for name in _DICT_FIELDS:  # JSON from a command line
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("{"):
                setattr(self, name, _convert_str_dict(json.loads(value)))
        for name in ("activation_checkpointing", "gradient_checkpointing"):
            if getattr(self, name) is None:
                setattr(self, name, False)
        if self.disable_tqdm is None:
            self.disable_tqdm = logging.getLogger("ember").getEffectiveLevel() > logging.WARN
        if isinstance(self.include_num_input_tokens_seen, bool):
            self.include_num_input_tokens_seen = "all" if self.include_num_input_tokens_seen \
                else "no"

        self.eval_strategy = IntervalStrategy(self.eval_strategy)
        self.logging_strategy = IntervalStrategy(self.logging_strategy)
        self.save_strategy = SaveStrategy(self.save_strategy)
        self.lr_scheduler_type = SchedulerType(self.lr_scheduler_type)
        self.optim = OptimizerNames(self.optim)

        # --- derived values ---
        if self.do_eval is False and self.eval_strategy != IntervalStrategy.NO:
            self.do_eval = True
        if self.eval_strategy == IntervalStrategy.STEPS and not self.eval_steps:
            if self.logging_steps > 0:
                logger.info(f"using `logging_steps` to initialize `eval_steps` to "
                            f"{self.logging_steps}")
                self.eval_steps = self.logging_steps
            else:
                raise ValueError(f"evaluation strategy {self.eval_strategy} requires either "
                                 "non-zero --eval_steps or --logging_steps")
        if (self.load_best_model_at_end or self.lr_scheduler_type in (
                SchedulerType.REDUCE_ON_PLATEAU, SchedulerType.GREEDY)) \
                and self.metric_for_best_model is None:
            self.metric_for_best_model = "loss"
        if self.greater_is_better is None and self.metric_for_best_model is not None:
            self.greater_is_better = not self.metric_for_best_model.endswith("loss")
        self.report_to = self._resolve_report_to(self.report_to)

        self._validate()

        self.mixed_precision = "fp16" if self.fp16 else "bf16" if self.bf16 else "no"
        half = [n for n in ("fp16", "bf16", "fp16_full_eval", "bf16_full_eval") if getattr(self, n)]
        if half:
            # Accepted so GPU scripts run unchanged; the results are float32's (more precise).
            logger.warning(f"{'/'.join(half)}=True is recorded but has no effect: ember has no "
                           "mixed precision, so training and evaluation run in float32.")
        if self.use_cpu:
            self.dataloader_pin_memory = False

    # ------------------------------------------------------------------ checks
    def _apply_legacy(self, evaluation_strategy, warmup_ratio, no_cuda, overwrite_output_dir,
                      logging_dir) -> None:
        def deprecated(name: str, instead: str) -> None:
            warnings.warn(f"`{name}` was removed in transformers 5; {instead}", FutureWarning,
                          stacklevel=5)  # the caller of TrainingArguments(...)

        if evaluation_strategy is not None:
            deprecated("evaluation_strategy", "use `eval_strategy` instead.")
            old = IntervalStrategy(evaluation_strategy)
            if IntervalStrategy(self.eval_strategy) not in (IntervalStrategy.NO, old):
                raise ValueError(f"evaluation_strategy={old.value!r} contradicts "
                                 f"eval_strategy={IntervalStrategy(self.eval_strategy).value!r}; "
                                 "pass only `eval_strategy`")
            self.eval_strategy = old
        if warmup_ratio is not None:
            deprecated("warmup_ratio", "pass the ratio as `warmup_steps` (a float < 1 is a "
                                       "ratio of the training steps).")
            if not 0 <= warmup_ratio < 1:
                raise ValueError(f"warmup_ratio must lie in [0, 1), got {warmup_ratio} (a ratio "
                                 "of 1 cannot be written as warmup_steps; give a step count)")
            if warmup_ratio and self.warmup_steps and self.warmup_steps != warmup_ratio:
                raise ValueError(f"both warmup_steps={self.warmup_steps} and warmup_ratio="
                                 f"{warmup_ratio} were given; pass one `warmup_steps` (a float "
                                 "< 1 is a ratio)")
            if warmup_ratio:
                self.warmup_steps = warmup_ratio
        if no_cuda is not None:
            deprecated("no_cuda", "use `use_cpu` (ember always runs on the CPU).")
            self.use_cpu = self.use_cpu or bool(no_cuda)
        if overwrite_output_dir is not None:
            deprecated("overwrite_output_dir", "it is ignored (the Trainer never read it).")
        if logging_dir is not None:
            deprecated("logging_dir", "it is ignored, as transformers 5 removed it (set "
                       "TENSORBOARD_LOGGING_DIR to choose TensorBoard's folder).")

    @staticmethod
    def _resolve_report_to(report_to) -> list[str]:
        if report_to is None or report_to == "none" or report_to == ["none"]:
            return []
        if report_to == "all" or report_to == ["all"]:
            return list(REPORTING_INTEGRATIONS)
        names = [report_to] if isinstance(report_to, str) else list(report_to)
        missing = [n for n in names if n not in REPORTING_INTEGRATIONS]
        if missing:
            raise ValueError(f"report_to={missing}: ember has no such reporting integration "
                             f"(available: {list(REPORTING_INTEGRATIONS)}); use "
                             "report_to='none' (logs stay in trainer.state.log_history)")
        return names

    def _validate(self) -> None:
        # transformers' checks, same order and wording
        if self.logging_strategy == IntervalStrategy.STEPS and self.logging_steps == 0:
            raise ValueError(f"logging strategy {self.logging_strategy} requires non-zero "
                             "--logging_steps")
        for name, strategy in (("logging_steps", self.logging_strategy),
                               ("eval_steps", self.eval_strategy),
                               ("save_steps", self.save_strategy)):
            steps = getattr(self, name)
            if strategy == IntervalStrategy.STEPS and steps > 1:
                if steps != int(steps):
                    raise ValueError(f"--{name} must be an integer if bigger than 1: {steps}")
                setattr(self, name, int(steps))
            # transformers would divide by zero, or silently never fire, later
            if strategy == IntervalStrategy.STEPS and steps <= 0:
                raise ValueError(f"--{name} must be positive with the 'steps' strategy, got "
                                 f"{steps} (the 'no' strategy turns it off)")
        if self.load_best_model_at_end and self.save_strategy != SaveStrategy.BEST:
            self._check_best_model_steps()
        if self.save_strategy == SaveStrategy.BEST and self.metric_for_best_model is None:
            # transformers raises this when the Trainer is built
            raise ValueError("`args.metric_for_best_model` must be provided when using 'best' "
                             "save_strategy or if `args.load_best_model_at_end` is set to "
                             "`True`.")
        if self.fp16 and self.bf16:
            raise ValueError("At most one of fp16 and bf16 can be True, but not both")
        if self.fp16_full_eval and self.bf16_full_eval:
            raise ValueError("At most one of fp16 and bf16 can be True for full eval, but not "
                             "both")
        if self.tf32:
            raise ValueError("--tf32 requires Ampere or a newer GPU arch, cuda>=11 and torch>=1.7 "
                             "(ember computes in float32 on the CPU; leave tf32 unset)")
        if self.warmup_steps < 0:
            raise ValueError(f"Got warmup_steps = {self.warmup_steps}, Expected value "
                             "warmup_steps >= 0")
        if self.dataloader_num_workers == 0 and self.dataloader_prefetch_factor is not None:
            raise ValueError("--dataloader_prefetch_factor can only be set when data is loaded in "
                             "a different process, i.e. when --dataloader_num_workers > 0.")

        # what transformers rejects later (optimizer, Trainer) or never: fail at the source
        if self.learning_rate < 0:
            raise ValueError(f"Invalid learning rate: {self.learning_rate} (learning_rate must "
                             "be >= 0)")
        if self.weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {self.weight_decay}")
        if self.adam_epsilon < 0:
            raise ValueError(f"Invalid epsilon value: {self.adam_epsilon}")
        for i, beta in enumerate((self.adam_beta1, self.adam_beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta} "
                                 f"(adam_beta{i + 1} must lie in [0, 1))")
        if self.gradient_accumulation_steps < 1:
            raise ValueError("gradient_accumulation_steps must be >= 1, got "
                             f"{self.gradient_accumulation_steps}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps == 0:
            raise ValueError("max_steps=0 trains for no steps: give a positive number of "
                             "optimizer steps, or -1 to train for num_train_epochs")
        if self.max_steps < 0 and self.num_train_epochs < 0:
            raise ValueError(f"num_train_epochs must be >= 0, got {self.num_train_epochs}")
        if self.eval_accumulation_steps is not None and self.eval_accumulation_steps < 1:
            raise ValueError("eval_accumulation_steps must be >= 1 (or None), got "
                             f"{self.eval_accumulation_steps}")
        if self.include_num_input_tokens_seen not in ("all", "non_padding", "no"):
            raise ValueError("include_num_input_tokens_seen must be one of ['all', "
                             f"'non_padding', 'no'] or a bool, got "
                             f"{self.include_num_input_tokens_seen!r}")
        if self.log_level not in _LOG_LEVELS:
            raise ValueError(f"log_level must be one of {list(_LOG_LEVELS)}, got "
                             f"{self.log_level!r}")
        if self.dataloader_num_workers < 0:
            raise ValueError("dataloader_num_workers should be non-negative, got "
                             f"{self.dataloader_num_workers}")

        # names transformers knows that ember does not implement
        from ..optim.lr_scheduler import SCHEDULER_NAMES

        if self.lr_scheduler_type.value not in SCHEDULER_NAMES:
            raise NotImplementedError(f"lr_scheduler_type={self.lr_scheduler_type.value!r} is "
                                      f"not implemented in ember; available: "
                                      f"{list(SCHEDULER_NAMES)}")
        if self.optim not in SUPPORTED_OPTIMIZERS:
            raise NotImplementedError(f"optim={self.optim.value!r} is not implemented in ember; "
                                      f"available: {[o.value for o in SUPPORTED_OPTIMIZERS]} "
                                      "(ember.optim.AdamW)")
        if self.train_sampling_strategy in _SAMPLING_HF_ONLY:
            raise NotImplementedError(f"train_sampling_strategy="
                                      f"{self.train_sampling_strategy!r} is not implemented in "
                                      f"ember; available: {list(_SAMPLING)}")
        if self.train_sampling_strategy not in _SAMPLING:
            raise ValueError(f"train_sampling_strategy must be one of "
                             f"{list(_SAMPLING + _SAMPLING_HF_ONLY)}, got "
                             f"{self.train_sampling_strategy!r}")
        if self.push_to_hub:
            raise NotImplementedError("push_to_hub=True: ember has no Hugging Face Hub client; "
                                      "save with the Trainer and upload the folder yourself")
        if self.torch_compile:
            raise NotImplementedError("torch_compile=True: ember has no compiler; leave it off")
        for name in ("activation_checkpointing", "gradient_checkpointing"):
            if getattr(self, name):
                raise NotImplementedError(f"{name}=True: ember models keep all activations "
                                          "for backward; leave it off")

    def _check_best_model_steps(self) -> None:
        if self.eval_strategy != self.save_strategy:
            raise ValueError(
                "--load_best_model_at_end requires the save and eval strategy to match, except "
                'when --save_strategy="best", but found\n- Evaluation strategy: '
                f"{self.eval_strategy}\n- Save strategy: {self.save_strategy}")
        if self.eval_strategy != IntervalStrategy.STEPS or self.save_steps % self.eval_steps == 0:
            return
        if self.eval_steps >= 1 and self.save_steps >= 1:
            raise ValueError(
                "--load_best_model_at_end requires the saving steps to be a round multiple of the "
                f"evaluation steps, but found {self.save_steps}, which is not a round multiple of "
                f"{self.eval_steps}.")
        if not (self.eval_steps < 1 and self.save_steps < 1):
            raise ValueError(
                "--load_best_model_at_end requires the saving steps to be a multiple of the "
                "evaluation steps, which cannot get guaranteed when mixing ratio and absolute "
                f"steps for save_steps {self.save_steps} and eval_steps {self.eval_steps}.")
        # two ratios: compare them scaled to integers, as float % misjudges e.g. 0.3 % 0.1
        big = 1_000_000
        if round(self.save_steps * big) % round(self.eval_steps * big) != 0:
            raise ValueError(
                "--load_best_model_at_end requires the saving steps to be a multiple of the "
                f"evaluation steps, but found {self.save_steps}, which is not a multiple of "
                f"{self.eval_steps}.")

    # ------------------------------------------------------------------ derived
    @property
    def train_batch_size(self) -> int:
        """Examples per training forward pass (one process, no GPUs)."""
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        """Examples per evaluation forward pass."""
        return self.per_device_eval_batch_size

    @property
    def device(self):
        """Always ``ember.device("cpu")``."""
        from ..autograd import device

        return device("cpu")

    n_gpu = 0
    world_size = 1
    process_index = 0
    local_process_index = 0
    should_log = True
    should_save = True

    @contextlib.contextmanager
    def main_process_first(self, local: bool = True, desc: str = "work"):
        """A no-op context (there is only one process), so scripts written for transformers run."""
        yield

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """Warmup steps for a run of ``num_training_steps``: ``warmup_steps`` as is when >= 1,
        else that ratio of the run, rounded up (``warmup_steps=0.1`` of 95 steps -> 10)."""
        if self.warmup_steps >= 1:
            return int(self.warmup_steps)
        return math.ceil(num_training_steps * self.warmup_steps)

    def to_dict(self) -> dict[str, Any]:
        """The arguments as plain JSON values (enums by value, tokens hidden): what a run
        records next to its checkpoints; ``TrainingArguments(**d)`` rebuilds them."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        for k, v in d.items():
            if isinstance(v, Enum):
                d[k] = v.value
            elif isinstance(v, list):
                d[k] = [x.value if isinstance(x, Enum) else x for x in v]
            elif isinstance(v, dict):
                d[k] = dict(v)
            if k.endswith("_token") and v is not None:  # None stays None: a clean round trip
                d[k] = f"<{k.upper()}>"
        return d

    def to_json_string(self) -> str:
        """``to_dict()`` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def to_sanitized_dict(self) -> dict[str, Any]:
        """``to_dict()`` plus the batch sizes, every value a bool, int, float or str (for
        hyper-parameter logging)."""
        d = {**self.to_dict(), "train_batch_size": self.train_batch_size,
             "eval_batch_size": self.eval_batch_size}
        return {k: v if type(v) in (bool, int, float, str) else str(v) for k, v in d.items()}

    def __str__(self) -> str:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d = {k: f"<{k.upper()}>" if k.endswith("_token") else v for k, v in d.items()}
        body = "".join(f"{k}={v},\n" for k, v in sorted(d.items()))
        return f"{type(self).__name__}(\n{body})"

    __repr__ = __str__

