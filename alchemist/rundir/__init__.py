"""Run-directory mechanics: its layout, fingerprints, atomic outputs, the lock, run.json, file digests;
and (`rundir.ownership`) what alchemist may write, replace or delete in any folder it writes to.

A stage's output is complete only when its marker holds the fingerprint of the inputs and config
that made it; outputs are written under a temporary name and renamed, so a killed stage never
leaves something that looks finished.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError
from alchemist.rundir.ownership import Owned, check_removable, mark_created, remove_tree, seal, shown
from alchemist.schema import safe_json

MARKER = "_SUCCESS"
RUN_JSON = "run.json"
LOCK = ".lock"
RESOLVED = "recipe.resolved.yaml"
# Each stage's output folder, below the run directory
OUTPUTS = {
    "ingest": "data/ingested",
    "curate": "data/curated",
    "relabel": "data/relabeled",
    "mix": "data/final",
    "train": "model",
    "rl": "rl",
    "eval": "eval",
    "leaderboard": "leaderboard",
    "report": "report",
}
# Files a stage's contract places outside its own folder: stage -> {file in its output: path in the run directory}
PUBLISHED = {
    "mix": {"manifest.json": "data/manifest.json", "report.md": "data/report.md"},
    "report": {"report.html": "report.html"},
}
# What a run writes in its run directory besides the stages' outputs (each a folder of its own):
# its record, the lock, the work and cache folders, the relabel answer cache (SQLite and its WAL).
RUN_ENTRIES = (RUN_JSON, LOCK, RESOLVED, "work", "cache",
               *(f"llm_cache.sqlite{s}" for s in ("", "-wal", "-shm", "-journal")))


@dataclass(frozen=True)
class RunLayout:
    """Every path of a run directory, spelled once (the picture in ARCHITECTURE.md). Stages read
    one another's files through these names, never through one another's code."""

    root: Path

    def output(self, stage: str) -> Path:
        return self.root / OUTPUTS[stage]

    def work(self, stage: str) -> Path:
        """What a stage keeps across kills (datatrove task markers, checkpoints)."""
        return self.root / "work" / stage

    @property
    def judge_cache(self) -> Path:
        """The decontamination judge's answers, shared by curate and relabel: a pair judged once is not asked again."""
        return self.root / "cache" / "judge_llm.sqlite"

    @property
    def eval_cache(self) -> Path:
        return self.root / "cache" / "eval_llm.sqlite"

    @property
    def run_json(self) -> Path:
        return self.root / RUN_JSON

    @property
    def resolved(self) -> Path:
        return self.root / RESOLVED

    @property
    def digests(self) -> Path:
        return self.root / "work" / "digests.json"

    @property
    def relabel_cache(self) -> Path:
        """The relabel answer cache (its default place: `relabel.llm.cache` may name another)."""
        return self.root / "llm_cache.sqlite"

    @property
    def manifest(self) -> Path:
        return self.root / "data" / "manifest.json"

    @property
    def data_report(self) -> Path:
        return self.root / "data" / "report.md"

    @property
    def train_data(self) -> Path:
        return self.output("mix") / "train.parquet"

    @property
    def curate_stats(self) -> Path:
        return self.output("curate") / "stats.json"

    @property
    def rejected(self) -> Path:
        return self.output("curate") / "rejected.parquet"

    @property
    def training_report(self) -> Path:
        return self.output("train") / "training_report.json"

    @property
    def leaderboard_json(self) -> Path:
        return self.output("leaderboard") / "leaderboard.json"

    @property
    def report_html(self) -> Path:
        """The report, published at the top of the run directory."""
        return self.root / "report.html"


def fingerprint(*parts) -> str:
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    # surrogatepass: a file name that is not valid UTF-8 reaches Python as lone surrogates
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """File digests remembered by (path, size, mtime): a multi-GB corpus is hashed once, not on
    every `alchemist run`. Kept in the run directory."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, list] = {}
        if path is not None and path.is_file():
            try:
                entries = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError):
                entries = None
            if not isinstance(entries, dict) or not all(_digest_entry(v) for v in entries.values()):
                raise UserError(f"{shown(path)}: not the digest cache alchemist writes (a JSON object of "
                                "[size, mtime, digest]); delete it and rerun: it is rebuilt")
            self.entries = entries
        self.dirty = False

    def digest(self, file: Path) -> str:
        st = file.stat()
        key = str(Path(file).resolve())
        hit = self.entries.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        value = file_digest(file)
        self.entries[key] = [st.st_size, st.st_mtime_ns, value]
        self.dirty = True
        return value

    def save(self) -> None:
        if self.path is not None and self.dirty:
            write_json_atomic(self.path, self.entries)
            self.dirty = False


def _digest_entry(v) -> bool:
    return (isinstance(v, list) and len(v) == 3 and all(isinstance(x, int) and not isinstance(x, bool) for x in v[:2])
            and isinstance(v[2], str))


def marker(directory: Path) -> str | None:
    """The fingerprint a finished output carries, or None when it is missing or unfinished."""
    path = directory / MARKER
    # bytes that are not alchemist's (a marker edited or damaged) match no fingerprint: the stage reruns
    return path.read_bytes().decode("utf-8", "replace").strip() if path.is_file() else None


def is_complete(directory: Path, fp: str) -> bool:
    return marker(directory) == fp


def partial_path(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


@contextmanager
def atomic_dir(final: Path, fp: str, fresh: bool = True):
    """Yield a temporary directory; on success it replaces `final`, marked with `fp`. With
    `fresh=False` (a rank other than 0 of a distributed run) the directory is joined, not reset,
    and rank 0 does the rename."""
    tmp = partial_path(final)
    old = final.with_name(final.name + ".old")
    if fresh:
        check_removable(final)  # before any work: only a folder alchemist made is ever replaced
        remove_tree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    if fresh:
        mark_created(tmp)
    yield tmp
    if not fresh:
        return
    (tmp / MARKER).write_text(fp)
    seal(tmp)
    remove_tree(old)
    if final.exists():
        check_removable(final)
        os.replace(final, old)
    os.replace(tmp, final)
    remove_tree(old)


@contextmanager
def atomic_file(path: Path):
    """Yield a temporary name beside `path`; once the block ends without an error it becomes
    `path` in one rename, so a reader sees the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    yield tmp
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        # a file name that is not valid UTF-8 (lone surrogates in Python) is written as \udcXX
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, safe_json(obj, indent=2) + "\n")


def copy_atomic(src: Path, dst: Path) -> None:
    with atomic_file(dst) as tmp:
        shutil.copyfile(src, tmp)


class RunLock:
    """One run per run directory at a time. The kernel drops the lock when its holder dies, so a
    lock left by a killed run is simply taken over."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.fh = None

    def __enter__(self) -> RunLock:
        Owned(self.path.parent, "output_dir", legacy=RUN_JSON).claim().wrote(LOCK)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise UserError(f"{self.path.parent}: another alchemist run holds this run directory (pid {holder}); "
                            "wait for it to finish, or stop it, then rerun") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.seek(0)
            self.fh.truncate()
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


class RunRecord:
    """runs/NAME/run.json: per stage its fingerprint, status, start, end, seconds and headline
    counts, rewritten (atomically) as the run goes."""

    def __init__(self, run_dir: Path, recipe_name: str, write: bool = True):
        self.path = run_dir / RUN_JSON
        self.write = write
        self.data = {"recipe": recipe_name, "stages": {}}
        if self.path.is_file() and write:
            try:
                old = json.loads(self.path.read_text())
            except (ValueError, UnicodeDecodeError):
                old = None
            if not isinstance(old, dict) or not isinstance(old.get("stages", {}), dict):
                raise UserError(f"{shown(self.path)}: not the run record alchemist writes (a JSON object with `stages`); "
                                "delete it and rerun: finished stages are kept, their outputs carry their fingerprints")
            self.data["stages"] = {k: v for k, v in old.get("stages", {}).items() if isinstance(v, dict)}
        self.data.update({"pid": os.getpid(), "started": now()})

    def update(self, stage: str, **fields) -> dict:
        entry = self.data["stages"].setdefault(stage, {})
        entry.update(fields)
        self.save()
        return entry

    def save(self) -> None:
        if self.write:
            write_json_atomic(self.path, self.data)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
