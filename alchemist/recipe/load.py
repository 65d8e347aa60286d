"""Reading a recipe: YAML, `use:` entries of data_sources/, `--set` overrides, absolute paths,
then validation. Every problem is reported at once, each with the file line and the key, e.g.
`recipes/tiny.yaml:14: sources[0].adpter: unknown key; did you mean 'adapter'?`.
"""

from __future__ import annotations

import codecs
import copy
import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from alchemist.errors import RecipeError
from alchemist.recipe.locate import absolutize, catalog_dirs, resolve_path
from alchemist.recipe.schema import Recipe
from alchemist.sources import ADAPTERS, expand_paths
from alchemist.sources.readers import RECORD_SUFFIXES, no_match_reason
from alchemist.specs.llm import BACKEND_TAGS
from alchemist.testsets import KNOWN_BENCHMARKS

# Keys of a data_sources/ entry that describe the corpus and are not source settings.
CATALOG_ONLY_KEYS = ("description", "license", "homepage", "records")
LLM_KEYS = ("model", "backend", "base_url", "api_key_env", "batch_size", "temperature", "max_tokens", "concurrency")


# -- --set overrides ------------------------------------------------------------------------------

def _parse_value(value: str) -> Any:
    """YAML when it parses (numbers, booleans, lists); else the raw text (`*.jsonl` is a glob, not a YAML alias)."""
    if not value.strip():
        return ""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if parsed is None and value.strip() not in ("null", "Null", "NULL", "~"):
        return value  # `&x`, `!tag` or a lone comment: YAML syntax that leaves no value, not a null
    return parsed


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. --set curate.filters.min_response_chars=16")
    key, value = text.split("=", 1)
    if not key.strip():
        raise RecipeError(f"--set {text!r}: the key is empty; e.g. --set train.lr=2e-5")
    keys = key.strip().split(".")
    if any(not k.strip() for k in keys):
        raise RecipeError(f"--set {text!r}: the key '{key.strip()}' has an empty part (two dots, or a dot at an end); "
                          "e.g. --set curate.filters.min_response_chars=16")
    return keys, _parse_value(value)


def override_keys(overrides: list[str]) -> dict[tuple, str]:
    """{key path: the flag as typed} of the --set flags, so that errors blame the flag."""
    out = {}
    for text in overrides:
        keys, _ = _parse_override(text)
        out[tuple(int(k) if k.isdigit() else k for k in keys)] = text
    return out


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`--set a.b.c=value` (value parsed as YAML); list items by index: `sources.0.weight=2`."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        keys, value = _parse_override(text)
        node: Any = raw
        for i, key in enumerate(keys[:-1]):
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise RecipeError(f"--set {text}: '{'.'.join(keys[:i + 1])}' is not an index of that list")
                node = node[int(key)]
            else:
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
                if not isinstance(node, (dict, list)):
                    raise RecipeError(f"--set {text}: '{'.'.join(keys[:i + 1])}' is a value, not a section")
        last = keys[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise RecipeError(f"--set {text}: '{last}' is not an index of that list")
            node[int(last)] = value
        else:
            node[last] = value
    return raw


# -- line numbers and messages --------------------------------------------------------------------

def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _key_line(node: yaml.Node | None, loc: tuple) -> int | None:
    """Line of the key itself for unknown-key errors (the value may sit on another line)."""
    if not loc:
        return _line_of(node, loc)
    parent = node
    for key in loc[:-1]:
        if isinstance(parent, yaml.MappingNode):
            parent = next((v for k, v in parent.value if k.value == key), None)
        elif isinstance(parent, yaml.SequenceNode) and isinstance(key, int) and key < len(parent.value):
            parent = parent.value[key]
        else:
            return _line_of(node, loc)
    if isinstance(parent, yaml.MappingNode):
        for k, _ in parent.value:
            if k.value == loc[-1]:
                return k.start_mark.line + 1
    return _line_of(node, loc)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found, todo = [], [annotation]
    while todo:
        a = todo.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        todo += list(getattr(a, "__args__", ()) or ())
        todo += list(getattr(a, "__metadata__", ()) or ())[:0]
        origin = getattr(a, "__origin__", None)
        if origin is not None and origin is not a:
            todo.append(origin)
    return found


def _model_at(loc: tuple, backend: str | None = None) -> type[BaseModel] | None:
    model: Any = Recipe
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        candidates = _models_in(model.model_fields[part].annotation)
        if backend and len(candidates) > 1:
            candidates = [c for c in candidates if "backend" in c.model_fields
                          and c.model_fields["backend"].default == backend] or candidates
        model = candidates[0] if candidates else None
    return model


def _clean_loc(loc: tuple) -> tuple[tuple, str | None]:
    """Drop pydantic's union/type markers from an error location; keep the LLM backend tag."""
    out, backend = [], None
    for part in loc:
        if isinstance(part, str) and (part[:1].isupper() or "[" in part or part in ("str", "bool", "int", "float", "list[str]")):
            continue
        if isinstance(part, str) and part in BACKEND_TAGS and out and out[-1] == "llm":
            backend = part
            continue
        out.append(part)
    return tuple(out), backend


# Scalars YAML reads as something else than the text a user meant (an unquoted date, 007, yes)
_NOT_TEXT = {"date": "a date", "datetime": "a date and time", "int": "a number", "float": "a number",
             "bool": "a boolean (true/false)"}


def _node_at(node: yaml.Node | None, loc: tuple) -> yaml.Node | None:
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return node


def _as_written(yaml_root, loc: tuple) -> str:
    node = _node_at(yaml_root, loc)
    return node.value if isinstance(node, yaml.ScalarNode) else "the value"


def _not_text_hint(err: dict, yaml_root, loc: tuple, flag: str | None) -> str | None:
    """For a string key given an unquoted date or number: say how YAML read it and to quote it."""
    if err["type"] != "string_type":
        return None
    kind = _NOT_TEXT.get(type(err.get("input")).__name__)
    if kind is None:
        return None
    if flag is not None:
        key, value = flag.split("=", 1)
        return f"YAML reads {value} as {kind}, not text; quote it: --set '{key}=\"{value}\"'"
    node = _node_at(yaml_root, loc)
    value = node.value if isinstance(node, yaml.ScalarNode) else str(err["input"])
    as_written = f"- \"{value}\"" if isinstance(loc[-1], int) else f"{loc[-1]}: \"{value}\""
    return f"YAML reads {value} as {kind}, not text; quote it: {as_written}"


def _flag_for(loc: tuple, flags: dict[tuple, str], yaml_root) -> str | None:
    """The --set flag that set this key (or a section holding it, or that made up a section
    the recipe does not have)."""
    for keys, text in flags.items():
        if loc[: len(keys)] == keys or (loc and keys[: len(loc)] == loc and _node_at(yaml_root, loc) is None):
            return text
    return None


# A model validator's message that starts with a dotted key (e.g. "eval.llm is required") is
# about that key: cite its line, not the section's first line or "(top level)".
_LEADING_KEY = re.compile(r"^`?([a-z_]+(?:\.[a-z_]+)+)`?\b")


def _err_loc(err: dict) -> tuple[tuple, str | None]:
    """An error's key path; the last part of an unknown key is the user's key as written (even
    `Name`, which would pass for one of pydantic's type markers)."""
    raw = tuple(err["loc"])
    if err["type"] in ("extra_forbidden", "invalid_key") and raw:
        loc, backend = _clean_loc(raw[:-1])
        return loc + (raw[-1],), backend
    return _clean_loc(raw)


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (an empty entry)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the text {value[:60]!r}"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]


def _section_hint(loc: tuple, value: Any) -> str:
    """For a section (or a source entry) given a value instead of keys."""
    if len(loc) == 2 and loc[0] == "sources":
        return ("each entry of sources is a mapping of keys, e.g. - {name: a, adapter: alpaca, path: FILE} "
                f"or - use: NAME; got {_kind_of(value)}")
    return f"is a section of keys, e.g. {loc[-1]}: {{...}}; got {_kind_of(value)}"


def _invalid_key(yaml_root, loc: tuple, origin: str) -> str:
    """A key YAML reads as a number, null or boolean: keys are text."""
    parent = _node_at(yaml_root, loc[:-1])
    for k, _ in parent.value if isinstance(parent, yaml.MappingNode) else ():
        if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:str":
            where = _dotted(loc[:-1] + (k.value or "~",))
            return (f"{origin}:{k.start_mark.line + 1}: {where}: YAML reads this key as {k.tag.rsplit(':', 1)[-1]}, "
                    "and keys are text: quote it if it is meant, else remove it")
    return f"{origin}: {_dotted(loc[:-1]) or '(top level)'}: a key that is not text; keys are text"


def _describe(err: dict, yaml_root, origin: str, flags: dict[tuple, str] | None = None) -> str:
    loc, backend = _err_loc(err)
    if err["type"] == "invalid_key":
        return _invalid_key(yaml_root, loc, origin)
    msg = err["msg"].removeprefix("Value error, ")
    lead = _LEADING_KEY.match(msg)
    if lead and err["type"] == "value_error":
        named = tuple(lead.group(1).split("."))
        if named[:len(loc)] == loc:  # the key lies inside the section that raised
            loc, msg = named, msg[lead.end():].lstrip()
    where = _dotted(loc) or "(top level)"
    flag = _flag_for(loc, flags or {}, yaml_root)
    if err["type"] == "extra_forbidden":
        line = _key_line(yaml_root, loc)
        parent = _model_at(loc[:-1], backend)
        allowed = sorted(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        scope = f" for backend {backend}" if backend else ""
        msg = f"unknown key{scope}{hint}"
        if loc[:1] == ("eval",) and len(loc) == 2 and loc[1] in LLM_KEYS:
            msg = f"unknown key; the model and its sampling go under eval.llm, e.g. llm: {{backend: hf, model: PATH, {loc[1]}: ...}}"
    elif err["type"] == "literal_error" and err["loc"][-1] == "[key]":
        line = _key_line(yaml_root, loc)
        allowed = list((err.get("ctx") or {}).get("expected", "").replace("'", "").split(" or "))
        allowed = [a.strip() for part in allowed for a in part.split(",") if a.strip()]
        guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = f"unknown key; did you mean '{guess[0]}'?" if guess else f"unknown key; allowed keys: {', '.join(allowed)}"
    else:
        line = _line_of(yaml_root, loc)
        if loc and _node_at(yaml_root, loc) is None:  # a missing key: the line of its section's key
            have = next(loc[:n] for n in range(len(loc) - 1, -1, -1) if _node_at(yaml_root, loc[:n]) is not None)
            line = _key_line(yaml_root, have) if have else None  # a top-level key that is nowhere: no line
        msg = _not_text_hint(err, yaml_root, loc, flag) or msg
        if err["type"] == "list_type" and isinstance(err.get("input"), dict):
            msg += "; give a list: start each entry with '- '"
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "model_type":
            msg = _section_hint(loc, err.get("input"))
        elif err["type"] == "finite_number":
            msg = f"{err.get('input')!r} is not a number alchemist can use; give a finite number"
        elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
            msg = _number_hint(err["input"]) or msg
    if flag is not None:
        return f"--set {flag}: {where}: {msg}"
    return f"{origin}:{line}: {where}: {msg}" if line else f"{origin}: {where}: {msg}"


def _number_hint(text: str) -> str | None:
    """A number written the way a spreadsheet or a report writes it."""
    t = text.strip()
    if re.fullmatch(r"-?\d+,\d+", t):
        return f"'{t}' is not a number: decimals take a dot, e.g. {t.replace(',', '.')}"
    if re.fullmatch(r"-?\d+(\.\d+)?\s*%", t):
        return f"'{t}' is not a number: give a fraction, e.g. {float(t.rstrip('% ')) / 100:g}"
    if re.fullmatch(r"-?\d{1,3}(_\d{3})+", t) or re.fullmatch(r"-?\d{1,3}( \d{3})+", t):
        return f"'{t}' is not a number: write it without separators, e.g. {re.sub(r'[_ ]', '', t)}"
    return None


def _deepest(errors: list[dict]) -> list[dict]:

    """One error per key, the one that matters. Drop an error at a key when another lies deeper
    under it (`bool | section` given a mapping: the section's error, not "should be a
    boolean"); of a union's errors at one key, keep the text one when YAML read text as a
    number or date (it says to quote it), else the first."""
    locs = [_err_loc(e)[0] for e in errors]
    deep = [(e, loc) for e, loc in zip(errors, locs)
            if not any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)]
    best: dict[tuple, dict] = {}
    for e, loc in deep:
        quoted = e["type"] == "string_type" and type(e.get("input")).__name__ in _NOT_TEXT
        if loc not in best or quoted:
            best[loc] = e
    return list(best.values())


def _misspelled_required(errors: list[dict]) -> list[dict]:
    """Drop "required key is missing" for a key that an unknown key beside it misspells (`Name:`
    for `name:`): the unknown key's line says "did you mean 'name'?", one line for one mistake."""
    unknown: dict[tuple, list[str]] = {}
    for e in errors:
        if e["type"] == "extra_forbidden":
            loc = _err_loc(e)[0]
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
    out = []
    for e in errors:
        loc = _err_loc(e)[0]
        if e["type"] == "missing" and loc and any(
                difflib.get_close_matches(u, [str(loc[-1])], n=1) for u in unknown.get(loc[:-1], [])):
            continue
        out.append(e)
    return out


def _bools_as_numbers(raw: Any, value: Any, loc: tuple = ()) -> list[tuple]:
    """Keys whose number came from a YAML boolean (`seed: true` validates as 1): where they are."""
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        return [x for name in type(value).model_fields if name in raw
                for x in _bools_as_numbers(raw[name], getattr(value, name), loc + (name,))]
    if isinstance(value, (list, tuple)) and isinstance(raw, list) and len(raw) == len(value):
        return [x for i, (r, v) in enumerate(zip(raw, value)) for x in _bools_as_numbers(r, v, loc + (i,))]
    if isinstance(value, dict) and isinstance(raw, dict):
        return [x for k, v in value.items() if k in raw for x in _bools_as_numbers(raw[k], v, loc + (k,))]
    if isinstance(raw, bool) and type(value) in (int, float):
        return [loc]
    return []


def _duplicate_keys(node: yaml.Node | None, origin: str, path: tuple = (), seen: set | None = None,
                    above: frozenset = frozenset()) -> list[str]:
    """Keys given twice in one mapping: YAML keeps the last silently; name both lines. An alias
    inside its own anchor (a loop) is named too. Each node is walked once (aliases share nodes)."""
    seen = set() if seen is None else seen
    if id(node) in above:
        line = node.start_mark.line + 1
        return [f"{origin}:{line}: {_dotted(path) or '(top level)'}: an alias inside its own anchor (a loop); "
                "YAML gives it no value: remove the alias"]
    if id(node) in seen:
        return []
    seen.add(id(node))
    above = above | {id(node)}
    out = []
    if isinstance(node, yaml.MappingNode):
        first: dict = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                if k.value in first:
                    where = _dotted(path + (k.value,))
                    out.append(f"{origin}:{k.start_mark.line + 1}: {where}: given twice (lines {first[k.value]} and "
                               f"{k.start_mark.line + 1}); keep one")
                else:
                    first[k.value] = k.start_mark.line + 1
            out += _duplicate_keys(v, origin, path + (k.value if isinstance(k, yaml.ScalarNode) else "?",), seen, above)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += _duplicate_keys(v, origin, path + (i,), seen, above)
    return out


# -- use: entries of data_sources/ ----------------------------------------------------------------

def load_catalog_entry(name: str, recipe_path: Path | None) -> dict:
    for d in catalog_dirs(recipe_path):
        f = d / f"{name}.yaml"
        if f.is_file():
            try:
                entry = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise KeyError(f"the data_sources entry {f} is not valid YAML ({str(e).splitlines()[0]}); fix or remove it") from None
            if not isinstance(entry, dict):
                raise KeyError(f"the data_sources entry {f} is not a mapping of source keys (adapter, hf or path, ...)")
            return {k: v for k, v in entry.items() if k not in CATALOG_ONLY_KEYS}
    known = sorted({p.stem for d in catalog_dirs(recipe_path) if d.is_dir() for p in d.glob("*.yaml")})
    guess = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else ""
    raise KeyError(f"no data_sources entry named '{name}'{hint} (known: {', '.join(known) or 'none'}; "
                   "or give the source's name, adapter and path yourself)")


def _expand_uses(raw: dict, recipe_path: Path | None, errors: list[str], yaml_root, origin: str) -> set[int]:
    """Replace `use: NAME` entries by their data_sources/ entry; the indices that failed."""
    failed: set[int] = set()
    sources = raw.get("sources")
    if not isinstance(sources, list):
        return failed
    for i, src in enumerate(sources):
        if (isinstance(src, dict) and "use" in src and (src["use"] is None or not str(src["use"]).strip())
                and not src.get("adapter")):  # (a resolved recipe holds `use: null` beside its adapter)

            errors.append(f"{origin}:{_line_of(yaml_root, ('sources', i, 'use'))}: sources[{i}].use: is empty; give the name "
                          "of a data_sources entry (alchemist sources lists them), or the source's name, adapter and path")
            failed.add(i)
            continue
        if not (isinstance(src, dict) and src.get("use")):
            continue
        if src.get("adapter") and (src.get("path") or src.get("hf")):
            continue  # already expanded (a resolved recipe): self-contained
        try:
            entry = load_catalog_entry(str(src["use"]), recipe_path)
        except KeyError as e:
            errors.append(f"{origin}:{_line_of(yaml_root, ('sources', i, 'use'))}: sources[{i}].use: {e.args[0]}")
            failed.add(i)
            continue
        if "path" in src:  # a local copy of the corpus replaces its hub location
            entry = {k: v for k, v in entry.items() if k not in ("hf", "config", "split", "revision")}
        merged = {**entry, **src}
        merged.setdefault("name", src["use"])
        sources[i] = merged
    return failed


# -- checks that need the validated recipe --------------------------------------------------------

def _located(loc: tuple, msg: str, yaml_root, origin: str, flags: dict[tuple, str] | None) -> str:
    """One error line: the --set flag that gave the key, else file:line, then the key."""
    flag = _flag_for(loc, flags or {}, yaml_root)
    if flag is not None:
        return f"--set {flag}: {_dotted(loc)}: {msg}"
    line = _line_of(yaml_root, loc)
    return f"{origin}:{line}: {_dotted(loc)}: {msg}" if line else f"{origin}: {_dotted(loc)}: {msg}"


def _semantic_errors(recipe: Recipe, recipe_path: Path | None, yaml_root, origin: str, given: dict[str, str],
                     flags: dict[tuple, str] | None = None) -> list[str]:
    errors = []

    def err(loc: tuple, msg: str):
        errors.append(_located(loc, msg, yaml_root, origin, flags))

    seen = {}
    for i, src in enumerate(recipe.sources):
        if src.name in seen:
            err(("sources", i, "name"), f"'{src.name}' is already the name of sources[{seen[src.name]}]; names must be unique")
        seen[src.name] = i
        if src.adapter not in ADAPTERS:
            guess = difflib.get_close_matches(src.adapter, list(ADAPTERS), n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            err(("sources", i, "adapter"), f"unknown adapter '{src.adapter}'; {hint}choose one of {', '.join(ADAPTERS)}")
        else:
            problem = ADAPTERS[src.adapter].check_options(src.options)
            if problem:
                err(("sources", i, "options"), problem)
        for text in src.paths():
            adapter = ADAPTERS.get(src.adapter)
            if not expand_paths(text, recipe_path, adapter):
                why = no_match_reason(text, recipe_path, adapter.suffixes if adapter else RECORD_SUFFIXES, given.get(text, text))
                written = given.get(text, text)
                shown = repr(written) if any(ord(ch) < 32 for ch in written) else f"'{written}'"  # one line
                err(("sources", i, "path"), f"no file matches {shown}: {why}")

    if recipe.eval is not None:
        for j, name in enumerate(recipe.eval.benchmarks):
            if name not in KNOWN_BENCHMARKS and name not in recipe.eval.data:
                err(("eval", "benchmarks", j), f"'{name}' is not built in ({', '.join(KNOWN_BENCHMARKS)}); give its file in eval.data")
        for name, path in recipe.eval.data.items():
            if not Path(path).is_file():
                err(("eval", "data", name), f"benchmark file '{given.get(path, path)}' does not exist")
    for j, ref in enumerate(recipe.curate.decontaminate.refs()):
        if ref.name not in KNOWN_BENCHMARKS and ref.path is None:
            err(("curate", "decontaminate", "benchmarks", j),
                f"'{ref.name}' is not a built-in benchmark ({', '.join(KNOWN_BENCHMARKS)}); give it a `path:` to a JSONL file")
        if ref.path is not None and not resolve_path(ref.path, recipe_path).is_file():
            err(("curate", "decontaminate", "benchmarks", j), f"benchmark file '{given.get(ref.path, ref.path)}' does not exist")
    if recipe.sources and all(src.weight == 0 for src in recipe.sources) and (
            recipe.relabel is None or not recipe.relabel.enabled):
        err(("sources", 0, "weight"), "every source has weight 0, so the training set would be empty; "
            "give at least one source a weight above 0")
    if not recipe.curate.enabled:
        err(("curate", "enabled"), "curation cannot be turned off: mix and train read its output; relax its filters instead")
    problem = _output_dir_problem(recipe.run_dir)
    if problem:
        given_dir = _node_at(yaml_root, ("output_dir",)) is not None or _flag_for(("output_dir",), flags or {}, yaml_root)
        # without an output_dir key the run directory comes from `name`: cite that line
        err(("output_dir",) if given_dir else ("name",), problem if given_dir else f"the run directory {problem}")
    return errors


def _output_dir_problem(run_dir: Path) -> str | None:
    if run_dir.exists() and not run_dir.is_dir():
        return f"'{run_dir}' is a file, not a directory; choose another output_dir"
    probe = run_dir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"'{probe}' is a file, not a folder; output_dir cannot lie below it; choose another output_dir"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"'{probe}' is not writable; choose an output_dir you can write to"
    return None


# -- loading --------------------------------------------------------------------------------------

def _read_text(path: Path, origin: str) -> str:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        try:  # Windows editors and PowerShell's `>` save UTF-16 with a BOM
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass  # reported below as not UTF-8
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RecipeError(f"{origin}:{line}: not UTF-8 text (byte {data[e.start]:#04x}); save the recipe as UTF-8") from None


def _parse(text: str, origin: str) -> tuple[Any, yaml.Node | None]:
    """The recipe's data and its YAML node tree (for line numbers). A JSON recipe is read as
    JSON when YAML refuses it (JSON indented with tabs is not YAML)."""
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as e:
        if text.lstrip().startswith(("{", "[")):
            try:
                raw = json.loads(text)
            except ValueError as je:
                raise RecipeError(f"{origin}:{je.lineno}: not valid JSON: {je.msg} at column {je.colno}") from None
            try:  # outside JSON strings a tab is only whitespace: as a space, YAML reads the same lines
                return raw, yaml.compose(text.replace("\t", " "))
            except yaml.YAMLError:
                return raw, None
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "'\\t'" in str(problem):
            problem += " (YAML indents with spaces, never tabs)"
        if "expected <block end>" in str(e) and mark:
            problem += (f" (is line {mark.line + 1} indented like the lines of its list or section? each item "
                        "starts in the same column)")
        if "expected a single document" in str(e):

            problem += "; a recipe is one YAML document: remove the '---' line and what follows it"
        if "\u00a0" in text:
            problem += (f" (line {text.count(chr(10), 0, text.index(chr(0xA0))) + 1} holds a non-breaking space, U+00A0, "
                        "pasted from a web page? use plain spaces)")
        raise RecipeError(f"{origin}{line}: not valid YAML: {problem}") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, expand (`use:`), override (`--set`), make paths absolute and validate a recipe;
    raise RecipeError listing every problem."""
    path = Path(path)
    origin = str(path)
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.y*ml"))[:3]
        hint = f", e.g. {path / inside[0]}" if inside else ""
        raise RecipeError(f"{origin}: is a directory; give the recipe file{hint}")
    if not path.is_file():
        raise RecipeError(f"{origin}: recipe file not found")
    text = _read_text(path, origin)
    raw, yaml_root = _parse(text, origin)
    duplicates = _duplicate_keys(yaml_root, origin)
    if duplicates:
        raise RecipeError("\n".join(duplicates))
    if not isinstance(raw, dict):
        what = ("the file is empty" if raw is None else "the file holds a list (its first line starts with '- '): remove the '- '"
                if isinstance(raw, list) else f"the file holds only {_kind_of(raw)}")
        raise RecipeError(f"{origin}: {what}; a recipe is a YAML mapping with keys name, sources, curate, ... "
                          "(e.g. recipes/tiny.yaml)")
    flags = override_keys(overrides or [])
    raw = apply_overrides(raw, overrides or [])
    errors: list[str] = []
    failed_uses = _expand_uses(raw, path, errors, yaml_root, origin)
    given = absolutize(raw, path)
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        # a `use:` that named no entry is its one error, not also "name, adapter missing"
        found = [err for err in _misspelled_required(_deepest(e.errors()))
                 if not (err["loc"][:1] == ("sources",) and len(err["loc"]) > 1 and err["loc"][1] in failed_uses)]
        errors += [_describe(err, yaml_root, origin, flags) for err in found]
        raise RecipeError("\n".join(dict.fromkeys(errors))) from None
    errors += [_located(loc, f"YAML reads {_as_written(yaml_root, loc)} as a boolean, not a number; give a number",
                        yaml_root, origin, flags) for loc in _bools_as_numbers(raw, recipe)]
    errors += _semantic_errors(recipe, path, yaml_root, origin, given, flags)
    if errors:
        raise RecipeError("\n".join(errors))
    recipe._path = path.resolve()
    return recipe


def dump_resolved(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True)
