"""Ready-made tokenizer recipes to train from scratch (HF's ``tokenizers.implementations``):
byte-level BPE (the GPT-2 recipe), BERT WordPiece, and SentencePiece-style Unigram.

    tok, trainer = recipe("byte-level-bpe", vocab_size=8000)
    tok.train_from_iterator(texts, trainer)
    tok.save("tokenizer.json")
"""
from __future__ import annotations

from . import decoders, models, normalizers, pre_tokenizers, processors, trainers
from .tokenizer import Tokenizer

__all__ = ["RECIPES", "recipe"]

RECIPES = ("byte-level-bpe", "wordpiece", "unigram")


def recipe(kind: str, vocab_size: int = 30000, min_frequency: int = 2,
           special_tokens: list[str] | None = None, show_progress: bool = True,
           lowercase: bool = True) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained Tokenizer of the given ``kind`` and the trainer that fits it."""
    if kind == "byte-level-bpe":
        special = ["<|endoftext|>"] if special_tokens is None else special_tokens
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=special, show_progress=show_progress,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        return tok, trainer
    if kind == "wordpiece":
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] if special_tokens is None \
            else special_tokens
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=special, show_progress=show_progress)
        if "[CLS]" in special and "[SEP]" in special:
            # trainers give the special tokens the first ids, in order
            cls_id, sep_id = special.index("[CLS]"), special.index("[SEP]")
            tok.post_processor = processors.TemplateProcessing(
                single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
        return tok, trainer
    if kind == "unigram":
        special = ["<unk>", "<pad>", "<s>", "</s>"] if special_tokens is None else special_tokens
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=special,
                                          unk_token=special[0] if special else None,
                                          show_progress=show_progress)
        return tok, trainer
    raise ValueError(f"unknown tokenizer recipe {kind!r}; expected one of {RECIPES}")
