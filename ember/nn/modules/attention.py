"""``MultiheadAttention`` with torch's parameters, masks and outputs."""
from __future__ import annotations

import warnings

import numpy as np

from ...autograd import ops as _ops
from ...autograd.tensor import Tensor
from .. import init
from ..functional.attention import _attention
from ..functional.linear import linear
from ..module import Module
from ..parameter import Parameter
from .linear import Linear, _empty

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """``MultiheadAttention.out_proj``: a ``Linear`` under torch's class name (for equal reprs
    and state dicts)."""


def _canonical_mask(mask, name: str, dtype: np.dtype, other=None, other_name: str = ""):
    """A bool mask (True = masked out) becomes an additive float mask (-inf where True)."""
    if mask is None:
        return None
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype != np.bool_ and arr.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None:
        other_dt = (other.data if isinstance(other, Tensor) else np.asarray(other)).dtype
        if other_dt != arr.dtype:
            warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use "
                          f"same type for both instead.", stacklevel=3)
    if arr.dtype == np.bool_:
        return np.where(arr, -np.inf, 0.0).astype(dtype)
    return arr.astype(dtype, copy=False)


def _pad_last(mask: np.ndarray | None) -> np.ndarray | None:
    """One more key position (bias_k or the zero key), never masked."""
    if mask is None:
        return None
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


def _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    def nd(t):
        return None if t is None else np.ndim(t.data if isinstance(t, Tensor) else t)
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                                 f" but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and nd(key_padding_mask) != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {nd(key_padding_mask)}-D tensor instead")
        if attn_mask is not None and nd(attn_mask) not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {nd(attn_mask)}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and nd(key_padding_mask) != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 1-D but found {nd(key_padding_mask)}-D tensor "
                                 f"instead")
        if attn_mask is not None:
            if nd(attn_mask) not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {nd(attn_mask)}-D tensor "
                                     f"instead")
            shape = tuple(np.shape(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask))
            want = (num_heads, query.shape[0], key.shape[0])
            if len(shape) == 3 and shape != want:
                raise AssertionError(f"Expected `attn_mask` shape to be {want} but got {shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.ndim}-D query tensor")


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.) with torch's parameters and semantics.

    Masks: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * num_heads, L, S); bool
    True means *masked out* (unlike SDPA's), float masks are added to the scores. Returns
    ``(attn_output, attn_weights)``; weights are None unless ``need_weights`` (then averaged over
    heads when ``average_attn_weights``).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(_empty((embed_dim, embed_dim), device, dtype))
            self.k_proj_weight = Parameter(_empty((embed_dim, self.kdim), device, dtype))
            self.v_proj_weight = Parameter(_empty((embed_dim, self.vdim), device, dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(_empty((3 * embed_dim, embed_dim), device, dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * embed_dim,), device, dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_empty((1, 1, embed_dim), device, dtype))
            self.bias_v = Parameter(_empty((1, 1, embed_dim), device, dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else _ops.split(b, e)
        if not self._qkv_same_embed_dim:
            return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                    linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if query is key and key is value:  # self-attention: one GEMM for q, k and v
            return _ops.split(linear(query, w, b), e, dim=-1)
        wq, wk, wv = _ops.split(w, e)
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """query (L, N, E) or (N, L, E) with ``batch_first`` or unbatched (L, E); key/value
        (S, N, kdim/vdim) likewise. Returns (output like query, weights or None)."""
        h, e, hd = self.num_heads, self.embed_dim, self.head_dim
        batched = _check_shapes(query, key, value, key_padding_mask, attn_mask, h)
        kpm = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype, attn_mask,
                              "attn_mask")
        am = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        if self.batch_first and batched:
            same_kv, same_qk = key is value, query is key
            query = _ops.transpose(query, 0, 1)
            key = query if same_qk and same_kv else _ops.transpose(key, 0, 1)
            value = key if same_kv else _ops.transpose(value, 0, 1)
        if not batched:
            same_kv, same_qk = key is value, query is key
            query = _ops.unsqueeze(query, 1)
            key = query if same_qk and same_kv else _ops.unsqueeze(key, 1)
            value = key if same_kv else _ops.unsqueeze(value, 1)
            kpm = None if kpm is None else kpm[None]
        tgt_len, bsz, embed = query.shape
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                               "Transformer module method `generate_square_subsequent_mask` to "
                               "create this mask.")
        if is_causal and kpm is None and not need_weights:
            am = None  # the hint says attn_mask is causal: use the built-in causal mask
        elif kpm is not None:
            is_causal = False
        if embed != e:
            raise AssertionError(f"was expecting embedding dimension of {e}, but got {embed}")
        if self._qkv_same_embed_dim and tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        q, k, v = self._project(query, key, value)  # (L, N, E), (S, N, E), (S, N, E)
        src_len = k.shape[0]
        if am is not None:
            if am.ndim == 2:
                if am.shape != (tgt_len, src_len):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {am.shape}, but should "
                                       f"be {(tgt_len, src_len)}.")
            elif am.shape != (bsz * h, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {am.shape}, but should be "
                                   f"{(bsz * h, tgt_len, src_len)}.")
        if self.bias_k is not None and self.bias_v is not None:
            k = _ops.cat([k, _ops.repeat(self.bias_k, 1, bsz, 1)])
            v = _ops.cat([v, _ops.repeat(self.bias_v, 1, bsz, 1)])
            am, kpm = _pad_last(am), _pad_last(kpm)

        def heads(t: Tensor) -> Tensor:  # (T, N, E) -> (N, H, T, hd)
            return _ops.permute(_ops.reshape(t, (t.shape[0], bsz, h, hd)), (1, 2, 0, 3))
        q, k, v = heads(q), heads(k), heads(v)
        if self.add_zero_attn:
            zeros = Tensor._make(np.zeros((bsz, h, 1, hd), dtype=k.dtype))
            k, v = _ops.cat([k, zeros], dim=2), _ops.cat([v, zeros], dim=2)
            am, kpm = _pad_last(am), _pad_last(kpm)
        src_len = k.shape[2]
        mask = None
        if am is not None:
            mask = am if am.ndim == 2 else am.reshape(bsz, h, tgt_len, src_len)
        if kpm is not None:
            if kpm.shape != (bsz, src_len):
                raise AssertionError(f"Expected key_padding_mask of shape {(bsz, src_len)}, but "
                                     f"got {kpm.shape}")
            kp = kpm.reshape(bsz, 1, 1, src_len)
            mask = kp if mask is None else mask + kp
        dropout_p = self.dropout if self.training else 0.0
        res = _attention(q, k, v, mask, dropout_p, is_causal and mask is None,
                         safe=not need_weights, need_weights=need_weights)
        out, weights = res if need_weights else (res, None)  # out: (N, H, L, hd)
        out = _ops.reshape(_ops.permute(out, (2, 0, 1, 3)), (tgt_len * bsz, e))
        out = _ops.reshape(linear(out, self.out_proj.weight, self.out_proj.bias),
                           (tgt_len, bsz, e))
        if weights is not None and average_attn_weights:
            weights = _ops.mean(weights, dim=1)
        if not batched:
            out = _ops.squeeze(out, 1)
            if weights is not None:
                weights = _ops.squeeze(weights, 0)
        elif self.batch_first:
            out = _ops.transpose(out, 0, 1)
        return out, weights
