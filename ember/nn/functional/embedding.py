"""``embedding`` (row lookup with a scatter-add backward) and ``one_hot``."""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function, RowsGrad
from ...autograd.grad_mode import no_grad
from ...autograd.ops._util import as_operand
from ...autograd.tensor import Tensor

__all__ = ["embedding", "one_hot"]


class Embedding(Function):
    def forward(ctx, weight, ids, padding_idx, scale_grad_by_freq):
        ctx.ids, ctx.padding_idx, ctx.by_freq = ids, padding_idx, scale_grad_by_freq
        ctx.w_shape, ctx.w_dtype = weight.shape, weight.dtype
        return weight[ids]

    def backward(ctx, g):
        n, d = ctx.w_shape
        ids = ctx.ids.reshape(-1)
        g2 = g.reshape(-1, d)
        if ctx.by_freq:  # divide each row's gradient by how often its id occurs in the batch
            counts = np.bincount(ids, minlength=n)
            g2 = g2 / counts[ids, None].astype(g.dtype)
        if ctx.padding_idx is not None:  # the padding row gets no gradient
            keep = ids != ctx.padding_idx
            if not keep.all():
                ids, g2 = ids[keep], g2[keep]
        # rows only: scattered into weight.grad by the engine (PERF-NOTES: add.at is the
        # fastest scatter measured), never a zeroed (n, d) temporary
        return RowsGrad((n, d), ids, g2.astype(ctx.w_dtype, copy=False)), None


def _renorm_(weight: Tensor, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and without grad, the looked-up rows whose norm exceeds max_norm."""
    rows = np.unique(ids)
    w = weight.data
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        with no_grad():
            scale = max_norm / (norms[big] + 1e-7)
            w[rows[big]] *= scale[:, None].astype(w.dtype)
            weight._version[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) by the integer ids in
    ``input``: output shape ``input.shape + (embedding_dim,)``.

    ``padding_idx`` rows receive no gradient; ``max_norm`` renormalises looked-up rows of
    ``weight`` in place, as torch.
    """
    ids_t, w = as_operand(input), as_operand(weight)
    if not isinstance(w, Tensor) or w.ndim != 2:
        raise RuntimeError(f"embedding(): 'weight' must be 2-D, got shape "
                           f"{list(np.shape(getattr(w, 'data', w)))}")
    ids = ids_t.data if isinstance(ids_t, Tensor) else np.asarray(ids_t)
    if ids.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {ids.dtype} instead "
                           f"(call .long() on the ids)")
    if sparse:
        raise NotImplementedError("embedding(sparse=True): ember has no sparse gradients; use "
                                  "sparse=False")
    n = w.shape[0]
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding(): index {bad} is out of range for an embedding of "
                             f"num_embeddings={n} (valid ids are 0..{n - 1})")
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= n or padding_idx < 0 and padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    if max_norm is not None:
        _renorm_(w, ids, max_norm, norm_type)
    return Embedding.apply(w, ids, padding_idx, scale_grad_by_freq)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: shape ``tensor.shape + (num_classes,)``; -1 infers
    ``max + 1``."""
    t = as_operand(tensor)
    ids = t.data if isinstance(t, Tensor) else np.asarray(t)
    if ids.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if ids.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(ids.max()) + 1
    if ids.size and int(ids.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if ids.size and int(ids.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(ids.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return Tensor._make(out)
