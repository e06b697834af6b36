"""LR schedules vs torch.optim.lr_scheduler and transformers' schedule helpers: the learning
rates (and cycled momenta) of every step must be equal, float for float."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
import transformers
from transformers import optimization as hf

import ember
from ember.nn import Parameter
from ember.optim import lr_scheduler as E

T = torch.optim.lr_scheduler
STEPS = 35


def _optimizers(kind="sgd"):
    """The same two-group optimizer in each engine."""
    ep = [Parameter(np.zeros(3, np.float32)), Parameter(np.zeros(2, np.float32))]
    tp = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]
    if kind == "sgd":
        def make(mod, ps):
            return mod.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}], lr=0.1,
                           momentum=0.9)
    else:
        def make(mod, ps):
            return mod.AdamW([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}], lr=0.1)
    return make(ember.optim, ep), make(torch.optim, tp)


def _trace(opt, sched, steps=STEPS):
    """lr, momentum and betas of each group after each step, plus get_last_lr()."""
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((list(sched.get_last_lr()),
                    [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]))
    return out


SCHEDULES = {
    "lambda": lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e),
    "lambda_per_group": lambda L, o: L.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e]),
    "multiplicative": lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97),
    "step": lambda L, o: L.StepLR(o, step_size=4, gamma=0.5),
    "multistep": lambda L, o: L.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.3),
    "exponential": lambda L, o: L.ExponentialLR(o, gamma=0.9),
    "cosine": lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "cosine_long": lambda L, o: L.CosineAnnealingLR(o, T_max=30),
    "linear": lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8),
    "constant": lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=6),
    "polynomial": lambda L, o: L.PolynomialLR(o, total_iters=12, power=2.0),
    "sequential": lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=5),
                                                  L.CosineAnnealingLR(o, T_max=20)], [5]),
    "sequential3": lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.3, total_iters=4),
                                                   L.ExponentialLR(o, 0.8),
                                                   L.StepLR(o, 3, 0.5)], [4, 12]),
    "chained": lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, 0.95),
                                                L.StepLR(o, 5, 0.5)]),
    "onecycle": lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=40),
    "onecycle_linear3": lambda L, o: L.OneCycleLR(o, max_lr=0.3, epochs=4, steps_per_epoch=9,
                                                  anneal_strategy="linear", three_phase=True,
                                                  pct_start=0.25),
}


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name, kind):
    eo, to = _optimizers(kind)
    es, ts = SCHEDULES[name](E, eo), SCHEDULES[name](T, to)
    assert es.get_last_lr() == ts.get_last_lr()
    assert _trace(eo, es) == _trace(to, ts)


@pytest.mark.parametrize("name", ["lambda", "multiplicative", "step", "cosine", "sequential",
                                  "onecycle", "chained", "polynomial"])
def test_state_dict_resume_and_torch_checkpoint(name):
    eo, to = _optimizers()
    es, ts = SCHEDULES[name](E, eo), SCHEDULES[name](T, to)
    full = _trace(eo, es)
    ref = _trace(to, ts, 10)

    eo2, _ = _optimizers()
    es2 = SCHEDULES[name](E, eo2)
    head = _trace(eo2, es2, 10)
    saved_s, saved_o = copy.deepcopy(es2.state_dict()), copy.deepcopy(eo2.state_dict())
    if name != "chained":  # ChainedScheduler keeps only its children's state
        assert set(saved_s) == set(ts.state_dict())  # torch's keys, so checkpoints interchange
    eo3, _ = _optimizers()
    es3 = SCHEDULES[name](E, eo3)
    eo3.load_state_dict(saved_o)
    es3.load_state_dict(saved_s)
    assert head + _trace(eo3, es3, STEPS - 10) == full

    # torch's optimizer and scheduler state dicts load into ember and continue identically
    eo4, _ = _optimizers()
    es4 = SCHEDULES[name](E, eo4)
    eo4.load_state_dict(to.state_dict())
    es4.load_state_dict(ts.state_dict())
    assert ref + _trace(eo4, es4, STEPS - 10) == ref + _trace(to, ts, STEPS - 10)


@pytest.mark.parametrize("name", ["step", "multistep", "exponential", "cosine", "linear",
                                  "constant", "polynomial"])
def test_step_with_epoch_uses_closed_form(name):
    eo, to = _optimizers()
    es, ts = SCHEDULES[name](E, eo), SCHEDULES[name](T, to)
    for epoch in [3, 7, 4, 20, 11]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            es.step(epoch)
        assert any("epoch parameter" in str(w.message) for w in caught)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts.step(epoch)
        assert es.get_last_lr() == ts.get_last_lr()


@pytest.mark.parametrize("name", ["step", "cosine", "exponential", "linear"])
def test_resume_with_last_epoch(name):
    eo, to = _optimizers()
    for o in (eo, to):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"] * 2
    es, ts = SCHEDULES[name](E, eo), SCHEDULES[name](T, to)  # noqa: F841 (fresh, then resumed)
    make = {"step": lambda L, o: L.StepLR(o, 4, 0.5, last_epoch=6),
            "cosine": lambda L, o: L.CosineAnnealingLR(o, 10, 0.001, last_epoch=6),
            "exponential": lambda L, o: L.ExponentialLR(o, 0.9, last_epoch=6),
            "linear": lambda L, o: L.LinearLR(o, 0.5, 1.0, 10, last_epoch=6)}[name]
    assert _trace(eo, make(E, eo)) == _trace(to, make(T, to))


def test_resume_without_initial_lr_and_bad_arguments():
    eo, to = _optimizers()
    for make in [lambda L, o: L.StepLR(o, 3, last_epoch=4),
                 lambda L, o: L.ConstantLR(o, factor=1.5),
                 lambda L, o: L.LinearLR(o, start_factor=0),
                 lambda L, o: L.LinearLR(o, end_factor=1.5),
                 lambda L, o: L.OneCycleLR(o, max_lr=0.1),
                 lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=2.0),
                 lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="x"),
                 lambda L, o: L.OneCycleLR(o, max_lr=[0.1], total_steps=10),
                 lambda L, o: L.LambdaLR(o, [lambda e: 1.0]),
                 lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)], [3]),
                 lambda L, o: L.StepLR(object(), 3)]:
        with pytest.raises(Exception) as t_err:
            make(T, to)
        with pytest.raises(type(t_err.value)) as e_err:
            make(E, eo)
        assert str(e_err.value) == str(t_err.value).replace("torch", "ember")


def test_onecycle_past_total_steps_raises():
    eo, to = _optimizers()
    es = E.OneCycleLR(eo, max_lr=0.1, total_steps=3)
    ts = T.OneCycleLR(to, max_lr=0.1, total_steps=3)
    for _ in range(3):
        eo.step()
        to.step()
        es.step()
        ts.step()
    with pytest.raises(ValueError) as t_err:
        ts.step()
    with pytest.raises(ValueError) as e_err:
        es.step()
    assert str(e_err.value) == str(t_err.value)


def test_warns_when_scheduler_steps_before_optimizer():
    eo, _ = _optimizers()
    es = E.StepLR(eo, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        es.step()


# ---------------------------------------------------------------- transformers helpers
HF = [
    ("get_constant_schedule", {}),
    ("get_constant_schedule_with_warmup", {"num_warmup_steps": 7}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 5, "num_training_steps": 30}),
    ("get_linear_schedule_with_warmup", {"num_warmup_steps": 0, "num_training_steps": 20}),
    ("get_cosine_schedule_with_warmup", {"num_warmup_steps": 5, "num_training_steps": 30}),
    ("get_cosine_schedule_with_warmup", {"num_warmup_steps": 3, "num_training_steps": 25,
                                             "num_cycles": 1.5}),
    ("get_cosine_with_hard_restarts_schedule_with_warmup",
     {"num_warmup_steps": 4, "num_training_steps": 30, "num_cycles": 3}),
    ("get_polynomial_decay_schedule_with_warmup",
     {"num_warmup_steps": 4, "num_training_steps": 25, "lr_end": 1e-3, "power": 2.0}),
    ("get_polynomial_decay_schedule_with_warmup", {"num_warmup_steps": 2,
                                                       "num_training_steps": 20}),
    ("get_inverse_sqrt_schedule", {"num_warmup_steps": 6}),
    ("get_inverse_sqrt_schedule", {"num_warmup_steps": 3, "timescale": 9}),
    ("get_cosine_with_min_lr_schedule_with_warmup", {"num_warmup_steps": 4,
                                                         "num_training_steps": 30, "min_lr": 1e-3}),
    ("get_cosine_with_min_lr_schedule_with_warmup", {"num_warmup_steps": 4,
                                                         "num_training_steps": 30,
                                                         "min_lr_rate": 0.1}),
]


@pytest.mark.parametrize("fn,kwargs", HF, ids=lambda x: x if isinstance(x, str) else str(x))
def test_transformers_helpers_match(fn, kwargs):
    eo, to = _optimizers("adamw")
    es, ts = getattr(E, fn)(eo, **kwargs), getattr(hf, fn)(to, **kwargs)
    assert es.get_last_lr() == ts.get_last_lr()
    assert _trace(eo, es, 40) == _trace(to, ts, 40)


@pytest.mark.parametrize("name,kwargs", [
    ("linear", {}), ("cosine", {}), ("cosine_with_restarts", {}), ("polynomial", {}),
    ("constant", {}), ("constant_with_warmup", {}), ("inverse_sqrt", {}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.05}), ("polynomial", {"power": 3.0}),
    ("cosine", {"num_cycles": 0.75})])
def test_get_scheduler_matches_transformers(name, kwargs):
    eo, to = _optimizers("adamw")
    es = E.get_scheduler(name, eo, 6, 30, scheduler_specific_kwargs=kwargs)
    ts = transformers.get_scheduler(name, to, 6, 30, scheduler_specific_kwargs=kwargs)
    assert _trace(eo, es, 40) == _trace(to, ts, 40)


def test_get_scheduler_errors_and_hf_state_dict_round_trip():
    eo, to = _optimizers("adamw")
    for args in [("linear", None, 10), ("cosine", 3, None), ("constant_with_warmup", None)]:
        with pytest.raises(ValueError) as t_err:
            transformers.get_scheduler(args[0], to, *args[1:])
        with pytest.raises(ValueError) as e_err:
            E.get_scheduler(args[0], eo, *args[1:])
        # transformers names the enum member (SchedulerType.LINEAR); ember the plain name
        assert str(e_err.value) == str(t_err.value).replace(
            f"SchedulerType.{args[0].upper()}", args[0])
    with pytest.raises(ValueError, match="not a valid SchedulerType"):
        E.get_scheduler("cosine_annealing", eo, 1, 10)
    with pytest.raises(ValueError) as t_err:
        hf.get_polynomial_decay_schedule_with_warmup(to, 1, 10, lr_end=1.0)
    with pytest.raises(ValueError) as e_err:
        E.get_polynomial_decay_schedule_with_warmup(eo, 1, 10, lr_end=1.0)
    assert str(e_err.value) == str(t_err.value)

    es = E.get_cosine_schedule_with_warmup(eo, 5, 30)
    head = _trace(eo, es, 12)
    saved = copy.deepcopy(es.state_dict())
    tail = _trace(eo, es, 10)
    eo2, _ = _optimizers("adamw")
    eo2.load_state_dict(eo.state_dict())
    es2 = E.get_cosine_schedule_with_warmup(eo2, 5, 30)
    es2.load_state_dict(saved)
    for g, lr in zip(eo2.param_groups, head[-1][0]):
        g["lr"] = lr  # the optimizer was saved later than the scheduler
    assert _trace(eo2, es2, 10) == tail
