"""The leaderboard stage: runs/NAME/leaderboard/ from this run's eval results (and any others the
recipe names), beside the paper's published rows."""

from __future__ import annotations

from pathlib import Path

from alchemist.errors import StageSkipped
from alchemist.leaderboard import write_leaderboard
from alchemist.testsets.ranking import find_results, read_result


class Leaderboard:
    name, version, reads = "leaderboard", 1, ("eval",)
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def plan(self, ctx) -> str:
        return ""

    def preflight(self, ctx) -> None:
        """Nothing to check before the run starts: no endpoint, model or tool of its own."""

    def enabled(self, recipe) -> bool:
        return recipe.leaderboard is not None and recipe.leaderboard.enabled

    def config(self, recipe):
        return {"leaderboard": recipe.leaderboard}

    def inputs(self, ctx) -> list:
        extra = ctx.recipe.leaderboard.results
        return find_results(extra) if extra else []

    def run(self, ctx, out: Path, work: Path) -> dict:
        evals = ctx.output("eval")
        sources = ([str(evals)] if evals is not None and any(evals.rglob("results.json")) else []) + ctx.recipe.leaderboard.results
        if not sources:
            raise StageSkipped("no eval results yet")
        baseline = compared_with(ctx.recipe.leaderboard.results) if evals is not None else None
        board = write_leaderboard(sources, out, with_reference=ctx.recipe.leaderboard.reference, baseline=baseline)
        ctx.say(f"leaderboard: {len(board['rows'])} rows -> {ctx.run_dir / 'leaderboard' / 'index.html'}")
        stats = {"rows": len(board["rows"]), "models": sum(1 for r in board["rows"] if not r["reference"])}
        if board["baseline"]:
            stats["baseline"] = board["baseline"]
            stats["delta"] = {r["model"]: r["delta"] for r in board["rows"] if "delta" in r}
        return stats


def compared_with(extra: list[str]) -> str | None:
    """The model this run is compared with: the one model of `leaderboard.results` (e.g. the base
    model this run fine-tunes, scored by another run), else none."""
    if not extra:
        return None
    models = {read_result(p)["model"] for p in find_results(extra)}
    return models.pop() if len(models) == 1 else None
