import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from alchemist.errors import UserError
from alchemist.train.trainer import train
from tests.train.conftest import tiny_spec


def losses(out):
    report = json.loads((out / "training_report.json").read_text())
    return [h["loss"] for h in report["history"] if "loss" in h]


def test_trains_and_writes_a_loadable_model_that_stops(base_model, data_path, tmp_path):
    spec = tiny_spec(base_model, chat_template="deepseek-coder", eval_fraction=0.1, eval_steps=2, max_steps=4,
                     gradient_checkpointing=True, neftune_noise_alpha=5.0,
                     report_to=["tensorboard"])
    out = tmp_path / "model"
    said = []
    stats = train(spec, data_path, out, tmp_path / "work", seed=0, say=said.append)
    assert stats["steps"] == 4 and stats["tokens"] > 0 and stats["loss"] > 0
    assert set(stats["eval_loss"]) == {"codegen", "alchemist_prompt", "code_review"}
    assert stats["attention"] == "sdpa_varlen" and stats["tokens_per_s"] > 0 and stats["mfu"] is not None
    tok = AutoTokenizer.from_pretrained(out)
    eot = tok.convert_tokens_to_ids("<|EOT|>")
    # servers without transformers' Jinja extension load it; the training template stays beside it
    assert (out / "chat_template.jinja").is_file() and "endgeneration" not in tok.chat_template
    assert "{% generation %}" in (out / "training_chat_template.jinja").read_text()
    assert tok.eos_token == "<|EOT|>"
    assert GenerationConfig.from_pretrained(out).eos_token_id == eot
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    assert model.config.use_cache
    assert "sdpa_varlen" not in (out / "config.json").read_text()  # loaders outside alchemist know no such kernel
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 4 and any("eval_codegen_loss" in h for h in report["history"])
    assert (out / "loss.png").stat().st_size > 1000 and list((out / "logs").glob("events.out.tfevents*"))
    assert any("chat template: deepseek-coder" in s for s in said)
    assert any("global batch: 1 x 1 x 1 = 1 rows per optimizer step" in s for s in said)
    assert (report["global_batch_size"], report["grad_accum"], report["world_size"]) == (1, 1, 1)
    # one sample of each task as trained, for report.html: answers and their <|EOT|> carry a loss, prompts none
    masks = json.loads((out / "loss_mask.json").read_text())
    assert {m["task"] for m in masks} == {"codegen", "alchemist_prompt", "code_review"}
    for m in masks:
        assert m["problems"] == [] and 0 < m["loss_tokens"] < m["tokens"]
        trained = "".join(r["text"] for r in m["runs"] if r["loss"])
        assert "### Instruction" not in trained
        assert m["shown"] < m["tokens"] or trained.endswith("<|EOT|>")  # a long sample is shown cut
    assert any(m["shown"] == m["tokens"] for m in masks)


def test_loss_does_not_change_with_accumulation(tiny_model, data_path, tmp_path):
    got = {}
    for micro, accum in ((4, 1), (1, 4), (2, None)):
        # (2, None): accumulation derived from train.global_batch_size 4
        batch = {"grad_accum": accum} if accum else {"global_batch_size": 4}
        spec = tiny_spec(tiny_model, micro_batch_size=micro, max_steps=3, **batch)
        out = tmp_path / f"m{micro}x{accum}"
        train(spec, data_path, out, tmp_path / f"w{micro}x{accum}", seed=0, say=lambda m: None)
        got[(micro, accum)] = (losses(out), AutoModelForCausalLM.from_pretrained(out).state_dict())
    (ref, ref_w), *others = got.values()
    assert len(ref) == 3
    for loss, weights in others:
        assert loss == pytest.approx(ref, abs=1e-5)
        for k in ref_w:
            torch.testing.assert_close(weights[k], ref_w[k], atol=1e-4, rtol=1e-3)  # Adam divides by sqrt(v): float noise in tiny grads grows


def test_lora_keeps_the_adapter_and_writes_the_merged_model(base_model, data_path, tmp_path):
    spec = tiny_spec(base_model, chat_template="chatml", method="lora", lora={"r": 4, "alpha": 8}, max_steps=2)
    out = tmp_path / "model"
    stats = train(spec, data_path, out, tmp_path / "work", seed=0, say=lambda m: None)
    assert stats["method"] == "lora"
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in k for k in merged.state_dict())
    base = AutoModelForCausalLM.from_pretrained(base_model)
    changed = [k for k, v in base.state_dict().items() if not torch.equal(v, merged.state_dict()[k])]
    assert any("q_proj" in k for k in changed)


@pytest.mark.parametrize("over, words", [
    ({"model": "/nonexistent/base-model"}, "train.model: /nonexistent/base-model is not a model directory"),
    ({"bf16": True}, "train.bf16: true needs a GPU"),
    ({"attn_implementation": "flash_attention_2"}, "train.attn_implementation: flash_attention_2 needs a CUDA GPU"),
    ({"max_seq_len": 100_000}, "train.max_seq_len: 100000 is above the model's 2048"),
    ({"deepspeed": {"stage": 2, "config": {"zero_optimisation": {}}}}, "did you mean 'zero_optimization'"),
    ({"deepspeed": {"stage": 2, "config": {"zero_optimization": {"overlap_com": True}}}},
     "zero_optimization.overlap_com"),
    ({"chat_template": None}, "train.chat_template"),
    ({"global_batch_size": 3, "micro_batch_size": 2}, "train.global_batch_size: 3 is not a multiple"),
])
def test_user_errors_come_before_any_compute(base_model, data_path, tmp_path, over, words):
    spec = tiny_spec(base_model, **{"chat_template": "chatml", **over})
    with pytest.raises(UserError, match=words.replace("(", r"\(")):
        train(spec, data_path, tmp_path / "out", tmp_path / "work", say=lambda m: None)
    assert not (tmp_path / "work" / "checkpoints").exists()
