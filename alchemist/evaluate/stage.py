"""The eval stage of a recipe: for each benchmark, generate with the recipe's model (through the
LLM client and its cache), score in the sandbox, write eval/BENCHMARK/{generations,samples}.jsonl
and results.json."""

from __future__ import annotations

from pathlib import Path

from alchemist.recipe import LLMSpec, Recipe, resolve_path


def model_name(recipe: Recipe) -> str:
    spec = recipe.eval
    return spec.name or Path(spec.model.split(":", 1)[-1]).name


def run_eval(recipe: Recipe, say=print) -> list[Path]:
    from alchemist.evaluate.generate import generate_samples
    from alchemist.evaluate.sandbox import Limits
    from alchemist.evaluate.score import score
    from alchemist.llm.factory import build_client
    from alchemist.testsets import eval_problems, load_benchmark

    spec = recipe.eval
    out_root = recipe.run_dir / "eval"
    client = build_client(LLMSpec(backend=spec.backend, model=spec.model, base_url=spec.base_url,
                                  api_key_env=spec.api_key_env, batch_size=spec.batch_size), out_root / "llm_cache.sqlite")
    client.preflight()
    written = []
    try:
        for bench in spec.benchmarks:
            data = resolve_path(spec.data[bench], recipe._path) if bench in spec.data else None
            problems = eval_problems(bench, data)
            if spec.limit:
                problems = problems[: spec.limit]
            shots = None
            if spec.style == "mbpp-3shot":
                shots = [p for p in load_benchmark("mbpp", data) if p.task_id in ("mbpp/2", "mbpp/3", "mbpp/4")]
            out = out_root / bench
            say(f"eval: {bench}: generating {len(problems) * spec.n} answers with {client.model_id}")
            samples = generate_samples(client, problems, spec.style, out / "generations.jsonl", n=spec.n,
                                       temperature=spec.temperature, max_tokens=spec.max_tokens, shots=shots)
            generation = {"llm": client.model_id, "prompt_style": spec.style, "n": spec.n, "temperature": spec.temperature,
                          "max_tokens": spec.max_tokens}
            results = score(bench, problems, samples, out, limits=Limits(timeout=spec.timeout), model=model_name(recipe),
                            generation=generation)
            scores = ", ".join(f"{k} {v:.1%}" for k, v in results["pass_at_k"].items())
            say(f"eval: {bench}: {scores} ({results['programs_per_s']} programs/s)")
            written.append(out / "results.json")
    finally:
        client.close()
    return written
