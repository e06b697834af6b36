"""The ``ember`` command line.

    ember tokenize train FILE [FILE ...] --kind byte-level-bpe --vocab-size 8000 --output DIR
    ember tokenize show TOKENIZER "some text" [--pair "second text"]
    ember generate FOLDER "prompt" [--max-new-tokens 50 --do-sample --temperature 0.7 --seed 0
                                    --top-k K --top-p P --num-beams B --repetition-penalty R
                                    --num-return-sequences N --stream --json]
    ember run TASK FOLDER "input" [--context "..." (question-answering)] [--top-k K]
                                  [--param name=value ...] [--json]
    ember train [TEXT_FILE ...] [--output-dir DIR] [--config tiny|small|gpt2|FILE.json]
                [--max-steps N] [--resume | --overwrite] [--seed N] [--learning-rate LR ...]
"""
from __future__ import annotations

import argparse
import json
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


# -- ember generate / ember run --------------------------------------------------------------------
class _CommandError(Exception):
    """A user error: printed as one line, exit code 2."""


def _one_line_error(parser: argparse.ArgumentParser, message: str) -> None:
    """argparse's error() without the usage block: one line on stderr, exit code 2."""
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _number(kind: type, low: float | None = None, high: float | None = None,
            low_open: bool = False):
    """An argparse type: ``kind`` within [low, high] (or (low, high] with ``low_open``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if value != value or (low is not None and (value < low or (low_open and value == low))) \
                or (high is not None and value > high):
            bounds = f"{'>' if low_open else '>='} {low}" if high is None else \
                f"in {'(' if low_open else '['}{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _param(text: str) -> tuple[str, object]:
    """``name=value`` with a JSON value (``3``, ``0.5``, ``true``, ``"x"``) or else a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def _jsonable(x):
    """Pipeline results as JSON-friendly values (NumPy scalars and arrays, tensors)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):  # NumPy arrays and scalars
        return x.tolist()
    if hasattr(x, "numpy"):  # ember tensors
        return x.numpy().tolist()
    return x


def _format_record(record: dict) -> str:
    if set(record) == {"generated_text"}:
        text = record["generated_text"]
        return text if isinstance(text, str) else json.dumps(_jsonable(text), ensure_ascii=False)
    if {"answer", "score", "start", "end"} <= set(record):
        return (f"{record['answer']}\t(score {record['score']:.4f}, characters "
                f"{record['start']}-{record['end']})")
    return "  ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {_jsonable(v)}"
                     for k, v in record.items())


def _format(result) -> list[str]:
    """Readable lines: one per record (dict), JSON for anything else (e.g. embeddings)."""
    if isinstance(result, dict):
        return [_format_record(result)]
    if isinstance(result, (list, tuple)) and result and \
            all(isinstance(r, (dict, list, tuple)) for r in result) and \
            any(isinstance(r, dict) or (r and isinstance(r[0], dict)) for r in result):
        lines: list[str] = []
        for r in result:
            lines.extend(_format(r))
        return lines
    return [json.dumps(_jsonable(result), ensure_ascii=False)]


def _print_result(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_jsonable(result), ensure_ascii=False))
    else:
        print("\n".join(_format(result)))


def _error_text(err: BaseException) -> str:
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(msg).split()) or type(err).__name__


def _load_pipeline(task: str, folder: str):
    from .pipelines import check_task, pipeline

    try:
        check_task(task)
    except KeyError as err:
        raise _CommandError(_error_text(err)) from None
    if not Path(folder).is_dir():
        raise _CommandError(f"no such model folder: {folder}")
    try:
        return pipeline(task, folder)
    except (ValueError, KeyError, OSError, ImportError) as err:
        raise _CommandError(_error_text(err)) from None


def _call(pipe, inputs, kwargs: dict):
    try:
        return pipe(inputs, **kwargs)
    except (ValueError, KeyError, TypeError) as err:
        raise _CommandError(_error_text(err)) from None


def _generate_kwargs(args) -> dict:
    kwargs: dict = {"max_new_tokens": args.max_new_tokens}
    sampling = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p}
    kwargs["do_sample"] = args.do_sample or any(v is not None for v in sampling.values())
    for name, value in (*sampling.items(), ("num_beams", args.num_beams),
                        ("repetition_penalty", args.repetition_penalty),
                        ("num_return_sequences", args.num_return_sequences)):
        if value is not None:
            kwargs[name] = value
    return kwargs


def _generate(args) -> int:
    if args.stream and ((args.num_beams or 1) > 1 or (args.num_return_sequences or 1) > 1):
        raise _CommandError("--stream shows one sequence: it cannot be combined with "
                            "--num-beams or --num-return-sequences above 1")
    pipe = _load_pipeline("text-generation", args.folder)
    kwargs = _generate_kwargs(args)
    if args.seed is not None:
        from . import manual_seed
        manual_seed(args.seed)
    if args.stream:
        from .generation import TextStreamer
        kwargs["streamer"] = TextStreamer(pipe.tokenizer, skip_special_tokens=True)
    result = _call(pipe, args.prompt, kwargs)
    if args.json:
        _print_result(result, True)
    elif not args.stream:  # (the streamer printed the text, prompt included, as it came)
        texts = [r["generated_text"] for r in result]
        print("\n---\n".join(texts))
    return 0


def _run(args) -> int:
    pipe = _load_pipeline(args.task, args.folder)
    kwargs = dict(args.param)
    if args.top_k is not None:
        kwargs["top_k"] = args.top_k
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    inputs = args.inputs if len(args.inputs) > 1 else args.inputs[0]
    if pipe.task == "question-answering":
        if args.context is None:
            raise _CommandError("question-answering needs --context (the text to answer from); "
                                "the inputs are the questions")
        if isinstance(inputs, list):
            inputs = [{"question": q, "context": args.context} for q in inputs]
        else:
            inputs = {"question": inputs, "context": args.context}
    elif args.context is not None:
        raise _CommandError(f"--context is for question-answering, not {pipe.task}")
    _print_result(_call(pipe, inputs, kwargs), args.json)
    return 0


def _add_model_commands(sub) -> None:
    g = sub.add_parser("generate", help="continue a prompt with a causal LM (text-generation)",
                       description="Continue PROMPT with the model in FOLDER. Greedy unless "
                       "--do-sample (or --temperature/--top-k/--top-p, which imply it).")
    g.add_argument("folder", help="a model folder (config.json, weights, tokenizer files)")
    g.add_argument("prompt")
    g.add_argument("--max-new-tokens", type=_number(int, 1), default=50,
                   help="tokens to add (default: 50)")
    g.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    g.add_argument("--temperature", type=_number(float, 0.0, low_open=True))
    g.add_argument("--top-k", type=_number(int, 0))
    g.add_argument("--top-p", type=_number(float, 0.0, 1.0, low_open=True))
    g.add_argument("--num-beams", type=_number(int, 1))
    g.add_argument("--repetition-penalty", type=_number(float, 0.0, low_open=True))
    g.add_argument("--num-return-sequences", type=_number(int, 1))
    g.add_argument("--seed", type=_number(int, 0), help="seed ember's random generator first")
    g.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    g.add_argument("--json", action="store_true", help="print the pipeline's result as JSON")
    g.set_defaults(fn=_generate)
    g.error = lambda message: _one_line_error(g, message)

    r = sub.add_parser("run", help="run any pipeline task on a model folder",
                       description="Run the TASK pipeline of the model in FOLDER on INPUT(s).")
    r.add_argument("task", help="a pipeline task, e.g. question-answering, text-generation, "
                   "fill-mask, text-classification")
    r.add_argument("folder", help="a model folder (config.json, weights, tokenizer files)")
    r.add_argument("inputs", nargs="+", metavar="input",
                   help="the input text (the question for question-answering); several give "
                   "a list of results")
    r.add_argument("--context", help="question-answering: the text to find the answer in")
    r.add_argument("--top-k", type=_number(int, 1), help="the task's top_k")
    r.add_argument("--param", "-p", type=_param, action="append", default=[],
                   metavar="NAME=VALUE",
                   help="a task parameter, value as JSON (e.g. -p max_new_tokens=20 "
                   "-p do_sample=false); repeatable")
    r.add_argument("--batch-size", type=_number(int, 1))
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(fn=_run)
    r.error = lambda message: _one_line_error(r, message)


# -- ember train -----------------------------------------------------------------------------------
def _train(args) -> int:
    from .trainer.pretrain import TrainJobError, run

    try:
        return run(args)
    except TrainJobError as err:
        raise _CommandError(_error_text(err)) from None
    except KeyboardInterrupt:
        print("\nember train: interrupted", file=sys.stderr)
        return 130


def _add_train_command(sub) -> None:
    t = sub.add_parser(
        "train", help="pretrain a GPT-2 style model from scratch (tokenizer, training, report)",
        description="Train a byte-level BPE tokenizer and a GPT-2 style model from scratch on "
        "TEXT_FILEs (default: the CPython documentation, no download), with checkpoints, "
        "validation and unigram-baseline perplexities and samples. Unset options take the "
        "config's defaults (or, with --resume, the run's own settings).")
    t.add_argument("files", nargs="*", metavar="TEXT_FILE",
                   help="UTF-8 text files (the last 5%% of each is held out for validation)")
    t.add_argument("--output-dir", "-o", help="the run folder (default: runs/ember-gpt2-CONFIG)")
    t.add_argument("--config", help="tiny (tests), small (default, about 5 minutes on 2 cores), "
                   "gpt2 (124M) or a JSON file of GPT2Config fields")
    t.add_argument("--resume", action="store_true",
                   help="continue from the last complete checkpoint in the output folder")
    t.add_argument("--overwrite", action="store_true",
                   help="start over in an output folder that already holds a run")
    t.add_argument("--max-steps", type=_number(int, 1), help="optimizer steps")
    t.add_argument("--num-train-epochs", type=_number(float, 0.0, low_open=True),
                   help="epochs instead of --max-steps")
    t.add_argument("--seed", type=_number(int, 0))
    t.add_argument("--learning-rate", type=_number(float, 0.0))
    t.add_argument("--batch-size", type=_number(int, 1), dest="batch_size",
                   help="per_device_train_batch_size (blocks per micro-batch)")
    t.add_argument("--gradient-accumulation-steps", type=_number(int, 1))
    t.add_argument("--warmup-steps", type=_number(float, 0.0),
                   help="steps, or a ratio of the run when < 1")
    t.add_argument("--weight-decay", type=_number(float, 0.0))
    t.add_argument("--lr-scheduler-type", help="linear, cosine, constant_with_warmup, ...")
    t.add_argument("--logging-steps", type=_number(int, 1))
    t.add_argument("--eval-steps", type=_number(int, 1))
    t.add_argument("--save-steps", type=_number(int, 1))
    t.add_argument("--save-total-limit", type=_number(int, 1))
    t.add_argument("--block-size", type=_number(int, 2), help="tokens per training sequence")
    t.add_argument("--vocab-size", type=_number(int, 257), help="the BPE tokenizer's size")
    t.add_argument("--threads", type=_number(int, 0),
                   help="BLAS threads (default 1: a second thread slows steps down on a busy "
                   "machine; 0 = the BLAS default)")
    t.set_defaults(fn=_train)
    t.error = lambda message: _one_line_error(t, message)


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

    _add_model_commands(sub)
    _add_train_command(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except _CommandError as err:
        print(f"ember {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
