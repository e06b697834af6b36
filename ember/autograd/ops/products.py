"""Products built on matmul: the BLAS-style ``beta * input + alpha * product`` family (addmm,
addmv, addr, baddbmm, addbmm), tensordot, kron, and pairwise distances (cdist)."""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, norm_dim, shape_str, unbroadcast
from .arithmetic import ne, sub
from .linalg import matmul, outer
from .reduction import norm, sum
from .shape import expand, permute, reshape, unsqueeze
from .trig import _dtype_name


class ScaledAdd(Function):
    """``beta * input + alpha * product``; beta == 0 ignores input, so NaN/inf in it do not
    spread (torch's rule), but its gradient is still ``beta * grad`` (zeros)."""

    def forward(ctx, input, product, beta, alpha):
        ctx.shape, ctx.beta, ctx.alpha = input.shape, beta, alpha
        out = product * alpha if alpha != 1 else product.copy()
        if beta != 0:
            out = out + (input if beta == 1 else input * beta)
        return out.astype(product.dtype, copy=False)  # int tensors keep their dtype

    def backward(ctx, g):
        gi = unbroadcast(g * ctx.beta, ctx.shape) if ctx.needs_input_grad[0] else None
        gp = (g * ctx.alpha if ctx.alpha != 1 else g) if ctx.needs_input_grad[1] else None
        return gi, gp


def _same_dtype(input: Tensor, m1: Tensor, m2: Tensor, n1: str, n2: str) -> None:
    for name, a in ((n1, m1), ("self", input)):
        if a.dtype != m2.dtype:
            raise RuntimeError(f"{name} and {n2} must have the same dtype, but got "
                               f"{_dtype_name(a.dtype)} and {_dtype_name(m2.dtype)}")


def _scaled_add(input, product: Tensor, beta, alpha) -> Tensor:
    x = expand(as_operand(input), product.shape)  # torch's "expanded size" error on mismatch
    return ScaledAdd.apply(x, product, beta, alpha)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
    _same_dtype(input, mat1, mat2, "mat1", "mat2")
    return _scaled_add(input, matmul(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    if mat.ndim != 2 or vec.ndim != 1 or input.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                           f"{vec.ndim}")
    if mat.shape[1] != vec.shape[0] or (input.ndim == 1 and input.shape[0] not in
                                        (1, mat.shape[0])):
        raise RuntimeError(f"size mismatch, got input ({', '.join(map(str, input.shape))}), "
                           f"mat ({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})")
    _same_dtype(input, mat, vec, "mat", "vec")
    return _scaled_add(input, matmul(mat, vec), beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    return _scaled_add(input, outer(vec1, vec2), beta, alpha)


def _check_batches(batch1: Tensor, batch2: Tensor) -> None:
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        if b.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` for (b, n, m) @ (b, m, p)."""
    _check_batches(batch1, batch2)
    want = [batch1.shape[0], batch1.shape[2]]
    if list(batch2.shape[:2]) != want:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"{shape_str(want)} but got: {shape_str(batch2.shape[:2])}.")
    _same_dtype(input, batch1, batch2, "batch1", "batch2")
    return _scaled_add(input, matmul(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _check_batches(batch1, batch2)
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{batch1.shape[0]} and {batch2.shape[0]}")
    if batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({batch1.shape[1]}x"
                           f"{batch1.shape[2]} and {batch2.shape[1]}x{batch2.shape[2]})")
    _same_dtype(input, batch1, batch2, "batch1", "batch2")
    return _scaled_add(input, sum(matmul(batch1, batch2), 0), beta, alpha)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract ``dims`` (the last n of ``a`` with the first n of ``b``, or two lists of dims)
    and keep the remaining dims of ``a`` then of ``b``."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da, db = [norm_dim(d, a.ndim) for d in da], [norm_dim(d, b.ndim) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    size = lambda t, ds: int(np.prod([t.shape[d] for d in ds]))
    am = reshape(permute(a, fa + da), size(a, fa), size(a, da))
    bm = reshape(permute(b, db + fb), size(b, db), size(b, fb))
    return reshape(matmul(am, bm), [a.shape[i] for i in fa] + [b.shape[j] for j in fb])


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: block (i, j, ...) is ``input[i, j, ...] * other``."""
    a, b = as_operand(input), as_operand(other)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + tuple(a.shape)
    sb = (1,) * (nd - b.ndim) + tuple(b.shape)
    ai = reshape(a, [v for s in sa for v in (s, 1)])  # (a0, 1, a1, 1, ...)
    bi = reshape(b, [v for s in sb for v in (1, s)])  # (1, b0, 1, b1, ...)
    return reshape(ai * bi, [x * y for x, y in zip(sa, sb)])


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M), as
    (..., P, R); batch dims broadcast. ember always takes the direct differences (exact near
    zero; memory P * R * M); the gradient at a zero distance is 0."""
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if x.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dtype_name(x.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    diff = sub(unsqueeze(x1, -2), unsqueeze(x2, -3))  # (..., P, R, M)
    if p == 0:
        return sum(ne(diff, 0), -1).to(diff.dtype)
    return norm(diff, p, dim=-1)
