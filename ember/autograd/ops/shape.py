"""Shape ops: views, permutations, broadcasting, joining and splitting, padding."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim, shape_str


def _sizes(args) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``; tensors become ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


class Reshape(Function):
    is_view = True

    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    is_view = True

    def forward(ctx, x, perm):
        ctx.inv = tuple(np.argsort(perm))
        return x.transpose(perm)

    def backward(ctx, g):
        return g.transpose(ctx.inv)


class Expand(Function):
    is_view = True

    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(ctx, g):
        from ._util import unbroadcast
        return unbroadcast(g, ctx.shape)


class Repeat(Function):
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return np.tile(x, reps)

    def backward(ctx, g):
        reps = ctx.reps
        shape = (1,) * (len(reps) - len(ctx.shape)) + ctx.shape
        # view g as (r0, s0, r1, s1, ...) and sum the repeat axes
        g = g.reshape(tuple(v for pair in zip(reps, shape) for v in pair))
        g = g.sum(axis=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(ctx.shape)


class Triangle(Function):
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (np.triu if upper else np.tril)(x, diagonal)

    def backward(ctx, g):
        return (np.triu if ctx.upper else np.tril)(g, ctx.diagonal)


class Cat(Function):
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


class Split(Function):
    is_view = True

    def forward(ctx, x, bounds, axis):
        ctx.axis, ctx.shape = axis, x.shape
        ctx.bounds = bounds
        return tuple(np.split(x, bounds, axis=axis))

    def backward(ctx, *grads):
        if all(g is not None for g in grads):
            return np.concatenate(grads, axis=ctx.axis)
        out = None
        edges = (0, *ctx.bounds, ctx.shape[ctx.axis])
        for i, g in enumerate(grads):
            if g is None:
                continue
            if out is None:
                out = np.zeros(ctx.shape, dtype=g.dtype)
            idx = [slice(None)] * len(ctx.shape)
            idx[ctx.axis] = slice(edges[i], edges[i + 1])
            out[tuple(idx)] = g
        return out


class Unbind(Function):
    is_view = True

    def forward(ctx, x, axis):
        ctx.axis, ctx.shape = axis, x.shape
        return tuple(np.moveaxis(x, axis, 0))

    def backward(ctx, *grads):
        dtype = next(g for g in grads if g is not None).dtype
        zero = np.zeros(tuple(s for i, s in enumerate(ctx.shape) if i != ctx.axis), dtype)
        return np.stack([zero if g is None else g for g in grads], axis=ctx.axis)


class Flip(Function):
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes).copy()

    def backward(ctx, g):
        return np.flip(g, ctx.axes)


class Roll(Function):
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return np.roll(g, neg, ctx.axes)


class PadConstant(Function):
    def forward(ctx, x, widths, value):
        # widths: per axis (before, after); negative entries crop
        ctx.shape = x.shape
        crop = tuple(slice(max(-b, 0), s - max(-a, 0)) for (b, a), s in zip(widths, x.shape))
        x = x[crop]
        pos = [(max(b, 0), max(a, 0)) for b, a in widths]
        ctx.pos, ctx.crop = pos, crop
        return np.pad(x, pos, mode="constant", constant_values=value)

    def backward(ctx, g):
        inner = tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(ctx.pos))
        g = g[inner]
        if all(c == slice(0, s) for c, s in zip(ctx.crop, ctx.shape)):
            return g
        out = np.zeros(ctx.shape, dtype=g.dtype)
        out[ctx.crop] = g
        return out


class PadIndexed(Function):
    """reflect / replicate / circular padding as a gather per axis, scatter-added back."""

    def forward(ctx, x, widths, mode):
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        ctx.shape, ctx.index = x.shape, []
        out = x
        for ax, (b, a) in enumerate(widths):
            if b == 0 and a == 0:
                ctx.index.append(None)
                continue
            idx = np.pad(np.arange(x.shape[ax]), (b, a), mode=np_mode)
            ctx.index.append(idx)
            out = np.take(out, idx, axis=ax)
        return out

    def backward(ctx, g):
        for ax in reversed(range(len(ctx.shape))):
            idx = ctx.index[ax]
            if idx is None:
                continue
            shape = list(g.shape)
            shape[ax] = ctx.shape[ax]
            acc = np.zeros(shape, dtype=g.dtype)
            np.add.at(acc, (slice(None),) * ax + (idx,), g)
            g = acc
        return g


# ---------------------------------------------------------------------------- functional API
def reshape(input: Tensor, *shape) -> Tensor:
    x = as_operand(input)
    shape = _sizes(shape)
    n = x.data.size
    known = int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    ok = (known != 0 and n % known == 0) if -1 in shape else known == n
    if not ok:
        raise RuntimeError(f"shape '{shape_str(shape)}' is invalid for input of size {n} "
                           f"(input shape {shape_str(x.data.shape)})")
    if shape == x.data.shape:
        return x
    return Reshape.apply(x, shape)


def view(input: Tensor, *shape) -> Tensor:
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)):
        return input.to(shape[0])  # x.view(dtype) reinterprets; ember converts
    return reshape(input, *shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = as_operand(input)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = norm_dim(start_dim, x.ndim), norm_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = x.data.shape
    return reshape(x, shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    x = as_operand(input)
    d = norm_dim(dim, x.ndim)
    shp = x.data.shape
    return reshape(x, shp[:d] + tuple(sizes) + shp[d + 1:])


def permute(input: Tensor, *dims) -> Tensor:
    x = as_operand(input)
    dims = _sizes(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {x.ndim} is not equal to len(dims) = {len(dims)}")
    perm = tuple(norm_dim(d, x.ndim) for d in dims)
    if len(set(perm)) != len(perm):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    if perm == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, perm)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    x = as_operand(input)
    if x.ndim == 0:
        return x
    perm = list(range(x.ndim))
    a, b = norm_dim(dim0, x.ndim), norm_dim(dim1, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return permute(x, perm)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    x = as_operand(input)
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def movedim(input: Tensor, source, destination) -> Tensor:
    x = as_operand(input)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError("movedim: Invalid source or destination dims: source and destination "
                           "must have the same number of dims")
    src = [norm_dim(d, x.ndim) for d in src]
    dst = [norm_dim(d, x.ndim) for d in dst]
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, tuple(order))


moveaxis = movedim


def expand(input: Tensor, *sizes) -> Tensor:
    x = as_operand(input)
    sizes = _sizes(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        cur = x.data.shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur is not None and cur != s and cur != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size"
                               f" ({cur}) at non-singleton dimension {i}.  Target sizes: "
                               f"{shape_str(sizes)}.  Tensor sizes: {shape_str(x.data.shape)}")
        shape.append(s)
    shape = tuple(shape)
    if shape == x.data.shape:
        return x
    return Expand.apply(x, shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    return expand(input, tuple(shape))


def squeeze(input: Tensor, dim=None) -> Tensor:
    x = as_operand(input)
    if dim is None:
        shape = tuple(s for s in x.data.shape if s != 1)
    else:
        dims = {norm_dim(d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(s for i, s in enumerate(x.data.shape) if not (i in dims and s == 1))
    return reshape(x, shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    x = as_operand(input)
    d = norm_dim(dim, x.ndim + 1)
    shp = x.data.shape
    return reshape(x, shp[:d] + (1,) + shp[d:])


def repeat(input: Tensor, *sizes) -> Tensor:
    x = as_operand(input)
    reps = _sizes(sizes)
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    return Repeat.apply(x, reps)


def repeat_interleave(input: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    x = as_operand(input)
    if dim is None:
        x, dim = flatten(x), 0
    d = norm_dim(dim, x.ndim)
    from .indexing import index_select
    idx = np.repeat(np.arange(x.data.shape[d]), repeats)
    return index_select(x, d, Tensor._make(idx))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    return Triangle.apply(as_operand(input), diagonal, False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    return Triangle.apply(as_operand(input), diagonal, True)


def _check_same(tensors, axis_of, name: str):
    first = tensors[0]
    for t in tensors[1:]:
        if t.ndim != first.ndim:
            raise RuntimeError(f"{name}: Tensors must have same number of dimensions: got "
                               f"{first.ndim} and {t.ndim}")
        for i, (a, b) in enumerate(zip(first.data.shape, t.data.shape)):
            if a != b and i != axis_of:
                raise RuntimeError(f"{name}: Sizes of tensors must match except in dimension "
                                   f"{axis_of}. Expected size {a} but got size {b} for a tensor "
                                   f"of shape {shape_str(t.data.shape)} vs "
                                   f"{shape_str(first.data.shape)}")


def cat(tensors, dim: int = 0) -> Tensor:
    from ._util import promote
    ts = [as_operand(t) for t in tensors]
    if not ts:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    # torch skips legacy empty 1-D tensors of shape (0,)
    ts = [t for t in ts if not (t.ndim == 1 and t.data.shape[0] == 0)] or ts[:1]
    ts, _ = promote(*ts)
    axis = norm_dim(dim, ts[0].ndim)
    _check_same(ts, axis, "cat()")
    if len(ts) == 1:
        return ts[0].clone() if ts[0].requires_grad else Tensor._make(ts[0].data.copy())
    return Cat.apply(*ts, axis=axis)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    from ._util import promote
    ts = [as_operand(t) for t in tensors]
    if not ts:
        raise RuntimeError("stack expects a non-empty TensorList")
    ts, _ = promote(*ts)
    for i, t in enumerate(ts[1:], 1):  # not ts.index(t): that would call Tensor.__eq__
        if t.data.shape != ts[0].data.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{shape_str(ts[0].data.shape)} at entry 0 and "
                               f"{shape_str(t.data.shape)} at entry {i}")
    return Stack.apply(*ts, axis=norm_dim(dim, ts[0].ndim + 1))


def hstack(tensors) -> Tensor:
    ts = [as_operand(t) for t in tensors]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    ts = [as_operand(t) for t in tensors]
    return cat([t if t.ndim > 1 else t.reshape(1, -1) for t in ts], 0)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` (the last may be smaller) or of the given section sizes."""
    x = as_operand(tensor)
    axis = norm_dim(dim, x.ndim)
    n = x.data.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise RuntimeError(f"split_size must be positive, got {size}")
        sections = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {axis}), but got "
                               f"split_sizes={sections}")
    bounds = tuple(np.cumsum(sections)[:-1].tolist())
    out = Split.apply(x, bounds, axis)
    return out if isinstance(out, tuple) else (out,)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    x = as_operand(input)
    n = x.data.shape[norm_dim(dim, x.ndim)]
    size = -(-n // chunks) if n else 1
    return split(x, size, dim)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    n = x.data.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:
        b = [0, *indices_or_sections, n]
        sizes = [max(b[i + 1] - b[i], 0) for i in range(len(b) - 1)]
    return split(x, sizes, axis)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    if x.data.shape[axis] == 0:
        return ()
    out = Unbind.apply(x, axis)
    return out if isinstance(out, tuple) else (out,)


def flip(input: Tensor, dims) -> Tensor:
    x = as_operand(input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(x, tuple(norm_dim(d, x.ndim) for d in dims))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    x = as_operand(input)
    if isinstance(shifts, list):
        shifts = tuple(shifts)
    if isinstance(dims, list):
        dims = tuple(dims)
    return Roll.apply(x, shifts, dims)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    x = as_operand(input)
    axis = norm_dim(dim, x.ndim)
    idx = (slice(None),) * axis + (slice(start, start + length),)
    return x[idx]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """``F.pad``: ``pad`` lists (before, after) pairs starting from the LAST dim; negative values
    crop. Modes: constant, reflect, replicate, circular."""
    x = as_operand(input)
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"Padding length must be divisible by 2 and at most twice the number of "
                           f"dimensions of the input; got {len(pad)} for a {x.ndim}-D input")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return PadConstant.apply(x, tuple(widths), 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"padding mode {mode!r} is not supported")
    if any(b < 0 or a < 0 for b, a in widths):
        raise RuntimeError(f"negative padding is only supported in constant mode (got {pad})")
    if mode == "reflect":
        for ax, (b, a) in enumerate(widths):
            if b >= x.data.shape[ax] or a >= x.data.shape[ax]:
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding ({b}, {a}) "
                                   f"at dimension {ax} of input {shape_str(x.data.shape)}")
    return PadIndexed.apply(x, tuple(widths), mode)
