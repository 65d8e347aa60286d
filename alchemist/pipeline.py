"""The stages in order, and the one loop that runs them.

For every stage the pipeline computes a fingerprint (its version, the stable part of its recipe
slice, the markers of the stages it reads, the digests of the external files it reads), skips it
when its output already carries that fingerprint, and otherwise runs it into a temporary output
that replaces the old one only when the stage returns. Stages never check markers themselves.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from alchemist.curate.stage import Curate
from alchemist.errors import StageSkipped, UserError
from alchemist.evaluate.stage import Eval
from alchemist.ingest.stage import Ingest
from alchemist.leaderboard.stage import Leaderboard
from alchemist.llm.factory import build_client
from alchemist.mix.stage import Mix
from alchemist.recipe import Recipe, dump_resolved
from alchemist.recipe.claim import check_run_dir, claim_run_dir
from alchemist.relabel.stage import Relabel
from alchemist.report.stage import Report
from alchemist.rl.stage import RL
from alchemist.rundir import (
    DigestCache,
    RunLayout,
    RunLock,
    RunRecord,
    atomic_dir,
    copy_atomic,
    fingerprint,
    marker,
    now,
    partial_path,
    write_text_atomic,
)
from alchemist.rundir.ownership import Owned, check_removable, remove_tree
from alchemist.specs import stable_dump
from alchemist.stage import RunContext, Stage
from alchemist.train.stage import Train

# The order of the house: data flows one way through these.
STAGES: tuple[Stage, ...] = (Ingest(), Curate(), Relabel(), Mix(), Train(), RL(), Eval(), Leaderboard(), Report())
STAGE_NAMES = tuple(s.name for s in STAGES)
DATA_STAGES = ("ingest", "curate", "relabel", "mix")


@dataclass
class Selection:
    """Which stages this invocation may run (`--stages`, `--from`) and which it must rerun (`--force`)."""

    only: tuple[str, ...] = ()
    start: str | None = None
    force: tuple[str, ...] = ()

    def selected(self, name: str) -> bool:
        if self.only and name not in self.only:
            return False
        return not (self.start and STAGE_NAMES.index(name) < STAGE_NAMES.index(self.start))


def check_stage_names(names, what: str) -> None:
    for n in names:
        if n not in STAGE_NAMES:
            import difflib

            guess = difflib.get_close_matches(n, STAGE_NAMES, n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            raise UserError(f"{what} {n}: not a stage; {hint}stages: {', '.join(STAGE_NAMES)}")


def dependents(names, enabled: dict[str, bool] | None = None) -> set[str]:
    """The stages named and every enabled stage that reads them, directly or not (a disabled
    stage passes nothing on)."""
    out = set(names)
    for s in STAGES:  # in order, so one pass reaches every descendant
        if out & set(s.reads) and (enabled is None or enabled.get(s.name)):
            out.add(s.name)
    return out


@dataclass
class Plan:
    name: str
    action: str  # run | skip | disabled | unselected
    why: str
    fingerprint: str | None = None
    estimate: str = ""


@dataclass
class Outcome:
    stages: dict[str, dict] = field(default_factory=dict)


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@functools.cache  # a fork hook is process-wide: register it once
def _die_with_parent() -> None:
    """Every process forked from here (datatrove workers, sandbox zygotes, their children) gets
    SIGKILL when its parent dies, so a kill -9 of alchemist leaves no worker behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: nothing to register
        return
    forker = [0]

    def before() -> None:
        forker[0] = os.getpid()

    def in_child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != forker[0]:  # the parent died before the line above: nothing will signal us
            os._exit(1)

    os.register_at_fork(before=before, after_in_child=in_child)


class Pipeline:
    def __init__(self, recipe: Recipe, console: Console | None = None):
        self.recipe = recipe
        self.console = console or Console(stderr=True)
        self.ctx = RunContext(recipe, self.console, {s.name: bool(s.enabled(recipe)) for s in STAGES})
        self.run_dir = recipe.run_dir
        self.layout = RunLayout(self.run_dir)
        self.digests = DigestCache(self.layout.digests)
        self.ctx.digest = self.digests.digest

    # -- fingerprints ----------------------------------------------------------------------------

    def fingerprint_of(self, stage: Stage, upstream: dict[str, str | None]) -> str:
        parts = []
        for item in stage.inputs(self.ctx):
            if isinstance(item, Path):
                if not item.is_file():
                    raise UserError(f"{stage.name}: input file {item} is missing")
                parts.append((str(item), self.digests.digest(item)))
            else:
                parts.append(str(item))  # a content digest the stage computed itself
        return fingerprint(stage.name, stage.version, stable_dump(stage.config(self.recipe)), upstream, parts)

    def _upstream(self, stage: Stage, fps: dict[str, str | None]) -> dict[str, str | None]:
        out = {}
        for name in stage.reads:
            if not self.ctx.enabled.get(name):
                out[name] = "disabled"
            else:
                out[name] = fps.get(name) or marker(self.layout.output(name))
        return out

    # -- outputs -------------------------------------------------------------------------------

    def check_outputs(self) -> Owned:
        return check_run_dir(self.recipe)

    # -- planning --------------------------------------------------------------------------------

    def plan(self, selection: Selection) -> list[Plan]:
        """What a run would do, without writing anything."""
        self.check_outputs()
        plans, fps, changed = [], {}, set()
        forced = dependents(selection.force, self.ctx.enabled)
        for stage in STAGES:
            name = stage.name
            if not self.ctx.enabled[name]:
                plans.append(Plan(name, "disabled", "not enabled in the recipe"))
                continue
            stale_up = [u for u in stage.reads if u in changed]
            fp = None if stale_up else self.fingerprint_of(stage, self._upstream(stage, fps))
            fps[name] = fp
            out = self.layout.output(name)
            done = fp is not None and marker(out) == fp
            if not selection.selected(name):
                plans.append(Plan(name, "unselected", "not selected" + ("" if done else " (its output is not current)"), fp))
                continue
            if name in forced:
                why = "forced"
            elif stale_up:
                why = f"{', '.join(stale_up)} will change"
            elif done:
                plans.append(Plan(name, "skip", "unchanged", fp))
                continue
            else:
                why = "no finished output" if marker(out) is None else "recipe or inputs changed"
            changed.add(name)
            for folder in (out, partial_path(out), out.with_name(out.name + ".old"), self.layout.work(name)):
                check_removable(folder)  # a rerun replaces these: before any work, never a user's file
            estimate = stage.plan(self.ctx)
            plans.append(Plan(name, "run", why, fp, estimate))
        return plans

    # -- running ---------------------------------------------------------------------------------

    def run(self, selection: Selection = Selection()) -> Outcome:
        _die_with_parent()
        distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        rank0 = _is_rank_zero()
        if rank0:
            self.owned = claim_run_dir(self.recipe)
        else:
            self.owned = None
            self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self.run_dir) if rank0 else None
        if lock:
            lock.__enter__()
        try:
            return self._run(selection, rank0, distributed)
        finally:
            self.digests.save() if rank0 else None
            if lock:
                lock.__exit__(None, None, None)

    def _run(self, selection: Selection, rank0: bool, distributed: bool) -> Outcome:
        record = RunRecord(self.run_dir, self.recipe.name, write=rank0)
        if rank0:
            write_text_atomic(self.layout.resolved, dump_resolved(self.recipe))
        plans = {p.name: p for p in self.plan(selection)}
        for p in plans.values():  # unreachable endpoints, missing models: before any work
            stage = self._stage(p.name)
            if p.action == "run":
                stage.preflight(self.ctx)
        if any(plans[n].action == "run" for n in ("curate", "relabel") if n in plans):
            self._preflight_judge()
        outcome, fps = Outcome(), {}
        forced = dependents(selection.force, self.ctx.enabled)
        for stage in STAGES:
            name = stage.name
            out = self.layout.output(name)
            if not self.ctx.enabled[name]:
                record.update(name, status="disabled", fingerprint=None)
                continue
            if not selection.selected(name):
                if marker(out) is None and any(name in s.reads for s in STAGES if selection.selected(s.name) and self.ctx.enabled[s.name]):
                    raise UserError(f"stage {name} has no finished output in {self.run_dir}, and a selected stage reads it: "
                                    f"run it first (alchemist run RECIPE --stages {name}), or drop --stages/--from")
                continue
            fp = self.fingerprint_of(stage, self._upstream(stage, fps))
            fps[name] = fp
            if marker(out) == fp and name not in forced:
                self._publish(stage, out)
                entry = record.data["stages"].get(name, {})
                record.update(name, status="skipped", fingerprint=fp, reason="unchanged")
                self._line("skip", name, f"unchanged since {entry.get('end', 'an earlier run')}", 0.0)
                outcome.stages[name] = record.data["stages"][name]
                continue
            start = time.perf_counter()
            record.update(name, status="running", fingerprint=fp, start=now(), end=None, seconds=None, counts={})
            self.ctx.say(f"{name}: {plans[name].why if name in plans else 'running'}")
            work = self._work_dir(name, fp, fresh=rank0)
            try:
                with atomic_dir(out, fp, fresh=rank0) as tmp:
                    counts = stage.run(self.ctx, tmp, work) or {}
            except StageSkipped as e:
                remove_tree(partial_path(out))
                record.update(name, status="skipped", reason=str(e), end=now(), seconds=round(time.perf_counter() - start, 2))
                self._line("skip", name, str(e), time.perf_counter() - start)
                outcome.stages[name] = record.data["stages"][name]
                continue
            except BaseException as e:
                record.update(name, status="failed", end=now(), seconds=round(time.perf_counter() - start, 2),
                              error=str(e).splitlines()[0][:300] if str(e) else type(e).__name__)
                raise
            seconds = time.perf_counter() - start
            if rank0:
                self._publish(stage, out)
                remove_tree(work)
            record.update(name, status="done", end=now(), seconds=round(seconds, 2), counts=counts, error=None)
            self._line("done", name, _headline(counts), seconds)
            outcome.stages[name] = record.data["stages"][name]
            self.digests.save() if rank0 else None
        return outcome

    def _preflight_judge(self) -> None:
        """The decontamination judge's endpoint (curate and relabel ask it), checked with the
        others and named by its own keys: not found unreachable only after curation's screening."""
        decontaminate = self.recipe.curate.decontaminate
        llm = decontaminate.judge.llm
        if not decontaminate.enabled or llm is None or llm.backend != "openai":
            return
        key = "curate.decontaminate.judge.llm"
        client = build_client(llm, None).named(f"{key}.base_url", f"{key}.api_key_env")
        try:
            client.preflight()
        finally:
            client.close()

    def _stage(self, name: str) -> Stage:
        return STAGES[STAGE_NAMES.index(name)]

    def _work_dir(self, name: str, fp: str, fresh: bool) -> Path:
        """A directory that survives a kill; reused only by a rerun with the same fingerprint."""
        work = self.layout.work(name)
        stamp = work / ".fingerprint"
        if fresh and work.exists() and (not stamp.is_file() or stamp.read_bytes().decode("utf-8", "replace").strip() != fp):
            remove_tree(work)
        work.mkdir(parents=True, exist_ok=True)
        if fresh:
            stamp.write_text(fp)  # also what marks the folder as alchemist's (rundir.ownership.STAMPS)
        return work

    def _publish(self, stage: Stage, out: Path) -> None:
        """Files a stage's contract places outside its own folder (data/manifest.json, report.md)."""
        for rel, dest in stage.publishes.items():
            src, dst = out / rel, self.run_dir / dest
            if src.is_file() and (not dst.is_file() or dst.read_bytes() != src.read_bytes()):
                if self.owned is not None:
                    self.owned.check(dest)
                    self.owned.wrote(dest)
                copy_atomic(src, dst)

    def _line(self, kind: str, name: str, what: str, seconds: float) -> None:
        mark = "[green]✓[/]" if kind == "done" else "[dim]·[/]"
        verb = "done" if kind == "done" else "skipped"
        self.console.print(f"{mark} [bold]{name:<11}[/] {verb} in {seconds:.1f}s" + (f": {what}" if what else ""))


def _headline(counts: dict, most: int = 6) -> str:
    """The first few counts, floats to 4 significant digits: one line, not a dump."""
    parts = []
    for k, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts[:most])


def print_plan(plans: list[Plan], console: Console) -> None:
    from rich.table import Table

    table = Table(title="plan (nothing is written)")
    for col in ("stage", "action", "why", "estimate"):
        table.add_column(col)
    for p in plans:
        table.add_row(p.name, p.action, p.why, p.estimate)
    console.print(table)


def print_summary(recipe: Recipe, outcome: Outcome, console: Console) -> None:
    from rich.table import Table

    run_dir = recipe.run_dir
    run = RunLayout(run_dir)
    paths = [("training data", run.train_data), ("data report", run.data_report), ("report", run.report_html),
             ("model", run.output("train")), ("rl model", run.output("rl")), ("eval results", run.output("eval")),
             ("leaderboard", run.output("leaderboard") / "index.html"), ("run record", run.run_json)]
    table = Table(title=f"run {recipe.name}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("where")
    for what, p in paths:
        if p.exists():
            table.add_row(what, str(p))
    console.print(table)


def run_pipeline(recipe: Recipe, console: Console | None = None, selection: Selection = Selection(),
                 dry_run: bool = False) -> Outcome | list[Plan]:
    console = console or Console(stderr=True)
    pipe = Pipeline(recipe, console)
    if dry_run:
        plans = pipe.plan(selection)
        print_plan(plans, console)
        return plans
    outcome = pipe.run(selection)
    if _is_rank_zero():
        print_summary(recipe, outcome, console)
    return outcome
