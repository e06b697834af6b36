"""``ember.trainer.Trainer``: parity with ``transformers.Trainer`` (same initial weights, data
and order: both sides use ``train_sampling_strategy="sequential"``, dropout 0), gradient
accumulation, checkpoint/resume (bit-identical), crash safety, rotation, best model, callbacks,
evaluate/predict and errors. Tiny GPT-2 / BERT models built from configs; data are random token
ids as lists of dicts."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import ember
from ember.models import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
)
from ember.models.safetensors_io import load_checkpoint, load_file, load_metadata
from ember.trainer import (
    EarlyStoppingCallback,
    EvalPrediction,
    Trainer,
    TrainerCallback,
    TrainerState,
    TrainingArguments,
    get_last_checkpoint,
)
from ember.trainer import trainer as trainer_module

VOCAB = 99
GPT2_KW = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=32,
               bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
BERT_KW = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=37, max_position_embeddings=32, num_labels=3)
NO_DROPOUT_GPT2 = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
NO_DROPOUT_BERT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


# ---------------------------------------------------------------------------- data
def lm_data(n: int, seed: int = 0, lo: int = 3, hi: int = 13) -> list[dict]:
    """Random token sequences of random length (so padding and token counts vary)."""
    r = np.random.default_rng(seed)
    return [{"input_ids": r.integers(0, VOCAB - 1, r.integers(lo, hi)).tolist()}
            for _ in range(n)]


def cls_data(n: int, seed: int = 0) -> list[dict]:
    r = np.random.default_rng(seed)
    return [{"input_ids": r.integers(1, VOCAB, r.integers(3, 10)).tolist(),
             "label": int(r.integers(0, 3))} for _ in range(n)]


def make_collator(to_tensor=ember.from_numpy):
    """Right-pads input_ids (0) and attention_mask; LM labels are the ids with -100 on
    padding; a 'label' column becomes 'labels'."""
    def collate(features):
        width = max(len(f["input_ids"]) for f in features)
        n = len(features)
        ids = np.zeros((n, width), np.int64)
        mask = np.zeros((n, width), np.int64)
        for i, f in enumerate(features):
            ids[i, :len(f["input_ids"])] = f["input_ids"]
            mask[i, :len(f["input_ids"])] = 1
        batch = {"input_ids": to_tensor(ids), "attention_mask": to_tensor(mask)}
        if "label" in features[0]:
            batch["labels"] = to_tensor(np.array([f["label"] for f in features], np.int64))
        else:
            batch["labels"] = to_tensor(np.where(mask == 1, ids, -100))
        return batch
    return collate


def gpt2(seed: int = 0, dropout: bool = False, **kw) -> GPT2LMHeadModel:
    ember.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(**GPT2_KW, **({} if dropout else NO_DROPOUT_GPT2), **kw))


def params(model) -> dict[str, np.ndarray]:
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}


def losses(trainer) -> list[float]:
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def args(out, **kw) -> TrainingArguments:
    base = dict(per_device_train_batch_size=4, learning_rate=3e-3, logging_steps=1,
                save_strategy="no", disable_tqdm=True, report_to="none")
    return TrainingArguments(str(out), **{**base, **kw})


# ---------------------------------------------------------------------------- HF parity
def _hf_parity(tmp_path, hf_model, ember_cls, train, common):
    import torch
    import transformers

    hf_model.save_pretrained(tmp_path / "init")
    ours = ember_cls.from_pretrained(tmp_path / "init")
    hf_args = transformers.TrainingArguments(str(tmp_path / "hf"), optim="adamw_torch",
                                             use_cpu=True, dataloader_pin_memory=False,
                                             **common)
    hf_trainer = transformers.Trainer(model=hf_model, args=hf_args, train_dataset=train,
                                      data_collator=make_collator(torch.from_numpy))
    hf_trainer.train()
    em_trainer = Trainer(ours, TrainingArguments(str(tmp_path / "em"), **common),
                         train_dataset=train, data_collator=make_collator())
    em_trainer.train()
    hf_logs = [h for h in hf_trainer.state.log_history if "loss" in h]
    em_logs = [h for h in em_trainer.state.log_history if "loss" in h]
    assert len(hf_logs) == len(em_logs) == common["max_steps"]
    for h, e in zip(hf_logs, em_logs):
        assert e["step"] == h["step"]
        assert e["loss"] == pytest.approx(h["loss"], abs=1e-5)
        assert e["learning_rate"] == pytest.approx(h["learning_rate"], rel=1e-12, abs=1e-15)
        assert e["grad_norm"] == pytest.approx(h["grad_norm"], rel=1e-5)
        assert e["epoch"] == pytest.approx(h["epoch"])
    assert any(h["grad_norm"] > common["max_grad_norm"] for h in hf_logs)  # clipping is active
    hf_params = {k: v.detach().numpy() for k, v in hf_model.state_dict().items()}
    for k, v in params(ours).items():
        np.testing.assert_allclose(v, hf_params[k], atol=2e-5, err_msg=k)
    # same decay grouping: weights decayed; biases and LayerNorm weights not
    assert [len(g["params"]) for g in em_trainer.optimizer.param_groups] == \
        [len(g["params"]) for g in hf_trainer.optimizer.param_groups]
    assert [g["weight_decay"] for g in em_trainer.optimizer.param_groups] == \
        [g["weight_decay"] for g in hf_trainer.optimizer.param_groups]


@pytest.mark.parametrize("schedule, ga", [("linear", 1), ("cosine", 2),
                                          ("constant_with_warmup", 2)])
def test_gpt2_matches_transformers_trainer(tmp_path, schedule, ga):
    import torch
    import transformers
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2_KW, **NO_DROPOUT_GPT2))
    # transformers 5.25 counts num_items_in_batch over labels[..., 1:] only when the model's
    # `loss_type` maps to ForCausalLMLoss, and GPT2LMHeadModel's class name leaves it None (the
    # count then includes position 0, which the loss never predicts). Setting it makes HF
    # compute the exact token-weighted mean, which is what ember computes.
    hf.loss_type = "ForCausalLM"
    common = dict(per_device_train_batch_size=4, gradient_accumulation_steps=ga, max_steps=10,
                  logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                  learning_rate=3e-3, weight_decay=0.1, max_grad_norm=0.3,
                  lr_scheduler_type=schedule, warmup_steps=3,
                  train_sampling_strategy="sequential", seed=7)
    _hf_parity(tmp_path, hf, GPT2LMHeadModel, lm_data(40 * ga), common)


def test_bert_classifier_matches_transformers_trainer(tmp_path):
    import torch
    import transformers
    torch.manual_seed(0)
    hf = transformers.BertForSequenceClassification(
        transformers.BertConfig(**BERT_KW, **NO_DROPOUT_BERT))
    common = dict(per_device_train_batch_size=4, max_steps=10, logging_steps=1,
                  save_strategy="no", report_to="none", disable_tqdm=True, learning_rate=3e-3,
                  weight_decay=0.05, max_grad_norm=0.5, lr_scheduler_type="linear",
                  warmup_steps=0.2, train_sampling_strategy="sequential", seed=3)
    _hf_parity(tmp_path, hf, BertForSequenceClassification, cls_data(40), common)


# ---------------------------------------------------------------------------- accumulation
def _run_lm(tmp_path, name, bs, ga, dtype64=False, trainer_cls=Trainer, steps=6):
    model = gpt2()
    if dtype64:
        model = model.double()  # float64: exact enough that Adam's sign(g) is stable
    trainer = trainer_cls(model, args(tmp_path / name, per_device_train_batch_size=bs,
                                      gradient_accumulation_steps=ga, max_steps=steps,
                                      weight_decay=0.1, max_grad_norm=0.5,
                                      train_sampling_strategy="sequential"),
                          train_dataset=lm_data(48), data_collator=make_collator())
    trainer.train()
    return losses(trainer), params(model)


def test_gradient_accumulation_is_token_weighted(tmp_path):
    # 4 micro-batches of 2 == one batch of 8, although each micro-batch is padded to its own
    # length and holds a different number of label tokens
    full_loss, full = _run_lm(tmp_path, "full", 8, 1, dtype64=True)
    acc_loss, acc = _run_lm(tmp_path, "acc", 2, 4, dtype64=True)
    np.testing.assert_allclose(acc_loss, full_loss, rtol=1e-6)
    for k in full:
        np.testing.assert_allclose(acc[k], full[k], rtol=1e-6, atol=1e-12, err_msg=k)
    # float32 too, on the loss curve
    f32_full, _ = _run_lm(tmp_path, "f32full", 8, 1)
    f32_acc, _ = _run_lm(tmp_path, "f32acc", 2, 4)
    np.testing.assert_allclose(f32_acc, f32_full, rtol=1e-6)

    # the weighting matters here: averaging the micro-batch means gives another curve
    class MeanOfMeans(Trainer):
        def _introspect_model(self):
            super()._introspect_model()
            self._token_loss = None

    naive_loss, _ = _run_lm(tmp_path, "naive", 2, 4, dtype64=True, trainer_cls=MeanOfMeans)
    assert np.max(np.abs(np.array(naive_loss) - full_loss)) > 1e-3


def test_accumulation_with_partial_last_step_and_epochs(tmp_path):
    # 10 batches per epoch, GA 4: steps of 4, 4, 2 batches; 2 epochs = 6 optimizer steps
    trainer = Trainer(gpt2(), args(tmp_path, per_device_train_batch_size=2,
                                   gradient_accumulation_steps=4, num_train_epochs=2),
                      train_dataset=lm_data(20), data_collator=make_collator())
    out = trainer.train()
    assert out.global_step == 6 == trainer.state.max_steps
    assert [round(h["epoch"], 4) for h in trainer.state.log_history if "loss" in h] == \
        [0.4, 0.8, 1.0, 1.4, 1.8, 2.0]
    assert out.metrics["epoch"] == 2.0 and np.isfinite(out.training_loss)


# ---------------------------------------------------------------------------- resume
class StopAt(TrainerCallback):
    def __init__(self, step: int, crash: bool = False):
        self.step, self.crash = step, crash

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            if self.crash:  # after the step, before its save: as if the process died
                raise KeyboardInterrupt
            control.should_training_stop = True
            control.should_save = True


def _resume_args(out, **kw):
    # shuffled data (seeded sampler), dropout (RNG), GA with a partial last step, clipping,
    # weight decay, a decaying schedule across 2 epochs
    return args(out, **{**dict(per_device_train_batch_size=2, gradient_accumulation_steps=2,
                               num_train_epochs=2, weight_decay=0.1, max_grad_norm=0.5,
                               warmup_steps=2, save_strategy="steps", save_steps=100,
                               logging_steps=2), **kw})


@pytest.mark.parametrize("stop", [3, 6])  # mid-epoch (batches to skip) and an epoch boundary
def test_resume_is_bit_identical(tmp_path, stop):
    data = lm_data(22)  # 11 batches: 6 optimizer steps per epoch (last one has 1 batch)
    ref_model = gpt2(dropout=True)
    Trainer(ref_model, _resume_args(tmp_path / "ref"), train_dataset=data,
            data_collator=make_collator()).train()
    reference = params(ref_model)

    first = Trainer(gpt2(dropout=True), _resume_args(tmp_path / "run"), train_dataset=data,
                    data_collator=make_collator(), callbacks=[StopAt(stop)])
    first.train()
    assert first.state.global_step == stop
    assert get_last_checkpoint(str(tmp_path / "run")).endswith(f"checkpoint-{stop}")

    model = gpt2(seed=123, dropout=True)  # other initial weights: all comes from the checkpoint
    second = Trainer(model, _resume_args(tmp_path / "run"), train_dataset=data,
                     data_collator=make_collator())
    out = second.train(resume_from_checkpoint=True)
    assert out.global_step == 12
    for k, v in reference.items():
        assert np.array_equal(params(model)[k], v), k


def test_resume_after_crash_and_crash_while_saving(tmp_path, monkeypatch):
    data = lm_data(22)
    ref_model = gpt2(dropout=True)
    Trainer(ref_model, _resume_args(tmp_path / "ref"), train_dataset=data,
            data_collator=make_collator()).train()

    # 1) crash while writing checkpoint-4: checkpoint-2 stays, no checkpoint-4, no temp folder
    real = trainer_module.save_optimizer_state
    calls = []

    def failing(optimizer, path):
        calls.append(path)
        if len(calls) == 2:
            real(optimizer, path)  # half the files are there when it dies
            raise OSError("disk full")
        real(optimizer, path)

    monkeypatch.setattr(trainer_module, "save_optimizer_state", failing)
    out = tmp_path / "run"
    run_args = _resume_args(out, save_steps=2)
    with pytest.raises(OSError, match="disk full"):
        Trainer(gpt2(dropout=True), run_args, train_dataset=data,
                data_collator=make_collator()).train()
    monkeypatch.setattr(trainer_module, "save_optimizer_state", real)
    assert sorted(os.listdir(out)) == ["checkpoint-2"]
    assert get_last_checkpoint(str(out)).endswith("checkpoint-2")

    # 2) debris of a killed save (temp folder) and a hand-copied partial folder are ignored
    os.makedirs(out / ".tmp-checkpoint-4-0badc0de")
    (out / ".tmp-checkpoint-4-0badc0de" / "model.safetensors").write_bytes(b"partial")
    os.makedirs(out / "checkpoint-9")  # no trainer_state.json: not complete
    assert get_last_checkpoint(str(out)).endswith("checkpoint-2")
    os.rmdir(out / "checkpoint-9")

    # 3) resume from checkpoint-2, crash (KeyboardInterrupt) after step 5, resume again
    model = gpt2(seed=5, dropout=True)
    with pytest.raises(KeyboardInterrupt):
        Trainer(model, run_args, train_dataset=data, data_collator=make_collator(),
                callbacks=[StopAt(5, crash=True)]).train(resume_from_checkpoint=True)
    assert not (out / ".tmp-checkpoint-4-0badc0de").exists()  # cleaned by the next save
    assert get_last_checkpoint(str(out)).endswith("checkpoint-4")
    model = gpt2(seed=6, dropout=True)
    Trainer(model, run_args, train_dataset=data, data_collator=make_collator()).train(
        resume_from_checkpoint=str(out / "checkpoint-4"))
    for k, v in params(ref_model).items():
        assert np.array_equal(params(model)[k], v), k


def test_checkpoint_contents(tmp_path):
    trainer = Trainer(gpt2(), args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2,
                                   weight_decay=0.1),
                      train_dataset=lm_data(8), data_collator=make_collator())
    trainer.train()
    ckpt = tmp_path / "checkpoint-2"
    assert sorted(os.listdir(ckpt)) == sorted([
        "config.json", "generation_config.json", "model.safetensors", "optimizer.safetensors",
        "rng_state.json", "scheduler.json", "trainer_state.json", "training_args.json"])
    state = json.loads((ckpt / "trainer_state.json").read_text())
    for key in ("global_step", "epoch", "log_history", "best_metric", "best_model_checkpoint",
                "max_steps", "num_train_epochs", "logging_steps", "eval_steps", "save_steps",
                "train_batch_size", "trial_name", "stateful_callbacks", "total_flos"):
        assert key in state
    assert state["global_step"] == 2 and state["max_steps"] == 2
    assert TrainerState.load_from_json(str(ckpt / "trainer_state.json")).global_step == 2
    # optimizer: plain safetensors, exp_avg/exp_avg_sq/step per parameter index
    opt = load_file(ckpt / "optimizer.safetensors")
    sd = trainer.optimizer.state_dict()
    assert len(opt) == 3 * len(sd["state"])
    for i, st in sd["state"].items():
        np.testing.assert_array_equal(opt[f"state.{i}.exp_avg"], st["exp_avg"].numpy())
        assert opt[f"state.{i}.step"].shape == () and float(opt[f"state.{i}.step"]) == 2
    groups = json.loads(load_metadata(ckpt / "optimizer.safetensors")["param_groups"])
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert json.loads((ckpt / "training_args.json").read_text())["max_steps"] == 2
    saved = load_checkpoint(ckpt)
    for k, v in params(trainer.model).items():
        if k in saved:
            np.testing.assert_array_equal(saved[k], v)


def test_save_total_limit_rotation(tmp_path):
    trainer = Trainer(gpt2(), args(tmp_path, max_steps=5, save_strategy="steps", save_steps=1,
                                   save_total_limit=2),
                      train_dataset=lm_data(20), data_collator=make_collator())
    trainer.train()
    assert sorted(d for d in os.listdir(tmp_path) if d.startswith("checkpoint")) == \
        ["checkpoint-4", "checkpoint-5"]


def test_load_best_model_at_end_keeps_and_restores_best(tmp_path):
    scores = iter([0.1, 0.9, 0.3, 0.2, 0.25])

    def metric(pred: EvalPrediction) -> dict:
        assert pred.predictions.shape[0] == pred.label_ids.shape[0] == 4
        return {"score": next(scores)}

    trainer = Trainer(gpt2(), args(tmp_path, max_steps=5, eval_strategy="steps", eval_steps=1,
                                   save_strategy="steps", save_steps=1, save_total_limit=1,
                                   load_best_model_at_end=True, metric_for_best_model="score",
                                   per_device_eval_batch_size=3),
                      train_dataset=lm_data(20), eval_dataset=lm_data(4, seed=1),
                      data_collator=make_collator(), compute_metrics=metric)
    trainer.train()
    assert trainer.state.best_metric == 0.9
    assert trainer.state.best_model_checkpoint == str(tmp_path / "checkpoint-2")
    # training over: only the best survives save_total_limit=1, and it is the loaded model
    assert sorted(d for d in os.listdir(tmp_path) if d.startswith("checkpoint")) == \
        ["checkpoint-2"]
    best = load_checkpoint(tmp_path / "checkpoint-2")
    for k, v in params(trainer.model).items():
        if k in best:
            np.testing.assert_array_equal(v, best[k])


# ---------------------------------------------------------------------------- evaluate/predict
def _bert(seed=0):
    ember.manual_seed(seed)
    return BertForSequenceClassification(BertConfig(**BERT_KW, **NO_DROPOUT_BERT))


def test_evaluate_predict_and_metrics(tmp_path):
    def accuracy(p: EvalPrediction) -> dict:
        return {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())}

    trainer = Trainer(_bert(), args(tmp_path, max_steps=2, per_device_eval_batch_size=4),
                      train_dataset=cls_data(16), eval_dataset=cls_data(10, seed=1),
                      data_collator=make_collator(), compute_metrics=accuracy)
    metrics = trainer.evaluate()
    assert set(metrics) == {"eval_loss", "eval_accuracy", "eval_runtime",
                            "eval_samples_per_second", "eval_steps_per_second", "epoch"}
    assert 0 <= metrics["eval_accuracy"] <= 1 and np.isfinite(metrics["eval_loss"])
    # eval_loss is the mean of the per-batch losses (transformers' definition)
    batches = [cls_data(10, seed=1)[i:i + 4] for i in (0, 4, 8)]
    with ember.no_grad():
        trainer.model.eval()
        expected = np.mean([trainer.model(**make_collator()(b)).loss.item() for b in batches])
    assert metrics["eval_loss"] == pytest.approx(expected, rel=1e-6)

    pred = trainer.predict(cls_data(10, seed=1))
    assert pred.predictions.shape == (10, 3) and pred.label_ids.shape == (10,)
    assert set(pred.metrics) >= {"test_loss", "test_accuracy", "test_runtime"}
    assert pred.metrics["test_accuracy"] == metrics["eval_accuracy"]

    # dict of eval sets: prefixed per name
    both = trainer.evaluate({"a": cls_data(4, seed=2), "b": cls_data(5, seed=3)})
    assert "eval_a_loss" in both and "eval_b_accuracy" in both
    trainer.train()
    assert trainer.evaluate()["epoch"] == trainer.state.epoch


def test_predict_pads_variable_length_batches_with_minus_100(tmp_path):
    data = [{"input_ids": list(range(1, n + 1))} for n in (3, 3, 7, 7, 5)]
    trainer = Trainer(gpt2(), args(tmp_path, per_device_eval_batch_size=2),
                      data_collator=make_collator())
    out = trainer.predict(data)
    assert out.predictions.shape == (5, 7, VOCAB) and out.label_ids.shape == (5, 7)
    assert np.all(out.predictions[:2, 3:] == -100) and np.all(out.label_ids[:2, 3:] == -100)
    assert np.all(out.predictions[4, 5:] == -100) and not np.any(out.predictions[2:4] == -100)


# ---------------------------------------------------------------------------- callbacks
def test_early_stopping_callback_stops(tmp_path):
    scores = iter([0.5, 0.4, 0.45, 0.3, 0.9, 0.9])
    trainer = Trainer(gpt2(), args(tmp_path, max_steps=6, eval_strategy="steps", eval_steps=1,
                                   metric_for_best_model="score", greater_is_better=True),
                      train_dataset=lm_data(24), eval_dataset=lm_data(2, seed=1),
                      data_collator=make_collator(),
                      compute_metrics=lambda p: {"score": next(scores)},
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=2)])
    trainer.train()
    assert trainer.state.global_step == 3  # no improvement at evaluations 2 and 3
    assert trainer.state.best_metric == 0.5


def test_callback_events_and_control(tmp_path):
    seen = []

    class Recorder(TrainerCallback):
        def __getattribute__(self, name):
            if name.startswith("on_"):
                seen.append(name)
            return object.__getattribute__(self, name)

    trainer = Trainer(gpt2(), args(tmp_path, max_steps=2, gradient_accumulation_steps=2,
                                   per_device_train_batch_size=2, eval_strategy="steps",
                                   eval_steps=2),
                      train_dataset=lm_data(8), eval_dataset=lm_data(2), callbacks=[Recorder],
                      data_collator=make_collator())
    trainer.train()
    for event in ("on_init_end", "on_train_begin", "on_epoch_begin", "on_step_begin",
                  "on_substep_end", "on_pre_optimizer_step", "on_optimizer_step", "on_step_end",
                  "on_log", "on_evaluate", "on_prediction_step", "on_epoch_end",
                  "on_train_end"):
        assert event in seen, event
    assert seen.count("on_step_begin") == 2 and seen.count("on_substep_end") == 2
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert [h["step"] for h in logs] == [1, 2]
    assert set(logs[0]) == {"loss", "grad_norm", "learning_rate", "epoch", "step"}


# ---------------------------------------------------------------------------- data handling
class RowsDataset:
    """A datasets.Dataset-like object: __len__ and __getitem__ returning dicts."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return dict(self.rows[i])


def test_unknown_columns_are_dropped_and_dataset_kinds(tmp_path):
    rows = [{**r, "idx": i, "text": "some words"} for i, r in enumerate(lm_data(8))]
    seen_keys = set()
    collate = make_collator()

    def recording(features):
        seen_keys.update(*[f.keys() for f in features])
        return collate(features)

    for dataset in (rows, RowsDataset(rows), ember.data.Subset(RowsDataset(rows), range(8))):
        trainer = Trainer(gpt2(), args(tmp_path, max_steps=1), train_dataset=dataset,
                          data_collator=recording)
        trainer.train()
    assert seen_keys == {"input_ids"}
    # remove_unused_columns=False hands the model what it cannot take
    trainer = Trainer(gpt2(), args(tmp_path, max_steps=1, remove_unused_columns=False),
                      train_dataset=[{"input_ids": [1, 2, 3], "junk": 1}] * 4)
    with pytest.raises(TypeError):
        trainer.train()
    # no column the model accepts
    trainer = Trainer(gpt2(), args(tmp_path, max_steps=1), train_dataset=[{"text": "a"}] * 4)
    with pytest.raises(ValueError, match="No columns in the dataset match"):
        trainer.train()


def test_hf_datasets_dataset_trains_like_a_list_of_dicts(tmp_path):
    """A real ``datasets.Dataset`` (plain and numpy-formatted, extra columns dropped) gives the
    same losses and eval loss as the same rows as a list of dicts."""
    import datasets

    rows = [{**r, "idx": i, "text": "some words"} for i, r in enumerate(lm_data(12))]
    results = []
    for train in (rows, datasets.Dataset.from_list(rows),
                  datasets.Dataset.from_list(rows).with_format("numpy")):
        trainer = Trainer(gpt2(), args(tmp_path, max_steps=3, logging_steps=1),
                          train_dataset=train, eval_dataset=train, data_collator=make_collator())
        trainer.train()
        results.append(([h["loss"] for h in trainer.state.log_history if "loss" in h],
                        trainer.evaluate()["eval_loss"]))
    assert results[0] == results[1] == results[2]


def test_shuffling_is_seeded_and_per_epoch(tmp_path):
    orders = []

    def recording(features):
        orders.append(tuple(f["input_ids"][0] for f in features))
        return make_collator()(features)

    data = [{"input_ids": [i, i]} for i in range(8)]
    for seed in (1, 1, 2):
        Trainer(gpt2(), args(tmp_path, per_device_train_batch_size=8, num_train_epochs=2,
                             seed=seed), train_dataset=data, data_collator=recording).train()
    assert orders[0] == orders[2] and orders[0] != orders[1]  # epochs differ, seeds replay
    assert orders[0] != orders[4]
    assert sorted(orders[0]) == list(range(8))


def test_drop_last_and_model_init_seeding(tmp_path):
    trainer = Trainer(gpt2(), args(tmp_path, per_device_train_batch_size=4, num_train_epochs=1,
                                   dataloader_drop_last=True),
                      train_dataset=lm_data(10), data_collator=make_collator())
    assert trainer.train().global_step == 2
    inits = []
    for _ in range(2):
        trainer = Trainer(model_init=lambda: GPT2LMHeadModel(GPT2Config(**GPT2_KW)),
                          args=args(tmp_path, max_steps=1, seed=11),
                          train_dataset=lm_data(4), data_collator=make_collator())
        inits.append(params(trainer.model))
    for k in inits[0]:
        assert np.array_equal(inits[0][k], inits[1][k])


# ---------------------------------------------------------------------------- errors
def test_clear_errors(tmp_path):
    with pytest.raises(RuntimeError, match="requires either a `model` or `model_init`"):
        Trainer(args=args(tmp_path))
    with pytest.raises(ValueError, match="but not both"):
        Trainer(gpt2(), args(tmp_path), model_init=gpt2)
    with pytest.raises(ValueError, match="training requires a train_dataset"):
        Trainer(gpt2(), args(tmp_path)).train()
    with pytest.raises(ValueError, match="evaluation requires an eval_dataset"):
        Trainer(gpt2(), args(tmp_path)).evaluate()
    with pytest.raises(ValueError, match="No valid checkpoint found"):
        Trainer(gpt2(), args(tmp_path / "empty"), train_dataset=lm_data(4),
                data_collator=make_collator()).train(resume_from_checkpoint=True)

    def no_labels(features):
        batch = make_collator()(features)
        del batch["labels"]
        return batch

    trainer = Trainer(gpt2(), args(tmp_path, max_steps=1), train_dataset=lm_data(4),
                      data_collator=no_labels)
    with pytest.raises(ValueError, match="did not return a loss.*no `labels`"):
        trainer.train()
    from ember.models import GPT2Model

    with pytest.raises(ValueError, match="cannot be used as is for training"):
        Trainer(GPT2Model(GPT2Config(**GPT2_KW)), args(tmp_path))
    with pytest.raises(RuntimeError, match="model_init"):
        Trainer(gpt2(), args(tmp_path)).hyperparameter_search()
