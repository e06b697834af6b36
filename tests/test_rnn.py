"""RNN / LSTM / GRU and their cells vs PyTorch with copied weights: outputs, final states, and
gradients of every parameter, the input and the initial states."""
import itertools
import warnings

import numpy as np
import pytest
import torch
from harness import (
    TOL,
    assert_close,
    check_raises,
    compare_module_grads,
    copy_module_weights,
    randn,
)

import ember


@pytest.fixture(autouse=True)
def _torch_one_thread():
    # torch's intra-op threads make its 2000-step recurrences 10-50x slower on a busy 2-core box
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


KINDS = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}),
         "LSTM": ("LSTM", {}), "GRU": ("GRU", {})}
T_, B_, I_, H_ = 5, 3, 4, 6


def _make(kind, dtype="float32", seed=0, **kw):
    cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    t = getattr(torch.nn, cls)(I_, H_, **extra, **kw)
    e = getattr(ember.nn, cls)(I_, H_, **extra, **kw)
    if dtype == "float64":
        t.double()
        e.double()
    copy_module_weights(e, t)
    return e, t


def _states(kind, n, batch, dtype, seed, hidden=H_, proj=0):
    """Initial states as ndarrays (a pair for LSTM), with batch None meaning unbatched."""
    shape = (n, hidden if not proj else proj) if batch is None else \
        (n, batch, hidden if not proj else proj)
    h = randn(*shape, dtype=dtype, seed=seed) * 0.5
    if kind != "LSTM":
        return h
    cshape = shape[:-1] + (hidden,)
    return h, randn(*cshape, dtype=dtype, seed=seed + 1) * 0.5


def _leaves(lib, arrs):
    conv = (lambda a: ember.tensor(a.copy(), requires_grad=True)) if lib is ember else \
        (lambda a: torch.from_numpy(a.copy()).requires_grad_())
    if arrs is None:
        return None
    if isinstance(arrs, tuple):
        return tuple(conv(a) for a in arrs)
    return conv(arrs)


def _flat(out):
    o, s = out
    return [o, *(s if isinstance(s, tuple) else (s,))]


def _compare(e, t, x, hx, dtype, tol=None):
    """Forward both modules, compare outputs and states, backprop the same cotangents and
    compare the gradients of parameters, input and initial states."""
    atol, rtol = tol or TOL[np.dtype(dtype)]
    xe, xt = _leaves(ember, x), _leaves(torch, x)
    he, ht = _leaves(ember, hx), _leaves(torch, hx)
    oe, ot = _flat(e(xe, he)), _flat(t(xt, ht))
    assert len(oe) == len(ot)
    for k, (a, b) in enumerate(zip(oe, ot)):
        assert a.dtype == np.dtype(dtype), f"output {k} dtype {a.dtype}"
        assert_close(a, b, atol, rtol, f"output {k}")
    cots = [randn(*b.shape, dtype=dtype, seed=10 + k) for k, b in enumerate(ot)]
    ember.autograd.backward(oe, [ember.tensor(c) for c in cots])
    torch.autograd.backward(ot, [torch.from_numpy(c) for c in cots])
    compare_module_grads(e, t, atol, rtol)
    assert_close(xe.grad, xt.grad, atol, rtol, "input grad")
    if hx is not None:
        for k, (a, b) in enumerate(zip(he if isinstance(he, tuple) else (he,),
                                       ht if isinstance(ht, tuple) else (ht,))):
            assert_close(a.grad, b.grad, atol, rtol, f"hx[{k}] grad")
    return oe, ot


GRID = list(itertools.product(KINDS, (1, 2), (False, True), (False, True), (False, True)))


@pytest.mark.parametrize("kind,layers,bidir,batch_first,with_hx", GRID,
                         ids=[f"{k}-L{n}-{'bi' if b else 'uni'}-{'bf' if f else 'tf'}-"
                              f"{'hx' if h else 'nohx'}" for k, n, b, f, h in GRID])
def test_recurrent_matches_torch(kind, layers, bidir, batch_first, with_hx):
    dtype = "float32"
    e, t = _make(kind, dtype, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x = randn(*((B_, T_, I_) if batch_first else (T_, B_, I_)), dtype=dtype, seed=1)
    hx = _states(kind, layers * (2 if bidir else 1), B_, dtype, 2) if with_hx else None
    _compare(e, t, x, hx, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidir", [False, True])
def test_recurrent_float64_matches_torch(kind, bidir):
    e, t = _make(kind, "float64", num_layers=2, bidirectional=bidir, batch_first=True)
    x = randn(B_, T_, I_, dtype="float64", seed=3)
    hx = _states(kind, 2 * (2 if bidir else 1), B_, "float64", 4)
    _compare(e, t, x, hx, "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(kind, with_hx, batch_first):
    e, t = _make(kind, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = randn(T_, I_, seed=5)
    hx = _states(kind, 4, None, "float32", 6) if with_hx else None
    oe, _ = _compare(e, t, x, hx, "float32")
    assert tuple(oe[0].shape) == (T_, 2 * H_) and tuple(oe[1].shape) == (4, H_)


@pytest.mark.parametrize("kind", KINDS)
def test_no_bias_matches_torch(kind):
    e, t = _make(kind, bias=False, num_layers=2)
    assert not any("bias" in n for n, _ in e.named_parameters())
    _compare(e, t, randn(T_, B_, I_, seed=7), None, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidir", [False, True])
def test_lstm_projection_matches_torch(dtype, bidir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: projections are not supported with oneDNN
        e, t = _make("LSTM", dtype, num_layers=2, bidirectional=bidir, proj_size=2)
        n = 2 * (2 if bidir else 1)
        _compare(e, t, randn(T_, B_, I_, dtype=dtype, seed=8),
                 _states("LSTM", n, B_, dtype, 9, proj=2), dtype)
    assert tuple(e.weight_hr_l1.shape) == (2, H_)


@pytest.mark.parametrize("kind", KINDS)
def test_non_contiguous_input_and_single_step(kind):
    e, t = _make(kind, num_layers=2)
    x = np.asarray(randn(B_, T_, I_, seed=11).transpose(1, 0, 2))  # (T, B, I), not contiguous
    _compare(e, t, x, None, "float32")
    _compare(e, t, randn(1, B_, I_, seed=12), None, "float32")  # sequence length 1


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch_matches_torch(kind):
    e, t = _make(kind, num_layers=2, bidirectional=True)
    oe, _ = _compare(e, t, randn(T_, 0, I_, seed=31), None, "float32")
    assert tuple(oe[0].shape) == (T_, 0, 2 * H_)


def test_relu_rnn_subgradient_at_zero_matches_torch():
    # zero weights and input: every pre-activation is exactly 0, where relu's gradient is 0
    e, t = _make("RNN_RELU", "float64")
    for m in (e, t):
        for p in m.parameters():
            with (torch.no_grad() if m is t else ember.no_grad()):
                p.zero_()
    _compare(e, t, np.zeros((T_, B_, I_)), None, "float64")


def test_parameter_names_shapes_and_repr_match_torch():
    configs = [("RNN", {"num_layers": 2, "nonlinearity": "relu", "bidirectional": True}),
               ("LSTM", {"num_layers": 3, "bias": False, "batch_first": True, "dropout": 0.25}),
               ("LSTM", {"proj_size": 3, "bidirectional": True}), ("GRU", {"num_layers": 2}),
               ("RNNCell", {"bias": False, "nonlinearity": "relu"}), ("LSTMCell", {}),
               ("GRUCell", {"bias": False})]
    for cls, kw in configs:
        t, e = getattr(torch.nn, cls)(5, 7, **kw), getattr(ember.nn, cls)(5, 7, **kw)
        assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert list(e.state_dict()) == list(t.state_dict())
        assert repr(e) == repr(t)
        if cls in ("RNN", "LSTM", "GRU"):
            assert [[tuple(p.shape) for p in g] for g in e.all_weights] == \
                [[tuple(p.shape) for p in g] for g in t.all_weights]


@pytest.mark.parametrize("cls", ["LSTM", "GRUCell"])
def test_init_is_uniform_in_plus_minus_one_over_sqrt_hidden(cls):
    m = getattr(ember.nn, cls)(16, 64)
    bound = 1 / np.sqrt(64)
    vals = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert vals.dtype == np.float32
    assert vals.min() >= -bound and vals.max() <= bound
    assert vals.min() < -0.95 * bound and vals.max() > 0.95 * bound
    assert abs(vals.std() - bound / np.sqrt(3)) < 0.05 * bound  # std of U(-b, b)
    assert abs(vals.mean()) < 0.05 * bound


def test_dtype_factory_kwarg_and_double():
    m = ember.nn.GRU(3, 4, dtype=ember.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    out, h = m(ember.zeros(2, 1, 3, dtype=ember.float64))
    assert out.dtype == np.float64 and h.dtype == np.float64
    m2 = ember.nn.LSTM(3, 4).double()
    out, (h, c) = m2(ember.zeros(2, 1, 3, dtype=ember.float64))
    assert out.dtype == h.dtype == c.dtype == np.float64


# ---------------------------------------------------------------------- dropout between layers
def test_full_dropout_between_layers_matches_torch_in_training():
    # p=1 zeroes the first layer's output, so the result is deterministic and comparable
    e, t = _make("LSTM", num_layers=2, dropout=1.0)
    _compare(e, t, randn(T_, B_, I_, seed=13), None, "float32")


def test_dropout_only_in_training_between_layers():
    e, t = _make("GRU", num_layers=2, dropout=0.5)
    x = randn(T_, B_, I_, seed=14)
    e.eval()
    t.eval()
    _compare(e, t, x, None, "float32")  # eval: no dropout, equal to torch
    e.train()
    ember.manual_seed(0)
    out_train, _ = e(ember.tensor(x))
    with ember.no_grad():
        out_eval, _ = e.eval()(ember.tensor(x))
    assert not np.allclose(out_train.data, out_eval.data)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ember.nn.RNN(2, 3, dropout=0.5)


# ---------------------------------------------------------------------- cells
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
@pytest.mark.parametrize("cls,kw", CELLS, ids=[f"{c}-{k}" for c, k in CELLS])
def test_cells_match_torch(cls, kw, with_hx, batched, dtype):
    torch.manual_seed(1)
    t = getattr(torch.nn, cls)(I_, H_, **kw)
    e = getattr(ember.nn, cls)(I_, H_, **kw, dtype=ember.float64 if dtype == "float64" else None)
    if dtype == "float64":
        t.double()
    copy_module_weights(e, t)
    atol, rtol = TOL[np.dtype(dtype)]
    x = randn(*((B_, I_) if batched else (I_,)), dtype=dtype, seed=15)
    kind = "LSTM" if cls == "LSTMCell" else "RNN"
    hx = None
    if with_hx:
        hx = _states(kind, B_, None, dtype, 16) if batched else \
            tuple(a[0] for a in _states(kind, 1, None, dtype, 16)) if kind == "LSTM" else \
            _states(kind, 1, None, dtype, 16)[0]
    xe, xt = _leaves(ember, x), _leaves(torch, x)
    he, ht = _leaves(ember, hx), _leaves(torch, hx)
    oe, ot = e(xe, he), t(xt, ht)
    oe = list(oe) if isinstance(oe, tuple) else [oe]
    ot = list(ot) if isinstance(ot, tuple) else [ot]
    cots = []
    for k, (a, b) in enumerate(zip(oe, ot)):
        assert_close(a, b, atol, rtol, f"output {k}")
        cots.append(randn(*b.shape, dtype=dtype, seed=20 + k))
    ember.autograd.backward(oe, [ember.tensor(c) for c in cots])
    torch.autograd.backward(ot, [torch.from_numpy(c) for c in cots])
    compare_module_grads(e, t, atol, rtol)
    assert_close(xe.grad, xt.grad, atol, rtol, "input grad")
    if with_hx:
        for a, b in zip(he if isinstance(he, tuple) else (he,),
                        ht if isinstance(ht, tuple) else (ht,)):
            assert_close(a.grad, b.grad, atol, rtol, "hx grad")


def test_cell_unrolled_equals_layer():
    # an LSTMCell unrolled by hand gives the LSTM layer's output (same weights)
    layer = ember.nn.LSTM(I_, H_)
    cell = ember.nn.LSTMCell(I_, H_)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = ember.tensor(randn(T_, B_, I_, seed=21))
    out, (_h_n, c_n) = layer(x)
    h = c = None
    for t in range(T_):
        h, c = cell(x[t], None if h is None else (h, c))
        assert_close(h, out[t], 1e-6, 1e-6, f"step {t}")
    assert_close(c, c_n[0], 1e-6, 1e-6, "c_n")


# ---------------------------------------------------------------------- gradcheck, long sequences
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH"])
def test_gradcheck_tiny(kind):
    cls, extra = KINDS[kind]
    m = getattr(ember.nn, cls)(2, 2, num_layers=2, bidirectional=True, dtype=ember.float64,
                               **extra)
    x = ember.tensor(randn(3, 2, 2, dtype="float64", seed=22), requires_grad=True)
    h0 = ember.tensor(randn(4, 2, 2, dtype="float64", seed=23) * 0.5, requires_grad=True)
    params = list(m.parameters())
    if kind == "LSTM":
        c0 = ember.tensor(randn(4, 2, 2, dtype="float64", seed=24) * 0.5, requires_grad=True)
        assert ember.autograd.gradcheck(lambda x, h, c, *p: _flat(m(x, (h, c))),
                                        [x, h0, c0, *params], atol=1e-7, rtol=1e-5)
    else:
        assert ember.autograd.gradcheck(lambda x, h, *p: _flat(m(x, h)), [x, h0, *params],
                                        atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell"])
def test_gradcheck_cells(cls):
    m = getattr(ember.nn, cls)(3, 2, dtype=ember.float64)
    x = ember.tensor(randn(2, 3, dtype="float64", seed=25), requires_grad=True)
    h = ember.tensor(randn(2, 2, dtype="float64", seed=26), requires_grad=True)
    if cls == "LSTMCell":
        c = ember.tensor(randn(2, 2, dtype="float64", seed=27), requires_grad=True)
        fn = lambda x, h, c, *p: list(m(x, (h, c)))
        inputs = [x, h, c, *m.parameters()]
    else:
        fn = lambda x, h, *p: m(x, h)
        inputs = [x, h, *m.parameters()]
    assert ember.autograd.gradcheck(fn, inputs, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_long_sequence_backprop(kind):
    # 2000 steps: thousands of graph nodes deep, no recursion; gradients still match torch
    e, t = _make(kind, "float64")
    x = randn(2000, 2, I_, dtype="float64", seed=28) * 0.5
    _compare(e, t, x, None, "float64", tol=(1e-9, 1e-7))


def test_no_grad_forward_equals_grad_forward():
    e, _ = _make("LSTM", num_layers=2, bidirectional=True)
    x = ember.tensor(randn(T_, B_, I_, seed=29))
    out, (_h, c) = e(x)
    with ember.no_grad():
        out2, (_h2, c2) = e(x)
    assert out2.grad_fn is None and not out2.requires_grad
    np.testing.assert_array_equal(out.data, out2.data)
    np.testing.assert_array_equal(c.data, c2.data)


def test_inplace_change_of_weight_after_forward_is_detected():
    e, _ = _make("LSTM")
    out, _ = e(ember.tensor(randn(T_, B_, I_, seed=30)))
    with ember.no_grad():
        e.weight_hh_l0.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---------------------------------------------------------------------- errors
def test_layer_input_errors_match_torch():
    def pair(kind, **kw):
        return _make(kind, **kw)

    e, t = pair("GRU")
    check_raises(e, t, [randn(T_, B_, I_, 1)], "Expected input to be 2D or 3D, got 4D")
    check_raises(e, t, [randn(T_, B_, I_ + 1)],
                 r"input.size\(-1\) must be equal to input_size. Expected 4, got 5")
    check_raises(e, t, [randn(0, B_, I_)], "Expected sequence length to be larger than 0")
    check_raises(e, t, [randn(T_, B_, I_, dtype="float64")],
                 r"input dtype \(ember.float64\) does not match weight dtype \(ember.float32\)")
    check_raises(e, t, [randn(T_, B_, I_), randn(1, B_ + 1, H_)],
                 r"Expected hidden size \(1, 3, 6\), got \[1, 4, 6\]")
    check_raises(e, t, [randn(T_, B_, I_), randn(2, B_, H_)],
                 r"Expected hidden size \(1, 3, 6\), got \[2, 3, 6\]")
    check_raises(e, t, [randn(T_, B_, I_), randn(B_, H_)],
                 "For batched 3-D input, hx should also be 3-D but got 2-D tensor")
    check_raises(e, t, [randn(T_, I_), randn(1, 1, H_)],
                 "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor")
    e, t = pair("LSTM")
    check_raises(lambda x, h, c: e(x, (h, c)), lambda x, h, c: t(x, (h, c)),
                 [randn(T_, B_, I_), randn(1, B_, H_), randn(1, B_, H_ + 1)],
                 r"Expected hidden\[1\] size \(1, 3, 6\), got \[1, 3, 7\]")
    check_raises(lambda x, h, c: e(x, (h, c)), lambda x, h, c: t(x, (h, c)),
                 [randn(T_, B_, I_), randn(1, 2, H_), randn(1, B_, H_)],
                 r"Expected hidden\[0\] size \(1, 3, 6\), got \[1, 2, 6\]")
    check_raises(lambda x, h, c: e(x, (h, c)), lambda x, h, c: t(x, (h, c)),
                 [randn(T_, B_, I_), randn(B_, H_), randn(1, B_, H_)],
                 r"hx and cx should also be 3-D but got \(2-D, 3-D\) tensors")
    check_raises(e, t, [randn(T_, B_, I_), randn(1, B_, H_)], "tuple")


def test_constructor_errors_match_torch():
    cases = [("RNN", (3, 4), {"nonlinearity": "sigmoid"}, ValueError, "Unknown nonlinearity"),
             ("LSTM", (3, 4), {"dropout": 1.5}, ValueError, "dropout should be a number"),
             ("GRU", (3, 0), {}, ValueError, "hidden_size must be greater than zero"),
             ("GRU", (3, 4), {"num_layers": 0}, ValueError, "num_layers must be greater"),
             ("LSTM", (3, 4), {"proj_size": 4}, ValueError, "proj_size has to be smaller"),
             ("LSTM", (3, 4), {"proj_size": -1}, ValueError, "proj_size should be a positive"),
             ("GRU", (3, 4), {"proj_size": 2}, ValueError, "only supported for LSTM"),
             ("LSTM", (3, 4.0), {}, TypeError, "hidden_size should be of type int")]
    for cls, args, kw, exc, match in cases:
        with pytest.raises(exc):
            getattr(torch.nn, cls)(*args, **kw)
        with pytest.raises(exc, match=match):
            getattr(ember.nn, cls)(*args, **kw)


def test_cell_errors_match_torch():
    torch.manual_seed(0)
    t, e = torch.nn.LSTMCell(I_, H_), ember.nn.LSTMCell(I_, H_)
    lstm = (lambda m: lambda x, h, c: m(x, (h, c)))
    check_raises(e, t, [randn(B_, I_ + 1)], "input has inconsistent input_size: got 5 expected 4")
    check_raises(lstm(e), lstm(t), [randn(B_, I_), randn(B_ + 1, H_), randn(B_, H_)],
                 "Input batch size 3 doesn't match hidden0 batch size 4")
    check_raises(lstm(e), lstm(t), [randn(B_, I_), randn(B_, H_), randn(B_, H_ + 1)],
                 "hidden1 has inconsistent hidden_size: got 7, expected 6")
    t, e = torch.nn.GRUCell(I_, H_), ember.nn.GRUCell(I_, H_)
    check_raises(e, t, [randn(2, B_, I_)], "GRUCell: Expected input to be 1D or 2D, got 3D")
    check_raises(e, t, [randn(B_, I_), randn(1, B_, H_)],
                 "GRUCell: Expected hidden to be 1D or 2D, got 3D")
    check_raises(e, t, [randn(I_), randn(2, H_)],
                 "hidden0 has inconsistent hidden_size: got 2, expected 6")
    t, e = torch.nn.RNNCell(I_, H_, nonlinearity="x"), ember.nn.RNNCell(I_, H_, nonlinearity="x")
    check_raises(e, t, [randn(B_, I_)], "Unknown nonlinearity: x")
