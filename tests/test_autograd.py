"""Engine semantics: accumulation, hooks, retain_grad, retain_graph, in-place misuse, grad modes,
deep graphs — each behaviour checked against what PyTorch does in the same situation."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import ember
from harness import assert_close, rand


def both(x: np.ndarray, requires_grad: bool = True):
    return (ember.tensor(x.copy(), requires_grad=requires_grad),
            torch.tensor(x.copy(), requires_grad=requires_grad))


def test_grad_accumulates_across_backward_calls():
    e, t = both(rand(3))
    for _ in range(3):
        (e * e).sum().backward()
        (t * t).sum().backward()
    assert_close(e.grad, t.grad, 1e-6, 1e-6)


def test_only_leaves_keep_grad_and_retain_grad():
    e, t = both(rand(3))
    ey, ty = e * 2, t * 2
    ez, tz = ey.exp(), ty.exp()
    ez.retain_grad()
    tz.retain_grad()
    (ez * ey).sum().backward()
    (tz * ty).sum().backward()
    assert ey.grad is None
    with pytest.warns(UserWarning, match="not a leaf"):  # torch warns on this access; ember not
        assert ty.grad is None
    assert_close(ez.grad, tz.grad, 1e-6, 1e-6)
    assert_close(e.grad, t.grad, 1e-6, 1e-6)
    assert ez.retains_grad and not ey.retains_grad and not ey.is_leaf and e.is_leaf


def test_backward_with_gradient_argument_and_nonscalar_error():
    e, t = both(rand(2, 3))
    g = rand(2, 3, seed=1)
    (e * 3).backward(ember.tensor(g))
    (t * 3).backward(torch.tensor(g))
    assert_close(e.grad, t.grad, 1e-6, 1e-6)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        (e * 3).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.tensor([1.0, 2.0]).sum().backward()
    with pytest.raises(RuntimeError, match="shape"):
        (e * 3).backward(ember.ones(3, 2))


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    e, _ = both(rand(3))
    y = (e.exp() * e).sum()
    y.backward(retain_graph=True)
    y.backward()
    t = torch.tensor(rand(3), requires_grad=True)
    ty = (t.exp() * t).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    assert_close(e.grad, t.grad, 1e-6, 1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError):
        ty.backward()


def test_graph_without_saved_values_can_be_walked_twice_like_torch():
    e, t = both(rand(3))
    ye, yt = (e + 1).sum(), (t + 1).sum()
    ye.backward()
    ye.backward()
    yt.backward()
    yt.backward()
    assert_close(e.grad, t.grad, 0, 0)


def test_hooks_on_leaf_and_intermediate():
    seen = []
    e, t = both(rand(3))
    h = e.register_hook(lambda g: g * 2)
    t.register_hook(lambda g: g * 2)
    ye, yt = e * 3, t * 3
    ye.register_hook(lambda g: seen.append(g.numpy().copy()))
    yt.register_hook(lambda g: g + 1)
    ye.register_hook(lambda g: g + 1)
    ye.sum().backward()
    yt.sum().backward()
    assert_close(e.grad, t.grad, 1e-6, 1e-6)
    np.testing.assert_allclose(seen[0], np.ones(3))
    h.remove()
    e.grad = None
    (e * 3).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), 3 * np.ones(3))


def test_hook_requires_grad_error():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_hook(lambda g: g)


def test_inplace_on_leaf_requiring_grad_raises():
    e, t = both(rand(3))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        e.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        t.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        e[0] = 2.0
    with ember.no_grad():
        e.add_(1)  # allowed: this is how optimizers update parameters
        e[0] = 5.0
    assert e.data[0] == 5.0


def test_inplace_modification_of_saved_tensor_raises_at_backward():
    e, t = both(rand(3))
    ye, yt = e * 2, t * 2
    ze, zt = ye.exp(), yt.exp()  # exp saves its output
    ze.mul_(2)
    zt.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ze.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        zt.sum().backward()
    e2, t2 = both(rand(3))
    ye2, yt2 = e2 * 1, t2 * 1
    we, wt = ye2 * ye2, yt2 * yt2  # mul saves its inputs
    ye2.add_(1)
    yt2.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        we.sum().backward()
    with pytest.raises(RuntimeError, match="inplace"):
        wt.sum().backward()


def test_inplace_on_intermediate_records_history_like_torch():
    def add_relu(y):
        y.add_(1).relu_()
        return y

    def mul_exp(y):
        y.mul_(3)
        y.exp_()
        return y

    def sigmoid_then_add(y):
        z = y.sigmoid()
        y.add_(1)
        return z * y

    for f in (add_relu, mul_exp, sigmoid_then_add):
        e, t = both(rand(2, 3))
        f(e * 2).sum().backward()
        f(t * 2).sum().backward()
        assert_close(e.grad, t.grad, 1e-6, 1e-6)
    e2, t2 = both(rand(2, 3))
    ye, yt = e2 * 1, t2 * 1
    ye[0] = ye[1] * 3
    yt[0] = yt[1] * 3
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    assert_close(e2.grad, t2.grad, 1e-6, 1e-6)


def test_inplace_that_needs_its_own_old_value_is_correct():
    # torch refuses y.mul_(y) (it saved y, then y changed); ember keeps a copy of the old value
    # and gives the true gradient d(y*y)/dy = 2y
    x = ember.tensor(rand(3), requires_grad=True)
    y = x * 2
    y.mul_(y)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.data, rtol=1e-6)


def test_setitem_with_value_requiring_grad():
    e_v, t_v = both(rand(2))
    base_e, base_t = ember.zeros(3, 2), torch.zeros(3, 2)
    base_e[1] = e_v * 2
    base_t[1] = t_v * 2
    (base_e * ember.tensor(rand(3, 2, seed=1))).sum().backward()
    (base_t * torch.tensor(rand(3, 2, seed=1))).sum().backward()
    assert_close(e_v.grad, t_v.grad, 1e-6, 1e-6)


def test_detach_shares_data_and_stops_gradient():
    e, _ = both(rand(3))
    d = e.detach()
    assert d.data is e.data and not d.requires_grad
    (e * d).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), e.data)


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2]).requires_grad_()
    y = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    assert y.requires_grad and not y.is_leaf


def test_no_grad_enable_grad_set_grad_enabled_and_decorators():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ember.enable_grad():
            assert (x * 2).requires_grad
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()

    @ember.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and ember.is_grad_enabled()
    with ember.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    ember.set_grad_enabled(False)
    assert not ember.is_grad_enabled()
    ember.set_grad_enabled(True)
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    try:
        with ember.no_grad():
            raise ValueError
    except ValueError:
        pass
    assert ember.is_grad_enabled()  # restored after an exception too


def test_deep_chain_does_not_hit_recursion_limit():
    n = 20_000
    assert n > sys.getrecursionlimit()
    x = ember.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    expected = float(np.float32(1.0001)) ** n  # the float32 factor, compounded exactly
    np.testing.assert_allclose(x.grad.numpy(), [expected], rtol=1e-4)
    # and a deep graph of 20k ops also prints/traverses
    assert y.grad_fn is not None


def test_diamond_graph_and_shared_subexpressions():
    e, t = both(rand(4))
    fe, ft = e.tanh(), t.tanh()
    ze, zt = fe * fe.exp() + fe.sin() * fe, ft * ft.exp() + ft.sin() * ft
    ze.sum().backward()
    zt.sum().backward()
    assert_close(e.grad, t.grad, 1e-6, 1e-6)


def test_multiple_roots_autograd_backward_and_grad():
    e, t = both(rand(3))
    a_e, b_e = e * 2, e.exp()
    a_t, b_t = t * 2, t.exp()
    ember.autograd.backward([a_e.sum(), b_e.sum()])
    torch.autograd.backward([a_t.sum(), b_t.sum()])
    assert_close(e.grad, t.grad, 1e-6, 1e-6)
    e2, t2 = both(rand(3))
    (ge,) = ember.autograd.grad((e2 ** 3).sum(), e2)
    (gt,) = torch.autograd.grad((t2 ** 3).sum(), t2)
    assert_close(ge, gt, 1e-6, 1e-6)
    assert e2.grad is None


def test_tied_embedding_gradient_goes_straight_into_grad_like_torch():
    """A weight used as embedding (row-sparse gradient) and as output projection: its .grad is
    the sum of both, accumulated in place; hooks see the summed gradient once; the padding row
    gets only the dense part; a second backward adds on."""
    w = rand(11, 4)
    ids = np.array([[1, 3, 3, 0], [7, 0, 10, 3]])
    seen = {}

    def run(mod, hook):
        wt = mod.tensor(w, requires_grad=True)
        if hook:
            wt.register_hook(lambda g: seen.__setitem__(mod.__name__, g.numpy().copy()))
        for _ in range(2):
            h = mod.nn.functional.embedding(mod.tensor(ids), wt, padding_idx=0)
            (mod.nn.functional.linear(h.tanh(), wt) ** 2).sum().backward()
        return wt.grad.numpy()

    for hook in (False, True):
        assert_close(run(ember, hook), run(torch, hook), 1e-5, 1e-5)
    assert_close(seen["ember"], seen["torch"], 1e-5, 1e-5)


def test_autograd_grad_leaves_optimizer_gradient_storage_alone():
    p = ember.nn.Parameter(ember.tensor(rand(5)))
    opt = ember.optim.AdamW([p], lr=0.1)
    (p * 3).sum().backward()
    opt.step()  # p.grad now lives in the optimizer's flat buffer
    before = p.grad.numpy().copy()
    (g,) = ember.autograd.grad((p * 7).sum(), p)
    np.testing.assert_array_equal(g.numpy(), np.full(5, 7.0, np.float32))
    np.testing.assert_array_equal(p.grad.numpy(), before)


def test_gradients_written_into_optimizer_storage_match_torch():
    """After an optimizer step, Linear writes weight/bias gradients straight into the flat
    gradient storage; a parameter that is two inputs of one op (linear(w, w)) still gets both
    parts, and micro-batch accumulation adds on."""
    w0, b0, x0 = rand(4, 4), rand(4), rand(3, 4)

    def run(mod):
        w, b = mod.nn.Parameter(mod.tensor(w0)), mod.nn.Parameter(mod.tensor(b0))
        opt = mod.optim.AdamW([w, b], lr=0.1)
        grads = []
        for _ in range(3):
            opt.zero_grad()
            for _ in range(2):  # two micro-batches
                F = mod.nn.functional
                (F.linear(w, w, b) ** 2).sum().backward()
                (F.linear(F.linear(mod.tensor(x0), w, b), w) ** 2).sum().backward()
            grads.append((w.grad.detach().numpy().copy(), b.grad.detach().numpy().copy()))
            opt.step()
        return grads

    for (we, be), (wt, bt) in zip(run(ember), run(torch)):
        assert_close(we, wt, 1e-4, 1e-4)
        assert_close(be, bt, 1e-4, 1e-4)


def test_grad_and_backward_inputs_touch_only_the_given_tensors_like_torch():
    x0, w0, b0 = rand(3, 4), rand(5, 4), rand(5)

    def run(mod):
        x = mod.tensor(x0, requires_grad=True)
        w, b = mod.nn.Parameter(mod.tensor(w0)), mod.nn.Parameter(mod.tensor(b0))

        def loss():
            h = mod.nn.functional.linear(x, w, b)
            return (h.tanh() * h).sum(), h

        (gx,) = mod.autograd.grad(loss()[0], x)  # a gradient penalty's first step
        assert w.grad is None and b.grad is None and x.grad is None
        out, h = loss()
        out.backward(inputs=[w, h])  # a non-leaf input keeps its gradient too
        assert x.grad is None and b.grad is None
        mod.autograd.backward([loss()[0]], inputs=[b])
        return gx, w.grad, b.grad, h.grad

    for e, t in zip(run(ember), run(torch)):
        assert_close(e, t, 1e-5, 1e-5)


def test_grad_dtype_follows_input_dtype():
    x32 = ember.tensor(rand(3), requires_grad=True)
    x64 = ember.tensor(rand(3, dtype="float64"), requires_grad=True)
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


def test_no_grad_flows_into_integer_or_constant_inputs():
    x = ember.tensor(rand(3), requires_grad=True)
    idx = ember.tensor([0, 2])
    y = x[idx] * ember.tensor([1.0, 2.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 2.0])
    assert idx.grad is None


def test_tensor_basics_match_torch():
    arr = rand(2, 3)
    e, t = ember.tensor(arr), torch.tensor(arr)
    assert tuple(e.shape) == tuple(t.shape) and e.ndim == t.ndim and e.numel() == t.numel()
    assert e.size(1) == t.size(1) and e.dim() == t.dim() and len(e) == len(t)
    assert e.tolist() == t.tolist()
    assert e[0, 1].item() == t[0, 1].item()
    assert ember.tensor(3.5).item() == 3.5
    with pytest.raises(RuntimeError):
        e.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(e)
    assert [r.tolist() for r in e] == [r.tolist() for r in t]
    assert e.T.shape == t.T.shape and e.mT.shape == t.mT.shape
    assert e.is_contiguous() and not e.T.is_contiguous()
    assert str(e.device) == "cpu" and e.to("cpu") is e
    with pytest.raises(RuntimeError, match="cuda"):
        e.to("cuda")
    assert repr(ember.zeros(2)) == "tensor([0., 0.])" == repr(torch.zeros(2))
    assert "grad_fn=<MulBackward>" in repr(ember.ones(2, requires_grad=True) * 2)
    assert "requires_grad=True" in repr(ember.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="requires grad"):
        ember.ones(2, requires_grad=True).numpy()


def test_creation_functions_match_torch():
    pairs = [
        (ember.zeros(2, 3), torch.zeros(2, 3)), (ember.ones((2, 3)), torch.ones((2, 3))),
        (ember.full((2, 2), 7), torch.full((2, 2), 7)),
        (ember.full((2,), 1.5), torch.full((2,), 1.5)),
        (ember.arange(5), torch.arange(5)), (ember.arange(1, 4, 0.5), torch.arange(1, 4, 0.5)),
        (ember.arange(0, 1, 0.1), torch.arange(0, 1, 0.1)),
        (ember.linspace(0, 1, 7), torch.linspace(0, 1, 7)), (ember.eye(3), torch.eye(3)),
        (ember.eye(2, 4), torch.eye(2, 4)), (ember.empty(2, 0), torch.empty(2, 0)),
        (ember.tensor([1, 2]), torch.tensor([1, 2])),
        (ember.tensor([1.0, 2]), torch.tensor([1.0, 2])),
        (ember.tensor([[True], [False]]), torch.tensor([[True], [False]])),
        (ember.tensor(np.arange(3.0)), torch.tensor(np.arange(3.0))),
        (ember.zeros(2, dtype=ember.int64), torch.zeros(2, dtype=torch.int64)),
        (ember.ones(2, dtype=ember.float16), torch.ones(2, dtype=torch.float16)),
        (ember.zeros_like(ember.ones(2, 2, dtype=ember.float64)),
         torch.zeros_like(torch.ones(2, 2, dtype=torch.float64))),
        (ember.full_like(ember.ones(2), 3), torch.full_like(torch.ones(2), 3)),
        (ember.tensor([1, 2]) / 2, torch.tensor([1, 2]) / 2),
        (ember.tensor([1, 2]) * 1.5, torch.tensor([1, 2]) * 1.5),
    ]
    for e, t in pairs:
        assert e.dtype == t.numpy().dtype, (e.dtype, t.dtype)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)
    assert ember.randn(3, 4).dtype == np.float32 and ember.rand(2, dtype=ember.float64).dtype \
        == np.float64
    r = ember.randint(0, 10, (1000,))
    assert r.dtype == np.int64 and r.min().item() >= 0 and r.max().item() <= 9
    assert ember.randint(5, (3,)).shape == (3,)
    assert sorted(ember.randperm(6).tolist()) == list(range(6))


def test_manual_seed_reproducible_and_generators_independent():
    ember.manual_seed(123)
    a = ember.randn(5)
    ember.manual_seed(123)
    b = ember.randn(5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g = ember.Generator().manual_seed(7)
    c = ember.rand(4, generator=g)
    d = ember.rand(4, generator=ember.Generator().manual_seed(7))
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    x = ember.zeros(1000)
    x.normal_(2.0, 0.5)
    assert abs(x.mean().item() - 2.0) < 0.1 and abs(x.std().item() - 0.5) < 0.1
    x.uniform_(-1, 1)
    assert x.min().item() >= -1 and x.max().item() < 1
    probs = ember.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    s = ember.multinomial(probs, 4, replacement=True)
    assert (s[0] == 1).all().item() and set(s[1].tolist()) <= {0, 2}


def test_views_share_the_version_counter():
    x = ember.ones(4)
    v = x[1:3]
    v2 = x.reshape(2, 2)
    with ember.no_grad():
        v.add_(1)
    assert x.data[1] == 2 and x._version[0] == v._version[0] == v2._version[0] == 1
