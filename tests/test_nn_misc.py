"""Activation modules, containers, Flatten/Unflatten: values, gradients and reprs vs PyTorch."""
import itertools
from collections import OrderedDict

import numpy as np
import pytest
import torch
from harness import check, compare_module_grads, copy_module_weights, rand, randn

import ember

# ---------------------------------------------------------------------- activations
ACTS = [
    ("ReLU", {}), ("ReLU6", {}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}),
    ("Tanh", {}), ("Sigmoid", {}), ("Softplus", {}), ("Softplus", {"beta": 2.0, "threshold": 3.0}),
    ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("Softmax", {"dim": 1}), ("Softmax", {"dim": -1}),
    ("LogSoftmax", {"dim": 0}), ("LogSoftmax", {"dim": 2}), ("Mish", {}), ("Hardtanh", {}),
    ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}),
]


def _act_input(dtype):
    x = randn(3, 4, 5, dtype=dtype) * 3
    # exact kinks and bounds: relu/leaky at 0, hardtanh at +-1, -0.5, 2, relu6 at 6, softplus
    # threshold crossing (beta 2, threshold 3 -> x = 1.5)
    x.reshape(-1)[:8] = [0.0, 1.0, -1.0, -0.5, 2.0, 6.0, 1.5, 25.0]
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", ACTS, ids=[f"{n}-{k}" for n, k in ACTS])
def test_activation_matches_torch(name, kwargs, dtype):
    e_mod, t_mod = getattr(ember.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    check(e_mod, t_mod, [_act_input(dtype)])
    assert repr(e_mod) == repr(t_mod)


@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.1}),
                                         ("ELU", {}), ("SiLU", {}), ("Hardtanh", {}),
                                         ("Mish", {}), ("ReLU6", {})])
def test_inplace_activation_writes_into_input(name, kwargs):
    x = _act_input("float64")

    def run(lib):
        leaf = lib.tensor(x.copy(), requires_grad=True)
        mid = leaf * 2.0
        mod = getattr(lib.nn, name)(inplace=True, **kwargs)
        out = mod(mid)
        return leaf, mid, out, mod

    el, em, eo, emod = run(ember)
    tl, tm, to, tmod = run(torch)
    assert eo is em  # the result is the input tensor, modified
    np.testing.assert_allclose(em.data, tm.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = randn(*x.shape, dtype="float64", seed=3)
    eo.backward(ember.tensor(g))
    to.backward(torch.from_numpy(g))
    np.testing.assert_allclose(el.grad.data, tl.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(emod) == repr(tmod)


def test_activation_on_non_contiguous_input():
    x = rand(5, 6, dtype="float64").T
    for name in ("GELU", "Mish", "Hardtanh", "Softplus"):
        check(getattr(ember.nn, name)(), getattr(torch.nn, name)(), [np.asarray(x)])


def test_inplace_activation_on_leaf_raises():
    x = ember.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ember.nn.ReLU(inplace=True)(x)


def test_activation_reprs_with_defaults_and_flags():
    for name, kwargs in [("Softmax", {}), ("LogSoftmax", {}), ("SiLU", {"inplace": True}),
                         ("ELU", {"alpha": 2.0, "inplace": True}), ("ReLU6", {"inplace": True}),
                         ("Hardtanh", {"min_val": 0.0, "max_val": 1.0, "inplace": True})]:
        assert repr(getattr(ember.nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))


def test_gelu_bad_approximate_raises():
    with pytest.raises(ValueError, match="approximate"):
        ember.nn.GELU("fast")(ember.tensor(rand(3)))


def test_hardtanh_bad_bounds_raise():
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        ember.nn.Hardtanh(1.0, -1.0)


# ---------------------------------------------------------------------- Flatten / Unflatten
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args", [(), (0,), (1, 2), (0, -2), (-2, -1), (2, 2)])
def test_flatten_matches_torch(args, dtype):
    x = rand(2, 3, 4, 5, dtype=dtype)
    check(ember.nn.Flatten(*args), torch.nn.Flatten(*args), [x])
    check(ember.nn.Flatten(*args), torch.nn.Flatten(*args), [np.asarray(x.transpose(3, 1, 2, 0))])
    assert repr(ember.nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim,sizes", [(1, (2, 6)), (-1, [5, 1]), (0, (1, 2)), (1, (3, -1)),
                                       (2, (5,))])
def test_unflatten_matches_torch(dim, sizes, dtype):
    x = rand(2, 12, 5, dtype=dtype)
    check(ember.nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes), [x])
    assert repr(ember.nn.Unflatten(dim, sizes)) == repr(torch.nn.Unflatten(dim, sizes))


def test_flatten_unflatten_errors():
    from harness import check_raises
    check_raises(ember.nn.Flatten(2, 1), torch.nn.Flatten(2, 1), [rand(2, 3, 4)],
                 "start_dim cannot come after end_dim")
    check_raises(ember.nn.Flatten(), torch.nn.Flatten(), [rand(3)], "out of range")
    check_raises(ember.nn.Unflatten(1, (4, 2)), torch.nn.Unflatten(1, (4, 2)), [rand(2, 6)],
                 r"sizes \[4, 2\] don't multiply up to the size of dim 1 \(6\)")
    check_raises(ember.nn.Unflatten(1, (-1, -1)), torch.nn.Unflatten(1, (-1, -1)), [rand(2, 6)],
                 "only one dimension can be inferred")
    check_raises(ember.nn.Unflatten(1, (4, -1)), torch.nn.Unflatten(1, (4, -1)), [rand(2, 6)],
                 "don't multiply up")
    for lib in (torch, ember):
        with pytest.raises(TypeError, match="must be tuple of ints, but found element of type "
                                            "float at pos 0"):
            lib.nn.Unflatten(1, (2.0, 3))
        with pytest.raises(TypeError, match="must be a tuple of ints, but found type int"):
            lib.nn.Unflatten(1, 6)


# ---------------------------------------------------------------------- Sequential
def _seq(lib, *sizes):
    layers = []
    for a, b in itertools.pairwise(sizes):
        layers += [lib.nn.Linear(a, b), lib.nn.Tanh()]
    return lib.nn.Sequential(*layers)


def test_sequential_forward_backward_matches_torch():
    t, e = _seq(torch, 4, 6, 3), _seq(ember, 4, 6, 3)
    copy_module_weights(e, t)
    x = rand(5, 4)
    check(e, t, [x])
    compare_module_grads(e, t)
    assert list(e.state_dict()) == list(t.state_dict())
    assert repr(e) == repr(t)


def test_sequential_from_ordered_dict_keeps_names():
    def build(lib):
        return lib.nn.Sequential(OrderedDict([("fc", lib.nn.Linear(2, 3)),
                                              ("act", lib.nn.ReLU())]))
    e, t = build(ember), build(torch)
    assert list(e.state_dict()) == list(t.state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(e) == repr(t)
    assert isinstance(e[0], ember.nn.Linear) and e[-1] is e.act


def test_sequential_indexing_and_slicing():
    for lib in (torch, ember):
        s = _seq(lib, 2, 3, 4)  # Linear, Tanh, Linear, Tanh
        mods = list(s)
        assert len(s) == 4 and s[0] is mods[0] and s[-1] is mods[3] and s[-4] is mods[0]
        sub = s[1:3]
        assert type(sub) is lib.nn.Sequential and list(sub) == mods[1:3]
        assert list(sub._modules) == ["1", "2"]  # a slice keeps the original keys, as torch
        assert list(s[::-1]) == mods[::-1]
        with pytest.raises(IndexError, match="index 4 is out of range"):
            s[4]
        with pytest.raises(IndexError, match="index -5 is out of range"):
            s[-5]


def test_sequential_mutation_matches_torch():
    def script(lib):
        nn = lib.nn
        s = nn.Sequential(nn.ReLU(), nn.Tanh())
        s.append(nn.Linear(1, 2))
        s.insert(0, nn.Sigmoid())
        s.insert(-1, nn.ELU())
        s.extend([nn.Identity(), nn.Softplus()])
        s[1] = nn.LeakyReLU()
        popped = s.pop(2)
        del s[0]
        combined = s + nn.Sequential(nn.GELU())
        s += nn.Sequential(nn.SiLU())
        return [repr(s), repr(combined), repr(popped), list(s._modules), len(s),
                list(s.state_dict())]

    assert script(ember) == script(torch)


def test_sequential_errors():
    for lib in (torch, ember):
        s = lib.nn.Sequential(lib.nn.ReLU())
        with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
            s + lib.nn.ModuleList()
        with pytest.raises(IndexError, match="Index out of range: 5"):
            s.insert(5, lib.nn.ReLU())
        with pytest.raises(AssertionError):
            s.insert(0, "not a module")


def test_sequential_repeats_with_mul():
    for lib in (torch, ember):
        r = lib.nn.Sequential(lib.nn.ReLU(), lib.nn.Tanh()) * 2
        assert len(r) == 4 and r[0] is r[2]


# ---------------------------------------------------------------------- ModuleList
def test_modulelist_repr_groups_repeats_like_torch():
    def build(lib):
        nn = lib.nn
        inner = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.Tanh(),
                                                                      nn.Tanh()])
        return nn.Sequential(nn.ModuleList([nn.ReLU()]), inner, nn.ModuleList())

    assert repr(build(ember)) == repr(build(torch))
    assert "(0-2): 3 x Linear(in_features=2, out_features=2, bias=True)" in repr(build(ember))


def test_modulelist_operations_match_torch():
    def script(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
        ml.append(nn.Linear(1, 1))
        ml.extend([nn.Sigmoid(), nn.ELU()])
        ml.insert(1, nn.GELU())
        ml += [nn.Identity()]
        ml[0] = nn.Softplus()
        popped = ml.pop(-1)
        del ml[1:3]
        both = ml + lib.nn.ModuleList([nn.Mish()])
        sub = ml[1:]
        return [repr(ml), repr(both), repr(sub), repr(popped), len(ml), list(ml._modules),
                list(ml.state_dict()), [type(m).__name__ for m in ml], repr(ml[-1])]

    assert script(ember) == script(torch)


def test_modulelist_slice_shares_modules_and_errors():
    ml = ember.nn.ModuleList([ember.nn.ReLU(), ember.nn.Tanh(), ember.nn.Sigmoid()])
    assert ml[1:][0] is ml[1] and type(ml[:2]) is ember.nn.ModuleList
    for lib in (torch, ember):
        m = lib.nn.ModuleList([lib.nn.ReLU()])
        with pytest.raises(IndexError, match="index 1 is out of range"):
            m[1]
        with pytest.raises(TypeError, match="ModuleList.extend should be called with an "
                                            "iterable, but got int"):
            m.extend(3)
        with pytest.raises(NotImplementedError):
            m(lib.zeros(1))


def test_modulelist_insert_negative_index_like_list():
    ml = ember.nn.ModuleList([ember.nn.ReLU(), ember.nn.Tanh()])
    s = ember.nn.Sigmoid()
    ml.insert(-1, s)
    assert [type(m).__name__ for m in ml] == ["ReLU", "Sigmoid", "Tanh"] and ml[1] is s


# ---------------------------------------------------------------------- ModuleDict
def test_moduledict_matches_torch():
    def script(lib):
        nn = lib.nn
        d = nn.ModuleDict({"b": nn.Linear(2, 3), "a": nn.ReLU()})
        d.update([("c", nn.Tanh()), ("b", nn.Linear(2, 4))])
        d["d"] = nn.Sigmoid()
        popped = d.pop("a")
        del d["c"]
        res = [repr(d), list(d.keys()), [type(v).__name__ for v in d.values()],
               [k for k, _ in d.items()], list(d), len(d), "b" in d, "a" in d,
               list(d.state_dict()), repr(popped)]
        d.update(nn.ModuleDict({"e": nn.ELU()}))
        res.append(list(d))
        d.clear()
        return res + [len(d)]

    assert script(ember) == script(torch)


def test_moduledict_errors():
    for lib in (torch, ember):
        d = lib.nn.ModuleDict()
        with pytest.raises(TypeError, match="ModuleDict.update should be called with an "
                                            "iterable of key/value pairs, but got int"):
            d.update(3)
        with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
            d.update([("a", lib.nn.ReLU(), 1)])
        with pytest.raises(KeyError):
            d["x.y"] = lib.nn.ReLU()
        with pytest.raises(TypeError):
            d["x"] = 3


# ---------------------------------------------------------------------- ParameterList / Dict
def _torch_repr_as_ember(s: str) -> str:
    return s.replace("torch.", "ember.")


def test_parameterlist_matches_torch():
    w = rand(2, 3)

    def script(lib):
        nn = lib.nn
        pl = nn.ParameterList([nn.Parameter(lib.tensor(w)), lib.zeros(3)])
        pl.append(lib.ones(1, 2, dtype=lib.float64))
        pl.extend([nn.Parameter(lib.zeros(4)), "note"])
        pl += [lib.zeros(2)]
        pl[1] = nn.Parameter(lib.full((5,), 2.0))
        sub = pl[1:4]
        return [repr(pl), repr(sub), len(pl), len(sub), [n for n, _ in pl.named_parameters()],
                list(pl.state_dict()), [isinstance(p, nn.Parameter) for p in pl],
                [bool(p.requires_grad) for p in pl if isinstance(p, lib.Tensor)],
                pl[-3].shape[0], pl[4]]

    e, t = script(ember), script(torch)
    e[0] = e[0].replace("ember.", "torch.")
    e[1] = e[1].replace("ember.", "torch.")
    e[8] = int(e[8])
    assert e == t


def test_parameterlist_used_in_forward_gets_grads():
    pl = ember.nn.ParameterList([ember.zeros(3), ember.ones(3)])
    out = (pl[0] * 2 + pl[1] * 3).sum()
    out.backward()
    np.testing.assert_array_equal(pl[0].grad.data, np.full(3, 2.0, np.float32))
    np.testing.assert_array_equal(pl[1].grad.data, np.full(3, 3.0, np.float32))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl(1)
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an "
                                        "iterable"):
        pl.extend(3)


def test_parameterdict_matches_torch():
    def script(lib):
        nn = lib.nn
        pd = nn.ParameterDict({"w": nn.Parameter(lib.zeros(2, 3)), "b": lib.zeros(3)})
        pd.update([("s", lib.ones(1)), ("b", lib.zeros(4))])
        pd["note"] = "x"
        pd.setdefault("z", lib.zeros(1))
        popped = pd.pop("s")
        merged = pd | nn.ParameterDict({"extra": lib.zeros(2)})
        res = [_torch_repr_as_ember(repr(pd)), list(pd.keys()), list(pd), len(pd), "w" in pd,
               "s" in pd, [n for n, _ in pd.named_parameters()], list(pd.state_dict()),
               [k for k, _ in pd.items()], tuple(popped.shape), list(merged),
               list(reversed(pd)), pd.get("nope", 7), list(pd.copy())]
        key, _ = pd.popitem()
        del pd["w"]
        res += [key, list(pd)]
        pd.clear()
        return res + [len(pd)]

    assert script(ember) == script(torch)


def test_parameterdict_keeps_parameter_identity_and_errors():
    p = ember.nn.Parameter(ember.zeros(2))
    pd = ember.nn.ParameterDict({"p": p})
    assert pd["p"] is p and next(pd.parameters()) is p
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = p
    with pytest.raises(KeyError):
        pd["a.b"] = ember.zeros(1)
    with pytest.raises(KeyError):
        pd["missing"]
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        pd()
