"""examples/finetune_topics.py: fine-tuning the real all-MiniLM-L6-v2 on CPython's documentation
topics, run in-process with small settings, beats chance by far and is reproducible; the
dataset is stratified, deterministic and free of train/test duplicates. And the fine-tuning
step itself (ember's Trainer on the real checkpoint) matches a plain torch AdamW loop on
transformers' BertForSequenceClassification: same initial head, same batches, dropout off."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from threadpoolctl import threadpool_limits

import ember
from ember.models import BertForSequenceClassification
from ember.trainer import DataCollatorWithPadding, Trainer, TrainingArguments

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMALL = ["--max-per-class", "20", "--max-length", "64", "--epochs", "3", "--lr", "2e-4",
         "--seed", "0"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load("finetune_topics")


@pytest.fixture(autouse=True)
def one_blas_thread():
    # small GEMMs on a busy 2-core runner are several times slower with threaded BLAS
    with threadpool_limits(1):
        yield


def test_dataset_is_stratified_deterministic_and_disjoint(example):
    paragraphs = example.topic_paragraphs()
    assert list(paragraphs) == list(example.TOPICS)
    assert all(len(texts) >= 25 for texts in paragraphs.values())
    texts = [t for ts in paragraphs.values() for t in ts]
    assert len(texts) == len(set(texts))  # no text under two topics, nor twice in one
    assert all(example.is_prose(t) and "\n" not in t for t in texts)
    train, test = example.split_dataset(paragraphs, max_per_class=20, test_fraction=0.3)
    assert not {t for t, _ in train} & {t for t, _ in test}
    assert np.bincount([y for _, y in train]).tolist() == [14] * 6
    assert np.bincount([y for _, y in test]).tolist() == [6] * 6
    assert example.split_dataset(example.topic_paragraphs(), 20, 0.3) == (train, test)
    # a larger cap keeps the test paragraphs of a smaller one (the first in CRC-32 order)
    big_train, big_test = example.split_dataset(paragraphs, max_per_class=40, test_fraction=0.3)
    assert set(test) < set(big_test) and len(big_train) > len(train)
    assert example.is_prose("Return a copy of the string with its first character capitalized "
                            "and the rest lowercased.")
    assert not example.is_prose(">>> 'BANANA'.isupper()\nTrue\n>>> 'banana'.isupper()\nFalse "
                                "and some more words to pass the length test")


def test_finetuning_beats_chance_and_is_deterministic(example, capsys):
    first = example.main(SMALL)
    out = capsys.readouterr().out
    assert "frozen encoder + linear head" in out and "fine-tuned" in out
    assert first["n_train"] == 84 and first["n_test"] == 36
    assert first["chance"] == pytest.approx(1 / 6)
    assert first["finetuned_accuracy"] >= 0.75  # chance is 0.17
    assert first["frozen_accuracy"] >= 0.75
    again = example.main(SMALL + ["--quiet"])
    assert capsys.readouterr().out.count("\n") == 1  # --quiet: the result line only
    for key in ("finetuned_accuracy", "frozen_accuracy", "train_loss", "finetuned_test_loss",
                "predictions"):
        assert again[key] == first[key], key


# ---------------------------------------------------------------------------- HF parity
def test_finetuning_steps_match_transformers_and_torch(example, tmp_path):
    """3 optimizer steps of ember's Trainer (AdamW, weight decay on all but biases and
    LayerNorm, gradient clipping, constant lr) against transformers' model and torch's AdamW
    with the same parameter groups, batches and initial head; dropout off on both sides."""
    path = example.model_path()
    no_dropout = dict(num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    lr, wd, clip, steps, bs = 1e-4, 0.01, 1.0, 3, 4
    train, _ = example.split_dataset(example.topic_paragraphs(), max_per_class=3,
                                     test_fraction=0.34)
    rows = [(t, y % 3) for t, y in train][:steps * bs]
    tokenizer = ember.AutoTokenizer.from_pretrained(path)
    dataset = example.encode(tokenizer, rows, max_length=24)
    collate = DataCollatorWithPadding(tokenizer)

    ember.manual_seed(0)
    ours = BertForSequenceClassification.from_pretrained(path, **no_dropout)
    hf = transformers.BertForSequenceClassification.from_pretrained(path, **no_dropout)
    head = {k: v.numpy().copy() for k, v in ours.state_dict().items()
            if k.startswith("classifier.")}
    with torch.no_grad():
        for name, value in head.items():
            hf.get_parameter(name).copy_(torch.from_numpy(value))

    args = TrainingArguments(str(tmp_path), per_device_train_batch_size=bs, max_steps=steps,
                             learning_rate=lr, weight_decay=wd, max_grad_norm=clip,
                             lr_scheduler_type="constant", train_sampling_strategy="sequential",
                             logging_steps=1, save_strategy="no", report_to="none",
                             disable_tqdm=True)
    trainer = Trainer(ours, args, train_dataset=dataset, data_collator=collate)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]

    decay = set(transformers.Trainer.get_decay_parameter_names(None, hf))
    assert decay == set(trainer.get_decay_parameter_names(ours))
    named = list(hf.named_parameters())
    opt = torch.optim.AdamW([{"params": [p for n, p in named if n in decay], "weight_decay": wd},
                             {"params": [p for n, p in named if n not in decay],
                              "weight_decay": 0.0}], lr=lr)
    hf.train()
    ref_losses, ref_norms = [], []
    for i in range(steps):
        batch = {k: torch.from_numpy(v.numpy().copy())
                 for k, v in collate(dataset[i * bs:(i + 1) * bs]).items()}
        loss = hf(**batch).loss
        opt.zero_grad()
        loss.backward()
        ref_norms.append(float(torch.nn.utils.clip_grad_norm_(hf.parameters(), clip)))
        opt.step()
        ref_losses.append(loss.item())

    assert len(logs) == steps
    np.testing.assert_allclose([h["loss"] for h in logs], ref_losses, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose([h["grad_norm"] for h in logs], ref_norms, rtol=1e-4)
    assert max(ref_norms) > clip  # clipping is active
    assert ref_losses[-1] != ref_losses[0]
    hf_params = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    for name, start in head.items():
        value = ours.state_dict()[name].numpy()
        assert np.abs(value - start).max() > 1e-4  # 3 Adam steps of lr 1e-4 moved it
        np.testing.assert_allclose(value, hf_params[name], atol=1e-5, err_msg=name)
