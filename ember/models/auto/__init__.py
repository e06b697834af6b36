"""Auto classes: pick the family class from a checkpoint's ``model_type``."""
from .configuration_auto import CONFIG_MAPPING_NAMES, AutoConfig  # noqa: F401
from .modeling_auto import (  # noqa: F401
    MODEL_MAPPING_NAMES, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM,
    AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
