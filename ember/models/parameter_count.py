"""``count_parameters(config)``: a model's size from its config, without allocating weights."""
from __future__ import annotations

from ..nn import init
from .configuration_utils import PretrainedConfig

__all__ = ["count_parameters"]


def count_parameters(config: PretrainedConfig, task: str = "base",
                     exclude_embeddings: bool = False) -> int:
    """Parameters of the model ``config`` describes, tied weights counted once.

    The model is built inside ``nn.init.meta_init()``, where every parameter is a zero-stride
    view of a single number: exact shapes, no memory, so a 7B config costs what a tiny one does.
    ``task`` picks the head as the Auto classes name them ("base", "causal-lm", "masked-lm",
    "sequence-classification", ...).

    >>> count_parameters(GPT2Config())      # 124,439,808 (GPT-2 small, LM head tied)
    """
    from .auto.modeling_auto import _AutoModel
    auto = next(c for c in _AutoModel.__subclasses__() if c._task == task)
    with init.meta_init():
        model = auto.model_class_for(config)(config)
    return model.num_parameters(exclude_embeddings=exclude_embeddings)
