"""BERT: ``BertConfig`` and the models (``transformers``' class names, checkpoint layout and
numbers)."""
from .configuration_bert import BertConfig
from .modeling_bert import (
    BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
    BertForTokenClassification, BertModel, BertPreTrainedModel,
)

__all__ = [
    "BertConfig", "BertForMaskedLM", "BertForQuestionAnswering", "BertForSequenceClassification",
    "BertForTokenClassification", "BertModel", "BertPreTrainedModel",
]
