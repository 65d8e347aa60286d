"""What every recipe section is built from: strict pydantic models (an unknown key is an error at
its line) and the declaration that a setting cannot change a stage's result.

A field declared `volatile` (concurrency, timeouts, logging, worker counts) is left out of the
stage's fingerprint, so changing it never reruns a finished stage. A field declared `local_path`
holds a path the recipe makes absolute when it is loaded (`recipe/locate.py` finds them all).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Largest weight a source or task may have: a weight repeats each row that many times, and a
# typo such as 1e12 would otherwise fill memory instead of failing at its line.
MAX_WEIGHT = 1000.0
# Seeds reach numpy's RandomState (datatrove's MinHash adds 1), which takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 2
# Typographic quotes that word processors and web pages put where a recipe had plain ones
QUOTES = "\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"


class Strict(BaseModel):
    # .inf and .nan are YAML numbers; no setting of alchemist means them
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _file_name(value: str) -> str:
    """A name that becomes one file or directory name (runs/NAME, NAME.parquet)."""
    if not value.strip():
        raise ValueError("is empty; give a name (it names files and folders)")
    bad = sorted({ch for ch in value if ch in "/\\" or ord(ch) < 32 or ch == "\x7f"})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise ValueError(f"{value!r} holds {shown}; a name becomes a file name: use letters, digits, '-', '_' and '.'")
    if value[0] in QUOTES or value[-1] in QUOTES:
        raise ValueError(f"{value!r} is wrapped in typographic quotes (pasted from a document?); use plain quotes or none")
    if value.startswith(".") or value != value.strip():
        raise ValueError(f"{value!r} starts with '.' or has spaces around it; a name becomes a file name")
    if len(value.encode("utf-8", "surrogatepass")) > 100:
        raise ValueError(f"'{value[:40]}...' is {len(value)} characters long; a name becomes a file name: keep it under 100")
    return value


FileName = Annotated[str, AfterValidator(_file_name)]


def _marked(default: Any, kwargs: dict, **marks: Any) -> Any:
    """A Field whose json_schema_extra carries `marks` beside any extra the caller gave."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra.update(marks)
    if "default_factory" in kwargs:
        return Field(json_schema_extra=extra, **kwargs)
    return Field(default, json_schema_extra=extra, **kwargs)


def volatile(default: Any = ..., **kwargs) -> Any:
    """A Field that does not change what a stage produces (excluded from its fingerprint)."""
    return _marked(default, kwargs, volatile=True)


def is_volatile(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("volatile"))


def local_path(default: Any = ..., *, must_exist: bool = False, keep: tuple[str, ...] = (), volatile: bool = False,
               **kwargs) -> Any:
    """A Field holding a path (or a list of paths, or a {name: path} mapping): the recipe makes it
    absolute at load time, from the working directory, else from the recipe's folder. With
    `must_exist`, a value found nowhere stays as written (a hub id or a served model's name);
    values in `keep` are words, never paths."""
    marks: dict[str, Any] = {"path": {"must_exist": must_exist, "keep": list(keep)}}
    if volatile:
        marks["volatile"] = True
    return _marked(default, kwargs, **marks)


def path_mark(model: type[BaseModel], name: str) -> dict | None:
    """{must_exist, keep} of a field declared with `local_path`, else None."""
    extra = model.model_fields[name].json_schema_extra
    return extra.get("path") if isinstance(extra, dict) else None


def stable_dump(value: Any) -> Any:
    """JSON-able view of a spec without its volatile fields, recursively (for fingerprints)."""
    if isinstance(value, BaseModel):
        cls = type(value)
        return {name: stable_dump(getattr(value, name)) for name in cls.model_fields if not is_volatile(cls, name)}
    if isinstance(value, dict):
        return {str(k): stable_dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stable_dump(v) for v in value]
    return value
