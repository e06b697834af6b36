"""GPT-2 against ``transformers``: checkpoints written by transformers load into ember and give
the same outputs, losses and gradients; ember's checkpoints load back into transformers.

The reference is always transformers + torch on the same weights. Models are tiny (HF's tester
sizes) and the saved folders are module-scoped, so the file runs in seconds.
"""
from __future__ import annotations

import copy
import json
import os
import shutil

import numpy as np
import pytest
import torch
import transformers

from harness import spread_gpt2_weights_
from safetensors import safe_open
from safetensors.numpy import save_file

import ember
from ember.models import (
    AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification,
    AutoModelForTokenClassification, CheckpointMismatchError, ConfigError, count_parameters,
)
from ember.models.cache_utils import DynamicCache
from ember.models.gpt2 import (
    GPT2Config, GPT2ForSequenceClassification, GPT2ForTokenClassification, GPT2LMHeadModel,
    GPT2Model,
)

transformers.logging.set_verbosity_error()

PAD = 0
TINY = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=98, eos_token_id=98, pad_token_id=PAD,
            classifier_dropout=0.0)
LABELS = {0: "neg", 1: "neu", 2: "pos"}
CLASSES = {  # ours -> transformers' class name
    "base": (GPT2Model, "GPT2Model"),
    "lm": (GPT2LMHeadModel, "GPT2LMHeadModel"),
    "seq": (GPT2ForSequenceClassification, "GPT2ForSequenceClassification"),
    "tok": (GPT2ForTokenClassification, "GPT2ForTokenClassification"),
}
TOL = 1e-4


def _hf_model(kind: str, seed: int = 0):
    """A transformers model with weights on a scale where mistakes show (HF's own init, std
    0.02 and LayerNorm 1/0, makes a tiny model nearly linear and hides e.g. a skipped LN)."""
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(**TINY, id2label=LABELS)
    model = getattr(transformers, CLASSES[kind][1])(cfg)
    return spread_gpt2_weights_(model)


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """kind -> (transformers model (sdpa), transformers model (eager), saved folder)."""
    out = {}
    for i, kind in enumerate(CLASSES):
        model = _hf_model(kind, seed=i)
        folder = str(tmp_path_factory.mktemp(f"hf_{kind}"))
        model.save_pretrained(folder)
        eager = getattr(transformers, CLASSES[kind][1]).from_pretrained(
            folder, attn_implementation="eager").eval()
        out[kind] = (model, eager, folder)
    return out


# -- helpers -------------------------------------------------------------------------------------
def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().numpy()
    return np.asarray(x.detach().data if isinstance(x, ember.Tensor) else x)


def _close(ours, ref, tol: float = TOL, what: str = "") -> None:
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    err = np.abs(a.astype(np.float64) - b).max() if a.size else 0.0
    assert err <= tol, f"{what}: max abs diff {err:.3g} > {tol}"


def _grads_close(ours, ref, what: str) -> None:
    a, b = _np(ours), _np(ref)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(b).max()) * 0.1,
                               err_msg=what)


def _ids(B: int = 3, T: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 98, (B, T)).astype(np.int64)


def _inputs(padding: str) -> tuple[np.ndarray, np.ndarray | None]:
    """ids (3, 9) and a mask: none, all ones, left or right padding (pads hold PAD)."""
    ids = _ids()
    if padding == "none":
        return ids, None
    mask = np.ones_like(ids)
    if padding == "left":
        mask[1, :3] = 0
        mask[2, :6] = 0
    elif padding == "right":
        mask[1, 6:] = 0
        mask[2, 2:] = 0
    ids[mask == 0] = PAD
    return ids, mask


def _t(x):
    return None if x is None else torch.tensor(x)


def _valid(x, mask) -> np.ndarray:
    """Rows of x (B, T, ...) at the non-padding positions, concatenated."""
    x = _np(x)
    if mask is None:
        return x.reshape((-1,) + x.shape[2:])
    return np.concatenate([x[b, mask[b] == 1] for b in range(x.shape[0])])


def _valid_queries(a, mask) -> np.ndarray:
    """Attention probabilities (B, nh, T, S) at the non-padding query rows."""
    a = _np(a)
    if mask is None:
        return a
    return np.concatenate([a[b][:, mask[b] == 1].reshape(-1) for b in range(a.shape[0])])


def _read_json(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _main(kind: str, out):
    return out.last_hidden_state if kind == "base" else out.logits


# -- forward parity ------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", ["none", "ones", "left", "right"])
@pytest.mark.parametrize("kind", list(CLASSES))
def test_forward_matches_transformers(hf, kind, padding):
    model, eager, folder = hf[kind]
    ours = CLASSES[kind][0].from_pretrained(folder)
    ids, mask = _inputs(padding)
    with torch.no_grad():  # eager: transformers returns attention probabilities only there
        ref = eager(_t(ids), attention_mask=_t(mask), output_hidden_states=True,
                    output_attentions=True)
        default = model(_t(ids), attention_mask=_t(mask))  # sdpa: transformers' default
    with ember.no_grad():
        out = ours(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        plain = ours(ids, attention_mask=mask)  # the fused SDPA path
    if kind == "seq":  # pooled (B, labels): one row per sequence
        _close(out.logits, ref.logits, what="pooled logits")
        _close(plain.logits, ref.logits, what="pooled logits (sdpa)")
    else:
        _close(_valid(_main(kind, out), mask), _valid(_main(kind, ref), mask), what=kind)
        _close(_valid(_main(kind, plain), mask), _valid(_main(kind, ref), mask), what="sdpa")
    assert len(out.hidden_states) == len(ref.hidden_states) == TINY["n_layer"] + 1
    for i, (a, b) in enumerate(zip(out.hidden_states, ref.hidden_states)):
        _close(_valid(a, mask), _valid(b, mask), what=f"hidden_states[{i}]")
    assert len(out.attentions) == len(ref.attentions) == TINY["n_layer"]
    for i, (a, b) in enumerate(zip(out.attentions, ref.attentions)):
        _close(_valid_queries(a, mask), _valid_queries(b, mask), what=f"attentions[{i}]")
    for t in (_main(kind, out), _main(kind, plain), *out.hidden_states, *out.attentions):
        assert np.isfinite(_np(t)).all(), "padding produced NaN/inf"
    # padding positions too: a query that sees no key gets a zero attention output, as in
    # transformers' default (sdpa) path; it matters for left-padded causal-LM losses
    _close(_main(kind, plain), _main(kind, default), what="all positions (sdpa)")
    _close(_main(kind, out), _main(kind, default), what="all positions (explicit attention)")


def test_token_types_positions_and_inputs_embeds(hf):
    model, _, folder = hf["lm"]
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ids = _ids()
    rng = np.random.default_rng(4)
    types = rng.integers(0, 3, ids.shape)
    pos = rng.integers(0, 64, ids.shape)
    with torch.no_grad():
        ref = model(_t(ids), token_type_ids=_t(types), position_ids=_t(pos)).logits
        embeds = model.transformer.wte(_t(ids)).numpy()
        ref_embeds = model(inputs_embeds=torch.tensor(embeds)).logits
    with ember.no_grad():
        _close(ours(ids, token_type_ids=types, position_ids=pos).logits, ref)
        _close(ours(inputs_embeds=ember.tensor(embeds)).logits, ref_embeds)
    with pytest.raises(ValueError, match="exactly one"):
        ours(ids, inputs_embeds=ember.tensor(embeds))
    with pytest.raises(IndexError, match="n_positions"):
        ours(_ids(B=1, T=65))


def _labels(kind: str, ids: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "seq":
        return rng.integers(0, 3, ids.shape[0]).astype(np.int64)
    if kind == "tok":
        labels = rng.integers(0, 3, ids.shape).astype(np.int64)
    else:
        labels = ids.copy()
    labels[0, 2] = -100
    if mask is not None:
        labels[mask == 0] = -100
    return labels


@pytest.mark.parametrize("padding", ["none", "left", "right"])
@pytest.mark.parametrize("kind", ["lm", "seq", "tok"])
def test_loss_and_gradients_match(hf, kind, padding):
    model, _, folder = hf[kind]
    ref_model = copy.deepcopy(model).train()
    ours = CLASSES[kind][0].from_pretrained(folder).train()
    ids, mask = _inputs(padding)
    labels = _labels(kind, ids, mask)
    ref = ref_model(_t(ids), attention_mask=_t(mask), labels=_t(labels))
    ref.loss.backward()
    out = ours(ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    _close(out.loss, ref.loss, what="loss")
    ref_params = dict(ref_model.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert set(ours_params) == set(ref_params)
    for name, p in ours_params.items():
        assert p.grad is not None, name
        _grads_close(p.grad, ref_params[name].grad, name)
    if kind == "lm":  # the tied matrix got the embedding's and the head's gradient
        assert ours.lm_head.weight is ours.transformer.wte.weight


def test_base_model_gradients_match(hf):
    model, _, folder = hf["base"]
    ref_model = copy.deepcopy(model).train()
    ours = GPT2Model.from_pretrained(folder).train()
    ids, mask = _inputs("left")
    w = np.random.default_rng(2).standard_normal((3, 9, 32)).astype(np.float32)
    w[mask == 0] = 0  # a loss that ignores the padding positions
    ref = ref_model(_t(ids), attention_mask=_t(mask)).last_hidden_state
    (ref * torch.tensor(w)).sum().backward()
    out = ours(ids, attention_mask=mask).last_hidden_state
    (out * ember.tensor(w)).sum().backward()
    ref_params = dict(ref_model.named_parameters())
    for name, p in ours.named_parameters():
        _grads_close(p.grad, ref_params[name].grad, name)


def test_sequence_classification_problem_types(hf):
    model, _, folder = hf["seq"]
    ids, mask = _inputs("right")
    rng = np.random.default_rng(3)
    multi = rng.integers(0, 2, (3, 3)).astype(np.float32)
    values = rng.standard_normal((3, 3)).astype(np.float32)
    for problem, labels in (("multi_label_classification", multi), ("regression", values)):
        ref_model = copy.deepcopy(model)
        ours = GPT2ForSequenceClassification.from_pretrained(folder)
        if problem == "regression":  # float labels with 3 outputs would mean multi-label
            ref_model.config.problem_type = ours.config.problem_type = problem
        with torch.no_grad():
            ref = ref_model(_t(ids), attention_mask=_t(mask), labels=_t(labels))
        out = ours(ids, attention_mask=mask, labels=labels)
        assert ours.config.problem_type == ref_model.config.problem_type == problem
        _close(out.loss, ref.loss, what=problem)

    # one output: regression (MSE of the squeezed logits), from a base checkpoint + same head
    base_folder = hf["base"][2]
    ref_model = transformers.GPT2ForSequenceClassification.from_pretrained(
        base_folder, num_labels=1).eval()
    ours = GPT2ForSequenceClassification.from_pretrained(base_folder, num_labels=1)
    ours.score.weight.data = ref_model.score.weight.detach().numpy().copy()
    target = rng.standard_normal(3).astype(np.float32)
    with torch.no_grad():
        ref = ref_model(_t(ids), attention_mask=_t(mask), labels=_t(target))
    out = ours(ids, attention_mask=mask, labels=target)
    assert ours.config.problem_type == "regression"
    _close(out.logits, ref.logits)
    _close(out.loss, ref.loss, what="regression")


def test_sequence_classification_needs_pad_token_for_batches(hf):
    ours = GPT2ForSequenceClassification.from_pretrained(hf["seq"][2], pad_token_id=None)
    with pytest.raises(ValueError, match="padding token"):
        ours(_ids())
    assert ours(_ids(B=1)).logits.shape == (1, 3)


def test_return_dict_false_tuple_order(hf):
    model, _, folder = hf["lm"]
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ids = _ids()
    with torch.no_grad():
        ref = model(_t(ids), labels=_t(ids), return_dict=False, output_hidden_states=True)
    out = ours(ids, labels=ids, return_dict=False, output_hidden_states=True)
    assert isinstance(out, tuple) and len(out) == len(ref) == 4
    _close(out[0], ref[0], what="loss")
    _close(out[1], ref[1], what="logits")
    assert isinstance(out[2], DynamicCache)
    assert len(out[3]) == len(ref[3])
    base = GPT2Model.from_pretrained(hf["base"][2])
    out = base(ids, return_dict=False, use_cache=False)
    assert len(out) == 1 and out[0].shape == (3, 9, 32)
    tok = GPT2ForTokenClassification.from_pretrained(hf["tok"][2])
    out = tok(ids, return_dict=False)
    assert len(out) == 1 and out[0].shape == (3, 9, 3)


# -- KV cache ------------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_kv_cache_matches_full_recompute(hf, legacy):
    model, _, folder = hf["lm"]
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ids = _ids(B=2, T=12, seed=5)
    with torch.no_grad():
        full = model(_t(ids)).logits
    with ember.no_grad():
        out = ours(ids[:, :4], use_cache=True)
        _close(out.logits, full[:, :4], what="prompt")
        t = 4
        for step in (1, 1, 1, 3, 2):
            past = out.past_key_values
            assert isinstance(past, DynamicCache) and past.get_seq_length() == t
            if legacy:
                past = past.to_legacy_cache()
                assert isinstance(past, tuple) and len(past) == TINY["n_layer"]
            out = ours(ids[:, t:t + step], past_key_values=past, use_cache=True)
            _close(out.logits, full[:, t:t + step], what=f"tokens {t}..{t + step}")
            t += step
        assert out.past_key_values.get_seq_length() == 12
        recomputed = ours(ids).logits
    _close(recomputed[:, -1], full[:, -1])


def test_left_padded_batch_equals_one_by_one(hf):
    """Generation's recipe: left padding, position ids from the mask, then cached steps."""
    model, _, folder = hf["lm"]
    ours = GPT2LMHeadModel.from_pretrained(folder)
    rng = np.random.default_rng(7)
    seqs = [rng.integers(1, 98, n) for n in (7, 3, 5)]
    steps = rng.integers(1, 98, (3, 3))
    T = 7
    ids = np.full((3, T), PAD)
    mask = np.zeros((3, T), np.int64)
    for b, s in enumerate(seqs):
        ids[b, T - len(s):] = s
        mask[b, T - len(s):] = 1
    pos = np.clip(mask.cumsum(-1) - 1, 0, None)
    with ember.no_grad():
        out = ours(ids, attention_mask=mask, position_ids=pos, use_cache=True)
        step_logits = []
        for j in range(steps.shape[1]):
            mask = np.concatenate([mask, np.ones((3, 1), np.int64)], axis=1)
            pos = pos[:, -1:] + 1
            step = ours(steps[:, j:j + 1], attention_mask=mask, position_ids=pos,
                        past_key_values=out.past_key_values, use_cache=True)
            step_logits.append(_np(step.logits)[:, 0])
            out = step
            assert np.isfinite(_np(step.logits)).all()
    first = ours(ids, attention_mask=mask[:, :T], position_ids=np.clip(
        mask[:, :T].cumsum(-1) - 1, 0, None)).logits
    for b, s in enumerate(seqs):
        full = np.concatenate([s, steps[b]])
        with torch.no_grad():
            ref = model(_t(full[None])).logits[0]
        _close(_np(first)[b, T - len(s):], ref[:len(s)], what=f"row {b} prompt")
        for j in range(steps.shape[1]):
            _close(step_logits[j][b], ref[len(s) + j], what=f"row {b} step {j}")


def test_no_nan_in_training_with_left_padding(hf):
    ours = GPT2LMHeadModel.from_pretrained(hf["lm"][2]).train()
    ids, mask = _inputs("left")
    out = ours(ids, attention_mask=mask, labels=_labels("lm", ids, mask), output_attentions=True)
    out.loss.backward()
    for name, p in ours.named_parameters():
        assert np.isfinite(_np(p.grad)).all(), name


def test_dynamic_cache_api():
    rng = np.random.default_rng(0)
    kv = [(rng.standard_normal((2, 4, 3, 8)).astype(np.float32),
           rng.standard_normal((2, 4, 3, 8)).astype(np.float32)) for _ in range(2)]
    cache = DynamicCache()
    assert len(cache) == 0 and cache.get_seq_length() == 0
    for i, (k, v) in enumerate(kv):
        keys, values = cache.update(ember.tensor(k), ember.tensor(v), i)
        assert keys.shape == (2, 4, 3, 8)
    keys, values = cache.update(ember.tensor(kv[0][0][:, :, :1]), ember.tensor(kv[0][1][:, :, :1]),
                                0)
    assert keys.shape == (2, 4, 4, 8) and cache.get_seq_length(0) == 4
    assert cache.get_seq_length(1) == 3 and cache.get_kv_length(2, 1) == 5
    np.testing.assert_array_equal(_np(keys)[:, :, 3], kv[0][0][:, :, 0])
    assert len(cache) == 2 and len(list(cache)) == 2 and cache[1][0].shape == (2, 4, 3, 8)
    legacy = cache.to_legacy_cache()
    again = DynamicCache.from_legacy_cache(legacy)
    np.testing.assert_array_equal(_np(again[0][1]), _np(cache[0][1]))
    cache.crop(3)
    assert cache.get_seq_length(0) == 3
    cache.crop(-1)
    assert cache.get_seq_length(0) == 2
    cache.reorder_cache(np.array([1, 0]))
    np.testing.assert_array_equal(_np(cache[1][0]), kv[1][0][::-1, :, :2])
    cache.batch_select_indices([0])
    assert cache[0][0].shape == (1, 4, 2, 8)
    cache.batch_repeat_interleave(3)
    assert cache[1][1].shape == (3, 4, 2, 8)
    with pytest.raises(IndexError):
        cache[5]


# -- saving and loading --------------------------------------------------------------------------
def test_save_roundtrip_through_transformers(hf, tmp_path):
    _, _, folder = hf["lm"]
    ours = GPT2LMHeadModel.from_pretrained(folder)
    rng = np.random.default_rng(0)
    for p in ours.parameters():  # make the weights ours, not a copy of the file we read
        p.data = p.data + rng.standard_normal(p.shape).astype(np.float32) * 0.05
    ours.save_pretrained(tmp_path)
    with safe_open(os.path.join(tmp_path, "model.safetensors"), "np") as f:
        keys = set(f.keys())
    assert "lm_head.weight" not in keys and "transformer.wte.weight" in keys
    ids, mask = _inputs("right")
    theirs = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path)).eval()
    assert theirs.lm_head.weight.data_ptr() == theirs.transformer.wte.weight.data_ptr()
    with torch.no_grad():
        ref = theirs(_t(ids), attention_mask=_t(mask)).logits
    with ember.no_grad():
        mine = ours(ids, attention_mask=mask).logits
    _close(_valid(mine, mask), _valid(ref, mask), what="transformers loads ours")
    back = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert back.lm_head.weight is back.transformer.wte.weight
    with ember.no_grad():
        _close(_valid(back(ids, attention_mask=mask).logits, mask), _valid(ref, mask))


def test_head_and_base_checkpoints_cross_load(hf):
    base_model, _, base_folder = hf["base"]
    lm_model, _, lm_folder = hf["lm"]
    ids = _ids()
    lm, info = GPT2LMHeadModel.from_pretrained(base_folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert lm.lm_head.weight is lm.transformer.wte.weight
    with torch.no_grad():
        ref = base_model(_t(ids)).last_hidden_state @ base_model.wte.weight.T
    _close(lm(ids).logits, ref, what="LM head on a base checkpoint")

    base, info = GPT2Model.from_pretrained(lm_folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    with torch.no_grad():
        ref = lm_model.transformer(_t(ids)).last_hidden_state
    _close(base(ids).last_hidden_state, ref, what="base from an LM checkpoint")

    seq, info = GPT2ForSequenceClassification.from_pretrained(
        base_folder, output_loading_info=True, id2label=LABELS)
    assert info["missing_keys"] == ["score.weight"] and info["unexpected_keys"] == []
    w = _np(seq.score.weight)
    assert w.shape == (3, 32) and 0.01 < w.std() < 0.03  # initialised: N(0, 0.02)


def test_auto_classes_load_each_head(hf):
    ids, mask = _inputs("left")
    for auto, kind in ((AutoModel, "base"), (AutoModelForCausalLM, "lm"),
                       (AutoModelForSequenceClassification, "seq"),
                       (AutoModelForTokenClassification, "tok")):
        model, _, folder = hf[kind]
        ours = auto.from_pretrained(folder)
        assert type(ours) is CLASSES[kind][0]
        with torch.no_grad():
            ref = model(_t(ids), attention_mask=_t(mask))
        with ember.no_grad():
            out = ours(ids, attention_mask=mask)
        if kind == "seq":
            _close(out.logits, ref.logits)
        else:
            _close(_valid(_main(kind, out), mask), _valid(_main(kind, ref), mask), what=kind)
    assert isinstance(AutoConfig.from_pretrained(hf["lm"][2]), GPT2Config)


def test_old_style_checkpoint_keys(hf, tmp_path):
    """openai-community/gpt2's layout: no "transformer." prefix, no lm_head, and the causal-mask
    buffers ``h.<i>.attn.bias`` / ``attn.masked_bias`` of older transformers."""
    model, _, folder = hf["base"]
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    assert "h.0.attn.c_attn.weight" in state
    for i in range(TINY["n_layer"]):
        n = TINY["n_positions"]
        state[f"h.{i}.attn.bias"] = np.tril(np.ones((n, n), np.float32))[None, None]
        state[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(os.path.join(folder, "config.json"), tmp_path / "config.json")
    lm, info = GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    ids = _ids()
    with torch.no_grad():
        ref = model(_t(ids)).last_hidden_state @ model.wte.weight.T
    _close(lm(ids).logits, ref)


def test_shape_mismatch_names_the_tensor(hf, tmp_path):
    folder = hf["lm"][2]
    shutil.copy(os.path.join(folder, "model.safetensors"), tmp_path / "model.safetensors")
    cfg = _read_json(os.path.join(folder, "config.json"))
    cfg["n_embd"] = 48
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointMismatchError, match=r"transformer\.wte\.weight"):
        GPT2LMHeadModel.from_pretrained(tmp_path)


def test_dtypes(hf, tmp_path):
    model, _, folder = hf["lm"]
    half = GPT2LMHeadModel.from_pretrained(folder, dtype="float16")
    assert all(p.dtype == np.float16 for p in half.parameters())
    ids = _ids()
    with torch.no_grad():
        ref = model(_t(ids)).logits
    with ember.no_grad():
        _close(half(ids).logits, ref, tol=0.05, what="float16")

    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    bf16.save_pretrained(tmp_path)
    for dtype in (None, "auto"):
        ours = GPT2LMHeadModel.from_pretrained(tmp_path, dtype=dtype)
        theirs = dict(bf16.named_parameters())
        for name, p in ours.named_parameters():
            assert p.dtype == np.float32, name
            np.testing.assert_array_equal(_np(p), theirs[name].detach().float().numpy(), name)


# -- init and sizes ------------------------------------------------------------------------------
def test_random_init_statistics():
    cfg = dict(vocab_size=512, n_positions=128, n_embd=256, n_layer=4, n_head=4)
    ours = GPT2LMHeadModel(GPT2Config(**cfg))
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg))
    theirs = dict(ref.named_parameters())
    assert ours.lm_head.weight is ours.transformer.wte.weight
    scaled = 0.02 / np.sqrt(2 * 4)
    for name, p in ours.named_parameters():
        a, b = _np(p), theirs[name].detach().numpy()
        if name.endswith("c_proj.weight"):
            assert abs(a.std() / scaled - 1) < 0.05, name
        if a.ndim == 2:
            assert abs(a.std() / b.std() - 1) < 0.05, name
            assert abs(a.mean()) < 1e-3, name
        else:  # biases 0, LayerNorm weights 1: exactly as transformers
            np.testing.assert_array_equal(a, b, name)


def test_parameter_counts(hf):
    assert count_parameters(GPT2Config()) == 124_439_808
    with torch.device("meta"):
        assert transformers.GPT2LMHeadModel(transformers.GPT2Config()).num_parameters() == \
            124_439_808
    # a 1B layout: 1065.8M with GPT-2's 1024 positions; 512 positions drop 512 * 1600 of wpe
    for n_positions, millions in ((1024, 1065.8), (512, 1064.9)):
        big = dict(n_layer=32, n_embd=1600, n_head=32, n_positions=n_positions)
        n = count_parameters(GPT2Config(**big))
        assert round(n / 1e6, 1) == millions
        with torch.device("meta"):
            ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**big))
        assert ref.num_parameters() == n
        assert count_parameters(GPT2Config(**big), task="causal-lm") == n  # the head is tied
    for kind, (cls, _) in CLASSES.items():
        model, _, folder = hf[kind]
        assert cls.from_pretrained(folder).num_parameters() == model.num_parameters(), kind


# -- config --------------------------------------------------------------------------------------
def test_config_from_transformers_folder(hf):
    folder = hf["seq"][2]
    cfg = GPT2Config.from_pretrained(folder)
    ref = hf["seq"][0].config
    for key in ("vocab_size", "n_embd", "n_layer", "n_head", "n_positions", "pad_token_id",
                "activation_function", "layer_norm_epsilon", "num_labels"):
        assert getattr(cfg, key) == getattr(ref, key), key
    assert cfg.id2label == LABELS and cfg.label2id == {v: k for k, v in LABELS.items()}
    # aliases
    assert cfg.hidden_size == 32 and cfg.num_attention_heads == 4
    assert cfg.num_hidden_layers == 2 and cfg.max_position_embeddings == 64
    cfg.num_hidden_layers = 5
    assert cfg.n_layer == 5
    assert GPT2Config(hidden_size=64, num_attention_heads=8).n_embd == 64
    # defaults are transformers'
    mine = GPT2Config().to_dict()
    theirs = json.loads(transformers.GPT2Config().to_json_string(use_diff=False))
    gpt2_fields = set(transformers.GPT2Config.__dataclass_fields__) - set(
        transformers.PretrainedConfig.__dataclass_fields__)
    assert gpt2_fields and gpt2_fields <= set(mine)
    for key, value in mine.items():
        if key in theirs and key not in ("transformers_version", "dtype", "architectures"):
            assert theirs[key] == value, key


def test_config_keeps_unknown_keys(hf, tmp_path):
    data = _read_json(os.path.join(hf["lm"][2], "config.json"))
    data["my_tool_setting"] = {"a": 1}
    (tmp_path / "config.json").write_text(json.dumps(data))
    cfg = GPT2Config.from_pretrained(tmp_path)
    assert cfg.my_tool_setting == {"a": 1}
    out = tmp_path / "saved"
    cfg.save_pretrained(out)
    written = _read_json(out / "config.json")
    assert written["my_tool_setting"] == {"a": 1} and written["model_type"] == "gpt2"
    assert transformers.GPT2Config.from_pretrained(str(out)).n_embd == 32


def test_config_type_errors(hf, tmp_path):
    data = _read_json(os.path.join(hf["lm"][2], "config.json"))
    data["n_layer"] = "2"
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="n_layer"):
        GPT2Config.from_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="resid_pdrop"):
        GPT2Config(resid_pdrop="0.1")
    with pytest.raises(ConfigError, match="divisible"):
        GPT2Config(n_embd=30, n_head=4)
