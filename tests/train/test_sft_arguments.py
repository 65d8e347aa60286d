"""The trainer's arguments as a pure function of the spec: what each recipe setting becomes in
TRL's SFTConfig, checked without a model."""

from pathlib import Path

import pytest

from alchemist.errors import UserError
from alchemist.train.spec import TrainSpec
from alchemist.train.trainer import Batch, Device, pick_device, plan_batch, sft_arguments

CPU = Device("cpu", bf16=False, attn="sdpa_varlen", name="cpu")
GPU = Device("cuda", bf16=True, attn="flash_attention_2", name="NVIDIA H100 80GB HBM3")
ONE = Batch(micro=1, accum=1, world=1, deepspeed=None, cpu_ranks=False)


def args(spec=None, device=CPU, batch=ONE, evaluate=False, main=True, **over):
    return sft_arguments(spec or TrainSpec(**over), device, batch, output_dir=Path("/w/checkpoints"), seed=7,
                         evaluate=evaluate, main=main)


def quiet(msg):
    pass


def test_the_recipe_reaches_the_trainer():
    got = args(epochs=3.0, lr=2e-5, scheduler="linear", warmup_ratio=0.1, weight_decay=0.01, max_grad_norm=0.5,
               max_seq_len=512, micro_batch_size=2)
    assert got["output_dir"] == "/w/checkpoints"
    assert (got["seed"], got["data_seed"]) == (7, 7)
    assert (got["num_train_epochs"], got["max_steps"]) == (3.0, -1)  # -1: every epoch
    assert (got["learning_rate"], got["lr_scheduler_type"]) == (2e-5, "linear")
    assert got["warmup_steps"] == 0.1  # below 1: a share of the steps, not a step count
    assert (got["weight_decay"], got["max_grad_norm"]) == (0.01, 0.5)
    assert got["max_length"] == 512
    assert got["per_device_train_batch_size"] == got["per_device_eval_batch_size"] == 2
    assert args(max_steps=40)["max_steps"] == 40


def test_accumulation_comes_from_the_batch_plan_not_the_recipe(monkeypatch):
    # 16 rows per step on 4 processes of 2 rows: 2 micro batches each, whatever grad_accum says
    monkeypatch.setenv("WORLD_SIZE", "4")
    said = []
    spec = TrainSpec(micro_batch_size=2, grad_accum=5, global_batch_size=16)
    batch = plan_batch(spec, CPU, said.append)
    assert (batch.micro, batch.accum, batch.world, batch.rows) == (2, 2, 4, 16)
    assert said == ["global batch: 2 x 2 x 4 = 16 rows per optimizer step "
                    "(micro batch x accumulation x processes, pinned by train.global_batch_size)"]
    got = args(spec, batch=batch)
    assert got["gradient_accumulation_steps"] == 2 and got["per_device_train_batch_size"] == 2
    # not pinned: grad_accum as given
    spec = TrainSpec(micro_batch_size=2, grad_accum=5)
    assert args(spec, batch=plan_batch(spec, CPU, quiet))["gradient_accumulation_steps"] == 5
    with pytest.raises(UserError, match="global_batch_size: 12 is not a multiple"):
        plan_batch(TrainSpec(micro_batch_size=2, global_batch_size=12), CPU, quiet)


def test_cpu_trains_in_fp32_on_the_cpu():
    spec = TrainSpec()  # bf16: auto
    device = pick_device(spec)
    if device.kind != "cpu":
        pytest.skip("a GPU is visible")
    assert device.bf16 is False
    got = args(spec, device=device)
    assert (got["bf16"], got["fp16"], got["use_cpu"]) == (False, False, True)
    gpu = args(spec, device=GPU)
    assert (gpu["bf16"], gpu["fp16"], gpu["use_cpu"]) == (True, False, False)


def test_packing_follows_the_recipe_and_is_always_best_fit():
    on, off = args(packing=True), args(packing=False)
    assert (on["packing"], on["padding_free"], on["eval_packing"]) == (True, True, True)
    assert (off["packing"], off["padding_free"], off["eval_packing"]) == (False, False, False)
    assert on["packing_strategy"] == off["packing_strategy"] == "bfd"
    # our tokenization built the labels: TRL must not mask again
    assert on["assistant_only_loss"] is False and on["completion_only_loss"] is False


def test_evaluation_and_checkpoints():
    got = args(save_steps=50, save_total_limit=3, eval_steps=25, logging_steps=5, evaluate=True)
    assert (got["save_strategy"], got["save_steps"], got["save_total_limit"]) == ("steps", 50, 3)
    assert got["save_only_model"] is False  # a resumed run needs the optimizer and scheduler state
    assert (got["eval_strategy"], got["eval_steps"]) == ("steps", 25)
    assert (got["logging_steps"], got["logging_first_step"]) == (5, True)
    # no held-out rows (eval_fraction 0, or none left after the split): no evaluation at all
    assert args(eval_steps=25, evaluate=False)["eval_strategy"] == "no"


def test_lora_and_full_differ_only_in_the_model():
    # LoRA wraps the model before the trainer sees it; the arguments are the same
    assert args(method="lora", lora={"r": 4, "alpha": 8}) == args(method="full")


def test_deepspeed_config_is_passed_through_and_keeps_the_run_off_use_cpu():
    spec = TrainSpec(deepspeed={"stage": 2, "config": {"zero_optimization": {"reduce_bucket_size": 1000}}})
    batch = plan_batch(spec, CPU, quiet)
    assert batch.deepspeed["zero_optimization"]["stage"] == 2
    assert batch.deepspeed["zero_optimization"]["reduce_bucket_size"] == 1000  # the recipe's key over ours
    got = args(spec, batch=batch)
    assert got["deepspeed"] is batch.deepspeed
    # DeepSpeed brings its own CPU accelerator: use_cpu would bypass it
    assert got["use_cpu"] is False
    assert got["accelerator_config"] is None  # one process: nothing to set up before the arguments
    ranks = Batch(micro=1, accum=1, world=2, deepspeed=batch.deepspeed, cpu_ranks=True)
    assert args(spec, batch=ranks)["accelerator_config"] == {"use_configured_state": True}
    plain = args()
    assert plain["deepspeed"] is None and plain["use_cpu"] is True


def test_kernels_checkpointing_and_noise():
    got = args(gradient_checkpointing=True, liger=True, neftune_noise_alpha=5.0)
    assert got["activation_checkpointing"] is True
    assert got["activation_checkpointing_kwargs"] == {"use_reentrant": False}
    assert got["use_liger_kernel"] is True
    assert got["neftune_noise_alpha"] is None  # our per-sample NEFTune is on the model; TRL's would add more
    off = args()
    assert off["activation_checkpointing"] is False and off["activation_checkpointing_kwargs"] is None


def test_reporting_and_ranks():
    # tensorboard goes through our own callback (logs in the work directory), never TRL's
    assert args(report_to=["tensorboard"])["report_to"] == "none"
    assert args(report_to=["tensorboard", "wandb"])["report_to"] == ["wandb"]
    assert args(main=True)["disable_tqdm"] is False and args(main=False)["disable_tqdm"] is True
    assert args(dataloader_workers=3)["dataloader_num_workers"] == 3
    assert args()["include_num_input_tokens_seen"] == "non_padding"


def test_trl_accepts_every_argument():
    from trl import SFTConfig  # about a second to import: only this test needs it

    spec = TrainSpec(micro_batch_size=2, grad_accum=3, max_steps=9, gradient_checkpointing=True)
    cfg = SFTConfig(**args(spec, batch=Batch(2, 3, 1, None, False), evaluate=True))
    assert (cfg.gradient_accumulation_steps, cfg.max_steps, cfg.per_device_train_batch_size) == (3, 9, 2)
    assert cfg.eval_strategy == "steps" and cfg.packing and cfg.padding_free
