"""The rl stage: the train stage's model (or any model) -> GRPO on the run's samples that carry
tests, rewarded by the sandbox -> rl/ (a Hugging Face model directory, training_report.json,
held_out.jsonl). Checkpoints live in the stage's work directory, so a killed run resumes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from alchemist.errors import UserError
from alchemist.execution import Limits
from alchemist.rl import source
from alchemist.rl.prompts import read_samples, select
from alchemist.rl.reward import SandboxReward
from alchemist.rl.spec import TRAINED
from alchemist.rl.trainer import grpo
from alchemist.training import launched


class RL:
    name, version, reads = "rl", 1, ("mix", "train")
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def enabled(self, recipe) -> bool:
        return getattr(recipe, "rl", None) is not None and recipe.rl.enabled

    def config(self, recipe):
        return {"rl": recipe.rl, "seed": recipe.seed}

    def inputs(self, ctx) -> list[Path]:
        spec = ctx.recipe.rl
        files = source.local_files(spec.model)
        if spec.data is not None:
            files.append(Path(spec.data).expanduser())
        return files

    def preflight(self, ctx) -> None:
        spec = ctx.recipe.rl
        source.check(spec.model, ctx.output("train"))
        if spec.data is not None and not Path(spec.data).expanduser().is_file():
            raise UserError(f"rl.data: {spec.data} does not exist; give a parquet of samples with tests, or null "
                            "for this run's data/final/train.parquet")

    def plan(self, ctx) -> str:
        spec = ctx.recipe.rl
        return (f"GRPO of {spec.model}: {spec.max_steps} steps x {spec.prompts_per_step} prompts x "
                f"{spec.num_generations} completions, each scored by its tests in the sandbox")

    def data(self, ctx) -> Path:
        spec = ctx.recipe.rl
        if spec.data is not None:
            return Path(spec.data).expanduser()
        mix = ctx.output("mix")
        if mix is None:
            raise UserError("rl: the mix stage is disabled and rl.data is not set, so there are no samples with tests")
        return mix / "train.parquet"

    def run(self, ctx, out: Path, work: Path) -> dict:
        spec = ctx.recipe.rl
        trained = ctx.output("train") if spec.model == TRAINED else None
        policy = source.resolve(spec.model, trained, work)
        conversational = _has_chat_template(policy)
        prompts = select(read_samples(self.data(ctx)), spec.held_out, ctx.recipe.seed, spec.prompt_tests,
                         spec.max_prompts, conversational)
        if spec.check_reference:
            prompts.train, failed = checked_references(prompts.train, spec)
            prompts.counts["reference_fails"] += failed
        counts = dict(prompts.counts)
        ctx.say(f"rl: {len(prompts.train)} training prompts, {len(prompts.held_out)} held out; "
                + ", ".join(f"{k} {v}" for k, v in counts.items()))
        out.mkdir(parents=True, exist_ok=True)
        with (out / "held_out.jsonl").open("w", encoding="utf-8") as fh:
            for row in prompts.held_out:
                fh.write(json.dumps({"sample_id": row["sample_id"], "prompt": row["prompt"], "suite": json.loads(row["suite"])},
                                    ensure_ascii=False) + "\n")
        cmd = launch_command(spec, work, prompts.train, policy, out, ctx.recipe.seed)
        if cmd is None:
            summary = grpo(spec, policy, prompts.train, out, work, seed=ctx.recipe.seed, say=ctx.say)
        else:
            summary = launched(cmd, out, ctx.say, "rl", drop=("history", "per_step", "title"))
        return {**summary, "held_out": len(prompts.held_out), "selection": counts}


def _has_chat_template(model: str) -> bool:
    from transformers import AutoTokenizer  # heavy: only when the stage runs

    try:
        return bool(AutoTokenizer.from_pretrained(model).chat_template)
    except OSError as e:
        raise UserError(f"rl.model: cannot load the tokenizer of {model} ({str(e).splitlines()[0][:160]})") from None


def checked_references(rows: list[dict], spec) -> tuple[list[dict], int]:
    """The rows whose sample's own answer passes all its tests in the sandbox (a reward of 1 is
    reachable), and how many were left out."""
    reward = SandboxReward(Limits(timeout=spec.reward.timeout, memory_mb=spec.reward.memory_mb),
                           spec.reward.call_timeout, spec.reward.workers)
    try:
        rewards = reward([r["prompt"] for r in rows], [r["reference"] for r in rows],
                         suite=[r["suite"] for r in rows]) if rows else []
    finally:
        reward.close()
    kept = [r for r, v in zip(rows, rewards) if v == 1.0]
    return kept, len(rows) - len(kept)


def launch_command(spec, work: Path, prompts: list[dict], policy: str, out: Path, seed: int) -> list[str] | None:
    """torchrun over the GPUs of this node when rl.nproc_per_node asks for more than one process
    (inside a launcher already: None, this process is a rank)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return None
    n = spec.nproc_per_node
    if n == "auto":
        import torch

        n = max(1, torch.cuda.device_count())
    if n == 1:
        return None
    (work / "spec.json").write_text(spec.model_dump_json(indent=1))
    with (work / "prompts.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in prompts)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
            "-m", "alchemist.rl.worker", str(work / "spec.json"), str(work / "prompts.jsonl"), policy, str(out),
            str(work), str(seed)]
