"""GPT2DecoderSession (ember/models/gpt2/decoding.py) against ``transformers``.

Every logit the session returns is compared with transformers' GPT-2 on the same weights,
recomputing the whole sequence (no cache) with generate's position ids (cumsum(mask) - 1,
padding set to 1). Weights are drawn on a scale where a wrong fold shows (random LayerNorm
gains and biases, std 0.2 projections); tiny configs keep the file to seconds.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

from harness import spread_gpt2_weights_

import ember
from ember.models.gpt2 import GPT2LMHeadModel, decoding
from ember.models.gpt2.decoding import GPT2DecoderSession, clear_folded_cache

transformers.logging.set_verbosity_error()

V = 99
TOL = 1e-4
BASE = dict(vocab_size=V, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=98, eos_token_id=98)
CONFIGS = {
    "base": {},
    # inverse-layer-idx scaling, a non-default eps and MLP width, no 1/sqrt(hs) scaling
    "inv_idx": dict(n_layer=3, scale_attn_by_inverse_layer_idx=True, layer_norm_epsilon=1e-3,
                    n_inner=48, scale_attn_weights=False),
    "relu": dict(activation_function="relu"),
}
LAYOUTS = ("t", "io")


def _hf_model(overrides: dict, seed: int):
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**BASE, **overrides}))
    return spread_gpt2_weights_(model)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (transformers model, ember model loaded from what transformers saved)."""
    out = {}
    for i, (name, overrides) in enumerate(CONFIGS.items()):
        hf = _hf_model(overrides, seed=i)
        folder = str(tmp_path_factory.mktemp(f"gpt2_{name}"))
        hf.save_pretrained(folder)
        out[name] = (hf, GPT2LMHeadModel.from_pretrained(folder).eval())
    return out


# -- helpers -------------------------------------------------------------------------------------
def _positions(mask: np.ndarray) -> np.ndarray:
    """generate's position ids: cumsum(mask) - 1, padding positions set to 1."""
    pos = mask.cumsum(-1) - 1
    return np.where(mask == 0, 1, pos)


def _reference(hf, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """transformers' last-position logits (B, V), recomputing the whole sequence."""
    with torch.no_grad():
        out = hf(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                 position_ids=torch.from_numpy(_positions(mask)))
    return out.logits[:, -1].float().numpy()


def _left_padded(rng, B: int, T: int, pads: list[int]) -> tuple[np.ndarray, np.ndarray]:
    ids = rng.integers(0, V, (B, T))
    mask = np.ones((B, T), np.int64)
    for row, n in enumerate(pads):
        mask[row, :n] = 0
        ids[row, :n] = 0
    return ids, mask


def _check(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


class _Run:
    """A session with the history it was fed, to build the reference at each step."""

    def __init__(self, model, ids, mask, max_length: int, layout: str) -> None:
        self.s = GPT2DecoderSession(model, ids.shape[0], max_length, layout=layout)
        self.ids, self.mask = ids, mask
        self.logits = self.s.forward(ids, _positions(mask), mask)

    def step(self, new: np.ndarray) -> np.ndarray:
        self.ids = np.concatenate([self.ids, new[:, None]], 1)
        self.mask = np.concatenate([self.mask, np.ones((len(new), 1), np.int64)], 1)
        pos = _positions(self.mask)[:, -1:]
        self.logits = self.s.forward(new[:, None], pos, self.mask)
        return self.logits


# -- logits --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_prefill_left_padded(models, name, layout):
    hf, ours = models[name]
    ids, mask = _left_padded(np.random.default_rng(0), 3, 9, [0, 4, 1])
    s = GPT2DecoderSession(ours, 3, 20, layout=layout)
    _check(s.forward(ids, _positions(mask), mask), _reference(hf, ids, mask))
    assert s.length == 9


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_steps_match_full_recompute(models, name, layout):
    hf, ours = models[name]
    rng = np.random.default_rng(1)
    ids, mask = _left_padded(rng, 3, 6, [2, 0, 5])
    run = _Run(ours, ids, mask, 16, layout)
    for _ in range(10):
        _check(run.step(rng.integers(0, V, 3)), _reference(hf, run.ids, run.mask))
    assert run.s.length == 16


def test_single_token_prompt_and_unpadded_batch(models):
    """A one-token prompt takes the step path from length 0; no padding skips the bias."""
    hf, ours = models["base"]
    rng = np.random.default_rng(2)
    ids, mask = rng.integers(0, V, (2, 1)), np.ones((2, 1), np.int64)
    run = _Run(ours, ids, mask, 5, "t")
    _check(run.logits, _reference(hf, ids, mask))
    for _ in range(4):
        _check(run.step(rng.integers(0, V, 2)), _reference(hf, run.ids, run.mask))


@pytest.mark.parametrize("budget", [1, 100, 400])
def test_prefill_in_query_blocks(models, monkeypatch, budget):
    """Small score budgets split the prefill's attention into blocks (of 1, 5 or 20 queries
    over 5 keys, then 1, 2 or 8 over 12), each over only the keys it may see."""
    monkeypatch.setattr(decoding, "_SCORES_PER_BLOCK", budget)
    hf, ours = models["base"]
    ids, mask = _left_padded(np.random.default_rng(10), 1, 12, [3])
    s = GPT2DecoderSession(ours, 1, 12, layout="t")
    _check(s.forward(ids[:, :5], _positions(mask)[:, :5], mask[:, :5]),
           _reference(hf, ids[:, :5], mask[:, :5]))
    _check(s.forward(ids[:, 5:], _positions(mask)[:, 5:], mask), _reference(hf, ids, mask))


def test_prefill_after_cached_tokens(models):
    """T > 1 with a non-empty cache (a second chunk of prompt) sees the cached keys."""
    hf, ours = models["inv_idx"]
    rng = np.random.default_rng(3)
    ids, mask = _left_padded(rng, 2, 10, [3, 0])
    s = GPT2DecoderSession(ours, 2, 12, layout="io")
    s.forward(ids[:, :6], _positions(mask)[:, :6], mask[:, :6])
    got = s.forward(ids[:, 6:], _positions(mask)[:, 6:], mask)
    _check(got, _reference(hf, ids, mask))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reorder(models, layout):
    hf, ours = models["base"]
    rng = np.random.default_rng(4)
    ids, mask = _left_padded(rng, 3, 5, [1, 0, 3])
    run = _Run(ours, ids, mask, 14, layout)
    run.step(rng.integers(0, V, 3))
    # repeat row 2 and drop row 1; permute (into the reused spare buffer); grow to 5; shrink
    for index in ([2, 2, 0], [1, 2, 0], [1, 0, 1, 2, 2], [4, 0]):
        run.s.reorder(np.array(index))
        run.ids, run.mask = run.ids[index], run.mask[index]
        assert run.s.batch_size == len(index)
        for _ in range(2):
            _check(run.step(rng.integers(0, V, len(index))), _reference(hf, run.ids, run.mask))


def test_reset_then_prefill_again(models):
    hf, ours = models["relu"]
    rng = np.random.default_rng(5)
    ids, mask = _left_padded(rng, 2, 7, [0, 2])
    run = _Run(ours, ids, mask, 10, "t")
    run.step(rng.integers(0, V, 2))
    run.s.reset()
    assert run.s.length == 0
    ids, mask = _left_padded(rng, 2, 8, [3, 0])
    _check(run.s.forward(ids, _positions(mask), mask), _reference(hf, ids, mask))
    run.ids, run.mask = ids, mask
    _check(run.step(rng.integers(0, V, 2)), _reference(hf, run.ids, run.mask))


# -- greedy decoding -----------------------------------------------------------------------------
def _greedy(model, ids: np.ndarray, mask: np.ndarray, new: int) -> np.ndarray:
    B, T = ids.shape
    s = model._decoder_session(B, T + new)
    logits = s.forward(ids, _positions(mask), mask)
    out = []
    for i in range(new):
        tok = logits.argmax(-1)
        out.append(tok)
        mask = np.concatenate([mask, np.ones((B, 1), mask.dtype)], 1)
        if i + 1 < new:
            logits = s.forward(tok[:, None], mask.sum(-1, keepdims=True) - 1, mask)
    return np.stack(out, 1)


@pytest.mark.parametrize("pads", [[0], [0, 3, 5]], ids=["single", "left_padded_batch"])
def test_greedy_matches_transformers_generate(models, pads):
    hf, ours = models["base"]
    ids, mask = _left_padded(np.random.default_rng(6), len(pads), 8, pads)
    with torch.no_grad():
        want = hf.generate(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                           do_sample=False, max_new_tokens=12, min_new_tokens=12,
                           eos_token_id=None, pad_token_id=0)[:, ids.shape[1]:].numpy()
    np.testing.assert_array_equal(_greedy(ours, ids, mask, 12), want)


def test_decoder_session_hook(models):
    """Eval models get the fast session; training mode or hooks fall back to the generic one
    (when ember.generation provides it)."""
    _, ours = models["base"]
    assert isinstance(ours._decoder_session(2, 8), GPT2DecoderSession)
    generic = hasattr(super(GPT2LMHeadModel, ours), "_decoder_session")
    ours.train()
    try:
        assert isinstance(ours._decoder_session(2, 8), GPT2DecoderSession) != generic
    finally:
        ours.eval()
    handle = ours.transformer.h[1].mlp.register_forward_hook(lambda *args: None)
    try:
        assert isinstance(ours._decoder_session(2, 8), GPT2DecoderSession) != generic
    finally:
        handle.remove()
    assert isinstance(ours._decoder_session(2, 8), GPT2DecoderSession)


def test_model_generate_uses_the_session(models):
    """End to end through ember's generate: the same tokens as transformers'."""
    hf, ours = models["inv_idx"]
    ids, mask = _left_padded(np.random.default_rng(9), 2, 7, [0, 2])
    kw = dict(do_sample=False, max_new_tokens=10, min_new_tokens=10, eos_token_id=None,
              pad_token_id=0)
    got = ours.generate(ids, attention_mask=mask, **kw)
    with torch.no_grad():
        want = hf.generate(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), **kw)
    np.testing.assert_array_equal(np.asarray(getattr(got, "data", got)), want.numpy())


# -- dtypes, caching, errors ---------------------------------------------------------------------
def test_float16_checkpoint(tmp_path):
    """A float16 checkpoint loaded with dtype="auto" computes in float32 on its fp16 values."""
    hf = _hf_model({}, seed=7).half()
    hf.save_pretrained(tmp_path)
    ours = GPT2LMHeadModel.from_pretrained(tmp_path, dtype="auto").eval()
    assert np.dtype(ours.dtype) == np.float16
    ref = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, dtype=torch.float32).eval()
    rng = np.random.default_rng(8)
    ids, mask = _left_padded(rng, 2, 6, [2, 0])
    run = _Run(ours, ids, mask, 9, "auto")
    _check(run.logits, _reference(ref, ids, mask))
    for _ in range(3):
        _check(run.step(rng.integers(0, V, 2)), _reference(ref, run.ids, run.mask))


def test_fold_is_cached_until_a_parameter_changes(models):
    _, ours = models["base"]
    clear_folded_cache(ours)
    first = GPT2DecoderSession(ours, 1, 4)._w
    assert GPT2DecoderSession(ours, 1, 4)._w is first  # reused
    assert GPT2DecoderSession(ours, 2, 4)._w is not first  # another layout
    ids, mask = np.array([[5, 7, 9]]), np.ones((1, 3), np.int64)
    before = GPT2DecoderSession(ours, 1, 4).forward(ids, _positions(mask), mask)
    gain = ours.transformer.h[1].ln_2.weight
    try:
        with ember.no_grad():
            gain.mul_(1.5)  # an in-place op bumps the version: the fold must be redone
        after = GPT2DecoderSession(ours, 1, 4)
        assert after._w is not first
        got = after.forward(ids, _positions(mask), mask)
        assert np.abs(got - before).max() > 1e-2
        with np.errstate(all="ignore"):
            want = ours(ids, attention_mask=mask).logits.data[:, -1]
        _check(got, want)
    finally:
        with ember.no_grad():
            gain.div_(1.5)


def test_errors(models):
    _, ours = models["base"]
    s = GPT2DecoderSession(ours, 2, 6)
    ids, mask = np.zeros((2, 4), np.int64), np.ones((2, 4), np.int64)
    with pytest.raises(ValueError, match="attention_mask"):
        s.forward(ids, _positions(mask), mask[:, :3])
    with pytest.raises(ValueError, match="input_ids"):
        s.forward(ids[:1], _positions(mask)[:1], mask[:1])
    with pytest.raises(IndexError, match="n_positions"):
        s.forward(ids, np.full((2, 4), 64), mask)
    s.forward(ids, _positions(mask), mask)
    s.forward(ids[:, :2], np.full((2, 2), 4), np.ones((2, 6), np.int64))
    assert s.length == 6
    with pytest.raises(ValueError, match="max_length"):
        s.forward(ids[:, :1], np.full((2, 1), 6), np.ones((2, 7), np.int64))
    with pytest.raises(ValueError, match="attention_mask"):  # a step with a stale mask
        GPT2DecoderSession(ours, 2, 6).forward(ids[:, :1], ids[:, :1], mask)
    with pytest.raises(IndexError, match="reorder"):
        s.reorder([0, 2])
    with pytest.raises(IndexError, match="input_ids"):
        GPT2DecoderSession(ours, 2, 6).forward(ids - 1, _positions(mask), mask)
    with pytest.raises(ValueError):
        GPT2DecoderSession(ours, 0, 6)
