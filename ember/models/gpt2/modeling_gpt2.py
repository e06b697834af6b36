"""GPT-2 (Radford et al., 2019): a decoder-only transformer with learned absolute positions and
pre-LayerNorm blocks, numerically equal to ``transformers``' GPT-2 on the same weights.

Layout, top to bottom::

    GPT2Model
      wte (vocab, C), wpe (n_positions, C)        token and position embeddings (summed)
      h.<i>: GPT2Block                            x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
        attn: c_attn (C -> 3C), causal multi-head attention, c_proj (C -> C)
        mlp:  c_fc (C -> 4C), gelu (tanh form), c_proj (4C -> C)
      ln_f                                        final LayerNorm
    GPT2LMHeadModel                 + lm_head (tied to wte): next-token logits and loss
    GPT2ForSequenceClassification   + score: logits of the last non-padding token
    GPT2ForTokenClassification      + dropout, classifier: per-token logits

Attribute names are the checkpoint's tensor names, and the projections keep OpenAI's ``Conv1D``
layout (weight ``(in, out)``, ``y = x @ W + b``), so an HF checkpoint loads without transposes.

Shapes in comments: B batch, T new tokens, S keys attended (past + new), C = n_embd,
nh = n_head, hs = C // nh.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

import numpy as np

from ... import nn
from ...autograd.function import Function
from ...autograd.tensor import Tensor
from ...generation.utils import GenerationMixin
from ...nn import functional as F
from ...nn import init
from ...nn.modules.linear import _empty
from ..cache_utils import Cache, DynamicCache
from ..modeling_outputs import (
    BaseModelOutputWithPastAndCrossAttentions, CausalLMOutputWithCrossAttentions,
    SequenceClassifierOutputWithPast, TokenClassifierOutput,
)
from ..modeling_utils import PreTrainedModel
from .configuration_gpt2 import GPT2Config

__all__ = [
    "Conv1D", "GPT2ForSequenceClassification", "GPT2ForTokenClassification", "GPT2LMHeadModel",
    "GPT2Model", "GPT2PreTrainedModel",
]

ArrayLike = Tensor | np.ndarray | Sequence

# transformers' ACT2FN names -> ember functions
ACT2FN: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu_new": partial(F.gelu, approximate="tanh"),
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "gelu_fast": partial(F.gelu, approximate="tanh"),  # the same function, written differently
    "gelu": F.gelu,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": F.tanh,
    "quick_gelu": lambda x: x * F.sigmoid(x * 1.702),
}


def _array(x: ArrayLike) -> np.ndarray:
    """Integer inputs (ids, masks, labels) as an ndarray, from a Tensor, array or list."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# -- Conv1D --------------------------------------------------------------------------------------
class _AddMM(Function):
    """``x @ w + b`` over the (M, in) view of ``x``: one GEMM forward and one per gradient (an
    ``addmm`` with the bias, written as one node so the bias needs no broadcast copy)."""

    def forward(ctx, x, w, b):
        x2 = x.reshape(-1, x.shape[-1])
        out = x2 @ w  # (M, out)
        out += b
        ctx.save_for_backward(x, w)
        return out.reshape(x.shape[:-1] + (w.shape[1],))

    def backward(ctx, g):
        x, w = ctx.saved
        g2 = g.reshape(-1, w.shape[1])  # (M, out)
        need = ctx.needs_input_grad
        gx = (g2 @ w.T).reshape(x.shape) if need[0] else None
        gw = np.matmul(x.reshape(-1, x.shape[-1]).T, g2,
                       out=ctx.grad_out(1, w.shape)) if need[1] else None
        gb = np.matmul(np.ones(g2.shape[0], dtype=g2.dtype), g2,
                       out=ctx.grad_out(2, g2.shape[1:])) if need[2] else None  # col sums
        return gx, gw, gb


class Conv1D(nn.Module):
    """OpenAI's projection layer: ``y = x @ weight + bias`` with ``weight`` of shape
    ``(nx, nf)`` = (in, out), the transpose of ``nn.Linear``'s (the layout of GPT-2 checkpoints).
    """

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(_empty((nx, nf)))
        self.bias = nn.Parameter(_empty((nf,)))
        init.normal_(self.weight, std=0.02)
        init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.nx:
            raise RuntimeError(f"Conv1D: expected input with {self.nx} features (last dim), got "
                               f"shape {list(x.shape)}")
        return _AddMM.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"nf={self.nf}, nx={self.nx}"


# -- masks ---------------------------------------------------------------------------------------
def _attention_bias(attention_mask: np.ndarray | None, past: int, T: int, S: int,
                    dtype: np.dtype) -> np.ndarray:
    """The additive (B or 1, 1, T, S) bias: 0 where query i (absolute position ``past + i``) may
    see key j (``j <= past + i`` and key j is not padding), else -inf. A query that may see no
    key at all (a left-padding position) gets a zero attention output, as from torch's SDPA,
    which transformers uses by default."""
    allowed = np.arange(S)[None, :] <= (past + np.arange(T))[:, None]  # (T, S)
    allowed = allowed[None, None]  # (1, 1, T, S)
    if attention_mask is not None:
        allowed = allowed & (attention_mask[:, None, None, :] != 0)  # (B, 1, T, S)
    return np.where(allowed, 0.0, -np.inf).astype(dtype)


def _explicit_attention(q: Tensor, k: Tensor, v: Tensor, bias: np.ndarray | None, scale: float,
                        p: float, training: bool) -> tuple[Tensor, Tensor]:
    """Attention with its probabilities materialised (for ``output_attentions``): the same
    numbers as the fused SDPA, rows with no visible key included (zero weights)."""
    scores = (q @ k.transpose(-1, -2)) * scale  # (B, nh, T, S)
    if bias is not None:
        # a finite floor keeps the softmax of a fully masked row defined; the row is then zeroed
        floor = np.finfo(bias.dtype).min
        scores = scores + Tensor(np.maximum(bias, floor))
    weights = F.softmax(scores, dim=-1)  # (B, nh, T, S)
    if bias is not None:
        seen = (bias > -np.inf).any(-1, keepdims=True)  # (B, 1, T, 1)
        if not seen.all():
            weights = weights * Tensor(seen.astype(bias.dtype))
    weights = F.dropout(weights, p, training)
    return weights @ v, weights  # (B, nh, T, hs), (B, nh, T, S)


# -- the transformer -----------------------------------------------------------------------------
class GPT2Attention(nn.Module):
    """Causal multi-head self-attention: one projection to q, k, v, SDPA, one projection out."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.layer_idx = layer_idx
        self.scaling = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states: Tensor, attention_bias: np.ndarray | None, is_causal: bool,
                cache: Cache | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        B, T, C = hidden_states.shape
        nh, hs = self.num_heads, self.head_dim
        qkv = self.c_attn(hidden_states).view(B, T, 3, nh, hs)  # (B, T, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, hs)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # each (B, nh, S, hs)
        p = self.attn_dropout.p if self.training else 0.0
        weights = None
        if output_attentions:  # the probabilities are wanted: compute them explicitly
            out, weights = _explicit_attention(q, k, v, attention_bias, self.scaling, p,
                                               self.training)  # (B, nh, T, hs)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_bias,
                                                 dropout_p=p, is_causal=is_causal,
                                                 scale=self.scaling)  # (B, nh, T, hs)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(out)), weights


class GPT2MLP(nn.Module):
    """The feed-forward block: C -> n_inner (4C), activation, -> C."""

    def __init__(self, intermediate_size: int, config: GPT2Config) -> None:
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, intermediate_size)
        name = config.activation_function
        if name not in ACT2FN:
            raise ValueError(f"GPT2Config.activation_function {name!r} is not supported (ember "
                             f"has {', '.join(sorted(ACT2FN))})")
        self.act = ACT2FN[name]
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states: Tensor) -> Tensor:
        h = self.act(self.c_fc(hidden_states))  # (B, T, 4C)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class GPT2Block(nn.Module):
    """A pre-LayerNorm transformer block with two residual branches."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner, config)

    def forward(self, hidden_states: Tensor, attention_bias: np.ndarray | None, is_causal: bool,
                cache: Cache | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        attn_out, weights = self.attn(self.ln_1(hidden_states), attention_bias, is_causal, cache,
                                      output_attentions)
        hidden_states = hidden_states + attn_out  # (B, T, C)
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states))
        return hidden_states, weights


class GPT2PreTrainedModel(PreTrainedModel):
    """Base of the GPT-2 models: config class, checkpoint prefix and HF's initialisation."""

    config_class: ClassVar[type[GPT2Config]] = GPT2Config
    base_model_prefix: ClassVar[str] = "transformer"
    # the causal-mask buffers that older checkpoints (openai-community/gpt2) still carry
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = [
        r"\.attn\.bias$", r"\.attn\.masked_bias$", r"\.crossattention\.bias$",
        r"\.crossattention\.masked_bias$",
    ]

    def _init_weights(self, module: nn.Module) -> None:
        """HF's scheme: weights N(0, initializer_range), biases 0, LayerNorm 1/0, and the
        residual projections (``c_proj``) N(0, initializer_range / sqrt(2 * n_layer)), GPT-2's
        scaling for the 2 * n_layer residual additions."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, Conv1D)):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            if module.weight is not None:
                init.ones_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        if isinstance(module, (GPT2Attention, GPT2MLP)):  # children were set above: override
            init.normal_(module.c_proj.weight, mean=0.0,
                         std=std / math.sqrt(2 * self.config.n_layer))


def _resolve(value: Any, default: Any) -> Any:
    return default if value is None else value


class GPT2Model(GPT2PreTrainedModel):
    """The bare GPT-2 transformer: hidden states of the last layer (after ``ln_f``)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        if getattr(config, "add_cross_attention", False):
            raise NotImplementedError("ember's GPT-2 has no cross-attention "
                                      "(config.add_cross_attention=True)")
        self.embed_dim = config.n_embd
        with init.skip_init():  # post_init draws every weight once, with HF's scheme
            self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
            self.wpe = nn.Embedding(config.n_positions, self.embed_dim)
            self.drop = nn.Dropout(config.embd_pdrop)
            self.h = nn.ModuleList([GPT2Block(config, i) for i in range(config.n_layer)])
            self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(
        self,
        input_ids: ArrayLike | None = None,
        past_key_values: Cache | Sequence | None = None,
        attention_mask: ArrayLike | None = None,
        token_type_ids: ArrayLike | None = None,
        position_ids: ArrayLike | None = None,
        inputs_embeds: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache: Cache | Sequence | None = None,
    ) -> BaseModelOutputWithPastAndCrossAttentions | tuple:
        """Run the transformer.

        ``input_ids`` (B, T) or ``inputs_embeds`` (B, T, C); ``attention_mask`` (B, past + T)
        of 1 (token) / 0 (padding, left or right); ``position_ids`` default to
        ``past + arange(T)`` whatever the mask (as transformers: pass them for left padding);
        ``past_key_values`` (alias ``cache``, transformers 5's name) a ``Cache`` or a legacy
        tuple of (key, value) pairs. Returns ``last_hidden_state`` and, as asked,
        ``past_key_values`` (a ``DynamicCache``), ``hidden_states`` (embeddings and each
        block's output, the last after ``ln_f``) and ``attentions`` (B, nh, T, S) per layer.
        """
        cfg = self.config
        output_attentions = _resolve(output_attentions, cfg.output_attentions)
        output_hidden_states = _resolve(output_hidden_states, cfg.output_hidden_states)
        use_cache = _resolve(use_cache, cfg.use_cache)
        return_dict = _resolve(return_dict, cfg.return_dict)
        if cache is not None:
            if past_key_values is not None:
                raise ValueError("pass past_key_values or cache (its new name), not both")
            past_key_values = cache

        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You have to specify exactly one of input_ids or inputs_embeds")
        if input_ids is not None:
            ids = _array(input_ids)
            ids = ids.reshape(-1, ids.shape[-1]) if ids.ndim != 2 else ids
            inputs_embeds = self.wte(ids)  # (B, T, C)
        elif not isinstance(inputs_embeds, Tensor):
            inputs_embeds = Tensor(np.asarray(inputs_embeds))
        B, T = inputs_embeds.shape[:2]

        if past_key_values is not None and not isinstance(past_key_values, Cache):
            past_key_values = DynamicCache.from_legacy_cache(past_key_values)
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        S = past_key_values.get_kv_length(T) if past_key_values is not None else T

        if position_ids is None:
            pos = np.arange(past, past + T)[None]  # (1, T)
        else:
            pos = _array(position_ids).reshape(-1, T)
        if pos.size and (pos.max() >= cfg.n_positions or pos.min() < 0):
            raise IndexError(f"GPT-2 position ids must lie in [0, {cfg.n_positions}) "
                             f"(n_positions); got {int(pos.min())}..{int(pos.max())} "
                             f"(past length {past}, {T} new tokens)")
        hidden_states = inputs_embeds + self.wpe(pos)  # (B, T, C)
        if token_type_ids is not None:  # GPT-2 embeds token types with the token table
            tt = _array(token_type_ids).reshape(-1, T)
            hidden_states = hidden_states + self.wte(tt)
        hidden_states = self.drop(hidden_states)

        # One mask for all layers. Without padding, SDPA's own causal mask (no past) or none at
        # all (a single new token) is fastest; otherwise an explicit additive bias.
        mask = None
        if attention_mask is not None:
            mask = _array(attention_mask).reshape(B, -1)
            if mask.shape[1] < S:  # a preallocated cache: later keys are hidden by causality
                mask = np.pad(mask, ((0, 0), (0, S - mask.shape[1])), constant_values=1)
            elif mask.shape[1] != S:
                raise ValueError(f"attention_mask has {mask.shape[1]} columns; expected past + "
                                 f"new tokens = {past} + {T} = {S}")
            if mask.all():
                mask = None
        bias, is_causal = None, False
        if mask is not None or (T > 1 and (past > 0 or S != T or output_attentions)):
            bias = _attention_bias(mask, past, T, S, hidden_states.dtype)
        elif T > 1:
            is_causal = True

        all_hidden = () if output_hidden_states else None
        all_attn = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                all_hidden += (hidden_states,)
            hidden_states, weights = block(hidden_states, bias, is_causal, past_key_values,
                                           output_attentions)
            if output_attentions:
                all_attn += (weights,)
        hidden_states = self.ln_f(hidden_states)  # (B, T, C)
        if output_hidden_states:
            all_hidden += (hidden_states,)

        out = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=all_hidden, attentions=all_attn)
        return out if return_dict else out.to_tuple()


# -- heads ---------------------------------------------------------------------------------------

class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with its language-modelling head (``lm_head``, tied to ``transformer.wte``)."""

    _tied_weights_keys: ClassVar[dict[str, str]] = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        with init.skip_init():
            self.transformer = GPT2Model(config)
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def _decoder_session(self, batch_size: int, max_length: int):
        """generate()'s session: the NumPy decoder with folded weights (``decoding.py``); the
        generic one for a model it cannot reproduce (training, hooks, float64, activation)."""
        from .decoding import GPT2DecoderSession
        generic = getattr(super(), "_decoder_session", None)
        if generic is not None and not GPT2DecoderSession.supports(self):
            return generic(batch_size, max_length)
        return GPT2DecoderSession(self, batch_size, max_length)

    def forward(self, input_ids: ArrayLike | None = None, *, labels: ArrayLike | None = None,
                logits_to_keep: int = 0, return_dict: bool | None = None,
                **kwargs: Any) -> CausalLMOutputWithCrossAttentions | tuple:
        """Next-token logits (B, T, vocab); ``logits_to_keep=n`` computes only the last n
        positions' (generation needs one). ``labels`` (B, T), usually the input ids, give the
        causal-LM loss: position t predicts label t + 1, -100 entries are ignored, mean over the
        rest. Other arguments as ``GPT2Model.forward``."""
        return_dict = _resolve(return_dict, self.config.return_dict)
        base = self.transformer(input_ids, return_dict=True, **kwargs)
        hidden = base.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)  # (B, T, vocab)
        loss = None
        if labels is not None:
            if logits_to_keep:
                raise ValueError("labels need the logits of every position (logits_to_keep=0)")
            loss = _causal_lm_loss(logits, _array(labels))
        out = CausalLMOutputWithCrossAttentions(
            loss=loss, logits=logits, past_key_values=base.past_key_values,
            hidden_states=base.hidden_states, attentions=base.attentions)
        return out if return_dict else out.to_tuple()


def _causal_lm_loss(logits: Tensor, labels: np.ndarray) -> Tensor:
    """Mean cross-entropy of position t against label t + 1. The labels are shifted (the last
    position gets -100) rather than the logits sliced, which would copy (B, T, vocab)."""
    V = logits.shape[-1]
    labels = labels.reshape(logits.shape[:-1]).astype(np.int64, copy=False)
    shifted = np.full_like(labels, -100)
    shifted[..., :-1] = labels[..., 1:]
    flat = logits.reshape(-1, V)  # (B * T, V)
    if flat.dtype != np.float32 and flat.dtype != np.float64:  # upcast half, as transformers
        flat = flat.float()
    return F.cross_entropy(flat, shifted.reshape(-1), ignore_index=-100)


def _classification_loss(model: PreTrainedModel, logits: Tensor, labels: ArrayLike) -> Tensor:
    """transformers' rule: one label -> MSE regression; integer labels -> cross-entropy; float
    labels -> multi-label BCE with logits. The choice is stored in ``config.problem_type``."""
    cfg, n = model.config, model.num_labels
    lab = _array(labels)
    if cfg.problem_type is None:
        if n == 1:
            cfg.problem_type = "regression"
        elif lab.dtype.kind in "iu":
            cfg.problem_type = "single_label_classification"
        else:
            cfg.problem_type = "multi_label_classification"
    if cfg.problem_type == "regression":
        target = Tensor(lab.astype(logits.dtype))
        if n == 1:
            return F.mse_loss(logits.squeeze(), target.squeeze())
        return F.mse_loss(logits, target)
    if cfg.problem_type == "single_label_classification":
        return F.cross_entropy(logits.reshape(-1, n), lab.reshape(-1).astype(np.int64))
    return F.binary_cross_entropy_with_logits(logits, Tensor(lab.astype(logits.dtype)))


class GPT2ForSequenceClassification(GPT2PreTrainedModel):
    """GPT-2 with a linear ``score`` head (no bias) on the last non-padding token."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        with init.skip_init():
            self.transformer = GPT2Model(config)
            self.score = nn.Linear(config.n_embd, self.num_labels, bias=False)
        self.post_init()

    def forward(self, input_ids: ArrayLike | None = None, *, labels: ArrayLike | None = None,
                return_dict: bool | None = None,
                **kwargs: Any) -> SequenceClassifierOutputWithPast | tuple:
        """Logits (B, num_labels) of each row's last token that is not ``config.pad_token_id``
        (left and right padding both work); without a pad token id (or with ``inputs_embeds``)
        the last position. ``labels``: class ids, float multi-label targets, or regression
        values (see ``config.problem_type``)."""
        return_dict = _resolve(return_dict, self.config.return_dict)
        base = self.transformer(input_ids, return_dict=True, **kwargs)
        hidden = base.last_hidden_state  # (B, T, C)
        B, T = hidden.shape[:2]
        pad = self.config.pad_token_id
        if pad is None and B != 1:
            raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
        if pad is None or input_ids is None:
            last = np.full(B, T - 1)
        else:  # the rightmost non-pad token (position 0 when a row is all padding)
            ids = _array(input_ids).reshape(B, T)
            last = (np.arange(T) * (ids != pad)).argmax(-1)
        # pooling before the head is the same as transformers' pooling of all T logits
        logits = self.score(hidden[np.arange(B), last])  # (B, num_labels)
        loss = _classification_loss(self, logits, labels) if labels is not None else None
        out = SequenceClassifierOutputWithPast(
            loss=loss, logits=logits, past_key_values=base.past_key_values,
            hidden_states=base.hidden_states, attentions=base.attentions)
        return out if return_dict else out.to_tuple()


class GPT2ForTokenClassification(GPT2PreTrainedModel):
    """GPT-2 with dropout and a linear ``classifier`` on every token (tagging, NER)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        p = getattr(config, "classifier_dropout", None)
        if p is None:
            p = getattr(config, "hidden_dropout", None)
        with init.skip_init():
            self.transformer = GPT2Model(config)
            self.dropout = nn.Dropout(0.1 if p is None else p)
            self.classifier = nn.Linear(config.n_embd, config.num_labels)
        self.post_init()

    def forward(self, input_ids: ArrayLike | None = None, *, labels: ArrayLike | None = None,
                return_dict: bool | None = None,
                **kwargs: Any) -> TokenClassifierOutput | tuple:
        """Per-token logits (B, T, num_labels); ``labels`` (B, T) give the mean cross-entropy
        over the entries that are not -100."""
        return_dict = _resolve(return_dict, self.config.return_dict)
        base = self.transformer(input_ids, return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(base.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:
            lab = _array(labels).reshape(-1).astype(np.int64, copy=False)
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels), lab)
        out = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=base.hidden_states,
                                    attentions=base.attentions)
        return out if return_dict else out.to_tuple()
