"""The model base classes on a toy family registered through the Auto classes: config.json
handling, loading (prefix mapping, missing/unexpected/mismatched tensors, dtypes, the HF cache,
refusing pickles), saving, outputs, and counting parameters without allocating them.

GPT-2 and BERT parity with transformers lives in test_models_gpt2.py / test_models_bert.py."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

import ember
from ember import nn
from ember.models import (
    AutoConfig, AutoModel, AutoModelForSequenceClassification, CheckpointMismatchError,
    ConfigError, PretrainedConfig, PreTrainedModel, count_parameters,
)
from ember.models.modeling_outputs import ModelOutput, SequenceClassifierOutput
from ember.models.safetensors_io import load_file, save_file
from ember.utils.hub import ModelNotFoundError


class ToyConfig(PretrainedConfig):
    model_type = "toy"
    attribute_map = {"hidden_size": "width"}
    _field_types = {"width": int, "vocab_size": int, "scale": float}

    def __init__(self, vocab_size: int = 11, width: int = 4, scale: float = 1.0, **kwargs):
        self.vocab_size = vocab_size
        self.width = width
        self.scale = scale
        super().__init__(**kwargs)


class ToyPreTrained(PreTrainedModel):
    config_class = ToyConfig
    base_model_prefix = "toy"

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)


class ToyModel(ToyPreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.post_init()

    def forward(self, input_ids):
        return self.proj(self.embed(input_ids))


class ToyForSequenceClassification(ToyPreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.toy = ToyModel(config)
        self.classifier = nn.Linear(config.width, config.num_labels)
        self.post_init()

    def forward(self, input_ids):
        return SequenceClassifierOutput(logits=self.classifier(self.toy(input_ids).mean(1)))


@pytest.fixture(scope="module", autouse=True)
def _registered():
    AutoConfig.register("toy", ToyConfig, exist_ok=True)
    AutoModel.register(ToyConfig, ToyModel, exist_ok=True)
    AutoModelForSequenceClassification.register(ToyConfig, ToyForSequenceClassification,
                                                exist_ok=True)


@pytest.fixture
def base_dir(tmp_path):
    ember.manual_seed(0)
    model = ToyModel(ToyConfig())
    model.save_pretrained(tmp_path / "base")
    return tmp_path / "base", model


# -- configs ------------------------------------------------------------------------------------
def test_config_round_trip_keeps_unknown_keys_and_aliases(tmp_path):
    cfg = ToyConfig(width=8, my_tool_field={"a": [1, 2]}, id2label={"0": "neg", "1": "pos"})
    assert cfg.hidden_size == 8 and cfg.id2label == {0: "neg", 1: "pos"}
    assert cfg.label2id == {"neg": 0, "pos": 1} and cfg.num_labels == 2
    cfg.hidden_size = 16
    assert cfg.width == 16
    cfg.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["model_type"] == "toy" and data["width"] == 16
    assert data["my_tool_field"] == {"a": [1, 2]} and data["id2label"] == {"0": "neg", "1": "pos"}
    back = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(back, ToyConfig) and back == cfg and back.my_tool_field == {"a": [1, 2]}
    assert ToyConfig.from_pretrained(tmp_path, width=3).width == 3
    config, unused = ToyConfig.from_pretrained(tmp_path, return_unused_kwargs=True)
    assert unused == {} and config.width == 16


def test_num_labels_setter_and_torch_dtype_alias():
    cfg = ToyConfig(num_labels=3, torch_dtype="float16")
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"} and cfg.dtype == "float16"
    cfg.num_labels = 5
    assert len(cfg.label2id) == 5


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"width": 4}', "no 'model_type' field"),
    ('{"model_type": "nonesuch"}', "unknown model_type 'nonesuch'.*gpt2"),
    ('{"model_type": "toy", "width": "wide"}', "field 'width' must be int"),
    ('{"model_type": "toy", "scale": [1]}', "field 'scale' must be float, got list"),
    ('{"model_type": "toy", "id2label": {"x": "a"}}', "id2label.*integer keys"),
    ('{"model_type": "toy", "num_labels": 3, "id2label": {"0": "a"}}', "num_labels=3"),
    ('{"model_type": "toy", "problem_type": "ranking"}', "problem_type"),
    ('{"model_type": "toy", "output_hidden_states": "yes"}', "output_hidden_states"),
])
def test_bad_config_files_name_file_and_field(tmp_path, content, match):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ConfigError, match=match) as err:
        AutoConfig.from_pretrained(tmp_path)
    assert "config.json" in str(err.value)


def test_config_of_another_family_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ConfigError, match="use AutoConfig"):
        ToyConfig.from_pretrained(tmp_path)


# -- outputs ------------------------------------------------------------------------------------
def test_model_output_behaves_like_transformers():
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput as HFOut
    logits, hidden = torch.ones(2), (torch.zeros(1),)
    ours = SequenceClassifierOutput(logits=logits, hidden_states=hidden)
    theirs = HFOut(logits=logits, hidden_states=hidden)
    assert list(ours.keys()) == list(theirs.keys())
    assert len(ours.to_tuple()) == len(theirs.to_tuple())
    assert ours[0] is theirs[0] and ours["hidden_states"] is theirs["hidden_states"]
    assert ("loss" in ours) == ("loss" in theirs)
    assert list(ours) == list(theirs)
    with pytest.raises(KeyError):
        ours["loss"]
    assert isinstance(ours, ModelOutput)


# -- loading ------------------------------------------------------------------------------------
def test_round_trip_and_eval_mode(base_dir):
    folder, model = base_dir
    assert set(load_file(folder / "model.safetensors")) == {"embed.weight", "proj.weight",
                                                            "proj.bias"}
    loaded = AutoModel.from_pretrained(folder)
    assert isinstance(loaded, ToyModel) and not loaded.training
    for (n, p), (m, q) in zip(model.named_parameters(), loaded.named_parameters()):
        assert n == m and np.array_equal(p.data, q.data)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["architectures"] == ["ToyModel"] and saved["dtype"] == "float32"


def test_head_from_base_checkpoint_reports_and_initialises_the_head(base_dir, caplog):
    folder, model = base_dir
    with caplog.at_level(logging.WARNING, logger="ember.models"):
        clf, info = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=3, output_loading_info=True)
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    assert info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    assert "newly initialized" in caplog.text and "classifier.weight" in caplog.text
    assert np.array_equal(clf.toy.proj.weight.data, model.proj.weight.data)
    w = clf.classifier.weight.data
    assert w.shape == (3, 4) and 0 < w.std() < 0.1  # drawn by _init_weights, not left empty
    assert not clf.classifier.bias.data.any()


def test_base_from_head_checkpoint_strips_prefix(tmp_path):
    head = ToyForSequenceClassification(ToyConfig())
    head.save_pretrained(tmp_path)
    assert "toy.proj.weight" in load_file(tmp_path / "model.safetensors")
    base, info = ToyModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and set(info["unexpected_keys"]) == {
        "classifier.weight", "classifier.bias"}
    assert np.array_equal(base.proj.weight.data, head.toy.proj.weight.data)


def test_shape_mismatch_names_every_tensor(base_dir):
    folder, _ = base_dir
    with pytest.raises(CheckpointMismatchError, match=r"embed\.weight: checkpoint \[11, 4\] vs "
                       r"model \[11, 6\](.|\n)*proj\.weight"):
        AutoModel.from_pretrained(folder, width=6)
    model, info = AutoModel.from_pretrained(folder, width=6, ignore_mismatched_sizes=True,
                                            output_loading_info=True)
    assert [k for k, _, _ in info["mismatched_keys"]] == ["embed.weight", "proj.weight",
                                                          "proj.bias"]
    assert model.proj.weight.shape == (6, 6)


def test_legacy_layernorm_names(tmp_path):
    class Normed(ToyModel):
        def __init__(self, config):
            super().__init__(config)
            self.LayerNorm = nn.LayerNorm(config.width)

    model = Normed(ToyConfig())
    state = {k: v.data for k, v in model.state_dict().items()}
    state["LayerNorm.gamma"] = np.full(4, 2.0, np.float32)
    state["LayerNorm.beta"] = np.full(4, 3.0, np.float32)
    del state["LayerNorm.weight"], state["LayerNorm.bias"]
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ToyConfig().save_pretrained(tmp_path)
    loaded, info = Normed.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert (loaded.LayerNorm.weight.data == 2).all() and (loaded.LayerNorm.bias.data == 3).all()


def test_dtypes(base_dir, tmp_path):
    folder, model = base_dir
    half = AutoModel.from_pretrained(folder, dtype="float16")
    assert half.proj.weight.dtype == np.float16 and half.dtype == np.float16
    np.testing.assert_array_equal(half.proj.weight.data, model.proj.weight.data.astype(np.float16))
    assert AutoModel.from_pretrained(folder, torch_dtype=ember.float64).dtype == np.float64
    with pytest.raises(ValueError, match="bfloat16"):
        AutoModel.from_pretrained(folder, dtype="bfloat16")
    with pytest.raises(ValueError, match="floating dtype"):
        AutoModel.from_pretrained(folder, dtype="int8")
    half.save_pretrained(tmp_path)
    assert load_file(tmp_path / "model.safetensors")["proj.weight"].dtype == np.float16
    assert AutoModel.from_pretrained(tmp_path, dtype="auto").dtype == np.float16
    assert AutoModel.from_pretrained(tmp_path).dtype == np.float32


def test_loaded_weights_are_mapped_copy_on_write(base_dir):
    folder, _ = base_dir
    before = (folder / "model.safetensors").read_bytes()
    model = AutoModel.from_pretrained(folder)
    assert not model.proj.weight.data.flags.owndata  # a view of the memory map, not a copy
    model.proj.weight.data += 1.0  # training writes go to private pages
    assert (folder / "model.safetensors").read_bytes() == before


def test_refuses_pickles_remote_code_and_gpus(tmp_path, base_dir):
    ToyConfig().save_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(Exception, match="(?i)pickle"):
        AutoModel.from_pretrained(tmp_path)
    folder, _ = base_dir
    with pytest.raises(ValueError, match="never runs code"):
        AutoModel.from_pretrained(folder, trust_remote_code=True)
    with pytest.raises(ValueError, match="CPU"):
        ToyModel.from_pretrained(folder, device_map="cuda:0")


def test_truncated_weights_name_the_file(base_dir):
    folder, _ = base_dir
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="model.safetensors"):
        AutoModel.from_pretrained(folder)


def test_hub_cache_name_offline(base_dir, tmp_path, monkeypatch):
    folder, model = base_dir
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "home" / "hub" / "models--org--toy"
    sha = "c" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    snap = repo / "snapshots" / sha
    snap.mkdir(parents=True)
    for f in os.listdir(folder):
        (snap / f).write_bytes((folder / f).read_bytes())
    loaded = AutoModel.from_pretrained("org/toy")
    assert np.array_equal(loaded.proj.bias.data, model.proj.bias.data)
    assert loaded.config.name_or_path == "org/toy"
    with pytest.raises(ModelNotFoundError, match="org/absent"):
        AutoModel.from_pretrained("org/absent")


def test_save_options(tmp_path, base_dir):
    _, model = base_dir
    with pytest.raises(ValueError, match="pickle"):
        model.save_pretrained(tmp_path / "x", safe_serialization=False)
    model.save_pretrained(tmp_path / "y", is_main_process=False)
    assert not (tmp_path / "y").exists()
    model.save_pretrained(tmp_path / "z", max_shard_size=100)
    assert (tmp_path / "z" / "model.safetensors.index.json").exists()
    again = AutoModel.from_pretrained(tmp_path / "z")
    assert np.array_equal(again.embed.weight.data, model.embed.weight.data)


# -- building without weights -------------------------------------------------------------------
def test_skip_init_and_meta_init():
    with nn.init.skip_init():
        m = ToyModel(ToyConfig())
    assert not m.proj.weight.data.any()  # nothing drawn
    with nn.init.meta_init():
        big = ToyModel(ToyConfig(vocab_size=10**6, width=4096))
    w = big.embed.weight.data
    assert w.shape == (10**6, 4096) and w.strides == (0, 0)  # no memory behind it
    assert count_parameters(ToyConfig(vocab_size=10**6, width=4096)) == 10**6 * 4096 + 4096 * 4097
    assert count_parameters(ToyConfig(), task="sequence-classification") == \
        ToyForSequenceClassification(ToyConfig()).num_parameters()


def test_model_needs_a_config():
    with pytest.raises(TypeError, match="PretrainedConfig"):
        ToyModel({"width": 4})
    with pytest.raises(OSError, match="from_pretrained"):
        AutoModel()


def test_public_names_match_transformers():
    """Every model name ember exports at top level exists under the same name in transformers
    (or sentence-transformers), so code ports by changing the import."""
    import sentence_transformers
    import transformers

    from ember import GPT2Config, GPT2LMHeadModel  # noqa: F401  (the issue's example line)
    from ember.models import FAMILY_EXPORTS
    for name in [*FAMILY_EXPORTS, *ember._MODEL_NAMES]:
        assert getattr(ember, name) is getattr(ember.models, name)
        if name in ("SentenceEmbedder", "count_parameters"):
            continue
        ref = sentence_transformers if name == "SentenceTransformer" else transformers
        assert hasattr(ref, name), name
    for name, module in ember._LAZY_NAMES.items():
        assert getattr(ember, name) is getattr(getattr(ember, module), name)
        assert hasattr(transformers, name), name
