"""The train stage: data/final/train.parquet -> model/ (a Hugging Face model directory).

A thin shape around `alchemist.train.trainer.train`; checkpoints and the tokenization cache live
in the stage's work directory, so a killed run resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from alchemist.errors import UserError
from alchemist.train.launch import command, planned_world_size
from alchemist.training import launched


class Train:
    name, version, reads = "train", 1, ("mix",)
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def enabled(self, recipe) -> bool:
        return getattr(recipe, "train", None) is not None and recipe.train.enabled

    def config(self, recipe):
        spec = recipe.train
        # the global batch decides the weights: with it pinned, the world size only derives grad_accum;
        # without it, 4 and 8 processes are two different runs
        pinned = spec.global_batch_size is not None
        world = None if pinned else planned_world_size(spec.launch)
        return {"train": spec, "seed": recipe.seed, "world_size": world}

    def inputs(self, ctx) -> list[Path]:
        # torch and transformers (seconds of imports): loaded when the stage trains, not when a pipeline is built
        from alchemist.train.trainer import local_model_files

        return local_model_files(ctx.recipe.train)

    def preflight(self, ctx) -> None:
        from alchemist.train.trainer import preflight  # torch and transformers: see inputs()

        preflight(ctx.recipe.train)
        ctx.recipe.train.accumulation(planned_world_size(ctx.recipe.train.launch))  # divisible, or one line

    def plan(self, ctx) -> str:
        spec = ctx.recipe.train
        steps = f"{spec.max_steps} steps" if spec.max_steps > 0 else f"{spec.epochs:g} epochs"
        world = planned_world_size(spec.launch)
        accum = spec.accumulation(world)
        return (f"{spec.method} fine-tune of {spec.model}: {steps}, seq {spec.max_seq_len}"
                f"{' packed' if spec.packing else ''}, lr {spec.lr:g}, global batch {spec.micro_batch_size}x{accum}x{world} "
                f"= {spec.micro_batch_size * accum * world}"
                f"{f', ZeRO-{spec.deepspeed.stage}' if spec.deepspeed.stage else ''}")

    def run(self, ctx, out: Path, work: Path) -> dict:
        from alchemist.train.trainer import train  # torch and transformers: see inputs()

        mix = ctx.output("mix")
        if mix is None:
            raise UserError("train: the mix stage is disabled, so there is no data/final/train.parquet to train on")
        data = mix / "train.parquet"
        spec = ctx.recipe.train
        spec_file = work / "spec.json"
        work.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(spec.model_dump_json(indent=1))
        cmd = command(spec, [str(spec_file), str(data), str(out), str(work), str(ctx.recipe.seed)])
        if cmd is None:
            return train(spec, data, out, work, seed=ctx.recipe.seed, say=ctx.say)
        return launched(cmd, out, ctx.say, "train")
