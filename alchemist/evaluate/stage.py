"""The eval stage of a recipe: for each benchmark, generate with the recipe's model (through the
LLM client and its cache), score in the sandbox, write eval/BENCHMARK/{generations,samples}.jsonl
and results.json. The CLI's `alchemist eval --model/--samples` goes through the same functions."""

from __future__ import annotations

from pathlib import Path

from alchemist.evaluate.prompts import few_shot
from alchemist.evaluate.run import evaluate, limit_problems
from alchemist.evaluate.spec import TRAINED
from alchemist.execution import Limits
from alchemist.llm.factory import TINY_RANDOM, build_client
from alchemist.testsets import fingerprint, get_benchmark

# Files of a local model whose change makes earlier scores stale.
MODEL_FILES = ("*.json", "*.safetensors", "*.bin", "*.model", "*.jinja", "*.txt", "*.py")


def model_name(recipe) -> str:
    spec = recipe.eval
    if spec.name:
        return spec.name
    if spec.llm.model == TRAINED:
        return recipe.name
    return Path(spec.llm.model.split(":", 1)[-1]).name


def model_files(model: str) -> list[Path]:
    p = Path(model)
    if not p.is_dir():
        return []
    return sorted(f for pattern in MODEL_FILES for f in p.glob(pattern) if f.is_file())


def trained_model(ctx) -> Path:
    """The model `eval.llm.model: train` names: the rl stage's when the recipe has an enabled
    `rl:` section (GRPO continues from the train stage's model), else the train stage's."""
    return ctx.output("rl") or ctx.output("train")


def eval_problems_of(ctx) -> dict[str, tuple]:
    """Every benchmark with its problems and the task ids --limit leaves out, loaded once per run
    (the fingerprint and the run both use them)."""
    spec = ctx.recipe.eval

    def load():
        out = {}
        for name in spec.benchmarks:
            data = Path(spec.data[name]) if name in spec.data else None
            bench = get_benchmark(name, data)
            problems, excluded = limit_problems(bench.eval_problems(data), spec.limit)
            out[name] = (bench, data, problems, excluded)
        return out

    return ctx.once("eval_problems", load)


class Eval:
    name, version, reads = "eval", 2, ("train", "rl")
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def enabled(self, recipe) -> bool:
        return recipe.eval is not None and recipe.eval.enabled

    def config(self, recipe):
        return {"eval": recipe.eval}

    def inputs(self, ctx) -> list:
        spec = ctx.recipe.eval
        parts: list = [f"{name}:{fingerprint(problems)}" for name, (_, _, problems, _) in eval_problems_of(ctx).items()]
        if spec.llm.backend != "openai" and spec.llm.model not in (TRAINED, TINY_RANDOM):
            parts += model_files(spec.llm.model)
        return parts

    def plan(self, ctx) -> str:
        spec = ctx.recipe.eval
        n = sum(len(problems) for _, _, problems, _ in eval_problems_of(ctx).values())
        return f"{n * spec.n} answers to generate ({spec.llm.backend}: {spec.llm.model})"

    def preflight(self, ctx) -> None:
        llm = ctx.recipe.eval.llm
        if llm.backend == "openai":
            client = build_client(llm, None).named("eval.llm.base_url", "eval.llm.api_key_env")
            try:
                client.preflight()
            finally:
                client.close()

    def run(self, ctx, out: Path, work: Path) -> dict:
        recipe, spec = ctx.recipe, ctx.recipe.eval
        llm = spec.llm
        if llm.model == TRAINED:
            llm = llm.model_copy(update={"model": str(trained_model(ctx))})
        client = build_client(llm, ctx.layout.eval_cache).named("eval.llm.base_url", "eval.llm.api_key_env")
        client.preflight()
        counts = {}
        try:
            for name, (bench, data, problems, excluded) in eval_problems_of(ctx).items():
                results = evaluate(bench, problems, out / name, client=client, style=spec.style, n=spec.n,
                                   temperature=llm.temperature, max_tokens=llm.max_tokens,
                                   shots=bench.examples(data) if few_shot(spec.style) else None,
                                   limits=Limits(timeout=spec.timeout), workers=spec.workers,
                                   model_name=model_name(recipe), excluded=excluded, say=lambda m: ctx.say(f"eval: {m}"),
                                   max_failure_rate=spec.max_failure_rate, require_isolation=spec.require_isolation)
                scores = ", ".join(f"{k} {v:.1%}" for k, v in results["pass_at_k"].items())
                ctx.say(f"eval: {name}: {scores} ({results['programs_per_s']} programs/s)")
                counts[name] = round(results["pass_at_k"].get("pass@1", 0.0), 4)
        finally:
            client.close()
        return counts
