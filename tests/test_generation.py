"""generate() against transformers: a tiny GPT-2 saved by transformers, generated from by both
libraries on the same folder. Every reference value comes from transformers."""
from __future__ import annotations

import json
import os
import queue
import threading
import warnings

import numpy as np
import pytest
import torch
import transformers
from transformers.generation import logits_process as hf_lp
from transformers.generation import stopping_criteria as hf_sc

import ember
from ember.generation import (
    GenerateBeamDecoderOnlyOutput, GenerateDecoderOnlyOutput, GenerationConfig,
    LogitsProcessorList, MinLengthLogitsProcessor, MinNewTokensLengthLogitsProcessor,
    ModelSession, NoBadWordsLogitsProcessor, NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor, StoppingCriteriaList, StopStringCriteria,
    TemperatureLogitsWarper, TextIteratorStreamer, TextStreamer, TopKLogitsWarper,
    TopPLogitsWarper,
)
from ember.models.cache_utils import StaticCache
from ember.models.gpt2 import GPT2LMHeadModel

torch.set_num_threads(1)
warnings.filterwarnings("ignore", message=".*default `max_length`.*")

PROMPTS = [[5, 17, 42], [8, 9, 10, 11, 12], [70, 3, 3, 91, 22, 64, 5, 30], [44, 2 + 1],
           [61, 60, 59, 58, 57, 56]]
PAD = 0


def _tiny_hf_model(vocab: int, seed: int) -> transformers.GPT2LMHeadModel:
    """A 2-layer GPT-2 with weights large enough that the argmax is never a near tie and the
    outputs vary (bigger position embeddings keep it from repeating one token)."""
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4,
                                  n_positions=64, bos_token_id=1, eos_token_id=2,
                                  initializer_range=0.5)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        model.transformer.wpe.weight.mul_(3.0)
    return model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tiny_gpt2"))
    _tiny_hf_model(99, 0).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def hf(folder):
    return transformers.GPT2LMHeadModel.from_pretrained(folder).eval()


def _generic(model):
    """The model decoding through the generic ModelSession instead of its own session."""
    model._decoder_session = lambda batch_size, max_length: ModelSession(model, batch_size,
                                                                         max_length)
    return model


@pytest.fixture(scope="module")
def models(folder):
    return {"own": GPT2LMHeadModel.from_pretrained(folder),
            "generic": _generic(GPT2LMHeadModel.from_pretrained(folder))}


@pytest.fixture(scope="module", params=["own", "generic"])
def em(request, models):
    return models[request.param]


def left_pad(prompts, pad=PAD):
    T = max(len(p) for p in prompts)
    ids = np.array([[pad] * (T - len(p)) + list(p) for p in prompts], dtype=np.int64)
    mask = np.array([[0] * (T - len(p)) + [1] * len(p) for p in prompts], dtype=np.int64)
    return ids, mask


def hf_gen(hf, ids, mask=None, **kw):
    with torch.no_grad():
        return hf.generate(torch.tensor(np.asarray(ids)),
                           attention_mask=None if mask is None else torch.tensor(mask), **kw)


def np_(x):
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x.data)


def assert_same_ids(em_out, hf_out):
    a, b = np_(em_out), np_(hf_out)
    assert a.shape == b.shape, (a.tolist(), b.tolist())
    np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def eos_ids(hf):
    """Two tokens that greedy decoding produces early for some prompts (so EOS matters)."""
    a = hf_gen(hf, [PROMPTS[0]], max_new_tokens=8)[0, len(PROMPTS[0]):].tolist()
    b = hf_gen(hf, [PROMPTS[2]], max_new_tokens=8)[0, len(PROMPTS[2]):].tolist()
    first = a[2]
    second = next(t for t in b[1:] if t != first)
    return first, second


# -- greedy and beam search ---------------------------------------------------------------------

def test_greedy_one_by_one(em, hf):
    for p in PROMPTS:
        assert_same_ids(em.generate([p], max_new_tokens=12), hf_gen(hf, [p], max_new_tokens=12))


def test_greedy_batched_left_padding(em, hf):
    ids, mask = left_pad(PROMPTS)
    out = em.generate(ids, attention_mask=mask, max_new_tokens=12, pad_token_id=PAD)
    assert_same_ids(out, hf_gen(hf, ids, mask, max_new_tokens=12, pad_token_id=PAD))
    # each row equals its own unpadded generation
    for i, p in enumerate(PROMPTS):
        alone = np_(em.generate([p], max_new_tokens=12))[0]
        np.testing.assert_array_equal(np_(out)[i, -len(alone):], alone)


BEAMS = [
    dict(num_beams=3),
    dict(num_beams=4, num_return_sequences=3, length_penalty=0.5),
    dict(num_beams=3, early_stopping=True, length_penalty=2.0),
    dict(num_beams=3, early_stopping="never", length_penalty=1.5),
    dict(num_beams=2, length_penalty=-1.0, num_return_sequences=2),
    dict(num_beams=3, length_penalty=3.0, max_new_tokens=16),
    dict(num_beams=2, length_penalty=0.0, max_new_tokens=16, early_stopping="never"),
    dict(num_beams=5, num_return_sequences=5, max_new_tokens=16),
]


@pytest.mark.parametrize("kw", BEAMS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_beam_search(em, hf, eos_ids, kw):
    ids, mask = left_pad(PROMPTS)
    kw = dict({"max_new_tokens": 9, **kw}, pad_token_id=PAD, eos_token_id=list(eos_ids))
    assert_same_ids(em.generate(ids, attention_mask=mask, **kw), hf_gen(hf, ids, mask, **kw))
    for p in PROMPTS[:2]:
        assert_same_ids(em.generate([p], **kw), hf_gen(hf, [p], **kw))


def test_beam_search_random_configs(em, hf):
    """Random prompts, EOS sets and beam settings; the first case is one where the early-stop
    heuristic's length (``cur_len``) decides the result."""
    cases = [([36, 68, 4, 45], dict(num_beams=2, length_penalty=3.0, eos_token_id=[84, 25, 22],
                                     early_stopping=False))]
    rng = np.random.default_rng(1)
    for _ in range(12):
        p = rng.integers(3, 99, size=rng.integers(2, 8)).tolist()
        cases.append((p, dict(num_beams=int(rng.integers(2, 5)),
                              length_penalty=float(rng.choice([-0.5, 0.5, 1.0, 2.0, 3.0])),
                              eos_token_id=rng.integers(3, 99, size=rng.integers(1, 4)).tolist(),
                              early_stopping=[True, False, "never"][rng.integers(0, 3)])))
    for p, kw in cases:
        kw = dict(kw, max_new_tokens=14)
        assert_same_ids(em.generate([p], **kw), hf_gen(hf, [p], **kw))


def test_beam_search_without_eos(em, hf):
    kw = dict(num_beams=3, max_new_tokens=8, eos_token_id=None, num_return_sequences=2)
    assert_same_ids(em.generate([PROMPTS[1]], **kw), hf_gen(hf, [PROMPTS[1]], **kw))


PROCESSING = [
    dict(repetition_penalty=1.5),
    dict(repetition_penalty=0.7),
    dict(no_repeat_ngram_size=2),
    dict(bad_words_ids=[[67], [93, 56], [5, 17, 42]]),
    dict(min_new_tokens=6),
    dict(min_length=12),
]


@pytest.mark.parametrize("kw", PROCESSING, ids=lambda kw: next(iter(kw)))
@pytest.mark.parametrize("beams", [1, 3])
def test_processors_in_generate(em, hf, eos_ids, kw, beams):
    ids, mask = left_pad(PROMPTS)
    kw = dict(kw, max_new_tokens=10, pad_token_id=PAD, eos_token_id=eos_ids[0], num_beams=beams)
    assert_same_ids(em.generate(ids, attention_mask=mask, **kw), hf_gen(hf, ids, mask, **kw))


def test_repetition_penalty_ignores_left_padding(em, hf, eos_ids):
    """transformers does not penalise the padding: use a pad id the model likes to produce."""
    pad = eos_ids[1]
    ids, mask = left_pad(PROMPTS, pad=pad)
    for beams in (1, 2):
        kw = dict(max_new_tokens=8, pad_token_id=pad, repetition_penalty=3.0, num_beams=beams)
        assert_same_ids(em.generate(ids, attention_mask=mask, **kw),
                        hf_gen(hf, ids, mask, **kw))


def test_custom_processors_and_criteria(em, hf):
    """A custom processor of a built-in class replaces it; others run after the built-ins; a
    custom MaxLengthCriteria replaces max_length. The custom processor edits in place, as torch
    code often does."""
    from ember.generation import MaxLengthCriteria

    class Ban:
        def __init__(self, token):
            self.token = token

        def __call__(self, input_ids, scores):
            scores[:, self.token] = -float("inf")
            return scores

    ids, mask = left_pad(PROMPTS)
    first = np_(em.generate(ids, attention_mask=mask, max_new_tokens=1, pad_token_id=PAD))[:, -1]
    kw = dict(max_new_tokens=10, pad_token_id=PAD, repetition_penalty=1.2,
              output_scores=True, output_logits=True, return_dict_in_generate=True)
    out = em.generate(ids, attention_mask=mask, **kw, logits_processor=LogitsProcessorList(
        [Ban(int(first[0])), RepetitionPenaltyLogitsProcessor(2.0)]),
        stopping_criteria=StoppingCriteriaList([MaxLengthCriteria(ids.shape[1] + 6)]))
    ref = hf_gen(hf, ids, mask, **kw, logits_processor=hf_lp.LogitsProcessorList(
        [Ban(int(first[0])), hf_lp.RepetitionPenaltyLogitsProcessor(2.0)]),
        stopping_criteria=hf_sc.StoppingCriteriaList([hf_sc.MaxLengthCriteria(ids.shape[1] + 6)]))
    assert_same_ids(out.sequences, ref.sequences)
    assert np_(out.sequences).shape[1] == ids.shape[1] + 6
    for a, b in zip(out.scores, ref.scores):
        np.testing.assert_allclose(np_(a), np_(b), atol=1e-4)
    assert np.isfinite(np_(out.logits[0])).all()  # raw logits are not the edited scores


def test_eos_handling(em, hf, eos_ids):
    ids, mask = left_pad(PROMPTS)
    finished_early = False
    for eos in (eos_ids[0], list(eos_ids)):
        for pad in (PAD, None, 97):
            kw = dict(max_new_tokens=10, eos_token_id=eos, pad_token_id=pad)
            out = em.generate(ids, attention_mask=mask, **kw)
            assert_same_ids(out, hf_gen(hf, ids, mask, **kw))
            fill = pad if pad is not None else np.atleast_1d(eos)[0]
            finished_early |= bool((np_(out)[:, -1] == fill).any())
            for p in PROMPTS[:3]:
                assert_same_ids(em.generate([p], **kw), hf_gen(hf, [p], **kw))
    assert finished_early  # the test exercises rows that end before the others


def test_all_rows_finish_early(em, hf, eos_ids):
    kw = dict(max_new_tokens=20, eos_token_id=eos_ids[0])
    out = em.generate([PROMPTS[0]], **kw)
    assert_same_ids(out, hf_gen(hf, [PROMPTS[0]], **kw))
    assert np_(out).shape[1] < len(PROMPTS[0]) + 20


def test_scores_greedy(em, hf, eos_ids):
    ids, mask = left_pad(PROMPTS)
    kw = dict(max_new_tokens=6, output_scores=True, output_logits=True,
              return_dict_in_generate=True, eos_token_id=eos_ids[0], pad_token_id=PAD,
              repetition_penalty=1.2, min_new_tokens=2)
    out, ref = em.generate(ids, attention_mask=mask, **kw), hf_gen(hf, ids, mask, **kw)
    assert isinstance(out, GenerateDecoderOnlyOutput)
    assert out.past_key_values is None
    assert_same_ids(out.sequences, ref.sequences)
    assert len(out.scores) == len(ref.scores) == len(out.logits)
    for a, b in zip(out.scores, ref.scores):
        np.testing.assert_allclose(np_(a), np_(b), atol=1e-4, rtol=1e-4)
    for a, b in zip(out.logits, ref.logits):
        np.testing.assert_allclose(np_(a), np_(b), atol=1e-4, rtol=1e-4)


def test_scores_beam(em, hf, eos_ids):
    ids, mask = left_pad(PROMPTS[:3])
    kw = dict(max_new_tokens=7, num_beams=3, num_return_sequences=2, output_scores=True,
              return_dict_in_generate=True, eos_token_id=list(eos_ids), pad_token_id=PAD)
    out, ref = em.generate(ids, attention_mask=mask, **kw), hf_gen(hf, ids, mask, **kw)
    assert isinstance(out, GenerateBeamDecoderOnlyOutput)
    assert_same_ids(out.sequences, ref.sequences)
    np.testing.assert_allclose(np_(out.sequences_scores), np_(ref.sequences_scores), atol=1e-4)
    np.testing.assert_array_equal(np_(out.beam_indices), np_(ref.beam_indices))
    assert len(out.scores) == len(ref.scores)
    for a, b in zip(out.scores, ref.scores):
        np.testing.assert_allclose(np_(a), np_(b), atol=1e-4, rtol=1e-4)


# -- sampling ------------------------------------------------------------------------------------

def test_sampling(models):
    em = models["own"]
    ids, mask = left_pad(PROMPTS)
    kw = dict(attention_mask=mask, max_new_tokens=10, do_sample=True, pad_token_id=PAD)
    greedy = np_(em.generate(ids, attention_mask=mask, max_new_tokens=10, pad_token_id=PAD))
    np.testing.assert_array_equal(np_(em.generate(ids, top_k=1, seed=3, **kw)), greedy)
    a = np_(em.generate(ids, seed=7, **kw))
    np.testing.assert_array_equal(a, np_(em.generate(ids, seed=7, **kw)))
    g = ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(a, np_(em.generate(ids, generator=g, **kw)))
    assert not np.array_equal(a, np_(em.generate(ids, seed=8, **kw)))
    np.testing.assert_array_equal(a[:, :ids.shape[1]], ids)  # the prompts are kept
    # the generic session samples the same tokens from the same seed
    np.testing.assert_array_equal(a, np_(models["generic"].generate(ids, seed=7, **kw)))
    ember.manual_seed(11)
    b = np_(em.generate(ids, temperature=0.7, top_p=0.9, top_k=0, **kw))
    ember.manual_seed(11)
    np.testing.assert_array_equal(b, np_(em.generate(ids, temperature=0.7, top_p=0.9, top_k=0,
                                                     **kw)))
    out = em.generate([PROMPTS[0]], do_sample=True, num_return_sequences=4, seed=1,
                      max_new_tokens=10)
    assert np_(out).shape == (4, 13)
    beams = em.generate(ids, num_beams=3, seed=2, **kw)  # beam sampling
    assert np_(beams).shape[0] == len(PROMPTS)
    np.testing.assert_array_equal(np_(beams), np_(em.generate(ids, num_beams=3, seed=2, **kw)))


def test_sampling_distribution(models):
    """top_k=2 at temperature 1: the two tokens are drawn about as often as their
    probabilities (from transformers' processed scores) say."""
    em = models["own"]
    kw = dict(max_new_tokens=1, do_sample=True, top_k=2, num_return_sequences=400, seed=0)
    toks = np_(em.generate([PROMPTS[1]], **kw))[:, -1]
    scores = np_(em.generate([PROMPTS[1]], max_new_tokens=1, do_sample=True, top_k=2,
                             output_scores=True, return_dict_in_generate=True,
                             seed=0).scores[0])[0]
    p = np.exp(scores - scores.max())
    p /= p.sum()
    top = np.argsort(-p)[:2]
    assert set(np.unique(toks)) <= set(top.tolist())
    assert abs((toks == top[0]).mean() - p[top[0]]) < 0.08


# -- processors and criteria against transformers' classes --------------------------------------

def _random_scores(seed, B=4, V=50):
    rng = np.random.default_rng(seed)
    scores = (rng.standard_normal((B, V)) * 3).astype(np.float32)
    ids = rng.integers(0, V, size=(B, 12)).astype(np.int64)
    return ids, scores


def _compare(ours, theirs, seed):
    ids, scores = _random_scores(seed)
    a = ours(ids, scores.copy())
    b = theirs(torch.tensor(ids), torch.tensor(scores)).numpy()
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_processors_equal_transformers(seed):
    pairs = [
        (TemperatureLogitsWarper(0.7), hf_lp.TemperatureLogitsWarper(0.7)),
        (TemperatureLogitsWarper(1.9), hf_lp.TemperatureLogitsWarper(1.9)),
        (TopKLogitsWarper(5), hf_lp.TopKLogitsWarper(5)),
        (TopKLogitsWarper(1, min_tokens_to_keep=3), hf_lp.TopKLogitsWarper(1,
                                                                           min_tokens_to_keep=3)),
        (TopKLogitsWarper(80), hf_lp.TopKLogitsWarper(80)),
        (TopPLogitsWarper(0.9), hf_lp.TopPLogitsWarper(0.9)),
        (TopPLogitsWarper(0.3, min_tokens_to_keep=2), hf_lp.TopPLogitsWarper(
            0.3, min_tokens_to_keep=2)),
        (TopPLogitsWarper(1.0), hf_lp.TopPLogitsWarper(1.0)),
        (RepetitionPenaltyLogitsProcessor(1.3), hf_lp.RepetitionPenaltyLogitsProcessor(1.3)),
        (RepetitionPenaltyLogitsProcessor(0.5, prompt_ignore_length=4),
         hf_lp.RepetitionPenaltyLogitsProcessor(0.5, prompt_ignore_length=4)),
        (RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=np.array([0, 3, 11, 5])),
         hf_lp.RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=torch.tensor(
             [0, 3, 11, 5]))),
        (NoRepeatNGramLogitsProcessor(1), hf_lp.NoRepeatNGramLogitsProcessor(1)),
        (NoRepeatNGramLogitsProcessor(2), hf_lp.NoRepeatNGramLogitsProcessor(2)),
        (NoRepeatNGramLogitsProcessor(3), hf_lp.NoRepeatNGramLogitsProcessor(3)),
        (MinLengthLogitsProcessor(20, [3, 4]), hf_lp.MinLengthLogitsProcessor(20, [3, 4])),
        (MinLengthLogitsProcessor(5, 3), hf_lp.MinLengthLogitsProcessor(5, 3)),
        (MinNewTokensLengthLogitsProcessor(10, 3, 7),
         hf_lp.MinNewTokensLengthLogitsProcessor(10, 3, 7)),
    ]
    ids, _ = _random_scores(seed)
    bad = [[int(ids[0, -1])], [int(ids[1, -2]), int(ids[1, -1])], [1, 2, 3], [7]]
    pairs.append((NoBadWordsLogitsProcessor(bad, eos_token_id=7),
                  hf_lp.NoBadWordsLogitsProcessor(bad, eos_token_id=7)))
    for ours, theirs in pairs:
        _compare(ours, theirs, seed)
    chain = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.2),
                                 TemperatureLogitsWarper(0.8), TopKLogitsWarper(10),
                                 TopPLogitsWarper(0.8)])
    ref = hf_lp.LogitsProcessorList([hf_lp.RepetitionPenaltyLogitsProcessor(1.2),
                                     hf_lp.TemperatureLogitsWarper(0.8),
                                     hf_lp.TopKLogitsWarper(10), hf_lp.TopPLogitsWarper(0.8)])
    _compare(chain, ref, seed)


def test_processor_argument_errors():
    for make in (lambda: TemperatureLogitsWarper(0.0), lambda: TopKLogitsWarper(0),
                 lambda: TopPLogitsWarper(1.5), lambda: RepetitionPenaltyLogitsProcessor(0.0),
                 lambda: NoRepeatNGramLogitsProcessor(0),
                 lambda: NoBadWordsLogitsProcessor([]),
                 lambda: NoBadWordsLogitsProcessor([[1, -2]])):
        with pytest.raises(ValueError):
            make()
    with pytest.raises(ValueError, match="vocabulary size"):
        NoBadWordsLogitsProcessor([[500]])(*_random_scores(0))


def test_stopping_criteria_list():
    from ember.generation import EosTokenCriteria, MaxLengthCriteria
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    crit = StoppingCriteriaList([MaxLengthCriteria(5), EosTokenCriteria([6, 9])])
    np.testing.assert_array_equal(crit(ids, None), [False, True])
    np.testing.assert_array_equal(StoppingCriteriaList([MaxLengthCriteria(3)])(ids, None),
                                  [True, True])
    assert crit.max_length == 5


# -- a byte-level BPE model for text: stop strings and streamers --------------------------------

CORPUS = ["The quick brown fox jumps over the lazy dog.", "stop the stopping stopper, then stop!",
          "Hello world!\nNew line here.", "你好，世界。", "a b c d e f g 1 2 3 <tag> {x}"] * 20


@pytest.fixture(scope="module")
def text_setup(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"]))
    path = str(tmp_path_factory.mktemp("text_gpt2"))
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok,
                                                  eos_token="<|endoftext|>")
    hf_tok.save_pretrained(path)
    _tiny_hf_model(tok.get_vocab_size(), 1).save_pretrained(path)
    return dict(hf_tok=hf_tok, em_tok=ember.AutoTokenizer.from_pretrained(path),
                hf=transformers.GPT2LMHeadModel.from_pretrained(path).eval(),
                em=GPT2LMHeadModel.from_pretrained(path))


STOPS = ["stop", "the stop", "er, th", "!\n", "o", "你好", "\n\n", "zzz never"]


@pytest.mark.parametrize("seed", range(2))
def test_stop_string_criteria_equal_transformers(text_setup, seed):
    hf_tok, em_tok = text_setup["hf_tok"], text_setup["em_tok"]
    rng = np.random.default_rng(seed)
    # token sequences that end in (pieces of) stop strings, and random ones
    texts = [rng.choice(CORPUS[:5])[: rng.integers(1, 40)] for _ in range(100)]
    texts += [rng.choice(CORPUS[:5])[: rng.integers(0, 20)] + rng.choice(STOPS)
              + rng.choice(["", "", "p", "ed", " x"]) for _ in range(100)]
    seqs = [hf_tok(t)["input_ids"] for t in texts] + [
        rng.integers(0, 300, size=rng.integers(1, 12)).tolist() for _ in range(100)]
    ref = hf_sc.StopStringCriteria(tokenizer=hf_tok, stop_strings=STOPS)
    ours = [StopStringCriteria(em_tok, STOPS), StopStringCriteria(hf_tok, STOPS)]
    hits = 0
    for s in seqs:
        expect = bool(ref(torch.tensor([s]), None)[0])
        hits += expect
        for crit in ours:
            assert bool(crit(np.array([s]), None)[0]) == expect, (s, hf_tok.decode(s))
    assert 40 < hits < len(seqs) - 40


def test_stop_strings_in_generate(text_setup):
    hf, em, hf_tok, em_tok = (text_setup[k] for k in ("hf", "em", "hf_tok", "em_tok"))
    prompts = ["The quick", "stop the", "Hello"]
    ids = [hf_tok(p)["input_ids"] for p in prompts]
    cut_somewhere = False
    for p in ids:
        free = hf_gen(hf, [p], max_new_tokens=25)[0, len(p):].tolist()
        text = hf_tok.decode(free)
        # stop strings that straddle token boundaries of the free-running output
        pieces = [hf_tok.decode(free[i:i + 2])[1:] for i in range(3, 12, 4)]
        stops = [s for s in pieces if s.strip()] + ["zzz"]
        kw = dict(max_new_tokens=25, stop_strings=stops)
        ref = hf_gen(hf, [p], tokenizer=hf_tok, **kw)
        assert_same_ids(em.generate([p], tokenizer=em_tok, **kw), ref)
        assert_same_ids(em.generate([p], tokenizer=hf_tok, **kw), ref)
        cut_somewhere |= ref.shape[1] < len(p) + 25
        assert text  # the model produces text at all
    assert cut_somewhere
    # batched, with beams
    batch, mask = left_pad(ids, pad=0)
    kw = dict(max_new_tokens=12, stop_strings=["e", "th"], pad_token_id=0, num_beams=2)
    assert_same_ids(em.generate(batch, attention_mask=mask, tokenizer=em_tok, **kw),
                    hf_gen(hf, batch, mask, tokenizer=hf_tok, **kw))


def test_text_streamer_equals_transformers(text_setup, capsys):
    hf_tok, em_tok = text_setup["hf_tok"], text_setup["em_tok"]
    text = "Hello world!\nNew line here. stop the {x} <tag> 你好，世界。 a b\n\nc"
    ids = hf_tok(text)["input_ids"] + [259, 120, 200, 33, 210, 5, 199, 250]
    for kwargs in ({}, {"skip_prompt": True}, {"skip_special_tokens": True}):
        outputs = []
        for streamer in (TextStreamer(em_tok, **kwargs),
                         transformers.TextStreamer(hf_tok, **kwargs)):
            streamer.put(torch.tensor([ids[:3]]))  # the "prompt"
            for t in ids[3:]:
                streamer.put(torch.tensor([t]))
            streamer.end()
            outputs.append(capsys.readouterr().out)
        assert outputs[0] == outputs[1]
        assert len(outputs[0]) > 20


def test_generate_with_streamers(text_setup, capsys):
    hf, em, hf_tok, em_tok = (text_setup[k] for k in ("hf", "em", "hf_tok", "em_tok"))
    p = hf_tok("stop the")["input_ids"]
    em.generate([p], max_new_tokens=20, streamer=TextStreamer(em_tok))
    ours = capsys.readouterr().out
    hf_gen(hf, [p], max_new_tokens=20, streamer=transformers.TextStreamer(hf_tok))
    assert ours == capsys.readouterr().out

    streamer = TextIteratorStreamer(em_tok, skip_prompt=True, timeout=30)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "ids", em.generate([p], max_new_tokens=20, streamer=streamer)))
    thread.start()
    pieces = list(streamer)
    thread.join()
    assert "".join(pieces) == em_tok.decode(np_(result["ids"])[0, len(p):].tolist())
    with pytest.raises(queue.Empty):
        next(iter(TextIteratorStreamer(em_tok, timeout=0.05)))
    with pytest.raises(ValueError, match="beam search"):
        em.generate([p], num_beams=2, max_new_tokens=3, streamer=TextStreamer(em_tok))


# -- configuration -------------------------------------------------------------------------------

CONFIGS = [
    dict(max_new_tokens=7, do_sample=True, top_p=0.9, temperature=0.8),
    dict(num_beams=4, num_return_sequences=2, length_penalty=0.5, early_stopping="never",
         eos_token_id=[2, 3], pad_token_id=0),
    dict(repetition_penalty=1.2, no_repeat_ngram_size=3, bad_words_ids=[[4], [5, 6]],
         min_new_tokens=2, stop_strings=["\n"], output_scores=True,
         return_dict_in_generate=True),
    dict(),
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_generation_config_round_trip(tmp_path, kw):
    GenerationConfig(**kw).save_pretrained(tmp_path / "ours")
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path / "ours")
    assert theirs == transformers.GenerationConfig(**kw)
    transformers.GenerationConfig(**kw).save_pretrained(tmp_path / "hf")
    back = GenerationConfig.from_pretrained(tmp_path / "hf")
    assert back == GenerationConfig(**kw)
    assert GenerationConfig.from_pretrained(tmp_path / "ours") == GenerationConfig(**kw)
    for k, v in kw.items():
        assert getattr(back, k) == v


def test_generation_config_api(folder, tmp_path, hf, models):
    cfg = GenerationConfig(max_new_tokens=5)
    assert cfg.max_length is None and GenerationConfig.DEFAULTS["max_length"] == 20
    unused = cfg.update(top_k=3, foo=1, do_sample=True)
    assert unused == {"foo": 1} and cfg.top_k == 3 and cfg.do_sample is True
    assert cfg.get_generation_mode() == "sample"
    # from the model config, as transformers derives it
    ours = GenerationConfig.from_model_config(models["own"].config)
    ref = transformers.GenerationConfig.from_model_config(hf.config)
    assert json.loads(ours.to_json_string(ignore_metadata=True)) == json.loads(
        ref.to_json_string(ignore_metadata=True))
    # from_pretrained reads generation_config.json; save_pretrained writes it
    em = GPT2LMHeadModel.from_pretrained(folder)
    assert em.generation_config.eos_token_id == hf.generation_config.eos_token_id == 2
    em.generation_config.max_new_tokens = 4
    em.save_pretrained(tmp_path / "saved")
    assert os.path.isfile(tmp_path / "saved" / "generation_config.json")
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "saved")
    assert back.generation_config.max_new_tokens == 4
    reloaded = GPT2LMHeadModel.from_pretrained(tmp_path / "saved")
    assert np_(reloaded.generate([PROMPTS[0]])).shape == (1, len(PROMPTS[0]) + 4)
    # a generation_config argument, with kwargs on top
    out = reloaded.generate([PROMPTS[0]], generation_config=GenerationConfig(max_new_tokens=2))
    assert np_(out).shape[1] == len(PROMPTS[0]) + 2


BAD_CONFIGS = [
    dict(max_new_tokens=0), dict(max_new_tokens=-3), dict(max_new_tokens=10 ** 7),
    dict(max_new_tokens=2.5), dict(do_sample=True, temperature=0.0),
    dict(do_sample=True, temperature=-1.0), dict(top_p=0.0), dict(top_p=1.5), dict(top_k=-1),
    dict(num_beams=2, num_return_sequences=3), dict(num_return_sequences=2),
    dict(num_beams=0), dict(early_stopping="sometimes"), dict(repetition_penalty=0.0),
    dict(no_repeat_ngram_size=-1), dict(eos_token_id="x"), dict(bad_words_ids=[[]]),
    dict(stop_strings=[""]), dict(min_new_tokens=-1), dict(sliding_window="yes"),
]


@pytest.mark.parametrize("kw", BAD_CONFIGS, ids=str)
def test_generation_config_validation(kw, models):
    with pytest.raises(ValueError, match="GenerationConfig: `"):
        GenerationConfig(**kw)
    with pytest.raises(ValueError):
        models["own"].generate([PROMPTS[0]], **kw)


# -- long contexts -------------------------------------------------------------------------------

def test_long_context(em, hf):
    prompt = list(range(3, 13))  # 10 tokens, n_positions 64
    with pytest.raises(ValueError, match="sliding_window=True"):
        em.generate([prompt], max_new_tokens=60)
    with pytest.raises(ValueError, match="sliding_window"):
        em.generate([list(range(3, 83))], max_new_tokens=1)
    # the default max_length stops at n_positions, as in transformers
    long_prompt = list(range(3, 63))
    assert_same_ids(em.generate([long_prompt]), hf_gen(hf, [long_prompt]))
    plain = np_(em.generate([prompt], max_new_tokens=54))
    slid = np_(em.generate([prompt], max_new_tokens=70, sliding_window=True))
    assert slid.shape == (1, 80)
    np.testing.assert_array_equal(slid[:, :64], plain)  # same tokens until the window is full
    # past the window, the next token is what the model says on the last 64 tokens
    ref = hf_gen(hf, slid[:, -64 - 1:-1], max_new_tokens=1)
    assert int(ref[0, -1]) == int(slid[0, -1])
    # beams and a prompt longer than the window work as well
    beams = np_(em.generate([prompt], max_new_tokens=60, num_beams=2, sliding_window=True,
                            eos_token_id=None))
    assert beams.shape == (1, 70)
    assert np_(em.generate([list(range(3, 83))], max_new_tokens=3,
                           sliding_window=True)).shape == (1, 83)


# -- inputs --------------------------------------------------------------------------------------

def test_input_types(em):
    ref = np_(em.generate([PROMPTS[1]], max_new_tokens=5))
    for ids in (np.array([PROMPTS[1]]), ember.tensor([PROMPTS[1]]), PROMPTS[1],
                np.array(PROMPTS[1], dtype=np.int32), torch.tensor([PROMPTS[1]])):
        np.testing.assert_array_equal(np_(em.generate(ids, max_new_tokens=5)), ref)
    out = em.generate({"input_ids": [PROMPTS[1]], "attention_mask": [[1] * 5]},
                      max_new_tokens=5)
    np.testing.assert_array_equal(np_(out), ref)
    assert isinstance(out, ember.Tensor) and out.dtype == ember.int64
    # no prompt: start from BOS
    bos = em.generate(max_new_tokens=3)
    assert np_(bos).shape == (1, 4) and np_(bos)[0, 0] == 1


@pytest.mark.parametrize("ids, mask, err", [
    ([], None, "empty"),
    (np.zeros((1, 0), dtype=np.int64), None, "empty"),
    (np.zeros((1, 2, 3), dtype=np.int64), None, "2-D"),
    (np.array([[1.0, 2.0]]), None, "integer token ids"),
    ([[1, 2], [3]], None, "different lengths"),
    ([[1, 500]], None, "vocab_size"),
    ([[1, 2], [3, 4]], [[1, 1], [1, 0]], "right-padding"),
    ([[1, 2]], [[1, 1, 1]], "shape"),
    ([[1, 2]], [[0, 0]], "all zeros"),
    ([[1, 2]], [[1, 2]], "only 0"),
])
def test_bad_inputs(models, ids, mask, err):
    with pytest.raises(ValueError, match=err):
        models["own"].generate(ids, attention_mask=mask, max_new_tokens=2)


def test_bad_arguments(models):
    em = models["own"]
    with pytest.raises(ValueError, match="does not use"):
        em.generate([PROMPTS[0]], max_new_token=3)
    with pytest.raises(ValueError, match="tokenizer"):
        em.generate([PROMPTS[0]], max_new_tokens=3, stop_strings=["a"])
    with pytest.raises(ValueError, match="not both"):
        em.generate([PROMPTS[0]], max_new_tokens=3, do_sample=True, seed=1,
                    generator=ember.Generator())
    with pytest.raises(NotImplementedError, match="typical_p"):
        em.generate([PROMPTS[0]], max_new_tokens=3, typical_p=0.5)
    with pytest.raises(ValueError, match="max_length"):
        em.generate([PROMPTS[0]], max_length=2)


def test_training_mode_restored(folder):
    em = GPT2LMHeadModel.from_pretrained(folder)
    ref = np_(em.generate([PROMPTS[2]], max_new_tokens=6))
    for model in (em, _generic(GPT2LMHeadModel.from_pretrained(folder))):
        model.train()
        out = model.generate([PROMPTS[2]], max_new_tokens=6)  # no dropout while generating
        assert model.training and all(m.training for m in model.modules())
        np.testing.assert_array_equal(np_(out), ref)
        assert ember.is_grad_enabled()


# -- the generic session -------------------------------------------------------------------------

def test_model_session_preallocates(models, hf):
    model = models["own"]
    ids, mask = left_pad(PROMPTS[:3])
    session = ModelSession(model, batch_size=3, max_length=40)
    pos = np.where(mask == 0, 0, np.cumsum(mask, -1) - 1)
    logits = session.forward(ids, pos, mask)
    with torch.no_grad():
        ref = hf(torch.tensor(ids), attention_mask=torch.tensor(mask),
                 position_ids=torch.tensor(pos)).logits[:, -1].numpy()
    np.testing.assert_allclose(logits, ref, atol=1e-4)
    cache = session.cache
    assert isinstance(cache, StaticCache) and len(cache) == 2
    buffers = [id(b) for b in cache.key_cache + cache.value_cache]
    assert cache.key_cache[0].shape == (3, 4, 40, 8)
    full = mask
    for step in range(20):
        full = np.concatenate([full, np.ones((3, 1), np.int64)], 1)
        nxt = logits.argmax(-1)[:, None]
        logits = session.forward(nxt, full.sum(-1, keepdims=True) - 1, full)
        if step % 5 == 4:
            session.reorder(np.array([2, 0, 1]))  # beam search's reordering, in place
    assert session.length == ids.shape[1] + 20
    assert [id(b) for b in cache.key_cache + cache.value_cache] == buffers
    session.reset()
    assert session.length == 0 and cache.get_seq_length() == 0
    session.forward(ids, pos, mask)
    assert [id(b) for b in cache.key_cache + cache.value_cache] == buffers
    with pytest.raises(ValueError, match="attention_mask"):
        session.forward(ids[:, -1:], pos[:, -1:], mask)
