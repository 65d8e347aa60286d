"""What every adapter shares: its registry entry, its result, and field access with clear errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alchemist.sources.readers import RECORD_SUFFIXES, RawRecord


class AdapterError(ValueError):
    """A record that does not fit the adapter: missing field, wrong type. Counted as malformed."""


@dataclass(slots=True)
class Converted:
    messages: list[dict]
    task: str = "codegen"
    language: str | None = None
    extra: dict = field(default_factory=dict)  # original fields not mapped into messages
    tests: dict | None = None  # `schema.make_tests`: tests the corpus ships with the record


@dataclass(frozen=True)
class Adapter:
    name: str
    description: str
    convert: Callable[[dict, dict], Converted]
    options: dict[str, str] = field(default_factory=dict)  # option -> what it does
    suffixes: tuple[str, ...] = RECORD_SUFFIXES
    # adapters that read files themselves (source code, not records) set this
    read: Callable[[Path, dict], Iterator[RawRecord]] | None = None
    validate_options: Callable[[dict], str | None] | None = None
    # source files, not record files: one may hold no usable snippet (an empty or one-line
    # __init__.py) without being broken; the source as a whole must still yield one
    whole_files: bool = False

    def check_options(self, options: dict) -> str | None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(self.options) or "none"
            return f"unknown option(s) {', '.join(unknown)} for adapter '{self.name}' (allowed: {allowed})"
        return self.validate_options(options) if self.validate_options else None


def get_path(record: dict, dotted: str):
    """`a.b.0.c` into nested dicts and lists; KeyError when absent."""
    node = record
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(dotted)
    return node


def text(record: dict, *names: str, required: bool = True) -> tuple[str | None, str | None]:
    """The first of `names` present in the record, as (name, text). Numbers are not text."""
    for name in names:
        try:
            value = get_path(record, name)
        except KeyError:
            continue
        if value is None:
            continue
        if not isinstance(value, str):
            raise AdapterError(f"field '{name}' is {type(value).__name__}, expected text")
        return name, value
    if required:
        alts = " or ".join(f"'{n}'" for n in names)
        wanted = {n.lower(): n for n in names}
        near = [k for k in record if isinstance(k, str) and k.strip().lower() in wanted and k not in names]
        hint = f" (the record has '{near[0]}': field names are case- and space-sensitive)" if near else ""
        raise AdapterError(f"missing field {alts}{hint}")

    return None, None


def leftovers(record: dict, used: set[str]) -> dict:
    """Original fields that did not go into the messages, kept in meta for provenance."""
    return {k: v for k, v in record.items() if k not in used and k.split(".")[0] not in used}


def chat(instruction: str, response: str, system: str | None = None) -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}]
