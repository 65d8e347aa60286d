"""The eval stage of a recipe: for each benchmark, generate with the recipe's model (through the
LLM client and its cache), score in the sandbox, write eval/BENCHMARK/{generations,samples}.jsonl
and results.json. The CLI's `alchemist eval --model/--samples` goes through the same functions."""

from __future__ import annotations

from pathlib import Path

from alchemist.evaluate.spec import TRAINED
from alchemist.llm.factory import TINY_RANDOM

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


def eval_problems_of(ctx) -> dict[str, list]:
    """Every benchmark's problems, loaded once per run (the fingerprint and the run both use them)."""
    from alchemist.testsets import eval_problems

    spec = ctx.recipe.eval

    def load():
        out = {}
        for bench in spec.benchmarks:
            data = Path(spec.data[bench]) if bench in spec.data else None
            problems = eval_problems(bench, data)
            out[bench] = problems[: spec.limit] if spec.limit else problems
        return out

    return ctx.once("eval_problems", load)


def shots_for(style: str, data: Path | None) -> list | None:
    if style != "mbpp-3shot":
        return None
    from alchemist.testsets import load_benchmark

    return [p for p in load_benchmark("mbpp", data) if p.task_id in ("mbpp/2", "mbpp/3", "mbpp/4")]


class Eval:
    name, version, reads = "eval", 2, ("train",)

    def enabled(self, recipe) -> bool:
        return recipe.eval is not None and recipe.eval.enabled

    def config(self, recipe):
        return {"eval": recipe.eval}

    def inputs(self, ctx) -> list:
        from alchemist.testsets import fingerprint

        spec = ctx.recipe.eval
        parts: list = [f"{bench}:{fingerprint(problems)}" for bench, problems in eval_problems_of(ctx).items()]
        if spec.llm.backend != "openai" and spec.llm.model not in (TRAINED, TINY_RANDOM):
            parts += model_files(spec.llm.model)
        return parts

    def plan(self, ctx) -> str:
        spec = ctx.recipe.eval
        n = sum(len(p) for p in eval_problems_of(ctx).values())
        return f"{n * spec.n} answers to generate ({spec.llm.backend}: {spec.llm.model})"

    def preflight(self, ctx) -> None:
        llm = ctx.recipe.eval.llm
        if llm.backend == "openai":
            from alchemist.llm.factory import build_client

            client = build_client(llm, None)
            try:
                client.preflight()
            finally:
                client.close()

    def run(self, ctx, out: Path, work: Path) -> dict:
        from alchemist.evaluate.generate import generate_samples
        from alchemist.evaluate.sandbox import Limits
        from alchemist.evaluate.score import score
        from alchemist.llm.factory import build_client

        recipe, spec = ctx.recipe, ctx.recipe.eval
        llm = spec.llm
        if llm.model == TRAINED:
            llm = llm.model_copy(update={"model": str(ctx.output("train"))})
        client = build_client(llm, ctx.run_dir / "cache" / "eval_llm.sqlite")
        client.preflight()
        counts = {}
        try:
            for bench, problems in eval_problems_of(ctx).items():
                data = Path(spec.data[bench]) if bench in spec.data else None
                bench_out = out / bench
                ctx.say(f"eval: {bench}: generating {len(problems) * spec.n} answers with {client.model_id}")
                samples = generate_samples(client, problems, spec.style, bench_out / "generations.jsonl", n=spec.n,
                                           temperature=llm.temperature, max_tokens=llm.max_tokens,
                                           shots=shots_for(spec.style, data))
                generation = {"llm": client.model_id, "prompt_style": spec.style, "n": spec.n,
                              "temperature": llm.temperature, "max_tokens": llm.max_tokens}
                results = score(bench, problems, samples, bench_out, limits=Limits(timeout=spec.timeout),
                                workers=spec.workers, model=model_name(recipe), generation=generation)
                scores = ", ".join(f"{k} {v:.1%}" for k, v in results["pass_at_k"].items())
                ctx.say(f"eval: {bench}: {scores} ({results['programs_per_s']} programs/s)")
                counts[bench] = round(results["pass_at_k"].get("pass@1", 0.0), 4)
        finally:
            client.close()
        return counts
