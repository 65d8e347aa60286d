"""What every recipe section is built from: strict pydantic models (an unknown key is an error at
its line) and the declaration that a setting cannot change a stage's result.

A field declared `volatile` (concurrency, timeouts, logging, worker counts) is left out of the
stage's fingerprint, so changing it never reruns a finished stage.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def volatile(default: Any = ..., **kwargs) -> Any:
    """A Field that does not change what a stage produces (excluded from its fingerprint)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["volatile"] = True
    if "default_factory" in kwargs:
        return Field(json_schema_extra=extra, **kwargs)
    return Field(default, json_schema_extra=extra, **kwargs)


def is_volatile(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("volatile"))


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
