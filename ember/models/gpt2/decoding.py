"""A fast GPT-2 decoding session: NumPy, folded weights, a preallocated key/value cache.

``GPT2DecoderSession`` implements the ``DecoderSession`` contract (``ember.generation.session``)
for ``GPT2LMHeadModel``: the same logits as the model's forward (float32 re-association aside)
with ~30 NumPy calls per layer per token.

* Folding, once per model: LayerNorm gain and bias go into the projection that follows
  (ln_1 -> c_attn, ln_2 -> c_fc, ln_f -> the LM head: ``W' = diag(g) W``, ``b' = b + beta W``),
  the attention scale (1/sqrt(hs), and 1/(layer + 1) when configured) into c_attn's q columns,
  GELU's 0.5 into mlp.c_proj, and sqrt(C) into every LayerNorm-fed weight, so that a LayerNorm
  is five calls: mean (a GEMV), centre, ``vecdot`` (its constant extra column adds C eps),
  sqrt, divide. float16 weights are folded into float32.
* Layouts (OpenBLAS, measured on the project machine; "auto" picks by batch size): one row
  (B = 1) is a GEMV, fastest over the transposed store (out, in), the bias added after (a bias
  column would misalign the rows: 1.5-5% slower per token); several rows are a small GEMM,
  ~5% faster over (in + 1, out), whose last row is the bias, met by a constant 1 column of the
  inputs. All folded matrices share one allocation, in the order a token reads them (GPT-2
  124M: 3-4% faster per token than separate arrays).
* The cache is one array (n_layer, B, 2, nh, max_length, hs): a step writes its key and value
  with one copy per layer and attends over [0, length + 1) only; step scratch is preallocated
  and every call writes through ``out=``. ``reorder`` gathers rows into a second buffer that
  it keeps (allocated on the first reorder only).
* Prefill (T > 1) uses a causal + padding bias with a finite floor (-1e30): a query that may see
  no key (left padding) gets uniform weights instead of NaN, and is never read. Attention runs
  in cache-sized blocks of queries, each over the keys it may see; the last layer and the LM
  head run on the last position only.

The fold is one pass over the weights (GPT-2 124M: ~0.3 s; ~1.1 s in a fresh process, where
the kernel first faults in the new memory). It is kept per model (one layout at a time) while
every parameter it read is the same array at the same ``_version`` (ember's in-place ops,
optimizers and ``load_state_dict`` bump it), so later ``generate`` calls start in ~0.5 ms. A
NumPy write into ``param.data`` bypasses the version: call ``clear_folded_cache(model)``.

Shapes: B batch, T new tokens, S = length + T keys, L max_length, C n_embd, nh heads,
hs = C // nh, I MLP width, V vocab.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from ...generation.session import DecoderSession

__all__ = ["GPT2DecoderSession", "clear_folded_cache"]

_F32 = np.float32
_TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
_ACTIVATIONS = _TANH_GELU + ("relu",)
_NEG = -1e30  # masked score: exp() underflows to exactly 0, yet an all-masked row stays finite
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=_F32)


def _params(model) -> list:
    """Every parameter (Tensor) the fold reads, in a fixed order."""
    tr = model.transformer
    out = [tr.wte.weight, tr.wpe.weight, tr.ln_f.weight, tr.ln_f.bias, model.lm_head.weight]
    if getattr(model.lm_head, "bias", None) is not None:
        out.append(model.lm_head.bias)
    for blk in tr.h:
        out += [blk.ln_1.weight, blk.ln_1.bias, blk.attn.c_attn.weight, blk.attn.c_attn.bias,
                blk.attn.c_proj.weight, blk.attn.c_proj.bias, blk.ln_2.weight, blk.ln_2.bias,
                blk.mlp.c_fc.weight, blk.mlp.c_fc.bias, blk.mlp.c_proj.weight,
                blk.mlp.c_proj.bias]
    return out


class _Linear:
    """A folded projection ``x @ w + bias`` (``w`` (in, out), ``bias`` (out,): the prefill's
    view). The step multiplies by ``full`` and adds ``step_bias`` unless it is None: "io"
    layout, ``full`` (in + 1, out) ends in the bias row; "t", ``full`` = ``w``, a view of a
    contiguous (out, in) store."""

    __slots__ = ("full", "w", "bias", "step_bias")

    def __init__(self, full: np.ndarray, w: np.ndarray, bias: np.ndarray,
                 step_bias: np.ndarray | None) -> None:
        self.full, self.w, self.bias, self.step_bias = full, w, bias, step_bias


_BLOCK = 64  # rows per block of a transposing copy: the block stays in cache (~5x faster)


class _Arena:
    """One allocation for all folded weights, handed out in the order a token reads them
    (64-byte aligned). Measured on GPT-2 124M: the per-token matmuls ~7% faster than over
    separate arrays (one stream, huge pages throughout)."""

    def __init__(self, sizes: list[int]) -> None:
        self.buf = np.empty(sum(_round16(n) for n in sizes), _F32)
        self.off = 0

    def take(self, shape: tuple[int, int]) -> np.ndarray:
        n = shape[0] * shape[1]
        out = self.buf[self.off:self.off + n].reshape(shape)
        self.off += _round16(n)
        return out


def _round16(n: int) -> int:
    return -(-n // 16) * 16


def _project(w: np.ndarray, row: np.ndarray, b: np.ndarray, layout: str, arena: _Arena,
             q_cols: int = 0, q_scale: float = 1.0) -> _Linear:
    """``(x * row) @ w + b`` as a ``_Linear`` in ``layout`` (its matrix taken from
    ``arena``), the first ``q_cols`` output columns times ``q_scale``. ``w`` (in, out) of any
    float dtype (a transposed view is fine)."""
    n_in, n_out = w.shape
    rows_major = w.strides[0] >= w.strides[1]  # False for a transposed view (the LM head's)
    b = np.array(b, dtype=_F32)  # (out,), a copy
    if q_cols:
        b[:q_cols] *= _F32(q_scale)
    if layout == "io":
        full = arena.take((n_in + 1, n_out))  # (in + 1, out)
        if rows_major:
            np.multiply(w, row[:, None], out=full[:-1])
        else:
            for j in range(0, n_out, _BLOCK):
                np.multiply(w[:, j:j + _BLOCK], row[:, None], out=full[:-1, j:j + _BLOCK])
        if q_cols:
            full[:-1, :q_cols] *= _F32(q_scale)
        full[-1] = b
        return _Linear(full, full[:-1], full[-1], None)
    store = arena.take((n_out, n_in))  # (out, in)
    if not rows_major:
        np.multiply(w.T, row, out=store)
    else:
        for i in range(0, n_in, _BLOCK):
            np.multiply(w[i:i + _BLOCK].T, row[i:i + _BLOCK], out=store[:, i:i + _BLOCK])
    if q_cols:
        store[:q_cols] *= _F32(q_scale)
    return _Linear(store.T, store.T, b, b)


class _Folded:
    """The folded weights of one model, in one layout."""

    def __init__(self, model, layout: str) -> None:
        cfg = model.config
        tr = model.transformer
        C, nh = cfg.n_embd, cfg.n_head
        hs = C // nh
        self.layout = layout
        self.C, self.nh, self.hs, self.V = C, nh, hs, model.lm_head.weight.shape[0]
        self.n_positions = cfg.n_positions
        self.eps = float(cfg.layer_norm_epsilon)
        self.act = cfg.activation_function
        self.wte = np.ascontiguousarray(_f32(tr.wte.weight.data))  # (V, C)
        self.wpe = np.ascontiguousarray(_f32(tr.wpe.weight.data))  # (P, C)
        root_c = math.sqrt(C)  # the normaliser computed is sqrt(C) times LayerNorm's
        half = 0.5 if self.act in _TANH_GELU else 1.0  # GELU's 0.5 goes into mlp.c_proj
        extra = 1 if layout == "io" else 0  # the bias row
        sizes = [(w.shape[0] + extra) * w.shape[1] for blk in tr.h
                 for w in (blk.attn.c_attn.weight, blk.attn.c_proj.weight, blk.mlp.c_fc.weight,
                           blk.mlp.c_proj.weight)]
        sizes.append((C + extra) * self.V)
        arena = _Arena(sizes)
        self.layers = []
        for i, blk in enumerate(tr.h):
            attn, mlp = blk.attn, blk.mlp
            scale = (hs ** -0.5) if cfg.scale_attn_weights else 1.0
            if cfg.scale_attn_by_inverse_layer_idx:
                scale /= float(i + 1)
            qkv = self._fold_ln(blk.ln_1, attn.c_attn, root_c, arena, C, scale)
            o = _project(attn.c_proj.weight.data, np.ones(C, _F32), attn.c_proj.bias.data,
                         layout, arena)
            fc = self._fold_ln(blk.ln_2, mlp.c_fc, root_c, arena)
            w = mlp.c_proj.weight.data
            proj = _project(w, np.full(w.shape[0], half, _F32), mlp.c_proj.bias.data, layout,
                            arena)
            self.layers.append((qkv, o, fc, proj))
        self.inner = self.layers[0][2].w.shape[1] if self.layers else 4 * C
        # ln_f into the LM head: logits = (xn * g + beta) @ E.T (+ head bias)
        emb = _f32(model.lm_head.weight.data)  # (V, C)
        bias = emb @ _f32(tr.ln_f.bias.data)  # (V,)
        if getattr(model.lm_head, "bias", None) is not None:
            bias += _f32(model.lm_head.bias.data)
        row = (tr.ln_f.weight.data.astype(np.float64) * root_c).astype(_F32)
        self.head = _project(emb.T, row, bias, layout, arena)

    def _fold_ln(self, ln, lin, root_c: float, arena: _Arena, q_cols: int = 0,
                 q_scale: float = 1.0) -> _Linear:
        """``LayerNorm(x) @ W + b`` as ``xhat @ W' + b'``, ``xhat`` the LayerNorm without its
        affine divided by sqrt(C): ``W' = diag(g sqrt(C)) W``, ``b' = b + beta W``."""
        w = lin.weight.data  # (in, out)
        b = _f32(lin.bias.data) + _f32(ln.bias.data) @ _f32(w)  # (out,)
        row = (ln.weight.data.astype(np.float64) * root_c).astype(_F32)  # (in,)
        return _project(w, row, b, self.layout, arena, q_cols, q_scale)


# model -> (key, folded): one layout per model at a time. The key holds the parameter arrays
# themselves, so a freed array's id cannot come back as a "new" parameter while it lives.
_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache_key(model) -> tuple:
    cfg = model.config
    conf = (cfg.n_embd, cfg.n_head, cfg.n_layer, cfg.n_positions, float(cfg.layer_norm_epsilon),
            cfg.activation_function, bool(cfg.scale_attn_weights),
            bool(cfg.scale_attn_by_inverse_layer_idx))
    return conf, tuple((p.data, p._version[0]) for p in _params(model))


def _same(key: tuple, other: tuple) -> bool:
    if key[0] != other[0] or len(key[1]) != len(other[1]):
        return False
    return all(a is c and v == u for (a, v), (c, u) in zip(key[1], other[1]))


def _folded(model, layout: str) -> _Folded:
    """The folded weights of ``model`` in ``layout``, reused while no parameter changed."""
    key = _cache_key(model)
    entry = _FOLDED.get(model)
    if entry is not None and entry[1].layout == layout and _same(entry[0], key):
        return entry[1]
    _FOLDED.pop(model, None)  # free the old fold before building the new one
    folded = _Folded(model, layout)
    _FOLDED[model] = (key, folded)
    return folded


def clear_folded_cache(model=None) -> None:
    """Forget the folded weights of ``model`` (of every model when None)."""
    if model is None:
        _FOLDED.clear()
    else:
        _FOLDED.pop(model, None)


def _view(a: np.ndarray, shape: tuple) -> np.ndarray:
    """``a`` reshaped without a copy (the step's ``out=`` targets must alias the buffers)."""
    v = a.view()
    v.shape = shape  # raises instead of silently copying
    return v


class GPT2DecoderSession(DecoderSession):
    """Decoding session for an (eval) ``GPT2LMHeadModel``; see the module docstring.

    ``layout``: "auto" ("t" for one row, else "io"), "t" (weights stored (out, in)) or "io"
    ((in + 1, out), bias last). float16 or float32 weights; computes in float32.
    """

    def __init__(self, model, batch_size: int, max_length: int, *, layout: str = "auto") -> None:
        cfg = model.config
        if cfg.activation_function not in _ACTIVATIONS:
            raise NotImplementedError(
                f"GPT2DecoderSession: activation {cfg.activation_function!r} is not supported "
                f"(supported: {', '.join(_ACTIVATIONS)})")
        if int(batch_size) < 1 or int(max_length) < 1:
            raise ValueError(f"batch_size and max_length must be >= 1, got {batch_size}, "
                             f"{max_length}")
        if layout == "auto":
            layout = "t" if int(batch_size) == 1 else "io"
        if layout not in ("t", "io"):
            raise ValueError(f"layout must be 'auto', 't' or 'io', got {layout!r}")
        self._w = _folded(model, layout)
        self.max_length = int(max_length)
        self.length = 0
        w = self._w
        self._kv = np.empty((len(w.layers), int(batch_size), 2, w.nh, self.max_length, w.hs),
                            _F32)  # (n_layer, B, 2, nh, L, hs)
        self._spare: np.ndarray | None = None  # reorder's second buffer, made on first use
        self._alloc(int(batch_size))

    @property
    def batch_size(self) -> int:
        return self._B

    @staticmethod
    def supports(model) -> bool:
        """Whether this session reproduces ``model``'s forward: eval mode, no hooks, float16 or
        float32 weights, a supported activation."""
        if model.training or model.config.activation_function not in _ACTIVATIONS:
            return False
        if np.dtype(model.dtype) not in (np.float16, np.float32):
            return False
        return not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())

    def _alloc(self, B: int) -> None:
        """Scratch for the one-token step of B rows. Projection inputs end in a constant 1
        column that meets the bias row of the augmented weights."""
        w = self._w
        C, nh, hs, I, L = w.C, w.nh, w.hs, w.inner, self.max_length
        self._B = B
        self._x = np.empty((B, C), _F32)  # the residual stream
        self._mu = np.empty((B, 1), _F32)
        self._xc = np.empty((B, C + 1), _F32)  # centred x; the last column adds C eps to the
        self._xc[:, C] = math.sqrt(C * w.eps)  # sum of squares
        self._ss = np.empty((B, 1), _F32)
        self._h = np.ones((B, C + 1), _F32)  # normalised x, 1
        self._qkv = np.empty((B, 3 * C), _F32)
        self._att = np.ones((B, C + 1), _F32)  # attention output, 1
        self._o = np.empty((B, C), _F32)
        self._f = np.ones((B, I + 1), _F32)  # MLP hidden, 1
        self._t = np.empty((B, I), _F32)
        self._sc = np.empty((B, nh, 1, L), _F32)  # scores; a step uses [..., :S]
        self._mx = np.empty((B, nh, 1, 1), _F32)
        self._sm = np.empty((B, nh, 1, 1), _F32)
        self._bias = np.empty((B, 1, 1, L), _F32)
        self._mean = np.full((C, 1), 1.0 / C, _F32)
        # views the step writes through (checked to alias their buffers)
        self._q4 = _view(self._qkv[:, :C], (B, nh, 1, hs))
        self._kvnew = _view(self._qkv[:, C:], (B, 2, nh, hs))
        self._att4 = np.lib.stride_tricks.as_strided(
            self._att, (B, nh, 1, hs), (self._att.strides[0], hs * 4, hs * 4, 4))

    # -- the contract ---------------------------------------------------------------------------
    def forward(self, input_ids: np.ndarray, position_ids: np.ndarray,
                attention_mask: np.ndarray) -> np.ndarray:
        ids = np.asarray(input_ids)
        pos = np.asarray(position_ids)
        mask = np.asarray(attention_mask)
        B = self._B
        if ids.ndim != 2 or ids.shape[0] != B or ids.shape[1] < 1:
            raise ValueError(f"input_ids must be (batch {B}, T >= 1); got shape {ids.shape}")
        T = ids.shape[1]
        S = self.length + T
        if pos.shape != ids.shape:
            raise ValueError(f"position_ids must have input_ids' shape {ids.shape}; got "
                             f"{pos.shape}")
        if mask.shape != (B, S):
            raise ValueError(f"attention_mask must be (batch, length + T) = ({B}, "
                             f"{self.length} + {T}); got {mask.shape}")
        if S > self.max_length:
            raise ValueError(f"session full: {self.length} cached + {T} new tokens exceed "
                             f"max_length {self.max_length}")
        lo, hi = pos.min(), pos.max()
        if hi >= self._w.n_positions or lo < 0:
            if hi >= self._w.n_positions or ((pos < 0) & (mask[:, -T:] != 0)).any():
                raise IndexError(f"GPT-2 position ids must lie in [0, {self._w.n_positions}) "
                                 f"(n_positions); got {int(lo)}..{int(hi)}")
            pos = np.maximum(pos, 0)  # padding positions (cumsum(mask) - 1 = -1): unused
        if T == 1:
            return self._step(ids[:, 0], pos[:, 0], mask)  # ids >= V raise in np.take
        if ids.min() < 0:
            raise IndexError(f"input_ids must lie in [0, {self._w.V}); got {int(ids.min())}")
        return self._prefill(ids, pos, mask)

    def reorder(self, index: Any) -> None:
        """Row i of the cache becomes old row ``index[i]``; B becomes ``len(index)``. The rows
        are gathered into a second cache buffer kept for the next reorder (beam search calls
        this every step): one block copy per row is ~10x faster than ``np.take`` into a fresh
        array, which pays a temporary and page faults (GPT-2 124M, 4 rows x 100 tokens:
        2 ms against 24 ms)."""
        idx = np.asarray(index, dtype=np.intp).reshape(-1)
        if idx.size == 0:
            raise ValueError("reorder: index is empty")
        if idx.min() < 0 or idx.max() >= self._B:
            raise IndexError(f"reorder: index values must lie in [0, {self._B}); got "
                             f"{int(idx.min())}..{int(idx.max())}")
        n = idx.size
        if n == self._B and (idx == np.arange(n)).all():
            return
        old, kv = self._kv, self._spare
        if kv is None or kv.shape[1] != n:
            kv = np.empty(old.shape[:1] + (n,) + old.shape[2:], _F32)
        p = self.length  # only the filled part moves
        for i, j in enumerate(idx.tolist()):
            kv[:, i, :, :, :p] = old[:, j, :, :, :p]  # (n_layer, 2, nh, p, hs)
        self._kv, self._spare = kv, old
        if n != self._B:
            self._alloc(n)

    def reset(self) -> None:
        self.length = 0

    # -- one token per row ----------------------------------------------------------------------
    def _step(self, ids: np.ndarray, pos: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One new token per row: ~30 NumPy calls per layer, all into preallocated buffers."""
        w = self._w
        C, I = w.C, w.inner
        p = self.length
        S = p + 1
        x, o, t, qkv = self._x, self._o, self._t, self._qkv
        np.take(w.wte, ids, axis=0, out=x)  # (B, C)
        np.take(w.wpe, pos, axis=0, out=o)
        np.add(x, o, out=x)
        bias = None
        if not mask.all():
            bias = self._bias[..., :S]  # (B, 1, 1, S)
            np.multiply(mask[:, None, None, :] == 0, _F32(_NEG), out=bias)
        kv = self._kv[..., :S, :]  # (n_layer, B, 2, nh, S, hs)
        keys_t = kv[:, :, 0].swapaxes(-1, -2)  # (n_layer, B, nh, hs, S)
        values = kv[:, :, 1]  # (n_layer, B, nh, S, hs)
        slots = self._kv[:, :, :, :, p]  # (n_layer, B, 2, nh, hs)
        sc = self._sc[..., :S]  # (B, nh, 1, S)
        mx, sm, q4, att4, kvnew = self._mx, self._sm, self._q4, self._att4, self._kvnew
        # LayerNorm pieces: h[:, :C] = (x - mean) / sqrt(sum((x - mean)^2) + C eps)
        mean, mu, xc, ss, h = self._mean, self._mu, self._xc, self._ss, self._h
        xcv, hv, ss1 = xc[:, :C], h[:, :C], ss[:, 0]
        fv = self._f[:, :I]  # (B, I)
        # projection inputs: with their constant 1 column ("io") or without ("t")
        aug = w.layout == "io"
        in_h = h if aug else hv
        in_att = self._att if aug else self._att[:, :C]
        in_f = self._f if aug else fv
        gelu = w.act in _TANH_GELU
        matmul, add, sub, mul, div = np.matmul, np.add, np.subtract, np.multiply, np.divide
        vecdot, sqrt, exp, tanh = np.vecdot, np.sqrt, np.exp, np.tanh
        rmax, rsum = np.maximum.reduce, np.add.reduce
        c1, c0, one = _F32(_GELU_C * _GELU_A), _F32(_GELU_C), _F32(1.0)
        for (l_qkv, l_o, l_fc, l_proj), kt, v, slot in zip(w.layers, keys_t, values, slots):
            # attention
            matmul(x, mean, out=mu)  # (B, 1)
            sub(x, mu, out=xcv)
            vecdot(xc, xc, out=ss1)
            sqrt(ss, out=ss)
            div(xcv, ss, out=hv)
            matmul(in_h, l_qkv.full, out=qkv)  # (B, 3C)
            if l_qkv.step_bias is not None:
                add(qkv, l_qkv.step_bias, out=qkv)
            slot[...] = kvnew  # (B, 2, nh, hs) into the cache at position p
            matmul(q4, kt, out=sc)  # (B, nh, 1, S), q pre-scaled
            if bias is not None:
                add(sc, bias, out=sc)
            rmax(sc, axis=3, keepdims=True, out=mx)
            sub(sc, mx, out=sc)
            exp(sc, out=sc)
            rsum(sc, axis=3, keepdims=True, out=sm)
            matmul(sc, v, out=att4)  # (B, nh, 1, hs), unnormalised
            div(att4, sm, out=att4)
            matmul(in_att, l_o.full, out=o)  # (B, C)
            if l_o.step_bias is not None:
                add(o, l_o.step_bias, out=o)
            add(x, o, out=x)
            # MLP
            matmul(x, mean, out=mu)
            sub(x, mu, out=xcv)
            vecdot(xc, xc, out=ss1)
            sqrt(ss, out=ss)
            div(xcv, ss, out=hv)
            matmul(in_h, l_fc.full, out=fv)  # (B, I)
            if l_fc.step_bias is not None:
                add(fv, l_fc.step_bias, out=fv)
            if gelu:  # f * (1 + tanh(c (f + a f^3))); the 0.5 is folded into l_proj
                mul(fv, fv, out=t)
                mul(t, c1, out=t)
                add(t, c0, out=t)
                mul(t, fv, out=t)
                tanh(t, out=t)
                add(t, one, out=t)
                mul(fv, t, out=fv)
            else:
                np.maximum(fv, _F32(0.0), out=fv)
            matmul(in_f, l_proj.full, out=o)  # (B, C)
            if l_proj.step_bias is not None:
                add(o, l_proj.step_bias, out=o)
            add(x, o, out=x)
        self.length = S
        matmul(x, mean, out=mu)
        sub(x, mu, out=xcv)
        vecdot(xc, xc, out=ss1)
        sqrt(ss, out=ss)
        div(xcv, ss, out=hv)
        logits = matmul(in_h, w.head.full)  # (B, V), a new array: callers may keep it
        if w.head.step_bias is not None:
            add(logits, w.head.step_bias, out=logits)
        return logits

    # -- several tokens per row (prefill) -------------------------------------------------------
    def _prefill(self, ids: np.ndarray, pos: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """T tokens per row after ``length`` cached ones; whole-array NumPy, attention in
        blocks of queries (see ``_attend``)."""
        w = self._w
        B, T = ids.shape
        C, nh, hs = w.C, w.nh, w.hs
        p = self.length
        S = p + T
        x = w.wte[ids] + w.wpe[pos]  # (B, T, C)
        allowed = np.arange(S)[None, :] <= np.arange(p, S)[:, None]  # (T, S) causal
        allowed = allowed[None, None] & (mask[:, None, None, :] != 0)  # (B, 1, T, S)
        bias = np.where(allowed, _F32(0.0), _F32(_NEG))  # finite: no NaN on all-masked rows
        kv = self._kv
        n = len(w.layers)
        for i, (l_qkv, l_o, l_fc, l_proj) in enumerate(w.layers):
            rows = x.shape[1]  # T, then 1 in the last layer (only its last position is read)
            qkv = _ln_rows(x, w.eps).reshape(-1, C) @ l_qkv.w
            qkv += l_qkv.bias  # (B * rows, 3C)
            qkv = qkv.reshape(B, rows, 3, nh, hs)
            # keys and values of the new tokens into the cache
            kv[i, :, :, :, p:S] = qkv[:, :, 1:].transpose(0, 2, 3, 1, 4)  # (B, 2, nh, T, hs)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # (B, nh, rows, hs)
            if i == n - 1 and rows > 1:  # last layer: only the last query matters
                q, bias, x, rows = q[:, :, -1:], bias[:, :, -1:], x[:, -1:], 1
            att = _attend(q, kv[i, :, 0, :, :S], kv[i, :, 1, :, :S], bias, S - rows)
            o = att.transpose(0, 2, 1, 3).reshape(B * rows, C) @ l_o.w
            o += l_o.bias
            x = x + o.reshape(B, rows, C)  # (B, rows, C)
            f = _ln_rows(x, w.eps).reshape(-1, C) @ l_fc.w
            f += l_fc.bias  # (B * rows, I)
            if w.act in _TANH_GELU:
                _gelu2_(f)
            else:
                np.maximum(f, 0, out=f)
            o = f @ l_proj.w
            o += l_proj.bias
            x += o.reshape(B, rows, C)
        self.length = S
        logits = _ln_rows(x[:, -1], w.eps) @ w.head.w  # (B, V)
        logits += w.head.bias
        return logits


_SCORES_PER_BLOCK = 1 << 18  # floats of scores per query block (1 MiB: stays in L2)


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray,
            first: int) -> np.ndarray:
    """Softmax attention of q (B, nh, rows, hs) (pre-scaled; absolute positions from
    ``first``) over k, v (B, nh, S, hs) with the additive bias (B, 1, rows, S). Queries go in
    blocks whose scores fit in cache, each over the keys it may see (causality: the rest is
    skipped, not computed and masked)."""
    B, nh, rows, _ = q.shape
    out = np.empty(q.shape, _F32)  # (B, nh, rows, hs)
    block = max(1, _SCORES_PER_BLOCK // (B * nh * k.shape[2]))
    for r0 in range(0, rows, block):
        r1 = min(r0 + block, rows)
        s1 = first + r1  # keys [0, s1) are all the block may see
        sc = q[:, :, r0:r1] @ k[:, :, :s1].swapaxes(-1, -2)  # (B, nh, r, s1)
        sc += bias[:, :, r0:r1, :s1]
        sc -= np.maximum.reduce(sc, axis=-1, keepdims=True)
        np.exp(sc, out=sc)
        total = np.add.reduce(sc, axis=-1, keepdims=True)  # (B, nh, r, 1)
        o = out[:, :, r0:r1]
        np.matmul(sc, v[:, :, :s1], out=o)
        o /= total  # normalising the (r, hs) output is cheaper than the (r, s1) weights
    return out


def _gelu2_(f: np.ndarray) -> None:
    """f = 2 gelu_tanh(f) = f (1 + tanh(c (f + a f^3))), in place with one temporary."""
    t = f * f
    t *= _F32(_GELU_C * _GELU_A)
    t += _F32(_GELU_C)
    t *= f
    np.tanh(t, out=t)
    t += _F32(1.0)
    f *= t


def _ln_rows(x: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm without affine, divided by sqrt(C) (the folded weights carry the sqrt(C))."""
    C = x.shape[-1]
    xc = x - x.mean(-1, keepdims=True)
    return xc / np.sqrt((xc * xc).sum(-1, keepdims=True) + _F32(C * eps))
