"""Parity harness: run the same computation in ember and in PyTorch, compare values and
gradients (in the spirit of tinygrad's ``helper_test_op``).

    check(lambda x, y: x @ y, lambda x, y: x @ y, [rand(3, 4), rand(4, 5)])

Inputs are NumPy arrays; floating ones become leaves requiring grad in both engines. Outputs are
compared for shape, dtype and values; then both engines backpropagate the same random cotangent
and every input's gradient is compared.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import ember

TOL = {np.dtype("float32"): (1e-5, 1e-5), np.dtype("float64"): (1e-10, 1e-9),
       np.dtype("float16"): (1e-2, 1e-2)}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def rand(*shape, dtype="float32", seed: int = 0, low: float = -1.0, high: float = 1.0):
    return rng(seed).uniform(low, high, shape).astype(dtype)


def randn(*shape, dtype="float32", seed: int = 0):
    return rng(seed).standard_normal(shape).astype(dtype)


def _flatten(out) -> list:
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flatten(o))
        return res
    return [out]


def _np(x) -> np.ndarray:
    if isinstance(x, ember.Tensor):
        return x.data
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def torch_dtype_to_np(d) -> np.dtype:
    return torch.empty(0, dtype=d).numpy().dtype


def assert_close(ours, ref, atol: float, rtol: float, what: str = "") -> None:
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape, f"{what} shape {a.shape} != reference {b.shape}"
    if np.issubdtype(b.dtype, np.floating) or np.issubdtype(a.dtype, np.floating):
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same_nan = np.array_equal(np.isnan(a64), np.isnan(b64))
        assert same_nan, f"{what} NaN positions differ"
        ok = np.isclose(a64, b64, atol=atol, rtol=rtol, equal_nan=True)
        if not ok.all():
            diff = np.nanmax(np.abs(a64 - b64)[~ok])
            raise AssertionError(f"{what} values differ: max abs diff {diff:.3g} "
                                 f"(atol {atol}, rtol {rtol}) at {np.argwhere(~ok)[:5].tolist()}"
                                 f"\nours={a.ravel()[:8]}\nref ={b.ravel()[:8]}")
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def check(ember_fn: Callable, torch_fn: Callable, inputs: Sequence, *, grad: bool = True,
          atol: float | None = None, rtol: float | None = None, grad_atol: float | None = None,
          grad_rtol: float | None = None, check_dtype: bool = True, seed: int = 0,
          requires_grad: Sequence[bool] | None = None):
    """Compare ``ember_fn(*tensors)`` with ``torch_fn(*tensors)`` forward and backward.

    ``inputs`` are ndarrays (or anything else, passed to both functions unchanged). Returns the
    two outputs.
    """
    e_in, t_in = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, np.ndarray):
            want = grad and x.dtype.kind == "f" and (requires_grad is None or requires_grad[i])
            e = ember.tensor(x.copy())
            t = torch.from_numpy(x.copy())
            if want:
                e.requires_grad_(True)
                t.requires_grad_(True)
            e_in.append(e)
            t_in.append(t)
        else:
            e_in.append(x)
            t_in.append(x)

    e_out, t_out = ember_fn(*e_in), torch_fn(*t_in)
    e_flat, t_flat = _flatten(e_out), _flatten(t_out)
    assert len(e_flat) == len(t_flat), f"{len(e_flat)} outputs vs reference {len(t_flat)}"
    dtypes = []
    for k, (e, t) in enumerate(zip(e_flat, t_flat)):
        if isinstance(t, torch.Tensor):
            assert isinstance(e, ember.Tensor), f"output {k}: expected a Tensor, got {type(e)}"
            td = torch_dtype_to_np(t.dtype)
            if check_dtype:
                assert e.dtype == td, f"output {k}: dtype {e.dtype} != reference {td}"
            dtypes.append(td)
            a, r = TOL.get(td, (0, 0))
            assert_close(e, t, atol if atol is not None else a, rtol if rtol is not None else r,
                         f"output {k}")
        else:
            assert e == t, f"output {k}: {e!r} != reference {t!r}"

    if not grad:
        return e_out, t_out
    pairs = [(e, t) for e, t in zip(e_flat, t_flat)
             if isinstance(t, torch.Tensor) and t.requires_grad and t.dtype.is_floating_point]
    if not pairs:
        return e_out, t_out
    r = rng(seed + 1)
    cots = [r.standard_normal(t.shape).astype(torch_dtype_to_np(t.dtype)) for _, t in pairs]
    ember.autograd.backward([e for e, _ in pairs], [ember.tensor(c) for c in cots])
    torch.autograd.backward([t for _, t in pairs], [torch.from_numpy(c) for c in cots])
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if not isinstance(t, torch.Tensor) or not t.requires_grad:
            continue
        a, rr = TOL.get(torch_dtype_to_np(t.dtype), (0, 0))
        ga = grad_atol if grad_atol is not None else (atol if atol is not None else a)
        gr = grad_rtol if grad_rtol is not None else (rtol if rtol is not None else rr)
        if t.grad is None:
            assert e.grad is None or not np.any(e.grad.data), f"input {i}: unexpected gradient"
            continue
        assert e.grad is not None, f"input {i}: no gradient (reference has one)"
        assert e.grad.shape == tuple(t.grad.shape), f"input {i}: grad shape mismatch"
        assert e.grad.dtype == e.dtype, f"input {i}: grad dtype {e.grad.dtype} != {e.dtype}"
        assert_close(e.grad, t.grad, ga, gr, f"input {i} grad")
    return e_out, t_out


def check_raises(ember_fn: Callable, torch_fn: Callable | None, inputs: Sequence,
                 match: str | None = None) -> Exception:
    """Both engines raise on the same bad input; ember's error (returned) matches ``match``."""
    import re
    e_in = [ember.tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]
    t_in = [torch.from_numpy(x.copy()) if isinstance(x, np.ndarray) else x for x in inputs]
    if torch_fn is not None:
        try:
            torch_fn(*t_in)
        except Exception:
            pass
        else:
            raise AssertionError("the reference did not raise: the test is wrong")
    try:
        ember_fn(*e_in)
    except Exception as exc:  # noqa: BLE001
        if match is not None:
            assert re.search(match, str(exc)), f"error {exc!r} does not match {match!r}"
        return exc
    raise AssertionError("ember did not raise")


def copy_module_weights(ember_module, torch_module) -> None:
    """Copy every parameter and buffer of a torch module into the ember module of the same
    structure (names must match)."""
    sd = {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}
    ember_module.load_state_dict(sd)


def compare_module_grads(ember_module, torch_module, atol: float = 1e-5, rtol: float = 1e-5):
    tp = dict(torch_module.named_parameters())
    ep = dict(ember_module.named_parameters())
    assert set(tp) == set(ep), f"parameter names differ: {set(tp) ^ set(ep)}"
    for name, t in tp.items():
        e = ep[name]
        if t.grad is None:
            assert e.grad is None or not np.any(e.grad.data), f"{name}: unexpected gradient"
            continue
        assert e.grad is not None, f"{name}: no gradient"
        assert_close(e.grad, t.grad, atol, rtol, f"{name}.grad")


def spread_gpt2_weights_(model):
    """Redraw a transformers GPT-2's weights with a larger spread (and non-unit LayerNorm gains)
    so that mistakes show in the outputs; HF's 0.02 init makes tiny models nearly constant."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2 if p.ndim == 2 else 0.1)
    return model.eval()
