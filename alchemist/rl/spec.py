"""The recipe's `rl:` section: GRPO on the run's samples that carry tests, rewarded by the sandbox.

Settings that cannot change the weights (logging, where metrics go, sandbox threads) are
`volatile`: changing them never reruns a finished rl stage.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alchemist.specs import Strict, local_path, volatile

TRAINED = "train"  # the model this run's train stage wrote


class RewardSpec(Strict):
    timeout: float = Field(5.0, gt=0, description="CPU seconds a candidate program may run (the sandbox's limit).")
    call_timeout: float = Field(10.0, gt=0, description="Wall seconds one call of the candidate's function may take; "
                                                        "past it that test and every later one fail.")
    memory_mb: int = Field(1024, ge=64, description="Address space per sandboxed process.")
    format_weight: float = Field(0.0, ge=0, description="Weight of the format reward (one fenced Python block "
                                                        "that parses); 0: tests alone decide.")
    workers: int = volatile(4, ge=1, description="Sandbox workers scoring a batch in parallel.")


class RLSpec(Strict):
    enabled: bool = Field(True, description="Run the rl stage.")
    model: str = local_path(TRAINED, must_exist=True, keep=(TRAINED,), description="The policy to start from: `train` (the model this run trains), a local "
                                           "Hugging Face model directory, a hub id, or a `builtin:` model.")
    revision: str | None = Field(None, description="Hub revision of `model`.")
    data: str | None = local_path(None, description="Samples with tests to draw prompts from (a parquet of Sample rows); "
                                               "null: this run's data/final/train.parquet.")
    held_out: float = Field(0.1, ge=0, lt=0.9, description="Share of the prompts kept out of training (by sample id), "
                                                           "listed in held_out.jsonl for evaluation.")
    max_prompts: int | None = Field(None, ge=1, description="Cap on training prompts (after the held-out split).")
    prompt_tests: int = Field(1, ge=0, description="Asserts shown in the prompt as the expected call (MBPP style); "
                                                   "every test counts in the reward.")
    check_reference: bool = Field(True, description="Keep only prompts whose sample's own answer passes all its "
                                                    "tests in the sandbox (the rest are counted and left out).")

    num_generations: int = Field(8, ge=2, description="Completions per prompt: the group whose rewards are compared.")
    prompts_per_step: int = Field(64, ge=1, description="Prompts per optimizer step, over all processes.")
    micro_batch_size: int = Field(8, ge=1, description="Completions per device per forward pass.")
    max_steps: int = Field(80, ge=1, description="Optimizer steps.")
    max_completion_length: int = Field(1024, ge=8, description="Tokens a completion may have; a longer one is cut "
                                                               "and gets reward 0.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the completions.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling of the completions.")
    lr: float = Field(1e-6, gt=0, description="Peak learning rate (AdamW).")
    beta: float = Field(0.04, ge=0, description="KL coefficient against the starting model (0: no reference model, no KL).")
    epsilon: float = Field(0.2, gt=0, description="Clipping range of the policy ratio.")
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field("dapo", description="How token losses are averaged (TRL's loss_type).")
    scale_rewards: Literal["group", "batch", "none"] = Field("group", description="Advantage scaling by the rewards' std.")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the steps spent warming the learning rate up.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: off).")
    bf16: Literal["auto", True, False] = Field("auto", description="bfloat16 where the GPU supports it.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass.")
    zero_stage: Literal[0, 2, 3] = Field(0, description="DeepSpeed ZeRO stage for the policy (and reference): 0 = plain "
                                                       "DDP, 3 = weights sharded too (a 7B policy with AdamW needs it on 80 GB GPUs).")
    use_vllm: Literal["auto", True, False] = Field(
        "auto", description="Generate with vLLM (TRL's colocate mode); auto: where a GPU and vllm are present, else transformers.")
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, lt=1, description="GPU memory vLLM may take beside training.")
    nproc_per_node: int | Literal["auto"] = volatile("auto", description="Training processes (torchrun); auto: one per GPU.")

    save_steps: int = Field(10, ge=1, description="Checkpoint every N steps in the work directory; a killed run resumes from the last.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept.")
    logging_steps: int = volatile(1, ge=1, description="Log reward, KL, pass rate and completion length every N steps.")
    report_to: list[Literal["tensorboard", "wandb"]] = volatile(["tensorboard"], description="Where metrics go besides the report.")
    reward: RewardSpec = Field(default_factory=RewardSpec, description="How completions are scored in the sandbox.")

    @model_validator(mode="after")
    def _coherent(self):
        if self.micro_batch_size % self.num_generations and self.num_generations % self.micro_batch_size:
            raise ValueError(f"micro_batch_size {self.micro_batch_size} and num_generations {self.num_generations}: "
                             "one must divide the other, so a group's completions fill whole passes")
        return self

    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations
