"""ember.data against torch.utils.data: same lengths, batches, collated structures and dtypes,
same argument errors. Random orders are ember's own, so those are checked as properties
(permutations, reshuffling, determinism under a seed)."""
from __future__ import annotations

import collections
import warnings
from functools import partial

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.data as ed

Point = collections.namedtuple("Point", ["x", "y"])


# ---------------------------------------------------------------------- helpers
def to_fw(sample, fw):
    """The same sample for torch (fw="torch") or ember: ndarrays wrapped as each one's Tensor
    when marked with a ("T", array) pair, everything else passed through."""
    if isinstance(sample, tuple) and len(sample) == 2 and sample[0] == "T":
        return torch.from_numpy(sample[1].copy()) if fw == "torch" else ember.tensor(sample[1])
    if isinstance(sample, Point):
        return Point(*(to_fw(s, fw) for s in sample))
    if isinstance(sample, dict):
        return {k: to_fw(v, fw) for k, v in sample.items()}
    if isinstance(sample, list):
        return [to_fw(s, fw) for s in sample]
    if isinstance(sample, tuple):
        return tuple(to_fw(s, fw) for s in sample)
    if isinstance(sample, np.ndarray):
        return sample.copy()
    return sample


def same(ours, ref, path="batch"):
    """Structure, container types, tensor dtypes/shapes/values all equal torch's."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, ember.Tensor), f"{path}: {type(ours)} is not a Tensor"
        want = ref.numpy().dtype
        assert ours.dtype == want, f"{path}: dtype {ours.dtype} != torch's {want}"
        assert tuple(ours.shape) == tuple(ref.shape), f"{path}: shape differs"
        np.testing.assert_array_equal(ours.data, ref.numpy(), err_msg=path)
        return
    assert type(ours) is type(ref), f"{path}: {type(ours)} != torch's {type(ref)}"
    if isinstance(ref, dict):
        assert list(ours) == list(ref), path
        for k in ref:
            same(ours[k], ref[k], f"{path}[{k!r}]")
    elif isinstance(ref, (list, tuple)):
        assert len(ours) == len(ref), path
        for i, (a, b) in enumerate(zip(ours, ref)):
            same(a, b, f"{path}[{i}]")
    elif isinstance(ref, np.ndarray):
        np.testing.assert_array_equal(ours, ref)
    else:
        assert ours == ref, path


def both_raise(ours, theirs, exc=Exception, same_message=True):
    with pytest.raises(exc) as ref:
        theirs()
    with pytest.raises(type(ref.value)) as got:
        ours()
    if same_message:
        assert str(got.value) == str(ref.value)
    return got.value


class Squares(ed.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return {"i": i, "sq": np.array([i * i], dtype=np.float32), "name": f"s{i}"}

    def __len__(self):
        return self.n


class TSquares(tud.Dataset):
    def __init__(self, n):
        self.inner = Squares(n)

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return self.inner.n


class Stream(ed.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---------------------------------------------------------------------- datasets
def test_utils_data_alias():
    import ember.utils.data as eud
    from ember.utils.data import DataLoader
    assert DataLoader is ed.DataLoader and eud is ed


def test_generic_subclassing_like_torch():
    for lib in (ed, tud):
        class Numbers(lib.Dataset[int]):
            def __getitem__(self, i):
                return i * 10

            def __len__(self):
                return 5

        class Backwards(lib.Sampler[int]):
            def __iter__(self):
                return iter(range(4, -1, -1))

            def __len__(self):
                return 5
        got = [b.tolist() for b in lib.DataLoader(Numbers(), batch_size=2, sampler=Backwards())]
        assert got == [[40, 30], [20, 10], [0]]


def test_tensor_dataset_matches_torch():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    ours = ed.TensorDataset(ember.tensor(x), ember.tensor(y))
    ref = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ours) == len(ref) == 6
    for i in (0, 3, -1):
        same(ours[i], ref[i])
    both_raise(lambda: ed.TensorDataset(ember.zeros(3), ember.zeros(4)),
               lambda: tud.TensorDataset(torch.zeros(3), torch.zeros(4)), AssertionError)


def test_concat_dataset_matches_torch():
    parts = [list(range(3)), list(range(10, 15)), list(range(20, 21))]
    ours, ref = ed.ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(ours) == len(ref) and ours.cumulative_sizes == ref.cumulative_sizes
    assert [ours[i] for i in range(-len(ref), len(ref))] == \
        [ref[i] for i in range(-len(ref), len(ref))]
    both_raise(lambda: ours[-10], lambda: ref[-10], ValueError)
    both_raise(lambda: ed.ConcatDataset([]), lambda: tud.ConcatDataset([]), AssertionError)
    both_raise(lambda: ed.ConcatDataset([Stream(2)]), lambda: tud.ConcatDataset([TStream(2)]),
               AssertionError)
    added = Squares(2) + Squares(3)
    assert isinstance(added, ed.ConcatDataset) and len(added) == 5 and added[4]["i"] == 2


def test_chain_and_stack_dataset_match_torch():
    assert list(ed.ChainDataset([Stream(2), Stream(3)])) == \
        list(tud.ChainDataset([TStream(2), TStream(3)]))
    assert len(Stream(2) + Stream(3)) == len(TStream(2) + TStream(3))
    a, b = list(range(4)), list("abcd")
    assert ed.StackDataset(a, b)[2] == tud.StackDataset(a, b)[2]
    assert ed.StackDataset(x=a, y=b)[1] == tud.StackDataset(x=a, y=b)[1]
    both_raise(lambda: ed.StackDataset(a, b[:2]), lambda: tud.StackDataset(a, b[:2]), ValueError)
    both_raise(lambda: ed.StackDataset(), lambda: tud.StackDataset(), ValueError)


def test_subset_matches_torch():
    data = list(range(100, 110))
    idx = [7, 2, 2, 9]
    ours, ref = ed.Subset(data, idx), tud.Subset(data, idx)
    assert len(ours) == len(ref)
    assert [ours[i] for i in range(4)] == [ref[i] for i in range(4)]
    assert ours.__getitems__([0, 3]) == ref.__getitems__([0, 3])

    def bad(base):
        class Bad(base):
            def __getitem__(self, i):
                return 0
        return Bad(data, idx)
    both_raise(lambda: bad(ed.Subset), lambda: bad(tud.Subset), NotImplementedError,
               same_message=False)


@pytest.mark.parametrize("n,lengths", [
    (10, [0.33, 0.33, 0.34]), (10, [0.5, 0.5]), (7, [0.2, 0.3, 0.5]), (1797, [0.8, 0.2]),
    (5, [0.1, 0.9]), (13, [1 / 3, 1 / 3, 1 / 3]), (10, [3, 7]), (4, [0, 4]),
])
def test_random_split_lengths_match_torch(n, lengths):
    with warnings.catch_warnings(record=True) as w_ref:
        warnings.simplefilter("always")
        ref = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as w_ours:
        warnings.simplefilter("always")
        ours = ed.random_split(range(n), lengths, generator=ember.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    assert [str(w.message) for w in w_ours] == [str(w.message) for w in w_ref]
    seen = sorted(i for s in ours for i in (s[k] for k in range(len(s))))
    assert seen == list(range(n))  # disjoint and covering


def test_random_split_errors_match_torch():
    both_raise(lambda: ed.random_split(range(10), [3, 3]),
               lambda: tud.random_split(range(10), [3, 3]), ValueError)
    both_raise(lambda: ed.random_split(range(10), [1.5, -0.5]),
               lambda: tud.random_split(range(10), [1.5, -0.5]), ValueError)


def test_random_split_is_seeded_by_ember():
    def order(seed):
        ember.manual_seed(seed)
        return [list(s.indices) for s in ed.random_split(range(50), [0.5, 0.5])]
    assert order(3) == order(3)
    assert order(3) != order(4)
    g1, g2 = ember.Generator().manual_seed(9), ember.Generator().manual_seed(9)
    a = ed.random_split(range(20), [10, 10], generator=g1)[0].indices
    ember.manual_seed(123)  # the default generator must not matter when one is given
    b = ed.random_split(range(20), [10, 10], generator=g2)[0].indices
    assert a == b


# ---------------------------------------------------------------------- samplers
def test_sequential_sampler_matches_torch():
    assert list(ed.SequentialSampler(range(7))) == list(tud.SequentialSampler(range(7)))
    assert len(ed.SequentialSampler(range(7))) == 7


@pytest.mark.parametrize("replacement,num_samples", [(False, None), (True, None), (True, 70),
                                                     (False, 25), (True, 5)])
def test_random_sampler_lengths_and_properties(replacement, num_samples):
    ours = ed.RandomSampler(range(10), replacement=replacement, num_samples=num_samples)
    ref = tud.RandomSampler(range(10), replacement=replacement, num_samples=num_samples)
    got = list(ours)
    assert len(got) == len(ours) == len(ref) == len(list(ref))
    assert all(0 <= i < 10 for i in got)
    if not replacement:  # whole permutations, then a partial one
        counts = np.bincount(got, minlength=10)
        assert counts.max() - counts.min() <= 1


def test_random_sampler_reshuffles_and_is_seeded():
    sampler = ed.RandomSampler(range(30))
    ember.manual_seed(0)
    e1, e2 = list(sampler), list(sampler)
    assert sorted(e1) == sorted(e2) == list(range(30)) and e1 != e2
    ember.manual_seed(0)
    assert list(sampler) == e1 and list(sampler) == e2
    g = ember.Generator().manual_seed(5)
    s2 = ed.RandomSampler(range(30), generator=g)
    a = list(s2)
    g.manual_seed(5)
    ember.manual_seed(99)
    assert list(s2) == a


def test_random_sampler_errors_match_torch():
    both_raise(lambda: ed.RandomSampler(range(3), replacement=1),
               lambda: tud.RandomSampler(range(3), replacement=1), TypeError)
    both_raise(lambda: ed.RandomSampler(range(3), num_samples=0),
               lambda: tud.RandomSampler(range(3), num_samples=0), ValueError)
    both_raise(lambda: ed.RandomSampler([], num_samples=None),
               lambda: tud.RandomSampler([], num_samples=None), ValueError)


def test_subset_random_sampler():
    idx = [4, 8, 15, 16, 23, 42]
    got = list(ed.SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(1)))
    assert sorted(got) == sorted(tud.SubsetRandomSampler(idx)) == idx
    assert len(ed.SubsetRandomSampler(idx)) == len(tud.SubsetRandomSampler(idx))


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0, 2.0]
    ember.manual_seed(0)
    got = list(ed.WeightedRandomSampler(w, 200))
    assert len(got) == 200 and set(got) <= {1, 3, 4}
    assert np.bincount(got, minlength=5)[3] > np.bincount(got, minlength=5)[1]
    no_rep = list(ed.WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(no_rep) == [1, 3, 4]
    for kw in ({"num_samples": 0}, {"num_samples": 2, "replacement": None}):
        both_raise(partial(ed.WeightedRandomSampler, w, **kw),
                   partial(tud.WeightedRandomSampler, w, **kw), ValueError)
    both_raise(lambda: ed.WeightedRandomSampler([[1.0]], 2),
               lambda: tud.WeightedRandomSampler([[1.0]], 2), ValueError)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), bs=st.integers(1, 12), drop_last=st.booleans())
def test_batch_sampler_matches_torch(n, bs, drop_last):
    ours = ed.BatchSampler(ed.SequentialSampler(range(n)), bs, drop_last)
    ref = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(ref)
    assert len(ours) == len(ref)


def test_batch_sampler_errors_match_torch():
    for bs, dl in ((0, False), (2.0, False), (True, False), (2, 1)):
        both_raise(partial(ed.BatchSampler, range(4), bs, dl),
                   partial(tud.BatchSampler, range(4), bs, dl), ValueError)


# ---------------------------------------------------------------------- collation
COLLATE_CASES = {
    "float32 tensors": [("T", np.full((2, 3), i, dtype=np.float32)) for i in range(3)],
    "int64 tensors": [("T", np.array(i)) for i in range(4)],
    "bool tensors": [("T", np.array([True, False]))] * 2,
    "float64 arrays": [np.full(3, 0.5 * i) for i in range(3)],
    "int16 arrays": [np.arange(4, dtype=np.int16)] * 2,
    "uint8 arrays": [np.arange(4, dtype=np.uint8).reshape(2, 2)] * 3,
    "0-d arrays": [np.array(1.5), np.array(2.5)],
    "np.float32 scalars": [np.float32(1.25), np.float32(2)],
    "np.float64 scalars": [np.float64(1.25), np.float64(2)],
    "np.int32 scalars": [np.int32(1), np.int32(-7)],
    "np.bool_ scalars": [np.bool_(True), np.bool_(False)],
    "python floats": [1.0, 2.5, -3.0],
    "python ints": [1, 2, 3],
    "python bools": [True, False],
    "strings": ["a", "bb", "ccc"],
    "bytes": [b"a", b"b"],
    "tuples": [(1, "x", 0.5), (2, "y", 1.5)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"a": 1, "b": np.ones(2, dtype=np.float32)}, {"a": 2, "b": np.zeros(2, np.float32)}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [{"p": Point(("T", np.ones(2, dtype=np.float32)), [1, "s"]), "q": (0.5, True)},
               {"p": Point(("T", np.zeros(2, dtype=np.float32)), [2, "t"]), "q": (1.5, False)}],
    "tensor pairs": [(("T", np.ones(3, dtype=np.float32)), ("T", np.array(i))) for i in range(5)],
}


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    same(ed.default_collate(to_fw(batch, "ember")), tud.default_collate(to_fw(batch, "torch")))


@pytest.mark.parametrize("name", ["float64 arrays", "np.int32 scalars", "dicts", "namedtuples",
                                  "tuples", "strings", "nested"])
def test_default_convert_matches_torch(name):
    for sample in COLLATE_CASES[name]:
        same(ed.default_convert(to_fw(sample, "ember")),
             tud.default_convert(to_fw(sample, "torch")))


def test_default_collate_errors_match_torch():
    for bad in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        both_raise(partial(ed.default_collate, bad), partial(tud.default_collate, bad), TypeError,
                   same_message=False)
    both_raise(lambda: ed.default_collate([[1, 2], [3]]),
               lambda: tud.default_collate([[1, 2], [3]]), RuntimeError)
    both_raise(lambda: ed.default_collate([ember.zeros(2), ember.zeros(3)]),
               lambda: tud.default_collate([torch.zeros(2), torch.zeros(3)]), RuntimeError,
               same_message=False)


def test_collate_keeps_autograd():
    w = ember.ones(2, requires_grad=True)
    batch = ed.default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, 5.0])


# ---------------------------------------------------------------------- DataLoader
def _both_loaders(n=10, **kw):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    ours = ed.DataLoader(ed.TensorDataset(ember.tensor(x), ember.tensor(y)), **kw)
    ref = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), **kw)
    return ours, ref


@pytest.mark.parametrize("kw", [{}, {"batch_size": 4}, {"batch_size": 4, "drop_last": True},
                                {"batch_size": 10}, {"batch_size": 32}, {"batch_size": None},
                                {"batch_size": 3, "sampler": [9, 0, 5, 5, 1]}])
def test_dataloader_batches_match_torch(kw):
    ours, ref = _both_loaders(**kw)
    got, want = list(ours), list(ref)
    assert len(ours) == len(ref) == len(want)
    same(got, want)


def test_dataloader_dict_dataset_and_batch_sampler_match_torch():
    bs = [[0, 3], [1], [4, 2, 5]]
    same(list(ed.DataLoader(Squares(6), batch_sampler=bs)),
         list(tud.DataLoader(TSquares(6), batch_sampler=bs)))
    same(list(ed.DataLoader(Squares(5), batch_size=2, drop_last=True)),
         list(tud.DataLoader(TSquares(5), batch_size=2, drop_last=True)))
    same(list(ed.DataLoader(Squares(3), batch_size=None)),
         list(tud.DataLoader(TSquares(3), batch_size=None)))
    collate = lambda b: [s["i"] for s in b]
    assert list(ed.DataLoader(Squares(5), batch_size=2, collate_fn=collate)) == \
        list(tud.DataLoader(TSquares(5), batch_size=2, collate_fn=collate))


@pytest.mark.parametrize("kw", [{"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                {"batch_size": None}, {"batch_size": 7}, {"batch_size": 1}])
def test_dataloader_iterable_dataset_matches_torch(kw):
    ours, ref = ed.DataLoader(Stream(7), **kw), tud.DataLoader(TStream(7), **kw)
    same(list(ours), list(ref))
    assert len(ours) == len(ref)


def test_dataloader_argument_errors_match_torch():
    cases = [{"sampler": [0, 1], "shuffle": True}, {"batch_sampler": [[0]], "batch_size": 2},
             {"batch_sampler": [[0]], "shuffle": True}, {"batch_sampler": [[0]], "drop_last": True},
             {"batch_sampler": [[0]], "sampler": [0]}, {"batch_size": None, "drop_last": True},
             {"num_workers": -1}, {"timeout": -1}, {"prefetch_factor": 2},
             {"persistent_workers": True}, {"batch_size": 0}, {"batch_size": 1.5},
             {"drop_last": None}, {"multiprocessing_context": "spawn"}]
    for kw in cases:
        both_raise(partial(ed.DataLoader, list(range(4)), **kw),
                   partial(tud.DataLoader, list(range(4)), **kw), ValueError)
    for kw in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        both_raise(partial(ed.DataLoader, Stream(3), **kw),
                   partial(tud.DataLoader, TStream(3), **kw), ValueError, same_message=False)


def test_dataloader_attributes_frozen_like_torch():
    ours, ref = _both_loaders(batch_size=2)
    for attr in ("batch_size", "sampler", "dataset", "drop_last"):
        both_raise(partial(setattr, ours, attr, None), partial(setattr, ref, attr, None),
                   ValueError)
    ours.num_workers = 0  # other attributes stay settable, as in torch
    ref.num_workers = 0


def test_dataloader_shuffle_reshuffles_each_epoch_and_is_seeded():
    loader = ed.DataLoader(ed.TensorDataset(ember.arange(40)), batch_size=8, shuffle=True)

    def epoch():
        return [int(v) for (b,) in loader for v in b.tolist()]
    ember.manual_seed(7)
    e1, e2 = epoch(), epoch()
    assert sorted(e1) == sorted(e2) == list(range(40))
    assert e1 != e2 and e1 != list(range(40))
    ember.manual_seed(7)
    assert epoch() == e1 and epoch() == e2
    ember.manual_seed(8)
    assert epoch() != e1

    g = ember.Generator().manual_seed(3)
    loader2 = ed.DataLoader(list(range(40)), batch_size=8, shuffle=True, generator=g)
    first = [b.tolist() for b in loader2]
    g.manual_seed(3)
    ember.randn(5)  # draws from the default generator must not change a generator-driven order
    assert [b.tolist() for b in loader2] == first


def test_dataloader_num_workers_and_pin_memory_warn_and_load_in_process():
    with pytest.warns(UserWarning, match="main process"):
        loader = ed.DataLoader(list(range(9)), batch_size=4, num_workers=2)
    assert [b.tolist() for b in loader] == [b.tolist() for b in tud.DataLoader(range(9), 4)]
    assert loader.prefetch_factor == 2 and ed.get_worker_info() is None
    pinned = ed.DataLoader(list(range(3)), batch_size=2, pin_memory=True)
    with pytest.warns(UserWarning, match="pin_memory"):
        assert len(list(pinned)) == 2


def test_dataloader_trains_a_model_end_to_end():
    # y = 3x - 1 fitted by plain SGD over shuffled mini-batches
    ember.manual_seed(0)
    x = ember.rand(64, 1)
    loader = ed.DataLoader(ed.TensorDataset(x, x * 3 - 1), batch_size=16, shuffle=True)
    w = ember.zeros(1, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    for _ in range(150):
        for xb, yb in loader:
            loss = ((xb * w + b - yb) ** 2).mean()
            w.grad = b.grad = None
            loss.backward()
            with ember.no_grad():
                w -= 0.5 * w.grad
                b -= 0.5 * b.grad
    assert abs(w.item() - 3) < 1e-2 and abs(b.item() + 1) < 1e-2
