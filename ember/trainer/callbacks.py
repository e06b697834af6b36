"""Trainer callbacks, with transformers' event names and semantics.

A callback subclasses ``TrainerCallback`` and overrides the events it needs; every event gets
``(args, state, control, **kwargs)`` with ``model``, ``processing_class``, ``optimizer``,
``lr_scheduler``, ``train_dataloader``, ``eval_dataloader`` in ``kwargs`` (plus ``metrics`` for
``on_evaluate``/``on_predict`` and ``logs`` for ``on_log``). It may flip ``control`` flags and
return it. Example::

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 100:
                control.should_training_stop = True

Reporting integrations (TensorBoard, MLflow, ...) plug in as callbacks listening to ``on_log``:
register the class in ``INTEGRATION_TO_CALLBACK`` (and its name in
``training_args.REPORTING_INTEGRATIONS``) and ``report_to=[name]`` adds it to every Trainer.
"""
from __future__ import annotations

import logging
import numpy as np

from .trainer_state import ExportableState, TrainerControl, TrainerState
from .training_args import IntervalStrategy, SaveStrategy, TrainingArguments

__all__ = ["CallbackHandler", "DefaultFlowCallback", "EarlyStoppingCallback",
           "INTEGRATION_TO_CALLBACK", "PrinterCallback", "ProgressCallback", "TrainerCallback",
           "get_reporting_integration_callbacks"]

logger = logging.getLogger("ember.trainer")


class TrainerCallback:
    """Base class: every event is a no-op. See the module docstring for the arguments."""

    def on_init_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs):
        """End of ``Trainer.__init__``."""

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs):
        """Start of ``train()``."""

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs):
        """End of ``train()``."""

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs):
        """Start of an epoch."""

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState,
                     control: TrainerControl, **kwargs):
        """End of an epoch."""

    def on_step_begin(self, args: TrainingArguments, state: TrainerState,
                      control: TrainerControl, **kwargs):
        """Start of an optimizer step (before its first micro-batch)."""

    def on_pre_optimizer_step(self, args: TrainingArguments, state: TrainerState,
                              control: TrainerControl, **kwargs):
        """After gradient clipping, before ``optimizer.step()``."""

    def on_optimizer_step(self, args: TrainingArguments, state: TrainerState,
                          control: TrainerControl, **kwargs):
        """After ``optimizer.step()``, before the gradients are zeroed."""

    def on_substep_end(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs):
        """After a micro-batch that does not end an accumulation cycle."""

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs):
        """After an optimizer step (``state.global_step`` already incremented)."""

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs):
        """After an evaluation (``metrics`` in kwargs)."""

    def on_predict(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                   metrics, **kwargs):
        """After ``predict()``."""

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs):
        """After a checkpoint was written."""

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               **kwargs):
        """After ``Trainer.log`` (``logs`` in kwargs): where reporting integrations write."""

    def on_prediction_step(self, args: TrainingArguments, state: TrainerState,
                           control: TrainerControl, **kwargs):
        """After each evaluation/prediction batch."""

    def on_push_begin(self, args: TrainingArguments, state: TrainerState,
                      control: TrainerControl, **kwargs):
        """Kept for API compatibility (ember has no Hub client)."""


class CallbackHandler(TrainerCallback):
    """Calls the callbacks in order; resets control flags as transformers does."""

    def __init__(self, callbacks, model, processing_class, optimizer, lr_scheduler) -> None:
        self.callbacks: list[TrainerCallback] = []
        for cb in callbacks:
            self.add_callback(cb)
        self.model = model
        self.processing_class = processing_class
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.train_dataloader = None
        self.eval_dataloader = None
        if not any(isinstance(cb, DefaultFlowCallback) for cb in self.callbacks):
            logger.warning("The Trainer will not work properly without a DefaultFlowCallback in "
                           "its callbacks; current callbacks:\n%s", self.callback_list)

    def add_callback(self, callback) -> None:
        cb = callback() if isinstance(callback, type) else callback
        cls = callback if isinstance(callback, type) else type(callback)
        if cls in [type(c) for c in self.callbacks]:
            logger.warning("You are adding a %s to the callbacks of this Trainer, but there is "
                           "already one. The current list of callbacks is:\n%s", cls,
                           self.callback_list)
        self.callbacks.append(cb)

    def pop_callback(self, callback):
        for cb in self.callbacks:
            if (isinstance(callback, type) and isinstance(cb, callback)) or cb is callback:
                self.callbacks.remove(cb)
                return cb
        return None

    def remove_callback(self, callback) -> None:
        if isinstance(callback, type):
            for cb in self.callbacks:
                if isinstance(cb, callback):
                    self.callbacks.remove(cb)
                    return
        else:
            self.callbacks.remove(callback)

    @property
    def callback_list(self) -> str:
        return "\n".join(type(cb).__name__ for cb in self.callbacks)

    def on_init_end(self, args, state, control, **kwargs):
        return self.call_event("on_init_end", args, state, control, **kwargs)

    def on_train_begin(self, args, state, control, **kwargs):
        control.should_training_stop = False
        return self.call_event("on_train_begin", args, state, control, **kwargs)

    def on_train_end(self, args, state, control, **kwargs):
        return self.call_event("on_train_end", args, state, control, **kwargs)

    def on_epoch_begin(self, args, state, control, **kwargs):
        control.should_epoch_stop = False
        return self.call_event("on_epoch_begin", args, state, control, **kwargs)

    def on_epoch_end(self, args, state, control, **kwargs):
        return self.call_event("on_epoch_end", args, state, control, **kwargs)

    def on_step_begin(self, args, state, control, **kwargs):
        control.should_log = False
        control.should_evaluate = False
        control.should_save = False
        return self.call_event("on_step_begin", args, state, control, **kwargs)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        return self.call_event("on_pre_optimizer_step", args, state, control, **kwargs)

    def on_optimizer_step(self, args, state, control, **kwargs):
        return self.call_event("on_optimizer_step", args, state, control, **kwargs)

    def on_substep_end(self, args, state, control, **kwargs):
        return self.call_event("on_substep_end", args, state, control, **kwargs)

    def on_step_end(self, args, state, control, **kwargs):
        return self.call_event("on_step_end", args, state, control, **kwargs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        control.should_evaluate = False
        return self.call_event("on_evaluate", args, state, control, metrics=metrics, **kwargs)

    def on_predict(self, args, state, control, metrics=None, **kwargs):
        return self.call_event("on_predict", args, state, control, metrics=metrics, **kwargs)

    def on_save(self, args, state, control, **kwargs):
        control.should_save = False
        return self.call_event("on_save", args, state, control, **kwargs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        control.should_log = False
        return self.call_event("on_log", args, state, control, logs=logs, **kwargs)

    def on_prediction_step(self, args, state, control, **kwargs):
        return self.call_event("on_prediction_step", args, state, control, **kwargs)

    def on_push_begin(self, args, state, control, **kwargs):
        return self.call_event("on_push_begin", args, state, control, **kwargs)

    def call_event(self, event: str, args, state, control, **kwargs):
        for callback in self.callbacks:
            result = getattr(callback, event)(
                args, state, control, model=self.model, processing_class=self.processing_class,
                optimizer=self.optimizer, lr_scheduler=self.lr_scheduler,
                train_dataloader=self.train_dataloader, eval_dataloader=self.eval_dataloader,
                **kwargs)
            if result is not None:  # a callback may change control in place and return None
                control = result
        return control


class DefaultFlowCallback(TrainerCallback):
    """Decides when to log, evaluate, save and stop, from the ``*_strategy``/``*_steps``
    arguments and ``max_steps``."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1 and args.logging_first_step:
            control.should_log = True
        if (args.logging_strategy == IntervalStrategy.STEPS
                and state.global_step % state.logging_steps == 0):
            control.should_log = True
        if (args.eval_strategy == IntervalStrategy.STEPS
                and state.global_step % state.eval_steps == 0
                and args.eval_delay <= state.global_step):
            control.should_evaluate = True
        if (args.save_strategy == SaveStrategy.STEPS and state.save_steps > 0
                and state.global_step % state.save_steps == 0):
            control.should_save = True
        if state.global_step >= state.max_steps:
            control.should_training_stop = True
            # a final evaluation and save, unless this step already has them
            if (args.eval_strategy == IntervalStrategy.STEPS
                    and state.global_step % state.eval_steps != 0
                    and args.eval_delay <= state.global_step):
                control.should_evaluate = True
            if args.save_strategy == SaveStrategy.STEPS:
                control.should_save = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if args.logging_strategy == IntervalStrategy.EPOCH:
            control.should_log = True
        if args.eval_strategy == IntervalStrategy.EPOCH and args.eval_delay <= state.epoch:
            control.should_evaluate = True
        if args.save_strategy == SaveStrategy.EPOCH:
            control.should_save = True
        return control


def _format_logs(logs: dict, max_str_len: int | None = None) -> dict:
    out = {}
    for k, v in logs.items():
        if k == "total_flos":
            continue
        if isinstance(v, str) and max_str_len is not None and len(v) > max_str_len:
            v = (f"[String too long to display, length: {len(v)} > {max_str_len}. Consider "
                 "increasing `max_str_len` if needed.]")
        elif isinstance(v, float):
            v = f"{v:.4g}"
        out[k] = v
    return out


class ProgressCallback(TrainerCallback):
    """tqdm bars for training and evaluation; logs are written under the training bar."""

    def __init__(self, max_str_len: int = 100) -> None:
        self.training_bar = None
        self.prediction_bar = None
        self.max_str_len = max_str_len
        self.current_step = 0

    @staticmethod
    def _tqdm():
        from tqdm.auto import tqdm

        return tqdm

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.training_bar = self._tqdm()(total=state.max_steps, dynamic_ncols=True)
        self.current_step = 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None:
            self.training_bar.update(state.global_step - self.current_step)
            self.current_step = state.global_step

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if not state.is_world_process_zero:
            return
        try:
            total = len(eval_dataloader)
        except TypeError:
            return
        if self.prediction_bar is None:
            self.prediction_bar = self._tqdm()(total=total, leave=self.training_bar is None,
                                               dynamic_ncols=True)
        self.prediction_bar.update(1)

    def _close_prediction_bar(self) -> None:
        if self.prediction_bar is not None:
            self.prediction_bar.close()
        self.prediction_bar = None

    def on_evaluate(self, args, state, control, **kwargs):
        self._close_prediction_bar()

    def on_predict(self, args, state, control, **kwargs):
        self._close_prediction_bar()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None:
            self.training_bar.write(str(_format_logs(logs or {}, self.max_str_len)))

    def on_train_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            self.training_bar.close()
        self.training_bar = None


class PrinterCallback(TrainerCallback):
    """Prints each log dict (used instead of ``ProgressCallback`` when ``disable_tqdm``)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_local_process_zero and logs is not None:
            print(_format_logs(logs))


class EarlyStoppingCallback(TrainerCallback, ExportableState):
    """Stop training when ``metric_for_best_model`` has not improved (by more than
    ``early_stopping_threshold``) for ``early_stopping_patience`` evaluations in a row. Needs an
    ``eval_strategy`` other than "no"; compares with ``state.best_metric`` as transformers."""

    def __init__(self, early_stopping_patience: int = 1,
                 early_stopping_threshold: float | None = 0.0) -> None:
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_threshold = early_stopping_threshold or 0.0
        self.early_stopping_patience_counter = 0

    def check_metric_value(self, args, state, control, metric_value: float) -> None:
        operator = np.greater if args.greater_is_better else np.less
        if state.best_metric is None or (
                operator(metric_value, state.best_metric)
                and abs(metric_value - state.best_metric) > self.early_stopping_threshold):
            self.early_stopping_patience_counter = 0
        else:
            self.early_stopping_patience_counter += 1

    def on_train_begin(self, args, state, control, **kwargs):
        if not args.load_best_model_at_end:
            logger.warning("Using EarlyStoppingCallback without load_best_model_at_end=True. "
                           "Once training is finished, the best model will not be loaded "
                           "automatically.")
        if args.metric_for_best_model is None:
            raise ValueError("EarlyStoppingCallback requires metric_for_best_model to be defined")
        if args.eval_strategy == IntervalStrategy.NO:
            raise ValueError("EarlyStoppingCallback requires IntervalStrategy of steps or epoch")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        key = args.metric_for_best_model
        if not key.startswith("eval_"):
            key = f"eval_{key}"
        value = (metrics or {}).get(key)
        if value is None:
            logger.warning("early stopping required metric_for_best_model, but did not find %s "
                           "so early stopping is disabled", key)
            return None
        self.check_metric_value(args, state, control, value)
        if self.early_stopping_patience_counter >= self.early_stopping_patience:
            control.should_training_stop = True
        return None

    def state(self) -> dict:
        return {"args": {"early_stopping_patience": self.early_stopping_patience,
                         "early_stopping_threshold": self.early_stopping_threshold},
                "attributes": {
                    "early_stopping_patience_counter": self.early_stopping_patience_counter}}


# report_to name -> callback class; empty until reporting integrations land (see module doc).
INTEGRATION_TO_CALLBACK: dict[str, type[TrainerCallback]] = {}


def get_reporting_integration_callbacks(report_to: list[str] | None) -> list[type]:
    """The callback classes for ``args.report_to`` (already validated by TrainingArguments)."""
    out = []
    for name in report_to or []:
        if name not in INTEGRATION_TO_CALLBACK:
            raise ValueError(f"{name} is not supported by ember; available: "
                             f"{list(INTEGRATION_TO_CALLBACK)}")
        out.append(INTEGRATION_TO_CALLBACK[name])
    return out

