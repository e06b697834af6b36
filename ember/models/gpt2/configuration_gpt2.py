"""``GPT2Config``: GPT-2's hyper-parameters, with ``transformers``' field names and defaults.

The defaults describe GPT-2 small (124M parameters). ``hidden_size``, ``num_attention_heads``,
``num_hidden_layers`` and ``max_position_embeddings`` are aliases of GPT-2's own names.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..configuration_utils import ConfigError, PretrainedConfig

__all__ = ["GPT2Config"]


class GPT2Config(PretrainedConfig):
    """Configuration of a GPT-2 model (``transformers.GPT2Config``).

    Main fields: ``vocab_size`` (50257), ``n_positions`` (1024, the longest sequence),
    ``n_embd`` (768), ``n_layer`` (12), ``n_head`` (12), ``n_inner`` (None: 4 * n_embd),
    ``activation_function`` ("gelu_new", GELU's tanh form), the dropout rates ``resid_pdrop``,
    ``embd_pdrop`` and ``attn_pdrop`` (0.1), ``layer_norm_epsilon`` (1e-5) and
    ``initializer_range`` (0.02, the std of the random init). The ``summary_*`` fields belong to
    transformers' double-heads model and are kept for round trips.

    >>> GPT2Config(n_layer=2, n_embd=64, n_head=4).hidden_size
    64
    """

    model_type: ClassVar[str] = "gpt2"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }
    _field_types: ClassVar[dict[str, type | tuple]] = {
        **{k: int for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                            "n_inner")},
        **{k: (float,) for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon",
                                 "initializer_range", "summary_first_dropout")},
        **{k: bool for k in ("summary_use_proj", "summary_proj_to_labels", "scale_attn_weights",
                             "use_cache", "scale_attn_by_inverse_layer_idx",
                             "reorder_and_upcast_attn", "add_cross_attention")},
        **{k: str for k in ("activation_function", "summary_type", "summary_activation")},
    }

    def __init__(
        self,
        vocab_size: int = 50257,
        n_positions: int = 1024,
        n_embd: int = 768,
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        summary_type: str = "cls_index",
        summary_use_proj: bool = True,
        summary_activation: str | None = None,
        summary_proj_to_labels: bool = True,
        summary_first_dropout: float = 0.1,
        scale_attn_weights: bool = True,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | list[int] | None = 50256,
        scale_attn_by_inverse_layer_idx: bool = False,
        reorder_and_upcast_attn: bool = False,
        add_cross_attention: bool = False,
        **kwargs: Any,
    ) -> None:
        source = kwargs.get("_source", type(self).__name__)
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_proj_to_labels = summary_proj_to_labels
        self.summary_first_dropout = summary_first_dropout
        self.scale_attn_weights = scale_attn_weights
        self.use_cache = use_cache
        self.scale_attn_by_inverse_layer_idx = scale_attn_by_inverse_layer_idx
        self.reorder_and_upcast_attn = reorder_and_upcast_attn
        self.add_cross_attention = add_cross_attention
        # the base class applies the remaining kwargs (aliases such as hidden_size included)
        # and then checks every field's type
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        if self.n_head is None or self.n_head <= 0:
            raise ConfigError(f"{source}: field 'n_head' must be a positive int, got "
                              f"{self.n_head!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"{source}: n_embd ({self.n_embd}) must be divisible by n_head "
                              f"({self.n_head}): each head gets n_embd // n_head features")
