"""What alchemist may replace or delete: only what it wrote.

Every folder alchemist writes into (a run directory, the folder of `eval -o`, `leaderboard -o` or
`slurm -o`, a stage's output, a work directory) holds `.alchemist`: the record of the entries it
wrote there. A folder that exists without one and holds anything belongs to someone else, and
alchemist refuses to write into it. Inside a recorded folder, an entry that is not in the record
is never replaced or deleted. An output that overlaps an input (holds it, or lies inside it) is
refused before any work.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from alchemist.errors import UserError

MARK = ".alchemist"
# Files that show alchemist made a directory without a record: a stage's finished
# output, a work directory's stamp.
STAMPS = ("_SUCCESS", ".fingerprint")
TEMP_SUFFIXES = (".partial", ".old")  # names alchemist gives its own temporary folders


NAME_MAX = 255  # bytes in one file name, on every common filesystem


def shown(path: Path) -> str:
    """A path as one printable line: non-UTF-8 bytes and control characters escaped, a name too
    long to read cut short."""
    text = str(path)
    if any(len(part) > 80 for part in Path(text).parts):
        text = str(Path(*(part if len(part) <= 80 else f"{part[:40]}...({len(os.fsencode(part))} bytes)" for part in Path(text).parts)))
    return repr(text)[1:-1] if not text.isprintable() else text


def check_names(path: Path, what: str) -> None:
    """A path whose every name fits the filesystem (else exists() itself fails)."""
    for part in Path(path).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise UserError(f"{what} {shown(path)}: a name in it is {len(os.fsencode(part))} bytes, more than the "
                            f"{NAME_MAX} a filesystem allows; choose a shorter {what}")


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies below it (both resolved: `.`, `..` and links followed)."""
    p, f = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return p == f or f in p.parents


def check_overlap(out: Path, inputs: Iterable[tuple[str, Path]], what: str) -> None:
    """Refuse an output folder that holds an input or lies where an input is read from (a folder
    read recursively, or a glob that could match files in it). `inputs`: (how the user named it,
    path or glob) pairs; `what`: how the user named the output (a flag or a recipe key)."""
    check_names(out, what)
    for name, path in inputs:
        root = glob_root(path)
        if inside(root, out):
            raise UserError(f"{what} {shown(out)} holds {name} {shown(path)}: an output must not overlap an input; "
                            f"give {what} a folder outside it")
        if root.is_dir() and inside(out, root) and _could_match(path, root, out):
            raise UserError(f"{what} {shown(out)} lies inside {name} {shown(path)}: its outputs would mix with the input; "
                            f"give {what} a folder outside it")


def glob_root(path: Path) -> Path:
    """A glob's folder before its first wildcard; any other path as it is."""
    parts = []
    for part in Path(path).parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _could_match(pattern: Path, root: Path, out: Path) -> bool:
    """Whether files below `out` (inside `root`) can be read through `pattern`: always for a
    folder or a `**` glob; for another glob, when `out` matches its leading parts."""
    if pattern == root or "**" in str(pattern):
        return True
    rel_pattern = Path(pattern).parts[len(root.parts):]
    rel_out = Path(os.path.realpath(out)).parts[len(Path(os.path.realpath(root)).parts):]
    return len(rel_out) < len(rel_pattern) and all(fnmatch.fnmatchcase(o, p) for o, p in zip(rel_out, rel_pattern))


def _cannot_create(path: Path, what: str, e: OSError) -> UserError:
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            return UserError(f"{what} {shown(path)}: {shown(p)} is a file, not a folder; choose another {what}")
    top = Path(os.path.abspath(path)).parts[1:2]
    if top in (("proc",), ("sys",), ("dev",)):
        return UserError(f"{what} {shown(path)}: /{top[0]} is the kernel's, not a place for files; choose a folder on disk")
    if e.errno == errno.ENAMETOOLONG:
        return UserError(f"{what} {shown(path)}: the path or a name in it is too long for this filesystem "
                         f"({max(len(os.fsencode(n)) for n in path.parts)} bytes in one name); choose a shorter {what}")
    return UserError(f"{what} {shown(path)}: cannot create this folder ({e.strerror or e}); choose another {what}")


class Owned:
    """A folder alchemist writes into, and its record (`.alchemist`) of the entries it wrote."""

    def __init__(self, root: Path, what: str, legacy: str | None = None):
        self.root = Path(root)
        self.what = what  # how the user named the folder: -o, output_dir, ...
        self.legacy = legacy  # a file whose presence shows an older alchemist made the folder
        self.record: set[str] = set()
        self.created = False  # this claim made the folder

    def claim(self) -> Owned:
        """Create the folder, or take an empty one, or one alchemist made; refuse anything else."""
        root = self.root
        check_names(root, self.what)
        try:
            if root.exists() and not root.is_dir():
                raise UserError(f"{self.what} {shown(root)}: exists and is a file; give a folder")
            if root.is_dir():
                record = read_record(root)
                if record is None:
                    entries = sorted(os.listdir(root))
                    if entries and not (self.legacy and (root / self.legacy).is_file()):
                        raise UserError(f"{self.what} {shown(root)}: holds files alchemist did not write "
                                        f"({', '.join(shown(Path(e)) for e in entries[:3])}{', ...' if len(entries) > 3 else ''}); "
                                        f"choose a new or empty folder, or one alchemist made")
                    record = set(entries)  # an older alchemist's folder: what is there is its own
                self.record = record
            else:
                root.mkdir(parents=True)
                self.created = True
            self._save()
        except OSError as e:
            raise _cannot_create(root, self.what, e) from None
        return self

    def abandon(self) -> None:
        """After an error: a folder this claim made that holds nothing but its record goes, so a
        refused command leaves nothing behind."""
        try:
            if self.created and set(os.listdir(self.root)) <= {MARK}:
                (self.root / MARK).unlink(missing_ok=True)
                self.root.rmdir()
        except OSError:
            pass  # something else appeared in it: it stays

    def check(self, *names: str) -> None:
        """Refuse to replace an entry of the folder that alchemist did not write."""
        for name in names:
            p = self.root / name
            if (p.exists() or p.is_symlink()) and not self.owns(name):
                raise UserError(f"{shown(p)}: exists and was not written by alchemist; move it away or choose another {self.what}")

    def owns(self, name: str) -> bool:
        if "*" in self.record:  # a folder alchemist created whole
            return True
        parts = Path(name).parts
        return any("/".join(parts[:i]) in self.record for i in range(1, len(parts) + 1))

    def wrote(self, *names: str) -> None:
        new = set(names) - self.record
        if new:
            self.record |= new
            self._save()

    def _save(self) -> None:
        tmp = self.root / f"{MARK}.tmp{os.getpid()}"
        tmp.write_text(json.dumps({"wrote": sorted(self.record, key=str)}, ensure_ascii=True, indent=1) + "\n")
        os.replace(tmp, self.root / MARK)


def read_record(folder: Path) -> set[str] | None:
    """The entries alchemist recorded in `folder`, or None when it holds no record. A record that
    is not one (edited by hand) claims nothing."""
    path = folder / MARK
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text()).get("wrote")
    except (ValueError, AttributeError, OSError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def mark_created(folder: Path) -> None:
    """Mark a folder alchemist just created (a stage's temporary output, a work directory)."""
    (folder / MARK).write_text(json.dumps({"wrote": ["*"]}) + "\n")


def seal(folder: Path) -> None:
    """Record every file of a finished output folder: a file put there later is someone else's."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir() and p.name != MARK)
    tmp = folder / f"{MARK}.tmp{os.getpid()}"
    tmp.write_text(json.dumps({"wrote": files}, indent=1) + "\n")
    os.replace(tmp, folder / MARK)


def foreign(folder: Path) -> str | None:
    """Why alchemist may not delete `folder`, or None when it made it (missing, empty, marked,
    or one of its temporary folders) and holds no file it did not write."""
    if not folder.exists() and not folder.is_symlink():
        return None
    if folder.is_symlink() or not folder.is_dir():
        return "is not a folder alchemist made"
    record = read_record(folder)
    if record is not None and "*" not in record:
        for p in folder.rglob("*"):
            rel = str(p.relative_to(folder))
            if not p.is_dir() and p.name != MARK and rel not in record:
                return f"holds {rel}, which alchemist did not write"
        return None
    if record is not None or folder.name.endswith(TEMP_SUFFIXES) or any((folder / m).is_file() for m in STAMPS):
        return None
    return None if not any(folder.iterdir()) else "was not made by alchemist"


def removable(folder: Path) -> bool:
    return foreign(folder) is None


def check_removable(folder: Path, what: str = "output_dir") -> None:
    why = foreign(folder)
    if why:
        raise UserError(f"{shown(folder)}: {why}, and a rerun would replace it; move it away or choose another {what}")


def remove_tree(folder: Path, what: str = "output_dir") -> None:
    """Delete a folder alchemist made; refuse one it did not."""
    check_removable(folder, what)
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
