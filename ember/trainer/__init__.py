"""``ember.trainer``: transformers' training API — ``Trainer``, ``TrainingArguments``,
callbacks and the data collators — with transformers' names, so ``from transformers import ...``
ports by changing the import.

Example::

    from ember.trainer import DataCollatorWithPadding, Trainer, TrainingArguments
    args = TrainingArguments("out", num_train_epochs=1, eval_strategy="epoch")
    trainer = Trainer(model, args, train_dataset=train, eval_dataset=valid,
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
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
from .callbacks import (
    DefaultFlowCallback,
    EarlyStoppingCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
)
from .checkpoint import get_last_checkpoint
from .trainer import (
    EvalPrediction,
    PredictionOutput,
    Trainer,
    TrainOutput,
    set_seed,
)
from .trainer_state import TrainerControl, TrainerState
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
           "DefaultDataCollator", "DefaultFlowCallback", "EarlyStoppingCallback",
           "EvalPrediction", "HubStrategy", "IntervalStrategy", "OptimizerNames",
           "PredictionOutput", "PrinterCallback", "ProgressCallback", "SaveStrategy",
           "SchedulerType", "TrainOutput", "Trainer", "TrainerCallback", "TrainerControl",
           "TrainerState", "TrainingArguments", "default_data_collator", "get_last_checkpoint",
           "set_seed"]
