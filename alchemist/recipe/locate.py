"""Where a recipe's paths point. Relative paths are read from the working directory, else from the
recipe's folder; at load time every path is made absolute, so the resolved recipe
(`runs/NAME/recipe.resolved.yaml`) runs from any working directory and on every rank a launcher
starts. Which keys hold paths is declared beside them in the stage specs (`local_path`); the walk
below finds them in the recipe's schema."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from alchemist.paths import exists, resolve_path
from alchemist.recipe.schema import Recipe
from alchemist.specs import path_mark

BUILTIN_PREFIX = "builtin:"


def absolute(text: Any, recipe_path: Path | None, must_exist: bool = False) -> Any:
    """`text` as an absolute path string (globs kept as patterns); non-strings untouched. With
    `must_exist`, a value that is found nowhere is left as given (a hub id such as org/name)."""
    if not isinstance(text, str) or not text.strip() or text.startswith(BUILTIN_PREFIX):
        return text
    p = resolve_path(text, recipe_path)
    if must_exist and not exists(p):
        return text
    return os.path.abspath(p)


@dataclass(frozen=True)
class PathField:
    """A key of the recipe declared `local_path`. `loc` runs from the recipe's top; `[]` stands for
    every item of a list on the way."""

    loc: tuple[str, ...]
    must_exist: bool
    keep: tuple[str, ...]
    mapping: bool  # a {name: path} mapping: its values are the paths

    def __str__(self) -> str:
        return ".".join(self.loc).replace(".[]", "[]") + ("{}" if self.mapping else "")


def marked_fields(model: type[BaseModel], loc: tuple[str, ...] = (), seen: frozenset = frozenset()):
    """(loc, model, name, mark) of every `local_path` field reachable from `model`: through
    sections, optional sections, lists and unions of them (the LLM backends, `str | BenchmarkRef`)."""
    for name, field in model.model_fields.items():
        key = (*loc, field.alias or name)  # the raw recipe spells the alias
        mark = path_mark(model, name)
        if mark is not None:
            yield key, model, name, mark
            continue
        for steps, section in _sections(field.annotation):
            if section not in seen:
                yield from marked_fields(section, key + steps, seen | {section})


def _sections(annotation) -> list[tuple[tuple[str, ...], type[BaseModel]]]:
    """The models a value of `annotation` may be, each with the steps from the value to it."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _sections(args[0])
    if origin in (Union, UnionType):
        return [s for a in args for s in _sections(a)]
    if origin is list and args:
        return [(("[]", *steps), m) for steps, m in _sections(args[0])]
    if origin is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [((), annotation)]
    # a section inside a mapping or a tuple would need its own step: refuse it here rather than
    # leave its paths relative (tests/test_recipe_paths.py checks every mark is reached)
    return []


@cache
def path_fields(model: type[BaseModel] = Recipe) -> tuple[PathField, ...]:
    """Every path-valued key of the recipe, once each (the members of a union share theirs)."""
    found: dict[tuple[str, ...], PathField] = {}
    for loc, owner, name, mark in marked_fields(model):
        annotation = owner.model_fields[name].annotation
        mapping = get_origin(annotation) is dict or any(get_origin(a) is dict for a in get_args(annotation))
        new = PathField(loc, bool(mark["must_exist"]), tuple(mark["keep"]), mapping)
        if found.setdefault(loc, new) != new:
            raise TypeError(f"{new}: the members of a union declare it as a path differently ({owner.__name__}.{name})")
    return tuple(found.values())


def absolutize(raw: dict, recipe_path: Path | None) -> dict[str, str]:
    """Every path-valued key of a raw recipe made absolute, in place, before validation. Returns
    {absolute: as written}, so messages can quote the path the user wrote."""
    given: dict[str, str] = {}

    def one(value: Any, field: PathField) -> Any:
        if value in field.keep:
            return value
        new = absolute(value, recipe_path, field.must_exist)
        if isinstance(value, str) and new != value:
            given[new] = value
        return new

    def resolve(node: dict, key: str, field: PathField) -> None:
        value = node[key]
        if field.mapping:
            if isinstance(value, dict):
                node[key] = {k: one(v, field) for k, v in value.items()}
        else:
            node[key] = [one(v, field) for v in value] if isinstance(value, list) else one(value, field)

    def visit(node: Any, loc: tuple[str, ...], field: PathField) -> None:
        step, rest = loc[0], loc[1:]
        if step == "[]":
            for item in node if isinstance(node, list) else []:
                visit(item, rest, field)
        elif isinstance(node, dict) and step in node:
            if rest:
                visit(node[step], rest, field)
            else:
                resolve(node, step, field)

    # the run directory is read from the working directory alone (runs/NAME by default), not
    # looked for beside the recipe: it is written, not found
    if raw.get("output_dir") is None and isinstance(raw.get("name"), str):
        raw["output_dir"] = f"runs/{raw['name']}"
    if isinstance(raw.get("output_dir"), str) and raw["output_dir"].strip():
        raw["output_dir"] = os.path.abspath(os.path.expanduser(raw["output_dir"]))
    for field in path_fields():
        visit(raw, field.loc, field)
    return given


def catalog_dirs(recipe_path: Path | None) -> list[Path]:
    """Where `use: NAME` entries are looked up, first match wins."""
    dirs = []
    if recipe_path is not None:
        dirs += [recipe_path.parent / "data_sources", recipe_path.parent.parent / "data_sources"]
    dirs += [Path.cwd() / "data_sources", Path(__file__).resolve().parents[2] / "data_sources"]
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
