"""Reading raw records from local files and the Hugging Face Hub.

Every record comes out as a RawRecord: either a dict or the reason it could not be read, with
`where` = `file:line` (JSONL, CSV) or `file#index` (JSON arrays, Parquet, datasets). Nothing is
skipped silently: a broken line is a RawRecord with an error, a binary file is one.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from alchemist.errors import UserError

RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".parquet", ".csv", ".csv.gz")


@dataclass(slots=True)
class RawRecord:
    where: str
    data: dict | None = None
    error: str | None = None


def has_suffix(path: Path, suffixes) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def expand_paths(text: str, recipe_path: Path | None, suffixes=RECORD_SUFFIXES) -> list[Path]:
    """A file, a glob or a directory (searched recursively for readable files), sorted."""
    from alchemist.recipe import resolve_path

    p = resolve_path(text, recipe_path)
    if any(ch in str(p) for ch in "*?["):
        found = [Path(x) for x in sorted(glob.glob(str(p), recursive=True))]
        return [f for f in found if f.is_file()]
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and has_suffix(f, suffixes) and ".git" not in f.parts)
    return [p] if p.is_file() else []


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def iter_file(path: Path) -> Iterator[RawRecord]:
    name = path.name.lower()
    try:
        with _open_bytes(path) as fh:
            head = fh.read(8192)
    except (OSError, EOFError) as e:
        yield RawRecord(str(path), error=f"cannot read file: {e}")
        return
    if not head:
        return  # an empty file holds no records
    if _looks_binary(head) and not name.endswith(".parquet"):
        yield RawRecord(str(path), error="binary file, not text records")
        return
    if name.endswith(".parquet"):
        yield from _iter_parquet(path)
    elif name.endswith((".csv", ".csv.gz")):
        yield from _iter_csv(path)
    elif name.endswith((".json", ".json.gz")) and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") and not _is_json_lines(head):
        yield from _iter_json_array(path)
    else:  # .jsonl, .ndjson, and .json files that are really JSON lines (common on the Hub)
        yield from _iter_jsonl(path)


def _is_json_lines(head: bytes) -> bool:
    """A `.json` file whose first line is a complete object is JSON lines (common on the Hub)."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
    if not first.startswith(b"{") or b"\n" not in head:
        return False
    try:
        return isinstance(json.loads(first), dict)
    except (ValueError, RecursionError):
        return False


def _iter_jsonl(path: Path) -> Iterator[RawRecord]:
    with _open_bytes(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark from Windows tools
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield RawRecord(where, error=f"not valid UTF-8 ({e.reason} at byte {e.start})")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield RawRecord(where, error=f"not valid JSON: {e.msg} at column {e.colno}")
                continue
            except RecursionError:
                yield RawRecord(where, error="JSON nested too deeply")
                continue
            if not isinstance(obj, dict):
                yield RawRecord(where, error=f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield RawRecord(where, data=obj)


def _iter_json_array(path: Path) -> Iterator[RawRecord]:
    try:
        with _open_bytes(path) as fh:
            items = json.loads(fh.read().decode("utf-8-sig"))
    except RecursionError:
        yield RawRecord(str(path), error="JSON nested too deeply (the whole file is unreadable)")
        return
    except UnicodeDecodeError as e:
        yield RawRecord(str(path), error=f"not valid UTF-8 ({e.reason} at byte {e.start})")
        return
    except json.JSONDecodeError as e:
        yield RawRecord(f"{path}:{e.lineno}", error=f"not valid JSON: {e.msg} (the whole file is unreadable)")
        return
    if isinstance(items, dict):  # {"data": [...]} style wrappers
        lists = [v for v in items.values() if isinstance(v, list)]
        items = lists[0] if len(lists) == 1 else [items]
    for i, obj in enumerate(items):
        where = f"{path}#{i}"
        if isinstance(obj, dict):
            yield RawRecord(where, data=obj)
        else:
            yield RawRecord(where, error=f"expected a JSON object, got {type(obj).__name__}")


def _iter_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        yield RawRecord(str(path), error=f"not a readable Parquet file: {e}")
        return
    i = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            yield RawRecord(f"{path}#{i}", data=row)
            i += 1


def _iter_csv(path: Path) -> Iterator[RawRecord]:
    csv.field_size_limit(sys.maxsize)
    with _open_bytes(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.DictReader(text)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                yield RawRecord(where, error=f"more fields than the header's {len(reader.fieldnames or [])}")
                continue
            bad = next((k for k, v in row.items() if isinstance(v, str) and _has_surrogates(v)), None)
            if bad is not None:
                yield RawRecord(where, error=f"field '{bad}' is not valid UTF-8")
                continue
            yield RawRecord(where, data=row)


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def iter_hub(dataset_id: str, config: str | None, split: str, revision: str | None) -> Iterator[RawRecord]:
    """Rows of a Hugging Face dataset, streamed so that large corpora start at once."""
    try:
        import datasets

        ds = datasets.load_dataset(dataset_id, config, split=split, revision=revision, streaming=True)
        rows = iter(ds)
        first = next(rows, None)
    except Exception as e:  # offline, gated, unknown id: the hub client raises many types
        reason = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        raise UserError(
            f"cannot load Hugging Face dataset '{dataset_id}' (split {split}): {reason}. "
            "Check the id and your network, or download it elsewhere and point the source's `path:` at the files."
        ) from None
    if first is None:
        return
    where = f"hf:{dataset_id}[{split}]"
    yield RawRecord(f"{where}#0", data=dict(first))
    for i, row in enumerate(rows, 1):
        yield RawRecord(f"{where}#{i}", data=dict(row))
