"""Reporting integrations, the loss plot, FLOPs/energy accounting and hyper-parameter search of
``ember.trainer``: TensorBoard event files read back with an independent TFRecord reader (CRC32C
checked), MLflow runs read back through ``MlflowClient``, the PNG checked byte by byte, the FLOPs
formula against ``transformers``' ``floating_point_ops``, the RAPL reader on a fake sysfs tree,
and Optuna searches (in one process, and two processes sharing a SQLite study).

tensorboardX, mlflow-skinny and optuna are in the test extra."""
from __future__ import annotations

import glob
import json
import os
import re
import socket
import struct
import subprocess
import sys
import textwrap
import types
import zlib

import numpy as np
import pytest

import ember
from ember.models import GPT2Config, GPT2LMHeadModel
from ember.trainer import Trainer, TrainerCallback, TrainingArguments
from ember.trainer.flops import (
    EnergyMeter,
    RaplDomain,
    count_tokens,
    find_rapl_domains,
    floating_point_ops,
    format_train_summary,
    non_embedding_parameters,
)
from ember.trainer.integrations import (
    get_available_reporting_integrations,
    plot_loss,
    render_loss_chart,
    rewrite_logs,
    write_png,
)

VOCAB = 53
GPT2_KW = dict(vocab_size=VOCAB, n_embd=16, n_layer=2, n_head=2, n_positions=16,
               resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
SEQ = 8


def gpt2(seed: int = 0) -> GPT2LMHeadModel:
    ember.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(**GPT2_KW))


def lm_data(n: int, seed: int = 0) -> list[dict]:
    r = np.random.default_rng(seed)
    return [{"input_ids": r.integers(0, VOCAB, SEQ).tolist()} for _ in range(n)]


def collate(features: list[dict]) -> dict:
    ids = np.array([f["input_ids"] for f in features], np.int64)
    return {"input_ids": ember.from_numpy(ids), "labels": ember.from_numpy(ids.copy())}


def make_args(out, **kw) -> TrainingArguments:
    base = dict(per_device_train_batch_size=4, learning_rate=3e-3, logging_steps=1,
                save_strategy="no", disable_tqdm=True, report_to="none",
                train_sampling_strategy="sequential")
    return TrainingArguments(str(out), **{**base, **kw})


def train_tiny(out, **kw) -> Trainer:
    trainer = Trainer(gpt2(), make_args(out, **kw), train_dataset=lm_data(12),
                      eval_dataset=lm_data(4, seed=1), data_collator=collate)
    trainer.train()
    return trainer


# ---------------------------------------------------------------------------- TensorBoard
def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), bit by bit: independent of the writer's table."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_tfrecords(path: str) -> list[bytes]:
    """The records of a TFRecord file, each length and payload CRC checked."""
    records = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert length_crc == _masked_crc(header), "corrupt length"
        payload = data[pos + 12:pos + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert payload_crc == _masked_crc(payload), "corrupt record"
        records.append(payload)
        pos += 16 + length
    return records


def read_events(folder: str):
    """(scalars {(tag, step): value}, texts {tag: text}, plugin names) of every event file."""
    from tensorboardX.proto.event_pb2 import Event

    scalars, texts, plugins = {}, {}, set()
    files = sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*")))
    assert files, f"no event file in {folder}"
    for path in files:
        for record in read_tfrecords(path):
            event = Event.FromString(record)
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin:
                    plugins.add(plugin)
                if value.WhichOneof("value") == "simple_value":
                    scalars[(value.tag, event.step)] = value.simple_value
                elif plugin == "text":
                    texts[value.tag] = value.tensor.string_val[0].decode()
    return scalars, texts, plugins


def test_tensorboard_scalars_equal_log_history(tmp_path):
    import tensorboardX  # noqa: F401
    trainer = train_tiny(tmp_path, max_steps=6, logging_steps=2, eval_strategy="steps",
                         eval_steps=3, report_to="tensorboard")
    runs = glob.glob(str(tmp_path / "runs" / "*"))
    assert len(runs) == 1
    host = re.escape(socket.gethostname())
    assert re.fullmatch(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + host, os.path.basename(runs[0]))

    scalars, texts, plugins = read_events(runs[0])
    expected = {}
    for entry in trainer.state.log_history:
        logs = {k: v for k, v in entry.items() if k != "step"}
        for tag, value in rewrite_logs(logs).items():
            expected[(tag, entry["step"])] = value
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "eval/loss",
            "train/total_flos", "train/train_loss"} <= {tag for tag, _ in expected}
    assert set(scalars) == set(expected)
    for key, value in expected.items():
        assert scalars[key] == pytest.approx(value, rel=1e-6), key
    assert json.loads(texts["args/text_summary"])["learning_rate"] == 3e-3
    assert json.loads(texts["model_config/text_summary"])["n_layer"] == 2
    assert "hparams" in plugins


def test_tensorboard_logging_dir_from_env(tmp_path, monkeypatch):
    import tensorboardX  # noqa: F401
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    trainer = train_tiny(tmp_path / "out", max_steps=2, report_to=["tensorboard"])
    trainer.evaluate()  # after train(): a new writer, same folder
    scalars, _, _ = read_events(str(tmp_path / "tb"))
    assert ("eval/loss", 2) in scalars and ("train/loss", 1) in scalars
    assert not os.path.exists(tmp_path / "out" / "runs")


@pytest.mark.parametrize("name, module, extra", [("tensorboard", "tensorboardX", "tensorboard"),
                                                 ("mlflow", "mlflow", "mlflow")])
def test_missing_integration_package_names_the_extra(tmp_path, monkeypatch, name, module,
                                                     extra):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=re.escape(f"pip install 'ember[{extra}]'")):
        Trainer(gpt2(), make_args(tmp_path, report_to=name))


def test_report_to_all_is_the_installed_integrations(tmp_path):
    assert TrainingArguments(str(tmp_path), report_to="all").report_to == \
        get_available_reporting_integrations()
    with pytest.raises(ValueError, match="no such reporting integration"):
        TrainingArguments(str(tmp_path), report_to="wandb")


# ---------------------------------------------------------------------------- MLflow
def test_mlflow_params_metrics_and_model_artifacts(tmp_path, monkeypatch):
    import mlflow  # noqa: F401
    from mlflow.tracking import MlflowClient

    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID",
                "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.setenv(var, "x")  # restored (unset) after the test
        monkeypatch.delenv(var)
    trainer = train_tiny(tmp_path, max_steps=4, logging_steps=1, eval_strategy="steps",
                         eval_steps=2, report_to="mlflow", run_name="tiny-run")
    uri = f"file:{tmp_path / 'mlruns'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("Default")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "tiny-run" and run.info.status == "FINISHED"
    assert run.data.params["learning_rate"] == "0.003"
    assert run.data.params["n_layer"] == "2"  # the model config too
    for key in ("loss", "eval_loss", "learning_rate"):
        history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
        expected = [(h["step"], h[key]) for h in trainer.state.log_history if key in h]
        history, expected = sorted(history), sorted(expected)
        assert [s for s, _ in history] == [s for s, _ in expected], key
        assert [v for _, v in history] == pytest.approx([v for _, v in expected]), key
    assert run.data.metrics["total_flos"] == trainer.state.total_flos
    artifacts = {os.path.basename(a.path)
                 for a in client.list_artifacts(run.info.run_id, "model")}
    assert {"config.json", "model.safetensors", "training_args.json"} <= artifacts


def test_mlflow_tracking_uri_and_experiment_from_env(tmp_path, monkeypatch):
    import mlflow  # noqa: F401
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path / 'store'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "ember-tests")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    train_tiny(tmp_path / "out", max_steps=2, report_to="mlflow")
    client = MlflowClient(tracking_uri=f"file:{tmp_path / 'store'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ember-tests").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2]
    assert not os.path.exists(tmp_path / "out" / "mlruns")


# ---------------------------------------------------------------------------- loss plot
def read_png(path: str) -> tuple[int, int, np.ndarray]:
    """(width, height, pixels) of an 8-bit RGB PNG with unfiltered rows; checks every CRC."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        chunks.append((tag, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    if (depth, color, interlace) != (8, 2, 0) or raw[::3 * width + 1] != bytes(height):
        return width, height, None  # another encoder's choices (matplotlib: RGBA, filters)
    rows = np.frombuffer(raw, np.uint8).reshape(height, 3 * width + 1)[:, 1:]
    return width, height, rows.reshape(height, width, 3)


def test_loss_png_builtin_writer(tmp_path, monkeypatch):
    trainer = train_tiny(tmp_path, max_steps=6, logging_steps=1, eval_strategy="steps",
                         eval_steps=2)
    width, height, pixels = read_png(str(tmp_path / "loss.png"))
    assert (width, height) == (640, 400)
    colors = {tuple(c) for c in pixels.reshape(-1, 3)}
    assert (31, 119, 180) in colors and (255, 127, 14) in colors  # train and eval curves
    assert plot_loss(trainer.state.log_history, str(tmp_path / "again.png")) == "builtin"


def test_loss_plot_edge_cases(tmp_path, monkeypatch):
    assert plot_loss([{"train_runtime": 1.0, "step": 3}], str(tmp_path / "none.png")) is None
    assert not os.path.exists(tmp_path / "none.png")
    # one point, a constant curve, a NaN: still a chart
    for i, history in enumerate([[{"loss": 1.0, "step": 1}],
                                 [{"loss": 1.0, "step": s} for s in range(1, 4)],
                                 [{"loss": float("nan"), "step": 1}, {"loss": 2.0, "step": 2},
                                  {"eval_loss": 3.0, "step": 2}]]):
        assert plot_loss(history, str(tmp_path / f"{i}.png")) == "builtin"
        assert read_png(str(tmp_path / f"{i}.png"))[:2] == (640, 400)
    with pytest.raises(ValueError, match="H x W x 3"):
        write_png(str(tmp_path / "bad.png"), np.zeros((4, 4), np.uint8))
    assert render_loss_chart({"train": ([1, 2], [1.0, 0.5]), "eval": ([], [])},
                             width=200, height=100).shape == (100, 200, 3)


# ---------------------------------------------------------------------------- FLOPs
def test_flops_formula_matches_transformers_floating_point_ops(tmp_path):
    import torch
    import transformers
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        **GPT2_KW, bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1))
    ours = gpt2()
    ids = np.random.default_rng(0).integers(0, VOCAB, (3, 10))
    hf_inputs = {"input_ids": torch.from_numpy(ids)}
    inputs = {"input_ids": ember.from_numpy(ids)}
    # transformers 5 counts in Trainer.floating_point_ops (the model's method in 4.x)
    hf_flops = (hf.floating_point_ops(hf_inputs) if hasattr(hf, "floating_point_ops") else
                transformers.Trainer.floating_point_ops(types.SimpleNamespace(model=hf),
                                                        hf_inputs))

    assert non_embedding_parameters(ours) == hf.num_parameters(exclude_embeddings=True)
    assert floating_point_ops(ours, inputs, include_attention=False) == hf_flops > 0
    assert floating_point_ops(ours, inputs, exclude_embeddings=False,
                              include_attention=False) == 6 * ids.size * hf.num_parameters()
    # Kaplan et al.: + 6 * n_layer * n_ctx * d_model per token
    attention = 6 * GPT2_KW["n_layer"] * 10 * GPT2_KW["n_embd"] * ids.size
    assert floating_point_ops(ours, inputs) == hf_flops + attention
    # the Trainer uses it (ember models have no floating_point_ops of their own)
    assert Trainer(ours, make_args(tmp_path)).floating_point_ops(inputs) == \
        hf_flops + attention


def test_count_tokens():
    batch = {"input_ids": ember.from_numpy(np.ones((2, 5), np.int64)),
             "attention_mask": ember.from_numpy(np.array([[1, 1, 1, 0, 0], [1] * 5]))}
    assert count_tokens(batch) == 10
    assert count_tokens(batch, non_padding=True) == 8
    assert count_tokens({"labels": [1, 2]}) == 0 and count_tokens([1, 2]) == 0


def test_total_flos_accumulates_every_batch(tmp_path):
    n, steps, batch = 12, 5, 4  # 12 examples of SEQ tokens: batches of 4, 4, 4, 4, 4
    trainer = Trainer(gpt2(), make_args(tmp_path, max_steps=steps, save_strategy="steps",
                                        save_steps=2),
                      train_dataset=lm_data(n), data_collator=collate)
    out = trainer.train()
    model = trainer.model
    per_token = 6 * non_embedding_parameters(model) + 6 * 2 * SEQ * 16
    assert trainer.state.total_flos == steps * batch * SEQ * per_token
    assert out.metrics["total_flos"] == trainer.state.total_flos
    with open(tmp_path / "checkpoint-2" / "trainer_state.json") as f:
        assert json.load(f)["total_flos"] == 2 * batch * SEQ * per_token


def test_train_prints_summary_unless_console_output_is_off(tmp_path, capsys, caplog):
    with caplog.at_level("INFO", logger="ember.trainer"):
        train_tiny(tmp_path / "quiet", max_steps=2)
    assert "train metrics" not in capsys.readouterr().out
    assert "***** train metrics *****" in caplog.text
    train_tiny(tmp_path, max_steps=2, disable_tqdm=False)
    out = capsys.readouterr().out
    summary = out[out.index("***** train metrics *****"):]
    for key in ("train_runtime", "train_samples_per_second", "train_steps_per_second",
                "total_flos", "train_loss", "energy"):
        assert re.search(rf"^  {key} +=", summary, re.M), key
    assert "FLOPs" in summary


# ---------------------------------------------------------------------------- energy (RAPL)
def _zone(root, name: str, label: str, energy: int, max_range: int = 10_000_000) -> str:
    folder = root / name
    folder.mkdir()
    (folder / "name").write_text(label + "\n")
    (folder / "energy_uj").write_text(f"{energy}\n")
    (folder / "max_energy_range_uj").write_text(f"{max_range}\n")
    return str(folder)


def test_rapl_reader_fake_sysfs_with_wraparound(tmp_path):
    _zone(tmp_path, "intel-rapl:0", "package-0", 9_000_000)
    _zone(tmp_path, "intel-rapl:0:0", "core", 5)  # inside the package: not added
    _zone(tmp_path, "intel-rapl:0:1", "dram", 100)
    _zone(tmp_path, "intel-rapl:1", "psys", 7)  # contains the package: not added
    domains, reason = find_rapl_domains(str(tmp_path))
    assert [d.name for d in domains] == ["package-0", "dram"] and reason is None

    meter = EnergyMeter(str(tmp_path), min_interval_s=0)
    assert meter.available
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("500000\n")  # wrapped past 10 J
    (tmp_path / "intel-rapl:0:1" / "energy_uj").write_text("250100\n")
    meter.sample()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("2500000\n")
    report = meter.stop()
    # package: (10 - 9) + 0.5 J across the wrap, then 2 J; dram: 0.25 J
    assert report.domains == pytest.approx({"package-0": 3.5, "dram": 0.25})
    assert report.joules == pytest.approx(3.75)
    assert report.watt_hours == pytest.approx(3.75 / 3600)
    text = format_train_summary({"train_runtime": 1.5, "total_flos": 2e12}, report)
    assert "energy" in text and "3.75 J" in text and "Wh" in text and "2 TFLOPs" in text


def test_rapl_not_available(tmp_path, monkeypatch):
    meter = EnergyMeter(str(tmp_path / "no-powercap"))
    assert not meter.available and meter.stop() is None
    assert "does not exist" in meter.reason
    text = format_train_summary({"train_loss": 1.0}, None, meter.reason)
    assert "energy" in text and "not available on this machine" in text

    _zone(tmp_path, "intel-rapl:0", "package-0", 1)

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(RaplDomain, "read_uj", denied)
    meter = EnergyMeter(str(tmp_path))
    assert not meter.available and "not readable" in meter.reason
    assert meter.stop() is None


def test_this_machine_energy_is_measured_or_explained():
    meter = EnergyMeter()
    report = meter.stop()
    assert (report is not None and report.joules >= 0) or \
        (report is None and meter.reason), meter.reason


# ---------------------------------------------------------------------------- HP search
@pytest.fixture
def optuna():
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def hp_space(trial) -> dict:
    return {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
            "num_train_epochs": trial.suggest_int("num_train_epochs", 1, 2),
            "seed": trial.suggest_int("seed", 1, 40),
            "per_device_train_batch_size": trial.suggest_categorical(
                "per_device_train_batch_size", [4, 8])}


class RecordEvals(TrainerCallback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.losses.append(metrics["eval_loss"])


def search_trainer(out, **kw) -> tuple[Trainer, list]:
    calls = []

    def model_init(trial):
        calls.append(trial)
        return gpt2(seed=int(np.random.randint(0, 1000)))  # seeded by the trial's seed

    trainer = Trainer(model_init=model_init, args=make_args(out, learning_rate=5e-5, **kw),
                      train_dataset=lm_data(8), eval_dataset=lm_data(4, seed=1),
                      data_collator=collate)
    return trainer, calls


def test_hyperparameter_search_three_trials(tmp_path, optuna):
    trainer, calls = search_trainer(tmp_path)
    record = RecordEvals()
    trainer.add_callback(record)
    best = trainer.hyperparameter_search(hp_space=hp_space, n_trials=3,
                                         sampler=optuna.samplers.RandomSampler(seed=0))
    assert len(record.losses) == 3 and len(calls) == 4  # Trainer() + one per trial
    assert best.objective == min(record.losses)
    assert best.hyperparameters == hp_space(optuna.trial.FixedTrial(best.hyperparameters))
    assert record.losses[int(best.run_id)] == best.objective
    for i in range(3):
        assert os.path.isfile(tmp_path / f"run-{i}" / "loss.png")
    # the arguments are the caller's again
    assert trainer.args.learning_rate == 5e-5 and trainer.args.output_dir == str(tmp_path)
    assert trainer.args.seed == 42 and trainer.hp_search_backend is None
    # a trial's seed rebuilds the same model: rerun the best trial by hand
    args = make_args(tmp_path / "again", learning_rate=5e-5)
    for k, v in best.hyperparameters.items():
        setattr(args, k, v)
    again = Trainer(model_init=trainer.model_init, args=args, train_dataset=lm_data(8),
                    eval_dataset=lm_data(4, seed=1), data_collator=collate)
    again.train()
    assert again.evaluate()["eval_loss"] == pytest.approx(best.objective, abs=1e-6)


def test_hyperparameter_search_reports_and_prunes(tmp_path, optuna):
    class PruneTrialOne(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number == 1

    trainer, _ = search_trainer(tmp_path, eval_strategy="steps", eval_steps=1, max_steps=3)
    record = RecordEvals()
    trainer.add_callback(record)
    storage = f"sqlite:///{tmp_path / 'hp.db'}"
    best = trainer.hyperparameter_search(
        hp_space=lambda t: {"learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2)},
        n_trials=2, storage=storage, study_name="prune", pruner=PruneTrialOne(),
        sampler=optuna.samplers.RandomSampler(seed=0))
    trials = optuna.load_study(study_name="prune", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE,
                                         optuna.trial.TrialState.PRUNED]
    assert trials[0].intermediate_values == pytest.approx(dict(zip([1, 2, 3], record.losses)))
    assert trials[1].intermediate_values == pytest.approx({1: record.losses[3]})
    assert best.run_id == "0" and best.objective == pytest.approx(record.losses[2])


def test_default_hp_space_and_objective_match_transformers(optuna):
    import transformers.trainer_utils as trainer_utils
    from ember.trainer.hyperparameter_search import (
        default_compute_objective,
        default_hp_space_optuna,
    )

    params = {"learning_rate": 3e-5, "num_train_epochs": 2, "seed": 7,
              "per_device_train_batch_size": 16}
    fixed = optuna.trial.FixedTrial(params)
    assert default_hp_space_optuna(fixed) == trainer_utils.default_hp_space_optuna(fixed)
    study = optuna.create_study()
    trial = study.ask()
    space = default_hp_space_optuna(trial)
    dist = trial.distributions
    assert dist["learning_rate"].log and (dist["learning_rate"].low,
                                          dist["learning_rate"].high) == (1e-6, 1e-4)
    assert dist["per_device_train_batch_size"].choices == (4, 8, 16, 32, 64)
    assert 1 <= space["num_train_epochs"] <= 5 and 1 <= space["seed"] <= 40
    for metrics in ({"eval_loss": 0.5, "epoch": 1.0, "eval_runtime": 3.0},
                    {"eval_loss": 0.5, "eval_accuracy": 0.75, "eval_f1": 0.5,
                     "eval_samples_per_second": 9.0}):
        assert default_compute_objective(metrics) == trainer_utils.default_compute_objective(
            metrics)


def test_hyperparameter_search_errors(tmp_path, monkeypatch):
    trainer, _ = search_trainer(tmp_path)
    with pytest.raises(NotImplementedError, match="available: \\['optuna'\\]"):
        trainer.hyperparameter_search(backend="ray")
    with pytest.raises(ValueError):
        trainer.hyperparameter_search(backend="nope")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "optuna", None)  # import fails as if not installed
        with pytest.raises(ImportError, match=re.escape("pip install 'ember[optuna]'")):
            trainer.hyperparameter_search()
    import optuna  # noqa: F401
    with pytest.raises(RuntimeError, match="model_init"):
        Trainer(gpt2(), make_args(tmp_path)).hyperparameter_search()


SEARCH_SCRIPT = """
import json, sys
import numpy as np
import optuna
import ember
from ember.models import GPT2Config, GPT2LMHeadModel
from ember.trainer import Trainer, TrainingArguments

optuna.logging.set_verbosity(optuna.logging.WARNING)
out, storage, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
kw = json.loads(sys.argv[4])
r = np.random.default_rng(0)
data = [{"input_ids": r.integers(0, kw["vocab_size"], 8).tolist()} for _ in range(8)]

def collate(features):
    ids = np.array([f["input_ids"] for f in features], np.int64)
    return {"input_ids": ember.from_numpy(ids), "labels": ember.from_numpy(ids.copy())}

args = TrainingArguments(out, per_device_train_batch_size=4, logging_steps=1, save_strategy="no",
                         disable_tqdm=True, report_to="none")
trainer = Trainer(model_init=lambda: GPT2LMHeadModel(GPT2Config(**kw)), args=args,
                  train_dataset=data, eval_dataset=data[:4], data_collator=collate)
best = trainer.hyperparameter_search(
    hp_space=lambda t: {"learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True)},
    n_trials=2, storage=storage, study_name="shared",
    sampler=optuna.samplers.RandomSampler(seed=seed))
study = optuna.load_study(study_name="shared", storage=storage)
print("RESULT " + json.dumps({"best": list(best[:3]), "seen": len(study.trials)}))
"""


def test_hyperparameter_search_shared_sqlite_study_across_processes(tmp_path, optuna):
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(SEARCH_SCRIPT))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    results = []
    for seed in (1, 2):  # two processes, one after the other, on one study
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / f"p{seed}"), storage,
                               str(seed), json.dumps(GPT2_KW)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT "):]))
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert results[0]["seen"] == 2 and results[1]["seen"] == 4  # the second saw the first's
    values = {str(t.number): t.value for t in trials}
    run_id, objective, params = results[1]["best"]
    assert objective == min(values.values()) and values[run_id] == objective
    assert params == trials[int(run_id)].params
    # the second process's trials are in the folders of their study-wide numbers
    assert sorted(os.listdir(tmp_path / "p2")) == ["run-2", "run-3"]
