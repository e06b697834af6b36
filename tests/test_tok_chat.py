"""``apply_chat_template``: ember against transformers on realistic chat templates (ChatML,
Llama-2 with a system message, Zephyr with a generation prompt, tools/documents, assistant masks),
rendered text and token ids, and template loading/saving."""
from __future__ import annotations

import json
import os
import shutil
import sys

import jinja2
import numpy as np
import pytest
import transformers

from ember.tokenizers import AutoTokenizer, chat_template

GPT2_DATA = "/work/shared/data/gpt2"

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
          "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}")
# multi-line, so trim_blocks / lstrip_blocks matter
ZEPHYR = """{% for message in messages %}
    {% if message['role'] == 'user' %}
{{ '<|user|>\n' + message['content'] + eos_token }}
    {% elif message['role'] == 'system' %}
{{ '<|system|>\n' + message['content'] + eos_token }}
    {% elif message['role'] == 'assistant' %}
{{ '<|assistant|>\n'  + message['content'] + eos_token }}
    {% endif %}
    {% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
    {% endif %}
{% endfor %}"""
TOOLS = """{%- set ns = namespace(n=0) -%}
{%- if tools %}<|system|>Tools ({{ strftime_now('%Y') }}):
{% for t in tools %}{{ t | tojson(indent=2) }}
{% endfor %}{% endif -%}
{%- if documents %}{% for d in documents %}[doc {{ loop.index }}] {{ d.title }}: {{ d.text }}
{% endfor %}{% endif -%}
{%- for m in messages -%}
{%- if m.role == 'stop' %}{% break %}{% endif -%}
{%- set ns.n = ns.n + 1 -%}
<|{{ m.role }}|>{{ (m.content if m.content is defined else '') | tojson }}
{%- if m.tool_calls is defined %} calls={{ m.tool_calls | tojson(sort_keys=true) }}{% endif %}
{% endfor -%}
{{ ns.n }} messages{% if add_generation_prompt %}
<|assistant|>{% endif %}"""
MASKED = ("{% for m in messages %}{% if m['role'] == 'assistant' %}<|assistant|>"
          "{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
          "{% else %}<|user|>{{ m['content'] }}<|im_end|>{% endif %}{% endfor %}")

CHAT = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi there! Naïve café? 👋🏽"},
        {"role": "assistant", "content": "  Hello, how can I help?  "},
        {"role": "user", "content": "Write <|im_end|> code:\n  print('x')"}]
SHORT = [{"role": "user", "content": "Only one question"}]
TOOL_SCHEMA = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                "parameters": {"type": "object", "properties": {
                                                    "city": {"type": "string"}}}}}
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|user|>", "<|assistant|>", "<|system|>"]


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    """A GPT-2 folder with chat special tokens and a ChatML template in its config."""
    d = tmp_path_factory.mktemp("chat")
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(GPT2_DATA, f), d / f)
    (d / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "pad_token": "<|im_end|>",
        "additional_special_tokens": SPECIALS, "chat_template": CHATML}))
    return d


@pytest.fixture(scope="module")
def toks(chat_dir):
    return AutoTokenizer.from_pretrained(chat_dir), \
        transformers.AutoTokenizer.from_pretrained(chat_dir)


def both(toks, *args, **kwargs):
    ours, theirs = toks
    a = ours.apply_chat_template(*args, **kwargs)
    b = theirs.apply_chat_template(*args, **kwargs)
    if hasattr(b, "keys"):  # a BatchEncoding
        assert list(a.keys()) == list(b.keys())
        for k in b:
            if isinstance(b[k], np.ndarray):
                np.testing.assert_array_equal(a[k], b[k])
                assert a[k].dtype == b[k].dtype
            else:
                assert a[k] == b[k], k
    else:
        assert a == b
    return a


@pytest.mark.parametrize("template", [CHATML, LLAMA2, ZEPHYR, TOOLS, MASKED],
                         ids=["chatml", "llama2", "zephyr", "tools", "generation"])
@pytest.mark.parametrize("gen", [False, True])
def test_rendered_text_and_ids(toks, template, gen):
    conv = CHAT[1:] if template == LLAMA2 else CHAT
    for c in (conv, SHORT):
        text = both(toks, c, chat_template=template, add_generation_prompt=gen, tokenize=False)
        assert isinstance(text, str) and text
        both(toks, c, chat_template=template, add_generation_prompt=gen)  # a BatchEncoding
        both(toks, c, chat_template=template, add_generation_prompt=gen, return_dict=False)


def test_llama2_system_message_and_alternation_error(toks):
    text = both(toks, CHAT[:3], chat_template=LLAMA2, tokenize=False)
    assert "<<SYS>>\nYou are terse.\n<</SYS>>" in text
    bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    for tok in toks:
        with pytest.raises(jinja2.exceptions.TemplateError, match="must alternate"):
            tok.apply_chat_template(bad, chat_template=LLAMA2)


def test_default_template_batches_and_tensors(toks):
    both(toks, CHAT, add_generation_prompt=True, tokenize=False)  # ChatML from the config
    batch = [CHAT, SHORT, CHAT[:2]]
    both(toks, batch, tokenize=False)
    both(toks, batch, padding=True, return_tensors="np")
    both(toks, batch, padding=True, truncation=True, max_length=12)
    both(toks, batch, return_dict=False)


def test_tools_documents_and_extra_variables(toks):
    docs = [{"title": "A", "text": "alpha"}, {"title": "B", "text": "beta <b>&amp;</b>"}]
    calls = [{"type": "function", "function": {"name": "get_weather",
                                               "arguments": {"city": "Paris", "unit": "°C"}}}]
    conv = [*CHAT[1:3], {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "stop", "content": "never shown"}, {"role": "user", "content": "x"}]
    text = both(toks, conv, chat_template=TOOLS, tools=[TOOL_SCHEMA], documents=docs,
                add_generation_prompt=True, tokenize=False)
    assert '"°C"' in text and "<b>&amp;</b>" in text  # tojson: no ASCII or HTML escaping
    both(toks, SHORT, chat_template="{{ greeting }} {{ bos_token }}{{ messages[0].content }}",
         greeting="Hey", tokenize=False)


def test_continue_final_message(toks):
    conv = [*CHAT[:2], {"role": "assistant", "content": "The answer is"}]
    for template in (CHATML, ZEPHYR):
        text = both(toks, conv, chat_template=template, continue_final_message=True,
                    tokenize=False)
        assert text.endswith("The answer is")
        both(toks, conv, chat_template=template, continue_final_message=True)
    for tok in toks:
        with pytest.raises(ValueError, match="not compatible"):
            tok.apply_chat_template(conv, continue_final_message=True,
                                    add_generation_prompt=True)


def test_assistant_tokens_mask(toks):
    conv = CHAT[1:3] + [{"role": "user", "content": "more"},
                        {"role": "assistant", "content": "Sure thing"}]
    out = both(toks, conv, chat_template=MASKED, return_assistant_tokens_mask=True)
    assert 0 < sum(out["assistant_masks"]) < len(out["input_ids"])
    both(toks, [conv, conv[:2]], chat_template=MASKED, return_assistant_tokens_mask=True,
         padding=True, return_tensors="np")


def test_sandbox_and_errors(toks):
    for tok in toks:
        with pytest.raises(jinja2.exceptions.SecurityError):
            tok.apply_chat_template(SHORT, chat_template="{{ ''.__class__.__mro__ }}",
                                    tokenize=False)
        with pytest.raises(jinja2.exceptions.SecurityError):
            tok.apply_chat_template(SHORT, chat_template="{% set ns = namespace(_x=1) %}",
                                    tokenize=False)
        with pytest.raises(ValueError, match="empty conversation"):
            tok.apply_chat_template([])


def test_template_files_and_named_templates(tmp_path, chat_dir):
    folder = tmp_path / "files"
    shutil.copytree(chat_dir, folder)
    (folder / "chat_template.jinja").write_text(ZEPHYR)  # wins over the config's entry
    (folder / "additional_chat_templates").mkdir()
    (folder / "additional_chat_templates" / "tool_use.jinja").write_text(TOOLS)
    toks = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    assert toks[0].chat_template == toks[1].chat_template == {"default": ZEPHYR,
                                                              "tool_use": TOOLS}
    both(toks, CHAT, tokenize=False)
    both(toks, CHAT, tools=[TOOL_SCHEMA], tokenize=False)  # tools pick "tool_use"
    both(toks, CHAT, chat_template="tool_use", tokenize=False)
    for tok in toks:  # saved and reloaded as files, by each library
        out = tmp_path / f"saved_{type(tok).__module__.split('.')[0]}"
        tok.save_pretrained(out)
        assert (out / "additional_chat_templates" / "tool_use.jinja").read_text() == TOOLS
        for back in (AutoTokenizer.from_pretrained(out),
                     transformers.AutoTokenizer.from_pretrained(out)):
            assert back.chat_template == {"default": ZEPHYR, "tool_use": TOOLS}
    cfg = json.loads((chat_dir / "tokenizer_config.json").read_text())
    listed = tmp_path / "listed"
    shutil.copytree(chat_dir, listed)
    cfg["chat_template"] = [{"name": "default", "template": CHATML},
                            {"name": "other", "template": LLAMA2}]
    (listed / "tokenizer_config.json").write_text(json.dumps(cfg))
    toks = AutoTokenizer.from_pretrained(listed), transformers.AutoTokenizer.from_pretrained(listed)
    assert toks[0].chat_template == toks[1].chat_template
    both(toks, CHAT[1:], chat_template="other", tokenize=False)


def test_missing_template_and_missing_jinja(tmp_path, chat_dir, monkeypatch):
    folder = tmp_path / "plain"
    shutil.copytree(chat_dir, folder)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    del cfg["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    errors = []
    for tok in (AutoTokenizer.from_pretrained(folder),
                transformers.AutoTokenizer.from_pretrained(folder)):
        with pytest.raises(ValueError, match="chat_template is not set") as e:
            tok.apply_chat_template(SHORT)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    ours = AutoTokenizer.from_pretrained(folder)
    chat_template._compile.cache_clear()
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now fails
    with pytest.raises(ImportError, match=r'pip install "ember\[chat\]"'):
        ours.apply_chat_template(SHORT, chat_template="{{ 'never cached' }}")
