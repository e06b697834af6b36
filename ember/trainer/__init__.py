"""``ember.trainer``: the pieces of transformers' training loop API — ``TrainingArguments`` and
the data collators — with transformers' names, so ``from transformers import ...`` ports by
changing the import.

Example::

    from ember.trainer import DataCollatorWithPadding, TrainingArguments
    args = TrainingArguments("out", num_train_epochs=1, eval_strategy="epoch")
    collate = DataCollatorWithPadding(tokenizer)     # a DataLoader's collate_fn
"""
from __future__ import annotations

from ..data.data_collator import (
    DataCollatorForLanguageModeling,
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorMixin,
    DataCollatorWithPadding,
    DefaultDataCollator,
    default_data_collator,
)
from .training_args import (
    HubStrategy,
    IntervalStrategy,
    OptimizerNames,
    SaveStrategy,
    SchedulerType,
    TrainingArguments,
)

__all__ = ["DataCollatorForLanguageModeling", "DataCollatorForSeq2Seq",
           "DataCollatorForTokenClassification", "DataCollatorMixin", "DataCollatorWithPadding",
           "DefaultDataCollator", "HubStrategy", "IntervalStrategy", "OptimizerNames",
           "SaveStrategy", "SchedulerType", "TrainingArguments", "default_data_collator"]
