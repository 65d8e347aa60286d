"""Where a recipe's paths point. Relative paths are read from the working directory, else from the
recipe's folder; at load time every path is made absolute, so the resolved recipe
(`runs/NAME/recipe.resolved.yaml`) runs from any working directory and on every rank a launcher
starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alchemist.paths import exists, resolve_path

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


def absolutize(raw: dict, recipe_path: Path | None) -> dict[str, str]:
    """Every path-valued key of a raw recipe made absolute, in place, before validation. Returns
    {absolute: as written}, so messages can quote the path the user wrote."""
    given: dict[str, str] = {}

    def one(value: Any, must_exist: bool) -> Any:
        new = absolute(value, recipe_path, must_exist)
        if isinstance(value, str) and new != value:
            given[new] = value
        return new

    def each(node: Any, key: str, must_exist: bool = False) -> None:
        if isinstance(node, dict) and key in node:
            value = node[key]
            node[key] = [one(v, must_exist) for v in value] if isinstance(value, list) else one(value, must_exist)

    if raw.get("output_dir") is None and isinstance(raw.get("name"), str):
        raw["output_dir"] = f"runs/{raw['name']}"
    if isinstance(raw.get("output_dir"), str) and raw["output_dir"].strip():
        raw["output_dir"] = os.path.abspath(os.path.expanduser(raw["output_dir"]))  # from the working directory
    for src in raw.get("sources") or []:
        each(src, "path")
    curate = raw.get("curate")
    if isinstance(curate, dict) and isinstance(curate.get("decontaminate"), dict):
        for ref in curate["decontaminate"].get("benchmarks") or []:
            each(ref, "path")
    relabel = raw.get("relabel")
    if isinstance(relabel, dict):
        each(relabel, "cache")
        each(relabel.get("llm"), "model", must_exist=True)
    train = raw.get("train")
    if isinstance(train, dict):
        for key in ("model", "tokenizer"):
            each(train, key, must_exist=True)
    ev = raw.get("eval")
    if isinstance(ev, dict):
        if isinstance(ev.get("data"), dict):
            ev["data"] = {k: one(v, False) for k, v in ev["data"].items()}
        llm = ev.get("llm")
        if isinstance(llm, dict) and llm.get("model") != "train":
            each(llm, "model", must_exist=True)
    board = raw.get("leaderboard")
    if isinstance(board, dict):
        each(board, "results")
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
