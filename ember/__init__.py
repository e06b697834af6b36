"""ember: PyTorch-style autograd and a transformers-style stack, on NumPy.

``import ember as torch`` is meant to work for everyday training code: tensors, autograd, nn,
optim and data loading follow PyTorch's names and semantics.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .autograd import (  # noqa: F401
    Size, Tensor, device, enable_grad, inference_mode, is_grad_enabled, no_grad,
    set_grad_enabled,
)
from .autograd.creation import (  # noqa: F401
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, linspace,
    logspace, multinomial, normal, ones, ones_like, rand, rand_like, randint, randint_like, randn,
    randn_like, randperm, tensor, zeros, zeros_like,
)
from .autograd.dtypes import (  # noqa: F401
    bool_ as bool, double, float, float16, float32, float64, get_default_dtype, half, int, int8,
    int16, int32, int64, long, set_default_dtype, short, uint8,
)
from .autograd.ops import *  # noqa: F401,F403
from .autograd.random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)

from . import autograd  # noqa: E402,F401


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()

from . import nn  # noqa: E402,F401

from .tokenizers import (  # noqa: E402,F401
    AutoTokenizer, BatchEncoding, BertTokenizer, BertTokenizerFast, GPT2Tokenizer,
    GPT2TokenizerFast, PreTrainedTokenizerFast,
)

# Models, generation, pipelines and the trainer load lazily: ``ember.GPT2LMHeadModel`` imports
# ember.models (and only the gpt2 family) on first use, so ``import ember`` stays fast for code
# that never touches them.
_LAZY_SUBMODULES = ("models", "optim", "data", "utils", "generation", "pipelines", "trainer")
_MODEL_NAMES = {
    "AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM",
    "AutoModelForQuestionAnswering", "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification", "PretrainedConfig", "PreTrainedConfig",
    "PreTrainedModel", "count_parameters",
}
_LAZY_NAMES = {
    **{n: "generation" for n in ("GenerationConfig", "GenerationMixin", "TextStreamer",
                                 "TextIteratorStreamer", "LogitsProcessor",
                                 "LogitsProcessorList", "StoppingCriteria",
                                 "StoppingCriteriaList")},
    "pipeline": "pipelines", "Pipeline": "pipelines",
    "TrainingArguments": "trainer", "Trainer": "trainer", "TrainerCallback": "trainer",
    "EarlyStoppingCallback": "trainer",
}


def __getattr__(name: str):
    import importlib
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    if name in _MODEL_NAMES:
        from . import models
        return getattr(models, name)
    from .models import FAMILY_EXPORTS
    if name in FAMILY_EXPORTS:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
