"""The recipe reference (every key, its type, default and meaning) generated from the schema, so
the README cannot drift from the code. A test fails when the README's copy is stale:

    python -m alchemist.recipe.reference --write README.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from alchemist.recipe.schema import Recipe
from alchemist.specs import is_volatile

START, END = "<!-- recipe-reference:start -->", "<!-- recipe-reference:end -->"


def _models(annotation) -> list[type[BaseModel]]:
    out, todo = [], [annotation]
    while todo:
        a = todo.pop(0)
        if isinstance(a, type) and issubclass(a, BaseModel):
            out.append(a)
            continue
        todo += [x for x in typing.get_args(a) if not isinstance(x, (str, int, float)) or isinstance(x, type)]
    return list(dict.fromkeys(out))


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(dict.fromkeys(_type_name(a) for a in typing.get_args(annotation)))
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin is dict:
        args = typing.get_args(annotation)
        return f"map[{_type_name(args[0])}, {_type_name(args[1])}]" if args else "map"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return ""
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:
        return "**required**"
    if isinstance(field.default, BaseModel):
        return "(section)"
    return f"`{json.dumps(field.default, default=str)}`"


def rows(model: type[BaseModel], prefix: str = "", seen: frozenset = frozenset()) -> list[list[str]]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
        if is_volatile(model, name):
            desc += " *(does not rerun a finished stage)*"
        out.append([f"`{key}`", _type_name(field.annotation), _default(field), desc])
        for sub in _models(field.annotation):
            if sub in seen:
                continue
            sub_prefix = f"{key}[]." if typing.get_origin(field.annotation) is list or "list[" in _type_name(field.annotation) else f"{key}."
            backend = sub.model_fields.get("backend")
            if backend is not None and len(_models(field.annotation)) > 1:
                out.append([f"`{key}` ({backend.default})", "", "", f"keys when `backend: {backend.default}`"])
            out += rows(sub, sub_prefix, seen | {sub})
    return out


def reference() -> str:
    lines = [START, "", "| key | type | default | meaning |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(Recipe)]
    lines += ["", "Generated from the schema by `python -m alchemist.recipe.reference --write README.md`.", "", END]
    return "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"no {START} ... {END} section to replace")
    return pattern.sub(lambda _m: section, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="FILE", help="replace the reference section of FILE (e.g. README.md)")
    args = parser.parse_args(argv)
    section = reference()
    if args.write:
        path = Path(args.write)
        path.write_text(replace_section(path.read_text(encoding="utf-8"), section), encoding="utf-8")
    else:
        sys.stdout.write(section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
