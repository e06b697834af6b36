"""The example scripts, run in-process with short settings, must reach their real targets:
>= 95% test accuracy on the digits (MLP and CNN), and an LSTM loss that falls by over a nat.
Each run is seeded and must be reproducible."""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_blas_thread():
    # small GEMMs on a busy 2-core runner are several times slower with threaded BLAS
    with threadpool_limits(1):
        yield


def test_digits_mlp_reaches_95_percent_and_is_deterministic(capsys):
    mlp = load("digits_mlp")
    first = mlp.main(["--epochs", "10", "--seed", "0"])
    out = capsys.readouterr().out
    assert "epoch  10" in out and "test accuracy" in out
    assert first["test_accuracy"] >= 0.95
    again = mlp.main(["--epochs", "10", "--seed", "0", "--quiet"])
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["train_loss"] == first["train_loss"]


def test_digits_cnn_reaches_95_percent():
    result = load("digits_cnn").main(["--epochs", "10", "--seed", "0", "--quiet"])
    assert result["test_accuracy"] >= 0.95


def test_char_lstm_loss_falls_by_more_than_a_nat(capsys):
    lstm = load("char_lstm")
    argv = ["--steps", "40", "--hidden", "128", "--seq-len", "32", "--eval-chars", "4000",
            "--sample-chars", "40", "--log-every", "20", "--seed", "0"]
    result = lstm.main(argv)
    out = capsys.readouterr().out
    vocab = int(out.split("vocabulary ")[1].split()[0])
    # an untrained model is near chance; training must take off well over a nat
    assert abs(result["initial_loss"] - math.log(vocab)) < 0.3
    assert result["final_loss"] < result["initial_loss"] - 1.0
    assert result["sample"].startswith("The ") and len(result["sample"]) == 44
    assert "held-out loss" in out and "sample:" in out
    again = lstm.main(argv)
    assert (again["final_loss"], again["sample"]) == (result["final_loss"], result["sample"])


def test_example_runs_as_a_script():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "digits_mlp.py"), "--epochs", "1",
                           "--quiet"], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digits MLP: test accuracy")
