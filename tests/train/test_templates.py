import pytest
from transformers import AutoTokenizer

from alchemist.errors import UserError
from alchemist.train.templates import FORMATS, TRAINING_TEMPLATE_FILE, apply_format, plain_template
from alchemist.train.trainer import save_tokenizer

CONV = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add 1+1"}, {"role": "assistant", "content": "2"},
        {"role": "user", "content": "and 2+2"}, {"role": "assistant", "content": "4"}]

EXPECTED = {
    "alchemist": "<|endoftext|>Be brief.\n\n### Instruction:\nadd 1+1\n\n### Response:\n2<|im_end|>"
                 "\n\n### Instruction:\nand 2+2\n\n### Response:\n4<|im_end|>",
    "chatml": "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nadd 1+1<|im_end|>\n"
              "<|im_start|>assistant\n2<|im_end|>\n<|im_start|>user\nand 2+2<|im_end|>\n"
              "<|im_start|>assistant\n4<|im_end|>\n",
    "deepseek-coder": "<|endoftext|>Be brief.\n### Instruction:\nadd 1+1\n### Response:\n2\n<|EOT|>\n"
                      "### Instruction:\nand 2+2\n### Response:\n4\n<|EOT|>\n",
}
LABELED = {"alchemist": "2<|im_end|>4<|im_end|>", "chatml": "2<|im_end|>4<|im_end|>",
           "deepseek-coder": "2\n<|EOT|>4\n<|EOT|>"}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_system_and_multi_turn_render_and_only_answers_are_marked(base_model, name):
    tok = AutoTokenizer.from_pretrained(base_model)
    chosen = apply_format(tok, name)
    out = tok.apply_chat_template(CONV, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert tok.decode(out["input_ids"]) == EXPECTED[name]
    marked = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(marked) == LABELED[name]
    # the end-of-turn token is what the model learns to stop on, and what eos now is
    assert marked[-1] == tok.convert_tokens_to_ids(chosen.end_of_turn) == tok.eos_token_id


def test_default_preamble_without_system_turn(base_model):
    tok = AutoTokenizer.from_pretrained(base_model)
    apply_format(tok, "alchemist")
    text = tok.apply_chat_template(CONV[1:2], tokenize=False, add_generation_prompt=True)
    assert text == ("<|endoftext|>Below is an instruction that describes a task. Write a response that "
                    "appropriately completes the request.\n\n### Instruction:\nadd 1+1\n\n### Response:\n")


def test_missing_tokens_are_added(base_model):
    tok = AutoTokenizer.from_pretrained(base_model)
    n = len(tok)
    chosen = apply_format(tok, "deepseek-coder")
    assert chosen.added_tokens == ("<|EOT|>",) and len(tok) == n + 1
    assert tok.tokenize("<|EOT|>") == ["<|EOT|>"]


def test_model_template_used_when_training_ready(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    chosen = apply_format(tok, None)
    assert chosen.source == "model" and chosen.end_of_turn == "<|im_end|>"


def test_no_usable_template_and_none_named(base_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(base_model)
    with pytest.raises(UserError, match="train.chat_template: .*has no chat template"):
        apply_format(tok, None)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(UserError, match="without \\{% generation %\\}"):
        apply_format(tok, None)


def _minijinja(template: str, tok, messages, add_generation_prompt: bool) -> str:
    """Render as TGI does: minijinja with trim_blocks and lstrip_blocks, the tokenizer's tokens."""
    import minijinja

    env = minijinja.Environment()
    env.trim_blocks = env.lstrip_blocks = True
    return env.render_str(template, messages=messages, bos_token=tok.bos_token, eos_token=tok.eos_token,
                          add_generation_prompt=add_generation_prompt)


CONVERSATIONS = [CONV, CONV[1:2], CONV[1:3], CONV[:3]]


@pytest.mark.parametrize("name", [*sorted(FORMATS), "tiny-model"])
def test_plain_template_renders_identically_in_transformers_and_minijinja(base_model, tiny_model, name):
    import minijinja

    tok = AutoTokenizer.from_pretrained(tiny_model if name == "tiny-model" else base_model)
    trained = tok.chat_template if name == "tiny-model" else apply_format(tok, name).template
    plain = plain_template(trained)
    assert "{% generation" not in plain and "endgeneration" not in plain
    with pytest.raises(minijinja.TemplateError, match="unknown statement generation"):
        _minijinja(trained, tok, CONV, False)  # what TGI and its peers say of the training template
    for messages in CONVERSATIONS:
        for prompt in (False, True):
            tok.chat_template = trained
            want = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
            tok.chat_template = plain
            assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt) == want
            assert _minijinja(plain, tok, messages, prompt) == want


def test_plain_template_keeps_whitespace_control_and_trimmed_newlines():
    import jinja2

    trained = ("{% for m in messages %}  {%- generation -%}  {{ m }}  {% endgeneration %}\n|"
               "{% generation %}{{ m }}{% endgeneration %}{% endfor %}")
    plain = plain_template(trained)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.do"])

    class Generation(jinja2.ext.Extension):
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.Scope(body, lineno=lineno)

    env.add_extension(Generation)
    want = env.from_string(trained).render(messages=["a", "b"])
    assert "generation -" not in plain and "endgeneration" not in plain and env.from_string(plain).render(messages=["a", "b"]) == want


def test_saved_model_dir_has_a_plain_template_and_the_training_one(base_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(base_model)
    chosen = apply_format(tok, "chatml")
    save_tokenizer(tok, tmp_path)
    assert tok.chat_template == chosen.template  # the tokenizer in memory keeps training
    assert (tmp_path / TRAINING_TEMPLATE_FILE).read_text() == chosen.template
    assert (tmp_path / "chat_template.jinja").read_text() == plain_template(chosen.template)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.chat_template == plain_template(chosen.template)
