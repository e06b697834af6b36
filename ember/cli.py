"""The ``ember`` command line.

    ember tokenize train FILE [FILE ...] --kind byte-level-bpe --vocab-size 8000 --output DIR
    ember tokenize show TOKENIZER "some text" [--pair "second text"]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _tokenize_train(args) -> int:
    from .tokenizers.recipes import recipe

    for f in args.files:
        if not Path(f).is_file():
            print(f"ember tokenize train: no such file: {f}", file=sys.stderr)
            return 2
    special = args.special_tokens.split(",") if args.special_tokens else None
    tok, trainer = recipe(args.kind, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                          special_tokens=special, show_progress=not args.quiet,
                          lowercase=not args.cased)
    tok.train([str(f) for f in args.files], trainer)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    from .tokenizers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **_special_kwargs(args.kind, tok))
    fast.save_pretrained(out)
    print(f"trained a {args.kind} tokenizer with {tok.get_vocab_size()} tokens -> {out}")
    return 0


def _special_kwargs(kind: str, tok) -> dict:
    names = {"byte-level-bpe": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                "unk_token": "<|endoftext|>"},
             "wordpiece": {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                           "cls_token": "[CLS]", "mask_token": "[MASK]"},
             "unigram": {"unk_token": "<unk>", "pad_token": "<pad>", "bos_token": "<s>",
                         "eos_token": "</s>"}}[kind]
    return {k: v for k, v in names.items() if tok.token_to_id(v) is not None}


def _load_tokenizer(path: str):
    p = Path(path)
    if p.is_file():
        from .tokenizers import Tokenizer
        return Tokenizer.from_file(p)
    from .tokenizers import AutoTokenizer
    return AutoTokenizer.from_pretrained(path)._tokenizer


def _tokenize_show(args) -> int:
    tok = _load_tokenizer(args.tokenizer)
    enc = tok.encode(args.text, args.pair, add_special_tokens=not args.no_special_tokens)
    text = {0: args.text, 1: args.pair}
    seq_ids = enc.sequence_ids
    print(f"{len(enc.ids)} tokens")
    print(f"{'#':>4}  {'id':>7}  {'token':<20} {'span':<12} text")
    for i, (tid, t, (s, e)) in enumerate(zip(enc.ids, enc.tokens, enc.offsets)):
        seq = seq_ids[i]
        piece = "" if seq is None else text[seq][s:e]
        print(f"{i:>4}  {tid:>7}  {t!r:<20} {f'{s}:{e}':<12} {piece!r}")
    print(f"decoded: {tok.decode(enc.ids, skip_special_tokens=False)!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ember", description="ember: PyTorch-style autograd and a "
                                 "transformers-style stack on NumPy")
    sub = ap.add_subparsers(dest="command", required=True)

    tk = sub.add_parser("tokenize", help="train a tokenizer or inspect how a text splits")
    tsub = tk.add_subparsers(dest="action", required=True)
    tr = tsub.add_parser("train", help="train a tokenizer on text files")
    tr.add_argument("files", nargs="+", help="UTF-8 text files, read line by line")
    tr.add_argument("--kind", choices=["byte-level-bpe", "wordpiece", "unigram"],
                    default="byte-level-bpe")
    tr.add_argument("--vocab-size", type=int, default=8000)
    tr.add_argument("--min-frequency", type=int, default=2)
    tr.add_argument("--special-tokens", default=None,
                    help="comma-separated (default: the recipe's usual ones)")
    tr.add_argument("--cased", action="store_true", help="wordpiece: do not lowercase")
    tr.add_argument("--output", "-o", required=True, help="folder to write tokenizer files to")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(fn=_tokenize_train)

    sh = tsub.add_parser("show", help="show the tokens, ids and offsets of a text")
    sh.add_argument("tokenizer", help="a tokenizer.json file or a tokenizer folder")
    sh.add_argument("text")
    sh.add_argument("--pair", default=None, help="a second sequence")
    sh.add_argument("--no-special-tokens", action="store_true")
    sh.set_defaults(fn=_tokenize_show)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
