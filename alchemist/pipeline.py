"""The stages in order. Each reads the previous stage's files from the run directory."""

from __future__ import annotations

from rich.console import Console

from alchemist.curate import benchmark_problems, run_curate
from alchemist.ingest import ingest
from alchemist.manifest import write_manifest_and_report
from alchemist.mix import run_mix
from alchemist.recipe import Recipe, dump_resolved
from alchemist.relabel.stage import run_relabel
from alchemist.rundir import write_text_atomic


def run_data(recipe: Recipe, console: Console | None = None) -> dict:
    """ingest -> curate -> relabel -> mix; returns the manifest."""
    console = console or Console(stderr=True)
    run_dir = recipe.run_dir
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "recipe.resolved.yaml", dump_resolved(recipe))
    say = lambda msg: console.print(f"[bold cyan]•[/] {msg}")  # noqa: E731
    preflight_llm(recipe, say)
    problems = benchmark_problems(recipe, say)  # a benchmark that cannot be loaded stops us before any work
    shards = ingest(recipe, data_dir, console=console)
    curated = run_curate(recipe, data_dir, shards, problems, say=say)
    relabeled = run_relabel(recipe, data_dir, curated, say=say, console=console)
    mix_stats = run_mix(recipe, data_dir, curated, relabeled, say=say)
    manifest = write_manifest_and_report(recipe, data_dir, curated, mix_stats, relabeled)
    t = manifest["total"]
    console.print(f"[bold green]data ready:[/] {t['read']} read, {t['kept']} kept, "
                  f"{manifest['final']['rows']} rows -> {data_dir / 'final' / 'train.parquet'}; see {data_dir / 'report.md'}")
    return manifest


def preflight_llm(recipe: Recipe, say) -> None:
    """An unreachable endpoint, an unknown model or a missing key stops the run before any work.
    (Local backends load their model when the relabel stage starts.)"""
    spec = recipe.relabel
    if spec is None or not spec.enabled or spec.llm.backend != "openai":
        return
    from alchemist.llm.factory import build_client

    client = build_client(spec.llm, None)
    say(f"relabel: checking {client.model_id} at {spec.llm.base_url}")
    client.preflight()


def run_all(recipe: Recipe, console: Console | None = None) -> None:
    """Every stage the recipe enables, in order."""
    console = console or Console(stderr=True)
    run_data(recipe, console)
    say = lambda msg: console.print(f"[bold cyan]•[/] {msg}")  # noqa: E731
    if recipe.eval is not None and recipe.eval.enabled:
        from alchemist.evaluate.stage import run_eval

        run_eval(recipe, say)
    if recipe.leaderboard is not None and recipe.leaderboard.enabled:
        from alchemist.leaderboard import write_leaderboard

        evals = recipe.run_dir / "eval"
        sources = ([str(evals)] if any(evals.rglob("results.json")) else []) + recipe.leaderboard.results
        if not sources:
            say("leaderboard: no eval results yet, skipped")
            return
        board = write_leaderboard(sources, recipe.run_dir / "leaderboard", with_reference=recipe.leaderboard.reference)
        say(f"leaderboard: {len(board['rows'])} rows -> {recipe.run_dir / 'leaderboard' / 'index.html'}")
