"""GRPO on prompts with tests: the whole rl stage as one function.

    grpo(spec, model_source, prompts, out, work, seed, say) -> stats

Reads top to bottom: device and generation backend -> tokenizer and policy -> TRL's GRPOTrainer
with the sandbox reward (and the optional format reward) -> resume from the last complete
checkpoint in `work` -> a Hugging Face model directory in `out` with training_report.json.
Under torchrun every rank calls this; rank 0 writes `out`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from alchemist.errors import UserError
from alchemist.execution import Limits
from alchemist.rl.reward import SandboxReward, format_reward
from alchemist.rl.spec import RLSpec
from alchemist.training import last_checkpoint, rank, world_size, zero_config

CHECKPOINTS = "checkpoints"


def accumulation(spec: RLSpec, world: int) -> int:
    """Micro-batches per optimizer step: prompts_per_step x num_generations completions over
    micro_batch_size x world per pass."""
    per_pass = spec.micro_batch_size * world
    total = spec.completions_per_step()
    if total % per_pass:
        raise UserError(f"rl.prompts_per_step: {spec.prompts_per_step} prompts x {spec.num_generations} generations = "
                        f"{total} completions is not a multiple of micro_batch_size {spec.micro_batch_size} x {world} "
                        f"process{'es' if world > 1 else ''} = {per_pass}; change one of them")
    return total // per_pass


def use_vllm(spec: RLSpec, cuda: bool) -> bool:
    import importlib.util

    have = importlib.util.find_spec("vllm") is not None
    if spec.use_vllm is True and not (cuda and have):
        raise UserError("rl.use_vllm: true needs a CUDA GPU and vllm (pip install vllm); set it to auto or false")
    return bool(spec.use_vllm) and cuda and have


def grpo(spec: RLSpec, source: str, prompts: list[dict], out: Path, work: Path, seed: int = 0,
         say: Callable[[str], None] = print) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import GRPOConfig, GRPOTrainer

    from alchemist.rl.history import History, write_report  # a transformers callback: heavy

    out, work = Path(out), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    main = rank() == 0
    if not main:
        say = lambda msg: None  # noqa: E731 -- one voice: rank 0 speaks for all ranks
    if not prompts:
        raise UserError("rl: no training prompts (no sample with runnable tests); see the counts above")

    # 1. Device, batch and generation backend.
    cuda = torch.cuda.is_available()
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    if spec.bf16 is True and not bf16_ok:
        raise UserError("rl.bf16: true needs a GPU with bfloat16 support; set rl.bf16 to auto or false")
    bf16 = bf16_ok if spec.bf16 == "auto" else bool(spec.bf16)
    world = world_size()
    accum = accumulation(spec, world)
    vllm = use_vllm(spec, cuda)
    say(f"GRPO batch: {spec.prompts_per_step} prompts x {spec.num_generations} completions = "
        f"{spec.completions_per_step()} per step = micro batch {spec.micro_batch_size} x accumulation {accum} x "
        f"{world} process{'es' if world > 1 else ''}; generation: {'vLLM (colocate)' if vllm else 'transformers'}")

    # 2. Tokenizer and policy.
    set_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=spec.revision)
        # with DeepSpeed the engine keeps fp32 master weights, so bf16 weights are enough; without
        # it, fp32 weights under bf16 autocast keep the optimizer exact (as the train stage does)
        model = AutoModelForCausalLM.from_pretrained(source, revision=spec.revision,
                                                     dtype=torch.bfloat16 if bf16 and spec.zero_stage else torch.float32)
    except OSError as e:
        raise UserError(f"rl.model: cannot load {source} ({str(e).splitlines()[0][:160]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = model.generation_config.eos_token_id
    stop_ids = tuple(eos if isinstance(eos, list) else [] if eos is None else [eos]) + (tokenizer.pad_token_id,)

    # 3. The trainer, its rewards and its log.
    from datasets import Dataset  # heavy: only when training

    limits = Limits(timeout=spec.reward.timeout, memory_mb=spec.reward.memory_mb)
    reward = SandboxReward(limits, spec.reward.call_timeout, spec.reward.workers, stop_ids,
                           log_path=work / f"rewards.rank{rank()}.jsonl")
    funcs, weights = [reward], [1.0]
    if spec.reward.format_weight > 0:
        funcs.append(format_reward)
        weights.append(spec.reward.format_weight)
    ckpt_dir = work / CHECKPOINTS
    cfg = GRPOConfig(
        output_dir=str(ckpt_dir),
        seed=seed,
        data_seed=seed,
        max_steps=spec.max_steps,
        learning_rate=spec.lr,
        lr_scheduler_type="constant_with_warmup" if spec.warmup_ratio else "constant",
        warmup_steps=spec.warmup_ratio,
        per_device_train_batch_size=spec.micro_batch_size,
        gradient_accumulation_steps=accum,
        num_generations=spec.num_generations,
        max_completion_length=spec.max_completion_length,
        temperature=spec.temperature,
        top_p=spec.top_p,
        beta=spec.beta,
        epsilon=spec.epsilon,
        loss_type=spec.loss_type,
        scale_rewards=spec.scale_rewards,
        reward_weights=weights,
        max_grad_norm=spec.max_grad_norm,
        bf16=bf16,
        fp16=False,
        # transformers 5's name for gradient checkpointing (the old name warns, and GRPOConfig's own default
        # for it is True: the new name set explicitly decides both)
        activation_checkpointing=spec.gradient_checkpointing,
        deepspeed=zero_config(spec.zero_stage) if spec.zero_stage else None,
        use_vllm=vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=spec.vllm_gpu_memory_utilization,
        use_cpu=not cuda,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        logging_steps=spec.logging_steps,
        report_to=[r for r in spec.report_to if r != "tensorboard"] or "none",
        disable_tqdm=not main,
        remove_unused_columns=False,
        shuffle_dataset=True,
    )
    resume = last_checkpoint(ckpt_dir)
    resumed_at = json.loads((resume / "trainer_state.json").read_text()).get("global_step", 0) if resume else 0
    history = History(work / "history.jsonl" if main else None, resumed_at)
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "suite", "sample_id")} for r in prompts])
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=cfg, train_dataset=dataset, processing_class=tokenizer)
    trainer.add_callback(history)
    if "tensorboard" in spec.report_to and main:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        trainer.add_callback(TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(work / "tensorboard"))))
    n_params = sum(p.numel() for p in model.parameters())
    say(f"policy: {source} ({n_params / 1e6:,.1f}M parameters); {len(prompts)} prompts; "
        f"{'bf16' if bf16 else 'fp32'}; KL beta {spec.beta:g}")

    # 4. Train, resuming where a killed attempt left off.
    if resume is not None:
        say(f"resuming from {resume.name} (step {resumed_at}): optimizer, scheduler, RNG and data position restored")
    started = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:
        reward.close()
    seconds = time.perf_counter() - started

    # 5. The model directory, written by rank 0.
    rows = [h for h in history.lines if "reward" in h]
    last = rows[-1] if rows else {}
    summary = {
        "steps": trainer.state.global_step,
        "prompts": len(prompts),
        "completions_per_step": spec.completions_per_step(),
        "reward": last.get("reward"),
        "pass_rate": last.get("pass_rate"),
        "kl": last.get("kl"),
        "response_length": last.get("completions/mean_length"),
        "reward_first": rows[0].get("reward") if rows else None,
        "completions_scored": reward.counts["scored"],
        "completions_solved": reward.counts["solved"],
        "attempts": max((h.get("attempt", 1) for h in history.lines), default=1),
        "resumed_from": resume.name if resume else None,
        "seconds": round(seconds, 1),
        "generation": "vllm" if vllm else "transformers",
        "world_size": world,
        "grad_accum": accum,
        "beta": spec.beta,
    }
    if spec.zero_stage == 3:
        trainer.save_model(str(out))  # gathers the ZeRO-3 shards into one checkpoint; every rank calls it
    if main:
        out.mkdir(parents=True, exist_ok=True)
        policy = trainer.accelerator.unwrap_model(trainer.model)
        policy.config.use_cache = True
        if spec.zero_stage != 3:
            (policy.to(torch.bfloat16) if bf16 else policy).save_pretrained(out)
        else:
            policy.config.save_pretrained(out)
        tokenizer.save_pretrained(out)
        for leftover in ("training_args.bin", "README.md"):
            (out / leftover).unlink(missing_ok=True)
        write_report(out, history.lines, {"title": f"GRPO of {Path(source).name}", **summary})
        if (work / "tensorboard").is_dir():
            shutil.copytree(work / "tensorboard", out / "logs", dirs_exist_ok=True)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
    return summary
