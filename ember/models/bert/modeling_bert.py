"""BERT (Devlin et al., 2018) with ``transformers``' module tree, so checkpoints load 1:1.

Attribute names are the checkpoint keys::

    bert.embeddings.{word,position,token_type}_embeddings, bert.embeddings.LayerNorm
    bert.encoder.layer.<i>.attention.self.{query,key,value}
    bert.encoder.layer.<i>.attention.output.{dense,LayerNorm}
    bert.encoder.layer.<i>.intermediate.dense, bert.encoder.layer.<i>.output.{dense,LayerNorm}
    bert.pooler.dense
    cls.predictions.transform.{dense,LayerNorm}, cls.predictions.decoder, cls.predictions.bias
    classifier, qa_outputs

The MLM decoder's weight is the word-embedding matrix and its bias is ``cls.predictions.bias``
(both tied, so a checkpoint stores them once, under the source names, as transformers 5 does).

Two routes through the encoder compute the same function:

* the module route: ember ops with autograd (fused linear, layer_norm and
  scaled_dot_product_attention), taken whenever gradients are recorded, in training mode, or when
  attention weights are asked for; it is transformers' computation position for position, padding
  included;
* the inference route (``eval()`` and no graph wanted: ``no_grad``, or a frozen encoder): the
  same math on NumPy arrays, in place: attention runs per sequence over its real tokens only, and
  with ``unpad_inference`` (the default) the layers process only the attended tokens (and each
  sequence's first position, which the pooler reads), so a padded batch costs what its real tokens
  cost. The other padded positions then come back as zeros in ``last_hidden_state`` and
  ``hidden_states`` (torch's nested-tensor fast path does the same); every attended position, the
  pooler and the heads match transformers. ``model.base_model.unpad_inference = False`` computes
  the padded positions too, exactly as transformers does.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ... import nn
from ...autograd import Tensor
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...autograd.ops.unary import gelu_
from ...nn import functional as F
from ...nn import init
from ...nn.functional.attention import _attention
from ..modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions, MaskedLMOutput, QuestionAnsweringModelOutput,
    SequenceClassifierOutput, TokenClassifierOutput,
)
from ..modeling_utils import PreTrainedModel
from .configuration_bert import BertConfig

__all__ = [
    "BertForMaskedLM", "BertForQuestionAnswering", "BertForSequenceClassification",
    "BertForTokenClassification", "BertModel", "BertPreTrainedModel",
]


# ------------------------------------------------------------------------------------ activations
def gelu(x: Tensor) -> Tensor:
    """transformers' "gelu": exact (erf) GELU."""
    return F.gelu(x)


def gelu_tanh(x: Tensor) -> Tensor:
    """transformers' "gelu_new" / "gelu_pytorch_tanh": GELU's tanh approximation."""
    return F.gelu(x, approximate="tanh")


ACT2FN = {"gelu": gelu, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "relu": F.relu,
          "silu": F.silu, "swish": F.silu}
_IN_PLACE = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}


def _activation(name: str):
    if name not in ACT2FN:
        raise ValueError(f"hidden_act {name!r} is not supported; use one of "
                         f"{', '.join(ACT2FN)}")
    return ACT2FN[name]


# ------------------------------------------------------------------------- NumPy inference pieces
def _layer_norm_(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """Row-wise LayerNorm of a contiguous (N, D) array, in place (ember's fused formula)."""
    d = x.shape[-1]
    mu = x @ np.full(d, 1.0 / d, dtype=x.dtype)  # row means as a GEMV (BLAS, fast)
    x -= mu[:, None]
    var = np.einsum("ij,ij->i", x, x)
    var *= 1.0 / d
    var += eps
    np.sqrt(var, out=var)
    np.divide(1.0, var, out=var)
    x *= var[:, None]
    x *= w
    x += b
    return x


def _linear(x: np.ndarray, layer: nn.Linear) -> np.ndarray:
    out = x @ layer.weight.data.T  # a transposed operand is free for BLAS
    if layer.bias is not None:
        out += layer.bias.data
    return out


def _dense_act(x: np.ndarray, layer: nn.Linear, name: str) -> np.ndarray:
    """``act(layer(x))`` on NumPy arrays for the inference route (GELU in place)."""
    h = _linear(x, layer)  # (N, F)
    if name in _IN_PLACE:
        return gelu_(h, _IN_PLACE[name])
    return ACT2FN[name](Tensor._make(h)).data


def _softmax_(s: np.ndarray) -> bool:
    """Softmax over the last axis of finite scores, in place. The shift is the block's single
    max rather than each row's: on attention's short rows a per-row reduction costs twice all the
    other passes together. Returns False (``s`` then garbage) when some row sat so far below that
    max that its sum lost precision; the caller redoes it with ``_softmax_rows_``."""
    s -= s.max()
    np.exp(s, out=s)
    total = s @ np.ones(s.shape[-1], s.dtype)  # row sums as a GEMV
    if total.min() < 1e-20:  # a row's largest term < e^-46 (or an underflow to 0)
        return False
    np.divide(1.0, total, out=total)
    s *= total[..., None]
    return True


def _softmax_rows_(s: np.ndarray) -> None:
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s *= 1.0 / s.sum(axis=-1, keepdims=True)


_SCORES_PER_BLOCK = 1 << 18  # attention scores computed at once (1 MiB of float32, cache-sized)


class _Plan:
    """Which rows of the flattened (B * T) batch the inference route computes, and how they group
    into attention blocks.

    ``rows``: the computed rows (None: all of them). ``blocks``: ``(start, n, length, keys)``:
    ``n`` sequences of ``length`` consecutive computed rows from ``start``, each attending to its
    own rows (``keys`` None) or, with ``n == 1``, to the computed rows ``keys`` (a slice or an
    index array; empty for a sequence without any attended token).
    """

    def __init__(self, mask: np.ndarray | None, B: int, T: int, unpad: bool) -> None:
        self.B, self.T = B, T
        if mask is None or mask.all():
            self.rows, self.blocks = None, [(0, B, T, None)]
            return
        valid = mask != 0  # (B, T)
        if unpad:
            # every attended token, plus each sequence's first position (the pooler reads it)
            keep = valid.copy()
            keep[:, 0] = True
            self.rows = np.flatnonzero(keep)
            ends = np.cumsum(keep.sum(1))
            self.blocks = []
            for b in range(B):
                start = int(ends[b - 1]) if b else 0
                first = start if valid[b, 0] else start + 1
                self.blocks.append((start, 1, int(ends[b]) - start, slice(first, int(ends[b]))))
            return
        self.rows, self.blocks = None, []
        for b in range(B):
            cols = np.flatnonzero(valid[b])
            contiguous = cols.size == 0 or cols[-1] - cols[0] + 1 == cols.size
            keys = (slice(b * T + cols[0], b * T + cols[-1] + 1) if cols.size and contiguous
                    else b * T + cols)
            self.blocks.append((b * T, 1, T, keys))

    def gather(self, a: np.ndarray) -> np.ndarray:
        """(B, T, ...) -> (rows, ...)"""
        flat = a.reshape((self.B * self.T,) + a.shape[2:])
        return flat if self.rows is None else flat[self.rows]

    def scatter(self, x: np.ndarray) -> np.ndarray:
        """(rows, D) -> (B, T, D), zeros where nothing was computed."""
        if self.rows is None:
            return x.reshape(self.B, self.T, -1)
        out = np.zeros((self.B * self.T, x.shape[-1]), x.dtype)
        out[self.rows] = x
        return out.reshape(self.B, self.T, -1)


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, plan: _Plan, heads: int) -> np.ndarray:
    """softmax(q k^T) v per attention block; q already scaled. (N, D) arrays -> (N, D)."""
    N, D = q.shape
    hd = D // heads
    ctx = np.empty((N, D), q.dtype)

    def split(a: np.ndarray, m: int, S: int) -> np.ndarray:
        return a.reshape(m, S, heads, hd).transpose(0, 2, 1, 3)  # (m, H, S, hd) view

    for start, n, L, keys in plan.blocks:
        rows = slice(start, start + n * L)
        qb, out = split(q[rows], n, L), split(ctx[rows], n, L)
        if keys is None:
            kb, vb, S = split(k[rows], n, L), split(v[rows], n, L), L
        else:
            kk, vk = k[keys], v[keys]
            S = kk.shape[0]
            if S == 0:  # no token to attend to: zeros, as torch's SDPA
                out[...] = 0
                continue
            kb, vb = split(kk, 1, S), split(vk, 1, S)
        step = max(1, _SCORES_PER_BLOCK // (heads * L * S))
        for a in range(0, n, step):
            b = min(n, a + step)
            kt = kb[a:b].transpose(0, 1, 3, 2)  # (m, H, hd, S)
            s = qb[a:b] @ kt  # (m, H, L, S)
            if not _softmax_(s):
                s = qb[a:b] @ kt
                _softmax_rows_(s)
            np.matmul(s, vb[a:b], out=out[a:b])  # (m, H, L, hd), written into ctx's rows
    return ctx


# --------------------------------------------------------------------------------------- modules
class BertEmbeddings(nn.Module):
    """Word + token-type + absolute position embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings,
                                                config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: np.ndarray | None = None,
                token_type_ids: np.ndarray | None = None,
                position_ids: np.ndarray | None = None,
                inputs_embeds: Tensor | None = None) -> Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (B, T, D)
        T = inputs_embeds.shape[1]
        if token_type_ids is None:  # all segment 0: one row, broadcast
            token_type = self.token_type_embeddings(np.zeros(1, np.int64))  # (1, D)
        else:
            token_type = self.token_type_embeddings(token_type_ids)  # (B, T, D)
        if position_ids is None:
            position = self.position_embeddings(np.arange(T))  # (T, D), broadcast over batch
        else:
            position = self.position_embeddings(position_ids)  # (B or 1, T, D)
        embeddings = inputs_embeds + token_type + position  # transformers' order of the sums
        return self.dropout(self.LayerNorm(embeddings))

    def _infer(self, plan: _Plan, input_ids: np.ndarray | None, token_type_ids: np.ndarray | None,
               position_ids: np.ndarray | None, inputs_embeds: np.ndarray | None) -> np.ndarray:
        """The embeddings of the plan's rows only, as a fresh (N, D) array."""
        B, T = plan.B, plan.T
        if inputs_embeds is None:
            x = self.word_embeddings.weight.data[plan.gather(input_ids)]  # (N, D)
        else:
            x = np.array(plan.gather(inputs_embeds))
        tt = self.token_type_embeddings.weight.data
        x += tt[0] if token_type_ids is None else tt[plan.gather(token_type_ids)]
        pos = self.position_embeddings.weight.data
        if position_ids is None:
            x += pos[plan.gather(np.broadcast_to(np.arange(T), (B, T)))]
        else:
            x += pos[plan.gather(np.broadcast_to(position_ids, (B, T)))]
        ln = self.LayerNorm
        return _layer_norm_(x, ln.weight.data, ln.bias.data, ln.eps)


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (query, key and value projections)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = self.attention_head_size ** -0.5
        self.is_causal = bool(config.is_decoder)
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, hidden_states: Tensor, attention_mask: np.ndarray | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        B, T, _ = hidden_states.shape
        heads = (B, T, self.num_attention_heads, self.attention_head_size)
        q = self.query(hidden_states).view(heads).transpose(1, 2)  # (B, H, T, hd)
        k = self.key(hidden_states).view(heads).transpose(1, 2)  # (B, H, T, hd)
        v = self.value(hidden_states).view(heads).transpose(1, 2)  # (B, H, T, hd)
        p = self.dropout.p if self.training else 0.0
        out = _attention(q, k, v, attention_mask, p, self.is_causal, self.scaling,
                         need_weights=output_attentions)
        context, weights = out if output_attentions else (out, None)  # (B, H, T, hd)
        context = context.transpose(1, 2).reshape(B, T, self.all_head_size)  # (B, T, D)
        return context, weights

    def _infer(self, x: np.ndarray, plan: _Plan) -> np.ndarray:
        q = _linear(x, self.query)  # (N, D)
        q *= self.scaling  # on q's N x D values rather than on every sequence's scores
        return _attend(q, _linear(x, self.key), _linear(x, self.value), plan,
                       self.num_attention_heads)


class BertSelfOutput(nn.Module):
    """Dense projection, dropout, residual add and LayerNorm: the end of the attention block
    (and, as ``BertOutput``, of the feed-forward block)."""

    def __init__(self, config: BertConfig, in_features: int | None = None) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features or config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)

    def _infer(self, h: np.ndarray, residual: np.ndarray) -> np.ndarray:
        out = _linear(h, self.dense)
        out += residual
        ln = self.LayerNorm
        return _layer_norm_(out, ln.weight.data, ln.bias.data, ln.eps)


class BertAttention(nn.Module):
    """Self-attention followed by its output block."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: np.ndarray | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        context, weights = self.self(hidden_states, attention_mask, output_attentions)
        return self.output(context, hidden_states), weights


class BertIntermediate(nn.Module):
    """The feed-forward expansion: dense to intermediate_size, then the activation."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.hidden_act = config.hidden_act
        self.intermediate_act_fn = _activation(config.hidden_act)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(BertSelfOutput):
    """The feed-forward contraction (intermediate_size -> hidden_size), dropout, residual add
    and LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config, config.intermediate_size)


class BertLayer(nn.Module):
    """One transformer block: attention, then the feed-forward network (post-LayerNorm)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: Tensor, attention_mask: np.ndarray | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        attention_output, weights = self.attention(hidden_states, attention_mask,
                                                   output_attentions)
        layer_output = self.output(self.intermediate(attention_output), attention_output)
        return layer_output, weights

    def _infer(self, x: np.ndarray, plan: _Plan) -> np.ndarray:
        """The block on the plan's rows: (N, D) -> a new (N, D); ``x`` is left untouched."""
        attention = self.attention
        a = attention.output._infer(attention.self._infer(x, plan), x)  # (N, D)
        h = _dense_act(a, self.intermediate.dense, self.intermediate.hidden_act)  # (N, F)
        return self.output._infer(h, a)  # (N, D)


class BertEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` BertLayers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states: Tensor, attention_mask: np.ndarray | None = None,
                output_hidden_states: bool = False, output_attentions: bool = False,
                ) -> tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...] | None]:
        """Returns ``(last_hidden_state, hidden_states, attentions)``; ``hidden_states`` holds
        the input and every layer's output, ``attentions`` every layer's weights (or None)."""
        all_hidden = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(hidden_states, attention_mask, output_attentions)
            if output_hidden_states:
                all_hidden.append(hidden_states)
            if output_attentions:
                all_attentions.append(weights)
        return (hidden_states, None if all_hidden is None else tuple(all_hidden),
                None if all_attentions is None else tuple(all_attentions))


class BertPooler(nn.Module):
    """tanh(dense(hidden state of the first token)): the sentence vector classifiers read."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))  # (B, D)


class BertPredictionHeadTransform(nn.Module):
    """dense, activation, LayerNorm: the MLM head's transform before the vocabulary projection."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = _activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    """Transform, then project onto the vocabulary; ``decoder.weight`` is tied to the word
    embeddings and ``decoder.bias`` to ``bias`` (when ``config.tie_word_embeddings``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(np.zeros(config.vocab_size, dtype=self.decoder.weight.dtype))

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.decoder(self.transform(hidden_states))  # (B, T, V)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output: Tensor) -> Tensor:
        return self.predictions(sequence_output)


# --------------------------------------------------------------------------------- input helpers
def _ids(x: Any, name: str) -> np.ndarray | None:
    """Integer ids/masks/labels as a NumPy array (Tensors, arrays and lists accepted)."""
    if x is None:
        return None
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr if arr.dtype in (np.int64, np.int32, np.bool_) else arr.astype(np.int64)


def _mask(x: Any) -> np.ndarray | None:
    """An attention mask as a NumPy array: 1/True (or any nonzero) attends, 0 is padding."""
    if x is None:
        return None
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iubf":
        raise TypeError(f"attention_mask must be numeric or bool, got dtype {arr.dtype}")
    return arr


def _attention_bias(mask: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """A (B, T) 0/1 mask (or (B, T, S), or a 4-D one) as the additive float mask the fused
    attention takes: 0 where attended, -inf elsewhere (a row with nothing to attend gives zeros).
    None when everything is attended, which skips the masking work."""
    if mask is None:
        return None
    if mask.ndim == 4 and mask.dtype.kind == "f":  # already additive, as transformers takes it
        return mask.astype(dtype, copy=False)
    if mask.ndim not in (2, 3, 4):
        raise ValueError(f"attention_mask must be (batch, seq), (batch, seq, seq) or 4-D, got "
                         f"shape {mask.shape}")
    keep = mask != 0
    if keep.all():
        return None
    bias = np.where(keep, 0.0, -np.inf).astype(dtype)
    return {2: bias[:, None, None, :], 3: bias[:, None], 4: bias}[mask.ndim]


_ROUTE_EXTRAS = ("head_mask", "encoder_hidden_states", "encoder_attention_mask",
                 "past_key_values", "cache", "use_cache", "cache_position")


def _check_extras(kwargs: dict[str, Any]) -> None:
    for k, v in kwargs.items():
        if k not in _ROUTE_EXTRAS:
            raise TypeError(f"forward() got an unexpected keyword argument {k!r}")
        if v is not None and k != "use_cache":
            raise NotImplementedError(f"{k} is not supported by ember's BERT (encoder only)")


# ---------------------------------------------------------------------------------------- models
class BertPreTrainedModel(PreTrainedModel):
    """Base of the BERT models: config class, checkpoint prefix and transformers' weight init
    (normal(0, initializer_range) for Linear and Embedding weights, zero biases and padding row,
    LayerNorm 1/0, a zero MLM bias)."""

    config_class: ClassVar[type[BertConfig]] = BertConfig
    base_model_prefix: ClassVar[str] = "bert"
    # older checkpoints stored the position_ids buffer
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [r"embeddings\.position_ids$"]

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with no_grad():
                    init.zeros_(module.weight[module.padding_idx])  # a view of the row
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, BertLMPredictionHead):
            init.zeros_(module.bias)

    def _outputs(self, output_attentions: bool | None, output_hidden_states: bool | None,
                 return_dict: bool | None) -> tuple[bool, bool, bool]:
        c = self.config
        return (c.output_attentions if output_attentions is None else output_attentions,
                c.output_hidden_states if output_hidden_states is None else output_hidden_states,
                c.use_return_dict if return_dict is None else return_dict)

    def _base(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
              output_attentions, output_hidden_states, kwargs):
        return self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         position_ids=position_ids, inputs_embeds=inputs_embeds,
                         output_attentions=output_attentions,
                         output_hidden_states=output_hidden_states, return_dict=True, **kwargs)


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: embeddings, the layer stack and (optionally) the pooler.

    ``unpad_inference``: on the inference route (eval mode, no graph wanted; see the module
    docstring) compute only the attended tokens and each sequence's first position, leaving zeros
    at the other padded positions of the outputs; False computes every position as transformers
    does.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        if getattr(config, "add_cross_attention", False):
            raise NotImplementedError("add_cross_attention=True (a BERT decoder with "
                                      "cross-attention) is not implemented in ember")
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.unpad_inference = True
        self.post_init()

    @classmethod
    def from_pretrained(cls, *args: Any, add_pooling_layer: bool = True, **kwargs: Any):
        """``PreTrainedModel.from_pretrained``; ``add_pooling_layer`` goes to the constructor."""
        if add_pooling_layer:
            return super().from_pretrained(*args, **kwargs)
        if len(args) != 1:
            raise TypeError("from_pretrained(path, add_pooling_layer=False) takes no other "
                            "positional model arguments")
        return super().from_pretrained(args[0], False, **kwargs)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(self, input_ids: Any = None, attention_mask: Any = None,
                token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None,
                **kwargs: Any) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple:
        """Encode a batch: ``input_ids`` (B, T) or ``inputs_embeds`` (B, T, D); an optional
        ``attention_mask`` (B, T) of 1 (attend) / 0 (padding), ``token_type_ids`` (B, T)
        (default 0) and ``position_ids`` (default 0..T-1). Returns ``last_hidden_state``
        (B, T, D), ``pooler_output`` (B, D) and, when asked, ``hidden_states`` (the embeddings
        and each layer's output) and ``attentions`` ((B, H, T, T) per layer)."""
        _check_extras(kwargs)
        output_attentions, output_hidden_states, return_dict = self._outputs(
            output_attentions, output_hidden_states, return_dict)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        input_ids = _ids(input_ids, "input_ids")
        attention_mask = _mask(attention_mask)
        token_type_ids = _ids(token_type_ids, "token_type_ids")
        position_ids = _ids(position_ids, "position_ids")
        if inputs_embeds is not None and not isinstance(inputs_embeds, Tensor):
            inputs_embeds = Tensor._make(np.asarray(inputs_embeds, dtype=self.dtype))
        shape = input_ids.shape if input_ids is not None else tuple(inputs_embeds.shape[:-1])
        if len(shape) != 2:
            raise ValueError(f"input_ids must be (batch, seq), got shape {tuple(shape)}")
        B, T = shape
        if position_ids is None and T > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {T} exceeds max_position_embeddings "
                             f"({self.config.max_position_embeddings}); truncate the input")

        if self._inference_route(output_attentions, inputs_embeds, attention_mask, (B, T)):
            hidden = self._infer(input_ids, attention_mask, token_type_ids, position_ids,
                                 inputs_embeds, output_hidden_states)
            sequence_output = hidden[-1]
            hidden_states = tuple(hidden) if output_hidden_states else None
            attentions = None
        else:
            embedding_output = self.embeddings(input_ids, token_type_ids, position_ids,
                                               inputs_embeds)
            bias = _attention_bias(attention_mask, embedding_output.dtype)
            sequence_output, hidden_states, attentions = self.encoder(
                embedding_output, bias, output_hidden_states, output_attentions)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        out = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output, pooler_output=pooled_output,
            hidden_states=hidden_states, attentions=attentions)
        return out if return_dict else out.to_tuple()

    def _inference_route(self, output_attentions: bool, inputs_embeds: Tensor | None,
                         attention_mask: np.ndarray | None, shape: tuple[int, int]) -> bool:
        """The NumPy route computes the module route's function without a graph (padded
        positions aside, see ``unpad_inference``); it is taken only when no graph is wanted (grad
        mode off, or a frozen encoder on constant inputs) and there is no dropout, no attention
        weights or hooks to feed, no causal mask and no custom (3-D or 4-D) mask."""
        if self.training or output_attentions or self.config.is_decoder:
            return False
        if attention_mask is not None and attention_mask.shape != shape:
            return False
        if is_grad_enabled() and (any(p.requires_grad for p in self.parameters())
                                  or getattr(inputs_embeds, "requires_grad", False)):
            return False
        return not any(m._forward_hooks or m._forward_pre_hooks
                       for m in (*self.embeddings.modules(), *self.encoder.modules()))

    def _infer(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
               output_hidden_states: bool) -> list[Tensor]:
        """Embeddings and encoder on NumPy arrays; returns [embeddings, layer outputs...] (all of
        them when ``output_hidden_states``, else the last one) as (B, T, D) Tensors."""
        B, T = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        plan = _Plan(attention_mask, B, T, self.unpad_inference)
        x = self.embeddings._infer(plan, input_ids, token_type_ids, position_ids,
                                   None if inputs_embeds is None else inputs_embeds.data)
        states = [x]  # (N, D) each
        for layer in self.encoder.layer:
            x = layer._infer(x, plan)
            states = [*states, x] if output_hidden_states else [x]
        return [Tensor._make(plan.scatter(s)) for s in states]


class BertForMaskedLM(BertPreTrainedModel):
    """BERT with the masked-language-modeling head; ``labels`` (B, T) with -100 where no loss."""

    _tied_weights_keys: ClassVar[dict[str, str]] = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        with init.skip_init():  # post_init below initialises everything once
            self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def _rename_checkpoint_keys(self, keys: list[str], own: set[str]) -> dict[str, str]:
        renamed = super()._rename_checkpoint_keys(keys, own)
        # a checkpoint that stored the tied bias only under the decoder fills cls.predictions.bias
        tied = getattr(self.config, "tie_word_embeddings", True)
        if tied and "cls.predictions.bias" not in renamed.values():
            for k, v in renamed.items():
                if v == "cls.predictions.decoder.bias":
                    renamed[k] = "cls.predictions.bias"
        return renamed

    def forward(self, input_ids: Any = None, attention_mask: Any = None,
                token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: Tensor | None = None, labels: Any = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, **kwargs: Any) -> MaskedLMOutput | tuple:
        """``logits`` (B, T, vocab_size); ``loss``: mean cross-entropy over labels != -100."""
        output_attentions, output_hidden_states, return_dict = self._outputs(
            output_attentions, output_hidden_states, return_dict)
        outputs = self._base(input_ids, attention_mask, token_type_ids, position_ids,
                             inputs_embeds, output_attentions, output_hidden_states, kwargs)
        logits = self.cls(outputs.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.config.vocab_size),
                                   _ids(labels, "labels").reshape(-1))
        out = MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                             attentions=outputs.attentions)
        return out if return_dict else out.to_tuple()


class BertForSequenceClassification(BertPreTrainedModel):
    """BERT with a linear classifier (or regressor) on the pooled output.

    The loss follows ``config.problem_type``, which is set on first use as in transformers:
    "regression" (num_labels == 1, MSE), "single_label_classification" (integer labels,
    cross-entropy) or "multi_label_classification" (float labels, BCE with logits)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        with init.skip_init():
            self.bert = BertModel(config)
        p = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: Any = None, attention_mask: Any = None,
                token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: Tensor | None = None, labels: Any = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, **kwargs: Any,
                ) -> SequenceClassifierOutput | tuple:
        """``logits`` (B, num_labels); ``loss`` when ``labels`` is given (see the class)."""
        output_attentions, output_hidden_states, return_dict = self._outputs(
            output_attentions, output_hidden_states, return_dict)
        outputs = self._base(input_ids, attention_mask, token_type_ids, position_ids,
                             inputs_embeds, output_attentions, output_hidden_states, kwargs)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, num_labels)
        loss = None if labels is None else self._loss(logits, labels)
        out = SequenceClassifierOutput(loss=loss, logits=logits,
                                       hidden_states=outputs.hidden_states,
                                       attentions=outputs.attentions)
        return out if return_dict else out.to_tuple()

    def _loss(self, logits: Tensor, labels: Any) -> Tensor:
        y = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif self.num_labels > 1 and y.dtype in (np.int64, np.int32):  # long or int
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        kind = self.config.problem_type
        if kind == "single_label_classification":
            return F.cross_entropy(logits.reshape(-1, self.num_labels), y.reshape(-1))
        target = Tensor._make(y.astype(logits.dtype, copy=False))
        if kind == "regression":
            if self.num_labels == 1:
                return F.mse_loss(logits.squeeze(), target.squeeze())
            return F.mse_loss(logits, target)
        return F.binary_cross_entropy_with_logits(logits, target)


class BertForTokenClassification(BertPreTrainedModel):
    """BERT with a linear classifier on every token; ``labels`` (B, T), -100 where no loss."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        with init.skip_init():
            self.bert = BertModel(config, add_pooling_layer=False)
        p = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: Any = None, attention_mask: Any = None,
                token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: Tensor | None = None, labels: Any = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, **kwargs: Any) -> TokenClassifierOutput | tuple:
        """``logits`` (B, T, num_labels); ``loss``: mean cross-entropy over labels != -100."""
        output_attentions, output_hidden_states, return_dict = self._outputs(
            output_attentions, output_hidden_states, return_dict)
        outputs = self._base(input_ids, attention_mask, token_type_ids, position_ids,
                             inputs_embeds, output_attentions, output_hidden_states, kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels),
                                   _ids(labels, "labels").reshape(-1))
        out = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                    attentions=outputs.attentions)
        return out if return_dict else out.to_tuple()


class BertForQuestionAnswering(BertPreTrainedModel):
    """BERT with a span head: ``start_logits`` and ``end_logits`` (B, T) from ``qa_outputs``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        with init.skip_init():
            self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: Any = None, attention_mask: Any = None,
                token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: Tensor | None = None, start_positions: Any = None,
                end_positions: Any = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None,
                **kwargs: Any) -> QuestionAnsweringModelOutput | tuple:
        """``loss`` (with both positions given): the mean of the start and end cross-entropies;
        positions are clamped to [0, T] and T (outside the sequence) is ignored, as in
        transformers."""
        if self.num_labels != 2:
            raise ValueError(f"BertForQuestionAnswering needs num_labels=2 (start and end "
                             f"logits), got {self.num_labels}")
        output_attentions, output_hidden_states, return_dict = self._outputs(
            output_attentions, output_hidden_states, return_dict)
        outputs = self._base(input_ids, attention_mask, token_type_ids, position_ids,
                             inputs_embeds, output_attentions, output_hidden_states, kwargs)
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = (s.squeeze(-1) for s in logits.split(1, dim=-1))  # (B, T)
        loss = None
        if start_positions is not None and end_positions is not None:
            T = start_logits.shape[1]
            losses = []
            for logits_, positions in ((start_logits, start_positions),
                                       (end_logits, end_positions)):
                pos = _ids(positions, "start_positions/end_positions").astype(np.int64)
                if pos.ndim > 1:
                    pos = pos.squeeze(-1)
                losses.append(F.cross_entropy(logits_, np.clip(pos, 0, T), ignore_index=T))
            loss = (losses[0] + losses[1]) / 2
        out = QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits,
                                           end_logits=end_logits,
                                           hidden_states=outputs.hidden_states,
                                           attentions=outputs.attentions)
        return out if return_dict else out.to_tuple()
