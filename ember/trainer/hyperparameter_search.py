"""``Trainer.hyperparameter_search`` with Optuna, as transformers runs it.

Example::

    trainer = Trainer(model_init=lambda: GPT2LMHeadModel(config), args=args,
                      train_dataset=train, eval_dataset=valid)
    best = trainer.hyperparameter_search(n_trials=20, direction="minimize")
    best.run_id, best.objective, best.hyperparameters    # ("7", 3.12, {"learning_rate": ...})

Each trial sets the ``TrainingArguments`` fields that ``hp_space(trial)`` suggests (default
:func:`default_hp_space_optuna`: learning_rate, num_train_epochs, seed,
per_device_train_batch_size), rebuilds the model with ``model_init`` after seeding with the
trial's ``seed``, trains, and scores the run with ``compute_objective(metrics)`` (default
:func:`default_compute_objective`: ``eval_loss``, or the sum of the metrics when
``compute_metrics`` returns any). Every evaluation during training is reported to the trial
(``trial.report(objective, step)``), so an Optuna pruner can stop a poor trial early.

``storage="sqlite:///search.db"`` with a ``study_name`` keeps the study in a database that
several processes (or machines sharing a file system) can run trials into at once; each
process runs its own ``n_trials`` and the best run is taken over all trials of the study.

Differences from transformers: only the "optuna" backend (Ray Tune and W&B sweeps are
NotImplementedError); each trial writes into ``output_dir/run-<number>`` (or
``output_dir/<hp_name(trial)>``): checkpoints, TensorBoard logs and ``loss.png``; the
``TrainingArguments`` changed by the trials are restored when the search returns.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import os
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from .callbacks import TrainerCallback

__all__ = ["BestRun", "HPSearchBackend", "default_compute_objective", "default_hp_space_optuna",
           "hyperparameter_search", "is_optuna_available", "run_hp_search_optuna"]

logger = logging.getLogger("ember.trainer")


class BestRun(NamedTuple):
    """The best run of a search: ``run_id`` (the trial number, as a string; its files are in
    ``output_dir/run-<run_id>``), its ``objective`` and ``hyperparameters``."""
    run_id: str
    objective: float | list[float]
    hyperparameters: dict[str, Any]
    run_summary: Any | None = None


class HPSearchBackend(str, Enum):
    OPTUNA = "optuna"
    RAY = "ray"
    WANDB = "wandb"


_IMPLEMENTED = (HPSearchBackend.OPTUNA,)


def is_optuna_available() -> bool:
    return importlib.util.find_spec("optuna") is not None


def _import_optuna():
    try:
        import optuna
    except ImportError as exc:
        raise ImportError("hyperparameter_search(backend='optuna') needs Optuna: pip install "
                          "'ember[optuna]' (or pip install optuna)") from exc
    return optuna


def default_compute_objective(metrics: dict[str, float]) -> float:
    """``eval_loss`` when the evaluation has no other metric, else the sum of the metrics
    (leaving out ``epoch`` and the speed metrics ``*_runtime``/``*_per_second``)."""
    metrics = copy.deepcopy(metrics)
    loss = metrics.pop("eval_loss", None)
    metrics.pop("epoch", None)
    for key in [k for k in metrics if k.endswith("_runtime") or k.endswith("_per_second")]:
        metrics.pop(key)
    return loss if len(metrics) == 0 else sum(metrics.values())


def default_hp_space_optuna(trial) -> dict[str, float]:
    """transformers' default search space."""
    _import_optuna()
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-6, 1e-4, log=True),
        "num_train_epochs": trial.suggest_int("num_train_epochs", 1, 5),
        "seed": trial.suggest_int("seed", 1, 40),
        "per_device_train_batch_size": trial.suggest_categorical(
            "per_device_train_batch_size", [4, 8, 16, 32, 64]),
    }


def _run_name(trainer, trial) -> str:
    return trainer.hp_name(trial) if trainer.hp_name is not None else f"run-{trial.number}"


class _TrialStateCallback(TrainerCallback):
    """Puts the trial's name and parameters in ``state`` before the other callbacks see
    ``on_train_begin`` (transformers fills them in ``init_training_references``)."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        trial = getattr(self.trainer, "_trial", None)
        if trial is not None and self.trainer.hp_search_backend is not None:
            state.trial_name = _run_name(self.trainer, trial)
            state.trial_params = dict(getattr(trial, "params", {}) or {})


def hp_search_setup(trainer, trial) -> None:
    """Apply the trial's suggestions to ``trainer.args`` (cast to each field's type, as
    transformers does) and point ``output_dir`` at the trial's folder. Called by ``train()``
    before the model is rebuilt, so the trial's ``seed`` seeds ``model_init``."""
    trainer._trial = trial
    if trainer.hp_search_backend is None or trial is None:
        return
    params = trainer.hp_space(trial)
    for key, value in params.items():
        if not hasattr(trainer.args, key):
            logger.warning("Trying to set %s in the hyperparameter search but there is no "
                           "corresponding field in `TrainingArguments`.", key)
            continue
        old = getattr(trainer.args, key, None)
        if old is not None:
            value = type(old)(value)
        setattr(trainer.args, key, value)
    base = getattr(trainer, "_hp_search_output_dir", None) or trainer.args.output_dir
    trainer.args.output_dir = os.path.join(base, _run_name(trainer, trial))
    os.makedirs(trainer.args.output_dir, exist_ok=True)
    logger.info("Trial: %s", getattr(trial, "params", params))
    trainer._train_batch_size = trainer.args.train_batch_size


def report_to_hp_search(trainer, trial, step: int, metrics: dict[str, float]) -> None:
    """Score an evaluation made during training and report it to the trial; raises
    ``optuna.TrialPruned`` (after ``on_train_end``) when the pruner says stop."""
    if trainer.hp_search_backend is None or trial is None:
        return
    trainer.objective = trainer.compute_objective(dict(metrics))
    if trainer.hp_search_backend == HPSearchBackend.OPTUNA:
        optuna = _import_optuna()
        if hasattr(trial, "study") and not trial.study._is_multi_objective():
            trial.report(trainer.objective, step)
            if trial.should_prune():
                trainer.control = trainer.callback_handler.on_train_end(
                    trainer.args, trainer.state, trainer.control)
                raise optuna.TrialPruned()


def run_hp_search_optuna(trainer, n_trials: int, direction: str | list[str],
                         **kwargs: Any) -> BestRun | list[BestRun]:
    """Create (or load) the study and run ``n_trials`` trials of ``trainer.train``."""
    optuna = _import_optuna()

    def _objective(trial):
        trainer.objective = None
        trainer.train(trial=trial)
        if getattr(trainer, "objective", None) is None:  # no evaluation during training
            metrics = trainer.evaluate()
            trainer.objective = trainer.compute_objective(metrics)
        return trainer.objective

    optimize_kwargs = {k: kwargs.pop(k) for k in ("timeout", "n_jobs", "gc_after_trial", "catch",
                                                  "callbacks") if k in kwargs}
    if optimize_kwargs.get("n_jobs", 1) != 1:
        raise ValueError("n_jobs must be 1: the trials share one Trainer (run several "
                         "processes on a shared `storage` to search in parallel)")
    directions = direction if isinstance(direction, list) else None
    direction = None if directions is not None else direction
    if kwargs.get("storage") is not None:
        kwargs.setdefault("load_if_exists", True)
    study = optuna.create_study(direction=direction, directions=directions, **kwargs)
    study.optimize(_objective, n_trials=n_trials, **optimize_kwargs)
    if not study._is_multi_objective():
        best = study.best_trial
        return BestRun(str(best.number), best.value, best.params)
    return [BestRun(str(b.number), b.values, b.params) for b in study.best_trials]


def hyperparameter_search(trainer, hp_space: Callable | None = None,
                          compute_objective: Callable[[dict[str, float]], float] | None = None,
                          n_trials: int = 20, direction: str | list[str] = "minimize",
                          backend: str | HPSearchBackend | None = "optuna",
                          hp_name: Callable | None = None, storage: Any = None,
                          study_name: str | None = None,
                          **kwargs: Any) -> BestRun | list[BestRun]:
    """See ``Trainer.hyperparameter_search``."""
    backend = HPSearchBackend(backend if backend is not None else "optuna")
    if backend not in _IMPLEMENTED:
        raise NotImplementedError(f"hyperparameter_search(backend={backend.value!r}) is not "
                                  "implemented in ember; available: "
                                  f"{[b.value for b in _IMPLEMENTED]}")
    _import_optuna()
    if trainer.model_init is None:
        raise RuntimeError("To use hyperparameter search, you need to pass your model through a "
                           "model_init function.")
    trainer.hp_search_backend = backend
    trainer.hp_space = default_hp_space_optuna if hp_space is None else hp_space
    trainer.hp_name = hp_name
    trainer.compute_objective = (default_compute_objective if compute_objective is None
                                 else compute_objective)
    saved_args = dict(vars(trainer.args))
    saved_batch_size = trainer._train_batch_size
    trainer._hp_search_output_dir = trainer.args.output_dir
    state_cb = _TrialStateCallback(trainer)
    trainer.callback_handler.callbacks.insert(0, state_cb)
    try:
        return run_hp_search_optuna(trainer, n_trials, direction, storage=storage,
                                    study_name=study_name, **kwargs)
    finally:
        trainer.callback_handler.remove_callback(state_cb)
        vars(trainer.args).clear()
        vars(trainer.args).update(saved_args)
        trainer._train_batch_size = saved_batch_size
        trainer._hp_search_output_dir = None
        trainer.hp_search_backend = None
        trainer._trial = None
