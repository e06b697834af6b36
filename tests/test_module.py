"""ember.nn.Module semantics vs torch.nn.Module: the same script runs on both libraries and the
observable results (names, orders, reprs, errors, values) must agree."""
import copy

import numpy as np
import pytest
import torch
from harness import assert_close, rand

import ember

LIBS = (torch, ember)


def _build(lib):
    """A nested model with a shared submodule, a tied weight, persistent, non-persistent and
    integer buffers."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.fc = nn.Linear(n, n)
            self.act = nn.Tanh()
            self.register_buffer("running", lib.zeros(n))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.register_buffer("steps", lib.zeros(1, dtype=lib.int64))

        def forward(self, x):
            return self.act(self.fc(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(2, 4, bias=False)
            self.blocks = nn.ModuleList([Block(4), Block(4)])
            self.shared = self.blocks[0]
            self.head = nn.Linear(4, 3)
            self.tied = nn.Linear(4, 3, bias=False)
            self.tied.weight = self.head.weight
            self.scale = nn.Parameter(lib.ones(1))
            self.seq = nn.Sequential(nn.ReLU(), nn.Flatten())

        def forward(self, x):
            h = self.embed(x)
            for b in self.blocks:
                h = b(h)
            h = self.shared(h)
            return (self.head(h) + self.tied(h)) * self.scale

    return Net()


def _pair():
    t, e = _build(torch), _build(ember)
    e.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return e, t


def _names(it):
    return [n for n, _ in it]


# ---------------------------------------------------------------------- traversal and naming
def test_named_members_order_and_dedup_match_torch():
    e, t = _pair()
    assert _names(e.named_parameters()) == _names(t.named_parameters())
    assert _names(e.named_buffers()) == _names(t.named_buffers())
    assert _names(e.named_modules()) == _names(t.named_modules())
    assert _names(e.named_children()) == _names(t.named_children())
    assert "tied.weight" not in _names(e.named_parameters())  # tied: listed once
    assert "shared" not in _names(e.named_modules())  # shared module: listed once
    assert _names(e.named_parameters(remove_duplicate=False)) == \
        _names(t.named_parameters(remove_duplicate=False))
    assert _names(e.named_modules(remove_duplicate=False)) == \
        _names(t.named_modules(remove_duplicate=False))
    assert _names(e.named_parameters(prefix="m", recurse=False)) == \
        _names(t.named_parameters(prefix="m", recurse=False))
    assert _names(e.blocks.named_buffers(prefix="b")) == _names(t.blocks.named_buffers(prefix="b"))
    assert len(list(e.parameters())) == len(list(t.parameters()))


def test_state_dict_keys_and_values_match_torch():
    e, t = _pair()
    es, ts = e.state_dict(), t.state_dict()
    assert list(es) == list(ts)
    assert "blocks.0.scratch" not in es and "blocks.0.running" in es  # non-persistent excluded
    for k in ts:
        assert_close(es[k], ts[k], 0, 0, k)
        assert not es[k].requires_grad
    assert es["blocks.0.steps"].dtype == np.int64
    kept = e.state_dict(keep_vars=True)
    assert kept["head.weight"] is e.head.weight and kept["tied.weight"] is e.head.weight


def test_forward_and_gradients_match_torch():
    e, t = _pair()
    x = rand(5, 2, seed=1)
    ye, yt = e(ember.tensor(x)), t(torch.from_numpy(x))
    assert_close(ye, yt, 1e-6, 1e-5, "output")
    ye.sum().backward()
    yt.sum().backward()
    for (n, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
        assert_close(pe.grad, pt.grad, 1e-5, 1e-5, n)


def test_repr_matches_torch():
    e, t = _pair()
    assert repr(e) == repr(t)
    assert repr(e.blocks) == repr(t.blocks)
    for lib in LIBS:
        m = lib.nn.Module()
        assert repr(m) == "Module()"


# ---------------------------------------------------------------------- registration
def test_setattr_registration_matches_torch():
    def script(lib):
        nn = lib.nn
        m = nn.Module()
        m.a = nn.Parameter(lib.zeros(2))
        m.b = nn.Parameter(lib.zeros(3))
        m.sub = nn.ReLU()
        m.other = nn.Tanh()
        m.plain = lib.zeros(4)  # a plain tensor attribute: not registered
        m.register_buffer("buf", lib.zeros(1))
        m.register_buffer("nobuf", None)
        m.a = nn.Parameter(lib.ones(2))  # re-assignment keeps the position
        m.sub = nn.Sigmoid()
        m.buf = lib.ones(1)  # a tensor assigned to a buffer name updates the buffer
        m.register_parameter("gone", None)
        out = [_names(m.named_parameters()), _names(m.named_buffers()), _names(m.named_children()),
               list(m.state_dict()), float(m.buf.sum()), type(m.sub).__name__,
               "plain" in dict(m.named_parameters()), m.gone is None, m.nobuf is None]
        m.other = nn.Parameter(lib.zeros(1))  # a module name re-bound to a parameter
        del m.b
        out += [_names(m.named_parameters()), _names(m.named_children())]
        with pytest.raises(TypeError):
            m.a = lib.zeros(2)  # a plain tensor cannot replace a Parameter
        with pytest.raises(TypeError):
            m.sub = lib.zeros(2)
        with pytest.raises(KeyError, match="already exists"):
            m.register_parameter("sub", None)
        with pytest.raises(KeyError, match="already exists"):
            m.register_buffer("a", lib.zeros(1))
        with pytest.raises(KeyError, match="already exists"):
            m.add_module("buf", nn.ReLU())
        with pytest.raises(KeyError):
            m.register_buffer("x.y", lib.zeros(1))
        with pytest.raises(KeyError):
            m.register_parameter("", None)
        with pytest.raises(TypeError):
            m.register_parameter("p", lib.zeros(1))
        with pytest.raises(AttributeError):
            _ = m.missing
        return out

    assert script(ember) == script(torch)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ember"])
def test_assignment_before_init_raises(lib):
    class Bad(lib.nn.Module):
        def __init__(self):
            self.w = lib.nn.Parameter(lib.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


# ---------------------------------------------------------------------- load_state_dict
def test_load_state_dict_reports_all_problems_and_copies_nothing():
    e, t = _pair()
    sd = {k: v.detach().numpy().copy() + 1 for k, v in t.state_dict().items()}
    del sd["head.bias"], sd["blocks.1.running"]
    sd["bogus.weight"] = np.zeros(2, np.float32)
    sd["embed.weight"] = np.zeros((5, 2), np.float32)
    before = {k: v.data.copy() for k, v in e.state_dict().items()}
    with pytest.raises(RuntimeError) as ee:
        e.load_state_dict(sd)
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    msg = str(ee.value)
    for needle in ("Missing key(s)", '"head.bias"', '"blocks.1.running"', "Unexpected key(s)",
                   '"bogus.weight"', "size mismatch for embed.weight", "[5, 2]", "[4, 2]"):
        assert needle in msg, needle
        if not needle.startswith("["):
            assert needle in str(te.value), needle
    assert msg.index("Missing") < msg.index("Unexpected") < msg.index("size mismatch")
    for k, v in e.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k], err_msg=f"{k} was modified")


def test_load_state_dict_non_strict_returns_keys_like_torch():
    e, t = _pair()
    sd = {k: v.detach().numpy().copy() * 2 for k, v in t.state_dict().items()}
    del sd["scale"]
    sd["extra"] = np.zeros(1, np.float32)
    er = e.load_state_dict(sd, strict=False)
    tr = t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=False)
    assert list(er.missing_keys) == list(tr.missing_keys) == ["scale"]
    assert list(er.unexpected_keys) == list(tr.unexpected_keys) == ["extra"]
    missing, unexpected = er
    assert missing == ["scale"] and unexpected == ["extra"]
    for k, v in t.state_dict().items():
        assert_close(e.state_dict()[k], v, 0, 0, k)
    # a shape mismatch is an error even when not strict
    bad = {"head.bias": np.zeros(7, np.float32)}
    with pytest.raises(RuntimeError, match="size mismatch for head.bias"):
        e.load_state_dict(bad, strict=False)
    with pytest.raises(RuntimeError, match="size mismatch for head.bias"):
        t.load_state_dict({"head.bias": torch.zeros(7)}, strict=False)


def test_load_state_dict_in_place_keeps_identity_and_accepts_tensors():
    e, _ = _pair()
    w = e.head.weight
    src = _build(ember)
    e.load_state_dict(src.state_dict())
    assert e.head.weight is w and e.tied.weight is w
    np.testing.assert_array_equal(w.data, src.head.weight.data)
    assert e.blocks[0].steps.dtype == np.int64


# ---------------------------------------------------------------------- modes and grads
def test_train_eval_propagate_and_return_self():
    for lib in LIBS:
        m = _build(lib)
        assert m.eval() is m
        assert all(not x.training for x in m.modules())
        assert m.train() is m and all(x.training for x in m.modules())
        m.blocks.train(False)
        assert m.training and not m.blocks[1].fc.training and m.head.training
        with pytest.raises(ValueError, match="training mode is expected to be boolean"):
            m.train("yes")


def test_requires_grad_and_zero_grad_both_ways():
    for lib in LIBS:
        m = _build(lib)
        assert m.requires_grad_(False) is m
        assert not any(p.requires_grad for p in m.parameters())
        m.requires_grad_()
        m(lib.ones(3, 2)).sum().backward()
        assert all(p.grad is not None for p in m.parameters())
        m.zero_grad(set_to_none=False)
        assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
        m.zero_grad()
        assert all(p.grad is None for p in m.parameters())


# ---------------------------------------------------------------------- dtype conversion
@pytest.mark.parametrize("conv", ["to64", "double", "half", "to_tensor"])
def test_dtype_conversion_keeps_identity_and_int_buffers(conv):
    e, t = _pair()
    ids = {n: id(p) for n, p in e.named_parameters()}
    e(ember.ones(3, 2)).sum().backward()  # grads get converted too
    fn = {"to64": lambda m, lib: m.to(lib.float64), "double": lambda m, lib: m.double(),
          "half": lambda m, lib: m.half(),
          "to_tensor": lambda m, lib: m.to(lib.zeros(1, dtype=lib.float64))}[conv]
    assert fn(e, ember) is e
    fn(t, torch)
    for (n, p), (_, tp) in zip(e.named_parameters(), t.named_parameters()):
        assert id(p) == ids[n], f"{n}: Parameter object replaced"
        assert p.dtype == torch.empty(0, dtype=tp.dtype).numpy().dtype
        assert p.grad.dtype == p.dtype
        assert isinstance(p, ember.nn.Parameter) and p.requires_grad
    for (n, b), (_, tb) in zip(e.named_buffers(), t.named_buffers()):
        assert b.dtype == torch.empty(0, dtype=tb.dtype).numpy().dtype, n
    assert e.blocks[0].steps.dtype == np.int64
    assert e.blocks[0].running.dtype != np.float32
    with pytest.raises(TypeError, match="floating point"):
        e.to(ember.int64)


def test_float_after_double_round_trips_values():
    e, _ = _pair()
    w = e.head.weight.data.copy()
    e.double().float()
    assert e.head.weight.dtype == np.float32
    np.testing.assert_array_equal(e.head.weight.data, w)
    assert e.to("cpu") is e


# ---------------------------------------------------------------------- apply, hooks, lookup
def test_apply_visits_children_first_like_torch():
    def order(lib):
        m = _build(lib)
        names = {id(mod): n for n, mod in m.named_modules()}
        seen = []
        assert m.apply(lambda mod: seen.append(names[id(mod)])) is m
        return seen

    assert order(ember) == order(torch)


def test_forward_hooks_and_pre_hooks_with_removal():
    x = rand(4, 2, seed=5)

    def script(lib):
        m = lib.nn.Linear(2, 3)
        m.load_state_dict({"weight": lib.tensor(rand(3, 2, seed=6)),
                           "bias": lib.tensor(rand(3, seed=7))})
        calls = []
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod, args, out: calls.append(tuple(args[0].shape)))
        h3 = m.register_forward_hook(lambda mod, args, out: out + 1)
        outs = [m(lib.tensor(x)).detach().numpy().copy()]
        h1.remove()
        outs.append(m(lib.tensor(x)).detach().numpy().copy())
        h3.remove()
        h2.remove()
        h2.remove()  # removing twice is harmless
        outs.append(m(lib.tensor(x)).detach().numpy().copy())
        return outs, calls

    (eo, ec), (to, tc) = script(ember), script(torch)
    assert ec == tc == [(4, 2), (4, 2)]
    for a, b in zip(eo, to):
        assert_close(a, b, 1e-6, 1e-6)
    assert not np.allclose(eo[0], eo[1]) and not np.allclose(eo[1], eo[2])


def test_get_submodule_and_get_parameter():
    for lib in LIBS:
        m = _build(lib)
        assert m.get_submodule("blocks.1.fc") is m.blocks[1].fc
        assert m.get_submodule("") is m
        assert m.get_parameter("blocks.0.fc.bias") is m.blocks[0].fc.bias
        assert m.get_parameter("scale") is m.scale
        with pytest.raises(AttributeError, match="has no attribute `nope`"):
            m.get_submodule("blocks.nope")
        with pytest.raises(AttributeError, match="Linear has no attribute `nope`"):
            m.get_parameter("head.nope")
        with pytest.raises(AttributeError, match="`act` is not an nn.Parameter"):
            m.get_parameter("blocks.0.act")
        assert m.get_buffer("blocks.0.running") is m.blocks[0].running


# ---------------------------------------------------------------------- copying
def test_deepcopy_is_independent_and_keeps_sharing():
    e, t = _pair()
    e(ember.ones(2, 2)).sum().backward()
    c = copy.deepcopy(e)
    assert c.shared is c.blocks[0] and c.tied.weight is c.head.weight
    assert c.head.weight is not e.head.weight
    assert isinstance(c.head.weight, ember.nn.Parameter) and c.head.weight.requires_grad
    np.testing.assert_array_equal(c.head.weight.grad.data, e.head.weight.grad.data)
    for k, v in e.state_dict().items():
        np.testing.assert_array_equal(c.state_dict()[k].data, v.data)
    with ember.no_grad():
        c.head.weight.fill_(0.0)
    assert e.head.weight.data.any()
    assert repr(c) == repr(t)
    assert c.blocks[0].scratch is not e.blocks[0].scratch
    assert "blocks.0.scratch" not in c.state_dict()  # persistence flags survive the copy
