"""The benchmark problems a run decontaminates against (`curate.decontaminate`, a
`rules.spec.DecontaminateSpec`), loaded once per run and shared by every stage that applies the
curation rules (curate to ingested samples, relabel to produced ones)."""

from __future__ import annotations

from pathlib import Path

from alchemist.errors import UserError
from alchemist.testsets import Problem, load_benchmark

# Benchmarks of the default list that may be skipped (with a warning) when they cannot be had offline.
OPTIONAL_DEFAULTS = ("mbpp", "mbpp_plus")


def load_problems(spec, warn=None) -> tuple[list[Problem], list[dict]]:
    """Problems of every benchmark to decontaminate against, and the default benchmarks skipped.
    A benchmark the recipe names that cannot be loaded is an error; MBPP in the default list is
    skipped with a warning when it can be neither downloaded nor found (offline)."""
    if not spec.enabled:
        return [], []
    explicit = "benchmarks" in spec.model_fields_set
    problems: list[Problem] = []
    skipped: list[dict] = []
    seen = set()
    for ref in spec.refs():
        plain = ref.name.removesuffix("_plus") if ref.name in ("humaneval_plus", "mbpp_plus") and not ref.path else ref.name
        if (plain, ref.path) in seen:  # humaneval_plus without a file is humaneval's problems again
            continue
        seen.add((plain, ref.path))
        try:
            problems += load_benchmark(ref.name, Path(ref.path) if ref.path else None)
        except UserError as e:
            if explicit or ref.name not in OPTIONAL_DEFAULTS:
                raise
            if not any(s["benchmark"] == plain for s in skipped):
                skipped.append({"benchmark": ref.name, "reason": str(e)})
                if warn:
                    warn(f"not decontaminating against {ref.name}: {e}")
    return problems, skipped


def run_problems(ctx) -> tuple[list[Problem], list[dict]]:
    """The run's decontamination problems, loaded once and shared by curate and relabel."""
    return ctx.once("decontamination_problems", lambda: load_problems(ctx.recipe.curate.decontaminate, ctx.warn))
