"""``ember.trainer.TrainingArguments`` against ``transformers.TrainingArguments`` 5.x: the same
derived values for a table of argument sets, the same errors for invalid ones, and ember's own
(documented) extra checks, legacy names and CPU-only choices."""
from __future__ import annotations

import dataclasses
import json
import logging
import warnings

import pytest
import torch
import transformers

from ember.optim.lr_scheduler import SCHEDULER_NAMES
from ember.trainer import (
    HubStrategy, IntervalStrategy, OptimizerNames, SaveStrategy, SchedulerType, TrainingArguments,
)


@pytest.fixture(autouse=True)
def _transformers_default_verbosity():
    """transformers derives disable_tqdm from its logger level; other test modules silence it."""
    old = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    yield
    transformers.logging.set_verbosity(old)


HF = transformers.TrainingArguments


def both(**kw):
    """(ours, theirs) for the same keyword arguments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TrainingArguments(**kw), HF(**kw)


VALID = [
    {},
    {"output_dir": "~/runs/x"},
    {"eval_strategy": "steps"},
    {"eval_strategy": "steps", "logging_steps": 20},
    {"eval_strategy": "steps", "eval_steps": 50, "save_steps": 100,
     "load_best_model_at_end": True},
    {"eval_strategy": "epoch", "save_strategy": "epoch", "load_best_model_at_end": True},
    {"eval_strategy": "epoch", "save_strategy": "best", "metric_for_best_model": "accuracy"},
    {"eval_strategy": "steps", "eval_steps": 0.1, "save_steps": 0.2,
     "load_best_model_at_end": True},
    {"eval_strategy": "steps", "eval_steps": 0.1, "save_steps": 0.3,
     "load_best_model_at_end": True},
    {"eval_strategy": "steps", "eval_steps": 25, "save_steps": 75, "logging_steps": 5,
     "load_best_model_at_end": True, "metric_for_best_model": "eval_f1"},
    {"metric_for_best_model": "eval_loss"},
    {"metric_for_best_model": "accuracy", "greater_is_better": False},
    {"eval_strategy": "steps", "logging_steps": 0.05},
    {"logging_strategy": "epoch", "logging_steps": 0},
    {"save_steps": 1000.0, "logging_steps": 10.0},
    {"warmup_steps": 0.1}, {"warmup_steps": 10}, {"warmup_steps": 1.5}, {"warmup_steps": 0.999},
    {"lr_scheduler_type": "cosine", "lr_scheduler_kwargs": '{"num_cycles": "0.25"}'},
    {"lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr": 1e-6}},
    {"include_num_input_tokens_seen": True}, {"include_num_input_tokens_seen": False},
    {"per_device_train_batch_size": 32, "per_device_eval_batch_size": 3},
    {"fp16": True}, {"bf16": True, "use_cpu": True},
    {"do_eval": False, "eval_strategy": "epoch"},
    {"max_steps": 100, "num_train_epochs": 0},
    {"report_to": "none"}, {"report_to": ["none"]}, {"report_to": []},
    {"eval_strategy": IntervalStrategy.STEPS, "save_strategy": SaveStrategy.STEPS,
     "eval_steps": 10, "save_steps": 20, "load_best_model_at_end": True},
    {"optim": "adamw_torch_fused", "weight_decay": 0.01, "adam_beta2": 0.98},
    {"dataloader_num_workers": 2, "dataloader_prefetch_factor": 4},
]


def _warmups(args) -> list[int]:
    return [args.get_warmup_steps(n) for n in (1, 7, 10, 95, 1000)]


@pytest.mark.parametrize("kw", VALID, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_derived_values_match_transformers(kw):
    ours, theirs = both(**kw)
    for name in ("output_dir", "eval_steps", "logging_steps", "save_steps", "do_eval",
                 "metric_for_best_model", "greater_is_better", "warmup_steps",
                 "include_num_input_tokens_seen", "lr_scheduler_kwargs", "mixed_precision",
                 "train_batch_size", "eval_batch_size", "report_to", "dataloader_pin_memory"):
        assert getattr(ours, name) == getattr(theirs, name), name
        assert type(getattr(ours, name)) is type(getattr(theirs, name)), name
    for name in ("eval_strategy", "logging_strategy", "save_strategy", "lr_scheduler_type"):
        assert getattr(ours, name).value == getattr(theirs, name).value, name
    assert _warmups(ours) == _warmups(theirs)
    # what a run records: the same keys' values (see test_to_dict_keys for the key sets)
    d_ours, d_theirs = ours.to_dict(), theirs.to_dict()
    for k in d_ours.keys() & d_theirs.keys() - {"optim", "hub_token"}:
        assert d_ours[k] == d_theirs[k], k


def test_defaults_match_transformers():
    ours, theirs = both()
    assert ours.output_dir == theirs.output_dir == "trainer_output"
    d_ours, d_theirs = ours.to_dict(), theirs.to_dict()
    for k in d_ours.keys() - {"optim", "hub_token"}:
        assert d_ours[k] == d_theirs[k], k
    # transformers picks the fused AdamW on torch >= 2.8; both mean AdamW, ember's is not fused
    assert d_ours["optim"] == "adamw_torch"
    assert d_theirs["optim"] in ("adamw_torch", "adamw_torch_fused")
    assert (ours.seed, ours.data_seed, ours.num_train_epochs, ours.max_steps) == (42, None, 3.0, -1)
    assert (ours.learning_rate, ours.warmup_steps, ours.lr_scheduler_type) == (5e-5, 0, "linear")


def test_to_dict_keys_are_a_subset_of_transformers():
    ours, theirs = both()
    assert set(ours.to_dict()) <= set(theirs.to_dict())
    assert set(ours.to_dict()) >= {
        "output_dir", "do_train", "do_eval", "do_predict", "num_train_epochs", "max_steps",
        "per_device_train_batch_size", "per_device_eval_batch_size",
        "gradient_accumulation_steps", "learning_rate", "weight_decay", "adam_beta1",
        "adam_beta2", "adam_epsilon", "max_grad_norm", "lr_scheduler_type", "lr_scheduler_kwargs",
        "warmup_steps", "logging_strategy", "logging_steps", "logging_first_step",
        "eval_strategy", "eval_steps", "save_strategy", "save_steps", "save_total_limit",
        "load_best_model_at_end", "metric_for_best_model", "greater_is_better", "seed",
        "data_seed", "report_to", "run_name", "dataloader_drop_last", "dataloader_num_workers",
        "disable_tqdm", "remove_unused_columns", "label_names", "bf16", "fp16", "use_cpu",
        "optim", "push_to_hub", "resume_from_checkpoint", "include_num_input_tokens_seen"}


def test_enums_have_transformers_values():
    from transformers import trainer_utils as tu
    from transformers.training_args import OptimizerNames as HFOpt

    for ours, theirs in ((IntervalStrategy, tu.IntervalStrategy), (SaveStrategy, tu.SaveStrategy),
                         (HubStrategy, tu.HubStrategy), (SchedulerType, tu.SchedulerType),
                         (OptimizerNames, HFOpt)):
        assert [m.value for m in ours] == [m.value for m in theirs]
    with pytest.raises(ValueError, match=r"sometimes is not a valid SaveStrategy, please select "
                                         r"one of \['no', 'steps', 'epoch', 'best'\]"):
        SaveStrategy("sometimes")
    # transformers' own enum members are accepted as values
    args = TrainingArguments(eval_strategy=tu.IntervalStrategy.EPOCH,
                             lr_scheduler_type=tu.SchedulerType.COSINE)
    assert args.eval_strategy is IntervalStrategy.EPOCH
    assert args.lr_scheduler_type is SchedulerType.COSINE
    assert args.eval_strategy == "epoch" and args.save_strategy == IntervalStrategy.STEPS


# (kwargs, same message as transformers?)
INVALID = [
    ({"logging_steps": 0}, True),
    ({"eval_strategy": "steps", "logging_steps": 0}, True),
    ({"eval_strategy": "steps", "eval_steps": 2.5}, True),
    ({"save_steps": 2.5}, True),
    ({"logging_steps": 12.5}, True),
    ({"load_best_model_at_end": True}, True),
    ({"load_best_model_at_end": True, "eval_strategy": "epoch", "save_strategy": "steps"}, True),
    ({"load_best_model_at_end": True, "eval_strategy": "steps", "eval_steps": 30,
      "save_steps": 100}, True),
    ({"load_best_model_at_end": True, "eval_strategy": "steps", "eval_steps": 0.1,
      "save_steps": 100}, True),
    ({"load_best_model_at_end": True, "eval_strategy": "steps", "eval_steps": 0.2,
      "save_steps": 0.3}, True),
    ({"warmup_steps": -1}, True),
    ({"warmup_steps": -0.5}, True),
    ({"lr_scheduler_type": "bogus"}, True),
    ({"optim": "adamw_bogus"}, True),
    ({"eval_strategy": "sometimes"}, True),
    ({"save_strategy": "always"}, True),
    ({"logging_strategy": "often"}, True),
    ({"dataloader_prefetch_factor": 2}, True),
    ({"tf32": True}, False),
    ({"fp16": True, "bf16": True, "use_cpu": True}, True),
    ({"fp16_full_eval": True, "bf16_full_eval": True, "use_cpu": True}, True),
]


@pytest.mark.parametrize("kw,same_message", INVALID,
                         ids=[",".join(f"{k}={v}" for k, v in kw.items()) for kw, _ in INVALID])
def test_invalid_sets_raise_in_both(kw, same_message):
    with pytest.raises(ValueError) as theirs:
        HF(**kw)
    with pytest.raises(ValueError) as ours:
        TrainingArguments(**kw)
    if same_message:
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("kw,pattern", [
    ({"learning_rate": -1e-3}, "Invalid learning rate"),
    ({"weight_decay": -0.1}, "Invalid weight_decay"),
    ({"adam_epsilon": -1e-8}, "Invalid epsilon"),
    ({"adam_beta1": 1.0}, "beta parameter at index 0"),
    ({"adam_beta2": -0.1}, "beta parameter at index 1"),
])
def test_optimizer_values_fail_early_where_torch_fails_later(kw, pattern):
    HF(**kw)  # transformers accepts them; the optimizer the Trainer builds rejects them
    name, value = next(iter(kw.items()))
    torch_kw = {"learning_rate": "lr", "weight_decay": "weight_decay", "adam_epsilon": "eps"}
    if name in torch_kw:
        opt_kw = {torch_kw[name]: value}
    else:
        opt_kw = {"betas": (value, 0.999) if name == "adam_beta1" else (0.9, value)}
    with pytest.raises(ValueError, match=pattern):
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)], **opt_kw)
    with pytest.raises(ValueError, match=pattern):
        TrainingArguments(**kw)


@pytest.mark.parametrize("kw,pattern", [
    ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps must be >= 1"),
    ({"per_device_train_batch_size": 0}, "per_device_train_batch_size must be >= 1"),
    ({"per_device_eval_batch_size": -1}, "per_device_eval_batch_size must be >= 1"),
    ({"max_steps": 0}, "max_steps=0 trains for no steps"),
    ({"num_train_epochs": -1}, "num_train_epochs must be >= 0"),
    ({"eval_strategy": "steps", "eval_steps": -5}, "eval_steps must be positive"),
    ({"save_steps": 0}, "save_steps must be positive"),
    ({"save_strategy": "best"}, "metric_for_best_model` must be provided"),
    ({"include_num_input_tokens_seen": "some"}, "include_num_input_tokens_seen must be one of"),
    ({"log_level": "loud"}, "log_level must be one of"),
    ({"train_sampling_strategy": "shuffled"}, "train_sampling_strategy must be one of"),
    ({"report_to": "wandb"}, r"report_to=\['wandb'\]: ember has no such reporting"),
    ({"eval_accumulation_steps": 0}, "eval_accumulation_steps must be >= 1"),
])
def test_ember_rejects_what_transformers_only_fails_on_later(kw, pattern):
    """transformers accepts these at construction (and then fails in the Trainer or silently
    does nothing); ember names the problem up front."""
    with pytest.raises(ValueError, match=pattern):
        TrainingArguments(**kw)


@pytest.mark.parametrize("kw,pattern", [
    ({"optim": "sgd"}, r"optim='sgd' is not implemented in ember; available: \['adamw_torch'"),
    ({"optim": "adafactor"}, "not implemented in ember"),
    ({"lr_scheduler_type": "reduce_lr_on_plateau", "eval_strategy": "epoch"},
     "lr_scheduler_type='reduce_lr_on_plateau' is not implemented in ember"),
    ({"lr_scheduler_type": "warmup_stable_decay"}, "not implemented in ember"),
    ({"push_to_hub": True}, "no Hugging Face Hub client"),
    ({"torch_compile": True}, "ember has no compiler"),
    ({"gradient_checkpointing": True}, "gradient_checkpointing=True"),
    ({"activation_checkpointing": True}, "activation_checkpointing=True"),
    ({"train_sampling_strategy": "group_by_length"}, "not implemented in ember"),
])
def test_transformers_features_ember_lacks_raise_not_implemented(kw, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HF(**kw)  # valid in transformers
    with pytest.raises(NotImplementedError, match=pattern):
        TrainingArguments(**kw)


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_ember_schedule_is_accepted(name):
    ours, theirs = both(lr_scheduler_type=name)
    assert ours.lr_scheduler_type.value == theirs.lr_scheduler_type.value == name


def test_unknown_arguments_are_a_type_error_naming_them():
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rat'"):
        TrainingArguments(learning_rat=1e-3)


def test_legacy_names_warn_and_map_where_transformers5_raises():
    cases = {"evaluation_strategy": "steps", "warmup_ratio": 0.1, "no_cuda": True,
             "overwrite_output_dir": True, "logging_dir": "logs"}
    for name, value in cases.items():
        with pytest.raises(TypeError, match=name):
            HF(**{name: value})
        with pytest.warns(FutureWarning, match=f"`{name}` was removed in transformers 5") as rec:
            TrainingArguments(**{name: value})
        assert rec[0].filename == __file__  # points at the caller
    with pytest.warns(FutureWarning):
        args = TrainingArguments(evaluation_strategy="steps", logging_steps=40,
                                 warmup_ratio=0.06, no_cuda=True)
    ref = HF(eval_strategy="steps", logging_steps=40, warmup_steps=0.06, use_cpu=True)
    assert args.eval_strategy == ref.eval_strategy and args.eval_steps == ref.eval_steps == 40
    assert args.do_eval and args.use_cpu and args.warmup_steps == 0.06
    assert _warmups(args) == _warmups(ref)
    assert "evaluation_strategy" not in args.to_dict() and "warmup_ratio" not in args.to_dict()
    with pytest.warns(FutureWarning):  # agreeing spellings are fine
        TrainingArguments(evaluation_strategy="epoch", eval_strategy="epoch")


@pytest.mark.parametrize("kw,pattern", [
    ({"evaluation_strategy": "steps", "eval_strategy": "epoch"}, "contradicts"),
    ({"warmup_ratio": 0.1, "warmup_steps": 100}, "both warmup_steps=100 and warmup_ratio=0.1"),
    ({"warmup_ratio": 1.0}, r"warmup_ratio must lie in \[0, 1\)"),
    ({"warmup_ratio": -0.1}, r"warmup_ratio must lie in \[0, 1\)"),
])
def test_contradictory_legacy_names_raise(kw, pattern):
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=pattern):
        TrainingArguments(**kw)


def test_half_precision_is_accepted_recorded_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="ember.trainer"):
        args = TrainingArguments(fp16=True)
    assert args.mixed_precision == "fp16" and args.fp16
    assert "run in float32" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ember.trainer"):
        assert TrainingArguments(bf16=True).mixed_precision == "bf16"  # no use_cpu needed
        assert TrainingArguments().mixed_precision == "no"
    assert caplog.text.count("float32") == 1


def test_json_round_trip_and_serialization():
    args = TrainingArguments("out", eval_strategy="steps", eval_steps=10, save_steps=20,
                             load_best_model_at_end=True, lr_scheduler_kwargs='{"power": "2"}',
                             lr_scheduler_type="polynomial", label_names=["labels"],
                             hub_token="secret", warmup_steps=0.1)
    assert args.lr_scheduler_kwargs == {"power": 2}
    text = args.to_json_string()
    d = json.loads(text)
    assert d["hub_token"] == "<HUB_TOKEN>" and "secret" not in text and "secret" not in str(args)
    assert d["eval_strategy"] == "steps" and d["lr_scheduler_type"] == "polynomial"
    assert d["report_to"] == [] and d["metric_for_best_model"] == "loss"
    d["hub_token"] = "secret"
    assert TrainingArguments(**d) == args
    plain = TrainingArguments()
    assert TrainingArguments(**json.loads(plain.to_json_string())) == plain
    assert dataclasses.replace(plain, learning_rate=1e-3).learning_rate == 1e-3
    sanitized = args.to_sanitized_dict()
    assert sanitized["train_batch_size"] == 8
    assert all(type(v) in (bool, int, float, str) for v in sanitized.values())
    assert str(args).startswith("TrainingArguments(\nactivation_checkpointing=False,\n")


def test_single_process_cpu_properties():
    args = TrainingArguments(per_device_train_batch_size=4, per_device_eval_batch_size=16,
                             use_cpu=True)
    assert (args.train_batch_size, args.eval_batch_size) == (4, 16)
    assert str(args.device) == "cpu" and args.n_gpu == 0 and args.world_size == 1
    assert args.process_index == 0 and args.should_log and args.should_save
    assert args.dataloader_pin_memory is False  # as transformers with use_cpu
    with args.main_process_first(desc="tokenize"):
        pass


def test_report_to_all_resolves_to_ember_integrations():
    from ember.trainer.integrations import get_available_reporting_integrations
    assert TrainingArguments(report_to="all").report_to == get_available_reporting_integrations()
    assert TrainingArguments(report_to=None).report_to == []
