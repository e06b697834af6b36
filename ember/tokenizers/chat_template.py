"""Chat templates: render a conversation with the tokenizer's Jinja template, exactly as
transformers does (sandboxed environment, ``trim_blocks``/``lstrip_blocks``, ``raise_exception``,
``strftime_now``, a ``tojson`` that does not HTML-escape, ``{% generation %}`` blocks for the
assistant-token mask), then tokenize the text.

Needs the optional ``jinja2`` (``pip install "ember[chat]"``). Example::

    tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                            add_generation_prompt=True)
    # '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["apply_chat_template", "render_chat", "select_template"]

_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "


def _jinja():
    try:
        import jinja2
        import jinja2.ext
        import jinja2.sandbox
    except ImportError:
        raise ImportError("apply_chat_template needs jinja2: pip install \"ember[chat]\" (or "
                          "pip install \"jinja2>=3.1\")") from None
    return jinja2


def select_template(own: str | dict | None, chat_template: str | None,
                    tools: list | None) -> str:
    """The template text: ``chat_template`` (a template, or a name when the tokenizer has
    several), else the tokenizer's own (``"tool_use"`` when tools are given, else
    ``"default"``)."""
    if isinstance(own, dict):
        if chat_template is not None and chat_template in own:
            return own[chat_template]
        if chat_template is None:
            if tools is not None and "tool_use" in own:
                return own["tool_use"]
            if "default" in own:
                return own["default"]
            raise ValueError("This model has multiple chat templates with no default specified! "
                             "Please either pass a chat template or the name of the template you "
                             "wish to use to the `chat_template` argument. Available template "
                             f"names are {sorted(own)}.")
        return chat_template
    if chat_template is not None:
        return chat_template
    if own is None:
        raise ValueError("Cannot use chat template functions because tokenizer.chat_template is "
                         "not set and no template argument was passed! For information about "
                         "writing templates and setting the tokenizer.chat_template attribute, "
                         "please see the documentation at "
                         "https://huggingface.co/docs/transformers/main/en/chat_templating")
    return own


@lru_cache(maxsize=32)
def _compile(template: str):
    """The compiled template (cached: templates are long and rendered often)."""
    jinja2 = _jinja()

    class AssistantTracker(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}``: records the char span of its output."""

        tags = {"generation"}

        def __init__(self, environment):
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._blocks = None
            self._spans = None

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [],
                                          body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context, caller):
            rv = caller()
            if self._blocks is not None:
                start = len("".join(self._blocks))
                self._spans.append((start, start + len(rv)))
            return rv

        @contextmanager
        def activate_tracker(self, blocks: list, spans: list):
            if self._blocks is not None:
                raise ValueError("AssistantTracker should not be reused before closed")
            self._blocks, self._spans = blocks, spans
            try:
                yield
            finally:
                self._blocks = self._spans = None

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # Jinja's own tojson HTML-escapes; templates expect plain JSON
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    class TemplateDict:
        # only construction: no attribute access to the dict type from inside the sandbox
        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        # no underscore attributes: they would reach CPython internals
        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    "Chat templates cannot store underscore-prefixed attributes on a namespace, "
                    f"but got {name!r}. Please rename the attribute.")

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now,
                       dict=TemplateDict(), namespace=TemplateNamespace)
    return env.from_string(template)


def _plain(value: Any) -> Any:
    """``value`` rebuilt from plain JSON types, so the sandbox never sees objects with methods
    (arrays, images, enums); anything else becomes a placeholder like ``"<ndarray>"``."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):
        return _plain(value.model_dump())
    return f"<{type(value).__name__}>"


def _alias_reasoning(chat: list) -> list:
    # older names of a message's reasoning fill the standard field (and gpt-oss's "thinking")
    out = []
    for m in chat:
        r = next((m[k] for k in _REASONING_FIELDS if m.get(k) is not None), None)
        out.append(m if r is None else {"thinking": r, **m, "reasoning_content": r})
    return out


def render_chat(conversations: list, chat_template: str, tools: list | None = None,
                documents: list | None = None, add_generation_prompt: bool = False,
                continue_final_message: bool | str = False,
                return_assistant_tokens_mask: bool = False,
                **kwargs) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Rendered text of each conversation, and the char spans of ``{% generation %}`` blocks."""
    compiled = _compile(chat_template)
    if tools is not None:
        for tool in tools:
            if not isinstance(tool, dict):
                raise ValueError("ember takes tools as JSON schema dicts ({'type': 'function', "
                                 "'function': {...}}); converting Python functions is not "
                                 "supported")
    for doc in documents or ():
        if not isinstance(doc, dict):
            raise TypeError("Documents should be a list of dicts with 'title' and 'text' keys!")
    tools, documents, kwargs = _plain(tools), _plain(documents), _plain(kwargs)
    rendered, all_spans = [], []
    for chat in conversations:
        chat = _plain(getattr(chat, "messages", chat))
        for m in chat:
            if not isinstance(m, dict):
                raise TypeError(f"Chat messages should be dicts, but got {m!r}.")
        chat = _alias_reasoning(chat)
        final = None
        if continue_final_message:
            final, chat = _tag_final_message(chat, continue_final_message, chat_template)
        variables = dict(messages=chat, tools=tools, documents=documents,
                         add_generation_prompt=add_generation_prompt, **kwargs)
        if return_assistant_tokens_mask:
            blocks: list[str] = []
            spans: list[tuple[int, int]] = []
            with compiled.environment.activate_tracker(blocks, spans):
                for block in compiled.generate(**variables):
                    blocks.append(block)
                text = "".join(blocks)
            all_spans.append(spans)
        else:
            text = compiled.render(**variables)
        if continue_final_message:
            text = _cut_at_tag(text, final)
        rendered.append(text)
    return rendered, all_spans


def _tag_final_message(chat: list, field: bool | str, template: str) -> tuple[str, list]:
    """Mark the end of the final message so the rendered text can be cut right after it."""
    if not chat:
        raise ValueError("continue_final_message is set but the conversation is empty!")
    field = field if isinstance(field, str) else "content"
    final = chat[-1].get(field)
    if final is None:
        raise ValueError(f'continue_final_message is set but the final message has no "{field}" '
                         "to continue!")
    fields = [field]
    if field in _REASONING_FIELDS:
        fields = [f for f in _REASONING_FIELDS if chat[-1].get(f) == final]
    if not any(f in template for f in fields):
        raise ValueError(f'continue_final_message is set to "{field}" but this is not an accepted '
                         "field in the chat_template")
    last = dict(chat[-1])
    if isinstance(final, (list, tuple)):
        blocks = [dict(b) for b in final]
        for b in reversed(blocks):
            if "text" in b:
                final = b["text"]
                b["text"] = b["text"] + _CONTINUE_TAG
                break
        else:
            raise ValueError("continue_final_message is set but we could not find any text to "
                             "continue in the final message!")
        last[field] = blocks
    else:
        for f in fields:
            last[f] = last[f] + _CONTINUE_TAG
    return final, [*chat[:-1], last]


def _cut_at_tag(text: str, final: str) -> str:
    if final.strip() not in text or _CONTINUE_TAG.strip() not in text:
        raise ValueError("continue_final_message is set but the final message does not appear in "
                         "the chat after applying the chat template! This can happen if the chat "
                         "template deletes portions of the final message. Please verify the chat "
                         "template and final message in your chat to ensure they are compatible."
                         f"Final message to continue: {final.strip()}\nRendered chat:\n{text}")
    loc = text.rindex(_CONTINUE_TAG.strip())
    if text[loc:loc + len(_CONTINUE_TAG)] == _CONTINUE_TAG:
        return text[:loc]  # the template kept the spacing
    return text[:loc].rstrip()  # the template trimmed trailing space: cut it too


def apply_chat_template(tok, conversation, tools=None, documents=None, chat_template=None,
                        add_generation_prompt: bool = False,
                        continue_final_message: bool | str = False, tokenize: bool = True,
                        padding=False, truncation: bool = False, max_length: int | None = None,
                        return_tensors: str | None = None, return_dict: bool = True,
                        return_assistant_tokens_mask: bool = False,
                        tokenizer_kwargs: dict | None = None, **kwargs):
    """``tok.apply_chat_template`` (see there): render, then tokenize without adding special
    tokens (the template writes them)."""
    if kwargs.pop("sanitize_control_tokens", False):
        raise NotImplementedError("sanitize_control_tokens is not supported by ember")
    if not tokenize:
        return_dict = False
    if return_assistant_tokens_mask and not (return_dict and tokenize):
        raise ValueError("`return_assistant_tokens_mask=True` requires `return_dict=True` and "
                         "`tokenize=True`")
    template = tok.get_chat_template(chat_template, tools)
    if isinstance(conversation, (list, tuple)) and len(conversation) == 0:
        raise ValueError("Cannot apply chat template to an empty conversation. Provide at least "
                         "one message.")
    is_batched = isinstance(conversation, (list, tuple)) and (
        isinstance(conversation[0], (list, tuple)) or hasattr(conversation[0], "messages"))
    conversations = list(conversation) if is_batched else [conversation]
    # None values (e.g. OpenAI's content=None) become missing keys, which templates handle
    conversations = [[{k: v for k, v in m.items() if v is not None}
                      for m in getattr(c, "messages", c)] for c in conversations]
    if continue_final_message:
        if add_generation_prompt:
            raise ValueError("continue_final_message and add_generation_prompt are not "
                             "compatible. Use continue_final_message when you want the model to "
                             "continue the final message, and add_generation_prompt when you want "
                             "to add a header that will prompt it to start a new assistant message "
                             "instead.")
        if return_assistant_tokens_mask:
            raise ValueError("continue_final_message is not compatible with "
                             "return_assistant_tokens_mask.")
    variables = {**tok.special_tokens_map, **kwargs}
    rendered, spans = render_chat(conversations, template, tools=tools, documents=documents,
                                  add_generation_prompt=add_generation_prompt,
                                  continue_final_message=continue_final_message,
                                  return_assistant_tokens_mask=return_assistant_tokens_mask,
                                  **variables)
    if not tokenize:
        return rendered if is_batched else rendered[0]
    out = tok(rendered if is_batched else rendered[0], padding=padding, truncation=truncation,
              max_length=max_length, add_special_tokens=False, return_tensors=return_tensors,
              **(tokenizer_kwargs or {}))
    if not return_dict:
        return out["input_ids"]
    if return_assistant_tokens_mask:
        ids = out["input_ids"] if is_batched or return_tensors else [out["input_ids"]]
        masks = []
        for i in range(len(ids)):
            mask = [0] * len(ids[i])
            for start_char, end_char in spans[i]:
                start = out.char_to_token(i, start_char)
                end = out.char_to_token(i, end_char - 1)
                if start is None:
                    break  # truncated away
                for t in range(start, end + 1 if end else len(ids[i])):
                    mask[t] = 1
            masks.append(mask)
        out["assistant_masks"] = masks if is_batched or return_tensors else masks[0]
        if return_tensors:
            out.convert_to_tensors(return_tensors)
    return out
