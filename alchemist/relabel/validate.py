"""Sandbox verdicts of generated solutions against their own tests, logged as they land.

A kill in the middle of validation loses nothing: every verdict is appended to a log in the
stage's work directory (keyed by the program and its limits), and a rerun with the same
fingerprint reads it back instead of running those programs again."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from alchemist.execution import Limits, SandboxPool
from alchemist.execution.languages import LANGUAGE_LIMITS, LanguagePool
from alchemist.execution.sandbox import WORKER_FAILED
from alchemist.relabel.oss_instruct import verdict


class Validator:
    """`reason` is safe to call from many threads (one sandbox worker each); `map` runs a
    function over items on `workers` threads."""

    def __init__(self, work: Path, timeout: float, workers: int | None = None):
        self.timeout = timeout
        self.workers = workers or len(os.sched_getaffinity(0)) or 1  # the cores this process may use (quotas, taskset)
        self._lock = threading.Lock()
        self.log_path = work / "oss_verdicts.jsonl"
        self.known: dict[str, str | None] = {}
        self.ran = self.reused = 0
        text = self.log_path.read_text(encoding="utf-8") if self.log_path.is_file() else ""
        self._cut = bool(text) and not text.endswith("\n")  # the last line a kill interrupted
        if text:
            for line in text.splitlines():
                try:  # a line cut by a kill is just run again
                    entry = json.loads(line)
                    self.known[entry["key"]] = entry["reason"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
        self._pool = None
        self._languages = None
        self._log = None

    def _key(self, program: str, language: str | None = None) -> str:
        lang = f"{language}\0" if language else ""  # Python programs keep their earlier keys
        return hashlib.blake2b(f"{lang}{self.timeout}\0{program}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def reason(self, program: str, language: str | None = None) -> str | None:
        """None when the program passes, else the reject reason (oss_instruct.verdict).
        `language` (cpp, js, java, go, rust): a toolchain program (alchemist.execution.languages)."""
        key = self._key(program, language)
        with self._lock:
            if key in self.known:
                self.reused += 1
                return self.known[key]
            if language and self._languages is None:
                self._languages = LanguagePool()
            if self._pool is None:
                self._pool = SandboxPool()
                self._log = self.log_path.open("a", encoding="utf-8")
                if self._cut:  # the next entry starts on a line of its own
                    self._log.write("\n")
        for _ in range(2):  # a worker that died (not the program) is replaced and the program run again
            if language:
                outcome = self._languages.run(language, program, replace(LANGUAGE_LIMITS, timeout=self.timeout))
            else:
                outcome = self._pool.run(program, Limits(timeout=self.timeout))
            if not (outcome.returncode is None and outcome.stderr == WORKER_FAILED):
                break
        else:
            return "sandbox_failed"  # the harness failed: counted, never logged as the program's verdict
        why = verdict(outcome)
        with self._lock:
            self.ran += 1
            self.known[key] = why
            self._log.write(json.dumps({"key": key, "reason": why}) + "\n")
            self._log.flush()
        return why

    def map(self, fn, items: list) -> list:
        if self.workers == 1 or len(items) < 2:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(min(self.workers, len(items))) as threads:
            return list(threads.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._log.close()
        if self._languages is not None:
            self._languages.close()
