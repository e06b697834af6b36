"""``Adam`` (and the shared update behind ``AdamW``): torch's single-tensor formulas, run in place
over flat per-group buffers (see ``_flat``) or, as the reference path, tensor by tensor."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ._flat import FlatGroup
from .optimizer import Optimizer, _step_tensor

__all__ = ["Adam"]


def _scalar(x: Any) -> Any:
    return float(x.item()) if isinstance(x, Tensor) else x


def adam_kernel(lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                decoupled: bool, maximize: bool, step: float) -> Callable:
    """The update for one step count, as ``kernel(p, g, m, v, [vmax,] t1, t2)`` on same-shaped
    arrays (t1, t2 scratch), in place. torch's ``_single_tensor_adam`` with its scalars folded:
    ``p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)`` is computed as
    ``p -= (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps * sqrt(bc2))``, one pass fewer."""
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    scale = lr / (1 - beta1 ** step) * bc2_sqrt
    eps_scaled = eps * bc2_sqrt
    w1 = 1 - beta1  # exp_avg.lerp_(grad, 1 - beta1)
    w2 = 1 - beta2
    small = abs(w1) < 0.5
    decay = 1 - lr * weight_decay

    def kernel(p, g, m, v, *rest):
        t1, t2 = rest[-2], rest[-1]
        if weight_decay != 0 and decoupled:
            p *= decay
        if maximize:
            np.negative(g, out=t1)
            g = t1
        if weight_decay != 0 and not decoupled:
            np.multiply(p, weight_decay, out=t2)
            np.add(g, t2, out=t1)  # grad + weight_decay * param, leaving p.grad untouched
            g = t1
        np.subtract(g, m, out=t2)
        if small:  # torch's lerp: m + w (g - m) for |w| < 0.5, else g - (g - m)(1 - w)
            t2 *= w1
            m += t2
        else:
            t2 *= 1 - w1
            np.subtract(g, t2, out=m)
        v *= beta2
        np.multiply(g, g, out=t2)
        t2 *= w2
        v += t2
        if len(rest) == 3:  # amsgrad: normalise by the running max of v
            np.maximum(rest[0], v, out=rest[0])
            v = rest[0]
        np.sqrt(v, out=t2)
        t2 += eps_scaled
        np.divide(m, t2, out=t2)
        t2 *= scale
        p -= t2

    return kernel


def _bump_step(st: dict) -> float:
    t = st.get("step")
    if not isinstance(t, Tensor):
        t = st["step"] = _step_tensor(0.0 if t is None else float(t))
    t.data += 1
    return float(t.data)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with torch's defaults, formulas and state layout.

    ``weight_decay`` is L2 (added to the gradient) unless ``decoupled_weight_decay=True`` (AdamW).
    By default each param group is updated over flat buffers (parameters re-homed as views into
    one array, gradients written there by backward); ``fused=False`` selects the per-tensor
    reference path. ``foreach`` and ``capturable`` are accepted for torch compatibility.
    """

    _flat: dict

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        lr = _scalar(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            # torch raises ValueError here, so ember does too
            raise ValueError("betas must be either both floats or both Tensors")  # noqa: TRY004
        if differentiable:
            raise NotImplementedError("differentiable=True is not supported: ember does not "
                                      "record optimizer steps in the graph")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = {"lr": lr, "betas": tuple(_scalar(b) for b in betas), "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        self._flat = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_flat", {})
        for group in self.param_groups:
            for k, v in (("amsgrad", False), ("maximize", False), ("foreach", None),
                         ("capturable", False), ("differentiable", False),
                         ("decoupled_weight_decay", False), ("fused", None)):
                group.setdefault(k, v)

    def step(self, closure: Callable | None = None):
        """One Adam update of every parameter that has a gradient."""
        loss = self._closure_loss(closure)
        for gi, group in enumerate(self.param_groups):
            params = group["params"]
            active = [i for i, p in enumerate(params) if p.grad is not None]
            if not active:
                continue
            keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
            beta1, beta2 = group["betas"]
            hyper = (_scalar(group["lr"]), beta1, beta2, group["eps"], group["weight_decay"],
                     group["decoupled_weight_decay"], group["maximize"])
            flat = self._flat_group(gi, group, keys)
            if flat is None:
                for i in active:
                    self._reference_update(params[i], keys, hyper)
            else:
                items = []
                for i in active:
                    st = self.state[params[i]]
                    flat.adopt(i, params[i], st)
                    items.append((i, _bump_step(st)))
                arrays = [flat.param, flat.grad] + [flat.bufs[k] for k in keys]
                for lo, hi, step in flat.runs(items):
                    flat.apply(lo, hi, adam_kernel(*hyper, step), arrays)
            for i in active:
                params[i]._version[0] += 1
        return loss

    def _flat_group(self, gi: int, group: dict, keys: tuple) -> FlatGroup | None:
        if group.get("fused") is False:
            return None
        params = group["params"]
        flat = self._flat.get(gi)
        if flat is not None and flat.matches(params, keys):
            return flat
        if not FlatGroup.eligible(params):
            return None
        flat = self._flat[gi] = FlatGroup(params, keys)
        return flat

    def _reference_update(self, p: Tensor, keys: tuple, hyper: tuple) -> None:
        st = self.state[p]
        for k in keys:
            t = st.get(k)
            if t is None:
                st[k] = Tensor._make(np.zeros_like(p.data))
            elif t.data.dtype != p.data.dtype:  # the model was cast (module.to(dtype))
                st[k] = Tensor._make(t.data.astype(p.data.dtype))
        step = _bump_step(st)
        g = p.grad.data
        if g.dtype != p.data.dtype:
            g = g.astype(p.data.dtype)
        arrays = [p.data, g] + [st[k].data for k in keys]
        if p.data.dtype.kind == "c":  # torch updates complex tensors as (re, im) pairs
            arrays = [a.view(a.real.dtype) for a in arrays]
        adam_kernel(*hyper, step)(*arrays, np.empty_like(arrays[0]), np.empty_like(arrays[0]))
