"""ember.nn.functional's transformer ops against torch.nn.functional: values and gradients in
float32 and float64, edge cases, error cases, and float64 finite differences."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from harness import check, check_raises, rand, randn

import ember
import ember.nn.functional as EF
from ember.autograd import gradcheck

DTYPES = ["float32", "float64"]


def E(a):
    return ember.tensor(a)


def T(a):
    return torch.tensor(a)


def leaf64(*arrays):
    return [ember.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]


# ---------------------------------------------------------------------------- linear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,wshape,bias", [
    ((2, 3, 4), (5, 4), True), ((6, 4), (5, 4), False), ((4,), (5, 4), True),
    ((2, 3, 4), (4,), True), ((0, 4), (5, 4), True), ((2, 1, 3, 4), (1, 4), True)])
def test_linear(dtype, xshape, wshape, bias):
    ins = [randn(*xshape, dtype=dtype), randn(*wshape, dtype=dtype, seed=1)]
    if bias:
        ins.append(randn(*wshape[:-1], dtype=dtype, seed=2))
    check(EF.linear, TF.linear, ins)


def test_linear_non_contiguous_input():
    x = randn(4, 3, dtype="float64").T  # (3, 4), transposed strides
    check(EF.linear, TF.linear, [x, randn(5, 4, dtype="float64", seed=1)])
    check(lambda x, w, b: EF.linear(x.transpose(0, 1), w, b),
          lambda x, w, b: TF.linear(x.transpose(0, 1), w, b),
          [randn(3, 2, 4), randn(5, 4, seed=1), randn(5, seed=2)])


def test_linear_gradcheck():
    x, w, b = leaf64(randn(2, 3, 4), randn(5, 4, seed=1), randn(5, seed=2))
    assert gradcheck(EF.linear, [x, w, b])


def test_linear_errors():
    check_raises(EF.linear, TF.linear, [randn(2, 3), randn(5, 4)], match=r"2x3 and 4x5")
    check_raises(EF.linear, TF.linear, [randn(2, 4), randn(5, 4, dtype="float64")],
                 match="float32.*float64")
    check_raises(EF.linear, TF.linear, [randn(2, 4), randn(5, 4), randn(3)], match="bias")


# ---------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_statistics_and_grad(dtype):
    ember.manual_seed(0)
    x = ember.tensor(rand(200, 500, dtype=dtype, low=1.0, high=2.0), requires_grad=True)
    p = 0.3
    y = EF.dropout(x, p)
    assert y.dtype == x.dtype and y.shape == x.shape
    kept = y.data != 0
    assert abs(kept.mean() - (1 - p)) < 0.005  # 100k Bernoulli draws: std 0.0014
    np.testing.assert_allclose(y.data[kept], x.data[kept] / (1 - p), rtol=1e-6)
    g = randn(200, 500, dtype=dtype, seed=3)
    y.backward(E(g))
    np.testing.assert_allclose(x.grad.data, g * kept / (1 - p), rtol=1e-6)


def test_dropout_identities():
    x = ember.tensor(randn(3, 4), requires_grad=True)
    assert EF.dropout(x, 0.0) is x and EF.dropout(x, 0.7, training=False) is x
    y = EF.dropout(x, 1.0)
    assert not y.data.any()
    y.backward(E(randn(3, 4, seed=1)))
    assert x.grad is not None and not x.grad.data.any()


def test_dropout_seeded_and_inplace():
    ember.manual_seed(5)
    a = EF.dropout(E(np.ones((50, 50), np.float32)), 0.5).data
    ember.manual_seed(5)
    b = EF.dropout(E(np.ones((50, 50), np.float32)), 0.5).data
    np.testing.assert_array_equal(a, b)
    x = E(np.ones((50, 50), np.float32))
    ember.manual_seed(5)
    y = EF.dropout(x, 0.5, inplace=True)
    assert y is x
    np.testing.assert_array_equal(x.data, a)


def test_dropout_gradcheck_fixed_mask():
    (x,) = leaf64(randn(6, 7))

    def fn(x):
        ember.manual_seed(3)  # the same mask on every evaluation
        return EF.dropout(x, 0.4)
    assert gradcheck(fn, [x])


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_p(p):
    check_raises(lambda x: EF.dropout(x, p), lambda x: TF.dropout(x, p), [randn(3)],
                 match="between 0 and 1")


# ---------------------------------------------------------------------------- embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding(dtype, padding_idx):
    ids = np.array([[0, 2, 2, 9], [3, 9, 0, 0]])
    check(lambda w: EF.embedding(E(ids), w, padding_idx),
          lambda w: TF.embedding(T(ids), w, padding_idx), [randn(10, 3, dtype=dtype)])


def test_embedding_int32_ids_scale_grad_by_freq():
    ids = np.array([1, 1, 1, 4, 0], dtype=np.int32)
    check(lambda w: EF.embedding(E(ids), w, scale_grad_by_freq=True),
          lambda w: TF.embedding(T(ids), w, scale_grad_by_freq=True), [randn(5, 3)])


def test_embedding_max_norm_renormalises_weight_in_place():
    w = randn(6, 4, dtype="float64") * 3
    ids = np.array([0, 2, 2, 5])
    ew, tw = E(w.copy()), T(w.copy())
    out_e, out_t = EF.embedding(E(ids), ew, max_norm=1.5), TF.embedding(T(ids), tw, max_norm=1.5)
    np.testing.assert_allclose(out_e.data, out_t.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ew.data, tw.numpy(), rtol=1e-6)  # rows 1, 3, 4 untouched
    assert not np.allclose(ew.data[0], w[0])


def test_embedding_gradcheck():
    (w,) = leaf64(randn(5, 3))
    # (padding_idx deliberately breaks the finite-difference identity; it is tested vs torch)
    assert gradcheck(lambda w: EF.embedding(E(np.array([[1, 1], [4, 0]])), w), [w])


def test_embedding_errors():
    w = randn(10, 3)
    exc = check_raises(EF.embedding, TF.embedding, [np.array([1, 10]), w], match="10")
    assert isinstance(exc, IndexError) and "num_embeddings=10" in str(exc)
    check_raises(EF.embedding, TF.embedding, [np.array([-1, 2]), w], match="index -1")
    check_raises(EF.embedding, TF.embedding, [np.array([1.0, 2.0]), w], match="Long, Int")
    check_raises(lambda i, w: EF.embedding(i, w, padding_idx=10),
                 lambda i, w: TF.embedding(i, w, padding_idx=10), [np.array([1]), w],
                 match="Padding_idx")
    with pytest.raises(NotImplementedError, match="sparse"):
        EF.embedding(E(np.array([1])), E(w), sparse=True)


def test_one_hot():
    ids = np.array([[0, 3], [2, 2]])
    check(EF.one_hot, TF.one_hot, [ids])
    check(lambda i: EF.one_hot(i, 6), lambda i: TF.one_hot(i, 6), [ids])
    check_raises(lambda i: EF.one_hot(i, 2), lambda i: TF.one_hot(i, 2), [ids], match="smaller")
    check_raises(EF.one_hot, TF.one_hot, [np.array([-1, 2])], match="non-negative")
    check_raises(EF.one_hot, TF.one_hot, [np.array([1.0])], match="LongTensor")


# ---------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,norm,affine", [
    ((4, 6), (6,), "wb"), ((2, 3, 4, 5), (4, 5), "wb"), ((3, 5), [5], "w"), ((3, 5), (5,), ""),
    ((0, 5), (5,), "wb"), ((7,), (7,), "wb")])
def test_layer_norm(dtype, shape, norm, affine):
    ns = tuple(norm)
    ins = [randn(*shape, dtype=dtype)]
    ins += [1 + randn(*ns, dtype=dtype, seed=1)] if "w" in affine else []
    ins += [randn(*ns, dtype=dtype, seed=2)] if "b" in affine else []

    def call(F, x, *p):
        return F.layer_norm(x, norm, p[0] if "w" in affine else None, p[-1] if "b" in affine
                            else None)
    check(lambda *a: call(EF, *a), lambda *a: call(TF, *a), ins)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_edge_values(dtype):
    big = 1e4 + randn(3, 8, dtype=dtype)  # a large offset: needs the two-pass variance
    const = np.full((2, 8), 3.0, dtype=dtype)  # zero variance rows
    tol = {"atol": 2e-3, "rtol": 1e-3} if dtype == "float32" else {}
    for x in (big, const, randn(3, 8, dtype=dtype) * 1e-3):
        check(lambda x: EF.layer_norm(x, (8,), eps=1e-5),
              lambda x: TF.layer_norm(x, (8,), eps=1e-5), [x], **(tol if x is big else {}))


def test_layer_norm_non_contiguous_and_gradcheck():
    check(lambda x, w, b: EF.layer_norm(x.transpose(0, 1), (3,), w, b),
          lambda x, w, b: TF.layer_norm(x.transpose(0, 1), (3,), w, b),
          [randn(3, 4, dtype="float64"), randn(3, dtype="float64", seed=1),
           randn(3, dtype="float64", seed=2)])
    x, w, b = leaf64(randn(3, 2, 4), randn(2, 4, seed=1), randn(2, 4, seed=2))
    assert gradcheck(lambda x, w, b: EF.layer_norm(x, (2, 4), w, b), [x, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm(dtype, eps, with_weight):
    ins = [randn(2, 3, 4, dtype=dtype)] + ([randn(3, 4, dtype=dtype, seed=1)] if with_weight
                                           else [])
    check(lambda x, *w: EF.rms_norm(x, (3, 4), *w, eps=eps),
          lambda x, *w: TF.rms_norm(x, (3, 4), *w, eps=eps), ins)


def test_rms_norm_tiny_inputs_use_dtype_eps_and_gradcheck():
    x = randn(2, 6) * 1e-5  # mean(x^2) ~ 1e-10 << float32 eps: eps visibly matters
    check(lambda x: EF.rms_norm(x, (6,)), lambda x: TF.rms_norm(x, (6,)), [x])
    x, w = leaf64(randn(3, 5), randn(5, seed=1))
    assert gradcheck(lambda x, w: EF.rms_norm(x, (5,), w), [x, w])


def test_norm_errors():
    x = randn(3, 4)
    check_raises(lambda x: EF.layer_norm(x, (5,)), lambda x: TF.layer_norm(x, (5,)), [x],
                 match=r"normalized_shape=\[5\].*\[3, 4\]")
    check_raises(lambda x, w: EF.layer_norm(x, (4,), w), lambda x, w: TF.layer_norm(x, (4,), w),
                 [x, randn(3)], match="weight of shape")
    check_raises(lambda x: EF.rms_norm(x, (2, 4)), lambda x: TF.rms_norm(x, (2, 4)), [x],
                 match="expected input with shape")


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_and_cosine_similarity(dtype):
    x = randn(4, 5, dtype=dtype)
    x[1] = 0  # a zero vector: the eps clamp path
    y = randn(4, 5, dtype=dtype, seed=1)
    check(EF.normalize, TF.normalize, [x])
    check(lambda x: EF.normalize(x, p=1.0, dim=0), lambda x: TF.normalize(x, p=1.0, dim=0), [x])
    check(EF.cosine_similarity, TF.cosine_similarity, [x, y])
    check(lambda a, b: EF.cosine_similarity(a, b, dim=-1),
          lambda a, b: TF.cosine_similarity(a, b, dim=-1), [x, y[0]])
    x2 = randn(3, 5, dtype=dtype) * 1e-9  # norms below eps: clamped without a derivative
    check(EF.cosine_similarity, TF.cosine_similarity, [x2, y[:3]])


# ---------------------------------------------------------------------------- attention
def _sdpa(F, **kw):
    return lambda q, k, v, *m: F.scaled_dot_product_attention(q, k, v, *m, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("qs,ks,vs", [
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)), ((4, 5, 8), (4, 5, 8), (4, 5, 8)),
    ((5, 8), (7, 8), (7, 4)), ((2, 3, 5, 8), (1, 3, 7, 8), (3, 7, 8))])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa(dtype, qs, ks, vs, causal):
    ins = [randn(*qs, dtype=dtype), randn(*ks, dtype=dtype, seed=1),
           randn(*vs, dtype=dtype, seed=2)]
    check(_sdpa(EF, is_causal=causal), _sdpa(TF, is_causal=causal), ins)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_masks(dtype):
    q, k, v = randn(2, 3, 4, 8, dtype=dtype), randn(2, 3, 6, 8, dtype=dtype, seed=1), \
        randn(2, 3, 6, 5, dtype=dtype, seed=2)
    bmask = rand(2, 1, 4, 6, seed=3) > -0.3  # broadcast over heads
    bmask[0, 0, 1] = False  # a fully masked row: zeros out, zero gradients (torch's behaviour)
    bmask2 = rand(4, 6, seed=4) > 0
    bmask2[:, 0] = True
    fmask = randn(4, 6, dtype=dtype, seed=5)
    fmask[2] = -np.inf
    for m in (bmask, bmask2):
        check(_sdpa(EF, attn_mask=E(m)), _sdpa(TF, attn_mask=T(m)), [q, k, v])
    check(_sdpa(EF), _sdpa(TF), [q, k, v, fmask])  # additive float mask, with its gradient
    check(_sdpa(EF, scale=0.3), _sdpa(TF, scale=0.3), [q, k, v, randn(1, 3, 1, 6, dtype=dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_gqa(dtype):
    q, k, v = randn(2, 6, 4, 8, dtype=dtype), randn(2, 3, 5, 8, dtype=dtype, seed=1), \
        randn(2, 2, 5, 4, dtype=dtype, seed=2)
    check(_sdpa(EF, enable_gqa=True), _sdpa(TF, enable_gqa=True), [q, k, v])
    check(_sdpa(EF, enable_gqa=True, is_causal=True), _sdpa(TF, enable_gqa=True, is_causal=True),
          [q, k, v[:, :1]])
    m = rand(4, 5, seed=6) > 0
    check(_sdpa(EF, enable_gqa=True, attn_mask=E(m)), _sdpa(TF, enable_gqa=True, attn_mask=T(m)),
          [q[0], k[0], v[0]])


def test_sdpa_causal_combined_with_mask():
    # torch's CPU kernel applies both (its math reference raises instead); ember applies both
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 5, 8, seed=1), randn(2, 3, 5, 8, seed=2)
    m = rand(4, 5, seed=3) > -0.2
    m[:, 0] = True
    with torch.no_grad():
        ref = TF.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(m), is_causal=True)
    check(_sdpa(EF, is_causal=True, attn_mask=E(m)),
          _sdpa(TF, attn_mask=T(m & np.tri(4, 5, dtype=bool))), [q, k, v])
    out = EF.scaled_dot_product_attention(E(q), E(k), E(v), attn_mask=E(m), is_causal=True)
    np.testing.assert_allclose(out.data, ref.numpy(), atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_blocked_batches(dtype, monkeypatch):
    from ember.nn.functional import attention as att
    monkeypatch.setattr(att, "_CHUNK", 2 * 3 * 4 * 6)  # blocks of 2 batch entries, one partial
    q = randn(5, 3, 4, 8, dtype=dtype)
    k, v = randn(5, 3, 6, 8, dtype=dtype, seed=1), randn(5, 3, 6, 5, dtype=dtype, seed=2)
    check(_sdpa(EF, is_causal=True), _sdpa(TF, is_causal=True), [q, k, v])
    for m in (randn(1, 3, 4, 6, dtype=dtype, seed=3), randn(5, 1, 4, 6, dtype=dtype, seed=4)):
        check(_sdpa(EF), _sdpa(TF), [q, k, v, m])  # the mask's gradient summed over blocks
    check(_sdpa(EF, enable_gqa=True), _sdpa(TF, enable_gqa=True), [q, k[:, :1], v])
    # two batch dims, flattened; a mask broadcast over the second one is copied per entry
    q6, k6 = randn(2, 3, 2, 4, 8, dtype=dtype), randn(1, 3, 2, 6, 8, dtype=dtype, seed=1)
    m6 = randn(2, 1, 1, 4, 6, dtype=dtype, seed=5)
    check(_sdpa(EF), _sdpa(TF), [q6, k6, k6[..., :5], m6])


def test_sdpa_empty_lengths():
    check(_sdpa(EF), _sdpa(TF), [randn(2, 0, 4), randn(2, 3, 4, seed=1), randn(2, 3, 4, seed=2)])
    check(_sdpa(EF), _sdpa(TF), [randn(2, 3, 4), randn(2, 0, 4, seed=1), randn(2, 0, 4, seed=2)])


def test_sdpa_gradcheck():
    q, k, v, m = leaf64(randn(2, 3, 4), randn(2, 5, 4, seed=1), randn(2, 5, 3, seed=2),
                        randn(3, 5, seed=3))
    assert gradcheck(lambda q, k, v, m: EF.scaled_dot_product_attention(q, k, v, m),
                     [q, k, v, m])
    q, k, v = leaf64(randn(1, 4, 3, 4), randn(1, 2, 5, 4, seed=1), randn(1, 2, 5, 3, seed=2))
    assert gradcheck(lambda q, k, v: EF.scaled_dot_product_attention(
        q, k, v, is_causal=True, enable_gqa=True), [q, k, v])


def test_sdpa_dropout():
    q, k, v = randn(2, 4, 6, 8), randn(2, 4, 7, 8, seed=1), randn(2, 4, 7, 5, seed=2)
    z = EF.scaled_dot_product_attention(E(q), E(k), E(v), dropout_p=1.0)
    assert not z.data.any()
    # dropout is unbiased: the mean over many draws approaches the dropout-free output
    ref = TF.scaled_dot_product_attention(T(q), T(k), T(v)).numpy()
    ember.manual_seed(0)
    acc = sum(EF.scaled_dot_product_attention(E(q), E(k), E(v), dropout_p=0.5).data
              for _ in range(400)) / 400
    assert np.abs(acc - ref).mean() < 0.05 < np.abs(
        EF.scaled_dot_product_attention(E(q), E(k), E(v), dropout_p=0.5).data - ref).mean()
    qd, kd, vd = leaf64(q[0, :2], k[0, :2], v[0, :2])

    def fn(q, k, v):
        ember.manual_seed(1)
        return EF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert gradcheck(fn, [qd, kd, vd])


def test_sdpa_errors():
    q, k, v = randn(2, 6, 4, 8), randn(2, 4, 5, 8, seed=1), randn(2, 4, 5, 8, seed=2)
    check_raises(_sdpa(EF, enable_gqa=True), _sdpa(TF, enable_gqa=True), [q, k, v],
                 match="must divide")
    check_raises(_sdpa(EF), _sdpa(TF), [q, k, v], match="enable_gqa")
    check_raises(_sdpa(EF), _sdpa(TF), [randn(8), randn(8), randn(8)], match="2 dimensional")
    check_raises(_sdpa(EF), _sdpa(TF), [randn(4, 8), randn(5, 8, dtype="float64"),
                                        randn(5, 8)], match="same dtype")
    check_raises(_sdpa(EF, attn_mask=E(np.ones((4, 5), np.int64))),
                 _sdpa(TF, attn_mask=T(np.ones((4, 5), np.int64))),
                 [randn(4, 8), randn(5, 8), randn(5, 8)], match="attn_mask dtype")
    check_raises(_sdpa(EF, attn_mask=E(np.ones((4, 4), bool))),
                 _sdpa(TF, attn_mask=T(np.ones((4, 4), bool))),
                 [randn(4, 8), randn(5, 8), randn(5, 8)], match=r"\[4, 4\]")
    check_raises(_sdpa(EF, dropout_p=1.5), _sdpa(TF, dropout_p=1.5),
                 [randn(4, 8), randn(5, 8), randn(5, 8)], match="between 0 and 1")
    check_raises(_sdpa(EF), _sdpa(TF), [randn(4, 8), randn(5, 7), randn(5, 8)],
                 match="embedding size")


# ---------------------------------------------------------------------------- cross-entropy, nll
def _ce(F, lib, target, **kw):
    w = kw.pop("weight", None)
    return lambda x: F.cross_entropy(x, lib(target), weight=None if w is None else lib(w), **kw)


CE_TARGETS = {  # input shape -> class-index target (some entries equal the default ignore_index)
    (6, 5): np.array([1, 0, 4, -100, 2, 4]),
    (5,): np.array(3),
    (2, 5, 3, 2): np.array([[[0, 4], [-100, 2], [1, 1]], [[3, 3], [0, -100], [4, 2]]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(CE_TARGETS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(dtype, shape, reduction, smoothing, weighted):
    t = CE_TARGETS[shape]
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kw["weight"] = rand(5, dtype=dtype, low=0.2, high=2.0, seed=7)
    check(_ce(EF, E, t, **kw), _ce(TF, T, t, **dict(kw)), [randn(*shape, dtype=dtype) * 2])
    check(lambda x: EF.nll_loss(x, E(t), None if not weighted else E(kw["weight"]),
                                reduction=reduction),
          lambda x: TF.nll_loss(x, T(t), None if not weighted else T(kw["weight"]),
                                reduction=reduction), [randn(*shape, dtype=dtype)])


@pytest.mark.parametrize("kw", [{"ignore_index": 2}, {"ignore_index": 2, "label_smoothing": 0.1,
                                                      "weight": np.linspace(0.5, 2, 5)}])
def test_cross_entropy_in_range_ignore_index(kw):
    t = np.array([2, 0, 2, 4, 1])
    kw = {k: (v.astype("float64") if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    check(_ce(EF, E, t, **dict(kw)), _ce(TF, T, t, **dict(kw)), [randn(5, 5, dtype="float64")])


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_all_ignored_is_nan_with_zero_grad(smoothing):
    t = np.full(4, -100)
    e, _ = check(_ce(EF, E, t, label_smoothing=smoothing), _ce(TF, T, t, label_smoothing=smoothing),
                 [randn(4, 3)])
    assert np.isnan(e.item())
    check(_ce(EF, E, t, reduction="sum"), _ce(TF, T, t, reduction="sum"), [randn(4, 3)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities(dtype, reduction, smoothing, weighted):
    w = rand(4, dtype=dtype, low=0.2, high=2.0, seed=7) if weighted else None
    for shape in [(5, 4), (4,), (2, 4, 3)]:
        p = rand(*shape, dtype=dtype, low=0.0, high=1.0, seed=3)
        p /= p.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
        ew, tw = (None, None) if w is None else (E(w), T(w))
        check(lambda x, t, ew=ew: EF.cross_entropy(x, t, ew, reduction=reduction,
                                                   label_smoothing=smoothing),
              lambda x, t, tw=tw: TF.cross_entropy(x, t, tw, reduction=reduction,
                                                   label_smoothing=smoothing),
              [randn(*shape, dtype=dtype), p])  # gradients w.r.t. the target too


def test_cross_entropy_large_logits_chunks_and_empty(monkeypatch):
    from ember.nn.functional import loss as loss_mod
    monkeypatch.setattr(loss_mod, "_CHUNK", 20000)  # 4 rows per chunk: 4 chunks, one partial
    x = randn(13, 5000) * 30
    x[3, 7] = 1e4  # one dominant logit: log-sum-exp must not overflow
    t = np.arange(13) * 37 % 5000
    t[5] = 7
    check(_ce(EF, E, t), _ce(TF, T, t), [x], grad_atol=1e-7)
    check(_ce(EF, E, t, label_smoothing=0.1), _ce(TF, T, t, label_smoothing=0.1), [x],
          grad_atol=1e-7)
    for red in ["mean", "sum", "none"]:
        check(_ce(EF, E, np.zeros(0, np.int64), reduction=red),
              _ce(TF, T, np.zeros(0, np.int64), reduction=red), [randn(0, 4)])


def test_cross_entropy_backward_twice_with_retain_graph():
    # forward keeps exp(x - max) and the first backward turns it into the gradient in place;
    # a second backward must recompute, not reuse it
    x = ember.tensor(randn(4, 5), requires_grad=True)
    loss = EF.cross_entropy(x, E(np.array([1, 2, 3, 4])), label_smoothing=0.1)
    loss.backward(retain_graph=True)
    g1 = x.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * g1, rtol=1e-6)
    with ember.no_grad():  # nothing kept for backward
        assert EF.cross_entropy(ember.tensor(randn(4, 5)), E(np.array([1, 2, 3, 4]))).grad_fn \
            is None


def test_cross_entropy_non_contiguous_logits():
    t = np.array([1, 0, 4, 2])
    check(lambda x: EF.cross_entropy(x.transpose(0, 1), E(t), label_smoothing=0.1),
          lambda x: TF.cross_entropy(x.transpose(0, 1), T(t), label_smoothing=0.1),
          [randn(5, 4, dtype="float64")])
    check(lambda x: EF.nll_loss(x[:, ::2], E(t % 3)), lambda x: TF.nll_loss(x[:, ::2], T(t % 3)),
          [randn(4, 6, dtype="float64")])


def test_cross_entropy_uint8_target_and_gradcheck():
    t = np.array([1, 0, 2], dtype=np.uint8)
    check(_ce(EF, E, t), _ce(TF, T, t), [randn(3, 3)])
    (x,) = leaf64(randn(4, 5))
    w = E(np.linspace(0.5, 1.5, 5))
    t = E(np.array([1, -100, 4, 1]))
    assert gradcheck(lambda x: EF.cross_entropy(x, t, w, label_smoothing=0.15), [x])
    x, p = leaf64(randn(2, 5, 3), rand(2, 5, 3, low=0, seed=1))
    assert gradcheck(lambda x, p: EF.cross_entropy(x, p, label_smoothing=0.1, weight=w), [x, p])


def test_cross_entropy_errors():
    x = randn(4, 5)

    def both(fn_kw, target, match, inp=x):
        check_raises(lambda x, t: EF.cross_entropy(x, t, **fn_kw),
                     lambda x, t: TF.cross_entropy(x, t, **fn_kw), [inp, target], match=match)
    both({}, np.array([1, 2, 3, 4], np.int32), "Long or Byte.*int32")
    both({}, np.array([1, 2, 3, 5]), "Target 5 is out of bounds")
    both({}, np.array([1, 2, -1, 0]), "Target -1 is out of bounds")
    both({}, np.array([1, 2, 3]), r"batch_size \(4\).*batch_size \(3\)")
    both({}, np.ones((4, 5), np.int64), "floating point type for target")
    both({}, rand(4, 6), "multi-target")
    both({"label_smoothing": 1.5}, np.array([1, 2, 3, 4]), "label_smoothing")
    both({"reduction": "avg"}, np.array([1, 2, 3, 4]), "not a valid value for reduction")
    both({}, np.zeros((2, 4), np.int64), r"Expected target size \[2, 3\]", inp=randn(2, 5, 3))
    check_raises(lambda x, t, w: EF.cross_entropy(x, t, w), lambda x, t, w: TF.cross_entropy(
        x, t, w), [x, np.array([1, 2, 3, 4]), rand(3)], match="all 5 classes")
    check_raises(lambda x, t: EF.nll_loss(x, t), lambda x, t: TF.nll_loss(x, t),
                 [x, np.array([0, 0, 9, 0])], match="Target 9")


# ---------------------------------------------------------------------------- pointwise losses
POINTWISE = [
    ("mse", lambda F: F.mse_loss, {}),
    ("l1", lambda F: F.l1_loss, {}),
    ("smooth_l1", lambda F: F.smooth_l1_loss, {}),
    ("smooth_l1_beta", lambda F: (lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.3, **k)), {}),
    ("smooth_l1_beta0", lambda F: (lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.0, **k)), {}),
    ("kl", lambda F: F.kl_div, {"target": (0.0, 1.0)}),
    ("kl_log", lambda F: (lambda x, t, **k: F.kl_div(x, t, log_target=True, **k)), {}),
    ("bce_logits", lambda F: F.binary_cross_entropy_with_logits, {"target": (0.0, 1.0)}),
    ("bce", lambda F: F.binary_cross_entropy, {"input": (0.01, 0.99), "target": (0.0, 1.0)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,ranges", POINTWISE, ids=[p[0] for p in POINTWISE])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses(dtype, name, fn, ranges, reduction):
    lo, hi = ranges.get("input", (-2.0, 2.0))
    x = rand(3, 4, dtype=dtype, low=lo, high=hi)
    t = rand(3, 4, dtype=dtype, low=ranges.get("target", (-2, 2))[0],
             high=ranges.get("target", (-2, 2))[1], seed=1)
    t[0, :2] = x[0, :2] if name.startswith(("mse", "l1", "smooth")) else t[0, :2]  # ties at 0
    t[1, 0] = 0.0 if name == "kl" else t[1, 0]  # 0 * log 0: torch's xlogy (NaN target grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda x, t: fn(EF)(x, t, reduction=reduction),
              lambda x, t: fn(TF)(x, t, reduction=reduction), [x, t])


def test_empty_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the mean of an empty tensor
        for red in ("mean", "sum", "none"):
            for ef, tf in ((EF.mse_loss, TF.mse_loss), (EF.l1_loss, TF.l1_loss),
                           (EF.binary_cross_entropy_with_logits,
                            TF.binary_cross_entropy_with_logits)):
                check(lambda x, t, f=ef, r=red: f(x, t, reduction=r),
                      lambda x, t, f=tf, r=red: f(x, t, reduction=r),
                      [randn(0, 3), randn(0, 3, seed=1)])
    check(lambda w: EF.embedding(E(np.zeros((2, 0), np.int64)), w),
          lambda w: TF.embedding(T(np.zeros((2, 0), np.int64)), w), [randn(4, 3)])


def test_pointwise_broadcast_and_weights():
    x, t = randn(3, 4, dtype="float64"), randn(4, dtype="float64", seed=1)
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss"):
        with pytest.warns(UserWarning, match="target size"):
            check(getattr(EF, name), getattr(TF, name), [x, t])
    w = rand(3, 4, dtype="float64", low=0, seed=2)
    for ef, tf in ((EF.mse_loss, TF.mse_loss), (EF.l1_loss, TF.l1_loss)):
        for red in ("mean", "sum", "none"):
            kw = {"reduction": red}
            check(lambda x, t, f=ef, kw=kw: f(x, t, weight=E(w), **kw),
                  lambda x, t, f=tf, kw=kw: f(x, t, weight=T(w), **kw),
                  [x, randn(3, 4, dtype="float64", seed=3)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_weights_and_extremes(dtype):
    x = randn(4, 3, dtype=dtype) * 3
    x[0] = [60.0, -60.0, 0.0]  # saturated logits
    t = rand(4, 3, dtype=dtype, low=0, high=1, seed=1)
    w, pw = rand(4, 3, dtype=dtype, low=0.5, seed=2), rand(3, dtype=dtype, low=0.5, seed=3)
    for kw in ({"weight": w}, {"pos_weight": pw}, {"weight": w[0], "pos_weight": pw}):
        ek, tk = {k: E(v) for k, v in kw.items()}, {k: T(v) for k, v in kw.items()}
        check(lambda x, t, ek=ek: EF.binary_cross_entropy_with_logits(x, t, **ek),
              lambda x, t, tk=tk: TF.binary_cross_entropy_with_logits(x, t, **tk), [x, t])
    p = np.array([[0.0, 1.0, 0.5], [1e-30, 1 - 1e-7, 0.3]], dtype=dtype)  # log clamps at -100
    tp = np.array([[1.0, 0.0, 0.5], [0.5, 1.0, 0.0]], dtype=dtype)
    check(lambda p: EF.binary_cross_entropy(p, E(tp), E(w[:2])),
          lambda p: TF.binary_cross_entropy(p, T(tp), T(w[:2])), [p])
    check(EF.binary_cross_entropy, TF.binary_cross_entropy, [p[1:], tp[1:]])  # target grads


def test_kl_div_batchmean_and_loss_gradchecks():
    x = np.log(rand(3, 4, dtype="float64", low=0.05, high=1))
    t = rand(3, 4, dtype="float64", low=0.05, high=1, seed=1)
    for lt in (False, True):
        kw = {"reduction": "batchmean", "log_target": lt}
        check(lambda x, t, kw=kw: EF.kl_div(x, t, **kw),
              lambda x, t, kw=kw: TF.kl_div(x, t, **kw), [x, t])
    with pytest.warns(UserWarning, match="batchmean"):
        EF.kl_div(E(x), E(t))
    xs = leaf64(randn(3, 4), rand(3, 4, low=0.1, seed=1), randn(3, 4, seed=2))
    assert gradcheck(lambda x, t: EF.binary_cross_entropy_with_logits(
        x, t, pos_weight=E(np.array([1.0, 2.0, 0.5, 3.0]))), xs[:2])
    assert gradcheck(lambda x, t: EF.smooth_l1_loss(x, t, beta=0.5), [xs[0], xs[2]])
    assert gradcheck(lambda x, t: EF.kl_div(x, t, reduction="sum"), xs[:2])
    assert gradcheck(lambda x, t: EF.mse_loss(x, t), [xs[0], xs[2]])
    assert gradcheck(lambda x: EF.nll_loss(x, E(np.array([0, 3, -100]))), xs[:1])
    p, t = leaf64(rand(3, 4, low=0.1, high=0.9, seed=4), rand(3, 4, low=0, high=1, seed=5))
    assert gradcheck(lambda p, t: EF.binary_cross_entropy(p, t, E(np.linspace(0.5, 2, 4))),
                     [p, t])


def test_pointwise_errors():
    x = rand(3, low=0.1, high=0.9)
    check_raises(lambda x, t: EF.smooth_l1_loss(x, t, beta=-1.0),
                 lambda x, t: TF.smooth_l1_loss(x, t, beta=-1.0), [x, x], match="negative")
    check_raises(EF.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                 [x, rand(3, 1)], match="must be the same as input size")
    check_raises(EF.binary_cross_entropy, TF.binary_cross_entropy, [x, rand(3, 1)],
                 match="different to the input size")
    check_raises(EF.binary_cross_entropy, TF.binary_cross_entropy,
                 [np.array([1.5], np.float32), np.array([1.0], np.float32)],
                 match="between 0 and 1")
    with pytest.warns(UserWarning):
        check_raises(EF.mse_loss, TF.mse_loss, [randn(3, 2), randn(4)], match="broadcast")
    w = ember.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        EF.binary_cross_entropy(E(x), E(x), w)
    with pytest.raises(ValueError, match="not a valid value"):
        EF.mse_loss(E(x), E(x), reduction="batchmean")
