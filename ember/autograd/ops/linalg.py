"""Matrix products."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import promote, shape_str, unbroadcast


class MatMul(Function):
    """``a @ b`` for 1-D, 2-D and batched operands with broadcast batch dims."""

    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is 0-d
            return (g * b if ctx.needs_input_grad[0] else None,
                    g * a if ctx.needs_input_grad[1] else None)
        # lift 1-D operands to matrices, as matmul does, and g with them
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = np.matmul(g, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # fold the batch into one GEMM instead of a batched product summed afterwards
                k, m = a2.shape[-1], g.shape[-1]
                gb = a2.reshape(-1, k).T @ g.reshape(-1, m)
            else:
                gb = np.matmul(np.swapaxes(a2, -1, -2), g)
                gb = unbroadcast(gb, b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def matmul(input, other) -> Tensor:
    (a, b), _ = promote(input, other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    ka = a.data.shape[-1]
    kb = b.data.shape[0] if b.ndim == 1 else b.data.shape[-2]
    ok = ka == kb
    if ok and a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.data.shape[:-2], b.data.shape[:-2])
        except ValueError:
            ok = False
    if not ok:
        sa = a.data.shape if a.ndim != 2 else f"{a.data.shape[0]}x{a.data.shape[1]}"
        sb = b.data.shape if b.ndim != 2 else f"{b.data.shape[0]}x{b.data.shape[1]}"
        if a.ndim == 2 and b.ndim == 2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")
        raise RuntimeError(f"matmul: shapes {shape_str(a.data.shape)} and {shape_str(b.data.shape)}"
                           f" are not aligned (inner sizes {ka} and {kb}, or batch dims that do "
                           f"not broadcast)")
    return MatMul.apply(a, b)


def mm(input, mat2) -> Tensor:
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}D and {mat2.ndim}D")
    return matmul(input, mat2)


def bmm(input, mat2) -> Tensor:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {input.ndim}D and {mat2.ndim}D")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


def mv(input, vec) -> Tensor:
    return matmul(input, vec)


def dot(input, other) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2) -> Tensor:
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, differentiable: each operand's gradient is another einsum."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops, _ = promote(*operands)
    return Einsum.apply(*ops, equation=equation.replace(" ", ""))


class Einsum(Function):
    def forward(ctx, *arrays, equation):
        lhs, arrow, out = equation.partition("->")
        ins = lhs.split(",")
        if not arrow:  # implicit output: the letters used once, in alphabetical order
            out = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
        if "." in equation or any(len(set(s)) != len(s) for s in ins):
            raise NotImplementedError("einsum with '...' or repeated indices within one operand "
                                      "is not supported")
        ctx.ins, ctx.out = ins, out
        ctx.save_for_backward(*arrays)
        return np.asarray(np.einsum(f"{','.join(ins)}->{out}", *arrays, optimize=True))

    def backward(ctx, g):
        arrays = ctx.saved
        grads = []
        for i, (spec, x) in enumerate(zip(ctx.ins, arrays)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(ctx.ins) if j != i]
            rest = [a for j, a in enumerate(arrays) if j != i]
            have = set(ctx.out).union(*others)
            # d out / d x: contract g with the other operands; letters of x found nowhere else
            # were summed out in forward, so the gradient is constant (broadcast) along them
            target = "".join(c for c in spec if c in have)
            r = np.einsum(f"{','.join([ctx.out, *others])}->{target}", g, *rest, optimize=True)
            shape = [x.shape[k] if c in have else 1 for k, c in enumerate(spec)]
            grads.append(np.broadcast_to(r.reshape(shape), x.shape))
        return tuple(grads)
