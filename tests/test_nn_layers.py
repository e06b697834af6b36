"""ember.nn layers and ember.nn.init against torch.nn: reprs, parameter names and shapes, default
initialisation distributions, outputs and gradients with copied weights, errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn as tnn
from harness import assert_close, compare_module_grads, copy_module_weights, rand, randn

import ember
import ember.nn as enn
from ember.nn import init

DTYPES = ["float32", "float64"]
TOL = {"float32": 2e-5, "float64": 1e-10}


def pair(name, *args, dtype="float32", **kw):
    """The same layer built by both libraries, ember's holding torch's weights."""
    torch.manual_seed(0)
    t = getattr(tnn, name)(*args, **kw).to(getattr(torch, dtype))
    e = getattr(enn, name)(*args, **kw).to(dtype)
    copy_module_weights(e, t)
    return e, t


def run_both(e, t, inputs, dtype, grad_inputs=True, seed=7):
    """Forward both modules, backpropagate one random cotangent, compare outputs and all
    gradients."""
    tol = TOL[dtype]
    e_in = [ember.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in inputs]
    t_in = [torch.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in inputs]
    eo, to = e(*e_in), t(*t_in)
    assert_close(eo, to, tol, tol, "output")
    c = randn(*to.shape, dtype=str(to.detach().numpy().dtype), seed=seed)
    eo.backward(ember.tensor(c))
    to.backward(torch.tensor(c))
    compare_module_grads(e, t, tol, tol)
    for a, b in zip(e_in, t_in):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert_close(a.grad, b.grad, tol, tol, "input grad")


# ---------------------------------------------------------------------------- init
@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                      ("tanh", None), ("relu", None), ("leaky_relu", None),
                                      ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain(nl, param):
    assert init.calculate_gain(nl, param) == tnn.init.calculate_gain(nl, param)


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3), (6, 3, 2, 2), (2, 4, 1, 3, 5)])
def test_fans_equal_torch(shape):
    t = torch.empty(shape)
    assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
        tnn.init._calculate_fan_in_and_fan_out(t)
    for mode in ("fan_in", "fan_out", "FAN_OUT"):
        assert init._calculate_correct_fan(ember.empty(*shape), mode) == \
            tnn.init._calculate_correct_fan(t, mode)


def test_init_errors():
    for fn in (lambda i: i.xavier_uniform_(ember.empty(5) if i is init else torch.empty(5)),
               lambda i: i.calculate_gain("swish"),
               lambda i: i.calculate_gain("leaky_relu", True),
               lambda i: i.kaiming_normal_(ember.empty(3, 4) if i is init else torch.empty(3, 4),
                                           mode="fan_avg"),
               lambda i: i.eye_(ember.empty(2, 2, 2) if i is init else torch.empty(2, 2, 2)),
               lambda i: i.orthogonal_(ember.empty(4) if i is init else torch.empty(4))):
        with pytest.raises(ValueError) as te:
            fn(tnn.init)
        with pytest.raises(ValueError) as ee:
            fn(init)
        assert str(ee.value) == str(te.value)


def _stats(t):
    a = t.data.astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


@pytest.mark.parametrize("fn,kw,mean,std,lo,hi", [
    ("uniform_", {"a": -2.0, "b": 3.0}, 0.5, 5 / math.sqrt(12), -2.0, 3.0),
    ("normal_", {"mean": 1.0, "std": 0.5}, 1.0, 0.5, None, None),
    ("xavier_uniform_", {"gain": 2.0}, 0.0, 2 * math.sqrt(2 / (400 + 300)),
     -2 * math.sqrt(6 / 700), 2 * math.sqrt(6 / 700)),
    ("xavier_normal_", {}, 0.0, math.sqrt(2 / 700), None, None),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, 0.0, 1 / math.sqrt(3 * 400), -1 / 20, 1 / 20),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, 0.0, math.sqrt(2 / 300),
     -math.sqrt(6 / 300), math.sqrt(6 / 300)),
    ("kaiming_normal_", {}, 0.0, math.sqrt(2 / (1 + 1e-4)) / 20, None, None),
    ("trunc_normal_", {"std": 0.02, "a": -0.04, "b": 0.04}, 0.0, 0.02 * 0.879626, -0.04, 0.04),
    # N(3, 1) on [0, 1] (the uniform-proposal path): moments from scipy.stats.truncnorm
    ("trunc_normal_", {"mean": 3.0, "std": 1.0, "a": 0.0, "b": 1.0}, 0.684179, 0.248034, 0.0,
     1.0),
])
def test_random_init_distributions(fn, kw, mean, std, lo, hi):
    w = enn.Parameter(ember.empty(300, 400))  # fan_in 400, fan_out 300; 120k samples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trunc_normal_ warns for a mean far outside [a, b]
        out = getattr(init, fn)(w, **kw)
    assert out is w and w.requires_grad and w.grad_fn is None
    m, s, mn, mx = _stats(w)
    assert abs(m - mean) < 5 * std / math.sqrt(w.numel()) + 1e-12
    assert abs(s / std - 1) < 0.02
    if lo is not None:
        assert lo <= mn and mx <= hi and mn < lo + 0.01 * (hi - lo) and mx > hi - 0.01 * (hi - lo)


def test_deterministic_inits_and_generator():
    w = enn.Parameter(ember.empty(3, 5))
    assert init.eye_(w) is w
    np.testing.assert_array_equal(w.data, torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    np.testing.assert_array_equal(init.constant_(w, 0.25).data, np.full((3, 5), 0.25))
    assert not init.zeros_(w).data.any() and (init.ones_(w).data == 1).all()
    for shape, groups in (((4, 3, 3), 1), ((6, 2, 3, 3), 2), ((2, 2, 1, 3, 3), 1)):
        np.testing.assert_array_equal(init.dirac_(ember.empty(*shape), groups).data,
                                      tnn.init.dirac_(torch.empty(shape), groups).numpy())
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    a = init.normal_(ember.empty(4, 4), generator=g1).data.copy()
    np.testing.assert_array_equal(a, init.normal_(ember.empty(4, 4), generator=g2).data)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(ember.empty(0, 3)).numel() == 0


@pytest.mark.parametrize("shape,gain", [((6, 4), 1.0), ((3, 8), 2.0), ((4, 2, 3), 0.5)])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(enn.Parameter(ember.empty(*shape, dtype=ember.float64)), gain=gain)
    m = w.data.reshape(shape[0], -1)
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, gain ** 2 * np.eye(small.shape[0]), atol=1e-12)


# ---------------------------------------------------------------------------- reprs, params
REPRS = [
    ("Identity", (3,), {}), ("Linear", (3, 4), {}), ("Linear", (3, 4), {"bias": False}),
    ("Embedding", (10, 3), {}), ("Embedding", (10, 3), {"padding_idx": -2, "max_norm": 1.0,
                                                        "norm_type": 1.0,
                                                        "scale_grad_by_freq": True}),
    ("LayerNorm", (5,), {}), ("LayerNorm", ([2, 3],), {"eps": 1e-6, "bias": False}),
    ("LayerNorm", (4,), {"elementwise_affine": False}), ("RMSNorm", (5,), {}),
    ("RMSNorm", ((2, 3),), {"eps": 1e-6, "elementwise_affine": False}),
    ("Dropout", (), {}), ("Dropout", (0.1, True), {}), ("CrossEntropyLoss", (), {}),
    ("NLLLoss", (), {}), ("MSELoss", (), {}), ("L1Loss", (), {}), ("SmoothL1Loss", (), {}),
    ("BCEWithLogitsLoss", (), {}), ("BCELoss", (), {}), ("KLDivLoss", (), {}),
    ("MultiheadAttention", (8, 2), {}),
    ("MultiheadAttention", (8, 2), {"bias": False, "add_bias_kv": True, "kdim": 5, "vdim": 3}),
]


@pytest.mark.parametrize("name,args,kw", REPRS)
def test_repr_and_parameters_match_torch(name, args, kw):
    t, e = getattr(tnn, name)(*args, **kw), getattr(enn, name)(*args, **kw)
    assert repr(e) == repr(t)
    tp = {k: tuple(v.shape) for k, v in t.named_parameters()}
    assert {k: tuple(v.shape) for k, v in e.named_parameters()} == tp
    assert list(e.state_dict()) == list(t.state_dict())
    copy_module_weights(e, t)  # a torch state_dict loads 1:1
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(e.state_dict()[k].data, v.numpy())


def test_default_initialisation():
    lin = enn.Linear(400, 300)
    b = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        _, s, mn, mx = _stats(p)
        assert -b <= mn and mx <= b and abs(s / (b / math.sqrt(3)) - 1) < 0.1
    emb = enn.Embedding(1000, 64, padding_idx=3)
    assert not emb.weight.data[3].any()
    m, s, _, _ = _stats(emb.weight)
    assert abs(m) < 0.02 and abs(s - 1) < 0.02
    ln = enn.LayerNorm(7)
    assert (ln.weight.data == 1).all() and not ln.bias.data.any()
    assert (enn.RMSNorm(7).weight.data == 1).all()
    mha = enn.MultiheadAttention(64, 4, add_bias_kv=True)
    a = math.sqrt(6 / (64 + 192))  # xavier on (3E, E)
    _, s, mn, mx = _stats(mha.in_proj_weight)
    assert -a <= mn and mx <= a and abs(s / (a / math.sqrt(3)) - 1) < 0.05
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    assert abs(_stats(mha.out_proj.weight)[3] - 1 / 8) < 0.01  # Linear's kaiming bound 1/sqrt(64)
    bk = np.concatenate([enn.MultiheadAttention(64, 4, add_bias_kv=True).bias_k.data.ravel()
                         for _ in range(40)])
    assert abs(bk.std() / math.sqrt(2 / 128) - 1) < 0.1  # xavier normal on (1, 1, E)
    assert lin.weight.dtype == np.float32
    assert enn.Linear(2, 3, dtype=ember.float64).weight.dtype == np.float64


# ---------------------------------------------------------------------------- simple layers
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_layers(dtype):
    for kw in ({}, {"bias": False}):
        e, t = pair("Linear", 4, 3, dtype=dtype, **kw)
        run_both(e, t, [randn(2, 5, 4, dtype=dtype)], dtype)
    e, t = pair("Identity", dtype=dtype)
    x = ember.tensor(randn(3))
    assert e(x) is x


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_layer(dtype):
    ids = np.array([[1, 5, 5], [0, 2, 5]])
    for kw in ({}, {"padding_idx": 5}, {"scale_grad_by_freq": True}):
        e, t = pair("Embedding", 6, 4, dtype=dtype, **kw)
        run_both(e, t, [ids], dtype)


def test_embedding_from_pretrained():
    w = randn(5, 3)
    for freeze in (True, False):
        e = enn.Embedding.from_pretrained(ember.tensor(w), freeze=freeze, padding_idx=1)
        t = tnn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=1)
        assert repr(e) == repr(t) and e.weight.requires_grad == t.weight.requires_grad
        np.testing.assert_array_equal(e.weight.data, w)  # padding row kept, as torch
    src = ember.tensor(w)
    e = enn.Embedding.from_pretrained(src)
    assert np.shares_memory(e.weight.data, src.data)
    with pytest.raises(AssertionError, match="2-dimensional"):
        enn.Embedding.from_pretrained(ember.tensor(randn(5)))
    with pytest.raises(AssertionError, match="Padding_idx"):
        enn.Embedding(4, 2, padding_idx=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_layers(dtype):
    x = randn(2, 3, 6, dtype=dtype) * 2 + 1
    for name, args, kw in (("LayerNorm", (6,), {}), ("LayerNorm", ((3, 6),), {"bias": False}),
                           ("LayerNorm", (6,), {"elementwise_affine": False, "eps": 1e-3}),
                           ("RMSNorm", (6,), {}), ("RMSNorm", ([3, 6],), {"eps": 1e-4})):
        e, t = pair(name, *args, dtype=dtype, **kw)
        with torch.no_grad():  # non-trivial affine parameters
            for p in t.parameters():
                p.add_(torch.tensor(randn(*p.shape, dtype=dtype, seed=9)))
        copy_module_weights(e, t)
        run_both(e, t, [x], dtype)


def test_dropout_layer():
    d = enn.Dropout(0.25)
    x = ember.tensor(np.ones((100, 100), np.float32))
    y = d(x)
    assert abs((y.data == 0).mean() - 0.25) < 0.02
    np.testing.assert_allclose(np.unique(y.data), [0.0, 1 / 0.75], rtol=1e-6)
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        enn.Dropout(1.2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_layers(dtype):
    x = randn(4, 5, dtype=dtype)
    t_idx = np.array([1, 4, -100, 0])
    w = rand(5, dtype=dtype, low=0.5, seed=2)
    cases = [
        ("CrossEntropyLoss", {}, t_idx), ("CrossEntropyLoss", {"label_smoothing": 0.1,
                                                                "reduction": "sum"}, t_idx),
        ("CrossEntropyLoss", {"weight": w, "ignore_index": 4}, np.array([1, 4, 2, 0])),
        ("NLLLoss", {"weight": w}, t_idx), ("MSELoss", {}, randn(4, 5, dtype=dtype, seed=3)),
        ("L1Loss", {"reduction": "none"}, randn(4, 5, dtype=dtype, seed=3)),
        ("SmoothL1Loss", {"beta": 0.5}, randn(4, 5, dtype=dtype, seed=3)),
        ("BCEWithLogitsLoss", {"pos_weight": w}, rand(4, 5, dtype=dtype, low=0, seed=3)),
        ("BCELoss", {"weight": w}, rand(4, 5, dtype=dtype, low=0, seed=3)),
        ("KLDivLoss", {"reduction": "batchmean", "log_target": True},
         randn(4, 5, dtype=dtype, seed=3)),
    ]
    for name, kw, target in cases:
        inp = 1 / (1 + np.exp(-x)) if name == "BCELoss" else x
        ekw = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        e, t = getattr(enn, name)(**ekw), getattr(tnn, name)(**tkw)
        assert list(e.state_dict()) == list(t.state_dict())  # weight buffers
        run_both(e, t, [inp, target], dtype)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert enn.MSELoss(size_average=False).reduction == "sum"


# ---------------------------------------------------------------------------- attention
def _mha_case(kw, fwd, dtype, self_attn, batched=True, L=4, S=6, N=3, seed=0):
    e, t = pair("MultiheadAttention", 8, 2, dtype=dtype, **kw)
    bf = kw.get("batch_first", False)

    def shp(n, d):
        return ((N, n, d) if bf else (n, N, d)) if batched else (n, d)
    q = randn(*shp(L, 8), dtype=dtype, seed=seed)
    ins = [q] if self_attn else [q, randn(*shp(S, kw.get("kdim", 8)), dtype=dtype, seed=1),
                                 randn(*shp(S, kw.get("vdim", 8)), dtype=dtype, seed=2)]
    eq = [ember.tensor(a, requires_grad=True) for a in ins]
    tq = [torch.tensor(a, requires_grad=True) for a in ins]
    ef = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fwd.items()}
    tf = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fwd.items()}
    eo, ew = e(*(eq * 3 if self_attn else eq), **ef)
    to, tw = t(*(tq * 3 if self_attn else tq), **tf)
    tol = TOL[dtype]
    assert_close(eo, to, tol, tol, "attn_output")
    assert (ew is None) == (tw is None)
    c = randn(*to.shape, dtype=dtype, seed=5)
    le, lt = (eo * ember.tensor(c)).sum(), (to * torch.tensor(c)).sum()
    if tw is not None:
        assert_close(ew, tw, tol, tol, "attn_weights")
        cw = randn(*tw.shape, dtype=dtype, seed=6)
        le, lt = le + (ew * ember.tensor(cw)).sum(), lt + (tw * torch.tensor(cw)).sum()
    le.backward()
    lt.backward()
    compare_module_grads(e, t, tol, tol)
    for a, b in zip(eq, tq):
        assert_close(a.grad, b.grad, tol, tol, "input grad")


MHA_KW = [{}, {"bias": False}, {"add_bias_kv": True}, {"add_zero_attn": True},
          {"batch_first": True}, {"kdim": 5, "vdim": 7},
          {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MHA_KW)
def test_mha(dtype, kw):
    L, S = 4, 6
    kpm = np.zeros((3, S), bool)
    kpm[0, -2:] = True
    for self_attn in (False, True) if "kdim" not in kw else (False,):
        s = L if self_attn else S
        for fwd in ({}, {"need_weights": False}, {"average_attn_weights": False},
                    {"key_padding_mask": kpm[:, :s]},
                    {"attn_mask": rand(L, s, seed=3) > 0.4, "need_weights": False},
                    {"attn_mask": randn(6, L, s, dtype=dtype, seed=4),
                     "key_padding_mask": kpm[:, :s].astype(dtype) * -1e4}):
            _mha_case(kw, fwd, dtype, self_attn, L=L, S=S)


def test_mha_causal_unbatched_and_fully_masked():
    causal = np.triu(np.ones((5, 5), bool), 1)
    for nw in (False, True):
        _mha_case({}, {"attn_mask": causal, "is_causal": True, "need_weights": nw}, "float64",
                  True, L=5)
    _mha_case({}, {}, "float64", False, batched=False)
    _mha_case({}, {"key_padding_mask": np.array([0, 0, 1, 0, 0, 0], bool)}, "float64", False,
              batched=False)
    # a query row with every key masked: NaN when weights are returned (torch's softmax) ...
    m = np.zeros((4, 6), bool)
    m[1] = True
    e, t = pair("MultiheadAttention", 8, 2, dtype="float64")
    q, k = randn(4, 2, 8, dtype="float64"), randn(6, 2, 8, dtype="float64", seed=1)
    eo, ew = e(ember.tensor(q), ember.tensor(k), ember.tensor(k), attn_mask=ember.tensor(m))
    to, tw = t(torch.tensor(q), torch.tensor(k), torch.tensor(k), attn_mask=torch.tensor(m))
    assert_close(eo, to, 1e-10, 1e-10)
    assert_close(ew, tw, 1e-10, 1e-10)
    assert np.isnan(eo.data[1]).all()
    # ... and zeros (then the output projection's bias) through the SDPA path
    eo, _ = e(ember.tensor(q), ember.tensor(k), ember.tensor(k), attn_mask=ember.tensor(m),
              need_weights=False)
    to, _ = t(torch.tensor(q), torch.tensor(k), torch.tensor(k), attn_mask=torch.tensor(m),
              need_weights=False)
    assert_close(eo, to, 1e-10, 1e-10)


def test_mha_dropout_train_vs_eval():
    e = enn.MultiheadAttention(8, 2, dropout=0.5)
    x = ember.tensor(randn(6, 2, 8))
    ember.manual_seed(0)
    a, wa = e(x, x, x, average_attn_weights=False)
    ember.manual_seed(1)
    b, _ = e(x, x, x)
    assert not np.allclose(a.data, b.data)
    frac = (wa.data == 0).mean()  # returned weights are after dropout, as torch
    assert 0.3 < frac < 0.7
    e.eval()
    c, wc = e(x, x, x, average_attn_weights=False)
    d, _ = e(x, x, x)
    np.testing.assert_array_equal(c.data, d.data)
    assert (wc.data > 0).all()
    np.testing.assert_allclose(wc.data.sum(-1), 1, rtol=1e-5)


def test_mha_errors():
    with pytest.raises(AssertionError, match="divisible by num_heads"):
        enn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        enn.MultiheadAttention(0, 2)
    e = enn.MultiheadAttention(8, 2)
    x = ember.tensor(randn(4, 2, 8))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        e(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        e(x, x, x, attn_mask=ember.tensor(np.zeros((4, 3), bool)))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        e(x, x, x, attn_mask=ember.tensor(np.zeros((3, 4, 4), bool)))
    with pytest.raises(AssertionError, match="only bool and floating"):
        e(x, x, x, attn_mask=ember.tensor(np.zeros((4, 4), np.int64)))
    with pytest.raises(AssertionError, match="embedding dimension of 8"):
        y = ember.tensor(randn(4, 2, 6))
        e(y, y, y)
    with pytest.raises(AssertionError, match="3-D"):
        e(x, ember.tensor(randn(4, 8)), ember.tensor(randn(4, 8)))
    o, w = e(x, x, x, average_attn_weights=False)  # backward needs these weights unchanged
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (o.sum() + w.sum()).backward()
