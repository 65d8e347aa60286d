"""The DeepSpeed config a recipe's `train.deepspeed` stands for, checked before any compute.

Batch sizes, clipping and precision are "auto": the HF integration fills them from the training
arguments, so the recipe states each of them once.
"""

from __future__ import annotations

import copy
import difflib

from alchemist.errors import UserError
from alchemist.training import zero_config

# Top-level sections DeepSpeed reads besides the scalar keys in deepspeed.runtime.constants.
SECTIONS = {
    "zero_optimization", "activation_checkpointing", "flops_profiler", "comms_logger", "tensorboard", "wandb",
    "csv_monitor", "aio", "compile", "amp", "data_efficiency", "curriculum_learning", "elasticity", "autotuning",
    "compression_training", "nebula", "pipeline", "hybrid_engine", "sequence_parallel_size", "weight_quantization",
    "checkpoint", "optimizer", "scheduler", "fp16", "bf16", "zero_allow_untested_optimizer", "steps_per_print",
    "wall_clock_breakdown", "gradient_clipping", "train_batch_size", "train_micro_batch_size_per_gpu",
    "gradient_accumulation_steps", "prescale_gradients", "gradient_predivide_factor", "communication_data_type",
    "memory_breakdown", "dump_state", "zero_force_ds_cpu_optimizer", "data_types", "torch_autocast",
    "use_data_before_expert_parallelism", "disable_allgather", "seq_parallel_communication_data_type",
    "dataloader_drop_last", "graph_harvesting", "timers", "eigenvalue", "quantize_training", "progressive_layer_drop",
}


def config(stage: int, offload: str, extra: dict | None) -> dict | None:
    """The config dict for `SFTConfig(deepspeed=...)`: `training.zero_config` with the recipe's
    extra keys merged in; None for stage 0 (plain DDP) without extras."""
    if stage == 0 and not extra:
        return None
    merged = _merge(zero_config(stage, offload), extra or {})
    check(merged)
    return merged


def check(cfg: dict) -> None:
    """Unknown keys are an error naming the key (DeepSpeed itself ignores most of them)."""
    for key in cfg:
        if key not in SECTIONS:
            near = difflib.get_close_matches(key, sorted(SECTIONS), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise UserError(f"train.deepspeed.config.{key}: not a DeepSpeed config key{hint}")
    zero = cfg.get("zero_optimization")
    if zero is None:
        return
    try:
        from deepspeed.runtime.zero.config import DeepSpeedZeroConfig
    except ImportError:
        raise UserError("train.deepspeed: needs deepspeed (pip install deepspeed); "
                        "or set train.deepspeed.stage: 0") from None
    from pydantic import ValidationError

    try:
        DeepSpeedZeroConfig(**{k: v for k, v in zero.items() if v != "auto"})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UserError(f"train.deepspeed.config.zero_optimization.{where}: {err['msg']}") from None


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
