"""Optimizers and gradient clipping vs PyTorch: same start, same data, same loss, 20 steps."""
from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from harness import assert_close

import ember
from ember.nn import Module, Parameter
from ember.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(8, 5), (8,), (3, 8), (3,)]
STEPS = 20


def _data(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5)).astype(dtype)
    y = rng.standard_normal((16, 3)).astype(dtype)
    init = [(rng.standard_normal(s) * 0.5).astype(dtype) for s in SHAPES]
    return x, y, init


def _loss(ps, x, y, lib):
    """A 2-layer tanh MLP with mean squared error, in either engine."""
    w1, b1, w2, b2 = ps
    h = lib.tanh(x @ w1.t() + b1)
    return ((h @ w2.t() + b2 - y) ** 2).mean()


def _drop_grads(step, ps):
    """Leave some parameters without a gradient on some steps (skipped, as in torch)."""
    if step == 0:
        ps[3].grad = None  # b2 starts a step late: its step count lags the others
    if step % 3 == 1:
        ps[2].grad = None
    if step % 4 == 2:
        ps[1].grad = None


def _groups(ps, spec):
    if spec == "one":
        return ps
    return [{"params": ps[:2], "lr": 0.02, "weight_decay": 0.1},
            {"params": ps[2:]}]


class _Run:
    """One engine's parameters, optimizer and data."""

    def __init__(self, lib, opt_cls, kwargs, spec="one", dtype=np.float64, init=None):
        self.lib = lib
        x, y, init0 = _data(dtype)
        init = init0 if init is None else init
        if lib is ember:
            self.ps = [Parameter(a.copy()) for a in init]
            self.x, self.y = ember.tensor(x), ember.tensor(y)
        else:
            self.ps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
            self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.opt = opt_cls(_groups(self.ps, spec), **kwargs)

    def step(self, k):
        self.opt.zero_grad()
        _loss(self.ps, self.x, self.y, self.lib).backward()
        _drop_grads(k, self.ps)
        self.opt.step()

    def values(self):
        return [p.data.copy() if self.lib is ember else p.detach().numpy().copy()
                for p in self.ps]


SGD_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01, "maximize": True},
]
ADAM_CONFIGS = [
    {"lr": 0.01},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3, "amsgrad": True},  # eps large enough to matter
    {"lr": 0.01, "weight_decay": 0.05, "maximize": True, "amsgrad": True},
    {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-4},  # lerp weight >= 0.5: torch's other branch
]


def _compare(name, kwargs, spec, ember_kwargs=(), dtype=np.float64, rtol=1e-6, atol=1e-12):
    e = _Run(ember, getattr(ember.optim, name), {**kwargs, **dict(ember_kwargs)}, spec, dtype)
    t = _Run(torch, getattr(torch.optim, name), kwargs, spec, dtype)
    for k in range(STEPS):
        e.step(k)
        t.step(k)
        for i, (a, b) in enumerate(zip(e.values(), t.values())):
            assert_close(a, b, atol, rtol, f"{name} step {k} param {i}")
    return e, t


@pytest.mark.parametrize("spec", ["one", "groups"])
@pytest.mark.parametrize("kwargs", SGD_CONFIGS, ids=str)
def test_sgd_matches_torch(kwargs, spec):
    e, t = _compare("SGD", kwargs, spec)
    for pe, pt in zip(e.ps, t.ps):
        assert set(e.opt.state[pe]) == set(t.opt.state[pt])


@pytest.mark.parametrize("fused", [None, False], ids=["flat", "per-tensor"])
@pytest.mark.parametrize("spec", ["one", "groups"])
@pytest.mark.parametrize("kwargs", ADAM_CONFIGS, ids=str)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_matches_torch(name, kwargs, spec, fused):
    e, t = _compare(name, kwargs, spec, {"fused": fused})
    for pe, pt in zip(e.ps, t.ps):
        se, st = e.opt.state[pe], t.opt.state[pt]
        assert set(se) == set(st)
        assert float(se["step"].item()) == float(st["step"].item())
        for key in se:
            if key != "step":
                assert_close(se[key], st[key], 1e-12, 1e-6, key)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.01, "amsgrad": True}),
                                         ("AdamW", {"lr": 0.01})])
def test_float32_stays_float32(name, kwargs):
    e, _ = _compare(name, kwargs, "groups", dtype=np.float32, rtol=2e-4, atol=2e-6)
    for p in e.ps:
        assert p.dtype == np.float32
        assert p.grad is None or p.grad.dtype == np.float32
        for key, v in e.opt.state[p].items():
            if key != "step":
                assert v.dtype == np.float32, key
    if name != "SGD":
        assert e.opt.state[e.ps[0]]["step"].dtype == np.float32  # torch's step dtype


# ---------------------------------------------------------------- state dicts
RESUME = [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
          ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, None),
          ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, False),
          ("AdamW", {"lr": 0.01}, None),
          ("AdamW", {"lr": 0.01}, False)]


@pytest.mark.parametrize("name,kwargs,fused", RESUME)
def test_resume_from_state_dict_is_exact(name, kwargs, fused):
    kw = kwargs if name == "SGD" else {**kwargs, "fused": fused}
    cls = getattr(ember.optim, name)
    full = _Run(ember, cls, kw, "groups")
    for k in range(STEPS):
        full.step(k)

    first = _Run(ember, cls, kw, "groups")
    for k in range(STEPS // 2):
        first.step(k)
    saved = pickle.loads(pickle.dumps(first.opt.state_dict()))
    weights = first.values()
    first.step(STEPS // 2)  # training on must not leak into what was saved

    second = _Run(ember, cls, kw, "groups", init=weights)
    second.opt.load_state_dict(saved)
    for k in range(STEPS // 2, STEPS):
        second.step(k)
    for a, b in zip(second.values(), full.values()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.01, "amsgrad": True}),
                                         ("AdamW", {"lr": 0.01, "weight_decay": 0.2})])
def test_state_dict_layout_and_torch_checkpoint(name, kwargs):
    e = _Run(ember, getattr(ember.optim, name), kwargs, "groups")
    t = _Run(torch, getattr(torch.optim, name), kwargs, "groups")
    for k in range(STEPS // 2):
        e.step(k)
        t.step(k)
    se, st = e.opt.state_dict(), t.opt.state_dict()
    assert set(se) == {"state", "param_groups"}
    assert set(se["state"]) == set(st["state"])
    for i in st["state"]:
        assert set(se["state"][i]) == set(st["state"][i])
        for key, v in st["state"][i].items():
            assert isinstance(se["state"][i][key], ember.Tensor)
            assert_close(se["state"][i][key], v, 1e-12, 1e-6, key)
    for ge, gt in zip(se["param_groups"], st["param_groups"]):
        assert set(ge) == set(gt)
        for key in gt:
            assert ge[key] == gt[key], key

    # a torch checkpoint loads into ember and training continues identically
    resumed = _Run(ember, getattr(ember.optim, name), kwargs, "groups", init=t.values())
    resumed.opt.load_state_dict(st)
    for k in range(STEPS // 2, STEPS):
        resumed.step(k)
        t.step(k)
    for a, b in zip(resumed.values(), t.values()):
        assert_close(a, b, 1e-12, 1e-6)


def test_load_state_dict_errors():
    ps = [Parameter(np.zeros(s)) for s in SHAPES]
    tps = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in SHAPES]
    e_two, t_two = ember.optim.Adam(_groups(ps, "groups")), torch.optim.Adam(_groups(tps, "groups"))
    e_one, t_one = ember.optim.Adam(ps), torch.optim.Adam(tps)
    e_odd = ember.optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}])
    t_odd = torch.optim.Adam([{"params": tps[:1]}, {"params": tps[1:]}])
    for e_opt, t_opt, e_sd, t_sd in [(e_one, t_one, e_two.state_dict(), t_two.state_dict()),
                                     (e_odd, t_odd, e_two.state_dict(), t_two.state_dict())]:
        with pytest.raises(ValueError) as t_err:
            t_opt.load_state_dict(t_sd)
        with pytest.raises(ValueError) as e_err:
            e_opt.load_state_dict(e_sd)
        assert str(e_err.value) == str(t_err.value)
    # a state of the wrong shape is caught at load time, naming the key and shapes
    for p in ps:
        p.grad = ember.zeros_like(p)
    e_one.step()
    sd = e_one.state_dict()
    sd["state"][0]["exp_avg"] = ember.zeros(2, 2)
    with pytest.raises(ValueError, match=r"'exp_avg' of shape \[2, 2\].*\[8, 5\]"):
        ember.optim.Adam(ps).load_state_dict(sd)


# ---------------------------------------------------------------- validation and API
BAD_ARGS = [("SGD", {"lr": -1}), ("SGD", {"momentum": -0.5}), ("SGD", {"weight_decay": -1}),
            ("SGD", {"nesterov": True}), ("SGD", {"nesterov": True, "momentum": 0.9,
                                                         "dampening": 0.1}),
            ("Adam", {"lr": -1}), ("Adam", {"eps": -1e-8}), ("Adam", {"betas": (1.0, 0.9)}),
            ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -1}),
            ("Adam", {"betas": (0, 0.9)}), ("AdamW", {"lr": -0.5}),
            ("AdamW", {"betas": (0.9, 1.5)})]


@pytest.mark.parametrize("name,kwargs", BAD_ARGS, ids=str)
def test_argument_errors_match_torch(name, kwargs):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(ValueError) as e_err:
        getattr(ember.optim, name)([Parameter(np.zeros(2, np.float32))], **kwargs)
    assert str(e_err.value) == str(t_err.value)


def test_param_errors_match_torch():
    p, tp = Parameter(np.zeros(2, np.float32)), torch.nn.Parameter(torch.zeros(2))
    cases = [(lambda m, q: m.SGD([]), ValueError),
             (lambda m, q: m.SGD([{"params": [q]}, {"params": [q]}]), ValueError),
             (lambda m, q: m.SGD(q), TypeError),
             (lambda m, q: m.SGD([q, 3]), TypeError),
             (lambda m, q: m.SGD([{"params": {q}}]), TypeError),
             (lambda m, q: m.SGD([q * 2]), ValueError)]
    for make, exc in cases:
        with pytest.raises(exc) as t_err:
            make(torch.optim, tp)
        with pytest.raises(exc) as e_err:
            make(ember.optim, p)
        if exc is ValueError:
            assert str(e_err.value) == str(t_err.value)


def test_named_params_add_group_zero_grad_and_closure():
    e = _Run(ember, ember.optim.SGD, {"lr": 0.1}, "one")
    t = _Run(torch, torch.optim.SGD, {"lr": 0.1}, "one")
    named_e = ember.optim.SGD([("w", e.ps[0]), ("b", e.ps[1])], lr=0.1)
    assert named_e.param_groups[0]["param_names"] == ["w", "b"]
    named_e.add_param_group({"params": [("w2", e.ps[2])], "lr": 0.5})
    assert named_e.param_groups[1]["lr"] == 0.5 and named_e.param_groups[1]["momentum"] == 0

    for run in (e, t):
        def closure(run=run):
            run.opt.zero_grad()
            loss = _loss(run.ps, run.x, run.y, run.lib)
            loss.backward()
            return loss
        run.loss = run.opt.step(closure).item()
        run.grad0 = run.ps[0].grad
        run.opt.zero_grad(set_to_none=False)
    assert e.loss == pytest.approx(t.loss, rel=1e-12)
    assert e.ps[0].grad is e.grad0 and not np.any(e.ps[0].grad.data)
    assert_close(e.values()[0], t.values()[0], 1e-12, 1e-9)
    e.opt.zero_grad()
    assert all(p.grad is None for p in e.ps)


# ---------------------------------------------------------------- flat buffers
class _MLP(Module):
    def __init__(self, init):
        super().__init__()
        self.w1, self.b1, self.w2, self.b2 = (Parameter(a.copy()) for a in init)

    def forward(self, x):
        return ember.tanh(x @ self.w1.t() + self.b1) @ self.w2.t() + self.b2


@pytest.mark.parametrize("name,kwargs", [
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
])
def test_flat_path_equals_reference_path(name, kwargs):
    """Flat buffers vs per-tensor updates, bit for bit, through everything that can pull a
    parameter, gradient or state out of the buffers."""
    x, y, init = _data(np.float32)
    runs = []
    for fused in (None, False):
        model = _MLP(init)
        groups = [{"params": [model.w1, model.b1], "lr": 0.02},
                  {"params": [model.w2, model.b2], "weight_decay": 0.0}]
        opt = getattr(ember.optim, name)(groups, fused=fused, **kwargs)
        runs.append((model, opt))

    early = [None, None]
    for k in range(24):
        for i, (model, opt) in enumerate(runs):
            if k == 15:  # every parameter's data (and grad) replaced by a float64 copy,
                model.double()  # before backward: stale float32 grad buffers must be skipped
            ps = list(model.parameters())
            xx, yy = ember.tensor(x.astype(ps[0].dtype)), ember.tensor(y.astype(ps[0].dtype))
            opt.zero_grad(set_to_none=(k % 5 != 3))
            ((model(xx) - yy) ** 2).mean().backward()
            if k == 9:  # accumulate a second backward into the same grads
                ((model(xx) - yy) ** 2).sum().backward()
            _drop_grads(k, ps)
            if k == 4:  # a gradient set by the user, not a view of the flat buffer
                ps[0].grad = ember.tensor(np.full(SHAPES[0], 0.01, ps[0].dtype))
            if k == 6:  # data replaced, as load_state_dict(assign=True) does
                ps[2].data = ps[2].data.copy()
            if k == 8:  # resume into a fresh optimizer
                sd = copy.deepcopy(opt.state_dict())
                fresh = [{"params": g["params"]} for g in opt.param_groups]
                opt = type(opt)(fresh, fused=opt.defaults["fused"], **kwargs)
                opt.load_state_dict(sd)  # brings back the groups' own lr / weight_decay
                runs[i] = (model, opt)
            if k == 11:  # rewind the optimizer to its state after step 0, when b2 had none
                opt.load_state_dict(early[i])
            opt.step()
            if k == 0:
                early[i] = copy.deepcopy(opt.state_dict())
            if k == 1 and opt.defaults["fused"] is None:  # the fast path is really in use
                for group in (ps[:2], ps[2:]):  # one flat buffer per group
                    base, gbase = group[0].data.base, group[0]._grad_buffer.base
                    assert base is not None and all(p.data.base is base for p in group)
                    assert all(p._grad_buffer.base is gbase for p in group)
                    assert all(p.grad.data.base is gbase for p in group if p.grad is not None)
                st = opt.state[ps[0]]["exp_avg"]
                assert isinstance(st, ember.Tensor) and st.shape == SHAPES[0]
        (ma, oa), (mb, ob) = runs
        for pa, pb in zip(ma.parameters(), mb.parameters()):
            assert pa.dtype == pb.dtype
            np.testing.assert_array_equal(pa.data, pb.data, err_msg=f"step {k}")
            for key in oa.state[pa]:
                np.testing.assert_array_equal(oa.state[pa][key].data, ob.state[pb][key].data)
    assert next(runs[0][0].parameters()).dtype == np.float64
    assert runs[0][1].state[runs[0][0].w1]["exp_avg"].dtype == np.float64


# ---------------------------------------------------------------- gradient clipping
def _grads(dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype)
            for s in [(40, 30), (30,), (7, 3, 5), (1,), (12,)]]


def _clip_pair(grads, drop=(3,)):
    ep, tp = [], []
    for i, g in enumerate(grads):
        e = Parameter(np.zeros_like(g))
        t = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
        if i not in drop:
            e.grad = ember.tensor(g.copy())
            t.grad = torch.from_numpy(g.copy())
        ep.append(e)
        tp.append(t)
    return ep, tp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, "inf", 3.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ep, tp = _clip_pair(_grads(dtype))
    e_norm = clip_grad_norm_(ep, max_norm, norm_type=norm_type)
    t_norm = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert isinstance(e_norm, ember.Tensor) and e_norm.shape == () and e_norm.dtype == dtype
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    assert_close(e_norm, t_norm, 0, rtol, "total norm")
    for e, t in zip(ep, tp):
        assert (e.grad is None) == (t.grad is None)
        if e.grad is not None:
            assert_close(e.grad, t.grad, 1e-7, rtol, "clipped grad")


@pytest.mark.parametrize("subset", [False, True])
def test_clip_grad_norm_on_flat_optimizer_storage_matches_torch(subset):
    """Gradients living in an optimizer's flat buffer are scaled in one pass over it; clipping
    only some of them (or listing one twice) takes the per-tensor path."""
    grads = _grads(np.float32)
    ep = [Parameter(np.zeros_like(g)) for g in grads]
    opt = ember.optim.AdamW(ep, lr=0.0)
    for p in ep:
        p.grad = ember.tensor(np.ones_like(p.data))
    opt.step()  # moves parameters into flat storage
    opt.zero_grad()
    sum((e * ember.tensor(g)).sum() for e, g in zip(ep, grads)).backward()  # grads: g, in there
    assert all(e.grad.data.base is opt._flat[0].grad for e in ep)
    tp = []
    for g in grads:
        t = torch.nn.Parameter(torch.zeros(g.shape))
        t.grad = torch.from_numpy(g.copy())
        tp.append(t)
    pick = slice(1, None) if subset else slice(None)
    extra = [ep[1]] if subset else []
    e_norm = clip_grad_norm_(ep[pick] + extra, 0.5)
    t_norm = torch.nn.utils.clip_grad_norm_(tp[pick] + ([tp[1]] if subset else []), 0.5)
    assert_close(e_norm, t_norm, 0, 2e-6, "total norm")
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad, 1e-7, 2e-6, "clipped grad")


def test_clip_grad_norm_single_tensor_empty_and_mixed_dtypes():
    ep, tp = _clip_pair(_grads(np.float32)[:1], drop=())
    assert_close(clip_grad_norm_(ep[0], 1.0), torch.nn.utils.clip_grad_norm_(tp[0], 1.0),
                 0, 2e-6)
    assert_close(ep[0].grad, tp[0].grad, 1e-7, 2e-6)
    empty = clip_grad_norm_([], 1.0)
    assert_close(empty, torch.nn.utils.clip_grad_norm_([], 1.0), 0, 0)
    assert empty.dtype == np.float32
    g32, g64 = _grads(np.float32)[0], _grads(np.float64, seed=1)[1]
    ep, tp = _clip_pair([g32, g64], drop=())
    e_norm, t_norm = clip_grad_norm_(ep, 0.1), torch.nn.utils.clip_grad_norm_(tp, 0.1)
    assert e_norm.dtype == np.float64 and ep[0].grad.dtype == np.float32
    assert_close(e_norm, t_norm, 0, 1e-6)
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad, 1e-8, 2e-6)


def test_clip_grad_norm_nonfinite():
    grads = _grads(np.float32)
    grads[0][3, 4] = np.nan
    ep, tp = _clip_pair(grads)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as e_err:
        clip_grad_norm_(ep, 1.0, error_if_nonfinite=True)
    assert str(e_err.value) == str(t_err.value)
    grads = _grads(np.float32)
    grads[2][0, 1, 2] = np.inf
    for norm_type in (2.0, math.inf):
        ep, tp = _clip_pair(grads)
        e_norm = clip_grad_norm_(ep, 1.0, norm_type=norm_type)
        t_norm = torch.nn.utils.clip_grad_norm_(tp, 1.0, norm_type=norm_type)
        assert_close(e_norm, t_norm, 0, 0)
        for e, t in zip(ep, tp):
            if e.grad is not None:
                assert_close(e.grad, t.grad, 0, 0)  # zeros, and NaN where inf * 0


def test_clip_grad_value_matches_torch():
    ep, tp = _clip_pair(_grads(np.float32))
    assert clip_grad_value_(ep, 0.3) is None
    torch.nn.utils.clip_grad_value_(tp, 0.3)
    for e, t in zip(ep, tp):
        if e.grad is not None:
            assert_close(e.grad, t.grad, 0, 0)


def test_step_hooks_run_once_per_step():
    calls = []

    class Scaled(ember.optim.SGD):
        def step(self, closure=None):
            calls.append("step")
            return super().step(closure)

    p = Parameter(np.ones(2, np.float32))
    opt = Scaled([p], lr=0.5)
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    p.grad = ember.ones(2)
    opt.step()
    pre.remove()
    opt.step()
    assert calls == ["pre", "step", "post", "step", "post"]
    np.testing.assert_array_equal(p.data, np.zeros(2, np.float32))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_complex_parameters_match_torch(name):
    rng = np.random.default_rng(3)
    shape = (4, 3)
    start = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)
    grads = [(rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)
             for _ in range(6)]
    kwargs = {"lr": 0.05, "weight_decay": 0.1}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    e, t = Parameter(start.copy()), torch.nn.Parameter(torch.from_numpy(start.copy()))
    e_opt = getattr(ember.optim, name)([e], **kwargs)
    t_opt = getattr(torch.optim, name)([t], **kwargs)
    for g in grads:
        e.grad, t.grad = ember.tensor(g.copy()), torch.from_numpy(g.copy())
        e_opt.step()
        t_opt.step()
    np.testing.assert_allclose(e.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
