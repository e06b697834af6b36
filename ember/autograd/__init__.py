"""ember.autograd: Tensor, Function, reverse-mode differentiation, grad mode."""
from .function import AccumulateGrad, Function, Node  # noqa: F401
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .tensor import Size, Tensor, device  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """``ember.autograd.backward``: backpropagate from several outputs at once; with ``inputs``,
    only those tensors' ``.grad`` are updated."""
    from .engine import run_backward
    import numpy as np

    if create_graph:
        raise NotImplementedError("ember's backward does not build a graph (no double "
                                  "backward); create_graph=True is not supported")

    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones_like(t.data)
        else:
            g = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=t.dtype)
        roots.append((t, g))
    run_backward(roots, retain_graph=bool(retain_graph), only=_only(inputs))


def _only(inputs) -> set | None:
    """ids of ``inputs`` for ``run_backward(only=...)``; non-leaf inputs retain their grad."""
    if inputs is None:
        return None
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    for t in inputs:
        if not t.is_leaf:
            t.retain_grad()
    return {id(t) for t in inputs}


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=False):
    """``ember.autograd.grad``: gradients of outputs w.r.t. inputs, leaving every ``.grad`` as
    it was."""
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    # an optimizer's flat gradient storage stays untouched: .grad is only borrowed here
    saved = [(t, t.grad, t._grad_buffer) for t in inputs]
    for t in inputs:
        t.grad = t._grad_buffer = None
        if not t.is_leaf:
            t.retain_grad()
    try:
        backward(outputs, grad_outputs, retain_graph=retain_graph, inputs=inputs)
        result = []
        for t in inputs:
            if t.grad is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(t.grad)
    finally:
        for t, g, buf in saved:
            t.grad, t._grad_buffer = g, buf
    return tuple(result)
from .gradcheck import GradcheckError, gradcheck  # noqa: F401,E402
from .graph import draw, print_graph, to_dot  # noqa: F401,E402
