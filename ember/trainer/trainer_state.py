"""``TrainerState`` (what a run has done so far, saved as ``trainer_state.json`` in each
checkpoint) and ``TrainerControl`` (the switches callbacks flip), with transformers' fields, names
and JSON layout, so a state file written by either library loads in the other.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ExportableState", "TrainerControl", "TrainerState"]


class ExportableState:
    """Mixin for callbacks whose state is saved in ``trainer_state.json`` (``stateful_callbacks``)
    and restored with ``restore_callback_states_from_checkpoint=True``.

    ``state()`` returns ``{"args": {...constructor kwargs...}, "attributes": {...}}``, plain JSON.
    """

    def state(self) -> dict:
        raise NotImplementedError("You must implement a `state` function to utilize this class.")

    @classmethod
    def from_state(cls, state: dict):
        instance = cls(**state["args"])
        for k, v in state["attributes"].items():
            setattr(instance, k, v)
        return instance


@dataclass
class TrainerState:
    """The Trainer's progress. One step is one optimizer update (``gradient_accumulation_steps``
    forward/backward passes); ``epoch`` is fractional during training."""

    epoch: float = 0
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: int | None = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: list[dict[str, float]] = None  # type: ignore[assignment]
    best_metric: float | None = None
    best_global_step: int | None = None
    best_model_checkpoint: str | None = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    is_hyper_param_search: bool = False
    trial_name: str | None = None
    trial_params: dict[str, str | float | int | bool] | None = None
    stateful_callbacks: Any = None  # list of ExportableState on creation, a dict once loaded

    def __post_init__(self) -> None:
        if self.log_history is None:
            self.log_history = []
        if self.stateful_callbacks is None:
            self.stateful_callbacks = {}
        elif not isinstance(self.stateful_callbacks, dict):
            states: dict[str, Any] = {}
            for cb in self.stateful_callbacks:
                if not isinstance(cb, ExportableState):
                    raise TypeError("All callbacks passed to be saved must inherit "
                                    f"`ExportableState`, but received {type(cb)}")
                name = type(cb).__name__
                if name in states:  # several callbacks of one class: a list of states
                    if not isinstance(states[name], list):
                        states[name] = [states[name]]
                    states[name].append(cb.state())
                else:
                    states[name] = cb.state()
            self.stateful_callbacks = states

    def to_json_string(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    def save_to_json(self, json_path: str) -> None:
        """Write the state as JSON (transformers' layout: sorted keys, indent 2)."""
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    @classmethod
    def load_from_json(cls, json_path: str) -> TrainerState:
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # newer files may add keys

    def compute_steps(self, args, max_steps: int) -> None:
        """Absolute logging/eval/save steps: a value < 1 is a ratio of ``max_steps``."""
        for kind in ("logging", "eval", "save"):
            num_steps = getattr(args, f"{kind}_steps")
            if num_steps is not None:
                if num_steps < 1:
                    num_steps = math.ceil(max_steps * num_steps)
                setattr(self, f"{kind}_steps", num_steps)

    def init_training_references(self, trainer, max_steps: int, num_train_epochs: int,
                                 trial=None) -> None:
        self.trial_params = dict(trial) if isinstance(trial, dict) else None
        self.max_steps = max_steps
        self.num_train_epochs = num_train_epochs
        self.is_local_process_zero = True
        self.is_world_process_zero = True


@dataclass
class TrainerControl(ExportableState):
    """Switches read by the training loop. ``should_training_stop`` stays set; the epoch flag is
    reset at each epoch, the save/evaluate/log flags at each step."""

    should_training_stop: bool = False
    should_epoch_stop: bool = False
    should_save: bool = False
    should_evaluate: bool = False
    should_log: bool = False

    def _new_training(self) -> None:
        self.should_training_stop = False

    def _new_epoch(self) -> None:
        self.should_epoch_stop = False

    def _new_step(self) -> None:
        self.should_save = False
        self.should_evaluate = False
        self.should_log = False

    def state(self) -> dict:
        return {"args": {"should_training_stop": self.should_training_stop,
                         "should_epoch_stop": self.should_epoch_stop,
                         "should_save": self.should_save,
                         "should_evaluate": self.should_evaluate,
                         "should_log": self.should_log},
                "attributes": {}}
