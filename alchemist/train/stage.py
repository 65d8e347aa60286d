"""The train stage: data/final/train.parquet -> model/ (a Hugging Face model directory).

A thin shape around `alchemist.train.trainer.train`; checkpoints and the tokenization cache live
in the stage's work directory, so a killed run resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path


class Train:
    name, version, reads = "train", 1, ("mix",)

    def enabled(self, recipe) -> bool:
        return getattr(recipe, "train", None) is not None and recipe.train.enabled

    def config(self, recipe):
        return {"train": recipe.train, "seed": recipe.seed}

    def inputs(self, ctx) -> list[Path]:
        from alchemist.train.trainer import local_model_files

        return local_model_files(ctx.recipe.train)

    def preflight(self, ctx) -> None:
        from alchemist.train.trainer import preflight

        preflight(ctx.recipe.train)

    def plan(self, ctx) -> str:
        spec = ctx.recipe.train
        steps = f"{spec.max_steps} steps" if spec.max_steps > 0 else f"{spec.epochs:g} epochs"
        return (f"{spec.method} fine-tune of {spec.model}: {steps}, seq {spec.max_seq_len}"
                f"{' packed' if spec.packing else ''}, lr {spec.lr:g}, batch {spec.micro_batch_size}x{spec.grad_accum}"
                f"{f', ZeRO-{spec.deepspeed.stage}' if spec.deepspeed.stage else ''}")

    def run(self, ctx, out: Path, work: Path) -> dict:
        from alchemist.errors import UserError
        from alchemist.train.trainer import train

        mix = ctx.output("mix")
        if mix is None:
            raise UserError("train: the mix stage is disabled, so there is no data/final/train.parquet to train on")
        data = mix / "train.parquet"
        return train(ctx.recipe.train, data, out, work, seed=ctx.recipe.seed, say=ctx.say)
