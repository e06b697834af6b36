"""Convolution and pooling (functional and modules) against PyTorch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from harness import (
    check,
    check_raises,
    compare_module_grads,
    copy_module_weights,
    randn,
    rng,
)

import ember
import ember.nn as enn
import ember.nn.functional as F
from ember.autograd import gradcheck

DTYPES = ["float32", "float64"]
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _tol(dtype, scale=1.0):
    # float32 convolutions sum dozens of products in a different order than torch's kernels
    return {"atol": 2e-5 * scale, "rtol": 2e-5} if dtype == "float32" else {}


# ---------------------------------------------------------------------------- conv2d
CONV2D = [
    # x shape, w shape, kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": 2}),
    ((2, 3, 8, 7), (4, 3, 3, 2), {"stride": (2, 3), "padding": (1, 2)}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 3, 9, 8), (5, 3, 2, 3), {"dilation": (1, 3), "stride": (1, 2)}),
    ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 6, 6), (8, 1, 3, 3), {"groups": 4, "padding": 1}),  # depthwise, multiplier 2
    ((1, 6, 5, 5), (6, 1, 3, 3), {"groups": 6, "stride": 2, "padding": 1}),  # depthwise
    ((2, 3, 7, 6), (4, 3, 3, 3), {"padding": "same"}),
    ((2, 3, 7, 6), (4, 3, 4, 2), {"padding": "same"}),  # even kernels: asymmetric
    ((2, 3, 7, 8), (4, 3, 2, 3), {"padding": "same", "dilation": (3, 2)}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"padding": "valid"}),
    ((2, 3, 5, 5), (4, 3, 1, 1), {}),  # 1x1
    ((2, 3, 3, 4), (4, 3, 3, 4), {}),  # kernel equals the input
    ((2, 3, 5, 5), (2, 3, 5, 5), {"padding": (2, 0), "stride": 3}),
    ((3, 7, 6), (4, 3, 3, 3), {}),  # unbatched
    ((4, 7, 6), (4, 2, 2, 3), {"groups": 2, "padding": "same"}),  # unbatched, grouped
    ((2, 3, 6, 5), (4, 3, 3, 3), {"padding": [1]}),  # one-element list expands
    # batch larger than the output width: the batch-last internal layout
    ((6, 3, 5, 3), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((9, 4, 4, 4), (6, 2, 2, 3),
     {"groups": 2, "dilation": (1, 2), "padding": (0, 2), "stride": (1, 3)}),
    ((7, 4, 3, 3), (8, 1, 3, 3), {"groups": 4, "padding": "same"}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONV2D)
def test_conv2d(xs, ws, kw, bias, dtype):
    inputs = [randn(*xs, dtype=dtype, seed=1), randn(*ws, dtype=dtype, seed=2)]
    if bias:
        inputs.append(randn(ws[0], dtype=dtype, seed=3))
    check(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), inputs, **_tol(dtype))


CONV1D = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 3, 10), (4, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 11), (4, 3, 2), {"dilation": 3, "padding": [2]}),
    ((2, 4, 8), (6, 2, 3), {"groups": 2, "stride": (3,)}),
    ((2, 4, 8), (4, 1, 5), {"groups": 4, "padding": "same"}),
    ((2, 3, 8), (4, 3, 4), {"padding": "same", "dilation": 1}),  # even: asymmetric
    ((3, 9), (5, 3, 3), {"padding": "valid"}),  # unbatched
    ((8, 3, 5), (4, 3, 3), {"padding": 2, "stride": 2}),  # batch-last layout
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,kw", CONV1D)
def test_conv1d(xs, ws, kw, dtype):
    inputs = [randn(*xs, dtype=dtype, seed=4), randn(*ws, dtype=dtype, seed=5),
              randn(ws[0], dtype=dtype, seed=6)]
    check(lambda *a: F.conv1d(*a, **kw), lambda *a: TF.conv1d(*a, **kw), inputs, **_tol(dtype))


@pytest.mark.parametrize("chunk", [1, 200])
@pytest.mark.parametrize("xs,ws,kw", [
    ((3, 3, 8, 7), (4, 3, 3, 2), {"stride": (2, 3), "padding": (1, 2)}),
    ((2, 4, 6, 6), (8, 1, 3, 3), {"groups": 4, "padding": 1}),
    ((3, 3, 7, 6), (4, 3, 4, 2), {"padding": "same"}),
    ((3, 3, 7, 6), (4, 3, 3, 3), {}),  # no padding: im2col reads the input itself
    ((6, 3, 5, 3), (4, 3, 3, 2), {"stride": 2, "padding": 1}),  # batch-last layout
    ((7, 4, 3, 4), (8, 2, 2, 3), {"groups": 2, "dilation": (2, 1)}),  # batch-last, no padding
])
def test_conv2d_chunked(xs, ws, kw, chunk, monkeypatch):
    # tiny im2col chunks: many chunks per call, in both internal layouts, with a partial last one
    import ember.nn.functional.conv as conv_module
    monkeypatch.setattr(conv_module, "_CHUNK", chunk)
    inputs = [randn(*xs, dtype="float64", seed=1), randn(*ws, dtype="float64", seed=2),
              randn(ws[0], dtype="float64", seed=3)]
    check(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), inputs)


def test_conv2d_configs_cover_both_internal_layouts():
    # guards the intent of the "batch-last" configs above against a changed layout heuristic
    import ember.nn.functional.conv as conv_module
    geo = conv_module._Geometry
    assert geo((6, 3, 5, 3), (4, 3, 3, 2), (2, 2), ((1, 1), (1, 1)), (1, 1), 1).bl
    assert geo((7, 4, 3, 4), (8, 2, 2, 3), (1, 1), ((0, 0), (0, 0)), (2, 1), 2).bl
    assert geo((8, 3, 1, 5), (4, 3, 1, 3), (1, 2), ((0, 0), (2, 2)), (1, 1), 1).bl
    assert not geo((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1).bl


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_non_contiguous_inputs(dtype):
    # transposed input, strided weight view and a bias taken with a step
    x, w, b = randn(2, 3, 6, 7, dtype=dtype), randn(4, 3, 3, 6, dtype=dtype), randn(8, dtype=dtype)
    check(lambda x, w, b: F.conv2d(x.transpose(2, 3), w[:, :, :, ::2], b[::2], padding=1),
          lambda x, w, b: TF.conv2d(x.transpose(2, 3), w[:, :, :, ::2], b[::2], padding=1),
          [x, w, b], **_tol(dtype))


def test_conv1d_non_contiguous_input():
    x, w = randn(2, 9, 3), randn(4, 3, 3)
    check(lambda x, w: F.conv1d(x.permute(0, 2, 1), w, stride=2),
          lambda x, w: TF.conv1d(x.permute(0, 2, 1), w, stride=2), [x, w], **_tol("float32"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_only_some_inputs_require_grad(dtype):
    x, w, b = randn(2, 3, 5, 5, dtype=dtype), randn(4, 3, 3, 3, dtype=dtype), randn(4, dtype=dtype)
    for req in ([False, True, True], [True, False, False], [False, False, True]):
        check(lambda *a: F.conv2d(*a, padding=1), lambda *a: TF.conv2d(*a, padding=1), [x, w, b],
              requires_grad=req, **_tol(dtype))


@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_input_modified_in_place_after_forward(padding):
    # the weight gradient needs the input: both engines refuse a stale one
    for lib in (ember, torch):
        x = lib.ones(2, 3, 5, 5)
        w = lib.ones(4, 3, 3, 3, requires_grad=True)
        fn = F.conv2d if lib is ember else TF.conv2d
        y = fn(x, w, padding=padding)
        x.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_conv2d_large_magnitudes_and_zeros():
    x = randn(2, 3, 6, 6, dtype="float64") * 1e6
    x[:, :, :2] = 0
    w = randn(4, 3, 3, 3, dtype="float64") * 1e-3
    check(lambda x, w: F.conv2d(x, w, stride=2, padding=1),
          lambda x, w: TF.conv2d(x, w, stride=2, padding=1), [x, w], rtol=1e-9, atol=1e-6)
    check(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w),
          [np.zeros((1, 3, 4, 4), "float32"), randn(2, 3, 3, 3)])


def test_conv2d_empty_batch():
    check(lambda x, w, b: F.conv2d(x, w, b, padding=1),
          lambda x, w, b: TF.conv2d(x, w, b, padding=1),
          [randn(0, 3, 5, 5), randn(4, 3, 3, 3), randn(4)])


def test_conv2d_integer_inputs():
    x = rng(3).integers(-5, 5, (2, 3, 5, 5))
    w = rng(4).integers(-3, 3, (4, 3, 3, 3))
    check(lambda x, w: F.conv2d(x, w, padding=1, stride=2),
          lambda x, w: TF.conv2d(x, w, padding=1, stride=2), [x, w], grad=False)


def test_conv_gradcheck():
    def t(a):
        return ember.tensor(a, requires_grad=True)
    x, w, b = t(randn(2, 4, 5, 4, dtype="float64")), t(randn(6, 2, 2, 3, dtype="float64")), \
        t(randn(6, dtype="float64"))
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2),
                                              dilation=(1, 2), groups=2), [x, w, b])
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same", groups=2), [x, w])
    x1, w1 = t(randn(2, 3, 7, dtype="float64")), t(randn(4, 3, 2, dtype="float64"))
    assert gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1, dilation=2), [x1, w1])


def test_conv_errors():
    x = randn(2, 4, 10, 10)
    check_raises(F.conv2d, TF.conv2d, [x, randn(8, 3, 3, 3)],
                 r"weight of size \[8, 3, 3, 3\], expected input\[2, 4, 10, 10\] to have 3 "
                 r"channels, but got 4")
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3, 2, 2), randn(8, 3, 3, 3)],
                 r"padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\)")
    check_raises(lambda x, w: F.conv2d(x, w, dilation=3), lambda x, w: TF.conv2d(x, w, dilation=3),
                 [randn(1, 3, 5, 5), randn(2, 3, 3, 3)], r"\(5 x 5\). Kernel size: \(7 x 7\)")
    check_raises(lambda x, w: F.conv2d(x, w, groups=2), lambda x, w: TF.conv2d(x, w, groups=2),
                 [randn(2, 4, 5, 5), randn(3, 2, 3, 3)],
                 r"groups=2, expected weight to be divisible by 2 at dimension 0, but got weight "
                 r"of size \[3, 2, 3, 3\]")
    check_raises(lambda x, w: F.conv2d(x, w, groups=2), lambda x, w: TF.conv2d(x, w, groups=2),
                 [randn(2, 3, 5, 5), randn(4, 2, 3, 3)], r"to have 4 channels, but got 3")
    check_raises(lambda x, w: F.conv2d(x, w, groups=0), lambda x, w: TF.conv2d(x, w, groups=0),
                 [randn(2, 3, 5, 5), randn(4, 3, 3, 3)], "non-positive groups")
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3), randn(4, 3, 3, 3)],
                 r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of "
                 r"size: \[2, 3\]")
    check_raises(F.conv1d, TF.conv1d, [randn(2, 3, 5, 5), randn(4, 3, 3)],
                 r"input to conv1d, but got input of size: \[2, 3, 5, 5\]")
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3, 5, 5), randn(4, 3, 3)], r"weight")
    check_raises(lambda x, w: F.conv2d(x, w, stride=2, padding="same"),
                 lambda x, w: TF.conv2d(x, w, stride=2, padding="same"),
                 [randn(2, 3, 5, 5), randn(4, 3, 3, 3)], "not supported for strided")
    check_raises(lambda x, w: F.conv2d(x, w, padding="foo"),
                 lambda x, w: TF.conv2d(x, w, padding="foo"),
                 [randn(2, 3, 5, 5), randn(4, 3, 3, 3)], "Invalid padding string: 'foo'")
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(3)],
                 r"expected bias to be 1-dimensional with 4 elements, but got bias of size \[3\]")
    for bad, msg in (({"padding": -1}, "negative padding"), ({"stride": 0}, ("non-positive "
                     "stride")), ({"dilation": 0}, "non-positive dilation"),
                     ({"stride": (1, 1, 1)}, r"list of 2 values .* stride=\[1, 1, 1\]")):
        check_raises(lambda x, w, bad=bad: F.conv2d(x, w, **bad),
                     lambda x, w, bad=bad: TF.conv2d(x, w, **bad),
                     [randn(2, 3, 5, 5), randn(4, 3, 3, 3)], msg)
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3, 5, 5), randn(4, 3, 3, 3, dtype="float64")],
                 r"Input type \(float32\) and weight type \(float64\) should be the same")
    check_raises(F.conv2d, TF.conv2d,
                 [randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(4, dtype="float64")],
                 r"bias type \(float64\)")
    check_raises(F.conv2d, TF.conv2d, [np.ones((1, 1, 2, 2), bool), np.ones((1, 1, 1, 1), bool)],
                 "not implemented for 'bool'")
    check_raises(F.conv2d, TF.conv2d, [randn(2, 3, 5, 5), randn(0, 3, 3, 3)],
                 "expected weight to be at least 1 at dimension 0")


# ---------------------------------------------------------------------------- max pooling
MAXPOOL2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1)},
    {"kernel_size": 3, "stride": 1, "padding": 1},  # overlapping windows
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},  # odd input: a partial last window
    {"kernel_size": 3, "stride": 2, "dilation": 2, "padding": 1},
    {"kernel_size": (2, 2), "stride": (3, 2), "dilation": (2, 1), "ceil_mode": True},
    {"kernel_size": 4, "stride": []},  # empty stride means kernel_size
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MAXPOOL2D)
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (3, 8, 9)])
def test_max_pool2d(kw, shape, dtype):
    x = randn(*shape, dtype=dtype, seed=7)
    check(lambda x: F.max_pool2d(x, **kw, return_indices=True),
          lambda x: TF.max_pool2d(x, **kw, return_indices=True), [x])
    check(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), [x])


@pytest.mark.parametrize("kw", MAXPOOL2D[:6])
def test_max_pool2d_ties(kw):
    # few distinct values: nearly every window has ties; torch routes the gradient to one winner
    x = rng(8).integers(0, 3, (2, 2, 9, 7)).astype("float32")
    check(lambda x: F.max_pool2d(x, **kw, return_indices=True),
          lambda x: TF.max_pool2d(x, **kw, return_indices=True), [x])
    check(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw),
          [np.ones((1, 2, 6, 5), "float64")])


def test_max_pool2d_nan_and_inf():
    x = randn(1, 2, 6, 6, dtype="float64", seed=9)
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = x[0, 1, 4, 4] = np.nan  # two NaNs in one window
    x[0, 1, 0, :] = np.inf
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        check(lambda x, kw=kw: F.max_pool2d(x, **kw, return_indices=True),
              lambda x, kw=kw: TF.max_pool2d(x, **kw, return_indices=True), [x])
    # windows of only -inf pick the first in-input element, never a padded one
    x = np.full((1, 1, 3, 3), -np.inf)
    check(lambda x: F.max_pool2d(x, 2, padding=1, return_indices=True),
          lambda x: TF.max_pool2d(x, 2, padding=1, return_indices=True), [x])


def test_max_pool2d_large_magnitudes_and_integers():
    x = randn(2, 3, 8, 8, dtype="float32") * 1e30
    check(lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), [x])
    xi = rng(1).integers(-100, -1, (2, 3, 6, 6))  # all negative: padding must not win
    check(lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True),
          lambda x: TF.max_pool2d(x, 3, 2, 1, return_indices=True), [xi], grad=False)


def test_max_pool2d_non_contiguous_and_empty_batch():
    x = randn(2, 3, 8, 9)
    check(lambda x: F.max_pool2d(x.transpose(2, 3), 2),
          lambda x: TF.max_pool2d(x.transpose(2, 3), 2),
          [x])
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [randn(0, 3, 4, 4)])


MAXPOOL1D = [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
             {"kernel_size": 2, "stride": 1, "dilation": 3, "padding": 1}, {"kernel_size": [3]}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MAXPOOL1D)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 10)])
def test_max_pool1d(kw, shape, dtype):
    x = randn(*shape, dtype=dtype, seed=10)
    check(lambda x: F.max_pool1d(x, **kw, return_indices=True),
          lambda x: TF.max_pool1d(x, **kw, return_indices=True), [x])
    ties = rng(11).integers(0, 2, shape).astype(dtype)
    check(lambda x: F.max_pool1d(x, **kw), lambda x: TF.max_pool1d(x, **kw), [ties])


# ---------------------------------------------------------------------------- average pooling
AVGPOOL2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1)},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "padding": 1, "divisor_override": 5},
    {"kernel_size": (4, 2), "stride": (3, 1), "padding": (2, 1), "ceil_mode": True,
     "divisor_override": 3},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVGPOOL2D)
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (3, 8, 9)])
def test_avg_pool2d(kw, shape, dtype):
    check(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw),
          [randn(*shape, dtype=dtype, seed=12)])


def test_avg_pool2d_non_contiguous_large_and_integer():
    check(lambda x: F.avg_pool2d(x.transpose(2, 3), 3, 2, 1),
          lambda x: TF.avg_pool2d(x.transpose(2, 3), 3, 2, 1), [randn(2, 3, 8, 9)])
    check(lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2),
          [randn(2, 3, 6, 6, dtype="float64") * 1e12], rtol=1e-12, atol=0)
    xi = rng(2).integers(-50, 50, (2, 3, 7, 7))  # integer division truncates toward zero
    check(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), [xi],
          grad=False)


AVGPOOL1D = [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
             {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
             {"kernel_size": [4], "stride": [1], "padding": [2]}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVGPOOL1D)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 10)])
def test_avg_pool1d(kw, shape, dtype):
    check(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw),
          [randn(*shape, dtype=dtype, seed=13)])


# ---------------------------------------------------------------------------- adaptive pooling
ADAPTIVE = [((2, 3, 8, 6), (4, 3)), ((2, 3, 7, 5), (3, 2)), ((2, 3, 7, 5), 1),
            ((2, 3, 5, 4), (7, 6)), ((3, 10, 7), (None, 4)), ((2, 3, 6, 9), (6, None)),
            ((2, 3, 5, 5), 5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_avg_pool2d(shape, out, dtype):
    check(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out),
          [randn(*shape, dtype=dtype, seed=14)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_max_pool2d(shape, out, dtype):
    check(lambda x: F.adaptive_max_pool2d(x, out, return_indices=True),
          lambda x: TF.adaptive_max_pool2d(x, out, return_indices=True),
          [randn(*shape, dtype=dtype, seed=15)])
    ties = rng(16).integers(0, 2, shape).astype(dtype)
    check(lambda x: F.adaptive_max_pool2d(x, out), lambda x: TF.adaptive_max_pool2d(x, out),
          [ties])


def test_adaptive_max_pool2d_nan():
    x = randn(1, 2, 5, 5, dtype="float64")
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 1, 3, 2] = np.nan
    check(lambda x: F.adaptive_max_pool2d(x, 2, True), lambda x: TF.adaptive_max_pool2d(x, 2, True),
          [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", [((2, 3, 9), 4), ((2, 3, 9), 3), ((3, 5), 7), ((2, 3, 9), 1)])
def test_adaptive_avg_pool1d(shape, out, dtype):
    check(lambda x: F.adaptive_avg_pool1d(x, out), lambda x: TF.adaptive_avg_pool1d(x, out),
          [randn(*shape, dtype=dtype, seed=17)])


def test_pool_gradcheck():
    x = ember.tensor(randn(2, 2, 7, 6, dtype="float64"), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [x])
    assert gradcheck(lambda x: F.max_pool2d(x, 2, 1, dilation=2), [x])
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                     [x])
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [x])
    assert gradcheck(lambda x: F.adaptive_max_pool2d(x, (4, 4)), [x])
    x1 = ember.tensor(randn(2, 3, 9, dtype="float64"), requires_grad=True)
    assert gradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1), [x1])
    assert gradcheck(lambda x: F.max_pool1d(x, 3, 2, 1), [x1])


def test_pool_errors():
    x = randn(2, 4, 10, 10)
    check_raises(lambda x: F.max_pool2d(x, 3, padding=2), lambda x: TF.max_pool2d(x, 3, padding=2),
                 [x], "pad should be at most half of effective kernel size, but got pad=2, "
                      "kernel_size=3 and dilation=1")
    check_raises(lambda x: F.max_pool2d(x, 3, padding=2, dilation=2),
                 lambda x: TF.max_pool2d(x, 3, padding=2, dilation=2), [x],
                 "pad should be smaller than or equal to half of kernel size")
    check_raises(lambda x: F.avg_pool2d(x, 3, padding=2), lambda x: TF.avg_pool2d(x, 3, padding=2),
                 [x], "pad should be at most half")
    check_raises(lambda x: F.max_pool2d(x, 3), lambda x: TF.max_pool2d(x, 3), [randn(1, 1, 2, 2)],
                 r"Given input size: \(1x2x2\). Calculated output size: \(1x0x0\). Output size "
                 "is too small")
    check_raises(lambda x: F.avg_pool1d(x, 2), lambda x: TF.avg_pool1d(x, 2), [randn(1, 1, 1)],
                 "Output size is too small")
    check_raises(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [randn(2, 2)],
                 r"3D or 4D .* got: \[2, 2\]")
    check_raises(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [randn(1, 0, 4, 4)],
                 r"got: \[1, 0, 4, 4\]")
    check_raises(lambda x: F.max_pool1d(x, 2), lambda x: TF.max_pool1d(x, 2), [randn(2)],
                 r"2D or 3D")
    check_raises(lambda x: F.max_pool2d(x, 2, stride=0), lambda x: TF.max_pool2d(x, 2, stride=0),
                 [x], "stride should not be zero")
    check_raises(lambda x: F.avg_pool2d(x, 0, 1), lambda x: TF.avg_pool2d(x, 0, 1), [x],
                 "kernel size should be greater than zero")
    check_raises(lambda x: F.max_pool2d(x, 2, dilation=0),
                 lambda x: TF.max_pool2d(x, 2, dilation=0),
                 [x], "dilation should be greater than zero")
    check_raises(lambda x: F.max_pool2d(x, (2, 2, 2)), lambda x: TF.max_pool2d(x, (2, 2, 2)), [x],
                 "kernel_size must either be a single int, or a tuple of two ints")
    check_raises(lambda x: F.avg_pool2d(x, 2, divisor_override=0),
                 lambda x: TF.avg_pool2d(x, 2, divisor_override=0), [x], "divisor must be not zero")
    check_raises(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
                 [np.ones((1, 2, 2), bool)], "not implemented for 'bool'")
    check_raises(lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: TF.adaptive_avg_pool2d(x, 2),
                 [randn(2, 2)], r"Expected 3D or 4D tensor, but got \[2, 2\]")
    check_raises(lambda x: F.adaptive_max_pool2d(x, (2, 2, 2)),
                 lambda x: TF.adaptive_max_pool2d(x, (2, 2, 2)), [x], "output_size must be 2")
    check_raises(lambda x: F.adaptive_avg_pool2d(x, -1), lambda x: TF.adaptive_avg_pool2d(x, -1),
                 [x], "greater than or equal to 0")
    check_raises(lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: TF.adaptive_avg_pool2d(x, 2),
                 [randn(1, 0, 4)], "dimension 1 being empty")
    check_raises(lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: TF.adaptive_avg_pool2d(x, 2),
                 [rng(0).integers(0, 3, (1, 4, 4))], "not implemented for 'int64'")


# ---------------------------------------------------------------------------- modules
CONV_MODULES = [  # (nd, (in_channels, out_channels, kernel_size), other arguments)
    (1, (3, 4, 3), {}),
    (1, (4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2,
                    "padding_mode": "reflect"}),
    (1, (2, 4, 4), {"padding": "same", "padding_mode": "circular", "bias": False}),
    (1, (2, 2, 3), {"padding": 1, "padding_mode": "replicate"}),
    (1, (2, 3, 3), {"padding": "valid", "padding_mode": "reflect"}),
    (2, (3, 4, 3), {}),
    (2, (4, 8, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 4}),
    (2, (3, 4, (4, 3)), {"padding": "same", "padding_mode": "reflect"}),
    (2, (3, 4, 3), {"padding": 2, "padding_mode": "circular", "bias": False}),
    (2, (3, 6, 3), {"padding": 1, "padding_mode": "replicate", "groups": 3}),
    (2, (3, 4, 2), {"padding": "valid", "stride": 2}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,args,kw", CONV_MODULES)
@pytest.mark.parametrize("batched", [True, False])
def test_conv_modules(nd, args, kw, batched, dtype):
    tdt = getattr(torch, dtype)
    tm = (torch.nn.Conv1d if nd == 1 else torch.nn.Conv2d)(*args, **kw, dtype=tdt)
    em = (enn.Conv1d if nd == 1 else enn.Conv2d)(*args, **kw, dtype=dtype)
    assert repr(em) == repr(tm)
    assert {k: tuple(v.shape) for k, v in em.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    assert em.weight.dtype == np.dtype(dtype)
    copy_module_weights(em, tm)
    shape = (args[0],) + (9, 8)[2 - nd:]
    x = randn(*((2,) + shape if batched else shape), dtype=dtype, seed=20)
    check(em, tm, [x], **_tol(dtype))
    compare_module_grads(em, tm, **(_tol(dtype) or {"atol": 1e-10, "rtol": 1e-9}))


@pytest.mark.parametrize("nd", [1, 2])
def test_conv_module_default_init(nd):
    ember.manual_seed(0)
    k = (3, 5)[:nd] if nd == 2 else 7
    m = (enn.Conv1d if nd == 1 else enn.Conv2d)(16, 32, k, groups=2)
    fan_in = 8 * (15 if nd == 2 else 7)
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.data, m.bias.data
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(float(w.mean())) < 0.05 * bound and abs(float(w.std()) - bound / math.sqrt(3)) \
        < 0.05 * bound  # U(-b, b) has std b / sqrt(3)
    assert np.abs(b).max() <= bound and len(np.unique(b)) == 32
    assert m.weight.requires_grad and isinstance(m.weight, enn.Parameter)
    assert enn.Conv2d(2, 4, 3, bias=False).bias is None


def test_conv_module_errors():
    for kw, msg in (({"groups": 2}, "in_channels must be divisible by groups"),
                    ({"groups": 0}, "groups must be a positive integer"),
                    ({"padding": "foo"}, "Invalid padding string 'foo'"),
                    ({"padding": "same", "stride": 2}, "not supported for strided convolutions"),
                    ({"padding_mode": "foo"}, "padding_mode must be one of")):
        with pytest.raises(ValueError, match=msg):
            torch.nn.Conv2d(3, 4, 3, **kw)
        with pytest.raises(ValueError, match=msg):
            enn.Conv2d(3, 4, 3, **kw)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        enn.Conv2d(4, 3, 3, groups=2)
    m = enn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 5, 8, 8\] to have 3 channels"):
        m(ember.randn(2, 5, 8, 8))


POOL_MODULES = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ("MaxPool2d", (3,), {"stride": 2, "return_indices": True}),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool1d", (2,), {"return_indices": True, "ceil_mode": True}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1, True, False, 4), {}),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("AdaptiveAvgPool2d", ((5, None),), {}),
    ("AdaptiveAvgPool2d", (3,), {}),
    ("AdaptiveMaxPool2d", ((2, 3),), {"return_indices": True}),
    ("AdaptiveAvgPool1d", (4,), {}),
]


@pytest.mark.parametrize("name,args,kw", POOL_MODULES)
def test_pool_modules(name, args, kw):
    tm, em = getattr(torch.nn, name)(*args, **kw), getattr(enn, name)(*args, **kw)
    assert repr(em) == repr(tm)
    shape = (2, 3, 9) if name.endswith("1d") else (2, 3, 9, 8)
    for dtype in DTYPES:
        check(em, tm, [randn(*shape, dtype=dtype, seed=21)])
        check(em, tm, [randn(*shape[1:], dtype=dtype, seed=22)])  # unbatched


def test_small_cnn_end_to_end():
    # conv -> relu -> pool -> conv -> adaptive pool -> flatten: outputs and all parameter grads
    tnet = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, groups=2),
                               torch.nn.AvgPool2d(2, ceil_mode=True),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    ember.manual_seed(0)
    enet = enn.Sequential(enn.Conv2d(1, 4, 3, padding=1), enn.ReLU(), enn.MaxPool2d(2),
                          enn.Conv2d(4, 6, 3, groups=2), enn.AvgPool2d(2, ceil_mode=True),
                          enn.AdaptiveAvgPool2d(1), enn.Flatten())
    copy_module_weights(enet, tnet)
    check(enet, tnet, [randn(3, 1, 12, 12, seed=23)], **_tol("float32"))
    compare_module_grads(enet, tnet, **_tol("float32"))
