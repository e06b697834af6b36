"""``Function``: one differentiable op, with ``forward``/``backward`` on raw ndarrays.

A subclass writes ``forward(ctx, *arrays, **options)`` returning an ndarray (or a tuple of them)
and ``backward(ctx, *grads)`` returning one gradient ndarray (or None, or a ``RowsGrad``) per
positional input; ``ctx`` is the graph node itself. ``Function.apply`` runs forward and, when grad
mode is on and some input requires grad, records the node. Backward works on ndarrays and never
records a graph, so ember has no double backward.

Example::

    class Square(Function):
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        def backward(ctx, grad):
            (x,) = ctx.saved
            return 2 * x * grad

    y = Square.apply(t)          # t: Tensor; y: Tensor with y.grad_fn a Square node
"""
from __future__ import annotations

import weakref

import numpy as np

from .grad_mode import is_grad_enabled


class Node:
    """A vertex of the backward graph.

    ``next_edges[i]`` is ``(node, output_nr)`` for the i-th input when it requires grad, else None.
    ``in_meta[i]`` is that input's ``(shape, dtype)``, used to check and cast incoming gradients.
    """

    next_edges: tuple = ()
    in_meta: tuple = ()
    n_outputs: int = 1
    saved: tuple = ()
    needs_input_grad: tuple = ()
    _versions: tuple = ()
    _hooks: dict | None = None
    _retained: dict | None = None
    _released: bool = False
    _grad_dest: tuple | None = None

    @property
    def name(self) -> str:
        """torch-style node name: ``MulBackward`` for the ``Mul`` op."""
        return type(self).__name__.strip("_").removesuffix("Fn") + "Backward"

    @property
    def next_functions(self) -> tuple:
        """``(node, output_nr)`` per input, as torch's ``grad_fn.next_functions``."""
        return tuple(e if e is not None else (None, 0) for e in self.next_edges)

    def register_hook(self, output_nr: int, fn) -> None:
        if self._hooks is None:
            self._hooks = {}
        self._hooks.setdefault(output_nr, []).append(fn)

    def retain(self, output_nr: int, tensor) -> None:
        if self._retained is None:
            self._retained = {}
        self._retained[output_nr] = weakref.ref(tensor)

    def release(self) -> None:
        """Free what forward saved; a later backward through this node raises."""
        had = bool(self.saved)
        for k, v in list(self.__dict__.items()):
            if isinstance(v, np.ndarray):
                had = True
                del self.__dict__[k]
        self.saved = ()
        self._released = had

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Function(Node):
    """Base class of differentiable ops (see the module docstring)."""

    is_view = False  # True for ops whose output may alias input 0 (it then shares its version)

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    def grad_out(self, i: int, shape: tuple | None = None) -> np.ndarray | None:
        """Inside ``backward``: an array that input ``i``'s gradient may be written into (with
        ``out=``) and returned, sparing a copy: the parameter's own gradient storage, offered
        by the engine when that gradient goes nowhere else first; viewed as ``shape`` if given.
        None otherwise."""
        dest = None if self._grad_dest is None else self._grad_dest[i]
        if dest is None or shape is None or dest.shape == tuple(shape):
            return dest
        if dest.size != int(np.prod(shape)) or not dest.flags.c_contiguous:
            return None
        return dest.reshape(shape)

    @classmethod
    def apply(cls, *inputs, **options):
        ctx = cls.__new__(cls)
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        record = False
        if is_grad_enabled():
            for x in inputs:
                if isinstance(x, Tensor) and x.requires_grad:
                    record = True
                    break
        if record:
            ctx.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        with np.errstate(all="ignore"):  # inf/nan propagate silently, as in torch
            out = ctx.forward(*arrays, **options)
        if not record:
            version = inputs[0]._version if cls.is_view else None
            if isinstance(out, tuple):
                return tuple(Tensor._make(o, None, 0, version) for o in out)
            return Tensor._make(out, None, 0, version if _aliases(out, arrays[0]) else None)

        edges, meta = [], []
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                edges.append(x._edge())
                meta.append((x.data.shape, x.data.dtype))
            else:
                edges.append(None)
                meta.append(None)
        ctx.next_edges = tuple(edges)
        ctx.in_meta = tuple(meta)

        if isinstance(out, tuple):
            ctx.n_outputs = len(out)
            version = inputs[0]._version if cls.is_view else None  # pieces of one input
            results = tuple(Tensor._make(o, ctx, i, version) for i, o in enumerate(out))
        else:
            version = inputs[0]._version if cls.is_view and _aliases(out, arrays[0]) else None
            results = Tensor._make(out, ctx, 0, version)

        if ctx.saved:  # remember versions of saved inputs/outputs to catch in-place misuse
            versions = []
            outs = results if isinstance(results, tuple) else (results,)
            for a in ctx.saved:
                if not isinstance(a, np.ndarray):
                    continue
                for t in (*inputs, *outs):
                    if isinstance(t, Tensor) and t.data is a:
                        versions.append((t._version, t._version[0], a.shape, a.dtype))
                        break
            ctx._versions = tuple(versions)
        return results


class RowsGrad:
    """A gradient that is zero except for some rows: ``dense()[index] += values`` (repeated rows
    add up). An embedding's backward returns one, so a (vocab, dim) gradient costs a scatter into
    the parameter's ``.grad`` instead of a zeroed full-size array (and, for tied weights, a
    second full-size sum). The engine densifies it wherever a plain array is needed."""

    __slots__ = ("shape", "dtype", "index", "values")

    def __init__(self, shape: tuple, index: np.ndarray, values: np.ndarray) -> None:
        self.shape, self.dtype = tuple(shape), values.dtype
        self.index, self.values = index, values

    def astype(self, dtype) -> RowsGrad:
        return RowsGrad(self.shape, self.index, self.values.astype(dtype))

    def add_to(self, out: np.ndarray) -> None:
        """Scatter-add into ``out`` (same shape) in place."""
        np.add.at(out, self.index, self.values.astype(out.dtype, copy=False))

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.dtype)
        self.add_to(out)
        return out


def _aliases(out: np.ndarray, inp) -> bool:
    return out.base is not None and isinstance(inp, np.ndarray) and np.may_share_memory(out, inp)


class AccumulateGrad(Node):
    """The node of a leaf tensor: adds incoming gradients into ``leaf.grad``."""

    def __init__(self, leaf):
        self.leaf = weakref.ref(leaf)

    @property
    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def variable(self):
        return self.leaf()

    def release(self) -> None:
        pass


from .tensor import Tensor  # noqa: E402  (Tensor imports this module's Function lazily)
