"""Reporting integrations (``report_to="tensorboard"``, ``report_to="mlflow"``) and the loss
plot the Trainer writes at the end of ``train()``.

Example::

    args = TrainingArguments("out", report_to=["tensorboard", "mlflow"], run_name="baseline",
                             logging_steps=10, eval_strategy="steps", eval_steps=50)
    Trainer(model, args, train_dataset=train, eval_dataset=valid).train()
    # tensorboard --logdir out/runs        (scalars train/loss, eval/loss, ..., text "args")
    # MlflowClient("file:out/mlruns")      (params, metrics per step, artifacts "model/")
    # out/loss.png                         (training and eval loss against the step)

Both follow transformers' ``TensorBoardCallback`` and ``MLflowCallback`` (names, environment
variables, what is logged at which event); each needs its optional extra, and a missing package
is an ImportError naming it when the Trainer is built:

* ``pip install 'ember[tensorboard]'`` (tensorboardX and protobuf: no torch, no TensorFlow);
* ``pip install 'ember[mlflow]'`` (mlflow-skinny: the tracking client without the server).

Where ember differs: TensorBoard logs go to ``$TENSORBOARD_LOGGING_DIR`` or a fresh
``output_dir/runs/<date>_<host>`` per ``train()`` (``logging_dir`` is not a 5.x field), with the
hyper-parameters also in the HParams dashboard; MLflow logs through an ``MlflowClient`` (no
global state is changed unless you use the fluent API yourself: an active ``mlflow`` run is
logged into), defaults to the local folder ``output_dir/mlruns`` when no tracking URI is set, and
always uploads the final model folder as the run's ``model/`` artifacts.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import numbers
import os
import re
import socket
import struct
import tempfile
import time
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .callbacks import (
    INTEGRATION_TO_CALLBACK,
    TrainerCallback,
    get_reporting_integration_callbacks,
)

__all__ = ["MLflowCallback", "TensorBoardCallback", "default_logdir",
           "get_available_reporting_integrations", "get_reporting_integration_callbacks",
           "is_mlflow_available", "is_tensorboard_available", "plot_loss", "rewrite_logs",
           "write_png"]

logger = logging.getLogger("ember.trainer")

_TRUE = {"1", "ON", "YES", "TRUE"}


def _env_true(name: str) -> bool:
    return os.environ.get(name, "FALSE").upper() in _TRUE


def is_tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboardX") is not None


def is_mlflow_available() -> bool:
    if _env_true("DISABLE_MLFLOW_INTEGRATION"):
        return False
    return importlib.util.find_spec("mlflow") is not None


def get_available_reporting_integrations() -> list[str]:
    """The integrations whose package is installed (what ``report_to="all"`` means)."""
    return [name for name, ok in (("tensorboard", is_tensorboard_available()),
                                  ("mlflow", is_mlflow_available())) if ok]


def rewrite_logs(d: dict) -> dict:
    """``eval_loss`` -> ``eval/loss``, ``test_x`` -> ``test/x``, anything else ``train/<key>``."""
    out = {}
    for k, v in d.items():
        if k.startswith("eval_"):
            out["eval/" + k[len("eval_"):]] = v
        elif k.startswith("test_"):
            out["test/" + k[len("test_"):]] = v
        else:
            out["train/" + k] = v
    return out


def default_logdir() -> str:
    """``runs/<Mon DD_HH-MM-SS>_<host>``, PyTorch's and transformers' default."""
    return os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_"
                        + socket.gethostname())


_WRITER_IDS = itertools.count()


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real)


# ---------------------------------------------------------------------------- TensorBoard
class TensorBoardCallback(TrainerCallback):
    """Writes every logged number as a TensorBoard scalar (``train/loss``, ``eval/loss``, ...,
    at ``state.global_step``) and, at the start of training, the arguments and model config as
    text plus the arguments in the HParams dashboard.

    ``tb_writer``: a ``tensorboardX.SummaryWriter`` to use instead of a new one.
    Environment: ``TENSORBOARD_LOGGING_DIR`` fixes the folder (default: a new
    ``args.output_dir/runs/<date>_<host>`` for each ``train()``)."""

    def __init__(self, tb_writer=None) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise ImportError("report_to='tensorboard' needs tensorboardX: pip install "
                              "'ember[tensorboard]' (or pip install tensorboardX)") from exc
        self._SummaryWriter = SummaryWriter
        self.tb_writer = tb_writer
        env_dir = os.environ.get("TENSORBOARD_LOGGING_DIR")
        self._fixed_dir = os.path.expanduser(env_dir) if env_dir else None
        self.logging_dir = self._fixed_dir
        self._in_train = False

    def _init_summary_writer(self, args) -> None:
        if self.logging_dir is None:
            self.logging_dir = os.path.join(args.output_dir, default_logdir())
        # tensorboardX names files by the second: a unique suffix (torch's: pid and a counter)
        # keeps a second writer in the same folder (evaluate() after train()) from replacing it
        self.tb_writer = self._SummaryWriter(
            logdir=self.logging_dir, filename_suffix=f".{os.getpid()}.{next(_WRITER_IDS)}")

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        self._in_train = True
        if self._fixed_dir is None and self.tb_writer is None:
            self.logging_dir = os.path.join(args.output_dir, default_logdir())
            if state.is_hyper_param_search and state.trial_name:
                self.logging_dir = os.path.join(self.logging_dir, state.trial_name)
        if self.tb_writer is None:
            self._init_summary_writer(args)
        self.tb_writer.add_text("args", args.to_json_string())
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_json_string"):
            self.tb_writer.add_text("model_config", config.to_json_string())
        self._write_hparams(args, state)

    def _write_hparams(self, args, state) -> None:
        from tensorboardX.summary import hparams

        hp = dict(args.to_sanitized_dict())
        if state.trial_params:
            hp.update({k: v for k, v in state.trial_params.items()
                       if isinstance(v, (bool, int, float, str))})
        # metric columns of the HParams table: scalars of this run with these tags
        exp, ssi, self._session_end = hparams(hp, {"train/loss": 0.0, "eval/loss": 0.0})
        writer = self.tb_writer._get_file_writer()
        writer.add_summary(exp)
        writer.add_summary(ssi)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        if self.tb_writer is None:
            self._init_summary_writer(args)
        for k, v in rewrite_logs(logs or {}).items():
            if _is_number(v):
                self.tb_writer.add_scalar(k, float(v), state.global_step)
            elif isinstance(v, str):
                self.tb_writer.add_text(k, v, state.global_step)
            else:
                logger.warning('Trainer is attempting to log a value of "%s" of type %s for key '
                               '"%s" as a scalar; TensorBoard takes numbers and text, so it was '
                               "dropped.", v, type(v), k)
        if self._in_train:
            self.tb_writer.flush()
        else:
            # tensorboardX writes from a queue that only close() drains: a log outside
            # training (evaluate() after train()) gets its own file, complete on return
            self.tb_writer.close()
            self.tb_writer = None

    def on_train_end(self, args, state, control, **kwargs):
        self._in_train = False
        if self.tb_writer is not None:
            session_end = getattr(self, "_session_end", None)
            if session_end is not None:
                self.tb_writer._get_file_writer().add_summary(session_end)
                self._session_end = None
            self.tb_writer.close()
            self.tb_writer = None


# ---------------------------------------------------------------------------- MLflow
class MLflowCallback(TrainerCallback):
    """Logs the arguments and model config as MLflow params, every logged number as a metric at
    ``state.global_step``, and at the end of training the model folder (``save_pretrained``
    output, tokenizer, ``training_args.json``) as the run's ``model/`` artifacts.

    Environment (transformers' names): ``MLFLOW_TRACKING_URI`` (default: the tracking URI set
    with ``mlflow.set_tracking_uri``, else the local folder ``output_dir/mlruns``),
    ``MLFLOW_EXPERIMENT_NAME`` (created if missing; default "Default"), ``MLFLOW_RUN_ID``
    (log into that run), ``MLFLOW_NESTED_RUN`` (a child of the active run), ``MLFLOW_TAGS``
    (JSON), ``HF_MLFLOW_LOG_ARTIFACTS`` (also upload each checkpoint when saved),
    ``DISABLE_MLFLOW_INTEGRATION`` (leave it out of ``report_to="all"``).

    The run is named ``args.run_name`` (MLflow picks a name when it is None). An active run
    of the fluent API (``mlflow.start_run()``) is logged into and left open. MLflow 3 refuses
    local-folder stores unless ``MLFLOW_ALLOW_FILE_STORE=true``: for a local folder URI ember
    sets that variable when it is unset (set it to false, or use ``sqlite:///...``, to opt
    out)."""

    def __init__(self) -> None:
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise ImportError("report_to='mlflow' needs MLflow: pip install 'ember[mlflow]' "
                              "(mlflow-skinny, or the full mlflow)") from exc
        self._ml_flow = mlflow
        self._Client = MlflowClient
        from mlflow.utils import validation

        self._MAX_PARAM_VAL_LENGTH = getattr(validation, "MAX_PARAM_VAL_LENGTH", 250)
        self._MAX_PARAMS_TAGS_PER_BATCH = getattr(validation, "MAX_PARAMS_TAGS_PER_BATCH", 100)
        self._MAX_METRICS_PER_BATCH = getattr(validation, "MAX_METRICS_PER_BATCH", 1000)
        self._client = None
        self.run_id: str | None = None
        self.tracking_uri: str | None = None
        self._initialized = False
        self._auto_end_run = False
        self._ended = False

    # --- set up ---
    def _resolve_tracking_uri(self, args) -> str:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            is_set = getattr(self._ml_flow, "is_tracking_uri_set", lambda: False)
            if is_set():
                uri = self._ml_flow.get_tracking_uri()
            else:
                uri = Path(os.path.abspath(os.path.join(args.output_dir, "mlruns"))).as_uri()
        if urlparse(uri).scheme in ("", "file") and uri not in ("databricks", "databricks-uc",
                                                                 "uc"):  # a local folder
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return uri

    def setup(self, args, state, model) -> None:
        """Open (or join) the run and log the parameters."""
        self._initialized = True
        self._ended = False
        if not state.is_world_process_zero:
            return
        mlflow = self._ml_flow
        active = mlflow.active_run()
        nested = _env_true("MLFLOW_NESTED_RUN")
        env_run_id = os.environ.get("MLFLOW_RUN_ID")
        if active is not None and not nested and not env_run_id:
            self.tracking_uri = mlflow.get_tracking_uri()
            self._client = self._Client(tracking_uri=self.tracking_uri)
            self.run_id = active.info.run_id
            self._auto_end_run = False
        else:
            self.tracking_uri = self._resolve_tracking_uri(args)
            client = self._client = self._Client(tracking_uri=self.tracking_uri)
            if env_run_id:
                self.run_id = env_run_id
            else:
                name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "Default"
                experiment = client.get_experiment_by_name(name)
                experiment_id = (experiment.experiment_id if experiment is not None
                                 else client.create_experiment(name))
                tags = {}
                if nested and active is not None:
                    tags["mlflow.parentRunId"] = active.info.run_id
                self.run_id = client.create_run(experiment_id, run_name=args.run_name,
                                                tags=tags).info.run_id
            self._auto_end_run = True
        logger.info("MLflow: logging run %s to %s", self.run_id, self.tracking_uri)
        self._log_params(args, model)
        env_tags = os.environ.get("MLFLOW_TAGS")
        if env_tags:
            from mlflow.entities import RunTag

            self._client.log_batch(self.run_id, tags=[
                RunTag(k, str(v)) for k, v in json.loads(env_tags).items()])

    def _log_params(self, args, model) -> None:
        from mlflow.entities import Param

        combined = args.to_dict()
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            combined = {**config.to_dict(), **combined}
        params = []
        for name, value in combined.items():
            text = str(value)
            if len(text) > self._MAX_PARAM_VAL_LENGTH:
                logger.warning('Trainer is attempting to log a value of "%s" for key "%s" as '
                               "a parameter. MLflow's log_param() only accepts values no longer "
                               "than %d characters so we dropped this attribute.", text, name,
                               self._MAX_PARAM_VAL_LENGTH)
                continue
            params.append(Param(name, text))
        step = self._MAX_PARAMS_TAGS_PER_BATCH
        for i in range(0, len(params), step):
            self._client.log_batch(self.run_id, params=params[i:i + step])

    # --- events ---
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self._initialized or self._ended:
            self.setup(args, state, model)

    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        if not self._initialized:
            self.setup(args, state, model)
        if not state.is_world_process_zero or self.run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        for k, v in (logs or {}).items():
            if _is_number(v):
                name = re.sub(r"[^0-9A-Za-z_\-\.\ :/]", "_", k)
                metrics.append(Metric(name, float(v), now, state.global_step))
            else:
                logger.warning('Trainer is attempting to log a value of "%s" of type %s for key '
                               '"%s" as a metric. MLflow\'s log_metric() only accepts float and '
                               "int types so we dropped this attribute.", v, type(v), k)
        step = self._MAX_METRICS_PER_BATCH
        for i in range(0, len(metrics), step):
            self._client.log_batch(self.run_id, metrics=metrics[i:i + step])

    def on_save(self, args, state, control, **kwargs):
        if not (self._initialized and state.is_world_process_zero and self.run_id
                and _env_true("HF_MLFLOW_LOG_ARTIFACTS")):
            return
        name = f"checkpoint-{state.global_step}"
        path = os.path.join(args.output_dir, name)
        if os.path.isdir(path):
            logger.info("Logging checkpoint artifacts in %s. This may take time.", name)
            self._client.log_artifacts(self.run_id, path, artifact_path=name)

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if not (self._initialized and state.is_world_process_zero and self.run_id):
            return
        if model is not None:
            with tempfile.TemporaryDirectory(prefix="ember-mlflow-") as folder:
                _save_model_folder(model, processing_class, args, folder)
                self._client.log_artifacts(self.run_id, folder, artifact_path="model")
        if self._auto_end_run:
            self._client.set_terminated(self.run_id)
        self._ended = True  # later logs (evaluate() after train()) still go to this run


def _save_model_folder(model, processing_class, args, folder: str) -> None:
    """What ``Trainer.save_model`` writes: weights + config, the tokenizer, the arguments."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:
        from ..models.safetensors_io import save_file

        save_file({k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)
                   for k, v in model.state_dict().items()},
                  os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        processing_class.save_pretrained(folder)
    with open(os.path.join(folder, "training_args.json"), "w", encoding="utf-8") as f:
        f.write(args.to_json_string() + "\n")


INTEGRATION_TO_CALLBACK.update({"tensorboard": TensorBoardCallback, "mlflow": MLflowCallback})


# ---------------------------------------------------------------------------- loss plot
def loss_curves(log_history: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """``{"train": (steps, losses), "eval": (steps, losses)}`` from ``state.log_history``
    (entries with ``loss`` / ``eval_loss``; non-finite values left out)."""
    curves: dict[str, tuple[list[int], list[float]]] = {"train": ([], []), "eval": ([], [])}
    for entry in log_history:
        for key, name in (("loss", "train"), ("eval_loss", "eval")):
            value = entry.get(key)
            if _is_number(value) and np.isfinite(value) and "step" in entry:
                curves[name][0].append(int(entry["step"]))
                curves[name][1].append(float(value))
    return curves


def plot_loss(log_history: list[dict], path: str) -> str | None:
    """Write the training and eval loss against the step as a PNG at ``path``.

    Drawn by ember's own rasteriser (:func:`render_loss_chart` + :func:`write_png`): a line
    chart does not justify a 100 MB plotting dependency. Returns ``"builtin"``, or None when
    nothing was logged (no file is written) or the plot failed (a warning says why: a plot
    never fails a finished training run)."""
    curves = loss_curves(log_history)
    if not curves["train"][0] and not curves["eval"][0]:
        logger.info("No loss was logged: %s not written", path)
        return None
    try:
        write_png(path, render_loss_chart(curves))
        return "builtin"
    except Exception as exc:  # a finished run matters more than its picture
        logger.warning("Could not write the loss plot %s: %s", path, exc)
        return None


# A 3x5 pixel font: the characters the chart's labels use.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "+": "000010111010000", "E": "111100110100111", "T": "111010010010010",
    "R": "110101110101101", "A": "010101111101101", "I": "111010010010111",
    "N": "101111111101101", "V": "101101101101010", "L": "100100100100111",
    "O": "111101101101111", "S": "011100010001110", "P": "110101110100100",
    " ": "000000000000000",
}
_TRAIN_RGB = (31, 119, 180)
_EVAL_RGB = (255, 127, 14)


def _text(img: np.ndarray, x: int, y: int, text: str, scale: int = 2,
          color=(0, 0, 0)) -> None:
    """Draw ``text`` with its top-left corner at (x, y) (characters outside the font skipped)."""
    for ch in text.upper():
        bits = _GLYPHS.get(ch)
        if bits is not None:
            glyph = np.array([int(b) for b in bits], bool).reshape(5, 3)
            block = np.kron(glyph, np.ones((scale, scale), bool))
            h, w = block.shape
            region = img[max(y, 0):y + h, max(x, 0):x + w]
            region[block[:region.shape[0], :region.shape[1]]] = color
        x += 4 * scale


def _text_width(text: str, scale: int = 2) -> int:
    return len(text) * 4 * scale - scale


def _line(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, color, width: int = 2) -> None:
    """A polyline through pixel coordinates (floats), ``width`` pixels thick."""
    h, w, _ = img.shape
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:]):
        n = int(max(abs(x1 - x0), abs(y1 - y0)) * 2) + 2
        px = np.rint(np.linspace(x0, x1, n)).astype(int)
        py = np.rint(np.linspace(y0, y1, n)).astype(int)
        for dx in range(width):
            for dy in range(width):
                ok = (px + dx >= 0) & (px + dx < w) & (py + dy >= 0) & (py + dy < h)
                img[py[ok] + dy, px[ok] + dx] = color


def _ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """About ``n`` round values (1, 2 or 5 times a power of ten apart) in [lo, hi]."""
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, float(np.ceil(step)))
    first, last = int(np.ceil(lo / step)), int(np.floor(hi / step))
    return [k * step + 0.0 for k in range(first, last + 1)]  # k * step: no -0 or 0.30000004


def _label(v: float) -> str:
    return f"{v:.3g}".replace("e+0", "e").replace("e-0", "e-")


def render_loss_chart(curves: dict, width: int = 640, height: int = 400) -> np.ndarray:
    """An RGB image (``height x width x 3`` uint8) of the loss curves: axes with 5 ticks each,
    a light grid, train loss as a blue line, eval loss as orange line with square markers,
    and a legend."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 40, 40
    x0, x1, y0, y1 = left, width - right, top, height - bottom  # plot area (y0 at the top)
    steps = [s for name in ("train", "eval") for s in curves[name][0]]
    values = [v for name in ("train", "eval") for v in curves[name][1]]
    smin, smax = min(steps), max(steps)
    if smax == smin:
        smin, smax = smin - 1, smax + 1
    vmin, vmax = min(values), max(values)
    pad = (vmax - vmin) * 0.05 or abs(vmax) * 0.05 or 1.0
    vmin, vmax = vmin - pad, vmax + pad

    def sx(s):
        return x0 + (np.asarray(s, float) - smin) / (smax - smin) * (x1 - x0)

    def sy(v):
        return y1 - (np.asarray(v, float) - vmin) / (vmax - vmin) * (y1 - y0)

    for t in _ticks(vmin, vmax):  # horizontal grid + y labels
        y = int(round(float(sy(t))))
        img[y, x0:x1] = (225, 225, 225)
        label = _label(t)
        _text(img, x0 - 6 - _text_width(label), y - 5, label)
    for t in _ticks(smin, smax, integer=True):  # vertical grid + x labels
        x = int(round(float(sx(t))))
        img[y0:y1, x] = (225, 225, 225)
        label = str(int(t)) if abs(t) < 1e6 else _label(t)
        _text(img, x - _text_width(label) // 2, y1 + 8, label)
    img[y0:y1 + 1, x0] = img[y1, x0:x1 + 1] = (0, 0, 0)  # axes
    img[y0, x0:x1 + 1] = img[y0:y1 + 1, x1] = (150, 150, 150)
    _text(img, (x0 + x1 - _text_width("STEP")) // 2, height - 16, "STEP")

    legend_x = x0 + 10
    for name, color in (("train", _TRAIN_RGB), ("eval", _EVAL_RGB)):
        steps_n, values_n = curves[name]
        if not steps_n:
            continue
        xs, ys = sx(steps_n), sy(values_n)
        if len(xs) > 1:
            _line(img, xs, ys, color)
        if name == "eval" or len(xs) == 1:
            for x, y in zip(np.rint(xs).astype(int), np.rint(ys).astype(int)):
                img[max(y - 3, 0):y + 4, max(x - 3, 0):x + 4] = color
        img[14:24, legend_x:legend_x + 20] = color
        label = f"{name} loss"
        _text(img, legend_x + 26, 14, label)
        legend_x += 26 + _text_width(label) + 24
    return img


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an ``H x W x 3`` uint8 image as an 8-bit RGB PNG (zlib + CRC32 chunks, no
    filtering), atomically (a temporary file renamed into place)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_png expects an H x W x 3 array, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
           + chunk(b"IEND", b""))
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)
