"""`ingested/NAME.stats.json`, written and read through `IngestStats`: what one source read, what
became samples and what was malformed (with the first few file:line examples), and the fingerprint
of the files and settings it was read with (a later ingest carries an unchanged source over).

Other stages (mix's manifest, the report) read the file as plain JSON and may not import this
module: `to_json` keeps the keys and their order as they were."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alchemist.rundir.stats import StatsFile

MAX_EXAMPLES = 5  # malformed records and notes listed (the first ones)


@dataclass
class IngestStats:
    read: int = 0
    ingested: int = 0
    malformed: int = 0
    malformed_examples: list[dict] = field(default_factory=list)  # {"where": file:line, "reason"}
    files: list[str] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)  # flaws that lost no record {"where", "note"}; absent when none
    fingerprint: str | None = None  # set once the shard is written; absent until then

    def malformed_record(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MAX_EXAMPLES:
            self.malformed_examples.append({"where": where, "reason": reason})

    def note(self, where: str, note: str) -> None:
        if len(self.notes) < MAX_EXAMPLES:
            self.notes.append({"where": where, "note": note})

    def to_json(self) -> dict:
        d = {"read": self.read, "ingested": self.ingested, "malformed": self.malformed,
             "malformed_examples": self.malformed_examples, "files": self.files}
        if self.notes:
            d["notes"] = self.notes
        if self.fingerprint is not None:
            d["fingerprint"] = self.fingerprint
        return d

    @classmethod
    def from_json(cls, path: Path) -> IngestStats:
        """The stats ingest wrote to `path`; a damaged or foreign file is one error naming it and the key."""
        f = StatsFile(path, "ingest")
        d = f.load()
        got = {key: f.key(d, key, kind) for key, kind, required in
               [("read", int, True), ("ingested", int, True), ("malformed", int, True),
                ("malformed_examples", list, True), ("files", list, True),
                ("notes", list, False), ("fingerprint", str, False)] if required or key in d}
        return cls(**got)
