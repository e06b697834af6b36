"""``ember train`` (ember/trainer/pretrain.py): the pretraining job end to end, checked against
transformers (loading, tokenizer ids, perplexity), an independent unigram baseline, and
interruption + ``--resume`` giving bit-identical weights."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ember.cli import build_parser, main
from ember.models.safetensors_io import load_file
from ember.trainer import TrainerCallback
from ember.trainer import pretrain

# a tiny model on a short run: the whole job takes a few seconds
TINY = ["--config", "tiny", "--vocab-size", "1024", "--block-size", "32", "--batch-size", "4",
        "--max-steps", "12", "--logging-steps", "2", "--eval-steps", "6", "--save-steps", "6",
        "--learning-rate", "3e-3", "--warmup-steps", "2"]
RUN_FILES = ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json", "metrics.json",
             "trainer_state.json", "train_job.json", "training_args.json")


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _run(argv: list[str], callbacks=None) -> tuple[int, str, str]:
    """pretrain.run with extra Trainer callbacks (what the CLI cannot pass)."""
    args = build_parser().parse_args(["train", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pretrain.run(args, callbacks=callbacks)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The default text (CPython docs), tiny config, 12 steps."""
    folder = tmp_path_factory.mktemp("train") / "run"
    rc, out, err = _main(["train", *TINY, "--output-dir", str(folder)])
    assert rc == 0, err
    return folder, out


@pytest.fixture(scope="module")
def splits():
    return pretrain.load_texts()


@pytest.fixture(scope="module")
def hf(tiny_run):
    import transformers
    folder, _ = tiny_run
    model = transformers.GPT2LMHeadModel.from_pretrained(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    return model.eval(), tok


def _hf_stream(tok, docs: list[str]) -> list[int]:
    """Documents tokenized by transformers, each followed by eos (built independently)."""
    ids: list[int] = []
    for d in docs:
        ids += tok(d, add_special_tokens=False, verbose=False)["input_ids"] + [tok.eos_token_id]
    return ids


# ---------------------------------------------------------------------------- the run folder
def test_run_writes_everything(tiny_run):
    folder, out = tiny_run
    for name in RUN_FILES:
        assert (folder / name).is_file(), name
    assert sorted(p.name for p in folder.glob("checkpoint-*")) == ["checkpoint-12",
                                                                    "checkpoint-6"]
    assert (folder / "checkpoint-12" / "trainer_state.json").is_file()
    m = json.loads((folder / "metrics.json").read_text())
    assert m["global_step"] == 12 and m["block_size"] == 32 and m["vocab_size"] <= 1024
    assert m["validation_blocks"] > 0 and m["validation_tokens"] == m["validation_blocks"] * 31
    assert len(m["samples"]) == 3
    assert [s["prompt"] for s in m["samples"]] == list(pretrain.SAMPLE_PROMPTS)
    assert all(s["text"].startswith(s["prompt"]) for s in m["samples"])
    assert set(m["phase_seconds"]) >= {"texts", "tokenizer", "data", "training", "evaluation",
                                       "samples"}
    assert f"validation perplexity {m['validation_perplexity']:.3f}" in out
    assert "--- 'def '" in out and "done in" in out
    config = json.loads((folder / "config.json").read_text())
    assert (config["n_layer"], config["n_embd"], config["n_head"]) == (2, 64, 4)
    assert config["vocab_size"] == m["vocab_size"]
    assert config["resid_pdrop"] == 0.1  # transformers' dropout defaults


def test_loss_falls(tiny_run):
    folder, _ = tiny_run
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert any("eval_loss" in h for h in history)  # eval_strategy="steps"
    m = json.loads((folder / "metrics.json").read_text())
    assert m["final_train_loss"] < m["first_train_loss"]


# ---------------------------------------------------------------------------- transformers
def test_transformers_tokenizer_ids_match(tiny_run, hf, splits):
    from ember.tokenizers import AutoTokenizer

    folder, _ = tiny_run
    _, hf_tok = hf
    ours = AutoTokenizer.from_pretrained(str(folder))
    assert hf_tok.eos_token == hf_tok.bos_token == "<|endoftext|>"
    assert len(hf_tok) == len(ours)
    _, val = splits
    for doc in val:
        assert hf_tok(doc, add_special_tokens=False, verbose=False)["input_ids"] == \
            ours.backend_tokenizer.encode(doc, add_special_tokens=False).ids
    stream = pretrain.encode_documents(ours, val)
    assert stream.tolist() == _hf_stream(hf_tok, val)


def test_transformers_perplexity_matches(tiny_run, hf, splits):
    import torch

    folder, _ = tiny_run
    model, tok = hf
    _, val = splits
    ids = np.array(_hf_stream(tok, val))
    n = len(ids) // 32
    blocks = torch.tensor(ids[:n * 32].reshape(n, 32))
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, n, 16):
            x = blocks[i:i + 16]
            k = x.shape[0] * (x.shape[1] - 1)
            total += model(input_ids=x, labels=x).loss.item() * k
            count += k
    m = json.loads((folder / "metrics.json").read_text())
    assert count == m["validation_tokens"]
    assert math.exp(total / count) == pytest.approx(m["validation_perplexity"], rel=1e-4)


def test_unigram_baseline_independent(tiny_run, hf, splits):
    folder, out = tiny_run
    _, tok = hf
    train, val = splits
    counts = Counter(_hf_stream(tok, train))
    n_train, vocab = sum(counts.values()), len(tok)
    ids = _hf_stream(tok, val)
    n = len(ids) // 32
    targets = [t for b in range(n) for t in ids[b * 32 + 1:(b + 1) * 32]]
    nll = -sum(math.log((counts[t] + 1) / (n_train + vocab)) for t in targets) / len(targets)
    expected = math.exp(nll)
    m = json.loads((folder / "metrics.json").read_text())
    assert m["unigram_perplexity"] == pytest.approx(expected, rel=1e-9)
    assert f"unigram baseline perplexity {expected:.3f}" in out


def test_splits_are_disjoint_and_deterministic(splits, tmp_path):
    train, val = splits
    assert (train, val) == pretrain.load_texts()
    paragraphs = {p for d in train for p in d.split("\n\n")}
    assert not paragraphs & {p for d in val for p in d.split("\n\n")}
    share = sum(map(len, val)) / sum(map(len, train + val))
    assert 0.04 < share < 0.15
    keys_train, keys_val = pretrain.split_pydoc(pretrain.pydoc_documents())
    assert keys_val and not set(keys_train) & set(keys_val)
    # files: each file's tail (at a line boundary) is held out, nothing lost or repeated
    text = "".join(f"line {i}: " + "x" * (i % 7) + "\n" for i in range(400))
    f = tmp_path / "a.txt"
    f.write_text(text)
    (head,), (tail,) = pretrain.load_texts([f])
    assert head + tail == text and head.endswith("\n") and 0.03 < len(tail) / len(text) < 0.08


def test_blocks_and_unigram_helpers():
    blocks = pretrain.build_blocks(np.arange(10), 3)
    assert blocks.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert pretrain.predicted_tokens(blocks).tolist() == [1, 2, 4, 5, 7, 8]
    # counts {0: 2, 1: 1}, V = 3: p = 3/6, 2/6, 1/6
    ppl = pretrain.unigram_perplexity([0, 0, 1], [0, 2], vocab_size=3)
    assert ppl == pytest.approx(math.exp(-(math.log(3 / 6) + math.log(1 / 6)) / 2))


# ---------------------------------------------------------------------------- interruption
@pytest.fixture(scope="module")
def small_texts(tmp_path_factory):
    """Two short files, so an epoch is a few steps and resuming crosses epochs."""
    from pydoc_data.topics import topics

    d = tmp_path_factory.mktemp("texts")
    files = []
    for name, keys in (("a.txt", ["if", "while", "for"]), ("b.txt", ["try", "with"])):
        (d / name).write_text("\n\n".join(topics[k] for k in keys), encoding="utf-8")
        files.append(str(d / name))
    return files


def _resume_args(files: list[str], folder: Path) -> list[str]:
    return [*files, "--config", "tiny", "--vocab-size", "512", "--block-size", "32",
            "--batch-size", "8", "--gradient-accumulation-steps", "2", "--max-steps", "10",
            "--save-steps", "4", "--eval-steps", "5", "--logging-steps", "1",
            "--learning-rate", "3e-3", "--output-dir", str(folder)]


def _weights(folder: Path) -> dict[str, np.ndarray]:
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def reference(small_texts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "ref"
    rc, out, err = _run(_resume_args(small_texts, folder))
    assert rc == 0, err
    assert json.loads((folder / "metrics.json").read_text())["global_step"] == 10
    return _weights(folder)


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


class _At(TrainerCallback):
    """Act once in ``event`` when ``state.global_step == step``."""

    def __init__(self, event: str, step: int, action) -> None:
        self.step, self.action, self.done = step, action, False
        setattr(self, event, self._fire)

    def _fire(self, args, state, control, **kwargs):
        if state.global_step == self.step and not self.done:
            self.done = True
            self.action()


def _raise():
    raise KeyboardInterrupt


def _sigint():
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("event, at, action, saved, resumed_from", [
    # Ctrl-C (a real SIGINT) during step 5: the step finishes, checkpoint-5 is written
    ("on_step_begin", 4, _sigint, "checkpoint-5", 5),
    # KeyboardInterrupt half way through step 7 (after its first of 2 micro-batches): the
    # generators are put back to the step's start and checkpoint-6 is written
    ("on_substep_end", 6, _raise, "checkpoint-6", 6),
    # during the weight update of step 7: nothing can be saved; checkpoint-4 (the last
    # complete one, as after a hard kill) is where the run resumes
    ("on_optimizer_step", 6, _raise, None, 4),
])
def test_interrupt_then_resume_is_bit_identical(small_texts, reference, tmp_path, event, at,
                                                action, saved, resumed_from):
    folder = tmp_path / "run"
    args = _resume_args(small_texts, folder)
    rc, out, err = _run(args, callbacks=[_At(event, at, action)])
    assert rc == 130
    assert "resume with: ember train --output-dir" in err and "--resume" in err
    if saved is not None:
        assert f"saved {folder / saved}" in err
    else:
        assert "nothing saved" in err and "checkpoint-4" in err
    assert not (folder / "model.safetensors").exists()
    last = max(int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*"))
    assert last == resumed_from
    assert not list(folder.glob(".tmp-*"))
    # reusing the folder without --resume is an error
    rc, _, err2 = _main(["train", *args])
    assert rc == 2 and "--resume" in err2 and "already holds checkpoints" in err2
    # --resume alone: files and settings come from the run's train_job.json
    rc, out, err = _main(["train", "--output-dir", str(folder), "--resume"])
    assert rc == 0, err
    assert "(resuming)" in out
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    assert history[-1]["step"] == 10
    _assert_same(_weights(folder), reference)


def test_overwrite_reproduces_and_resume_errors(small_texts, reference, tmp_path):
    folder = tmp_path / "run"
    rc, _, err = _main(["train", "--output-dir", str(folder), "--resume"])
    assert rc == 2 and "no complete checkpoint" in err
    args = _resume_args(small_texts, folder)
    assert _run(args)[0] == 0
    rc, _, err = _run([*args, "--overwrite"])
    assert rc == 0, err
    _assert_same(_weights(folder), reference)  # same settings, same seed: same weights
    # resuming with a setting that changes the data is refused
    rc, _, err = _main(["train", "--output-dir", str(folder), "--resume", "--block-size", "16"])
    assert rc == 2 and "block_size" in err


def test_cli_train_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    assert "--resume" in capsys.readouterr().out
    rc, _, err = _main(["train", str(tmp_path / "missing.txt"), "--output-dir",
                        str(tmp_path / "r")])
    assert rc == 2 and "no such file" in err
    rc, _, err = _main(["train", "--config", "tiny", "--block-size", "4096", "--output-dir",
                        str(tmp_path / "r2")])
    assert rc == 2 and "n_positions" in err


def test_json_config_and_default_output_dir(small_texts, tmp_path, monkeypatch):
    cfg = tmp_path / "mycfg.json"
    cfg.write_text(json.dumps({"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 64,
                               "resid_pdrop": 0.0}))
    monkeypatch.chdir(tmp_path)
    rc, out, err = _main(["train", *small_texts, "--config", str(cfg), "--vocab-size", "300",
                          "--max-steps", "2", "--block-size", "32"])
    assert rc == 0, err
    folder = tmp_path / "runs" / "ember-gpt2-mycfg"
    config = json.loads((folder / "config.json").read_text())
    assert (config["n_layer"], config["n_embd"], config["n_positions"]) == (1, 32, 64)
    assert config["resid_pdrop"] == 0.0 and config["embd_pdrop"] == 0.1
    assert json.loads((folder / "metrics.json").read_text())["global_step"] == 2
