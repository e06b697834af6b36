"""``ember generate`` and ``ember run``: output equal to the pipelines', JSON that parses, and
one-line errors with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_pipelines_qa_generation import make_tiny_gpt2, make_tiny_qa

from ember.cli import main
from ember.pipelines import pipeline

CONTEXT = ("The Eiffel Tower was built by Gustave Eiffel's company in 1889. It is 330 metres "
           "tall and was the tallest structure in the world until 1930.")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    return {"qa": make_tiny_qa(str(tmp_path_factory.mktemp("cli-qa"))),
            "gpt2": make_tiny_gpt2(str(tmp_path_factory.mktemp("cli-gpt2")))}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_question_answering(folders, capsys):
    qa = pipeline("question-answering", folders["qa"])
    expected = qa(question="When was it built?", context=CONTEXT)
    code, out, _ = cli(capsys, "run", "question-answering", folders["qa"], "When was it built?",
                       "--context", CONTEXT)
    assert code == 0
    assert out.splitlines() == [f"{expected['answer']}\t(score {expected['score']:.4f}, "
                                f"characters {expected['start']}-{expected['end']})"]
    code, out, _ = cli(capsys, "run", "question-answering", folders["qa"], "When was it built?",
                       "--context", CONTEXT, "--top-k", "3", "--json")
    assert code == 0 and json.loads(out) == qa(question="When was it built?", context=CONTEXT,
                                               top_k=3)
    code, out, _ = cli(capsys, "run", "question-answering", folders["qa"], "When?", "How tall?",
                       "--context", CONTEXT, "--json", "-p", "max_answer_len=3")
    assert code == 0
    assert json.loads(out) == qa(question=["When?", "How tall?"], context=CONTEXT,
                                 max_answer_len=3)


def test_run_text_generation(folders, capsys):
    gen = pipeline("text-generation", folders["gpt2"])
    expected = gen("Hello world", max_new_tokens=5, do_sample=False)
    code, out, _ = cli(capsys, "run", "text-generation", folders["gpt2"], "Hello world",
                       "-p", "max_new_tokens=5", "-p", "do_sample=false", "--json")
    assert code == 0 and json.loads(out) == expected
    code, out, _ = cli(capsys, "run", "text-generation", folders["gpt2"], "Hello world",
                       "-p", "max_new_tokens=5", "-p", "do_sample=false")
    assert code == 0 and out == expected[0]["generated_text"] + "\n"


def test_generate(folders, capsys):
    gen = pipeline("text-generation", folders["gpt2"])
    greedy = gen("Hello world", max_new_tokens=6, do_sample=False)
    code, out, _ = cli(capsys, "generate", folders["gpt2"], "Hello world", "--max-new-tokens", "6")
    assert code == 0 and out == greedy[0]["generated_text"] + "\n"
    code, out, _ = cli(capsys, "generate", folders["gpt2"], "Hello world", "--max-new-tokens", "6",
                       "--stream")
    assert code == 0 and out == greedy[0]["generated_text"] + "\n"
    beams = gen("Hello world", max_new_tokens=6, do_sample=False, num_beams=3,
                num_return_sequences=2, repetition_penalty=1.2)
    code, out, _ = cli(capsys, "generate", folders["gpt2"], "Hello world", "--max-new-tokens", "6",
                       "--num-beams", "3", "--num-return-sequences", "2",
                       "--repetition-penalty", "1.2", "--json")
    assert code == 0 and json.loads(out) == beams
    sampled = [cli(capsys, "generate", folders["gpt2"], "Hello", "--max-new-tokens", "6",
                   "--do-sample", "--top-k", "20", "--top-p", "0.9", "--temperature", "1.2",
                   "--seed", str(seed))[1] for seed in (3, 3, 4, 5)]
    assert sampled[0] == sampled[1] and len(set(sampled)) > 1


@pytest.mark.parametrize("argv, message", [
    (["run", "no-such-task", "{qa}", "x"], "Unknown task 'no-such-task'"),
    (["run", "question-answering", "/no/such/folder", "x", "--context", "c"],
     "no such model folder"),
    (["run", "question-answering", "{qa}", "x"], "needs --context"),
    (["run", "question-answering", "{qa}", "x", "--context", "c", "--top-k", "two"],
     "invalid int value: 'two'"),
    (["run", "question-answering", "{qa}", "x", "--context", "c", "-p", "bogus=1"],
     "unexpected keyword argument(s): bogus"),
    (["run", "question-answering", "{qa}", "x", "--context", "c", "-p", "oops"],
     "expected name=value"),
    (["run", "question-answering", "{qa}", "", "--context", "c"], "cannot be empty"),
    (["run", "text-generation", "{qa}", "x"], "AutoModelForCausalLM"),
    (["generate", "{gpt2}", "Hi", "--max-new-tokens", "0"], "must be >= 1"),
    (["generate", "{gpt2}", "Hi", "--top-p", "1.5"], "must be in (0.0, 1.0]"),
    (["generate", "{gpt2}", "Hi", "--temperature", "hot"], "invalid float value: 'hot'"),
    (["generate", "{gpt2}", "Hi", "--stream", "--num-beams", "2"], "--stream"),
    (["generate", "/no/such/folder", "Hi"], "no such model folder"),
])
def test_errors_are_one_line_with_exit_code_2(folders, capsys, argv, message):
    code, out, err = cli(capsys, *[a.format(**folders) for a in argv])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith(f"ember {argv[0]}: error: ")


def test_subprocess_exit_codes_and_no_traceback(folders):
    def run(*argv):
        return subprocess.run([sys.executable, "-m", "ember.cli", *argv], capture_output=True,
                              text=True, timeout=120)

    ok = run("run", "question-answering", folders["qa"], "When was it built?", "--context",
             CONTEXT, "--json")
    assert ok.returncode == 0 and {"score", "start", "end", "answer"} <= set(json.loads(ok.stdout))
    bad = run("run", "question-answering", folders["qa"], "Who?", "--context", CONTEXT,
              "--top-k", "-1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "ember run: error: argument --top-k: must be >= 1, got -1"


def test_tokenize_still_works(folders, capsys):
    code, out, _ = cli(capsys, "tokenize", "show", folders["qa"], "Hello there")
    assert code == 0 and "'[CLS]'" in out and "'hello'" in out
