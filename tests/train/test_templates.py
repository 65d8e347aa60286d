import pytest
from transformers import AutoTokenizer

from alchemist.errors import UserError
from alchemist.train.templates import FORMATS, apply_format

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
