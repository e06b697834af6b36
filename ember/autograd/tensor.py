"""``Tensor``: an ndarray plus what autograd needs (requires_grad, grad, grad_fn)."""
from __future__ import annotations

from typing import Any
from collections.abc import Callable

import numpy as np

from . import dtypes
from .grad_mode import is_grad_enabled
from .printing import add_suffixes, format_array


class device:
    """``ember.device("cpu")``: ember computes on the CPU only (NumPy)."""

    __slots__ = ("type", "index")

    def __init__(self, spec: Any = "cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = "cpu" if spec < 0 else f"cuda:{spec}"
        kind, _, idx = str(spec).partition(":")
        if kind != "cpu":
            raise RuntimeError(f"device {spec!r} is not available: ember runs on the CPU (NumPy); "
                               "use 'cpu'")
        self.type = "cpu"
        self.index = int(idx) if idx else index

    def __eq__(self, other) -> bool:
        try:
            return device(other).type == self.type
        except (RuntimeError, TypeError, ValueError):
            return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"


_CPU = device("cpu")


def _arr(x) -> Any:
    return x.data if isinstance(x, Tensor) else x


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    ``t.data`` is the underlying ``np.ndarray`` (ember's one deliberate difference from torch,
    where ``.data`` is a detached tensor). Only leaves, and tensors that called ``retain_grad()``,
    keep ``.grad`` after ``backward()``.
    """

    __slots__ = ("data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_version",
                 "_retains_grad", "_hooks", "_accumulator", "_grad_buffer", "_name", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op

    def __init__(self, data: Any = None, *, dtype=None, requires_grad: bool = False):
        if data is None:
            data = np.empty(0, dtype=dtypes.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.data
        elif isinstance(data, (int, float)) and not isinstance(data, bool):
            # torch.Tensor(3) is an uninitialised tensor of size 3; mirror that, zero-filled
            data = np.zeros(int(data), dtype=dtypes.get_default_dtype())
        arr = np.asarray(data)
        if dtype is not None:
            arr = arr.astype(dtypes.as_dtype(dtype), copy=False)
        elif not isinstance(data, np.ndarray) and arr.dtype.kind in "iuf":
            arr = arr.astype(dtypes.get_default_dtype(), copy=False)  # torch.Tensor(list) is float
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def _init(self, arr: np.ndarray, grad_fn=None, output_nr: int = 0, version=None) -> None:
        self.data = arr
        self._requires_grad = grad_fn is not None
        self.grad = None
        self.grad_fn = grad_fn
        self._output_nr = output_nr
        self._version = [0] if version is None else version
        self._retains_grad = False
        self._hooks = None
        self._accumulator = None
        self._grad_buffer = None
        self._name = None

    @classmethod
    def _make(cls, arr, grad_fn=None, output_nr: int = 0, version=None) -> Tensor:
        """Wrap an ndarray without copying or converting (the internal constructor)."""
        t = cls.__new__(cls)
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        t._init(arr, grad_fn, output_nr, version)
        return t

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                                   "you want to use a computed variable in a subgraph that doesn't"
                                   " require differentiation use var_no_grad = var.detach().")
            return
        if value and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.data.dtype})")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def _edge(self):
        if self.grad_fn is not None:
            return (self.grad_fn, self._output_nr)
        acc = self._accumulator
        if acc is None:
            from .function import AccumulateGrad
            acc = self._accumulator = AccumulateGrad(self)
        return (acc, 0)

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (only ``inputs``' if given).

        ``gradient`` is required unless self has one element; ``retain_graph=True`` keeps saved
        arrays so the graph can be walked again.
        """
        if create_graph:
            raise NotImplementedError("ember's backward does not build a graph (no double "
                                      "backward); create_graph=True is not supported")
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this "
                                   f"tensor has shape {tuple(self.shape)}: pass backward(gradient)")
            g = np.ones_like(self.data)
        else:
            g = np.asarray(_arr(gradient), dtype=self.data.dtype)
            if g.shape != self.data.shape:
                raise RuntimeError(f"gradient has shape {g.shape} but the tensor has shape "
                                   f"{self.data.shape}")
        from . import _only
        from .engine import run_backward
        run_backward([(self, g)], retain_graph=bool(retain_graph), only=_only(inputs))

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self.grad_fn.retain(self._output_nr, self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad and self.grad_fn is not None

    def register_hook(self, hook: Callable) -> _RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            self.grad_fn.register_hook(self._output_nr, hook)
            hooks = self.grad_fn._hooks[self._output_nr]
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
            hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def __deepcopy__(self, memo) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment")
        new = type(self).__new__(type(self))
        new._init(self.data.copy())
        new._requires_grad = self._requires_grad
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        for cls in type(self).__mro__[:-2]:  # slots that subclasses add
            for slot in getattr(cls, "__slots__", ()) if cls is not Tensor else ():
                setattr(new, slot, getattr(self, slot))
        memo[id(self)] = new
        return new

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data, version=self._version)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple:
        return Size(self.data.shape)

    def size(self, dim: int | None = None):
        return Size(self.data.shape) if dim is None else self.data.shape[dim]

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    nelement = numel

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        st = tuple(s // self.data.itemsize for s in self.data.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        return self.data.__array_interface__["data"][0]

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to "
                               "Scalar")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self.data

    def __array__(self, dtype=None, copy=None):
        a = self.data
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.data.size} values is "
                               "ambiguous")
        return bool(self.data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = format_array(self.data)  # follows ember.set_printoptions
        extra = []
        if self.data.dtype != dtypes.get_default_dtype() and self.data.dtype != dtypes.int64 \
                and self.data.dtype != dtypes.bool_:
            extra.append(f"dtype=ember.{self.data.dtype}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return add_suffixes("tensor(" + body, extra)

    # ------------------------------------------------------------------ dtype / device
    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to("cpu")``, ``to(other_tensor)``; a GPU device is a clear error."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device, int)) and not (isinstance(a, str) and
                                                             a.removeprefix("torch.").removeprefix(
                                                                 "ember.") in dtypes._BY_NAME):
                dev = a
            else:
                dtype = a
        if dev is not None:
            device(dev)
        if dtype is None:
            return self.clone() if copy else self
        return self.type(dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"ember.{self.data.dtype}"
        d = dtypes.as_dtype(dtype)
        if d == self.data.dtype:
            return self
        return _ops.cast(self, d)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *a, **k):
        device("cuda")

    def float(self) -> Tensor:
        return self.type(dtypes.float32)

    def double(self) -> Tensor:
        return self.type(dtypes.float64)

    def half(self) -> Tensor:
        return self.type(dtypes.float16)

    def long(self) -> Tensor:
        return self.type(dtypes.int64)

    def int(self) -> Tensor:
        return self.type(dtypes.int32)

    def bool(self) -> Tensor:
        return self.type(dtypes.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.sub(self, o)
    def __rsub__(self, o): return _ops.sub(o, self)
    def __mul__(self, o): return _ops.mul(self, o)
    def __rmul__(self, o): return _ops.mul(o, self)
    def __truediv__(self, o): return _ops.div(self, o)
    def __rtruediv__(self, o): return _ops.div(o, self)
    def __floordiv__(self, o): return _ops.floor_divide(self, o)
    def __rfloordiv__(self, o): return _ops.floor_divide(o, self)
    def __mod__(self, o): return _ops.remainder(self, o)
    def __pow__(self, o): return _ops.pow(self, o)
    def __rpow__(self, o): return _ops.pow(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __invert__(self): return _ops.logical_not(self) if self.dtype == dtypes.bool_ \
        else _ops.bitwise_not(self)
    def __and__(self, o): return _ops.logical_and(self, o) if self.dtype == dtypes.bool_ \
        else _ops.bitwise_and(self, o)
    def __or__(self, o): return _ops.logical_or(self, o) if self.dtype == dtypes.bool_ \
        else _ops.bitwise_or(self, o)
    def __xor__(self, o): return _ops.logical_xor(self, o)
    __rand__ = __and__
    __ror__ = __or__
    def __eq__(self, o): return _ops.eq(self, o)  # noqa: E704
    def __ne__(self, o): return _ops.ne(self, o)
    def __lt__(self, o): return _ops.lt(self, o)
    def __le__(self, o): return _ops.le(self, o)
    def __gt__(self, o): return _ops.gt(self, o)
    def __ge__(self, o): return _ops.ge(self, o)

    def __iadd__(self, o): return self.add_(o)
    def __isub__(self, o): return self.sub_(o)
    def __imul__(self, o): return self.mul_(o)
    def __itruediv__(self, o): return self.div_(o)

    def add(self, other, alpha=1): return _ops.add(self, other, alpha=alpha)
    def sub(self, other, alpha=1): return _ops.sub(self, other, alpha=alpha)
    def mul(self, other): return _ops.mul(self, other)
    def div(self, other, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)
    def pow(self, exponent): return _ops.pow(self, exponent)

    multiply = mul
    divide = true_divide = div
    subtract = sub

    # ------------------------------------------------------------------ in place
    def _inplace(self, out: Tensor) -> Tensor:
        """Write an out-of-place result into self (same storage), keeping autograd honest."""
        recording = out.grad_fn is not None
        if recording and self.grad_fn is None and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        if not np.can_cast(out.data.dtype, self.data.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {out.data.dtype} can't be cast to the desired output "
                               f"type {self.data.dtype}")
        if out.data.shape != self.data.shape:
            raise RuntimeError(f"output with shape {list(self.data.shape)} doesn't match the "
                               f"broadcast shape {list(out.data.shape)}")
        if recording:
            node = out.grad_fn
            old = self.data
            if any(a is old for a in node.saved):  # the new node needs self's old value
                node.saved = tuple(a.copy() if a is old else a for a in node.saved)
                node._versions = tuple(v for v in node._versions if v[0] is not self._version)
            self.grad_fn, self._output_nr, self._requires_grad = node, out._output_nr, True
            if node._retained and out._output_nr in node._retained:
                node.retain(out._output_nr, self)
        np.copyto(self.data, out.data, casting="unsafe")
        self._version[0] += 1
        return self

    def _check_inplace_leaf(self) -> None:
        if self.requires_grad and self.grad_fn is None and is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")

    def add_(self, other, alpha=1): return self._inplace(_ops.add(self, other, alpha=alpha))
    def sub_(self, other, alpha=1): return self._inplace(_ops.sub(self, other, alpha=alpha))
    def mul_(self, other): return self._inplace(_ops.mul(self, other))
    def div_(self, other): return self._inplace(_ops.div(self, other))
    def pow_(self, e): return self._inplace(_ops.pow(self, e))
    def neg_(self): return self._inplace(_ops.neg(self))
    def exp_(self): return self._inplace(_ops.exp(self))
    def sqrt_(self): return self._inplace(_ops.sqrt(self))
    def relu_(self): return self._inplace(_ops.relu(self))
    def sigmoid_(self): return self._inplace(_ops.sigmoid(self))
    def tanh_(self): return self._inplace(_ops.tanh(self))
    def abs_(self): return self._inplace(_ops.abs(self))
    def clamp_(self, min=None, max=None): return self._inplace(_ops.clamp(self, min, max))
    clip_ = clamp_
    def masked_fill_(self, mask, value): return self._inplace(_ops.masked_fill(self, mask, value))
    def copy_(self, src, non_blocking=False):
        src_t = src if isinstance(src, Tensor) else Tensor._make(np.asarray(src))
        return self._inplace(_ops.copy_from(self, src_t))

    def addcmul_(self, t1, t2, value=1):
        return self._inplace(_ops.add(self, _ops.mul(t1, t2), alpha=value))

    def addcdiv_(self, t1, t2, value=1):
        return self._inplace(_ops.add(self, _ops.div(t1, t2), alpha=value))

    def lerp_(self, end, weight):
        return self._inplace(_ops.add(self, _ops.mul(_ops.sub(end, self), weight)))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        self._check_inplace_leaf()
        if self.grad_fn is not None and is_grad_enabled():
            return self._inplace(_ops.full_like_grad(self, value))
        self.data[...] = _arr(value)
        self._version[0] += 1
        return self

    def _random_fill(self, arr: np.ndarray) -> Tensor:
        self._check_inplace_leaf()
        np.copyto(self.data, arr, casting="unsafe")
        self._version[0] += 1
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
        from .random import _gen
        return self._random_fill(_gen(generator).uniform(a, b, self.data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
        from .random import _gen
        return self._random_fill(_gen(generator).normal(mean, std, self.data.shape))

    def bernoulli_(self, p: float = 0.5, generator=None) -> Tensor:
        from .random import _gen
        return self._random_fill(_gen(generator).random(self.data.shape) < p)

    def random_(self, low: int = 0, high: int | None = None, generator=None) -> Tensor:
        from .random import _gen
        if high is None:
            low, high = 0, low if low else 2 ** 24
        return self._random_fill(_gen(generator).integers(low, high, self.data.shape))

    def __setitem__(self, index, value) -> None:
        index = _ops.normalize_index(index)
        v = value
        recording = is_grad_enabled() and (self.requires_grad or
                                           (isinstance(v, Tensor) and v.requires_grad))
        if recording:
            self._inplace(_ops.index_put(self, index, v))
            return
        self.data[index] = _arr(v)
        self._version[0] += 1

    # ------------------------------------------------------------------ everything else
    def __getitem__(self, index): return _ops.getitem(self, index)

    def clone(self, memory_format=None) -> Tensor: return _ops.clone(self)
    def contiguous(self, memory_format=None) -> Tensor:
        return self if self.data.flags.c_contiguous else _ops.clone(self)

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    @property
    def H(self) -> Tensor:
        return self.T

    @property
    def real(self) -> Tensor:
        return self

    @property
    def name(self):
        return self._name


class Size(tuple):
    """``tensor.shape``: a tuple, printed the way torch prints it."""

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class _RemovableHandle:
    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


from . import ops as _ops  # noqa: E402
