"""The recipe's path-valued keys are declared where their fields are (`local_path` in the stage
specs) and found by walking the schema: a new path field is made absolute at load time, or this
file says why not."""

from __future__ import annotations

import copy
import importlib
import os
import re
from pathlib import Path

from pydantic import BaseModel

from alchemist.recipe.locate import _sections, absolutize, marked_fields, path_fields
from alchemist.recipe.schema import Recipe
from alchemist.specs import path_mark

PACKAGE = Path(__file__).resolve().parents[1] / "alchemist"

# key -> (must_exist, words kept as written). `[]`: each item of a list; `{}`: each value of a
# mapping. The keys recipe/locate.py listed by hand before the marks, plus the decontamination
# judge's model, which shares the LLM spec's `model` with relabel.llm and eval.llm.
EXPECTED = {
    "sources[].path": (False, ()),
    "curate.decontaminate.benchmarks[].path": (False, ()),
    "curate.decontaminate.judge.llm.model": (True, ("train",)),
    "relabel.llm.model": (True, ("train",)),
    "relabel.cache": (False, ()),
    "train.model": (True, ()),
    "eval.llm.model": (True, ("train",)),
    "eval.data{}": (False, ()),
    "leaderboard.results": (False, ()),
    "curate.decontaminate.embedding.model": (True, ()),
    "train.launch.hostfile": (False, ()),
    "rl.model": (True, ("train",)),
    "rl.data": (False, ()),
}

# Keys whose description reads like a path but that are not declared `local_path`, and why.
UNMARKED = {
    "output_dir": "written, not found: made absolute from the working directory alone by absolutize itself",
    "sources[].name": "a name (it names data/ingested/NAME.parquet)",
    "curate.decontaminate.benchmarks": "names; the path of a {name, path} entry is declared",
    "curate.executor.address": "a Ray cluster address",
}
PATHLIKE = re.compile(r"\b(path|paths|file|files|folder|directory|local|parquet|hostfile)\b", re.I)


def test_the_path_keys_are_the_declared_ones():
    assert {str(f): (f.must_exist, f.keep) for f in path_fields()} == EXPECTED


def _spec_classes() -> list[type[BaseModel]]:
    names = [f"alchemist.{p.parent.name}.spec" for p in sorted(PACKAGE.glob("*/spec.py"))] + ["alchemist.specs.llm"]
    out = []
    for name in names:
        module = importlib.import_module(name)
        out += [v for v in vars(module).values()
                if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == name]
    return out


def test_every_declared_path_is_reached_from_the_recipe():
    """A `local_path` field in a place the walk does not follow (a section inside a mapping, a
    section no recipe key holds) would stay relative: every declaration must be reached."""
    reached = {(owner, name) for _, owner, name, _ in marked_fields(Recipe)}
    declared = [(cls, name) for cls in _spec_classes() for name in cls.model_fields if path_mark(cls, name) is not None]
    assert len(declared) >= len(EXPECTED) - 2  # the LLM backends share one declaration
    missed = [f"{cls.__name__}.{name}" for cls, name in declared
              if not any(issubclass(owner, cls) and n == name for owner, n in reached)]
    assert not missed, f"declared local_path but not reached from the recipe: {missed}"


def _pathlike_unmarked(model: type[BaseModel], loc: str = "", seen: frozenset = frozenset()):
    for name, field in model.model_fields.items():
        key = f"{loc}{field.alias or name}"
        holds_str = "str" in str(field.annotation)
        if holds_str and path_mark(model, name) is None and PATHLIKE.search(field.description or ""):
            yield key
        for steps, section in _sections(field.annotation):
            if section not in seen:
                yield from _pathlike_unmarked(section, f"{key}{''.join(steps)}.", seen | {section})


def test_a_key_that_reads_like_a_path_is_declared_or_listed():
    assert sorted(set(_pathlike_unmarked(Recipe))) == sorted(UNMARKED), (
        "declare the field with local_path (alchemist/specs) so the recipe makes it absolute, or list it in UNMARKED with why")


def _put(node: dict, loc: tuple[str, ...], value) -> None:
    """Build the raw recipe's nodes along `loc` (one item per list) and set its last key."""
    for step, after in zip(loc, loc[1:]):
        if step == "[]":
            continue
        if after == "[]":
            node = node.setdefault(step, [{}])[0]
        else:
            node = node.setdefault(step, {})
    node[loc[-1]] = value


def _get(node, loc: tuple[str, ...]):
    for step in loc:
        node = node[0] if step == "[]" else node[step]
    return node


def test_every_path_key_is_made_absolute_from_the_recipe_folder(tmp_path, monkeypatch):
    """Each declared key, given a path that exists only beside the recipe, comes back absolute, and
    the map quotes it as written."""
    folder, elsewhere = tmp_path / "recipes", tmp_path / "cwd"
    folder.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    raw: dict = {"name": "t"}
    written = {}
    for i, field in enumerate(path_fields()):
        rel = f"p{i}"
        (folder / rel).mkdir()  # exists: resolved even where must_exist
        written[field.loc] = rel
        _put(raw, field.loc, {"a": rel} if field.mapping else rel)
    given = absolutize(raw, folder / "r.yaml")
    for field in path_fields():
        value = _get(raw, field.loc)
        got = value["a"] if field.mapping else value
        assert got == str(folder / written[field.loc]), field
        assert given[got] == written[field.loc]
    assert raw["output_dir"] == os.path.join(str(elsewhere), "runs", "t")
    again = copy.deepcopy(raw)
    assert absolutize(again, folder / "r.yaml") == {} and again == raw  # a resolved recipe stays as it is


def test_words_and_hub_ids_stay_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").mkdir()  # a folder named like the `train` model must not capture it
    raw = {"name": "t", "eval": {"llm": {"model": "train"}, "data": {"humaneval": "he.jsonl"}},
           "train": {"model": "org/name"}, "relabel": {"llm": {"model": "builtin:tiny-random"}},
           "leaderboard": {"results": ["a", "b"]}}
    given = absolutize(raw, None)
    assert raw["eval"]["llm"]["model"] == "train" and raw["train"]["model"] == "org/name"
    assert raw["relabel"]["llm"]["model"] == "builtin:tiny-random"
    # without must_exist a path is made absolute whether or not it exists yet
    assert raw["eval"]["data"]["humaneval"] == str(tmp_path / "he.jsonl")
    assert raw["leaderboard"]["results"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert given == {str(tmp_path / "he.jsonl"): "he.jsonl", str(tmp_path / "a"): "a", str(tmp_path / "b"): "b"}
