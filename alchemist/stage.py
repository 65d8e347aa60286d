"""The one shape every stage has, and what the pipeline hands it.

A stage is any object with these attributes (no base class):

    class Mix:
        name, version, reads = "mix", 3, ("curate", "relabel")
        publishes = {"manifest.json": "data/manifest.json"}  # files copied out of its folder ({} for most)
        def enabled(self, recipe) -> bool: ...          # off: skipped, downstream sees "disabled"
        def config(self, recipe): ...                   # the recipe slice it depends on
        def inputs(self, ctx) -> list[Path]: ...        # external files read (digests fingerprinted)
        def plan(self, ctx) -> str: ...                 # what a dry run says it would do ("" for nothing)
        def preflight(self, ctx) -> None: ...           # before any stage runs: endpoints, models, tools
        def run(self, ctx, out: Path, work: Path) -> dict: ...   # headline counts for run.json

The pipeline fingerprints `version + stable config + upstream markers + input digests`, skips a
stage whose output carries that fingerprint, hands `run` a fresh temporary `out` that replaces
the stage's output only when `run` returns, and a `work` directory that survives a kill and is
reused by the next attempt with the same fingerprint (datatrove task markers, checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from alchemist.rundir import RunLayout, file_digest


class Stage(Protocol):
    name: str
    version: int
    reads: tuple[str, ...]
    publishes: Mapping[str, str]  # file in its output -> path in the run directory (rundir.PUBLISHED)

    def enabled(self, recipe) -> bool: ...

    def config(self, recipe) -> Any: ...

    def inputs(self, ctx: RunContext) -> list[Path]: ...

    def plan(self, ctx: RunContext) -> str: ...

    def preflight(self, ctx: RunContext) -> None: ...

    def run(self, ctx: RunContext, out: Path, work: Path) -> dict: ...


@dataclass
class RunContext:
    """What a stage may use: the recipe, where upstream outputs are, a way to talk, and the
    benchmark problems (loaded once per run, passed to every stage that needs them)."""

    recipe: Any
    console: Console = field(default_factory=lambda: Console(stderr=True))
    enabled: dict[str, bool] = field(default_factory=dict)
    digest: Callable[[Path], str] = file_digest  # the pipeline's cached digests
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.recipe.run_dir

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    def output(self, stage: str) -> Path | None:
        """The finished output of an upstream stage, or None when that stage is disabled."""
        if self.enabled and not self.enabled.get(stage, False):
            return None
        return self.layout.output(stage)

    def say(self, msg: str) -> None:
        self.console.print(f"[bold cyan]•[/] {msg}")

    def warn(self, msg: str) -> None:
        self.console.print(f"[yellow]warning:[/] {msg}")

    def once(self, key: str, build: Callable[[], Any]) -> Any:
        """A value computed once per run (e.g. benchmark problems) and shared by stages."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]
