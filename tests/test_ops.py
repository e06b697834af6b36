"""Every autograd op, forward and gradient, against PyTorch (float32 and float64)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from harness import check, check_raises, rand

DTYPES = ["float32", "float64"]


def _inputs(shapes, dtype, low=-2.0, high=2.0, seed=0):
    return [rand(*s, dtype=dtype, seed=seed + i, low=low, high=high) for i, s in enumerate(shapes)]


# (name, ember fn, torch fn, shapes, (low, high))
UNARY = [
    ("neg", lambda x: -x, lambda x: -x),
    ("abs", ember.abs, torch.abs),
    ("exp", ember.exp, torch.exp),
    ("log", ember.log, torch.log, (0.1, 3.0)),
    ("log1p", ember.log1p, torch.log1p, (-0.9, 3.0)),
    ("expm1", ember.expm1, torch.expm1),
    ("sqrt", ember.sqrt, torch.sqrt, (0.1, 3.0)),
    ("rsqrt", ember.rsqrt, torch.rsqrt, (0.1, 3.0)),
    ("sin", ember.sin, torch.sin),
    ("cos", ember.cos, torch.cos),
    ("tanh", ember.tanh, torch.tanh),
    ("sigmoid", ember.sigmoid, torch.sigmoid, (-30.0, 30.0)),
    ("relu", ember.relu, torch.relu),
    ("gelu", ember.gelu, torch.nn.functional.gelu, (-6.0, 6.0)),
    ("gelu_tanh", lambda x: ember.gelu(x, approximate="tanh"),
     lambda x: torch.nn.functional.gelu(x, approximate="tanh"), (-6.0, 6.0)),
    ("silu", ember.silu, torch.nn.functional.silu, (-10.0, 10.0)),
    ("softplus", ember.softplus, torch.nn.functional.softplus, (-30.0, 30.0)),
    ("softplus_beta", lambda x: ember.softplus(x, beta=2.0, threshold=5.0),
     lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=5.0), (-5.0, 5.0)),
    ("leaky_relu", lambda x: ember.leaky_relu(x, 0.2),
     lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
    ("elu", ember.elu, torch.nn.functional.elu),
    ("erf", ember.erf, torch.erf, (-4.0, 4.0)),
    ("square", ember.square, torch.square),
    ("reciprocal", ember.reciprocal, torch.reciprocal, (0.5, 2.0)),
    ("log2", ember.log2, torch.log2, (0.1, 3.0)),
    ("pow_scalar", lambda x: x ** 3, lambda x: x ** 3),
    ("pow_frac", lambda x: x ** 0.5, lambda x: x ** 0.5, (0.1, 3.0)),
    ("rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7)),
    ("clamp_min", lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1)),
    ("floor", ember.floor, torch.floor),
    ("sign", ember.sign, torch.sign),
    ("softmax", lambda x: x.softmax(-1), lambda x: x.softmax(-1)),
    ("softmax0", lambda x: ember.softmax(x, 0), lambda x: torch.softmax(x, 0)),
    ("log_softmax", lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1)),
    ("log_softmax0", lambda x: ember.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", UNARY, ids=[c[0] for c in UNARY])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (7,)])
def test_unary(case, dtype, shape):
    name, ef, tf = case[:3]
    low, high = case[3] if len(case) > 3 else (-2.0, 2.0)
    check(ef, tf, _inputs([shape], dtype, low, high))


def test_unary_noncontiguous():
    x = rand(4, 6)
    for ef, tf in [(ember.exp, torch.exp), (ember.tanh, torch.tanh), (ember.gelu,
                                                                       torch.nn.functional.gelu)]:
        check(lambda a: ef(a.T), lambda a: tf(a.T), [x])
        check(lambda a: ef(a[:, ::2]), lambda a: tf(a[:, ::2]), [x])


def test_unary_edge_values():
    x = np.array([0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0, 80.0, -80.0], dtype=np.float32)
    for ef, tf in [(ember.relu, torch.relu), (ember.abs, torch.abs), (ember.sigmoid,
                                                                      torch.sigmoid),
                   (ember.tanh, torch.tanh), (ember.silu, torch.nn.functional.silu),
                   (ember.softplus, torch.nn.functional.softplus),
                   (ember.gelu, torch.nn.functional.gelu)]:
        check(ef, tf, [x])
    check(ember.exp, torch.exp, [np.array([0.0, 88.0, -104.0], dtype=np.float32)])


BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b),
    ("sub", lambda a, b: a - b, lambda a, b: a - b),
    ("mul", lambda a, b: a * b, lambda a, b: a * b),
    ("div", lambda a, b: a / b, lambda a, b: a / b, (0.5, 2.0)),
    ("pow", lambda a, b: a ** b, lambda a, b: a ** b, (0.5, 2.0)),
    ("maximum", ember.maximum, torch.maximum),
    ("minimum", ember.minimum, torch.minimum),
    ("add_alpha", lambda a, b: ember.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5)),
    ("sub_alpha", lambda a, b: ember.sub(a, b, alpha=0.5), lambda a, b: torch.sub(a, b, alpha=0.5)),
    ("atan2_like", lambda a, b: (a * b).tanh() + a / (b * b + 1),
     lambda a, b: (a * b).tanh() + a / (b * b + 1)),
]

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((1, 4), (3, 1)),
                    ((5,), (2, 3, 5)), ((2, 1, 4), (1, 3, 1)), ((), (3, 2)), ((3, 2), ())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BINARY, ids=[c[0] for c in BINARY])
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_broadcast(case, dtype, shapes):
    name, ef, tf = case[:3]
    low, high = case[3] if len(case) > 3 else (-2.0, 2.0)
    check(ef, tf, _inputs(shapes, dtype, low, high))


@pytest.mark.parametrize("case", BINARY[:5], ids=[c[0] for c in BINARY[:5]])
def test_binary_python_scalars(case):
    _, ef, tf = case[:3]
    x = rand(3, 4, low=0.5, high=2.0)
    for s in (2, 0.5, -1.5):
        if case[0] == "pow" and s < 0:
            continue
        check(lambda a: ef(a, s), lambda a: tf(a, s), [x])
        check(lambda a: ef(s, a), lambda a: tf(s, a), [x])


def test_binary_ties_split_gradient():
    a = np.array([1.0, 2.0, 3.0, 2.0], dtype=np.float32)
    b = np.array([1.0, 1.0, 4.0, 2.0], dtype=np.float32)
    check(ember.maximum, torch.maximum, [a, b])
    check(ember.minimum, torch.minimum, [a, b])


def test_pow_zero_base_and_exponent():
    a = np.array([0.0, 0.0, 2.0, 1.5], dtype=np.float64)
    b = np.array([0.0, 2.0, 0.0, 1.5], dtype=np.float64)
    check(lambda x, y: x ** y, lambda x, y: x ** y, [a, b])
    check(lambda x: x ** 0, lambda x: x ** 0, [a])


def test_same_tensor_twice():
    x = rand(3, 4)
    check(lambda a: a * a + a / (a * a + 1), lambda a: a * a + a / (a * a + 1), [x])
    check(lambda a: a @ a.T, lambda a: a @ a.T, [x])


def test_where_masked_fill_clamp_tensor_bounds():
    x, y = rand(3, 4), rand(4, seed=1)
    cond = rand(3, 4, seed=2) > 0
    check(lambda a, b: ember.where(ember.tensor(cond), a, b),
          lambda a, b: torch.where(torch.from_numpy(cond), a, b), [x, y])
    check(lambda a: ember.where(ember.tensor(cond), a, 0.0),
          lambda a: torch.where(torch.from_numpy(cond), a, 0.0), [x])
    m = rand(4, seed=3) > 0
    check(lambda a: a.masked_fill(ember.tensor(m), -1e9),
          lambda a: a.masked_fill(torch.from_numpy(m), -1e9), [x])
    check(lambda a, v: a.masked_fill(ember.tensor(m), v),
          lambda a, v: a.masked_fill(torch.from_numpy(m), v), [x, np.array(0.5, np.float32)])
    lo, hi = rand(3, 4, seed=4) - 0.5, rand(4, seed=5) + 0.5
    check(lambda a, l_, h: ember.clamp(a, l_, h), lambda a, l_, h: torch.clamp(a, l_, h),
          [x, lo, hi])


def test_clamp_boundaries_pass_gradient():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=np.float32)
    check(lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [x])


REDUCTIONS = [
    ("sum", lambda x: x.sum(), lambda x: x.sum()),
    ("sum1", lambda x: x.sum(1), lambda x: x.sum(1)),
    ("sum_keep", lambda x: x.sum(-1, keepdim=True), lambda x: x.sum(-1, keepdim=True)),
    ("sum_dims", lambda x: x.sum((0, 2)), lambda x: x.sum((0, 2))),
    ("mean", lambda x: x.mean(), lambda x: x.mean()),
    ("mean1", lambda x: x.mean(1, keepdim=True), lambda x: x.mean(1, keepdim=True)),
    ("var", lambda x: x.var(), lambda x: x.var()),
    ("var1", lambda x: x.var(1), lambda x: x.var(1)),
    ("var_pop", lambda x: x.var(2, unbiased=False), lambda x: x.var(2, unbiased=False)),
    ("var_corr", lambda x: x.var((0, 1), correction=0, keepdim=True),
     lambda x: x.var((0, 1), correction=0, keepdim=True)),
    ("std", lambda x: x.std(), lambda x: x.std()),
    ("std0", lambda x: x.std(0, keepdim=True), lambda x: x.std(0, keepdim=True)),
    ("max", lambda x: x.max(), lambda x: x.max()),
    ("min", lambda x: x.min(), lambda x: x.min()),
    ("max1", lambda x: x.max(1), lambda x: x.max(1)),
    ("min_keep", lambda x: x.min(-1, keepdim=True), lambda x: x.min(-1, keepdim=True)),
    ("amax", lambda x: x.amax(1), lambda x: x.amax(1)),
    ("amin", lambda x: x.amin((0, 2)), lambda x: x.amin((0, 2))),
    ("logsumexp", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1)),
    ("logsumexp_k", lambda x: ember.logsumexp(x, (0, 2), keepdim=True),
     lambda x: torch.logsumexp(x, (0, 2), keepdim=True)),
    ("cumsum", lambda x: x.cumsum(1), lambda x: x.cumsum(1)),
    ("cumsum_neg", lambda x: x.cumsum(-1), lambda x: x.cumsum(-1)),
    ("prod", lambda x: x.prod(1), lambda x: x.prod(1)),
    ("prod_all", lambda x: x.prod(), lambda x: x.prod()),
    ("norm", lambda x: x.norm(), lambda x: x.norm()),
    ("norm_dim", lambda x: x.norm(dim=1), lambda x: x.norm(dim=1)),
    ("norm1", lambda x: x.norm(p=1, dim=-1), lambda x: x.norm(p=1, dim=-1)),
    ("argmax", lambda x: x.argmax(1), lambda x: x.argmax(1)),
    ("argmin", lambda x: x.argmin(), lambda x: x.argmin()),
    ("argmax_keep", lambda x: x.argmax(-1, keepdim=True), lambda x: x.argmax(-1, keepdim=True)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_reductions(case, dtype):
    _, ef, tf = case
    check(ef, tf, _inputs([(3, 4, 5)], dtype))


def test_reduction_ties():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], dtype=np.float64)
    for ef, tf in [(lambda a: a.max(), lambda a: a.max()),
                   (lambda a: a.amax(1), lambda a: a.amax(1)),
                   (lambda a: a.min(), lambda a: a.min()),
                   (lambda a: a.max(1), lambda a: a.max(1)),
                   (lambda a: a.amin(0), lambda a: a.amin(0)),
                   (lambda a: a.norm(p=float("inf"), dim=1),
                    lambda a: a.norm(p=float("inf"), dim=1))]:
        check(ef, tf, [x])


def test_prod_with_zeros():
    x = np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0], [2.0, 3.0, 4.0]], dtype=np.float64)
    check(lambda a: a.prod(1), lambda a: a.prod(1), [x])
    check(lambda a: a.prod(0), lambda a: a.prod(0), [x])


def test_norm_at_zero_has_zero_grad():
    x = np.zeros((2, 3), dtype=np.float32)
    check(lambda a: a.norm(), lambda a: a.norm(), [x])
    check(lambda a: a.norm(dim=1), lambda a: a.norm(dim=1), [x])


def test_reductions_over_empty_dims():
    x = np.zeros((0, 3), dtype=np.float32)
    check(lambda a: a.sum(0), lambda a: a.sum(0), [x])
    check(lambda a: a.sum(), lambda a: a.sum(), [x])
    check(lambda a: a.mean(1), lambda a: a.mean(1), [x])
    check(lambda a: a.cumsum(0), lambda a: a.cumsum(0), [x])
    check(lambda a: a * 2 + 1, lambda a: a * 2 + 1, [x])
    check(lambda a: a.softmax(-1), lambda a: a.softmax(-1), [x])


def test_integer_reductions_dtype():
    x = np.arange(12).reshape(3, 4)
    for ef, tf in [(lambda a: a.sum(), lambda a: a.sum()), (lambda a: a.sum(1), lambda a: a.sum(1)),
                   (lambda a: a.cumsum(0), lambda a: a.cumsum(0)),
                   (lambda a: a.max(), lambda a: a.max()),
                   (lambda a: a.argmax(1), lambda a: a.argmax(1))]:
        check(ef, tf, [x])
    b = x > 4
    check(lambda a: a.sum(), lambda a: a.sum(), [b])


SHAPE_OPS = [
    ("reshape", lambda x: x.reshape(6, 10), lambda x: x.reshape(6, 10)),
    ("reshape_neg", lambda x: x.reshape(-1, 5), lambda x: x.reshape(-1, 5)),
    ("view", lambda x: x.view(3, 20), lambda x: x.view(3, 20)),
    ("flatten", lambda x: x.flatten(), lambda x: x.flatten()),
    ("flatten1", lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("unflatten", lambda x: x.unflatten(2, (5, 1)), lambda x: x.unflatten(2, (5, 1))),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2)),
    ("mT", lambda x: x.mT, lambda x: x.mT),
    ("expand", lambda x: x[:, :1].expand(3, 4, 5), lambda x: x[:, :1].expand(3, 4, 5)),
    ("expand_new", lambda x: x.expand(2, 3, 4, 5), lambda x: x.expand(2, 3, 4, 5)),
    ("expand_neg", lambda x: x[:1].expand(2, -1, -1), lambda x: x[:1].expand(2, -1, -1)),
    ("squeeze", lambda x: x[:, :1].squeeze(1), lambda x: x[:, :1].squeeze(1)),
    ("squeeze_all", lambda x: x[:1, :1].squeeze(), lambda x: x[:1, :1].squeeze()),
    ("squeeze_noop", lambda x: x.squeeze(0), lambda x: x.squeeze(0)),
    ("unsqueeze", lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1)),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
    ("repeat", lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3)),
    ("repeat_lead", lambda x: x.repeat(2, 1, 2, 1), lambda x: x.repeat(2, 1, 2, 1)),
    ("tril", lambda x: x.tril(), lambda x: x.tril()),
    ("triu", lambda x: x.triu(1), lambda x: x.triu(1)),
    ("tril_neg", lambda x: ember.tril(x, -1), lambda x: torch.tril(x, -1)),
    ("flip", lambda x: x.flip(0, 2) if False else x.flip((0, 2)), lambda x: x.flip((0, 2))),
    ("roll", lambda x: x.roll(2, 1), lambda x: x.roll(2, 1)),
    ("movedim", lambda x: x.movedim(0, -1), lambda x: x.movedim(0, -1)),
    ("narrow", lambda x: x.narrow(2, 1, 3), lambda x: x.narrow(2, 1, 3)),
    ("repeat_interleave", lambda x: x.repeat_interleave(2, dim=1),
     lambda x: x.repeat_interleave(2, dim=1)),
    ("T2d", lambda x: x[0].T, lambda x: x[0].T),
    ("t", lambda x: x[0].t(), lambda x: x[0].t()),
    ("contiguous", lambda x: x.transpose(0, 1).contiguous(),
     lambda x: x.transpose(0, 1).contiguous()),
    ("clone", lambda x: x.clone() * 2, lambda x: x.clone() * 2),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SHAPE_OPS, ids=[c[0] for c in SHAPE_OPS])
def test_shape_ops(case, dtype):
    _, ef, tf = case
    check(ef, tf, _inputs([(3, 4, 5)], dtype))


PAD_CASES = [((1, 2), "constant", 0.0), ((1, 1, 2, 0), "constant", 1.5), ((-1, 2), "constant", 0.),
             ((2, 1, 0, 0), "reflect", None), ((1, 2, 2, 1), "reflect", None),
             ((2, 3, 1, 1), "replicate", None), ((1, 0, 0, 2), "replicate", None),
             ((2, 1, 0, 1), "circular", None), ((1, 1, 1, 1), "circular", None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad,mode,value", PAD_CASES, ids=str)
def test_pad(pad, mode, value, dtype):
    kw = {} if value is None else {"value": value}
    check(lambda x: ember.nn.functional.pad(x, pad, mode=mode, **kw),
          lambda x: torch.nn.functional.pad(x, pad, mode=mode, **kw),
          _inputs([(2, 3, 4, 5)], dtype))


def test_cat_stack_split_chunk():
    a, b, c = rand(2, 3), rand(2, 5, seed=1), rand(2, 3, seed=2)
    check(lambda x, y: ember.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1), [a, b])
    check(lambda x, y: ember.cat([x, y], -1), lambda x, y: torch.cat([x, y], -1), [a, b])
    check(lambda x, y: ember.cat([x, y, x]), lambda x, y: torch.cat([x, y, x]), [a, c])
    check(lambda x, y: ember.stack([x, y]), lambda x, y: torch.stack([x, y]), [a, c])
    check(lambda x, y: ember.stack([x, y], -1), lambda x, y: torch.stack([x, y], -1), [a, c])
    check(lambda x, y: ember.stack([x, y], 1), lambda x, y: torch.stack([x, y], 1), [a, c])
    x = rand(4, 7)
    check(lambda t: t.split(3, 1), lambda t: t.split(3, 1), [x])
    check(lambda t: t.split([2, 4, 1], 1), lambda t: t.split([2, 4, 1], 1), [x])
    check(lambda t: t.chunk(3, 1), lambda t: t.chunk(3, 1), [x])
    check(lambda t: t.chunk(2), lambda t: t.chunk(2), [x])
    check(lambda t: t.unbind(1), lambda t: t.unbind(1), [x])
    check(lambda t: ember.tensor_split(t, 3, 1), lambda t: torch.tensor_split(t, 3, 1), [x])
    # only some pieces used: the others get zero gradient
    check(lambda t: t.chunk(3, 1)[1] * 2, lambda t: t.chunk(3, 1)[1] * 2, [x])
    check(lambda t: t.unbind(0)[2], lambda t: t.unbind(0)[2], [x])


INDEX_CASES = [
    ("int", lambda x: x[1], lambda x: x[1]),
    ("neg_int", lambda x: x[-1, 2], lambda x: x[-1, 2]),
    ("slice", lambda x: x[1:3, ::2], lambda x: x[1:3, ::2]),
    ("ellipsis", lambda x: x[..., 1], lambda x: x[..., 1]),
    ("none", lambda x: x[:, None, 1:], lambda x: x[:, None, 1:]),
    ("int_list", lambda x: x[[0, 2, 2]], lambda x: x[[0, 2, 2]]),
    ("int_tensor", lambda x: x[ember.tensor([3, 0, 3])], lambda x: x[torch.tensor([3, 0, 3])]),
    ("two_arrays", lambda x: x[ember.tensor([0, 1, 1]), ember.tensor([2, 2, 0])],
     lambda x: x[torch.tensor([0, 1, 1]), torch.tensor([2, 2, 0])]),
    ("mixed", lambda x: x[1:, ember.tensor([0, 0, 3])], lambda x: x[1:, torch.tensor([0, 0, 3])]),
    ("bool", lambda x: x[x > 0], lambda x: x[x > 0]),
    ("bool_rows", lambda x: x[ember.tensor([True, False, True, True])],
     lambda x: x[torch.tensor([True, False, True, True])]),
    ("tensor_2d", lambda x: x[ember.tensor([[0, 1], [3, 3]])],
     lambda x: x[torch.tensor([[0, 1], [3, 3]])]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_indexing(case, dtype):
    _, ef, tf = case
    check(ef, tf, _inputs([(4, 5, 3)], dtype))


def test_gather_scatter_index_select():
    x = rand(3, 5)
    idx = np.array([[0, 4, 4], [1, 1, 2], [3, 0, 0]])
    check(lambda t: t.gather(1, ember.tensor(idx)), lambda t: t.gather(1, torch.tensor(idx)), [x])
    idx0 = np.array([[0, 2, 1, 1, 0], [2, 2, 0, 1, 1]])
    check(lambda t: ember.gather(t, 0, ember.tensor(idx0)),
          lambda t: torch.gather(t, 0, torch.tensor(idx0)), [x])
    small = np.array([[1], [0]])  # index smaller than input in the other dim
    check(lambda t: t.gather(1, ember.tensor(small)), lambda t: t.gather(1, torch.tensor(small)),
          [x])
    src = rand(3, 3, seed=1)
    check(lambda t, s: t.scatter_add(1, ember.tensor(idx), s),
          lambda t, s: t.scatter_add(1, torch.tensor(idx), s), [x, src])
    uniq = np.array([[0, 4, 2], [1, 3, 2], [3, 0, 1]])
    check(lambda t, s: t.scatter(1, ember.tensor(uniq), s),
          lambda t, s: t.scatter(1, torch.tensor(uniq), s), [x, src])
    sel = np.array([4, 0, 0, 2])
    check(lambda t: t.index_select(1, ember.tensor(sel)),
          lambda t: t.index_select(1, torch.tensor(sel)), [x])
    check(lambda t: ember.index_select(t, 0, ember.tensor([2, 2])),
          lambda t: torch.index_select(t, 0, torch.tensor([2, 2])), [x])


def test_sort_topk():
    x = rand(4, 6)
    check(lambda t: t.sort(1), lambda t: t.sort(1), [x])
    check(lambda t: t.sort(0, descending=True), lambda t: t.sort(0, descending=True), [x])
    check(lambda t: t.topk(3), lambda t: t.topk(3), [x])
    check(lambda t: t.topk(2, dim=0, largest=False), lambda t: t.topk(2, dim=0, largest=False),
          [x])
    check(lambda t: t.argsort(-1), lambda t: t.argsort(-1), [x])


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((2, 1, 2, 3), (5, 3, 4)), ((2, 3), (5, 3, 4)), ((4, 2, 3), (3,)),
                 ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, dtype):
    check(lambda a, b: a @ b, lambda a, b: a @ b, _inputs(shapes, dtype))


def test_matmul_aliases_and_einsum():
    a, b, v = rand(2, 3), rand(3, 4, seed=1), rand(3, seed=2)
    check(ember.mm, torch.mm, [a, b])
    check(ember.mv, torch.mv, [a, v])
    check(ember.dot, torch.dot, [v, v * 2])
    check(ember.outer, torch.outer, [v, rand(4, seed=3)])
    check(ember.bmm, torch.bmm, [rand(2, 3, 4), rand(2, 4, 5, seed=1)])
    for eq, shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
                       ("ij->j", [(3, 4)]), ("ij,j->i", [(3, 4), (4,)]),
                       ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
                       ("ij,kl->ijkl", [(2, 3), (4, 2)]), ("ij,ij", [(3, 4), (3, 4)]),
                       ("i,i->", [(5,), (5,)]), ("ijk->ki", [(2, 3, 4)])]:
        check(lambda *t: ember.einsum(eq, *t), lambda *t: torch.einsum(eq, *t),
              _inputs(shapes, "float64"))


def test_cast_and_copy():
    x = rand(3, 4)
    check(lambda t: t.double() * 2, lambda t: t.double() * 2, [x])
    check(lambda t: (t * 2).to(ember.float64).sum(), lambda t: (t * 2).to(torch.float64).sum(),
          [x])
    check(lambda t: t.long(), lambda t: t.long(), [x * 5])
    check(lambda t: t.bool(), lambda t: t.bool(), [x])


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons(op):
    a, b = rand(3, 4), rand(4, seed=1)
    a[0, :] = b  # some equal entries
    check(lambda x, y: getattr(x, op)(y), lambda x, y: getattr(x, op)(y), [a, b])
    check(lambda x: getattr(x, op)(0.2), lambda x: getattr(x, op)(0.2), [a])


def test_type_promotion_matches_torch():
    cases = [np.arange(4), np.arange(4, dtype=np.int32), rand(4), rand(4, dtype="float64"),
             np.array([True, False, True, False])]
    scalars = [2, 2.5, True]
    for x in cases:
        for y in cases:
            for fn in (lambda p, q: p + q, lambda p, q: p * q, lambda p, q: p / q):
                e = fn(ember.tensor(x), ember.tensor(y)) if x.dtype != bool or y.dtype != bool \
                    else None
                if e is None:
                    continue
                t = fn(torch.from_numpy(x), torch.from_numpy(y))
                assert e.dtype == t.numpy().dtype, (x.dtype, y.dtype, e.dtype, t.dtype)
        for s in scalars:
            for fn in (lambda p, q: p + q, lambda p, q: p * q, lambda p, q: p / q):
                if x.dtype == bool and isinstance(s, bool):
                    continue
                e, t = fn(ember.tensor(x), s), fn(torch.from_numpy(x), s)
                assert e.dtype == t.numpy().dtype, (x.dtype, s, e.dtype, t.dtype)
    # 0-dim tensors do not widen dimensioned ones of the same category
    e = ember.tensor(rand(3)) + ember.tensor(np.array(1.0, dtype=np.float64))
    t = torch.from_numpy(rand(3)) + torch.tensor(1.0, dtype=torch.float64)
    assert e.dtype == t.numpy().dtype == np.float32
    e = ember.tensor(np.arange(3)) + ember.tensor(np.array(1.0, dtype=np.float64))
    t = torch.arange(3) + torch.tensor(1.0, dtype=torch.float64)
    assert e.dtype == t.numpy().dtype


def test_mixed_dtype_gradients_keep_input_dtypes():
    check(lambda a, b: a * b, lambda a, b: a * b, [rand(3), rand(3, dtype="float64", seed=1)])


# ---------------------------------------------------------------------------- bad input
def test_shape_mismatch_names_both_shapes():
    exc = check_raises(lambda a, b: a + b, lambda a, b: a + b, [rand(3, 4), rand(5)])
    assert "[3, 4]" in str(exc) and "[5]" in str(exc)
    exc = check_raises(lambda a, b: a @ b, lambda a, b: a @ b, [rand(3, 4), rand(5, 2)])
    assert "3x4" in str(exc) and "5x2" in str(exc)
    exc = check_raises(lambda a, b: a @ b, lambda a, b: a @ b, [rand(2, 3, 4), rand(2, 5, 2)])
    assert "[2, 3, 4]" in str(exc) and "[2, 5, 2]" in str(exc)
    exc = check_raises(lambda a: a.reshape(5, 3), lambda a: a.reshape(5, 3), [rand(3, 4)])
    assert "[5, 3]" in str(exc) and "12" in str(exc)
    exc = check_raises(lambda a, b: ember.cat([a, b], 0), lambda a, b: torch.cat([a, b], 0),
                       [rand(2, 3), rand(2, 4)])
    assert "3" in str(exc) and "4" in str(exc)
    check_raises(lambda a, b: ember.stack([a, b]), lambda a, b: torch.stack([a, b]),
                 [rand(2, 3), rand(3, 2)])
    check_raises(lambda a: a.expand(3, 5), lambda a: a.expand(3, 5), [rand(3, 4)])
    check_raises(lambda a: a.permute(0, 0), lambda a: a.permute(0, 0), [rand(3, 4)])
    check_raises(lambda a: a.sum(2), lambda a: a.sum(2), [rand(3, 4)], match="range")
    check_raises(lambda a: a[5], lambda a: a[5], [rand(3, 4)], match="out of bounds")
    check_raises(lambda a: a.gather(1, ember.tensor([[5]])),
                 lambda a: a.gather(1, torch.tensor([[5]])), [rand(3, 4)])
    check_raises(lambda a: a.masked_fill(ember.tensor([True, False]), 0.),
                 lambda a: a.masked_fill(torch.tensor([True, False]), 0.), [rand(3, 4)])
    check_raises(lambda a: a.split([1, 1], 1), lambda a: a.split([1, 1], 1), [rand(3, 4)])
