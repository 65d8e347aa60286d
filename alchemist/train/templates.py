"""The chat formats a model is trained in, each training-ready: assistant content and the
end-of-turn token sit inside `{% generation %}` tags, so the assistant mask covers exactly what the
model must learn to say, including when to stop (a fine-tuned model that never learned its
end-of-turn token never stops generating).

The trained model ships two files: `chat_template.jinja`, the same template with the generation
tags taken out (plain Jinja, so every server renders it: transformers, vLLM, TGI and other
minijinja renderers, llama.cpp), and `training_chat_template.jinja`, the template as trained with,
for reproducing the run. Both render the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alchemist.errors import UserError


@dataclass(frozen=True)
class ChatFormat:
    name: str
    template: str
    # The token that ends an assistant turn; None: the tokenizer's own eos_token.
    end_of_turn: str | None = None
    # Tokens the template writes literally; added to the vocabulary when a base model lacks them.
    special_tokens: tuple[str, ...] = ()


# The paper's instruction format (the prompt AlchemistCoder is evaluated with): the system turn,
# when there is one, replaces the default preamble; every exchange is an Instruction/Response pair.
ALCHEMIST = ChatFormat(
    name="alchemist",
    # transformers renders with trim_blocks: a newline right after a tag is eaten, so text that
    # follows a tag is written as a {{ '...' }} literal
    template=(
        "{{ bos_token if bos_token else '' }}"
        "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}"
        "{% set loop_messages = messages[1:] %}"
        "{% else %}{{ 'Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request.' }}"
        "{% set loop_messages = messages %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if message['role'] == 'user' %}{{ '\\n\\n### Instruction:\\n' + message['content'] }}"
        "{% elif message['role'] == 'assistant' %}{{ '\\n\\n### Response:\\n' }}"
        "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '\\n\\n### Response:\\n' }}{% endif %}"
    ),
)

CHATML = ChatFormat(
    name="chatml",
    template=(
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
        "{% if message['role'] == 'assistant' %}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
        "{% else %}{{ message['content'] + '<|im_end|>\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    end_of_turn="<|im_end|>",
    special_tokens=("<|im_start|>", "<|im_end|>"),
)

# DeepSeek-Coder-Instruct's format (its default system prompt left out: the data's own system
# turns, e.g. AlchemistPrompts, are what the model should condition on). A system turn is followed
# by a newline: DeepSeek's own template writes the system text as it is, and its default system
# prompt ends with one, so a system turn of ours reads the same way before `### Instruction:`.
DEEPSEEK_CODER = ChatFormat(
    name="deepseek-coder",
    template=(
        "{{ bos_token if bos_token else '' }}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{{ message['content'] + '\\n' }}"
        "{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n' }}"
        "{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' }}"
        "{% generation %}{{ message['content'] + '\\n<|EOT|>' }}{% endgeneration %}{{ '\\n' }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}"
    ),
    end_of_turn="<|EOT|>",
    special_tokens=("<|EOT|>",),
)

FORMATS = {f.name: f for f in (ALCHEMIST, CHATML, DEEPSEEK_CODER)}


TRAINING_TEMPLATE_FILE = "training_chat_template.jinja"
_GENERATION_TAG = re.compile(r"\{%(-?)\s*(generation|endgeneration)\s*(-?)%\}(\n?)")


def plain_template(template: str) -> str:
    """`template` without `{% generation %}` tags: the text it renders is unchanged (the tags only
    mark the assistant mask), and renderers without transformers' extension accept it.

    A tag with whitespace control, or followed by a newline (which trim_blocks eats after a tag),
    becomes an always-true `if` with the same controls, so the whitespace stays as it was."""
    def swap(m: re.Match) -> str:
        left, tag, right, newline = m.groups()
        if not (left or right or newline):
            return ""
        word = "if true" if tag == "generation" else "endif"
        return f"{{%{left} {word} {right}%}}{newline}"

    return _GENERATION_TAG.sub(swap, template)


def training_ready(template: str | None) -> bool:
    """A template whose assistant turns are marked for the assistant-token mask."""
    return bool(template) and "{% generation %}" in template.replace("{%- generation %}", "{% generation %}")


@dataclass(frozen=True)
class Chosen:
    template: str
    end_of_turn: str
    added_tokens: tuple[str, ...]
    source: str  # "model" or the format's name


def apply_format(tokenizer, name: str | None) -> Chosen:
    """Put the chat format to train with on `tokenizer` (in place) and say which token ends a turn.

    Adds the format's special tokens the tokenizer lacks; the caller resizes the embeddings by
    `len(tokenizer)`. The tokenizer's eos_token becomes the end-of-turn token, so generation stops
    there in every loader that reads eos from the tokenizer.
    """
    if name is None:
        own = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None
        if not training_ready(own):
            why = "has no chat template" if not own else "has a chat template without {% generation %} tags"
            raise UserError(f"train.chat_template: the base model's tokenizer {why}; "
                            f"set train.chat_template to one of {', '.join(FORMATS)}")
        eot = tokenizer.eos_token
        if not eot:
            raise UserError("train.chat_template: the base model's tokenizer has no eos_token to end a turn; "
                            f"set train.chat_template to one of {', '.join(FORMATS)}")
        _ensure_pad(tokenizer, eot)
        return Chosen(own, eot, (), "model")
    fmt = FORMATS[name]
    vocab = tokenizer.get_vocab()
    missing = tuple(t for t in fmt.special_tokens if t not in vocab)
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": list(missing)},
                                     replace_extra_special_tokens=False)
    eot = fmt.end_of_turn or tokenizer.eos_token
    if not eot:
        raise UserError(f"train.chat_template: {name} ends a turn with the tokenizer's eos_token, which this "
                        "tokenizer lacks; choose chatml or deepseek-coder")
    tokenizer.chat_template = fmt.template
    tokenizer.eos_token = eot
    _ensure_pad(tokenizer, eot)
    return Chosen(fmt.template, eot, missing, name)


def _ensure_pad(tokenizer, eot: str) -> None:
    if tokenizer.pad_token is None:
        # the collator masks padding by position, never by id, so any token serves
        tokenizer.pad_token = tokenizer.unk_token or eot
