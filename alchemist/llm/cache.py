"""Persistent answer cache: SQLite (stdlib, WAL), keyed by model + messages + sampling params.
Reruns and resumes after a kill re-send nothing already answered."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from alchemist.errors import UserError
from alchemist.llm.types import ChatResult


class ResultCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, model TEXT, value TEXT)")
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise UserError(f"{path}: not an answer cache alchemist can read ({e}); delete it and rerun "
                            "(its answers are asked again)") from None

    def get_many(self, keys: list[str]) -> dict[str, ChatResult]:
        out: dict[str, ChatResult] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk):
                    out[key] = ChatResult.from_json(value)
        return out

    def put(self, key: str, model: str, result: ChatResult) -> None:
        """Store one successful answer at once (committed), so a kill loses nothing answered."""
        if not result.ok:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, model, result.to_json()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
