"""Source files (a directory or a git checkout) cut into snippets: seeds for OSS-Instruct-style
generation and comprehension tasks. Snippets end at blank lines so functions stay whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from alchemist.code import LANGUAGE_ALIASES, NOT_CODE
from alchemist.sources.base import Adapter, AdapterError, Converted
from alchemist.sources.readers import RawRecord, decode_text

CODE_SUFFIXES = tuple(sorted({f".{ext}" for ext, lang in LANGUAGE_ALIASES.items() if lang not in NOT_CODE and len(ext) <= 5}))
DEFAULT_MAX_LINES = 80
DEFAULT_MIN_LINES = 3
# Larger files are generated or vendored code (bundles, parser tables, data in code); The Stack
# drops source files over 1 MB for the same reason. Checked before reading the file.
DEFAULT_MAX_BYTES = 1_000_000


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def split_snippets(lines: list[str], max_lines: int) -> list[tuple[int, int]]:
    """(start, end) line ranges, 0-based end-exclusive, that keep definitions whole: cut at a blank
    line before a top-level line; else before a method-level line; else let a long top-level
    unit run on to its end (up to 3 x max_lines); a hard cut is the last resort."""
    spans, start, n = [], 0, len(lines)

    def boundary(i: int, depth: int) -> bool:  # may a snippet end before line i?
        return not lines[i - 1].strip() and lines[i].strip() != "" and _indent(lines[i]) <= depth

    while start < n:
        end = min(start + max_lines, n)
        if _indent(lines[start]) > 0:  # inside a class: end with it, before top-level code resumes
            end = next((i for i in range(start + 1, end) if boundary(i, 0)), end)
        if end < n and not (_indent(lines[start]) > 0 and end < start + max_lines):
            floor = start + max(1, max_lines // 4)
            cut = next((i for i in range(end, floor, -1) if boundary(i, 0)), None)
            cut = cut or next((i for i in range(end, floor, -1) if boundary(i, 4)), None)
            if cut is None:
                cut = next((i for i in range(end, min(start + 3 * max_lines, n)) if boundary(i, 0)), None)
            end = cut or end
        spans.append((start, end))
        start = end
    return spans


def read(path: Path, options: dict) -> Iterator[RawRecord]:
    max_lines = int(options.get("max_lines", DEFAULT_MAX_LINES))
    min_lines = int(options.get("min_lines", DEFAULT_MIN_LINES))
    max_bytes = int(options.get("max_bytes", DEFAULT_MAX_BYTES))
    try:
        size = path.stat().st_size
        if size > max_bytes:
            yield RawRecord(str(path), error=f"{size:,} bytes, over options.max_bytes ({max_bytes:,}): generated or "
                                             "vendored code? (skipped)")
            return
        raw = path.read_bytes()
    except OSError as e:
        yield RawRecord(str(path), error=f"cannot read file: {e}")
        return
    if not raw.strip():  # an empty __init__.py: nothing to learn from, counted and skipped
        yield RawRecord(str(path), error="empty file (skipped)")
        return
    source, why = decode_text(raw)  # UTF-8 (BOM or not), UTF-16, UTF-32, a PEP 263 coding line
    if source is None:
        yield RawRecord(str(path), error=why.replace("not text records", "not source code"))
        return
    if "\x00" in source:  # Python itself refuses such a file; a NUL is a corrupt copy, not code
        line = source.count("\n", 0, source.index("\x00")) + 1
        yield RawRecord(f"{path}:{line}", error="a NUL byte in source code (a corrupt or binary file; skipped)")
        return
    lines = source.splitlines()
    language = LANGUAGE_ALIASES.get(path.suffix.lstrip(".").lower())
    for start, end in split_snippets(lines, max_lines):
        code = "\n".join(lines[start:end]).strip("\n")
        if sum(1 for line in lines[start:end] if line.strip()) < min_lines:
            if code.strip():
                yield RawRecord(f"{path}:{start + 1}", error=f"snippet of fewer than {min_lines} non-blank lines")
            continue
        yield RawRecord(
            f"{path}:{start + 1}",
            data={"path": str(path), "start_line": start + 1, "end_line": end, "language": language, "code": code},
        )


def convert(record: dict, options: dict) -> Converted:
    code = record.get("code")
    if not isinstance(code, str):
        raise AdapterError("snippet has no code")
    return Converted(
        messages=[{"role": "assistant", "content": code}],
        task="code_snippet",
        language=record.get("language"),
        extra={k: record[k] for k in ("path", "start_line", "end_line") if k in record},
    )


def _validate(options: dict) -> str | None:
    for key in ("max_lines", "min_lines", "max_bytes"):
        if key in options and (not isinstance(options[key], int) or options[key] < 1):
            return f"options.{key} must be a positive integer"
    return None


ADAPTER = Adapter(
    name="code_files",
    description="source files (a directory or git checkout) cut into snippets of up to max_lines; language from the extension",
    convert=convert,
    options={"max_lines": f"longest snippet in lines (default {DEFAULT_MAX_LINES})",
             "min_lines": f"shortest snippet in non-blank lines (default {DEFAULT_MIN_LINES})",
             "max_bytes": f"larger files are skipped and counted, as generated or vendored code (default {DEFAULT_MAX_BYTES:,})"},
    suffixes=CODE_SUFFIXES,
    read=read,
    validate_options=_validate,
    whole_files=True,
)
