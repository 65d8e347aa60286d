"""A stage's `stats.json` read back inside that stage: a damaged or foreign file is one error that
names the file, the key and what to do (run the stage again), never a bare KeyError later."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError

KINDS = {dict: "an object", list: "a list", int: "an integer", str: "a string"}


@dataclass(frozen=True)
class StatsFile:
    path: Path
    stage: str

    def load(self) -> dict:
        try:
            d = json.loads(Path(self.path).read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{self.path}: cannot read {self.stage}'s stats ({e}); {self.again}") from None
        if not isinstance(d, dict):
            raise UserError(f"{self.path}: not {self.stage}'s stats (a JSON object expected); {self.again}")
        return d

    def key(self, d: dict, key: str, kind: type, parent: str = ""):
        """`d[key]`, which must be a `kind` (a bool is not an integer)."""
        where = f"{parent}.{key}" if parent else key
        if key not in d:
            raise UserError(f"{self.path}: key '{where}' is missing from {self.stage}'s stats; {self.again}")
        if not isinstance(d[key], kind) or isinstance(d[key], bool):
            raise self.bad(where, KINDS[kind])
        return d[key]

    def bad(self, where: str, what: str) -> UserError:
        return UserError(f"{self.path}: key '{where}' of {self.stage}'s stats is not {what}; {self.again}")

    @property
    def again(self) -> str:
        return f"run the {self.stage} stage again"
