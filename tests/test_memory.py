"""``ember.utils.memory.keep_freed_memory``: in effect once per process on glibc, switched off by
EMBER_KEEP_FREED_MEMORY=0; the Trainer turns it on."""
from __future__ import annotations

import os
import subprocess
import sys

CODE = ("from ember.utils.memory import keep_freed_memory as k; a = k(); b = k(); "
        "import numpy as np; x = np.ones(50_000_000, np.float32); del x; print(a, b)")


def run(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("EMBER_KEEP_FREED_MEMORY", None)
    if env_value is not None:
        env["EMBER_KEEP_FREED_MEMORY"] = env_value
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_keep_freed_memory_on_glibc_and_off_by_environment():
    assert run(None) == ["True", "True"]  # Linux with glibc here; the second call is a no-op
    assert run("0") == ["False", "False"]


def test_trainer_turns_it_on(monkeypatch, tmp_path):
    from ember.trainer import trainer as trainer_module
    calls = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append(1))
    from test_trainer import gpt2, lm_data, make_collator

    from ember.trainer import Trainer, TrainingArguments
    args = TrainingArguments(str(tmp_path), max_steps=1, save_strategy="no", report_to="none",
                             disable_tqdm=True)
    Trainer(gpt2(), args, train_dataset=lm_data(4), data_collator=make_collator()).train()
    assert calls == [1]
