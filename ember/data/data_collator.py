"""transformers' data collators: turn a list of dataset rows (dicts of lists, arrays or ember
Tensors) into one padded batch, as a DataLoader's ``collate_fn``.

Example::

    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)
    batch = collate([tokenizer("a text"), tokenizer("another, longer text")])
    batch["input_ids"], batch["labels"]      # ember int64 tensors, labels -100 where unmasked

``return_tensors`` is ``"pt"`` (the default) or its synonym ``"ember"`` for ember Tensors, or
``"np"`` for NumPy arrays. Values follow transformers' torch path where it differs from its
NumPy one (floats collated from Python numbers are float32). Masking draws from NumPy's PCG64 in
the same order as transformers' NumPy path, so a collator with ``seed=s`` masks exactly as
``transformers.DataCollatorForLanguageModeling(..., return_tensors="np", seed=s)`` does;
without a seed it draws from ember's default generator (``ember.manual_seed``).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.random import Generator, default_generator
from ..autograd.tensor import Tensor

__all__ = ["DataCollatorForLanguageModeling", "DataCollatorForSeq2Seq",
           "DataCollatorForTokenClassification", "DataCollatorMixin", "DataCollatorWithPadding",
           "DefaultDataCollator", "default_data_collator"]

_EMBER = ("pt", "ember")


def _check_kind(return_tensors: str) -> None:
    if return_tensors not in (*_EMBER, "np"):
        raise ValueError(f"Framework '{return_tensors}' not recognized! Use 'pt' or 'ember' "
                         "(ember tensors) or 'np' (NumPy arrays).")


def _numpy(x) -> Any:
    """NumPy view of an ember Tensor; anything else unchanged."""
    return x.detach().numpy() if isinstance(x, Tensor) else x


def _ember(arr: np.ndarray) -> Tensor:
    from ..autograd.creation import from_numpy

    if arr.dtype == np.float64:  # torch.tensor(list of floats) is float32
        arr = arr.astype(np.float32)
    return from_numpy(np.ascontiguousarray(arr))


def _finish(batch, return_tensors: str):
    """NumPy arrays in ``batch`` become ember Tensors for "pt"/"ember" (in place)."""
    if return_tensors in _EMBER:
        for key, value in list(batch.items()):
            if isinstance(value, np.ndarray):
                if value.dtype == object:
                    raise ValueError(f"cannot make a tensor of `{key}`: its rows have different "
                                     "lengths (pad them, e.g. padding=True)")
                batch[key] = _ember(value)
    return batch


def _pad(tokenizer, features, **kwargs):
    """``tokenizer.pad`` to NumPy (the caller converts at the end)."""
    if not hasattr(tokenizer, "pad"):
        raise TypeError(f"{type(tokenizer).__name__} has no `pad` method; pass an ember "
                        "tokenizer (ember.tokenizers.AutoTokenizer)")
    return tokenizer.pad(features, return_tensors="np", **kwargs)


def _row(x) -> list:
    """A row of labels as a Python list."""
    x = _numpy(x)
    return x.tolist() if isinstance(x, np.ndarray) else list(x)


class DataCollatorMixin:
    """``__call__(features, return_tensors=None)`` dispatching to ``torch_call`` (ember tensors)
    or ``numpy_call``, as transformers' mixin does."""

    return_tensors: str = "pt"

    def __call__(self, features, return_tensors: str | None = None):
        if return_tensors is None:
            return_tensors = self.return_tensors
        _check_kind(return_tensors)
        if return_tensors in _EMBER:
            return self.torch_call(features)
        return self.numpy_call(features)

    def torch_call(self, features):
        return self._collate(features, "pt")

    def numpy_call(self, features):
        return self._collate(features, "np")

    def _collate(self, features, return_tensors: str):
        raise NotImplementedError


# ---------------------------------------------------------------------- default collator
def default_data_collator(features: list, return_tensors: str = "pt") -> dict[str, Any]:
    """Stack rows that are already the same shape; ``label`` (one number per row) or
    ``label_ids`` (a list per row) become ``labels``, int64 for ints and float32 for floats.
    Rows may be dicts or objects (their ``vars``); ``None`` and string values are dropped.

    >>> default_data_collator([{"x": [1, 2], "label": 0}, {"x": [3, 4], "label": 1}])["labels"]
    tensor([0, 1])
    """
    _check_kind(return_tensors)
    if not isinstance(features[0], Mapping):
        features = [vars(f) for f in features]
    first = features[0]
    if return_tensors in _EMBER:
        return _default_ember(features, first)
    return _default_numpy(features, first)


def _ragged(key: str, err: Exception) -> ValueError:
    return ValueError(f"default_data_collator: cannot stack `{key}` ({err}); rows of different "
                      "lengths need padding (use DataCollatorWithPadding)")


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer))


def _default_ember(features: list, first: Mapping) -> dict[str, Any]:
    import ember

    batch: dict[str, Any] = {}
    label = first.get("label")
    if label is not None:
        if isinstance(label, (Tensor, np.ndarray)):
            label = label.item()
        dtype = ember.int64 if _is_int(label) else ember.float32
        batch["labels"] = ember.tensor([_numpy(f["label"]) for f in features], dtype=dtype)
    elif first.get("label_ids") is not None:
        ids = first["label_ids"]
        if isinstance(ids, Tensor):
            batch["labels"] = ember.stack([f["label_ids"] for f in features])
        else:
            dtype = ember.int64 if _is_int(ids[0]) else ember.float32
            batch["labels"] = ember.tensor([_row(f["label_ids"]) for f in features], dtype=dtype)
    for k, v in first.items():
        if k in ("label", "label_ids") or v is None or isinstance(v, str):
            continue
        try:
            if isinstance(v, Tensor):
                batch[k] = ember.stack([f[k] for f in features])
            elif isinstance(v, np.ndarray):
                batch[k] = ember.from_numpy(np.stack([f[k] for f in features]))
            else:
                batch[k] = ember.tensor([f[k] for f in features])
        except (ValueError, RuntimeError) as e:
            raise _ragged(k, e) from e
    return batch


def _default_numpy(features: list, first: Mapping) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    label = first.get("label")
    if label is not None:
        label = _numpy(label)
        if isinstance(label, np.ndarray):
            label = label.item()
        dtype = np.int64 if _is_int(label) else np.float32
        batch["labels"] = np.array([_numpy(f["label"]) for f in features], dtype=dtype)
    elif first.get("label_ids") is not None:
        ids = _numpy(first["label_ids"])
        if isinstance(ids, np.ndarray):
            batch["labels"] = np.stack([_numpy(f["label_ids"]) for f in features])
        else:
            dtype = np.int64 if _is_int(ids[0]) else np.float32
            batch["labels"] = np.array([f["label_ids"] for f in features], dtype=dtype)
    for k, v in first.items():
        if k in ("label", "label_ids") or v is None or isinstance(v, str):
            continue
        try:
            if isinstance(v, (Tensor, np.ndarray)):
                batch[k] = np.stack([_numpy(f[k]) for f in features])
            else:
                batch[k] = np.array([f[k] for f in features])
        except ValueError as e:
            raise _ragged(k, e) from e
    return batch


@dataclass
class DefaultDataCollator(DataCollatorMixin):
    """``default_data_collator`` as an object, with ``return_tensors`` fixed at construction."""

    return_tensors: str = "pt"

    def __call__(self, features: list, return_tensors: str | None = None) -> dict[str, Any]:
        return default_data_collator(features, return_tensors or self.return_tensors)


# ---------------------------------------------------------------------- padding collators
@dataclass
class DataCollatorWithPadding:
    """Pad each batch to its longest row (or ``max_length``, or a multiple of
    ``pad_to_multiple_of``) with ``tokenizer.pad``, on the tokenizer's padding side;
    ``label``/``label_ids`` are renamed ``labels``.

    >>> collate = DataCollatorWithPadding(tok, pad_to_multiple_of=8)
    >>> collate([tok("hi"), tok("a longer text")])["input_ids"].shape
    ember.Size([2, 8])
    """

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"

    def __call__(self, features: list) -> Any:
        _check_kind(self.return_tensors)
        batch = _pad(self.tokenizer, features, padding=self.padding, max_length=self.max_length,
                     pad_to_multiple_of=self.pad_to_multiple_of)
        for old in ("label", "label_ids"):
            if old in batch:
                batch["labels"] = batch.pop(old)
        return _finish(batch, self.return_tensors)


@dataclass
class DataCollatorForTokenClassification(DataCollatorMixin):
    """Pad the inputs with ``tokenizer.pad`` and the per-token ``labels`` (or ``label``) to the
    same length with ``label_pad_token_id`` (-100: ignored by the loss), on the padding side.

    >>> DataCollatorForTokenClassification(tok)([
    ...     {"input_ids": [101, 7, 102], "labels": [-100, 3, -100]},
    ...     {"input_ids": [101, 102], "labels": [-100, -100]}])["labels"].tolist()
    [[-100, 3, -100], [-100, -100, -100]]
    """

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def _collate(self, features, return_tensors: str):
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        inputs = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = _pad(self.tokenizer, inputs, padding=self.padding, max_length=self.max_length,
                     pad_to_multiple_of=self.pad_to_multiple_of)
        if labels is None:
            return _finish(batch, return_tensors)
        length = np.asarray(batch["input_ids"]).shape[1]
        rows = [_row(label) for label in labels]
        if any(len(r) > length for r in rows):
            raise ValueError(f"a row of `{label_name}` is longer than its padded input_ids "
                             f"({max(map(len, rows))} > {length}): one label per token")
        fill = self.label_pad_token_id
        if self.tokenizer.padding_side == "right":
            rows = [r + [fill] * (length - len(r)) for r in rows]
        else:
            rows = [[fill] * (length - len(r)) + r for r in rows]
        batch[label_name] = np.array(rows, dtype=np.int64)
        return _finish(batch, return_tensors)


@dataclass
class DataCollatorForSeq2Seq:
    """Pad encoder inputs with ``tokenizer.pad`` and ``labels`` with ``label_pad_token_id`` to
    the longest label (or ``max_length`` with ``padding="max_length"``); when ``model`` has
    ``prepare_decoder_input_ids_from_labels``, also return ``decoder_input_ids``.

    >>> DataCollatorForSeq2Seq(tok)([{"input_ids": [5, 6], "labels": [7]},
    ...                              {"input_ids": [5], "labels": [8, 9]}])["labels"].tolist()
    [[7, -100], [8, 9]]
    """

    tokenizer: Any
    model: Any | None = None
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def __call__(self, features: list, return_tensors: str | None = None) -> Any:
        return_tensors = return_tensors or self.return_tensors
        _check_kind(return_tensors)
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        if labels is not None and all(label is None for label in labels):
            labels = None
        inputs = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = _pad(self.tokenizer, inputs, padding=self.padding, max_length=self.max_length,
                     pad_to_multiple_of=self.pad_to_multiple_of)
        padding = getattr(self.padding, "value", self.padding)
        if labels is None:
            batch["labels"] = None
        else:
            rows = [_row(label) for label in labels]
            if padding is not False and padding != "do_not_pad":
                if padding == "max_length" and self.max_length is not None:
                    length = self.max_length
                else:
                    length = max(len(r) for r in rows)
                if self.pad_to_multiple_of is not None:
                    m = self.pad_to_multiple_of
                    length = (length + m - 1) // m * m
                fill = self.label_pad_token_id
                if self.tokenizer.padding_side == "right":
                    rows = [r + [fill] * (length - len(r)) for r in rows]
                else:
                    rows = [[fill] * (length - len(r)) + r for r in rows]
            try:
                batch["labels"] = np.array(rows, dtype=np.int64)
            except ValueError as e:
                raise ValueError("labels of different lengths cannot be batched without "
                                 "padding (padding=False)") from e
        _finish(batch, return_tensors)
        if labels is not None and self.model is not None and \
                hasattr(self.model, "prepare_decoder_input_ids_from_labels"):
            batch["decoder_input_ids"] = self.model.prepare_decoder_input_ids_from_labels(
                labels=batch["labels"])
        return batch


# ---------------------------------------------------------------------- language modeling
def _collate_ids(examples: list, tokenizer, pad_to_multiple_of: int | None) -> np.ndarray:
    """Rows of token ids (lists, arrays or tensors) as one (batch, length) array, padded with
    the tokenizer's pad token on its padding side when lengths differ."""
    rows = []
    for e in examples:
        e = _numpy(e)
        row = np.asarray(e, dtype=np.int64) if isinstance(e, (list, tuple)) else np.asarray(e)
        if row.ndim != 1:
            raise ValueError(f"each example must be one sequence of token ids, got shape "
                             f"{row.shape}")
        rows.append(row)
    first = len(rows[0])
    if all(len(r) == first for r in rows) and \
            (pad_to_multiple_of is None or first % pad_to_multiple_of == 0):
        return np.stack(rows, axis=0)
    if tokenizer.pad_token is None:
        raise ValueError("You are attempting to pad samples but the tokenizer you are using "
                         f"({type(tokenizer).__name__}) does not have a pad token.")
    length = max(len(r) for r in rows)
    if pad_to_multiple_of is not None and length % pad_to_multiple_of != 0:
        length = (length // pad_to_multiple_of + 1) * pad_to_multiple_of
    out = np.full((len(rows), length), tokenizer.pad_token_id, dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        if tokenizer.padding_side == "right":
            out[i, :len(r)] = r
        else:
            out[i, length - len(r):] = r
    return out


@dataclass
class DataCollatorForLanguageModeling(DataCollatorMixin):
    """Batches for language modeling, padded to the longest row.

    ``mlm=False`` (causal LM): ``labels`` are the ``input_ids`` with pad positions -100 (models
    shift them). ``mlm=True``: each token that is neither special nor padding is selected with
    probability ``mlm_probability``; ``labels`` hold the selected tokens' ids and -100 elsewhere;
    a selected token becomes the mask token with probability ``mask_replace_prob``, a random
    token with ``random_replace_prob``, else stays (80/10/10 by default).
    ``whole_word_mask=True`` selects whole words (needs ``offset_mapping`` in the rows).

    ``seed`` (or an ``ember.Generator`` as ``generator``) gives the collator its own stream;
    otherwise it draws from ember's default generator.

    >>> collate = DataCollatorForLanguageModeling(bert_tok, seed=0)
    >>> batch = collate([bert_tok("a short text"), bert_tok("and a somewhat longer one")])
    >>> sorted(batch)
    ['attention_mask', 'input_ids', 'labels', 'token_type_ids']
    """

    tokenizer: Any
    mlm: bool = True
    whole_word_mask: bool = False
    mlm_probability: float | None = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"
    seed: int | None = None
    generator: Generator | None = None

    def __post_init__(self) -> None:
        if self.mlm:
            if self.tokenizer.mask_token is None or self.tokenizer.mask_token_id is None:
                raise ValueError("This tokenizer does not have a mask token which is necessary "
                                 "for masked language modeling. You should pass `mlm=False` to "
                                 "train on causal language modeling instead.")
            if self.mlm_probability is None or not 0 <= self.mlm_probability <= 1:
                raise ValueError("mlm_probability should be between 0 and 1.")
            self.mlm_probability = float(self.mlm_probability)
        elif self.whole_word_mask:
            raise ValueError("Whole word masking can only be used with mlm=True. If you want to "
                             "use whole word masking, please set mlm=True.")
        if self.mask_replace_prob + self.random_replace_prob > 1:
            raise ValueError("The sum of mask_replace_prob and random_replace_prob should not "
                             "exceed 1")
        if not 0 <= self.mask_replace_prob <= 1:
            raise ValueError("mask_replace_prob should be between 0 and 1.")
        if not 0 <= self.random_replace_prob <= 1:
            raise ValueError("random_replace_prob should be between 0 and 1.")
        if self.whole_word_mask and self.mask_replace_prob < 1:
            warnings.warn("Random token replacement is not supported with whole word masking. "
                          "Setting mask_replace_prob to 1.", stacklevel=3)
            self.mask_replace_prob, self.random_replace_prob = 1, 0
        self.mask_replace_prob = float(self.mask_replace_prob)
        self.random_replace_prob = float(self.random_replace_prob)
        _check_kind(self.return_tensors)
        if self.seed is not None:
            if self.generator is not None:
                raise ValueError("pass either `seed` or `generator`, not both")
            self.generator = Generator().manual_seed(self.seed)

    def _rng(self) -> np.random.Generator:
        # read at call time: ember.manual_seed replaces the default generator's stream
        return (self.generator or default_generator).rng

    def _collate(self, examples, return_tensors: str):
        if isinstance(examples[0], Mapping):
            batch = _pad(self.tokenizer, examples, pad_to_multiple_of=self.pad_to_multiple_of)
        else:
            batch = {"input_ids": _collate_ids(examples, self.tokenizer, self.pad_to_multiple_of)}
        special_tokens_mask = batch.pop("special_tokens_mask", None)
        offset_mapping = batch.pop("offset_mapping", None)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.numpy_mask_tokens(
                batch["input_ids"], special_tokens_mask=special_tokens_mask,
                offset_mapping=offset_mapping)
        else:
            labels = np.array(batch["input_ids"], copy=True)
            if self.tokenizer.pad_token_id is not None:
                labels[labels == self.tokenizer.pad_token_id] = -100
            batch["labels"] = labels
        return _finish(batch, return_tensors)

    def torch_mask_tokens(self, inputs: Tensor, special_tokens_mask=None,
                          offset_mapping=None) -> tuple[Tensor, Tensor]:
        """``numpy_mask_tokens`` on ember tensors: (masked inputs, labels)."""
        inputs, labels = self.numpy_mask_tokens(
            _numpy(inputs), special_tokens_mask=_numpy(special_tokens_mask),
            offset_mapping=_numpy(offset_mapping))
        return _ember(inputs), _ember(labels)

    def numpy_mask_tokens(self, inputs: np.ndarray, special_tokens_mask=None,
                          offset_mapping=None) -> tuple[np.ndarray, np.ndarray]:
        """Masked-LM (inputs, labels) for a (batch, length) array of ids; ``inputs`` is not
        modified. The draws are transformers' NumPy path's, in its order."""
        tok = self.tokenizer
        inputs = np.array(inputs, copy=True)
        labels = inputs.copy()
        probability_matrix = np.full(labels.shape, self.mlm_probability)
        if special_tokens_mask is None:
            special_tokens_mask = [tok.get_special_tokens_mask(row, already_has_special_tokens=True)
                                   for row in labels.tolist()]
        special_tokens_mask = np.asarray(special_tokens_mask).astype(bool)
        if tok.pad_token_id is not None:  # padding is never a target, whatever the mask says
            special_tokens_mask |= labels == tok.pad_token_id
        if self.whole_word_mask:
            if offset_mapping is None:
                raise ValueError("whole_word_mask=True needs `offset_mapping` in the rows: "
                                 "tokenize with return_offsets_mapping=True")
            offsets = _pad_offsets(offset_mapping, labels.shape[1], tok.padding_side)
            word_ids, no_mask_mask = _word_ids_and_prob_mask(offsets, special_tokens_mask)
        else:
            no_mask_mask = special_tokens_mask
        probability_matrix[no_mask_mask] = 0
        rng = self._rng()
        masked = rng.binomial(1, probability_matrix, size=probability_matrix.shape).astype(bool)
        if self.whole_word_mask:
            masked = _whole_word_mask(word_ids, masked)
        labels[~masked] = -100
        replaced = rng.binomial(1, self.mask_replace_prob, size=labels.shape).astype(bool) & masked
        inputs[replaced] = tok.mask_token_id
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        # the random share of what was not replaced by the mask token (0.1 / 0.2 by default)
        scaled = self.random_replace_prob / (1 - self.mask_replace_prob)
        randomized = rng.binomial(1, scaled, size=labels.shape).astype(bool) & masked & ~replaced
        inputs[randomized] = rng.integers(low=0, high=len(tok), size=np.count_nonzero(randomized),
                                          dtype=np.int64)
        return inputs, labels


def _pad_offsets(offset_mapping, length: int, side: str) -> np.ndarray:
    """(batch, length, 2) offsets; rows shorter than ``length`` get (0, 0) on the padding
    side (tokenizer.pad leaves offset_mapping unpadded)."""
    rows = [np.asarray(_numpy(r), dtype=np.int64).reshape(-1, 2) for r in offset_mapping]
    out = np.zeros((len(rows), length, 2), dtype=np.int64)
    for i, r in enumerate(rows):
        if side == "right":
            out[i, :len(r)] = r
        else:
            out[i, length - len(r):] = r
    return out


def _word_ids_and_prob_mask(offsets: np.ndarray, special: np.ndarray):
    """Word id of each token (-1 for special ones), and the tokens that may not start a
    selection: a word is selected through its first token (transformers' rule)."""
    starts, ends = offsets[:, :, 0], offsets[:, :, 1]
    prev_ends = np.roll(ends, 1, axis=1)
    prev_ends[:, 0] = -1
    prev_special = np.roll(special, 1, axis=1)
    prev_special[:, 0] = False
    is_new_word = ~special & ((starts != prev_ends) | prev_special)
    word_ids = np.cumsum(is_new_word, axis=1)
    word_ids[special] = -1
    return word_ids, ~is_new_word


def _whole_word_mask(word_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    valid = word_ids != -1
    global_ids = word_ids + np.arange(word_ids.shape[0])[:, None] * (word_ids.max() + 1)
    return np.isin(global_ids, global_ids[mask & valid]) & valid
