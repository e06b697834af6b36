"""Finite-difference gradient checks (float64), as ``torch.autograd.gradcheck``."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _analytic(fn, inputs, cotangents) -> list[np.ndarray | None]:
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    outs = [o for o in _outputs(fn, inputs)]
    from . import backward
    pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
    if pairs:
        backward([o for o, _ in pairs], [Tensor._make(c) for _, c in pairs])
    return [None if not (isinstance(t, Tensor) and t.requires_grad) else
            (np.zeros_like(t.data) if t.grad is None else t.grad.data.copy()) for t in inputs]


def _objective(fn, inputs, cotangents) -> float:
    """<outputs, cotangents>: its gradient w.r.t. an input is that input's vector-Jacobian
    product."""
    from .grad_mode import no_grad
    with no_grad():
        outs = _outputs(fn, inputs)
    return float(sum(np.sum(o.data * c) for o, c in zip(outs, cotangents)))


def gradcheck(fn: Callable, inputs: Sequence, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool | None = None,
              seed: int = 0) -> bool:
    """Compare autograd's gradients with central differences.

    ``inputs``: tensors (float64 recommended, those with ``requires_grad`` are checked) or other
    arguments passed through. Every entry of small inputs is perturbed; for inputs of more than
    ``2000`` elements (or with ``fast_mode=True``) a random direction is checked instead:
    ``<grad, t> ~ (f(x + eps t) - f(x - eps t)) / 2 eps``, the cheap check JAX's tests use.
    """
    inputs = list(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            import warnings
            warnings.warn("gradcheck on a non-float64 input: expect false failures", stacklevel=2)
    rng = np.random.default_rng(seed)
    cot = [rng.standard_normal(o.data.shape) for o in _outputs(fn, inputs)]
    analytic = _analytic(fn, inputs, cot)
    for i, t in enumerate(inputs):
        if analytic[i] is None:
            continue
        x = t.data
        if fast_mode or (fast_mode is None and x.size > 2000):
            direction = rng.standard_normal(x.shape)
            orig = x.copy()
            x += eps * direction
            fp = _objective(fn, inputs, cot)
            x[...] = orig - eps * direction
            fm = _objective(fn, inputs, cot)
            x[...] = orig
            numeric = (fp - fm) / (2 * eps)
            got = float(np.sum(analytic[i] * direction))
            if not abs(got - numeric) <= atol + rtol * abs(numeric):
                return _fail(raise_exception, f"input {i}: directional derivative {got} vs "
                                              f"numerical {numeric}")
            continue
        numeric = np.zeros_like(x, dtype=np.float64)
        flat = x.reshape(-1)
        if not np.shares_memory(flat, x):
            raise GradcheckError("gradcheck needs contiguous inputs")
        for j in range(flat.size):
            v = flat[j]
            flat[j] = v + eps
            fp = _objective(fn, inputs, cot)
            flat[j] = v - eps
            fm = _objective(fn, inputs, cot)
            flat[j] = v
            numeric.reshape(-1)[j] = (fp - fm) / (2 * eps)
        if not np.allclose(analytic[i], numeric, atol=atol, rtol=rtol):
            err = np.max(np.abs(analytic[i] - numeric))
            return _fail(raise_exception, f"Jacobian mismatch for input {i} (max abs diff "
                                          f"{err:.3g}):\nnumerical:{numeric}\nanalytical:"
                                          f"{analytic[i]}")
    return True


def _fail(raise_exception: bool, msg: str) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False
