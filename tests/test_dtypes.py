"""No op upcasts float32 to float64, forward or backward.

Every Function subclass is instrumented: a call whose float inputs are all float32 must return
float32 outputs, and every gradient a backward returns must already have its input's dtype (the
engine casts a float64 gradient back, which would hide a 2x-5x slowdown). The op tables of
test_ops, and a set of nn.functional calls, then run in float32 under that instrumentation.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.autograd.function import Function
from ember.autograd.ops.convert import Cast

import test_ops


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


class Upcast(AssertionError):
    pass


@pytest.fixture
def strict_dtypes(monkeypatch):
    for cls in set(_subclasses(Function)):
        if cls is Cast or "forward" not in cls.__dict__:
            continue
        fwd, bwd = cls.__dict__["forward"], cls.__dict__.get("backward")

        def forward(ctx, *arrays, _fwd=fwd, _cls=cls, **kw):
            out = _fwd(ctx, *arrays, **kw)
            floats = {a.dtype for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f"}
            if floats == {np.dtype(np.float32)}:
                for o in out if isinstance(out, tuple) else (out,):
                    if isinstance(o, np.ndarray) and o.dtype == np.float64:
                        raise Upcast(f"{_cls.__name__}.forward upcast float32 to float64")
            return out

        def backward(ctx, *grads, _bwd=bwd, _cls=cls):
            res = _bwd(ctx, *grads)
            res_t = res if isinstance(res, tuple) else (res,)
            for g, meta in zip(res_t, ctx.in_meta):
                dtype = getattr(g, "dtype", None)  # an ndarray or a RowsGrad
                if g is not None and meta is not None and meta[1] == np.float32 \
                        and dtype != np.float32:
                    raise Upcast(f"{_cls.__name__}.backward returned {dtype} for a float32 input")
            return res

        monkeypatch.setattr(cls, "forward", forward)
        if bwd is not None:
            monkeypatch.setattr(cls, "backward", backward)
    yield


def test_instrumentation_catches_an_upcast(strict_dtypes):
    class Bad(Function):
        def forward(ctx, x):
            return x * np.float64(2.0)  # a NumPy float64 scalar is not weak: it upcasts

        def backward(ctx, g):
            return g

    # Bad was defined after the fixture instrumented the existing classes: instrument it here
    cls_forward = Bad.forward

    def forward(ctx, x):
        out = cls_forward(ctx, x)
        if x.dtype == np.float32 and out.dtype == np.float64:
            raise Upcast("caught")
        return out

    Bad.forward = forward
    with pytest.raises(Upcast):
        Bad.apply(ember.ones(2))


TABLES = [(case[0], case[1], case[3] if len(case) > 3 else (-2.0, 2.0), 1)
          for case in test_ops.UNARY]
TABLES += [(case[0], case[1], case[3] if len(case) > 3 else (-2.0, 2.0), 2)
           for case in test_ops.BINARY]
TABLES += [(case[0], case[1], (-2.0, 2.0), 1) for case in test_ops.REDUCTIONS + test_ops.SHAPE_OPS]


@pytest.mark.parametrize("case", TABLES, ids=[c[0] for c in TABLES])
def test_ops_stay_float32(case, strict_dtypes):
    name, fn, (low, high), n_in = case
    rng = np.random.default_rng(0)
    shapes = [(3, 4, 5), (4, 5)][:n_in]
    xs = [ember.tensor(rng.uniform(low, high, s).astype(np.float32), requires_grad=True)
          for s in shapes]
    out = fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    floats = [o for o in outs if isinstance(o, ember.Tensor) and o.dtype.kind == "f"]
    assert all(o.dtype == np.float32 for o in floats), [o.dtype for o in floats]
    if floats and floats[0].requires_grad:
        ember.autograd.backward(floats[0], ember.ones_like(floats[0]))
        for x in xs:
            assert x.grad is None or x.grad.dtype == np.float32


def test_python_and_numpy_scalars_do_not_upcast(strict_dtypes):
    x = ember.ones(3, requires_grad=True)
    for s in (2.5, np.float64(2.5), np.float32(2.5), 3, np.int64(3)):
        for y in (x + s, x * s, x / s, x - s, s - x, s / x, x ** 2, x.clamp(-s, s),
                  ember.where(x > 0, x, s), x.masked_fill(x > 0, s)):
            assert y.dtype == np.float32
            y.sum().backward()
    assert x.grad.dtype == np.float32


def _nn_cases():
    nn, F = ember.nn, ember.nn.functional
    rng = np.random.default_rng(0)

    def t(*shape, low=-1.0, high=1.0):
        return ember.tensor(rng.uniform(low, high, shape).astype(np.float32), requires_grad=True)

    ids = ember.tensor(rng.integers(0, 10, (4, 5)))
    q, k, v = t(2, 3, 5, 8), t(2, 3, 6, 8), t(2, 3, 6, 8)
    return {
        "linear": lambda: F.linear(t(4, 6), t(3, 6), t(3)),
        "layer_norm": lambda: F.layer_norm(t(4, 6), (6,), t(6), t(6)),
        "rms_norm": lambda: F.rms_norm(t(4, 6), (6,), t(6)),
        "cross_entropy": lambda: F.cross_entropy(t(4, 10), ids[:, 0], label_smoothing=0.1),
        "cross_entropy_probs": lambda: F.cross_entropy(t(4, 10), t(4, 10, low=0).softmax(-1)),
        "nll_loss": lambda: F.nll_loss(t(4, 10).log_softmax(-1), ids[:, 0]),
        "mse_l1_smooth": lambda: F.mse_loss(t(4, 3), t(4, 3)) + F.l1_loss(t(4, 3), t(4, 3))
        + F.smooth_l1_loss(t(4, 3), t(4, 3)),
        "bce": lambda: F.binary_cross_entropy_with_logits(t(4, 3), t(4, 3, low=0))
        + F.binary_cross_entropy(t(4, 3).sigmoid(), t(4, 3, low=0)),
        "kl_div": lambda: F.kl_div(t(4, 3).log_softmax(-1), t(4, 3).softmax(-1),
                                   reduction="batchmean"),
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "sdpa_mask_dropout": lambda: F.scaled_dot_product_attention(
            q, k, v, attn_mask=ember.ones(5, 6, dtype=ember.bool).tril(), dropout_p=0.2),
        "embedding": lambda: F.embedding(ids, t(10, 4), padding_idx=0),
        "dropout": lambda: F.dropout(t(4, 6), 0.3),
        "conv1d": lambda: F.conv1d(t(2, 3, 9), t(4, 3, 3), t(4), padding=1),
        "conv2d": lambda: F.conv2d(t(2, 4, 7, 7), t(6, 2, 3, 3), t(6), stride=2, groups=2),
        "pools": lambda: F.max_pool2d(t(2, 3, 6, 6), 2).sum() + F.avg_pool2d(t(2, 3, 6, 6), 3)
        .sum() + F.adaptive_avg_pool2d(t(2, 3, 6, 6), 2).sum(),
        "lstm": lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True)(t(6, 3, 4))[0],
        "gru": lambda: nn.GRU(4, 5, batch_first=True)(t(3, 6, 4))[0],
        "rnn": lambda: nn.RNN(4, 5, nonlinearity="relu")(t(6, 3, 4))[0],
        "mha": lambda: nn.MultiheadAttention(8, 2, batch_first=True)(t(2, 5, 8), t(2, 6, 8),
                                                                     t(2, 6, 8))[0],
        "activations": lambda: nn.Mish()(t(4)) + nn.Hardtanh()(t(4)) + nn.ReLU6()(t(4))
        + nn.GELU("tanh")(t(4)) + F.logsigmoid(t(4)),
    }


NN_CASES = _nn_cases()


@pytest.mark.parametrize("name", sorted(NN_CASES))
def test_nn_functional_and_layers_stay_float32(name, strict_dtypes):
    out = NN_CASES[name]()
    assert out.dtype == np.float32
    ember.autograd.backward(out, ember.ones_like(out))
