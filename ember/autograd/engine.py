"""The backward pass: an iterative walk of the graph in reverse topological order.

Iterative on purpose: a 20,000-op chain (BPTT over long sequences) must not hit Python's
recursion limit. Each node runs once, after every consumer of its outputs has contributed.
"""
from __future__ import annotations

import numpy as np

from .function import AccumulateGrad, RowsGrad
from .grad_mode import no_grad

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward(). Specify retain_graph=True if you need to backward through "
          "the graph a second time.")


def _check_versions(node) -> None:
    for counter, expected, shape, dtype in node._versions:
        if counter[0] != expected:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{dtype}{list(shape)}] of {node.name} is at version "
                f"{counter[0]}; expected version {expected} instead.")


def _tensor_type():
    from .tensor import Tensor
    return Tensor


def _wrap(g):
    return _tensor_type()._make(g)


def _run_hooks(hooks, g):
    for fn in hooks:
        r = fn(_wrap(g))
        if r is not None:
            g = r.data if isinstance(r, _tensor_type()) else np.asarray(r)
    return g


def _accumulate_leaf(node: AccumulateGrad, g) -> None:
    """Add ``g`` (an ndarray or a ``RowsGrad``) into the leaf's ``.grad``."""
    leaf = node.leaf()
    if leaf is None:
        return
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, _dense(g))
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if leaf.grad is not None:
        if isinstance(g, RowsGrad):
            g.add_to(leaf.grad.data)
        else:
            np.add(leaf.grad.data, g, out=leaf.grad.data, casting="unsafe")
        return
    buf = leaf._grad_buffer
    # optimizer-provided storage (e.g. a view into a flat buffer); stale after the leaf's dtype or
    # shape changed (module.to(float64)) until the optimizer's next step
    if buf is None or buf.dtype != g.dtype or buf.shape != g.shape:
        buf = None
    if isinstance(g, RowsGrad):
        if buf is None:
            buf = np.zeros(g.shape, g.dtype)
        else:
            buf.fill(0)
        g.add_to(buf)
    elif buf is not None:
        if g is not buf:  # else backward wrote it in place (Function.grad_out)
            np.copyto(buf, g)
    else:
        # copy: g may alias a gradient that also flows elsewhere (add passes grads through)
        buf = np.array(g, copy=True)
    leaf.grad = _wrap(buf)


def _dense(g):
    return g.dense() if isinstance(g, RowsGrad) else g


def _wanted(node, only: set | None) -> bool:
    """Whether an AccumulateGrad node's leaf is to receive gradients."""
    if only is None:
        return True
    leaf = node.leaf()
    return leaf is not None and id(leaf) in only


def _direct(node) -> bool:
    """Whether gradients for ``node`` may go straight into its leaf's ``.grad`` as they arrive,
    instead of being summed first: an AccumulateGrad with no hooks on it or on the leaf (hooks
    must see the summed gradient once). Saves a full-size sum per extra consumer of a parameter
    (tied embeddings: a (vocab, dim) array per step)."""
    if not isinstance(node, AccumulateGrad) or node._hooks:
        return False
    leaf = node.leaf()
    return leaf is not None and not leaf._hooks


def _destinations(node, direct: dict, only: set | None) -> tuple | None:
    """Per input of ``node``: the leaf's gradient storage when backward may write the gradient
    straight into it (see ``Function.grad_out``), else None; None when there is none at all."""
    dest = None
    edges = node.next_edges
    for i, e in enumerate(edges):
        if e is None or not isinstance(e[0], AccumulateGrad):
            continue
        parent = e[0]
        if sum(1 for f in edges if f is not None and f[0] is parent) > 1:
            continue  # the leaf is two inputs here (linear(w, w)): its gradients must add up
        if direct.get(parent) is None:
            direct[parent] = _direct(parent) and _wanted(parent, only)
        if not direct[parent]:
            continue
        leaf = parent.leaf()
        buf = leaf._grad_buffer
        shape, dtype = node.in_meta[i]
        if leaf.grad is None and buf is not None and buf.shape == shape and buf.dtype == dtype:
            if dest is None:
                dest = [None] * len(edges)
            dest[i] = buf
    return None if dest is None else tuple(dest)


def run_backward(roots, retain_graph: bool = False, only: set | None = None) -> None:
    """Backpropagate from ``roots``: a list of ``(tensor, grad_array)``. With ``only`` (ids of
    tensors), gradients are stored into those tensors' ``.grad`` and no others (torch's
    ``backward(inputs=...)`` and ``autograd.grad``)."""
    from .tensor import Tensor

    buffers: dict = {}
    start = []
    for t, g in roots:
        if t.grad_fn is None:
            if not t.requires_grad:
                raise RuntimeError("element 0 of tensors does not require grad and does not have "
                                   "a grad_fn")
            node, nr = t._edge()
        else:
            node, nr = t.grad_fn, t._output_nr
        buf = buffers.setdefault(node, [None] * node.n_outputs)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
        start.append(node)

    # count, for every reachable node, how many edges lead into it
    deps: dict = {}
    seen = set(start)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for e in node.next_edges:
            if e is None:
                continue
            p = e[0]
            deps[p] = deps.get(p, 0) + 1
            if p not in seen:
                seen.add(p)
                stack.append(p)

    ready = [n for n in seen if deps.get(n, 0) == 0]
    direct: dict = {}
    with no_grad(), np.errstate(all="ignore"):
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:  # reached, but no gradient flowed into it
                grads = [None] * node.n_outputs
            if node._hooks:
                for nr, hooks in node._hooks.items():
                    if grads[nr] is not None:
                        grads[nr] = _run_hooks(hooks, grads[nr])
            if node._retained:
                for nr, ref in node._retained.items():
                    t = ref()
                    if t is not None and grads[nr] is not None \
                            and (only is None or id(t) in only):
                        if t.grad is None:
                            t.grad = Tensor._make(np.array(grads[nr], copy=True))
                        else:
                            t.grad.data += grads[nr]

            if isinstance(node, AccumulateGrad):
                if grads[0] is not None and _wanted(node, only):
                    _accumulate_leaf(node, grads[0])
                continue

            if node._released:
                raise RuntimeError(_FREED)
            if node._versions:
                _check_versions(node)
            if all(g is None for g in grads):
                in_grads = (None,) * len(node.next_edges)
            else:
                node._grad_dest = _destinations(node, direct, only)
                in_grads = node.backward(*grads)
                node._grad_dest = None
                if not isinstance(in_grads, tuple):
                    in_grads = (in_grads,)
                if len(in_grads) < len(node.next_edges):
                    in_grads = in_grads + (None,) * (len(node.next_edges) - len(in_grads))
            if not retain_graph:
                node.release()

            for e, g, meta in zip(node.next_edges, in_grads, node.in_meta):
                if e is None:
                    continue
                parent, nr = e
                if g is not None:
                    shape, dtype = meta
                    if g.shape != shape:
                        if not isinstance(g, RowsGrad) and g.size == int(np.prod(shape)) \
                                and g.ndim == 0:
                            g = np.broadcast_to(g, shape)
                        else:
                            raise RuntimeError(f"{node.name} returned a gradient of shape "
                                               f"{g.shape} for an input of shape {shape}")
                    if g.dtype != dtype:
                        g = g.astype(dtype)
                    if direct.get(parent) is None:
                        direct[parent] = _direct(parent) and _wanted(parent, only)
                    if direct[parent]:
                        _accumulate_leaf(parent, g)
                    else:
                        g = _dense(g)
                        buf = buffers.get(parent)
                        if buf is None:
                            buf = buffers[parent] = [None] * parent.n_outputs
                        buf[nr] = g if buf[nr] is None else buf[nr] + g
                deps[parent] -= 1
                if deps[parent] == 0:
                    ready.append(parent)
