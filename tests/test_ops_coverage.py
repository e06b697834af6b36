"""The wider torch API (trig, pointwise, scans, order statistics, diagonals, BLAS-style products,
layout helpers, counting, indexed updates, Tensor.new_*, print options): every op against PyTorch,
forward and backward, float32 and float64, with edge cases and the errors both engines raise.

Most cases are written once as ``fn(m, *tensors)`` and run with ``m = ember`` and ``m = torch``.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import ember
from harness import check, check_raises, rand
from test_dtypes import strict_dtypes  # noqa: F401  (fixture)

DTYPES = ["float32", "float64"]
nan, inf = float("nan"), float("inf")


def same(fn, inputs, **kw):
    """``check`` with one function written against the module ``m`` (ember or torch)."""
    return check(lambda *a: fn(ember, *a), lambda *a: fn(torch, *a), inputs, **kw)


def raises(fn, inputs, match=None):
    return check_raises(lambda *a: fn(ember, *a), lambda *a: fn(torch, *a), inputs, match)


def arr(values, dtype="float64"):
    return np.array(values, dtype=dtype)


# ---------------------------------------------------------------------------- elementwise
UNARY = [
    ("sinh", lambda m, x: m.sinh(x)), ("cosh", lambda m, x: x.cosh()),
    ("asin", lambda m, x: m.asin(x), (-0.95, 0.95)), ("arcsin", lambda m, x: x.arcsin(), (-.9, 0)),
    ("acos", lambda m, x: m.acos(x), (-0.95, 0.95)), ("arccos", lambda m, x: m.arccos(x), (0, .9)),
    ("atan", lambda m, x: x.atan(), (-5.0, 5.0)), ("arctan", lambda m, x: m.arctan(x)),
    ("exp2", lambda m, x: m.exp2(x), (-10.0, 10.0)), ("exp2_m", lambda m, x: x.exp2()),
]
BINARY = [
    ("atan2", lambda m, a, b: m.atan2(a, b)), ("arctan2", lambda m, a, b: a.arctan2(b)),
    ("hypot", lambda m, a, b: m.hypot(a, b)), ("logaddexp", lambda m, a, b: a.logaddexp(b)),
    ("xlogy", lambda m, a, b: m.xlogy(a, b), (0.1, 3.0)), ("fmod", lambda m, a, b: m.fmod(a, b)),
    ("fmod_m", lambda m, a, b: a.fmod(b), (0.3, 4.0)),
    ("lerp_t", lambda m, a, b: m.lerp(a, b, b.detach().abs())),
    ("lerp_w", lambda m, a, b: a.lerp(b, 0.3)), ("lerp_big_w", lambda m, a, b: m.lerp(a, b, 0.8)),
    ("addcmul", lambda m, a, b: m.addcmul(a, b, b * 2, value=0.5)),
    ("addcdiv", lambda m, a, b: a.addcdiv(a, b, value=-2), (0.5, 2.0)),
    ("lerp_wgrad", lambda m, a, b: m.lerp(a.detach(), b.detach(), b)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", UNARY, ids=[c[0] for c in UNARY])
@pytest.mark.parametrize("shape", [(3, 4), (7,), ()])
def test_unary(case, dtype, shape):
    lo, hi = case[2] if len(case) > 2 else (-2.0, 2.0)
    same(case[1], [rand(*shape, dtype=dtype, low=lo, high=hi)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BINARY, ids=[c[0] for c in BINARY])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5))], ids=str)
def test_binary(case, dtype, shapes):
    lo, hi = case[2] if len(case) > 2 else (-2.0, 2.0)
    if case[0] in ("lerp_t", "lerp_wgrad") and shapes[1] != shapes[0] and shapes[0] != (3, 4):
        shapes = (shapes[0], shapes[0])  # torch.lerp needs weight to broadcast to input
    same(case[1], [rand(*s, dtype=dtype, seed=i, low=lo, high=hi) for i, s in enumerate(shapes)])


def test_logsigmoid():
    for dtype in DTYPES:
        x = np.concatenate([rand(20, dtype=dtype, low=-30, high=30), arr([-100, 0, 100], dtype)])
        check(ember.logsigmoid, torch.nn.functional.logsigmoid, [x])


def test_elementwise_edges():
    same(lambda m, x: m.asin(x) + m.acos(x), [arr([-1.0, 1.0, 0.0])])  # inf gradients at +-1
    z = arr([0.0, 0.0, 1.0, -1.0])
    same(lambda m, a, b: m.atan2(a, b), [z, arr([0.0, -0.0, 0.0, 0.0])])  # origin: zero grad
    same(lambda m, a, b: m.hypot(a, b), [z, arr([0.0, 1.0, 0.0, 2.0])])  # origin: NaN grad
    same(lambda m, a, b: m.logaddexp(a, b), [arr([inf, -inf, 1e30, 3.0]),
                                             arr([inf, -inf, 0.0, -1e30])])
    same(lambda m, a, b: m.xlogy(a, b), [arr([0.0, 0.0, 1.0, 0.0, 2.0]),
                                         arr([0.0, -1.0, 0.0, nan, 3.0])])
    same(lambda m, y: m.xlogy(2, y), [rand(4, low=0.1)])
    same(lambda m, x: m.xlogy(x, 3.0), [rand(4)])
    same(lambda m, a, b: m.fmod(a, b), [arr([-7.0, 7.0, -7.5, 5.0]), arr([2.0, -2.0, 2.0, 0.0])])
    same(lambda m, a: m.fmod(a, 1.5), [np.arange(-5, 5)])
    same(lambda m, a: m.fmod(a, 3), [np.arange(-5, 5)])
    same(lambda m, x: m.exp2(x) + m.sinh(x) + m.atan2(x, x), [np.arange(-3, 3)])
    # mixed dtypes promote (torch's backward squares the float32 input in float32: values only)
    same(lambda m, a, b: m.atan2(a, b), [rand(3), rand(3, dtype="float64", seed=1)], grad=False)
    same(lambda m, a: m.addcmul(a, a, a, value=2), [np.arange(4)])
    same(lambda m, a, b: a.lerp(b, m.tensor(0.25, dtype=m.float64)), [rand(3), rand(3, seed=1)])


def test_elementwise_errors():
    raises(lambda m, a, b: m.fmod(a, b), [np.arange(3), np.array([1, 0, 2])], "ZeroDivision")
    raises(lambda m, a: m.fmod(a, 0), [np.arange(3)], "ZeroDivision")
    raises(lambda m, a, b: m.hypot(a, b), [np.arange(3), np.arange(3)], "Long")
    raises(lambda m, a, b: m.logaddexp(a, b), [np.arange(3), np.arange(3)], "Long")
    raises(lambda m, a: m.hypot(a, 2), [rand(3)], "Tensor")
    raises(lambda m, a, b: m.lerp(a, b, 0.5), [rand(3), rand(3, dtype="float64")], "`end`")
    raises(lambda m, a, b, w: m.lerp(a, b, w), [rand(3), rand(3), rand(3, dtype="float64")],
           "`weight`")
    raises(lambda m, a, b: m.lerp(a, b, 0.5), [np.arange(3), np.arange(3)], "Long")
    raises(lambda m, a, b: m.lerp(a, b, 0.5), [rand(2), rand(3)], r"\[2\]|size")
    raises(lambda m, a, b: m.addcdiv(a, b, b), [rand(3), np.arange(1, 4)], "Integer division")
    check_raises(ember.logsigmoid, torch.nn.functional.logsigmoid, [np.arange(3)], "Long")


# ---------------------------------------------------------------------------- scans
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumprod(dtype):
    x = rand(3, 4, 5, dtype=dtype, low=0.5, high=1.5) * np.sign(rand(3, 4, 5, seed=9))
    for dim in (0, 1, -1):
        same(lambda m, t: m.cumprod(t, dim), [x])
    same(lambda m, t: t.cumprod(1, dtype=m.float64), [x])
    z = arr([[2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, 0.0],
             [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype)
    same(lambda m, t: m.cumprod(t, 1), [z])  # exact gradient at (first, repeated, last) zeros
    for data in (z, arr(2.5, dtype), np.zeros((0, 3), dtype)):
        same(lambda m, t: m.cumprod(t, 0), [data])
    same(lambda m, t: m.cumprod(t, 1), [np.arange(6).reshape(2, 3)])


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin(op):
    for dtype in DTYPES:
        x = rand(3, 6, dtype=dtype)
        same(lambda m, t: getattr(m, op)(t, 1), [x])
        same(lambda m, t: getattr(t, op)(0), [x])
    ties = arr([1.0, 1.0, 0.0, 1.0, nan, 2.0, nan, -1.0])  # ties move the index; NaN sticks
    for data in (ties, arr([1.0, 1.0, 0.0, 0.0, 2.0, 0.0]), arr(3.0), np.zeros((0, 2)),
                 np.array([True, False, True]), np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]]).T):
        same(lambda m, t: getattr(m, op)(t, 0), [data])


def test_diff():
    for dtype in DTYPES:
        x = rand(3, 5, dtype=dtype)
        same(lambda m, t: m.diff(t), [x])
        same(lambda m, t: t.diff(n=2, dim=0), [x])
        same(lambda m, t: m.diff(t, n=3, dim=-1), [x])
        same(lambda m, t, p, a: m.diff(t, dim=1, prepend=p, append=a),
             [x, rand(3, 2, dtype=dtype, seed=1), rand(3, 1, dtype=dtype, seed=2)])
    for n in (0, 4):
        same(lambda m, t: m.diff(t, n=n), [rand(3)])
    same(lambda m, t: m.diff(t), [np.array([True, False, False, True])])
    same(lambda m, t: m.diff(t, n=2), [np.array([1, 4, 9, 16])])
    raises(lambda m, t: m.diff(t), [arr(1.0)], "one-dimensional")
    raises(lambda m, t: m.diff(t, n=-1), [rand(3)], "non-negative")
    raises(lambda m, t, p: m.diff(t, prepend=p), [rand(3), arr(1.0)], "same dimension")


# ---------------------------------------------------------------------------- order statistics
@pytest.mark.parametrize("dtype", DTYPES)
def test_median(dtype):
    x = rand(3, 4, 5, dtype=dtype)
    same(lambda m, t: m.median(t), [x])
    same(lambda m, t: t.median(), [rand(6, dtype=dtype)])  # even count: the lower middle
    for dim, keep in [(0, False), (1, True), (-1, False)]:
        same(lambda m, t: m.median(t, dim, keepdim=keep), [x])
        same(lambda m, t: m.nanmedian(t, dim, keepdim=keep), [x])
    same(lambda m, t: m.median(t, 0), [arr(3.0, dtype)])


def test_median_ties_nan_and_ints():
    ties = arr([[2.0, 1.0, 2.0, 2.0, 3.0], [5.0, 5.0, 1.0, 1.0, 5.0]])
    same(lambda m, t: m.median(t), [ties])  # the gradient is shared by the tied elements
    same(lambda m, t: m.median(t, 1).values, [ties])
    withnan = arr([[1.0, nan, 3.0, nan], [4.0, 2.0, 3.0, 1.0], [nan, nan, nan, nan]])
    same(lambda m, t: m.median(t, 1), [withnan[:2]])  # the index of the first NaN
    same(lambda m, t: m.nanmedian(t, 1), [withnan[:2]])
    for op in ("median", "nanmedian"):  # all NaN: torch's index is arbitrary
        same(lambda m, t: getattr(m, op)(t, 1).values, [withnan], grad=False)
    same(lambda m, t: m.median(t), [withnan])
    same(lambda m, t: m.nanmedian(t), [withnan])
    same(lambda m, t: m.nanmedian(t), [withnan[:1]])
    same(lambda m, t: m.median(t), [np.zeros(0, "float32")])
    same(lambda m, t: m.median(t, 0), [np.array([3, 1, 2])])
    raises(lambda m, t: m.median(t, 0), [np.zeros((0, 3))], "non-zero size")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile(dtype, interp):
    x = rand(4, 7, dtype=dtype)
    q = arr([0.0, 0.25, 0.5, 0.9, 1.0], dtype)
    same(lambda m, t: m.quantile(t, 0.3, interpolation=interp), [x])
    same(lambda m, t, qq: m.quantile(t, qq, dim=1, interpolation=interp), [x, q],
         requires_grad=[True, False])
    same(lambda m, t, qq: t.quantile(qq, dim=0, keepdim=True, interpolation=interp), [x, q],
         requires_grad=[True, False])
    same(lambda m, t: m.quantile(t, 0.5, dim=-1, keepdim=True, interpolation=interp), [x])
    same(lambda m, t, qq: m.quantile(t, qq, keepdim=True, interpolation=interp), [x, q[:2]],
         requires_grad=[True, False])
    x[1, 2] = x[3, 0] = x[3, 5] = nan
    same(lambda m, t: m.quantile(t, 0.4, dim=1, interpolation=interp), [x])
    same(lambda m, t: m.nanquantile(t, 0.4, dim=1, interpolation=interp), [x])
    same(lambda m, t: m.nanquantile(t, 0.5, dim=0, interpolation=interp), [x])


def test_quantile_errors():
    raises(lambda m, t: m.quantile(t, 0.5), [np.arange(3)], "float or double")
    raises(lambda m, t: m.quantile(t, 1.5), [rand(3)], r"range \[0, 1\]")
    raises(lambda m, t, q: m.quantile(t, q), [rand(3), arr([0.5, 1.5], "float32")], "range")
    raises(lambda m, t, q: m.quantile(t, q), [rand(3), arr([0.5])], "same dtype")
    raises(lambda m, t, q: m.quantile(t, q), [rand(3), arr([[0.5]], "float32")], "1D")
    raises(lambda m, t: m.quantile(t, 0.5, interpolation="foo"), [rand(3)], "interpolation")
    raises(lambda m, t: m.quantile(t, 0.5), [np.zeros(0, "float32")], "non-empty")


def test_aminmax_nansum_nanmean():
    for dtype in DTYPES:
        x = rand(3, 4, 5, dtype=dtype)
        same(lambda m, t: m.aminmax(t), [x])
        same(lambda m, t: t.aminmax(dim=1, keepdim=True), [x])
        same(lambda m, t: m.aminmax(t, dim=-1), [x])
        x[0, 1, 2] = x[2, 3, 0] = nan
        x[1, :, 3] = nan
        for kw in [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}]:
            same(lambda m, t: m.nansum(t, **kw), [x])
            same(lambda m, t: t.nanmean(**kw), [x])
    same(lambda m, t: m.aminmax(t), [arr([[1.0, 3.0, 3.0], [0.0, 0.0, 1.0]])])  # ties share
    same(lambda m, t: m.aminmax(t, keepdim=True), [rand(2, 3)])
    same(lambda m, t: m.nansum(t), [np.arange(5)])
    same(lambda m, t: m.nanmean(t, 1, dtype=m.float64), [rand(2, 3)])
    raises(lambda m, t: m.aminmax(t), [np.zeros(0)], "empty")
    raises(lambda m, t: m.aminmax(t, dim=0), [np.zeros((0, 3))], "non-zero size")
    raises(lambda m, t: m.nanmean(t), [np.arange(3)], "floating point")


# ---------------------------------------------------------------------------- diagonals
@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_diagonal_diag_embed_trace(dtype):
    v, a, b = rand(4, dtype=dtype), rand(4, 6, dtype=dtype), rand(2, 3, 4, 5, dtype=dtype)
    for k in (0, 1, -2, 7):
        same(lambda m, t: m.diag(t, k), [v])
        same(lambda m, t: t.diag(k), [a])
        same(lambda m, t: m.diagonal(t, k), [a])
    for off, d1, d2 in [(0, 0, 1), (1, 1, 3), (-1, -1, 0), (2, 2, -1), (-9, 0, 2)]:
        same(lambda m, t: t.diagonal(off, d1, d2), [b])
        same(lambda m, t: m.diag_embed(t, off, d1, d2), [b])
    same(lambda m, t: m.diag_embed(t), [a])
    same(lambda m, t: m.trace(t), [a])
    same(lambda m, t: t.trace(), [np.arange(12).reshape(3, 4)])


def test_diagonal_is_a_view_and_fill_diagonal():
    e = ember.zeros(3, 4)
    d = e.diagonal(1)
    e.add_(1.0)
    assert d.tolist() == [1.0, 1.0, 1.0] and d._version is e._version
    d.mul_(5.0)  # writes through, as in torch
    assert e[0, 1].item() == 5.0
    for shape, wrap, val in [((7, 3), True, 5.0), ((7, 3), False, 5.0), ((2, 4), True, 2.0),
                             ((3, 3, 3), False, -1.0)]:
        def fill(m, t, wrap=wrap, val=val):
            return (t * 1).fill_diagonal_(val, wrap=wrap) * t
        same(fill, [rand(*shape)])
    raises(lambda m, t: t.fill_diagonal_(1.0), [rand(3)], "larger than 1")
    raises(lambda m, t: t.fill_diagonal_(1.0), [rand(2, 2, 3)], "equal length")


def test_diag_errors_and_tri_indices():
    raises(lambda m, t: m.diag(t), [rand(2, 2, 2)], "1D or 2D")
    raises(lambda m, t: m.diagonal(t, 0, 1, -1), [rand(2, 2)], "identical")
    raises(lambda m, t: m.diag_embed(t, 0, 0, -3), [rand(2, 2)], "identical")
    raises(lambda m, t: m.trace(t), [rand(2, 2, 2)], "expected a matrix")
    for args in [(3, 4), (3, 4, 1), (4, 3, -1), (5, 5, -7), (0, 3), (3, 3, 10)]:
        for name in ("tril_indices", "triu_indices"):
            same(lambda m: getattr(m, name)(*args), [])
    same(lambda m: m.tril_indices(3, 3, dtype=m.int32), [])
    raises(lambda m: m.tril_indices(-1, 3), [], "non-negative")


# ---------------------------------------------------------------------------- products
@pytest.mark.parametrize("dtype", DTYPES)
def test_blas_family(dtype):
    r = lambda *s, seed=0: rand(*s, dtype=dtype, seed=seed)  # noqa: E731
    for beta, alpha in [(1, 1), (0.5, -2.0), (0, 1.5)]:
        kw = {"beta": beta, "alpha": alpha}
        same(lambda m, i, a, b: m.addmm(i, a, b, **kw), [r(3, 5), r(3, 4, seed=1), r(4, 5, seed=2)])
        same(lambda m, i, a, b: i.addmm(a, b, **kw), [r(5), r(3, 4, seed=1), r(4, 5, seed=2)])
        same(lambda m, i, a, b: m.addmv(i, a, b, **kw), [r(3), r(3, 4, seed=1), r(4, seed=2)])
        same(lambda m, i, a, b: i.addr(a, b, **kw), [r(3, 1), r(3, seed=1), r(4, seed=2)])
        same(lambda m, i, a, b: m.baddbmm(i, a, b, **kw),
             [r(2, 3, 5), r(2, 3, 4, seed=1), r(2, 4, 5, seed=2)])
        same(lambda m, i, a, b: i.baddbmm(a, b, **kw), [r(3, 1), r(2, 3, 4, seed=1),
                                                        r(2, 4, 5, seed=2)])
        same(lambda m, i, a, b: m.addbmm(i, a, b, **kw), [r(3, 5), r(2, 3, 4, seed=1),
                                                          r(2, 4, 5, seed=2)])
    poisoned = np.full((2, 2), nan, dtype)  # beta=0: input ignored, NaN does not spread
    same(lambda m, i, a, b: m.addmm(i, a, b, beta=0), [poisoned, r(2, 3), r(3, 2, seed=1)])


def test_blas_errors_and_ints():
    same(lambda m, i, a, b: m.addmm(i, a, b, alpha=2), [np.ones((2, 2), int), np.eye(2, dtype=int),
                                                        np.arange(4).reshape(2, 2)])
    raises(lambda m, i, a, b: m.addmm(i, a, b), [rand(2, 2), rand(2), rand(2, 2)], "mat1 must be")
    raises(lambda m, i, a, b: m.addmm(i, a, b), [rand(3), rand(2, 2), rand(2, 2)], "expanded size")
    raises(lambda m, i, a, b: m.addmm(i, a, b), [rand(2, 2), rand(2, 3), rand(2, 2)], "2x3")
    raises(lambda m, i, a, b: m.addmm(i, a, b), [rand(2, 2), rand(2, 2),
                                                 rand(2, 2, dtype="float64")], "same dtype")
    raises(lambda m, i, a, b: m.addmv(i, a, b), [rand(2), rand(2, 3), rand(2)], "size mismatch")
    raises(lambda m, i, a, b: m.addmv(i, a, b), [rand(2), rand(2, 3, 1), rand(3)], "expected")
    raises(lambda m, i, a, b: m.addr(i, a, b), [rand(2, 2), rand(2, 1), rand(2)], "1-D")
    raises(lambda m, i, a, b: m.baddbmm(i, a, b), [rand(2, 2), rand(2, 2), rand(2, 2, 2)], "3D")
    raises(lambda m, i, a, b: m.baddbmm(i, a, b), [rand(2, 2), rand(2, 2, 3), rand(3, 3, 2)],
           "batch2")
    raises(lambda m, i, a, b: m.addbmm(i, a, b), [rand(2, 2), rand(2, 2, 3), rand(3, 3, 2)],
           "same number of batches")


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensordot_kron(dtype):
    a, b = rand(2, 3, 4, dtype=dtype), rand(3, 4, 5, dtype=dtype, seed=1)
    for dims in (2, 0, ([1, 2], [0, 1]), ([2, 1], [1, 0]), ([1], [0]), ([-2], [-3])):
        same(lambda m, x, y: m.tensordot(x, y, dims=dims), [a, b])
    same(lambda m, x, y: m.tensordot(x, y, dims=1), [a, rand(4, 2, dtype=dtype)])
    same(lambda m, x, y: m.tensordot(x, y, dims=([0, 1], [1, 0])), [rand(3, 2), rand(2, 3)])
    for sa, sb in [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (2, 2)), ((), (3,))]:
        same(lambda m, x, y: m.kron(x, y), [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype, seed=1)])
    same(lambda m, x, y: x.kron(y), [np.arange(4).reshape(2, 2), np.eye(2, dtype=np.int64)])
    raises(lambda m, x, y: m.tensordot(x, y, dims=3), [rand(2, 3), rand(3, 2)], "dims")
    raises(lambda m, x, y: m.tensordot(x, y, dims=-1), [rand(2, 3), rand(3, 2)], ">= 0")
    raises(lambda m, x, y: m.tensordot(x, y, ([0], [0])), [rand(2, 3), rand(4, 2)], "need to match")
    raises(lambda m, x, y: m.tensordot(x, y, ([0], [0, 1])), [rand(2, 3), rand(2, 2)], "length")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, inf, 0.0])
def test_cdist(dtype, p):
    x1, x2 = rand(5, 3, dtype=dtype), rand(4, 3, dtype=dtype, seed=1)
    same(lambda m, a, b: m.cdist(a, b, p=p), [x1, x2], grad=p != 0)
    same(lambda m, a, b: m.cdist(a, b, p=p), [rand(2, 1, 5, 3, dtype=dtype),
                                              rand(3, 4, 3, dtype=dtype, seed=1)], grad=p != 0)
    if p in (1.0, 2.0):  # identical rows: distance 0 and a zero gradient
        same(lambda m, a, b: m.cdist(a, b, p=p), [x1, x1.copy()])


def test_cdist_large_and_errors():
    # torch takes the matmul route above 25 rows; ember's direct differences agree closely
    a, b = rand(40, 8, dtype="float64"), rand(30, 8, seed=1, dtype="float64")
    same(lambda m, x, y: m.cdist(x, y), [a, b], atol=1e-8, rtol=1e-7)
    raises(lambda m, a, b: m.cdist(a, b), [rand(3), rand(3)], "at least 2D")
    raises(lambda m, a, b: m.cdist(a, b), [rand(2, 3), rand(2, 4)], "same number of columns")
    raises(lambda m, a, b: m.cdist(a, b, p=-1), [rand(2, 3), rand(2, 3)], "non-negative")
    raises(lambda m, a, b: m.cdist(a, b), [np.ones((1, 2), int), np.ones((1, 2), int)],
           "floating")
    raises(lambda m, a, b: m.cdist(a, b, compute_mode="foo"), [rand(2, 3), rand(2, 3)], "foo")


# ---------------------------------------------------------------------------- layout
@pytest.mark.parametrize("dtype", DTYPES)
def test_meshgrid_broadcast_atleast_stacks(dtype):
    a, b, c = rand(3, dtype=dtype), rand(4, dtype=dtype, seed=1), rand(2, dtype=dtype, seed=2)
    for ix in ("ij", "xy"):
        same(lambda m, x, y, z: m.meshgrid(x, y, z, indexing=ix), [a, b, c])
        same(lambda m, x, y: m.meshgrid([x, y], indexing=ix), [a, b])
        same(lambda m, x, y: m.meshgrid(x, y, indexing=ix), [a, arr(2.0, dtype)])
        same(lambda m, x: m.meshgrid(x, indexing=ix), [a])
    same(lambda m, x, y, z: m.broadcast_tensors(x, y, z),
         [rand(3, 1, dtype=dtype), rand(4, dtype=dtype, seed=1), rand(2, 1, 1, dtype=dtype)])
    shapes = [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]
    for nd in (1, 2, 3):
        for s in shapes:
            same(lambda m, x: getattr(m, f"atleast_{nd}d")(x), [rand(*s, dtype=dtype)])
        same(lambda m, x, y: getattr(m, f"atleast_{nd}d")(x, y), [a, arr(1.0, dtype)])
        same(lambda m, x, y: getattr(m, f"atleast_{nd}d")([x, y]), [a, rand(2, 2)])
    same(lambda m, x, y, z: m.column_stack([x, y, z]),
         [rand(3, dtype=dtype), rand(3, 2, dtype=dtype), rand(3, dtype=dtype)])
    same(lambda m, x, y: m.column_stack((x, y)), [arr(1.0, dtype), rand(1, dtype=dtype)])
    same(lambda m, x, y: m.dstack([x, y]), [a, a.copy()])
    same(lambda m, x, y: m.dstack([x, y]), [rand(2, 3, dtype=dtype), rand(2, 3, 2, dtype=dtype)])
    same(lambda m, x, y, z: m.cartesian_prod(x, y, z), [a, b, c])
    same(lambda m, x: m.cartesian_prod(x), [a])


def test_layout_errors_and_shapes():
    args = ((2, 1), 3, [4, 1, 1])
    assert ember.broadcast_shapes(*args) == torch.broadcast_shapes(*args) == (4, 2, 3)
    assert ember.broadcast_shapes() == torch.broadcast_shapes() == ()
    assert repr(ember.broadcast_shapes((0, 1), (3,))) == "ember.Size([0, 3])"
    raises(lambda m: m.broadcast_shapes((2, 1), (3, 4)), [], r"length 3 at -2!.*\(3, 4\).*\[2, 4\]")
    raises(lambda m: m.broadcast_shapes((-1,)), [], "negative")
    raises(lambda m, x, y: m.broadcast_tensors(x, y), [rand(2, 3), rand(4)], "tensor b \\(4\\)")
    raises(lambda m, x: m.meshgrid(x, indexing="foo"), [rand(2)], "indexing")
    raises(lambda m, x: m.meshgrid(x, indexing="ij"), [rand(2, 2)], "0D or 1D")
    raises(lambda m, x, y: m.meshgrid(x, y, indexing="ij"), [rand(2), np.arange(2)], "dtype")
    raises(lambda m: m.meshgrid([], indexing="ij"), [], "non-empty")
    raises(lambda m, x: m.cartesian_prod(x, x), [rand(2, 2)], "1D vector")
    with pytest.warns(UserWarning, match="indexing"):
        ember.meshgrid(ember.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rot90(dtype):
    x = rand(2, 3, 4, dtype=dtype)
    for k in (-3, -1, 0, 1, 2, 3, 5):
        same(lambda m, t: m.rot90(t, k), [x])
        same(lambda m, t: t.rot90(k, [2, 0]), [x])
        same(lambda m, t: m.rot90(t, k, (-1, 1)), [x])
    raises(lambda m, t: m.rot90(t, 1, [0]), [x], "rotation dims == 2")
    raises(lambda m, t: m.rot90(t), [rand(3)], "total dims >= 2")
    raises(lambda m, t: m.rot90(t, 1, [0, -3]), [x], "different")


@pytest.mark.parametrize("dtype", DTYPES)
def test_unfold(dtype):
    x = rand(3, 7, 4, dtype=dtype)
    for dim, size, step in [(1, 3, 1), (1, 2, 2), (1, 3, 4), (-1, 4, 1), (0, 1, 1), (1, 7, 1),
                            (1, 6, 1), (1, 0, 2), (2, 2, 3)]:
        same(lambda m, t: t.unfold(dim, size, step), [x])
    same(lambda m, t: t.unfold(1, 3, 2).unfold(2, 2, 1), [x])
    same(lambda m, t: t.unfold(0, 1, 1), [arr(2.0, dtype)])
    raises(lambda m, t: t.unfold(1, 8, 1), [x], "maximum size .* is 7 but size is 8")
    raises(lambda m, t: t.unfold(1, 2, 0), [x], "step is 0")
    raises(lambda m, t: t.unfold(1, -1, 1), [x], "size is -1")
    e = ember.arange(6.0)
    w = e.unfold(0, 2, 1)
    e.add_(10.0)  # a view: sees the change and shares the version counter
    assert w.tolist()[0] == [10.0, 11.0] and w._version is e._version


# ---------------------------------------------------------------------------- counting
def test_unique_and_unique_consecutive():
    x = np.array([[3, 1, 2], [1, 3, 3], [3, 1, 2]])
    f = np.array([2.0, nan, 1.0, 2.0, nan, -0.0, 0.0])
    for data in (x, f, np.array([True, False, True])):
        for inv, cnt in itertools.product((False, True), repeat=2):
            kw = {"return_inverse": inv, "return_counts": cnt}
            same(lambda m, t: m.unique(t, **kw), [data], grad=False)
            same(lambda m, t: m.unique_consecutive(t, **kw), [data], grad=False)
    for dim in (0, 1, -1):
        same(lambda m, t: m.unique(t, dim=dim, return_inverse=True, return_counts=True), [x])
        same(lambda m, t: t.unique_consecutive(return_inverse=True, return_counts=True,
                                               dim=dim), [x])
    same(lambda m, t: t.unique(sorted=True), [np.zeros(0, "float32")], grad=False)
    same(lambda m, t: m.unique_consecutive(t, return_counts=True), [np.zeros(0)], grad=False)


def test_searchsorted_bucketize():
    seq, vals = np.array([1, 3, 3, 5, 7]), np.array([[0, 3, 6], [7, 8, 3]])
    for kw in [{}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}]:
        same(lambda m, s, v: m.searchsorted(s, v, **kw), [seq, vals])
        same(lambda m, s, v: m.searchsorted(s, v, **kw), [np.sort(rand(3, 5), -1), rand(3, 4)],
             grad=False)
    same(lambda m, s: m.searchsorted(s, 3), [seq])
    same(lambda m, s, v, o: m.searchsorted(s, v, sorter=o), [np.array([5, 1, 3]), vals,
                                                              np.array([1, 2, 0])])
    same(lambda m, s, v: m.searchsorted(s, v), [arr([1.0, 3.0]), np.array([2, 3])], grad=False)
    for right in (False, True):
        same(lambda m, v, b: m.bucketize(v, b, right=right), [vals, seq])
        same(lambda m, b: m.bucketize(3, b, right=right, out_int32=True), [seq])
        same(lambda m, v, b: m.bucketize(v, b, right=right), [rand(4, 2), np.sort(rand(6))],
             grad=False)
    raises(lambda m, s, v: m.searchsorted(s, v, side="foo"), [seq, vals], "side can only")
    raises(lambda m, s, v: m.searchsorted(s, v, side="left", right=True), [seq, vals], "opposite")
    raises(lambda m, s, v: m.searchsorted(s, v), [np.ones((1, 3)), np.ones((2, 1))], "must match")
    raises(lambda m, s: m.searchsorted(s, 3), [np.ones((1, 3))], "scalar only")
    raises(lambda m, v, b: m.bucketize(v, b), [vals, np.ones((1, 3))], "1 dimension")


def test_histc_bincount():
    x = np.concatenate([rand(50, low=-3, high=3), arr([-3.0, 3.0, 0.0], "float32")])
    for kw in [{}, {"bins": 7}, {"bins": 4, "min": -1, "max": 1}, {"bins": 5, "min": -3, "max": 3}]:
        for dtype in DTYPES:
            same(lambda m, t: m.histc(t, **kw), [x.astype(dtype)], grad=False)
    same(lambda m, t: t.histc(bins=4), [arr([2.0, 2.0])], grad=False)
    same(lambda m, t: m.histc(t, bins=3, min=1, max=2), [arr([1.0, nan, 2.0, 5.0])], grad=False)
    raises(lambda m, t: m.histc(t), [np.arange(3)], "Long")
    raises(lambda m, t: m.histc(t, bins=0), [rand(3)], "bins must be > 0")
    raises(lambda m, t: m.histc(t, min=3, max=1), [rand(3)], "max must be larger")
    raises(lambda m, t: m.histc(t), [arr([1.0, inf])], "not finite")
    i = np.array([1, 3, 1, 0, 5])
    same(lambda m, t: m.bincount(t), [i])
    same(lambda m, t: t.bincount(minlength=9), [i])
    same(lambda m, t: m.bincount(t), [np.zeros(0, np.int64)])
    for w in (rand(5), rand(5, dtype="float64"), np.arange(5)):
        same(lambda m, t, ww: m.bincount(t, ww), [i, w], grad=False)
    raises(lambda m, t: m.bincount(t), [np.array([1, -1])], "non-negative")
    raises(lambda m, t: m.bincount(t), [np.ones((2, 2), int)], "1-d")
    raises(lambda m, t: m.bincount(t), [rand(3)], "Float")
    raises(lambda m, t: m.bincount(t, minlength=-1), [i], "minlength")
    raises(lambda m, t, w: m.bincount(t, w), [i, rand(3)], "same length")


# ---------------------------------------------------------------------------- indexed updates
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_add_copy_fill(dtype):
    x, src = rand(4, 3, dtype=dtype), rand(5, 3, dtype=dtype, seed=1)
    dup, uniq = np.array([0, 2, 2, 3, 0]), np.array([3, 0, 1])
    same(lambda m, t, s, i: m.index_add(t, 0, i, s), [x, src, dup])
    same(lambda m, t, s, i: t.index_add(1, i, s, alpha=-2.5), [x, rand(4, 3, seed=2, dtype=dtype),
                                                                np.array([2, 2, 0])])
    same(lambda m, t, s, i: (t * 1).index_add_(0, i, s, alpha=0.5) * t, [x, src, dup])
    same(lambda m, t, s, i: m.index_copy(t, 0, i, s), [x, src[:3], uniq])
    same(lambda m, t, s, i: (t + 0).index_copy_(1, i, s).exp(), [x, rand(4, 3, dtype=dtype),
                                                                 np.array([2, 0, 1])])
    for v in (2.5, -1):
        same(lambda m, t, i: m.index_fill(t, 1, i, v), [x, np.array([0, -1, 0])])
    same(lambda m, t, v, i: t.index_fill(0, i, v), [x, arr(3.0, dtype), dup])  # value grad
    same(lambda m, t, v, i: (t * 2).index_fill_(1, i, v), [x, arr(3.0, dtype), np.array(1)])
    same(lambda m, t: m.index_fill(t, 0, m.tensor([1]), 2.7), [np.arange(6).reshape(3, 2)])


def test_masked_scatter_take():
    for dtype in DTYPES:
        x, src = rand(2, 3, dtype=dtype), rand(2, 5, dtype=dtype, seed=1)
        mask = np.array([True, False, True])
        same(lambda m, t, s: m.masked_scatter(t, m.tensor(mask), s), [x, src])
        same(lambda m, t, s: (t * 1).masked_scatter_(m.tensor(mask), s) * 2, [x, src])
        same(lambda m, t, s: t.masked_scatter(t > 0, s), [x, src])
        same(lambda m, t, i: m.take(t, i), [x, np.array([[0, -1], [5, 0]])])
        same(lambda m, t, i: t.take(i), [x, np.array(4)])
    raises(lambda m, t: m.take(t, m.tensor([6])), [rand(2, 3)], "out of range")
    raises(lambda m, t: m.take(t, m.tensor([0.0])), [rand(2, 3)], "long tensor")
    raises(lambda m, t, s: t.masked_scatter(m.tensor([1, 0, 1]), s), [rand(2, 3), rand(6)],
           "boolean")
    raises(lambda m, t, s: t.masked_scatter(m.tensor([True, True, True]), s),
           [rand(2, 3), rand(5)], "Number of elements")
    raises(lambda m, t, s: t.masked_scatter(m.tensor([True]), s), [rand(2), np.arange(2)],
           "same dtypes")


def test_index_update_errors():
    x, ones = rand(3, 2), np.ones((2, 2), "float32")
    add = lambda m, t, i, s: t.index_add(0, i, s)  # noqa: E731
    raises(add, [x, np.array([0, 3]), ones], "out of")
    raises(add, [x, np.array([0, -1]), ones], "out of")
    raises(add, [x, np.array([0, 1]), np.ones((3, 2), "float32")], "Number of indices")
    raises(add, [x, np.array([0, 1]), np.ones((2, 3), "float32")], "shape must match")
    raises(add, [x, np.array([[0, 1]]), ones], "vector")
    raises(add, [x, np.array([0, 1]), ones.astype("float64")], "same scalar type")
    raises(add, [x, arr([0.0, 1.0]), ones], "int")
    raises(lambda m, t, i, s: t.index_copy(0, i, s), [x, np.array([3]), ones[:1]], "out of")
    raises(lambda m, t, i, s: t.index_copy(0, i, s), [x, np.array([1]), ones[0]],
           "dimensionality")
    raises(lambda m, t, i: t.index_fill(1, i, 5.0), [x, np.array([2])], "out of bounds")
    raises(lambda m, t, i, v: t.index_fill(1, i, v), [x, np.array([1]), rand(1)], "0-dim")


# ---------------------------------------------------------------------------- Tensor methods
def test_new_factories_and_apply():
    for data in (rand(2, dtype="float64"), np.arange(3), rand(2)):
        same(lambda m, t: t.new_zeros(2, 3), [data], grad=False)
        same(lambda m, t: t.new_ones((2,), dtype=m.int32), [data], grad=False)
        same(lambda m, t: t.new_full((2, 2), 2.7), [data], grad=False)
        same(lambda m, t: t.new_tensor([1, 2]), [data], grad=False)
        same(lambda m, t: t.new_empty((0, 2)).shape, [data], grad=False)
    e = ember.zeros(2).new_ones(3, requires_grad=True)
    assert e.requires_grad and e.is_leaf and e.dtype == ember.float32
    raises(lambda m, t: t.new_full(2, 1.0), [rand(2)], "tuple of ints")
    same(lambda m, t: t.clone().apply_(lambda v: v * 2.7), [np.arange(3)])
    same(lambda m, t: t.clone().apply_(lambda v: v * v + 1), [rand(2, 3)], grad=False)
    raises(lambda m, t: t.requires_grad_().apply_(abs), [rand(2)], "requires grad")


def test_set_printoptions():
    cases = [np.arange(10.0).reshape(2, 5) * 1.5, arr([1e-5, 1.0], "float32"),
             arr([nan, 1.0, -inf], "float32"), np.arange(2000, dtype="float32") / 3,
             arr([0.0, 0.0], "float32"), np.arange(6).reshape(2, 3), rand(3, 4)]
    try:
        for opts in [{}, {"precision": 2}, {"sci_mode": True}, {"sci_mode": False},
                     {"threshold": 5, "edgeitems": 2}, {"profile": "short"}, {"profile": "full"},
                     {"linewidth": 120}]:
            ember.set_printoptions(**opts)
            torch.set_printoptions(**opts)
            for c in cases:
                assert repr(ember.tensor(c)).replace("ember.", "torch.") == \
                    repr(torch.tensor(c)), opts
    finally:
        ember.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert repr(ember.zeros(2)) == repr(torch.zeros(2))


# ---------------------------------------------------------------------------- float32 stays float32
F32_CASES = [c[1] for c in UNARY] + [
    lambda m, x: m.cumprod(x, 0), lambda m, x: m.cummax(x, 1).values, lambda m, x: m.diff(x),
    lambda m, x: m.median(x), lambda m, x: m.quantile(x, 0.3, dim=1),
    lambda m, x: m.nanmean(x, 0), lambda m, x: m.diag_embed(x), lambda m, x: m.diagonal(x),
    lambda m, x: m.addmm(x, x, x.T), lambda m, x: m.cdist(x, x), lambda m, x: m.kron(x, x),
    lambda m, x: x.unfold(1, 2, 1), lambda m, x: m.rot90(x), lambda m, x: m.logaddexp(x, x),
    lambda m, x: m.xlogy(x, x.abs()), lambda m, x: m.atan2(x, x), lambda m, x: m.hypot(x, x),
    lambda m, x: m.fmod(x, 0.7), lambda m, x: x.index_add(0, m.tensor([1, 1, 0]), x),
    lambda m, x: m.take(x, m.tensor([0, 1])), lambda m, x: m.lerp(x, x * 2, 0.3),
]


@pytest.mark.parametrize("i", range(len(F32_CASES)))
def test_new_ops_stay_float32(i, strict_dtypes):  # noqa: F811
    x = ember.tensor(rand(3, 3, low=0.1, high=0.9), requires_grad=True)
    out = F32_CASES[i](ember, x)
    assert out.dtype == ember.float32
    out.backward(ember.ones_like(out))
    assert x.grad.dtype == ember.float32
