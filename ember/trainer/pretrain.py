"""``ember train``: pretrain a GPT-2 style language model from scratch, end to end.

The job, in phases (``run`` does them all; each step is also a function of its own)::

    texts      load_texts(files)            train / held-out validation documents
    tokenizer  train_tokenizer(train, n)    GPT-2 byte-level BPE, eos/bos "<|endoftext|>"
    data       encode_documents + build_blocks   one token stream (eos after each document),
                                            cut into blocks of block_size; labels = input_ids
    model      GPT2LMHeadModel(GPT2Config)  "tiny", "small" (default), "gpt2" or a JSON file
    training   Trainer(...).train()         eval and atomic checkpoints every N steps
    report     perplexity, unigram_perplexity, 3 samples from pipeline("text-generation")

Without files the text is the documentation that ships inside CPython
(``pydoc_data.topics``): no download, deterministic for a given Python version.

The run folder ends up loadable by transformers::

    run/config.json, model.safetensors, generation_config.json   the final model
    run/tokenizer.json, tokenizer_config.json, special_tokens_map.json
    run/checkpoint-<step>/      the last save_total_limit checkpoints (resumable)
    run/metrics.json            perplexities, sizes, timings, samples
    run/trainer_state.json      the Trainer's log history
    run/train_job.json          the job's settings (read back by --resume)

Ctrl-C during training finishes the current optimizer step, writes a checkpoint and exits
(code 130); a second Ctrl-C stops at once, keeping the last complete checkpoint. ``--resume``
continues from the last complete checkpoint and ends with the same parameters, bit for bit, as
an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["JOB_DEFAULTS", "MODEL_CONFIGS", "TrainJobError", "build_blocks",
           "encode_documents", "load_texts", "perplexity", "pydoc_documents", "run",
           "train_tokenizer", "unigram_perplexity"]

EOS = "<|endoftext|>"

# Model shapes; dropout and everything else stay at GPT2Config's (transformers') defaults.
MODEL_CONFIGS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_embd": 64, "n_head": 4, "n_positions": 128},
    "small": {"n_layer": 4, "n_embd": 256, "n_head": 4, "n_positions": 256},
    "gpt2": {"n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024},
}

# Job settings per config (a JSON config file gets "small"'s). "small" is sized so the whole
# default job takes about five minutes on a shared 2-core machine (one BLAS thread: ~0.37-0.45 s
# per step of 8 x 128 tokens, 700 steps = ~8 epochs of the 84k training tokens). Measured there:
# batch 8 x 700 steps reached a validation perplexity of 145 where batch 16 x 350 steps (same
# tokens, same time) reached 159 and learning rate 2e-3 reached 195; the text is small, so
# validation loss flattens after ~5 epochs while training loss keeps falling.
_COMMON = {"seed": 42, "weight_decay": 0.1, "lr_scheduler_type": "cosine",
           "gradient_accumulation_steps": 1, "num_train_epochs": None, "save_total_limit": 2,
           "threads": 1}
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    "tiny": {**_COMMON, "vocab_size": 4096, "block_size": 64, "batch_size": 8,
             "max_steps": 200, "learning_rate": 2e-3, "warmup_steps": 20,
             "logging_steps": 20, "eval_steps": 50, "save_steps": 50},
    "small": {**_COMMON, "vocab_size": 4096, "block_size": 128, "batch_size": 8,
              "max_steps": 700, "learning_rate": 1e-3, "warmup_steps": 70,
              "logging_steps": 50, "eval_steps": 140, "save_steps": 140},
    "gpt2": {**_COMMON, "vocab_size": 50257, "block_size": 1024, "batch_size": 8,
             "max_steps": None, "num_train_epochs": 3.0, "learning_rate": 3e-4,
             "warmup_steps": 0.05, "logging_steps": 10, "eval_steps": 50, "save_steps": 50},
}
SETTINGS = tuple(JOB_DEFAULTS["small"])
# settings that change the data or the model: a resumed run must keep them
_FIXED_ON_RESUME = ("config", "vocab_size", "block_size", "seed", "batch_size",
                    "gradient_accumulation_steps")
VAL_FRACTION = 0.05
SAMPLE_PROMPTS = ("The ", "def ", "In Python")
JOB_FILE = "train_job.json"
METRICS_FILE = "metrics.json"
# what a finished run writes at the top of its folder (removed by --overwrite)
_RUN_FILES = ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
              "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
              "training_args.json", "trainer_state.json", "loss.png", METRICS_FILE, JOB_FILE)


class TrainJobError(ValueError):
    """A problem with the job's inputs or folder: reported as one line, exit code 2."""


# ---------------------------------------------------------------------------- texts
def pydoc_documents() -> dict[str, str]:
    """CPython's own documentation (``pydoc_data.topics``), one document per topic in key order.
    Topics quote each other (``specialnames`` holds ``customization``, ...): a paragraph an
    earlier topic already had is dropped, so no text is repeated across documents."""
    from pydoc_data.topics import topics

    seen: set[str] = set()
    docs: dict[str, str] = {}
    for key in sorted(topics):
        kept = []
        for para in topics[key].split("\n\n"):
            if para.strip() and para not in seen:
                seen.add(para)
                kept.append(para)
        if kept:
            docs[key] = "\n\n".join(kept)
    return docs


def split_pydoc(docs: dict[str, str], val_fraction: float = VAL_FRACTION
                ) -> tuple[list[str], list[str]]:
    """Topic names (train, validation): topics in the order of the CRC-32 of their name go to
    validation until it holds ``val_fraction`` of the characters; both lists in key order."""
    total = sum(len(v) for v in docs.values())
    held: set[str] = set()
    size = 0
    for key in sorted(docs, key=lambda k: (zlib.crc32(k.encode("utf-8")), k)):
        if size >= val_fraction * total:
            break
        held.add(key)
        size += len(docs[key])
    return [k for k in docs if k not in held], [k for k in docs if k in held]


def _split_tail(text: str, val_fraction: float) -> tuple[str, str]:
    """(head, tail) of a file's text, cut at the line boundary nearest to leave
    ``val_fraction`` of the characters in the tail."""
    target = int(len(text) * (1 - val_fraction))
    cut = text.find("\n", target)
    if cut < 0 or cut + 1 >= len(text):
        cut = text.rfind("\n", 0, target)
    if cut < 0:
        return text, ""
    return text[:cut + 1], text[cut + 1:]


def load_texts(files: Sequence[str | os.PathLike] | None = None,
               val_fraction: float = VAL_FRACTION) -> tuple[list[str], list[str]]:
    """(train documents, validation documents), disjoint and deterministic.

    Without ``files``: the CPython documentation topics (``pydoc_documents``), whole topics held
    out by name hash (``split_pydoc``). With files (UTF-8): each file is a document whose last
    ``val_fraction`` (cut at a line boundary) is held out."""
    if not files:
        docs = pydoc_documents()
        train_keys, val_keys = split_pydoc(docs, val_fraction)
        return [docs[k] for k in train_keys], [docs[k] for k in val_keys]
    train: list[str] = []
    val: list[str] = []
    for f in files:
        p = Path(f)
        if not p.is_file():
            raise TrainJobError(f"no such file: {f}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise TrainJobError(f"{f} is not UTF-8 text ({err.reason})") from None
        head, tail = _split_tail(text, val_fraction)
        if head.strip():
            train.append(head)
        if tail.strip():
            val.append(tail)
    if not train:
        raise TrainJobError("the text files are empty")
    return train, val


def texts_fingerprint(train: Sequence[str], val: Sequence[str]) -> str:
    h = hashlib.sha256()
    for part in (train, val):
        for doc in part:
            h.update(doc.encode("utf-8"))
            h.update(b"\x00")
        h.update(b"\x01")
    return h.hexdigest()


# ---------------------------------------------------------------------------- tokenizer & data
def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2,
                    model_max_length: int | None = None):
    """A GPT-2 byte-level BPE (``recipe("byte-level-bpe")``) trained on ``texts``, as a
    ``PreTrainedTokenizerFast`` with ``<|endoftext|>`` as bos, eos and unk token;
    ``save_pretrained`` writes what ``transformers.AutoTokenizer`` loads."""
    from ..tokenizers import PreTrainedTokenizerFast
    from ..tokenizers.recipes import recipe

    tok, trainer = recipe("byte-level-bpe", vocab_size=vocab_size, min_frequency=min_frequency,
                          special_tokens=[EOS], show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    kwargs: dict[str, Any] = {"bos_token": EOS, "eos_token": EOS, "unk_token": EOS}
    if model_max_length is not None:
        kwargs["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def encode_documents(tokenizer, docs: Sequence[str]) -> np.ndarray:
    """One int64 token stream: each document's ids followed by the eos id."""
    eos = tokenizer.eos_token_id
    encs = tokenizer.backend_tokenizer.encode_batch(list(docs), add_special_tokens=False)
    parts = []
    for enc in encs:
        parts.append(np.asarray(enc.ids, dtype=np.int64))
        parts.append(np.array([eos], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def build_blocks(ids: Sequence[int] | np.ndarray, block_size: int) -> np.ndarray:
    """``ids`` cut into consecutive (n, block_size) int64 blocks; the last partial block is
    dropped. As causal-LM examples the labels are the blocks themselves (the model shifts)."""
    if block_size < 2:
        raise ValueError(f"block_size must be >= 2, got {block_size}")
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids) // block_size
    return ids[:n * block_size].reshape(n, block_size).copy()


def predicted_tokens(blocks: np.ndarray) -> np.ndarray:
    """The tokens a causal LM is scored on in ``blocks``: all but each block's first."""
    return np.asarray(blocks)[:, 1:].reshape(-1)


# ---------------------------------------------------------------------------- metrics
def unigram_perplexity(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int) -> float:
    """Perplexity of ``eval_ids`` under the unigram model of ``train_ids`` with add-one
    smoothing: p(t) = (count(t) + 1) / (N + vocab_size)."""
    train_ids = np.asarray(train_ids, dtype=np.int64).reshape(-1)
    eval_ids = np.asarray(eval_ids, dtype=np.int64).reshape(-1)
    if len(eval_ids) == 0:
        raise ValueError("no tokens to evaluate")
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64)
    logp = np.log(counts + 1.0) - math.log(len(train_ids) + vocab_size)
    return float(math.exp(-logp[eval_ids].mean()))


def mean_nll(model, blocks: np.ndarray, batch_size: int = 16) -> tuple[float, int]:
    """(token-weighted mean negative log-likelihood, number of predicted tokens) of ``model`` on
    ``blocks`` (each block predicts its tokens 1..end); the model is left in eval mode."""
    from ..autograd.creation import from_numpy
    from ..autograd.grad_mode import no_grad

    blocks = np.asarray(blocks, dtype=np.int64)
    if blocks.ndim != 2 or blocks.shape[0] == 0 or blocks.shape[1] < 2:
        raise ValueError(f"need (n >= 1, block_size >= 2) blocks, got shape {blocks.shape}")
    model.eval()
    total, count = 0.0, 0
    with no_grad():
        for i in range(0, len(blocks), batch_size):
            x = from_numpy(np.ascontiguousarray(blocks[i:i + batch_size]))
            n = x.shape[0] * (x.shape[1] - 1)
            total += float(model(input_ids=x, labels=x).loss.item()) * n
            count += n
    return total / count, count


def perplexity(model, blocks: np.ndarray, batch_size: int = 16) -> float:
    """exp of the token-weighted mean NLL of ``model`` over ``blocks`` (see ``mean_nll``)."""
    return float(math.exp(mean_nll(model, blocks, batch_size)[0]))


# ---------------------------------------------------------------------------- settings
def _config_name(config: str) -> str:
    return config if config in MODEL_CONFIGS else Path(config).stem


def _model_fields(config: str) -> dict[str, Any]:
    if config in MODEL_CONFIGS:
        return dict(MODEL_CONFIGS[config])
    p = Path(config)
    if p.suffix != ".json" and not p.is_file():
        raise TrainJobError(f"unknown --config {config!r}: use {', '.join(MODEL_CONFIGS)} or a "
                            "JSON file of GPT2Config fields")
    try:
        fields = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainJobError(f"no such config file: {config}") from None
    except ValueError as err:
        raise TrainJobError(f"{config} is not valid JSON ({err})") from None
    if not isinstance(fields, dict):
        raise TrainJobError(f"{config} must hold a JSON object of GPT2Config fields")
    return fields


def _arg(args: Any, name: str) -> Any:
    return getattr(args, name, None)


def resolve_settings(args: Any, saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job's settings: explicit arguments, else the saved job's (on --resume), else the
    config's defaults. An explicit ``num_train_epochs`` without ``max_steps`` trains by epochs."""
    config = _arg(args, "config") or (saved or {}).get("config") or "small"
    fields = _model_fields(config)
    base = dict(saved) if saved else dict(JOB_DEFAULTS.get(config, JOB_DEFAULTS["small"]))
    if not saved and config not in MODEL_CONFIGS:
        n_pos = int(fields.get("n_positions", 1024))
        base["block_size"] = min(base["block_size"], n_pos)
        if "vocab_size" in fields:
            base["vocab_size"] = int(fields["vocab_size"])
    s = {**base, "config": config}
    explicit = {k: _arg(args, k) for k in SETTINGS if _arg(args, k) is not None}
    if "num_train_epochs" in explicit and "max_steps" not in explicit:
        s["max_steps"] = None
    s.update(explicit)
    n_pos = int(fields.get("n_positions", 1024))
    if s["block_size"] > n_pos:
        raise TrainJobError(f"--block-size {s['block_size']} exceeds the model's n_positions "
                            f"({n_pos})")
    if s["block_size"] < 2:
        raise TrainJobError("--block-size must be at least 2")
    if s["vocab_size"] < 257:
        raise TrainJobError("--vocab-size must be at least 257 (256 bytes + <|endoftext|>)")
    if s["max_steps"] is None and s["num_train_epochs"] is None:
        raise TrainJobError("give --max-steps or --num-train-epochs")
    return s


def _training_arguments(s: dict[str, Any], output_dir: str):
    from .training_args import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir, seed=s["seed"],
        per_device_train_batch_size=s["batch_size"],
        per_device_eval_batch_size=max(s["batch_size"], 16),
        gradient_accumulation_steps=s["gradient_accumulation_steps"],
        learning_rate=s["learning_rate"], weight_decay=s["weight_decay"],
        warmup_steps=s["warmup_steps"], lr_scheduler_type=s["lr_scheduler_type"],
        max_steps=s["max_steps"] if s["max_steps"] is not None else -1,
        num_train_epochs=s["num_train_epochs"] if s["num_train_epochs"] is not None else 1.0,
        logging_strategy="steps", logging_steps=s["logging_steps"], logging_first_step=True,
        eval_strategy="steps", eval_steps=s["eval_steps"],
        save_strategy="steps", save_steps=s["save_steps"],
        save_total_limit=s["save_total_limit"], report_to="none", disable_tqdm=True)


# ---------------------------------------------------------------------------- the run folder
def _checkpoints(folder: Path) -> list[str]:
    from .checkpoint import sort_checkpoints

    return sort_checkpoints(str(folder)) if folder.is_dir() else []


def _prepare_folder(out: Path, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """Check the run folder for this invocation; the saved job settings when resuming."""
    from .checkpoint import get_last_checkpoint

    has_run = bool(_checkpoints(out)) or (out / JOB_FILE).exists() \
        or (out / "model.safetensors").exists()
    if resume:
        if overwrite:
            raise TrainJobError("--resume and --overwrite contradict each other")
        if get_last_checkpoint(str(out)) is None:
            raise TrainJobError(f"--resume: no complete checkpoint in {out} to continue from")
        job = out / JOB_FILE
        if not job.is_file():
            raise TrainJobError(f"--resume: {job} is missing; was {out} written by ember train?")
        return json.loads(job.read_text(encoding="utf-8"))
    if has_run:
        if not overwrite:
            last = _checkpoints(out)
            what = f"checkpoints ({Path(last[-1]).name} is the last)" if last else "a run"
            raise TrainJobError(f"{out} already holds {what}: pass --resume to continue it, "
                                "--overwrite to start over, or another --output-dir")
        for ckpt in _checkpoints(out):
            shutil.rmtree(ckpt)
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
    return None


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- interruption
class _InterruptGuard:
    """Ctrl-C during training, made safe.

    The first SIGINT only raises a flag: the callback stops the Trainer at the end of the current
    optimizer step and has it write a checkpoint there. A second SIGINT raises KeyboardInterrupt
    at once. For a KeyboardInterrupt raised anywhere inside ``train()`` the guard knows where the
    loop was (``phase``): between steps, the state is complete; inside a step before the
    optimizer update, the weights are still those of the last step and only the random
    generators moved (dropout), so they are put back from the snapshot taken at the step's
    start; during the update itself nothing can be saved and the last checkpoint stands."""

    def __init__(self) -> None:
        from .callbacks import TrainerCallback

        guard = self
        self.requested = False
        self.phase = "between"
        self._rng: tuple | None = None
        self._previous = None

        class _Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                guard.phase = "between"

            def on_step_begin(self, args, state, control, **kwargs):
                guard._rng = _capture_rng()
                guard.phase = "step"

            def on_pre_optimizer_step(self, args, state, control, **kwargs):
                guard.phase = "update"

            def on_step_end(self, args, state, control, **kwargs):
                guard.phase = "between"
                if guard.requested:
                    control.should_save = True
                    control.should_training_stop = True

        self.callback = _Callback()

    def _on_sigint(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: finishing this step and saving a checkpoint (Ctrl-C again to stop "
              "now)", file=sys.stderr, flush=True)

    def __enter__(self) -> _InterruptGuard:
        self._installed = False
        with contextlib.suppress(ValueError):  # not the main thread: no handler
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None
                          else signal.default_int_handler)

    def save_after_interrupt(self, trainer) -> str | None:
        """After a KeyboardInterrupt out of ``train()``: write a checkpoint at the last complete
        step when the state allows it; the checkpoint path, else None."""
        from .checkpoint import get_last_checkpoint

        step = trainer.state.global_step
        if self.phase == "update" or step == 0:
            return None
        if self.phase == "step" and self._rng is not None:
            _restore_rng(self._rng)
            trainer.model.zero_grad()
        path = os.path.join(trainer.args.output_dir, f"checkpoint-{step}")
        last = get_last_checkpoint(trainer.args.output_dir)
        if last is None or os.path.abspath(last) != os.path.abspath(path):
            trainer._save_checkpoint(trainer.model)
        return path


def _capture_rng() -> tuple:
    from ..autograd import random as ember_random

    return random.getstate(), np.random.get_state(), ember_random.get_rng_state()


def _restore_rng(st: tuple) -> None:
    from ..autograd import random as ember_random

    random.setstate(st[0])
    np.random.set_state(st[1])
    ember_random.set_rng_state(st[2])


class _Interrupted(Exception):
    def __init__(self, checkpoint: str | None, step: int) -> None:
        super().__init__(checkpoint)
        self.checkpoint = checkpoint
        self.step = step


# ---------------------------------------------------------------------------- progress
def _progress_callback(t0: float):
    from .callbacks import TrainerCallback

    class _Progress(TrainerCallback):
        """One line per log: step, train loss, learning rate, eval loss/perplexity, time."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            step = f"step {state.global_step:>5}/{state.max_steps}"
            el = time.perf_counter() - t0
            done = state.global_step - getattr(self, "first", 0)
            if not hasattr(self, "first"):
                self.first, self.t_first = state.global_step, el
                eta = ""
            else:
                rate = (el - self.t_first) / max(done, 1)
                eta = f"  eta {(state.max_steps - state.global_step) * rate:5.0f}s"
            if "loss" in logs:
                print(f"  {step}  loss {logs['loss']:.4f}  lr {logs['learning_rate']:.2e}  "
                      f"{el:6.1f}s{eta}", flush=True)
            elif "eval_loss" in logs:
                print(f"  {step}  eval loss {logs['eval_loss']:.4f}  "
                      f"ppl {math.exp(min(logs['eval_loss'], 50)):.2f}", flush=True)

    return _Progress()


def _fmt_time(s: float) -> str:
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m {s % 60:04.1f}s"


# ---------------------------------------------------------------------------- the job
def run(args: Any, callbacks: Sequence | None = None) -> int:
    """Run the ``ember train`` job described by ``args`` (the CLI's namespace: ``files``,
    ``output_dir``, ``config``, ``resume``, ``overwrite`` and the settings in ``SETTINGS``,
    None meaning the default). ``callbacks`` are extra Trainer callbacks. Returns the exit
    code: 0 done, 130 interrupted (a checkpoint to resume from was written when possible).
    Problems with the inputs raise ``TrainJobError``."""
    t_start = time.perf_counter()
    phases: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(name: str, what: str):
        print(f"[{name}] {what}", flush=True)
        t = time.perf_counter()
        yield
        phases[name] = time.perf_counter() - t
        print(f"[{name}] done in {_fmt_time(phases[name])}", flush=True)

    resume, overwrite = bool(_arg(args, "resume")), bool(_arg(args, "overwrite"))
    files = list(_arg(args, "files") or [])
    out_arg = _arg(args, "output_dir")
    if out_arg is None:
        config = _arg(args, "config") or "small"
        out_arg = os.path.join("runs", f"ember-gpt2-{_config_name(config)}")
    out = Path(out_arg)
    saved_job = _prepare_folder(out, resume, overwrite)
    saved = saved_job["settings"] if saved_job else None
    s = resolve_settings(args, saved)
    if saved_job:
        if files and [str(f) for f in files] != saved_job["files"]:
            was = ", ".join(saved_job["files"]) or "the built-in CPython docs"
            raise TrainJobError(f"--resume: the run was trained on {was}, not "
                                f"{', '.join(map(str, files))}")
        files = list(saved_job["files"])
        for key in _FIXED_ON_RESUME:
            if s[key] != saved[key]:
                raise TrainJobError(f"--resume: {key} was {saved[key]!r} in this run, not "
                                    f"{s[key]!r}; it cannot change when resuming")
        changed = [k for k in SETTINGS if s[k] != saved[k]]
        if changed:
            print("note: changed since the run started: " + ", ".join(
                f"{k} {saved[k]} -> {s[k]}" for k in changed) + " (the result will differ "
                "from an uninterrupted run)", flush=True)
    with _blas_threads(s["threads"]):
        return _job(s, files, out, resume, saved_job, callbacks, phase, phases, t_start)


@contextlib.contextmanager
def _blas_threads(n: int | None):
    """Limit the BLAS pool to ``n`` threads (threadpoolctl, when installed). On a shared 2-core
    machine OpenBLAS's extra thread spin-waits for a busy core: steps measured 5-20x slower than
    with one thread. The same count on resume keeps the arithmetic identical."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if not n or threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _job(s: dict[str, Any], files: list, out: Path, resume: bool, saved_job: dict | None,
         callbacks: Sequence | None, phase, phases: dict[str, float], t_start: float) -> int:
    import ember

    from ..models.gpt2 import GPT2Config, GPT2LMHeadModel
    from ..tokenizers import PreTrainedTokenizerFast
    from .trainer import Trainer

    model_fields = _model_fields(s["config"])
    print(f"ember train: config {s['config']}, output {out}" + (" (resuming)" if resume else "")
          + f", {s['threads'] or 'all'} BLAS thread(s)", flush=True)
    with phase("texts", "loading " + (", ".join(files) if files else
                                      "the CPython documentation (pydoc_data.topics)")):
        train_docs, val_docs = load_texts(files)
        fingerprint = texts_fingerprint(train_docs, val_docs)
        print(f"  {len(train_docs)} training documents ({sum(map(len, train_docs)):,} "
              f"characters), {len(val_docs)} held out ({sum(map(len, val_docs)):,})")
    if saved_job and saved_job.get("texts_sha256") != fingerprint:
        raise TrainJobError("--resume: the text differs from the one this run was trained on")

    n_positions = int(model_fields.get("n_positions", 1024))
    with phase("tokenizer", "loading the run's tokenizer" if resume else
               f"training a byte-level BPE (vocab {s['vocab_size']})"):
        if resume:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(out))
        else:
            tokenizer = train_tokenizer(train_docs, s["vocab_size"],
                                        model_max_length=n_positions)
        vocab = len(tokenizer)
        print(f"  {vocab} tokens; eos {tokenizer.eos_token!r} = {tokenizer.eos_token_id}")
    with phase("data", f"tokenizing and cutting blocks of {s['block_size']} tokens"):
        train_ids = encode_documents(tokenizer, train_docs)
        val_ids = encode_documents(tokenizer, val_docs)
        train_blocks = build_blocks(train_ids, s["block_size"])
        val_blocks = build_blocks(val_ids, s["block_size"])
        print(f"  train: {len(train_ids):,} tokens -> {len(train_blocks)} blocks; validation: "
              f"{len(val_ids):,} tokens -> {len(val_blocks)} blocks")
    if len(train_blocks) == 0:
        raise TrainJobError(f"not enough text for one training block of {s['block_size']} "
                            "tokens")
    if len(val_blocks) == 0:
        raise TrainJobError(f"the held-out text ({len(val_ids)} tokens) is shorter than one "
                            f"block of {s['block_size']}: give more text or a smaller "
                            "--block-size")

    ember.manual_seed(s["seed"])
    fields = {**model_fields, "vocab_size": vocab, "bos_token_id": tokenizer.eos_token_id,
              "eos_token_id": tokenizer.eos_token_id}
    try:
        config = GPT2Config(**fields)
    except (TypeError, ValueError) as err:
        raise TrainJobError(f"bad model config: {err}") from None
    model = GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"[model] GPT-2: {config.n_layer} layers, n_embd {config.n_embd}, {config.n_head} "
          f"heads, n_positions {config.n_positions}, vocab {vocab}: {n_params / 1e6:.2f}M "
          "parameters", flush=True)

    if not resume:  # what --resume reads back: the tokenizer and the settings
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(str(out))
        _write_json(out / JOB_FILE, {"settings": s, "files": [str(f) for f in files],
                                     "texts_sha256": fingerprint,
                                     "ember_version": getattr(ember, "__version__", None),
                                     "python": sys.version.split()[0]})

    from ..data.data_collator import default_data_collator

    targs = _training_arguments(s, str(out))
    guard = _InterruptGuard()
    t_train = time.perf_counter()
    trainer = Trainer(model=model, args=targs,
                      train_dataset=_lm_examples(train_blocks),
                      eval_dataset=_lm_examples(val_blocks),
                      data_collator=default_data_collator,
                      processing_class=tokenizer,
                      callbacks=[guard.callback, _progress_callback(t_train),
                                 *(callbacks or [])])
    from .callbacks import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    interrupted: _Interrupted | None = None
    with phase("training", "training" + (" (resuming from the last checkpoint)"
                                         if resume else "")):
        try:
            interrupted = _train(trainer, guard, resume, out)
        except _Interrupted as err:
            interrupted = err
    if interrupted is not None:
        return _report_interrupt(interrupted, out)

    with phase("save", f"saving the final model and tokenizer to {out}"):
        trainer.save_model(str(out))
        trainer.state.save_to_json(str(out / "trainer_state.json"))

    with phase("evaluation", "validation and unigram perplexities"):
        nll, n_tokens = mean_nll(trainer.model, val_blocks, targs.per_device_eval_batch_size)
        val_ppl = math.exp(nll)
        uni_ppl = unigram_perplexity(train_ids, predicted_tokens(val_blocks), vocab)
        print(f"  validation perplexity {val_ppl:.3f} (mean NLL {nll:.4f} over {n_tokens:,} "
              f"tokens)\n  unigram baseline perplexity {uni_ppl:.3f} (add-one smoothed counts "
              "of the training tokens)")

    samples = []
    with phase("samples", "sampling from pipeline('text-generation')"):
        from ..pipelines import pipeline

        gen = pipeline("text-generation", model=str(out))
        for i, prompt in enumerate(SAMPLE_PROMPTS):
            text = gen(prompt, max_new_tokens=40, do_sample=True, temperature=0.8, top_k=50,
                       seed=s["seed"] + i)[0]["generated_text"]
            samples.append({"prompt": prompt, "text": text})
            print(f"--- {prompt!r}\n{text}")
        print("---")

    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    total = time.perf_counter() - t_start
    metrics = {
        "validation_perplexity": val_ppl, "validation_nll": nll,
        "unigram_perplexity": uni_ppl, "validation_tokens": n_tokens,
        "validation_blocks": len(val_blocks), "train_tokens": int(len(train_ids)),
        "train_blocks": len(train_blocks), "block_size": s["block_size"], "vocab_size": vocab,
        "num_parameters": n_params, "global_step": trainer.state.global_step,
        "first_train_loss": losses[0] if losses else None,
        "final_train_loss": losses[-1] if losses else None,
        "settings": s, "phase_seconds": {k: round(v, 3) for k, v in phases.items()},
        "wall_seconds": round(total, 3), "samples": samples,
    }
    _write_json(out / METRICS_FILE, metrics)
    ckpts = ", ".join(Path(c).name for c in _checkpoints(out)) or "none"
    print(f"\nember train: done in {_fmt_time(total)}  (" + ", ".join(
        f"{k} {_fmt_time(v)}" for k, v in phases.items()) + ")")
    print(f"  validation perplexity {val_ppl:.2f}  vs unigram baseline {uni_ppl:.2f}")
    print(f"  run folder {out}/: model (config.json, model.safetensors, generation_config.json),"
          f" tokenizer (tokenizer.json, tokenizer_config.json, special_tokens_map.json), "
          f"{METRICS_FILE}, trainer_state.json, {JOB_FILE}"
          + (", loss.png" if (out / "loss.png").exists() else "") + f"; checkpoints: {ckpts}")
    print(f"  try: ember generate {out} \"def \" --do-sample --seed 0")
    return 0


def _lm_examples(blocks: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Causal-LM rows as transformers' run_clm makes them: labels are a copy of the input ids
    (the model shifts them). All blocks have the same length, so nothing is padded and
    ``default_data_collator`` stacks them (a padding collator would need a pad token, and
    GPT-2's usual pad = eos would drop the eos targets from the loss)."""
    return [{"input_ids": b, "labels": b} for b in blocks]


def _train(trainer, guard: _InterruptGuard, resume: bool, out: Path) -> _Interrupted | None:
    """``trainer.train()`` under the interrupt guard; an ``_Interrupted`` when it was stopped
    before ``max_steps``, else None."""
    from .checkpoint import TRAINER_STATE_NAME, get_last_checkpoint, load_model_weights
    from .trainer_state import TrainerState

    if resume:
        last = get_last_checkpoint(str(out))
        done = TrainerState.load_from_json(os.path.join(last, TRAINER_STATE_NAME))
        if done.global_step >= done.max_steps > 0:  # finished: nothing left to train
            print(f"  {Path(last).name} already completed the training ({done.global_step} "
                  "steps)")
            load_model_weights(trainer.model, last)
            trainer.state = done
            return None
    with guard:
        try:
            trainer.train(resume_from_checkpoint=True if resume else None)
        except KeyboardInterrupt:
            raise _Interrupted(guard.save_after_interrupt(trainer),
                               trainer.state.global_step) from None
    if guard.requested and trainer.state.global_step < trainer.state.max_steps:
        from .checkpoint import get_last_checkpoint as last_ckpt

        return _Interrupted(last_ckpt(str(out)), trainer.state.global_step)
    return None


def _report_interrupt(err: _Interrupted, out: Path) -> int:
    from .checkpoint import get_last_checkpoint

    if err.checkpoint is not None:
        print(f"\ninterrupted: saved {err.checkpoint} (step {err.step})", file=sys.stderr)
    else:
        last = get_last_checkpoint(str(out))
        print("\ninterrupted " + ("during a weight update: nothing saved; " if err.step else
                                  "before the first step finished; ")
              + (f"the last complete checkpoint is {last}" if last else "no checkpoint yet"),
              file=sys.stderr)
        if last is None:
            return 130
    print(f"resume with: ember train --output-dir {out} --resume", file=sys.stderr, flush=True)
    return 130
