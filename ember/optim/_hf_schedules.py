"""The ``transformers.optimization`` schedule helpers (``get_*_schedule*``, ``get_scheduler``):
``LambdaLR`` schedules with the same lambdas, so values match transformers' exactly.

Re-exported from ``ember.optim.lr_scheduler``. The lambdas are module-level functions bound with
``functools.partial`` so the schedulers' state dicts stay picklable.
"""
from __future__ import annotations

import math
from functools import partial

from .lr_scheduler import LambdaLR
from .optimizer import Optimizer

__all__ = [
    "SCHEDULER_NAMES", "get_constant_schedule", "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup", "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup", "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup", "get_polynomial_decay_schedule_with_warmup",
    "get_scheduler",
]


def _warmup(step: int, num_warmup_steps: int) -> float:
    return float(step) / float(max(1, num_warmup_steps))


def _constant(_=None) -> float:
    return 1


def _constant_warmup(step: int, *, num_warmup_steps: int) -> float:
    if step < num_warmup_steps:
        return float(step) / float(max(1.0, num_warmup_steps))
    return 1.0


def _linear(step: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    return max(0.0, float(num_training_steps - step)
               / float(max(1, num_training_steps - num_warmup_steps)))


def _cosine(step: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float,
            min_lr_rate: float | None = None) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    progress = float(step - num_warmup_steps) / float(max(1, num_training_steps
                                                          - num_warmup_steps))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    if min_lr_rate is None:
        return max(0.0, factor)
    return max(0, factor * (1 - min_lr_rate) + min_lr_rate)


def _cosine_hard_restarts(step: int, *, num_warmup_steps: int, num_training_steps: int,
                          num_cycles: int) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    progress = float(step - num_warmup_steps) / float(max(1, num_training_steps
                                                          - num_warmup_steps))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def _polynomial(step: int, *, num_warmup_steps: int, num_training_steps: int, lr_end: float,
                power: float, lr_init: float) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    if step > num_training_steps:
        return lr_end / lr_init  # LambdaLR multiplies by lr_init
    lr_range = lr_init - lr_end
    decay_steps = num_training_steps - num_warmup_steps
    pct_remaining = 1 - (step - num_warmup_steps) / decay_steps
    return (lr_range * pct_remaining ** power + lr_end) / lr_init


def _inverse_sqrt(step: int, *, num_warmup_steps: int, timescale: int) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    shift = timescale - num_warmup_steps
    return 1.0 / math.sqrt((step + shift) / timescale)


def get_constant_schedule(optimizer: Optimizer, last_epoch: int = -1) -> LambdaLR:
    """A constant learning rate (the optimizer's)."""
    return LambdaLR(optimizer, _constant, last_epoch=last_epoch)


def get_constant_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                      last_epoch: int = -1) -> LambdaLR:
    """Linear warmup from 0 over ``num_warmup_steps``, then constant."""
    fn = partial(_constant_warmup, num_warmup_steps=num_warmup_steps)
    return LambdaLR(optimizer, fn, last_epoch=last_epoch)


def get_linear_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                    num_training_steps: int, last_epoch: int = -1) -> LambdaLR:
    """Linear warmup, then linear decay to 0 at ``num_training_steps``."""
    fn = partial(_linear, num_warmup_steps=num_warmup_steps,
                 num_training_steps=num_training_steps)
    return LambdaLR(optimizer, fn, last_epoch)


def get_cosine_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                    num_training_steps: int, num_cycles: float = 0.5,
                                    last_epoch: int = -1) -> LambdaLR:
    """Linear warmup, then cosine decay (``num_cycles=0.5``: a half wave down to 0)."""
    fn = partial(_cosine, num_warmup_steps=num_warmup_steps,
                 num_training_steps=num_training_steps, num_cycles=num_cycles)
    return LambdaLR(optimizer, fn, last_epoch)


def get_cosine_with_hard_restarts_schedule_with_warmup(
        optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
        num_cycles: int = 1, last_epoch: int = -1) -> LambdaLR:
    """Linear warmup, then ``num_cycles`` cosine decays, each restarting at the base lr."""
    fn = partial(_cosine_hard_restarts, num_warmup_steps=num_warmup_steps,
                 num_training_steps=num_training_steps, num_cycles=num_cycles)
    return LambdaLR(optimizer, fn, last_epoch)


def get_polynomial_decay_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                              num_training_steps: int, lr_end: float = 1e-7,
                                              power: float = 1.0,
                                              last_epoch: int = -1) -> LambdaLR:
    """Linear warmup, then polynomial decay from the optimizer's default lr to ``lr_end``."""
    lr_init = optimizer.defaults["lr"]
    if not lr_init > lr_end:
        raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_init})")
    fn = partial(_polynomial, num_warmup_steps=num_warmup_steps,
                 num_training_steps=num_training_steps, lr_end=lr_end, power=power,
                 lr_init=lr_init)
    return LambdaLR(optimizer, fn, last_epoch)


def get_inverse_sqrt_schedule(optimizer: Optimizer, num_warmup_steps: int,
                              timescale: int | None = None, last_epoch: int = -1) -> LambdaLR:
    """Linear warmup, then ``1 / sqrt((step + shift) / timescale)``."""
    if timescale is None:
        timescale = num_warmup_steps or 10_000
    fn = partial(_inverse_sqrt, num_warmup_steps=num_warmup_steps, timescale=timescale)
    return LambdaLR(optimizer, fn, last_epoch=last_epoch)


def get_cosine_with_min_lr_schedule_with_warmup(
        optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
        num_cycles: float = 0.5, last_epoch: int = -1, min_lr: float | None = None,
        min_lr_rate: float | None = None) -> LambdaLR:
    """Cosine decay (after warmup) to ``min_lr``, or to ``min_lr_rate`` times the lr."""
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        min_lr_rate = min_lr / optimizer.defaults["lr"]
    elif min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set through the "
                         "`lr_scheduler_kwargs`")
    fn = partial(_cosine, num_warmup_steps=num_warmup_steps,
                 num_training_steps=num_training_steps, num_cycles=num_cycles,
                 min_lr_rate=min_lr_rate)
    return LambdaLR(optimizer, fn, last_epoch)


_BY_NAME = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
}
SCHEDULER_NAMES = tuple(_BY_NAME)
_NOT_SUPPORTED = ("reduce_lr_on_plateau", "cosine_warmup_with_min_lr", "warmup_stable_decay",
                  "greedy")


def get_scheduler(name: str, optimizer: Optimizer, num_warmup_steps: int | None = None,
                  num_training_steps: int | None = None,
                  scheduler_specific_kwargs: dict | None = None) -> LambdaLR:
    """A schedule by its transformers name (``"linear"``, ``"cosine"``, ``"constant"``, ...; see
    ``SCHEDULER_NAMES``), with transformers' argument requirements."""
    name = getattr(name, "value", name)  # a transformers SchedulerType works too
    if name in _NOT_SUPPORTED:
        raise NotImplementedError(f"the {name!r} schedule is not implemented in ember; "
                                  f"available: {list(SCHEDULER_NAMES)}")
    if name not in _BY_NAME:
        raise ValueError(f"{name} is not a valid SchedulerType, please select one of "
                         f"{list(SCHEDULER_NAMES)}")
    fn = _BY_NAME[name]
    if name == "constant":
        return fn(optimizer)
    kwargs = scheduler_specific_kwargs or {}
    if num_warmup_steps is None:
        raise ValueError(f"{name} requires `num_warmup_steps`, please provide that argument.")
    if name == "constant_with_warmup":
        return fn(optimizer, num_warmup_steps=num_warmup_steps)
    if name == "inverse_sqrt":
        return fn(optimizer, num_warmup_steps=num_warmup_steps, **kwargs)
    if num_training_steps is None:
        raise ValueError(f"{name} requires `num_training_steps`, please provide that argument.")
    return fn(optimizer, num_warmup_steps=num_warmup_steps,
              num_training_steps=num_training_steps, **kwargs)
