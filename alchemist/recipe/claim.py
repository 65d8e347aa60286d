"""The run directory a recipe names: the user's inputs no output may overlap, and claiming it
(checked, created or taken, recorded) before a run or `alchemist slurm` writes there."""

from __future__ import annotations

from pathlib import Path

from alchemist.errors import UserError
from alchemist.recipe.locate import resolve_path
from alchemist.recipe.schema import Recipe
from alchemist.relabel.stage import cache_path
from alchemist.rundir import LOCK, PUBLISHED, RESOLVED, RUN_ENTRIES, RUN_JSON
from alchemist.rundir.ownership import Owned, check_overlap, read_record, shown

SQLITE_HEADER = b"SQLite format 3\0"


def recipe_inputs(r: Recipe) -> list[tuple[str, Path]]:
    """The user's files and folders a recipe names, as (key, path): what its outputs must neither
    hold nor lie inside."""
    out: list[tuple[str, Path]] = []
    for i, spec in enumerate(r.sources):
        for text in spec.paths():
            out.append((f"source '{spec.name}' (sources.{i}.path)", resolve_path(text, r._path)))
    if r.eval is not None and r.eval.enabled:
        out += [(f"eval.data.{name}", resolve_path(text, r._path)) for name, text in r.eval.data.items()]
    for j, ref in enumerate(r.curate.decontaminate.refs()):
        if ref.path is not None:
            out.append((f"curate.decontaminate.benchmarks.{j}.path", resolve_path(ref.path, r._path)))
    for key, llm in (("train.model", r.train if r.trains else None),
                     ("relabel.llm.model", r.relabel.llm if r.relabel is not None and r.relabel.enabled else None),
                     ("rl.model", r.rl if r.rl is not None and r.rl.enabled else None),
                     ("eval.llm.model", r.eval.llm if r.eval is not None and r.eval.enabled else None)):
        model = getattr(llm, "model", None)
        if isinstance(model, str) and model.strip() and not model.startswith("builtin:") and Path(model).exists():
            out.append((key, Path(model)))
    return out


def check_run_dir(recipe: Recipe) -> Owned:
    """Before any work: the run directory overlaps no input, and holds nothing a run would replace
    that alchemist did not write (the stages' folders: the pipeline's plan). Returns its record (the
    folder is not created)."""
    run_dir = recipe.run_dir
    check_overlap(run_dir, recipe_inputs(recipe), "output_dir")
    owned = Owned(run_dir, "output_dir", legacy=RUN_JSON)
    if run_dir.is_dir():
        record = read_record(run_dir)
        if record is None and (run_dir / RUN_JSON).is_file():  # an older alchemist's run directory
            record = {e.name for e in run_dir.iterdir()}
        if record is not None:
            owned.record = record
            owned.check(*RUN_ENTRIES, *(dest for files in PUBLISHED.values() for dest in files.values()))
        for name, kind in ((RUN_JSON, "file"), (LOCK, "file"), (RESOLVED, "file"), ("work", "folder"), ("cache", "folder")):
            p = run_dir / name
            if (p.exists() or p.is_symlink()) and not (p.is_file() if kind == "file" else p.is_dir()):
                raise UserError(f"{shown(p)}: should be a {kind} of alchemist's run state, but is not; move it away and rerun")
    cache = cache_path(recipe) if recipe.relabel is not None and recipe.relabel.enabled else None
    if cache is not None and cache.is_file() and cache.stat().st_size and not _is_sqlite(cache):
        raise UserError(f"relabel.llm.cache {shown(cache)}: exists and is not an SQLite answer cache alchemist wrote; "
                        "choose another path for the cache")
    return owned


def claim_run_dir(recipe: Recipe, *entries: str) -> Owned:
    """The run directory, checked (`check_run_dir`), created or taken, its record holding the
    names a run writes there besides the stages' folders (`RUN_ENTRIES`, checked free just before)
    and `entries`."""
    owned = check_run_dir(recipe).claim()
    owned.wrote(*RUN_ENTRIES, *entries)
    return owned


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == SQLITE_HEADER
