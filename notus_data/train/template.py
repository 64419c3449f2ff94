"""The Zephyr chat template, with the empty system turn that Notus-7B-v1 was trained with.

A conversation renders as ``<|role|>\\n{content}{eos}\\n`` per turn, preceded by an empty system turn when the
conversation has no system message; the generation prompt is ``<|assistant|>\\n``. With ``</s>`` as the EOS token a
one-turn prompt renders as::

    <|system|>\\n</s>\\n<|user|>\\n{prompt}</s>\\n<|assistant|>\\n

>>> render_zephyr([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
'<|system|>\\n</s>\\n<|user|>\\nHi</s>\\n<|assistant|>\\n'
"""

from __future__ import annotations

from typing import Any

from notus_data.errors import OptionError

#: Jinja source set on the tokenizer (``tokenizer.chat_template``); saved with the trained model.
ZEPHYR_CHAT_TEMPLATE = (
    "{%- if messages | length == 0 or messages[0]['role'] != 'system' -%}"
    "{{ '<|system|>\\n' + eos_token + '\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('Zephyr template: unknown role ' + message['role']) }}"
    "{%- endif -%}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<|assistant|>\\n' }}"
    "{%- endif -%}"
)


def render_zephyr(
    messages: list[dict[str, str]], *, eos_token: str = "</s>", add_generation_prompt: bool = False
) -> str:
    """Render ``messages`` the way :data:`ZEPHYR_CHAT_TEMPLATE` does, in plain Python (a reference for tests).

    >>> render_zephyr([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
    '<|system|>\\n</s>\\n<|user|>\\nHi</s>\\n<|assistant|>\\nHello</s>\\n'
    """
    out = []
    if not messages or messages[0]["role"] != "system":
        out.append(f"<|system|>\n{eos_token}\n")
    for message in messages:
        out.append(f"<|{message['role']}|>\n{message['content']}{eos_token}\n")
    if add_generation_prompt:
        out.append("<|assistant|>\n")
    return "".join(out)


def prepare_tokenizer(tokenizer: Any, chat_template: str = "zephyr") -> Any:
    """Set the chat template and the pad token a DPO run needs; returns the same tokenizer.

    ``chat_template="zephyr"`` always sets :data:`ZEPHYR_CHAT_TEMPLATE` (the recipe's prompt format, whatever the
    model shipped with); ``"model"`` keeps the tokenizer's own template and fails when it has none. The tokenizer
    needs an EOS token (every turn ends with it); the pad token defaults to the EOS token.
    """
    if tokenizer.eos_token is None:
        raise OptionError(
            "the tokenizer has no eos_token: the chat template ends every turn with it; "
            "set tokenizer.eos_token (and save the tokenizer with the model) before training"
        )
    if chat_template == "zephyr":
        tokenizer.chat_template = ZEPHYR_CHAT_TEMPLATE
    elif chat_template == "model":
        if not getattr(tokenizer, "chat_template", None):
            raise OptionError(
                "chat_template='model' but the tokenizer has no chat template; use --chat-template zephyr"
            )
    else:
        raise OptionError(f"chat_template={chat_template!r}: must be 'zephyr' or 'model'")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
