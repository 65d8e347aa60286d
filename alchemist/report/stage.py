"""The report stage, last of all: runs/NAME/report/report.html, published as runs/NAME/report.html.

It reads only the run directory's finished files (every section optional), so it has no recipe
slice of its own and no external inputs: it reruns when any stage it reads changed.
"""

from __future__ import annotations

from pathlib import Path

from alchemist.report import build_report
from alchemist.rundir import PUBLISHED


class Report:
    name, version, reads = "report", 1, ("mix", "train", "rl", "eval", "leaderboard")
    publishes = PUBLISHED["report"]

    def plan(self, ctx) -> str:
        return ""

    def preflight(self, ctx) -> None:
        """Nothing to check before the run starts: no endpoint, model or tool of its own."""

    def enabled(self, recipe) -> bool:
        return True

    def config(self, recipe):
        return {}

    def inputs(self, ctx) -> list:
        return []

    def run(self, ctx, out: Path, work: Path) -> dict:
        enabled = dict(ctx.enabled) if ctx.enabled else None
        summary = build_report(ctx.run_dir, out / "report.html", enabled=enabled)
        ctx.say(f"report: {len(summary['drawn'])} sections drawn -> {ctx.run_dir / 'report.html'}"
                + (f" (not run: {', '.join(summary['not_run'])})" if summary["not_run"] else ""))
        return {"sections": len(summary["drawn"]), "not_run": len(summary["not_run"]), "figures": summary["figures"]}
