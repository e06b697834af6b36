"""``BertConfig``: BERT's hyper-parameters, with ``transformers``' field names and defaults.

The defaults describe bert-base-uncased (110M parameters). A config.json written by any
transformers version loads (older ones carry ``position_embedding_type``, newer ones do not), and
what we write loads in transformers.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..configuration_utils import ConfigError, PretrainedConfig

__all__ = ["BertConfig", "SUPPORTED_ACTIVATIONS"]

# hidden_act values we implement: exact (erf) GELU, GELU's tanh form under both of its names,
# ReLU and SiLU (alias swish), as transformers' ACT2FN defines them.
SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish")


class BertConfig(PretrainedConfig):
    """Configuration of a BERT model (``transformers.BertConfig``).

    Main fields: ``vocab_size`` (30522), ``hidden_size`` (768), ``num_hidden_layers`` (12),
    ``num_attention_heads`` (12, must divide hidden_size), ``intermediate_size`` (3072, the
    feed-forward width), ``hidden_act`` ("gelu", the exact erf form), ``hidden_dropout_prob`` and
    ``attention_probs_dropout_prob`` (0.1), ``max_position_embeddings`` (512, the longest
    sequence), ``type_vocab_size`` (2 segment ids), ``initializer_range`` (0.02, the std of the
    random init), ``layer_norm_eps`` (1e-12), ``pad_token_id`` (0), ``position_embedding_type``
    ("absolute", the only kind implemented) and ``classifier_dropout`` (None: use
    hidden_dropout_prob in the classification heads).

    >>> BertConfig(hidden_size=32, num_attention_heads=4).intermediate_size
    3072
    """

    model_type: ClassVar[str] = "bert"
    _field_types: ClassVar[dict[str, type | tuple]] = {
        **{k: int for k in ("vocab_size", "hidden_size", "num_hidden_layers",
                            "num_attention_heads", "intermediate_size", "max_position_embeddings",
                            "type_vocab_size")},
        **{k: (float,) for k in ("hidden_dropout_prob", "attention_probs_dropout_prob",
                                 "initializer_range", "layer_norm_eps", "classifier_dropout")},
        **{k: str for k in ("hidden_act", "position_embedding_type")},
        **{k: bool for k in ("use_cache", "add_cross_attention")},
    }

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 0,
        position_embedding_type: str = "absolute",
        use_cache: bool = True,
        classifier_dropout: float | None = None,
        add_cross_attention: bool = False,
        **kwargs: Any,
    ) -> None:
        source = kwargs.get("_source", type(self).__name__)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.position_embedding_type = position_embedding_type
        self.use_cache = use_cache
        self.classifier_dropout = classifier_dropout
        self.add_cross_attention = add_cross_attention
        # the base class applies the remaining kwargs and then checks every field's type
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self._validate(source)

    def _validate(self, source: str) -> None:
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, key)
            if value is None or value < (0 if key == "num_hidden_layers" else 1):
                raise ConfigError(f"{source}: field {key!r} must be a positive int, got "
                                  f"{value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"{source}: hidden_size ({self.hidden_size}) must be divisible by "
                              f"num_attention_heads ({self.num_attention_heads}): each head gets "
                              f"hidden_size // num_attention_heads features")
        if self.position_embedding_type not in (None, "absolute"):
            raise ConfigError(f"{source}: position_embedding_type "
                              f"{self.position_embedding_type!r} is not implemented; ember's BERT "
                              f"supports 'absolute' position embeddings only")
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ConfigError(f"{source}: hidden_act {self.hidden_act!r} is not supported; use "
                              f"one of {', '.join(SUPPORTED_ACTIVATIONS)}")
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
            p = getattr(self, key)
            if p is not None and not 0.0 <= p <= 1.0:
                raise ConfigError(f"{source}: field {key!r} is a probability, got {p!r}")
