"""The package's floors, read from its imports (function-level ones included): the stages stand
side by side and none imports another; what lies below them imports no stage, nor the recipe, the
pipeline or the command line above them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "alchemist"
# a stage is a package of its own with a stage.py (the Stage Protocol's object)
STAGES = sorted(p.parent.name for p in PACKAGE.glob("*/stage.py"))
ABOVE = {"recipe", "pipeline", "cli", "slurm"}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) of every import of ours in a file, at any depth, relative ones resolved;
    `from alchemist import x` names alchemist.x."""
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module
            if base == "alchemist":
                found += [(node.lineno, f"alchemist.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, base))
    return sorted((line, name) for line, name in found if name == "alchemist" or name.startswith("alchemist."))


def room(module: str) -> str:
    """The first name below alchemist: a stage package, a service, or a module of the ground."""
    return module.split(".")[1] if module.count(".") else ""


def modules(where=None):
    for path in sorted(PACKAGE.rglob("*.py")):
        if where is None or where(room(module_name(path))):
            yield path


def test_the_eight_stages_are_found():
    assert {"ingest", "curate", "relabel", "mix", "train", "evaluate", "leaderboard", "report"} <= set(STAGES)
    assert not ABOVE & set(STAGES)


def test_no_stage_imports_another_stage():
    crossings = []
    for path in modules(lambda r: r in STAGES):
        own = room(module_name(path))
        crossings += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
                      for line, name in imported(path) if room(name) in STAGES and room(name) != own]
    assert not crossings, "a stage reads another stage's files, never its code:\n" + "\n".join(crossings)


def test_stages_do_not_import_what_stands_above_them():
    upward = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
              for path in modules(lambda r: r in STAGES) for line, name in imported(path) if room(name) in ABOVE]
    assert not upward, "\n".join(upward)


def test_nothing_below_the_stages_imports_a_stage_or_what_composes_them():
    below = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
             for path in modules(lambda r: r not in STAGES and r not in ABOVE)
             for line, name in imported(path) if room(name) in STAGES or room(name) in ABOVE]
    assert not below, "services and the ground stand below the stages:\n" + "\n".join(below)


def test_the_reader_sees_function_level_and_relative_imports(tmp_path):
    """The check itself: an import inside a function, and a relative one, are both found."""
    example = tmp_path / "alchemist" / "mix" / "example.py"
    example.parent.mkdir(parents=True)
    example.write_text("def f():\n    from alchemist.relabel import stage\n\nfrom ..curate import spec\nfrom alchemist import report\n")
    found = imported(example, tmp_path / "alchemist")
    assert found == [(2, "alchemist.relabel"), (4, "alchemist.curate"), (5, "alchemist.report")]
    assert [room(name) for _, name in found] == ["relabel", "curate", "report"]


GROUND = {"code", "errors", "paths", "schema", "specs", "tiny_model"}
CONTRACT = "stage"  # alchemist/stage.py: the Protocol the pipeline runs the stages through


def is_room(name: str) -> bool:
    """A module or package of ours (not `alchemist/__init__.py`, nor a name it defines, such as __version__)."""
    return bool(name) and ((PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir())


def floors() -> dict[str, int]:
    """Each room's floor: one above the highest room it imports (the ground is floor 1)."""
    edges: dict[str, set[str]] = {}
    for path in modules(is_room):
        own = room(module_name(path))
        edges.setdefault(own, set()).update(r for _, name in imported(path) if is_room(r := room(name)) and r != own)
    out: dict[str, int] = {}

    def floor(r: str, seen: tuple = ()) -> int:
        assert r not in seen, f"a circle: {' -> '.join((*seen, r))}"
        if r not in out:
            out[r] = 1 + max((floor(d, (*seen, r)) for d in edges.get(r, ())), default=0)
        return out[r]

    for r in edges:
        floor(r)
    return out


def test_the_services_stand_on_the_ground_alone():
    """What the stages share (llm, testsets, execution, sources, rundir, rules, training) imports
    only the ground, so the house stays six floors tall: ground, services, stages, recipe,
    pipeline and slurm, cli."""
    at = floors()
    assert {r for r, f in at.items() if f == 1} == GROUND
    services = {r for r in at if r not in GROUND | set(STAGES) | ABOVE | {CONTRACT, ""}}
    assert {"llm", "testsets", "execution", "sources", "rundir", "rules", "training"} <= services
    assert {r: f for r, f in at.items() if r in services and f != 2} == {}
    assert {r: f for r, f in at.items() if r in STAGES and f != 3} == {}
    assert max(at.values()) == 6 and at["cli"] == 6


def test_every_function_level_import_of_ours_says_why_it_is_there():
    """An import inside a function hides a dependency from readers and tools; one of our own modules
    is there only to put off a real import cost (torch, datatrove), and a comment on its line or the
    line above says so."""
    silent = []
    for path in modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                ours = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("alchemist"))
                ours = ours or isinstance(node, ast.Import) and any(a.name.startswith("alchemist") for a in node.names)
                if ours and "#" not in lines[node.lineno - 1] and not lines[node.lineno - 2].strip().startswith("#"):
                    silent.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not silent, "say why each of these is imported late, or import it at the top:\n" + "\n".join(sorted(set(silent)))
