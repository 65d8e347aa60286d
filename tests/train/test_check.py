"""The loss mask shown and checked before training: `alchemist train RECIPE --check` and the
train stage's refusal of a template that masks the wrong tokens."""

import shutil

import pytest
from transformers import AutoTokenizer

from alchemist.errors import UserError
from alchemist.train.mask import EXAMPLE, check_conversation
from alchemist.train.trainer import train
from tests.helpers import run_cli
from tests.train.conftest import tiny_spec

GOOD = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['role'] == 'assistant' %}"
        "{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
        "{% else %}{{ m['content'] }}<|im_end|>{% endif %}\n{% endfor %}")
BROKEN = {
    # the stop token outside the mask: the model never learns to stop
    "does not end with '<|im_end|>'": GOOD.replace("<|im_end|>{% endgeneration %}", "{% endgeneration %}<|im_end|>"),
    # no generation tags around anything: nothing to learn
    "no token carries a loss": GOOD.replace("{% generation %}", "").replace("{% endgeneration %}", ""),
    # every message marked: the prompt is learned too
    "every token carries a loss": "{% for m in messages %}{% generation %}<|im_start|>{{ m['role'] }}\n"
                                  "{{ m['content'] }}<|im_end|>\n{% endgeneration %}{% endfor %}",
    # the assistant header (what add_generation_prompt writes: the prompt) inside the mask
    "reaches into the prompt": "{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}"
                               "<|im_start|>assistant\n{{ m['content'] }}<|im_end|>{% endgeneration %}\n"
                               "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                               "{% endif %}{% endfor %}",
}


def test_a_good_template_passes(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = GOOD
    assert check_conversation(tok, EXAMPLE, "<|im_end|>").problems == []


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_each_wrong_mask_is_named(tiny_model, problem):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = BROKEN[problem]
    found = check_conversation(tok, EXAMPLE, "<|im_end|>").problems
    assert found and problem in found[0], found


@pytest.fixture
def stop_outside_mask(tiny_model, tmp_path):
    """A model whose own template has generation tags but leaves the stop token out of them."""
    out = tmp_path / "model"
    shutil.copytree(tiny_model, out)
    (out / "chat_template.jinja").write_text(BROKEN["does not end with '<|im_end|>'"])
    return out


def test_train_refuses_the_template_before_any_compute(stop_outside_mask, data_path, tmp_path):
    spec = tiny_spec(stop_outside_mask, chat_template=None)
    with pytest.raises(UserError, match="train.chat_template: the model template gives a wrong loss mask: "
                                        "assistant turn 1 does not end with '<|im_end|>'".replace("|", r"\|")):
        train(spec, data_path, tmp_path / "out", tmp_path / "work", say=lambda m: None)
    assert not (tmp_path / "work" / "tokenized").exists() and not (tmp_path / "out").exists()


def _run_dir_with_data(tmp_path, data_path):
    run = tmp_path / "run"
    (run / "data" / "final").mkdir(parents=True)
    shutil.copy(data_path, run / "data" / "final" / "train.parquet")
    return run


def test_check_shows_the_mask_of_each_task_and_trains_nothing(data_path, tmp_path):
    run = _run_dir_with_data(tmp_path, data_path)
    r = run_cli("train", "recipes/tiny.yaml", "--check", "--set", f"output_dir={run}")
    assert r.returncode == 0, r.stderr[-2000:]
    for task in ("codegen", "alchemist_prompt", "code_review", "built-in"):
        assert f"{task} · " in r.stdout
    # loss-carrying tokens between brackets, each span closed by the end-of-turn token
    assert r.stdout.count("<|im_end|>⟧") >= 7 and "✓" in r.stdout
    assert "⟦<|im_start|>" not in r.stdout
    assert sorted(p.name for p in run.iterdir()) == ["data"]  # nothing trained, nothing written


def test_check_refuses_a_broken_pair_in_one_line(stop_outside_mask, data_path, tmp_path):
    run = _run_dir_with_data(tmp_path, data_path)
    r = run_cli("train", "recipes/tiny.yaml", "--check", "--set", f"output_dir={run}",
                "--set", f"train.model={stop_outside_mask}", "--set", "train.chat_template=null")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: train.chat_template: the model template gives a wrong loss mask")
    assert "does not end with '<|im_end|>'" in lines[-1] and "Traceback" not in r.stderr
    assert "✗ assistant turn 1 does not end with" in r.stdout  # the mask is still shown, with the problem
