"""Reading raw records from local files and the Hugging Face Hub.

The convention every reader follows: a file is read record by record wherever that is possible,
and each record comes out as a RawRecord, either a dict (`data`) or the reason it could not be
read (`error`). Nothing is skipped silently, so `read == good + malformed` for every file:

- `where` is `file:line` (JSON lines, CSV: the physical line where the record starts, also
  when quoted fields span lines), `file#index` (items of a JSON array, Parquet rows, datasets),
  or the bare file for what concerns the whole file.
- A broken line, array item or row is one error record; the records around it are read.
- A broken stretch of a JSON array (a cut or mangled item) is one error record at its
  `file:line`; reading resumes at the next item that parses. What breaks the file's syntax but
  loses no item (a trailing or missing comma, an array never closed) is a note, not a record:
  the counts stay those of the records the file holds. Arrays appended one after another
  (`[...][...]`) are read in turn.
- JSON lines with several objects on one line (a writer that forgot the newline) are one record
  each.
- A CSV file may be comma-, tab-, semicolon- or pipe-separated (the header's separator is the
  one that splits it into the most columns), and may start with Excel's `sep=;` line.
- A truncated or corrupt `.gz` keeps the lines before the damage; the damage is one error record
  saying so. Compression is sniffed from the magic bytes, not the name: a plain file named `.gz`
  is read as plain text.
- UTF-8 (with or without a byte-order mark), UTF-16 and UTF-32 (with a BOM, or UTF-16 without
  one, recognised by its NUL pattern) are decoded. A file that is not text (an image, an
  archive, random bytes) is one error record; one line of NUL bytes in a text file is not that,
  it is one malformed line.
- A corrupt Parquet file is one error record; a corrupt row group is one, after the row groups
  before it.
- An empty file yields no record at all; the ingest stage turns a source of zero records into an
  error naming its files.

`expand_paths` turns a recipe's `path:` into files. An empty string expands to nothing (never to
the working directory), and directories are searched without entering run directories (those
holding `run.json` or `recipe.resolved.yaml`), hidden directories or `__pycache__`, so that a
source pointed at `.` does not read alchemist's own outputs.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import os
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alchemist.errors import UserError
from alchemist.paths import resolve_path
from alchemist.specs import QUOTES

RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".parquet", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
RUN_MARKERS = ("run.json", "recipe.resolved.yaml")  # a directory holding one is an alchemist run directory
HEAD_BYTES = 1 << 16  # how much of a file is sniffed for its encoding and for binary content
RESYNC_SPAN = 256  # lines a CSV record may span when reading resumes after a broken one


@dataclass(slots=True)
class RawRecord:
    where: str
    data: dict | None = None
    error: str | None = None
    note: str | None = None  # not a record: a flaw of the file that lost nothing (a trailing comma)


def has_suffix(path: Path, suffixes) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


# ---------------------------------------------------------------------------------------------
# paths


def is_run_dir(d: Path) -> bool:
    return any((d / m).is_file() for m in RUN_MARKERS)


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def expand_paths(text: str, recipe_path: Path | None, suffixes=RECORD_SUFFIXES) -> list[Path]:
    """A file, a glob or a directory (searched recursively for readable files), sorted. Empty
    text is no path at all. A file or directory that exists under the very name given is taken
    literally (`data[1].jsonl` is a file name, not a pattern). A directory a glob matches is
    searched like a named one. Below a directory or a glob's fixed part, run directories, hidden
    directories and `__pycache__` are not entered; a file or run directory named explicitly is
    read (a previous run's train.parquet is a fine source)."""
    if not text or not str(text).strip():
        return []
    p = resolve_path(text, recipe_path)
    if any(ch in str(p) for ch in "*?[") and not p.exists():
        root = _glob_root(p)
        # `in/*` takes the readable files of in/ (not its README.md); `in/*.txt` takes what it names
        named_suffix = "." in re.split(r"[*?\]]", p.name)[-1]
        out: list[Path] = []
        for x in sorted(glob.glob(str(p), recursive=True)):
            f = Path(x)
            if _inside_skipped(f if f.is_dir() else f.parent, root):
                continue
            if f.is_file() and (named_suffix or has_suffix(f, suffixes)):
                out.append(f)
            elif f.is_dir():
                out += _walk(f, suffixes)
        return sorted(dict.fromkeys(out))
    if p.is_dir():
        return _walk(p, suffixes)
    return [p] if p.is_file() else []


def _walk(p: Path, suffixes) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(p):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _skipped_dir(d) and not is_run_dir(here / d))
        out += [here / f for f in filenames if has_suffix(here / f, suffixes) and (here / f).is_file()]
    return sorted(out)


def no_match_reason(text: str, recipe_path: Path | None, suffixes, as_written: str | None = None) -> str:
    """Why a source's `path:` found no file, for the one-line error: what is there, what is read.
    `as_written` is the path as the recipe gives it (before it was made absolute)."""
    p = resolve_path(text, recipe_path)
    common = [s for s in (".py", ".js", ".ts", ".java", ".c", ".cpp", ".go", ".rs") if s in suffixes]
    ordered = common + [s for s in suffixes if s not in common]
    kinds = ", ".join(ordered) if len(ordered) <= 12 else ", ".join(ordered[:12]) + f", ... ({len(ordered)} kinds)"
    if p.is_dir():
        found = [f for f in p.rglob("*") if f.is_file()][:1000]
        seen = sorted({(f.suffix or f.name) for f in found})
        what = f"holds only {', '.join(seen[:5])} files" if seen else "is empty"
        return f"the directory {what}; this adapter reads {kinds}"
    if any(ch in str(p) for ch in "*?["):
        return f"the pattern matches no file this adapter reads ({kinds})"
    if p.exists():
        return "it is not a regular file"
    return _path_typo(as_written or text) or ("no such file or directory (relative paths are read from the working directory, "
                                "then the recipe's folder)")


def _path_typo(text: str) -> str | None:
    """What is wrong with a path that names nothing, when its text shows it."""
    name = os.path.basename(text.rstrip("/")) or text
    if text != text.strip():
        return f"the path has spaces or a line break around it ({text!r}); remove them"

    if re.match(r"^[a-z][a-z0-9+]*://", text, re.I):
        return ("a URL is not read; download the file and give its path, or give a Hugging Face dataset id "
                "as `hf: org/name` instead of `path:`")
    if re.search(r"\$\{?[A-Za-z_]|%[A-Za-z_]+%", text):
        return ("environment variables are not expanded in a recipe; write the path out, or let the shell "
                "expand it: --set 'sources.N.path=$VAR/...' with double quotes")
    if re.search(r"\{[^{}]*,[^{}]*\}", text):
        return "braces {a,b} are a shell's expansion, not a glob; give a list: path: [a, b]"
    if name[:1] in QUOTES or name[-1:] in QUOTES:

        return f"the path is wrapped in typographic quotes ({name[:1]} {name[-1:]}; pasted from a document?); use plain quotes or none"
    return None



def _glob_root(pattern: Path) -> Path:
    parts = []
    for part in pattern.parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _inside_skipped(d: Path, root: Path) -> bool:
    """Whether a directory between `root` (excluded) and `d` (included) is one not to enter."""
    try:
        rel = d.relative_to(root)
    except ValueError:
        return False
    cur = root
    for part in rel.parts:
        cur = cur / part
        if _skipped_dir(part) or is_run_dir(cur):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# bytes: compression, encoding, binary content


class _Gunzip(io.RawIOBase):
    """A gzip stream that returns everything it can decompress and then, instead of raising,
    ends and says why in `problem` (truncated, corrupt). Concatenated members are read in turn."""

    def __init__(self, path: Path):
        self.fh = open(path, "rb")
        self.d = zlib.decompressobj(31)
        self.pending, self.pos = b"", 0
        self.done = False
        self.problem: str | None = None
        self.consumed = 0  # compressed bytes fed so far
        self.between = b""  # bytes after a member's end, before the next one's header is complete
        self.trailing: str | None = None  # bytes after the last member that are not gzip: ignored, said

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self.pos >= len(self.pending) and not self.done:
            self._fill()
        n = min(len(b), len(self.pending) - self.pos)
        b[:n] = self.pending[self.pos : self.pos + n]
        self.pos += n
        return n

    def _fill(self) -> None:
        chunk = self.fh.read(1 << 16)
        self.pending, self.pos = b"", 0
        if not chunk:
            if not self.d.eof:
                self.pending = self.d.flush()
                self.problem = (f"file is truncated: the gzip stream stops after {self.consumed:,} compressed bytes, "
                                "before its end marker")
            self.done = True
            return
        self.consumed += len(chunk)
        out: list[bytes] = []
        saved = self.d.copy(), self.between
        try:
            self._decompress(chunk, out)
        except zlib.error:  # again byte by byte from the chunk's start, to keep all before the damage
            (self.d, self.between), out = saved, []
            try:
                for k in range(len(chunk)):
                    self._decompress(chunk[k : k + 1], out)
            except zlib.error as e:
                self.problem = f"gzip data is corrupt after {self.consumed - len(chunk) + k:,} compressed bytes ({e})"
                self.done = True
        self.pending = b"".join(out)

    def _decompress(self, chunk: bytes, out: list[bytes]) -> None:
        while chunk:
            if self.d.eof:  # between members: zero padding, or the next member's header
                self.between += chunk
                rest, chunk = self.between.lstrip(b"\x00"), b""
                if len(rest) < 2 and rest in (b"", b"\x1f"):
                    return  # wait for more bytes
                if not rest.startswith(b"\x1f\x8b"):  # a download tool's padding, a stray write: nothing lost
                    self.trailing = "bytes after the end of the gzip stream that are not gzip data were ignored"
                    self.done = True
                    return
                self.d, chunk, self.between = zlib.decompressobj(31), rest, b""
            out.append(self.d.decompress(chunk))
            chunk = self.d.unused_data if self.d.eof else b""

    def close(self) -> None:
        self.fh.close()
        super().close()


class _Source:
    """A file's (decompressed) bytes, re-openable, with what its first bytes say."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            self.gzipped = fh.read(2) == b"\x1f\x8b"
        with self.open() as fh:
            self.head = fh.read(HEAD_BYTES)
            self.head_problem = self.problem(fh)  # damage within the first bytes
        self.encoding = sniff_encoding(self.head)
        # UTF-8 whose other bytes are lone Windows-1252 characters: those are read as such (a
        # later stretch of real UTF-8 still decodes as UTF-8, never as mojibake)
        self.legacy = self.encoding == "utf-8" and legacy_8bit(self.head)

    def open(self) -> io.BufferedReader:
        if self.gzipped:
            self.gunzip = _Gunzip(self.path)  # the last one opened: what its `trailing` says is a note
            return io.BufferedReader(self.gunzip, buffer_size=1 << 16)
        return open(self.path, "rb")

    @staticmethod
    def problem(fh) -> str | None:
        raw = getattr(fh, "raw", None)
        return getattr(raw, "problem", None)

    def text(self, fh, newline: str | None) -> io.TextIOWrapper:
        enc = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        return io.TextIOWrapper(fh, encoding=enc, errors=_LONE_CP1252 if self.legacy else _MARK, newline=newline)


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def legacy_8bit(head: bytes) -> bool:
    """Whether text that is not UTF-8 is Windows-1252 (Excel's CSV, old editors' smart quotes):
    no valid UTF-8 multi-byte sequence at all, and its other bytes stand alone among ASCII, as
    accented letters and typographic quotes do. Stray binary bytes come in runs (or are bytes
    cp1252 leaves undefined) and stay malformed lines of a UTF-8 file."""
    try:
        head.decode("utf-8")
        return False
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3 and e.reason == "unexpected end of data":
            return False  # a UTF-8 character cut by the sniffed length
    if _UTF8_MULTIBYTE.search(head):
        return False
    runs = _HIGH_RUN.findall(head)
    return all(len(r) == 1 and r[0] not in _CP1252_UNDEFINED for r in runs)


def sniff_encoding(head: bytes) -> str:
    """utf-8 (also with a BOM), utf-16/utf-32 (the codec reads the BOM), or utf-16-le/-be for
    UTF-16 without a BOM: mostly-ASCII text then has a NUL in every other byte, and only there."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
        if odd_nul > 0.4 and even_nul < 0.02:
            return "utf-16-le"
        if even_nul > 0.4 and odd_nul < 0.02:
            return "utf-16-be"
    return "utf-8"


# Undecodable bytes become lone surrogates U+DC00+byte (surrogateescape for any byte and any
# codec), so a line that holds them is reported as malformed instead of stopping the file.
_MARK = "alchemist-mark-undecodable"
codecs.register_error(_MARK, lambda e: ("".join(chr(0xDC00 + b) for b in e.object[e.start : e.end]), e.end))
_MARKED = re.compile("[\udc00-\udcff]")


def _lone_cp1252(e: UnicodeDecodeError) -> tuple[str, int]:
    """Undecodable bytes that stand alone among ASCII as Windows-1252 characters (é, “, ”);
    others marked as by _MARK."""
    data, out = e.object, []
    for k in range(e.start, e.end):
        b = data[k]
        alone = (k == 0 or data[k - 1] < 0x80) and (k + 1 >= len(data) or data[k + 1] < 0x80)
        out.append(bytes([b]).decode("cp1252") if alone and b >= 0x80 and b not in _CP1252_UNDEFINED else chr(0xDC00 + b))
    return "".join(out), e.end


_LONE_CP1252 = "alchemist-lone-cp1252"
codecs.register_error(_LONE_CP1252, _lone_cp1252)


_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"PK\x03\x04", "a zip archive"), (b"%PDF", "a PDF document"), (b"\x7fELF", "an executable"),
          (b"BZh", "bzip2-compressed"), (b"\xfd7zXZ\x00", "xz-compressed"), (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
          (b"7z\xbc\xaf", "a 7z archive"),
          (b"\x1f\x8b", "gzip data inside gzip: compressed twice; decompress it once"), (b"PAR1", "Parquet data; name it .parquet"), (b"SQLite format 3", "an SQLite database"))
# C0 control bytes that text does not hold (tab, LF, VT, FF, CR and ESC are text)
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 11, 12, 13, 27))


def binary_reason(head: bytes, encoding: str = "utf-8") -> str | None:
    """Why these first bytes are not text, or None. One line of NUL bytes among text lines is a
    malformed line, not a binary file: the file is binary when most of its lines are not text."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"binary file ({kind}), not text records"
    if encoding != "utf-8":
        text = head[: len(head) - len(head) % 4].decode(encoding, errors="replace")
        odd = sum(1 for ch in text if not (ch.isprintable() or ch in "\t\n\r\f\v"))
        if odd * 10 > len(text):
            return f"binary file (not text in {_codec_label(encoding)}), not text records"
        return None
    lines = [line for line in head.split(b"\n") if line.strip()]
    if not lines:
        return None
    bad = sum(1 for line in lines if _binary_line(line))
    if bad * 2 > len(lines):
        return f"binary file ({bad} of the first {len(lines)} lines hold NUL or control bytes), not text records"
    return None


def _binary_line(line: bytes) -> bool:
    if b"\x00" in line:
        return True
    controls = len(line) - len(line.translate(None, _CONTROL))
    return controls * 20 > len(line)


# PEP 263 (and Emacs/Vim): a coding declaration in a comment on the first or second line
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def declared_encoding(raw: bytes) -> str | None:
    """The encoding a source file declares on its first two lines (PEP 263), if any."""
    for line in raw.split(b"\n", 2)[:2]:
        m = _CODING.match(line)
        if m:
            return m.group(1).decode("ascii")
        if line.strip() and not line.lstrip().startswith(b"#"):
            return None  # the declaration must come before any code
    return None


def decode_text(raw: bytes) -> tuple[str | None, str | None]:
    """Whole-file text (source code) as (text, None) or (None, why not): UTF-8 (BOM or not),
    UTF-16/32 decoded, and the encoding a PEP 263 coding line declares (Latin-1 sources are
    common in old code bases); binary content and undecodable bytes are reasons."""
    encoding = sniff_encoding(raw[:HEAD_BYTES])
    reason = binary_reason(raw[:HEAD_BYTES], encoding)
    if reason:
        return None, reason
    declared = declared_encoding(raw) if encoding == "utf-8" and not raw.startswith(codecs.BOM_UTF8) else None
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            return None, f"declares an unknown encoding '{declared}' on its coding line"
        encoding = declared
    try:
        return raw.decode("utf-8-sig" if encoding == "utf-8" else encoding), None
    except UnicodeDecodeError as e:
        said = " (as its coding line declares)" if declared else ""
        return None, f"not valid {_codec_label(encoding)}{said} ({e.reason} at byte {e.start})"


def _codec_label(encoding: str) -> str:
    return encoding.split("-sig")[0].upper().replace("-LE", "").replace("-BE", "")


# ---------------------------------------------------------------------------------------------
# files


def iter_file(path: Path) -> Iterator[RawRecord]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _iter_parquet(path)
        return
    try:
        src = _Source(path)
    except OSError as e:
        yield RawRecord(str(path), error=f"cannot read file: {e}")
        return
    if not src.head:
        if src.head_problem:  # a .gz broken before its first byte of content
            yield RawRecord(str(path), error=src.head_problem)
        return  # an empty file holds no records (ingest says so for a source with none at all)
    reason = binary_reason(src.head, src.encoding)
    if reason:
        yield RawRecord(str(path), error=reason)
        return
    base = name.removesuffix(".gz")
    if base.endswith((".csv", ".tsv")):
        yield from _iter_csv(src)
    elif (base.endswith(".json") and _looks_like_document(src)) or _opens_an_array_alone(src):
        yield from _iter_json_document(src)
    else:  # .jsonl, .ndjson, and .json files that are really JSON lines (common on the Hub)
        yield from _iter_jsonl(src)
    trailing = getattr(getattr(src, "gunzip", None), "trailing", None)
    if trailing:
        yield RawRecord(str(path), note=trailing)


def _opens_an_array_alone(src: _Source) -> bool:
    """A `.jsonl` whose first line is a lone `[` or `{`: a JSON array written one item a line, or
    pretty-printed objects one after another (what `jq '.[]'` writes)."""
    return _head_text(src).lstrip(" \t\r\n\ufeff").split("\n", 1)[0].strip() in ("[", "{")


def _head_text(src: _Source) -> str:
    enc = "utf-8-sig" if src.encoding == "utf-8" else src.encoding
    return src.head.decode(enc, errors=_MARK)


def _looks_like_document(src: _Source) -> bool:
    """A `.json` file is one JSON document (an array, a wrapper object, pretty-printed objects)
    unless it is JSON lines: one of its first lines is a complete object, or two lines start
    with an object's opening `{"` at the margin (a pretty-printed document has `{` alone on its
    line; broken lines, even the first ones, are then still one record each)."""
    text = _head_text(src).lstrip(" \t\r\n")
    if text[:1] not in ("[", "{"):
        return False
    if text[0] == "[":
        return True
    lines = [line for line in text.split("\n", 200)[:200] if line.strip()]
    if len(lines) < 2:
        return True
    if sum(1 for line in lines if re.match(r'\{\s*"', line)) >= 2:
        return False
    for line in lines[:2]:
        try:
            if isinstance(json.loads(line), dict):
                return False
        except (ValueError, RecursionError):
            pass
    return True


def _iter_jsonl(src: _Source) -> Iterator[RawRecord]:
    """JSON lines, one record a line. A record whose line ends before its JSON does (a raw
    newline written into a string) is one malformed record together with the lines that
    continue it, up to the next line that opens an object."""
    path = src.path
    lineno, cut = 0, None
    held: RawRecord | None = None  # a broken record whose line ended inside its JSON
    held_from = 0

    def merged(record: RawRecord, upto: int) -> RawRecord:
        if upto == held_from:
            return record
        return RawRecord(record.where, error=f"{record.error} (lines {held_from} to {upto} read as one broken record: "
                                             "a newline inside a string?)")

    last_line = 0
    ended: list[str | None] = []  # the damage the stream reports at its end
    for lineno, line, record in _jsonl_lines(src, ended):
        if record is None:  # the damage of a .gz cut this line (the last one): reported below
            cut = lineno
            continue
        if held is not None:
            if line is not None and not line.lstrip().startswith("{") and record.error is not None:
                last_line = lineno
                continue  # the held record goes on
            yield merged(held, last_line)
            held = None
        if record.error is not None and line is not None and _unfinished(line):
            held, held_from, last_line = record, lineno, lineno
            continue
        yield record
    if held is not None:
        yield merged(held, last_line)
    problem = ended[0] if ended else None
    if problem:
        at = cut or lineno + 1
        yield RawRecord(f"{path}:{at}", error=f"{problem}; the lines before line {at} were read")


def _jsonl_lines(src: _Source, ended: list) -> Iterator[tuple[int, str | None, RawRecord | None]]:
    """(line number, text, its record) for each non-blank line; record None for a line the
    damage of a .gz cut. At the end, the stream's damage (or None) is appended to `ended`."""
    path = src.path
    with src.open() as fh:
        if src.encoding == "utf-8":  # bytes lines, so that a bad line says at which byte
            for lineno, raw in enumerate(fh, 1):
                if raw[-1:] != b"\n" and src.problem(fh):
                    yield lineno, None, None
                    break
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    line = raw.decode("utf-8", errors=_LONE_CP1252) if src.legacy else None
                    if line is None or _MARKED.search(line):
                        yield lineno, None, RawRecord(f"{path}:{lineno}", error=f"not valid UTF-8 ({e.reason} at byte {e.start})")
                        continue
                if line.isspace():
                    continue
                line = line.removeprefix("\ufeff")  # on any line: files joined with `cat` keep their BOMs

                for record in _json_records(f"{path}:{lineno}", line):
                    yield lineno, line, record
        else:
            for lineno, line in enumerate(src.text(fh, newline="\n"), 1):
                if line[-1:] != "\n" and src.problem(fh):
                    yield lineno, None, None
                    break
                if _MARKED.search(line):
                    yield lineno, None, RawRecord(f"{path}:{lineno}", error=f"not valid {_codec_label(src.encoding)}")
                elif not line.isspace():
                    for record in _json_records(f"{path}:{lineno}", line):
                        yield lineno, line, record
        ended.append(src.problem(fh))


def _unfinished(line: str) -> bool:
    """Whether a line that is not valid JSON stops inside its object (the record goes on)."""
    text = line.rstrip("\r\n")
    if not text.lstrip().startswith("{"):
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return e.msg.startswith("Unterminated string") or e.pos >= len(text.rstrip())
    except RecursionError:
        return False
    return False


def _json_records(where: str, line: str) -> list[RawRecord]:
    """The record of one line; several when the line holds objects one after another."""
    try:
        obj = _loads(line)
    except json.JSONDecodeError as e:
        if "\x00" in line:
            return [RawRecord(where, error="NUL bytes (binary data), not a JSON record")]
        objects = _objects_in_a_row(line) if e.msg == "Extra data" else None
        if objects:
            return [RawRecord(where, data=o) for o in objects]
        return [RawRecord(where, error=f"not valid JSON: {e.msg.removesuffix(' at')} at column {e.colno}")]

    except RecursionError:
        return [RawRecord(where, error="JSON nested too deeply")]
    return [_item(where, obj)]


def _loads(text: str):
    """json.loads of one line, also with a raw tab inside a string (writers that build JSON by
    hand leave the code's tabs unescaped; on one line, what the string holds is plain)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        if not e.msg.startswith("Invalid control character") or "\x00" in text:
            raise
        return json.loads(text, strict=False)


def _objects_in_a_row(line: str) -> list[dict] | None:
    """`{...}{...}` or `{...}, {...}` on one line (a writer that lost its newlines): the objects,
    or None when the line is not objects only."""
    decoder, out = json.JSONDecoder(), []
    pos = _WS.match(line).end()
    while pos < len(line):
        try:
            obj, end = decoder.raw_decode(line, pos)
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(obj, dict):
            return None
        out.append(obj)
        pos = _WS_COMMAS.match(line, end).end()
    return out


_WS = re.compile(r"[ \t\r\n]*")
_WS_COMMAS = re.compile(r"[ \t\r\n,]*")
# where reading resumes after a broken item, in a compact (one-line) document: an object after a
# comma or "[" (in a document with one item per line, the next object at the items' indentation)
_RESYNC_COMPACT = re.compile(r"(?<=[,\[])[ \t\r\n]*\{")
_FIRST_KEY = re.compile(r"""\{[ \t\r\n]*("(?:[^"\\]|\\.){1,200}"|'(?:[^'\\]|\\.){1,200}')[ \t\r\n]*:""")



def _iter_json_document(src: _Source) -> Iterator[RawRecord]:
    """A JSON array (or a `{"data": [...]}` wrapper, or objects one after another), item by item.
    A valid file is parsed at once; a broken one is recovered item by item with raw_decode."""
    path = src.path
    with src.open() as fh:
        text = src.text(fh, newline="").read()
        problem = src.problem(fh)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not problem and not _MARKED.search(text):
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError):

            pass  # recovered below, item by item
        else:
            if isinstance(doc, dict):  # {"data": [...]} style wrappers
                records = [k for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
                lists = [v for v in doc.values() if isinstance(v, list)]
                lists = lists if lists == [[]] else []  # {"data": []} holds no record; {..., "tags": ["a"]} is one
                if len(records) > 1:  # {"train": [...], "test": [...]}: never mix them up
                    yield RawRecord(str(path), error=f"one JSON object holding {len(records)} lists of records "
                                                     f"({', '.join(records[:5])}): which to read is unclear; "
                                                     "save the one to read as its own file")
                    return
                doc = doc[records[0]] if records else lists[0] if len(lists) == 1 else [doc]
            for i, obj in enumerate(doc):
                yield _item(f"{path}#{i}", obj)
            return
    if not problem:
        yield from _recover(path, text, _codec_label(src.encoding))
        return
    last = None  # a truncated .json.gz: the cut item and the truncation are one record
    for record in _recover(path, text, _codec_label(src.encoding)):
        if record.note:
            yield record
            continue
        if last is not None:
            yield last
        last = record
    if last is not None and last.error is None:
        yield last
    where = last.where if last is not None and last.error else f"{path}:{text.count(chr(10)) + 1}"
    yield RawRecord(where, error=f"{problem}; the items before it were read")


def _item(where: str, obj) -> RawRecord:
    if isinstance(obj, dict):
        return RawRecord(where, data=obj)
    return RawRecord(where, error=f"expected a JSON object, got {type(obj).__name__}")


_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
# an object whose last key, after keys with plain values, opens the array of records
_WRAPPER = re.compile(r"\{(?:[ \t\r\n]*" + _JSON_STRING + r"[ \t\r\n]*:[ \t\r\n]*(?:" + _JSON_STRING
                      + r"|-?[0-9.eE+-]+|true|false|null)[ \t\r\n]*,)*[ \t\r\n]*" + _JSON_STRING
                      + r"[ \t\r\n]*:[ \t\r\n]*\[(?=[ \t\r\n]*\{)")  # (an array of objects: `"tags": ["a"]` is a field)



def _recover(path: Path, text: str, codec: str) -> Iterator[RawRecord]:
    """Items of a broken JSON array or stream of objects: every item that parses is a record,
    each broken stretch between them is one error record at its line. After a broken stretch,
    reading resumes at the next object that parses and starts where items start: at the first
    item's indentation when items begin lines (pretty-printed or one per line), else after a
    comma."""
    decoder = json.JSONDecoder()
    n = len(text)
    pos = _WS.match(text, 0).end()
    wrapper = _WRAPPER.match(text, pos)  # {"version": 1, "data": [ ... ]}: the items of its array
    if wrapper:
        pos = wrapper.end() - 1
    in_array = text.startswith("[", pos)
    if in_array:
        pos = _WS.match(text, pos + 1).end()
    line_start = text.rfind("\n", 0, pos) + 1
    indent = text[line_start:pos]
    resync = re.compile("^" + re.escape(indent) + r"\{", re.M) if not indent.strip() and text.find("\n", pos) >= 0 and (
        line_start > 0 or not in_array) else _RESYNC_COMPACT
    # Where the next item starts even when it is broken too, so that two broken items side by
    # side are two records: in a document with one item per line, every line that opens an
    # object at the items' indentation; in a compact one, an object that opens with the same
    # first key as the first item (records of a corpus share their fields and their order).
    # (in either quotes: a scraper that printed Python dicts has one broken record per item)
    first_key = _FIRST_KEY.match(text, pos)

    line_mode = resync is not _RESYNC_COMPACT
    i = 0
    to_end = False  # a broken stretch ran to the end of the file

    def item_starts_here(start: int) -> bool:
        if line_mode:
            return True
        key = _FIRST_KEY.match(text, start)
        return first_key is not None and key is not None and key.group(1)[1:-1] == first_key.group(1)[1:-1]

    def line_of(p: int) -> int:
        return text.count("\n", 0, p) + 1

    def where_is(p: int) -> tuple[int, int]:
        return line_of(p), p - text.rfind("\n", 0, p)

    def broken(p: int, why: str, at: int | None = None) -> tuple[RawRecord, int]:
        """An error record for the stretch from p to the next item that parses, and where that is."""
        nonlocal to_end
        m = resync.search(text, p + 1)
        while m:
            start = m.end() - 1
            if item_starts_here(start):
                break
            try:
                decoder.raw_decode(text, start)
                break
            except (json.JSONDecodeError, RecursionError):
                m = resync.search(text, start + 1)
        nxt = m.end() - 1 if m else n
        to_end = m is None
        (line, col), (eline, ecol) = where_is(p), where_is(p if at is None else at)
        skipped = "the rest of the file" if to_end else f"the text up to line {line_of(nxt)}"
        why = why.removesuffix(" at")  # json's "Invalid control character at"
        return RawRecord(f"{path}:{line}", error=f"not valid JSON: {why} at line {eline} column {ecol} "
                                                 f"(in the item at line {line} column {col}; {skipped} skipped)"), nxt

    while pos < n:
        if in_array and text.startswith("]", pos):
            pos = _WS.match(text, pos + 1).end()
            if wrapper and text.startswith("}", pos):
                pos = _WS.match(text, pos + 1).end()
            elif text.startswith("[", pos):  # another array appended to the file: its items too
                pos = _WS.match(text, pos + 1).end()
                continue
            if pos < n:
                yield broken(pos, "extra data after the closing ']'")[0]
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            record, pos = broken(pos, e.msg, e.pos)
            i += 1
            yield record
            continue
        except RecursionError:
            record, pos = broken(pos, "nested too deeply")
            i += 1
            yield record
            continue
        if _MARKED.search(text, pos, end):
            yield RawRecord(f"{path}:{line_of(pos)}", error=f"item {i} is not valid {codec}")
        else:
            yield _item(f"{path}#{i}", obj)
        i += 1
        if not in_array:  # objects one after another (commas between them tolerated)
            pos = _WS_COMMAS.match(text, end).end()
            continue
        pos = _WS.match(text, end).end()
        if text.startswith(",", pos):
            comma = pos
            pos = _WS.match(text, pos + 1).end()
            if text.startswith("]", pos):  # nothing is lost, but the file is not JSON: a note
                line, col = where_is(comma)
                yield RawRecord(f"{path}:{line}", note=f"not valid JSON: trailing comma before ']' at line {line} column {col} "
                                                     "(no item lost)")
        elif text.startswith("{", pos):  # a missing comma: a note, like a trailing one
            line, col = where_is(pos)
            yield RawRecord(f"{path}:{line}", note=f"not valid JSON: missing ',' before the item at line {line} column {col} "
                                                 "(the items on both sides were read)")
        elif pos < n and not text.startswith("]", pos):
            record, pos = broken(pos, "expected ',' or ']' after an item")
            yield record
    if in_array and not to_end:  # every item parsed: what may be missing after them cannot be counted
        yield RawRecord(f"{path}:{line_of(n)}", note="not valid JSON: the array is not closed (is the file cut short "
                                                    "after an item?)")


def _iter_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        yield RawRecord(str(path), error=f"not a readable Parquet file: {_first_line(e)}")
        return
    i = 0
    for group in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(group).num_rows
        try:
            batches = [b.to_pylist() for b in pf.iter_batches(batch_size=4096, row_groups=[group])]
        except Exception as e:  # a corrupt page: decoding errors of several types
            yield RawRecord(f"{path}#{i}", error=f"Parquet row group {group} (rows {i} to {i + rows - 1}) is corrupt: {_first_line(e)}")
            i += rows
            continue
        for batch in batches:
            for row in batch:
                yield RawRecord(f"{path}#{i}", data=row)
                i += 1


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


class _Lines:
    """Physical lines of a text stream, counted, so that a CSV record cites the line it starts on.
    Lines can be handed out again (`replay`): after a broken record, reading restarts at the
    line after the one it started on, to find where the next good record begins."""

    def __init__(self, text):
        self.text = text
        self.count = 0  # physical lines handed out so far
        self.last = ""
        self.taken: list[str] = []  # lines handed out since the last `mark`
        self.again: list[str] = []  # lines to hand out again, last first
        self.limit: int | None = None  # most lines one record may take (while resynchronizing)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.limit is not None and len(self.taken) >= self.limit:
            raise StopIteration  # mid-record, the csv reader calls it "unexpected end of data"
        line = self.again.pop() if self.again else next(self.text)
        self.count += 1
        self.last = line
        self.taken.append(line)
        return line

    def mark(self) -> None:
        self.taken = []

    def replay(self, lines: list[str]) -> None:
        self.again.extend(reversed(lines))
        self.count -= len(lines)


def _iter_csv(src: _Source) -> Iterator[RawRecord]:
    """Rows of a CSV file with a header. Quotes are parsed strictly, so that a quote left open
    (a scraper's unescaped `"`) is caught where it starts instead of pairing with the next
    record's quotes and turning the rest of the file into junk rows: the broken stretch, from
    the record's first line to the next line where a well-formed record of the header's width
    starts, is one malformed record; reading goes on from there."""
    path = src.path
    csv.field_size_limit(sys.maxsize)
    codec = _codec_label(src.encoding)
    with src.open() as fh:
        lines = _Lines(iter(src.text(fh, newline="")))
        reader = csv.reader(lines, strict=True, delimiter=_csv_delimiter(lines))
        header, cut = None, None

        def one() -> tuple[int, list[str] | None, str | None] | None:
            """(first line, fields or None, why not) of the next record; None at the end."""
            lines.mark()
            start = lines.count + 1
            try:
                return start, next(reader), None
            except StopIteration:
                return None
            except csv.Error as e:
                return start, None, f"not valid CSV: {e}"

        while True:
            got = one()
            if got is None:
                break
            start, row, why = got
            where = f"{path}:{start}"
            if not lines.last.endswith(("\n", "\r")) and src.problem(fh):
                cut = start  # the row the damage cut: reported below
                break
            if row is not None and not row:
                continue
            if header is None:
                if row is None:
                    yield RawRecord(where, error=why)
                else:  # names as a hand-made header spaces them: ` instruction , output `
                    header = [h.strip() for h in row]
                    twice = sorted({h for h in header if header.count(h) > 1})
                    if twice:  # a row would keep one of the two columns silently
                        yield RawRecord(where, error=f"the header names {', '.join(repr(h) for h in twice)} twice; "
                                                     "rename one of the columns")
                        return
                continue

            if row is not None and len(lines.taken) > 1 and len(row) < len(header):
                why = f"{len(row)} fields, fewer than the header's {len(header)}, over {len(lines.taken)} lines"
            if why is not None:  # quoting went wrong
                # resynchronize: the next line from which a record of the header's width parses
                # (a candidate may span RESYNC_SPAN lines at most, so that a file of quotes that
                # never close is not read to its end once per line)
                lines.replay(lines.taken[1:])
                lines.limit = RESYNC_SPAN
                while True:
                    got = one()
                    if got is None or (got[1] is not None and len(got[1]) == len(header)):
                        break
                    lines.replay(lines.taken[1:])
                lines.limit = None
                upto = got[0] - 1 if got is not None else lines.count
                span = f"line {start}" if upto <= start else f"lines {start} to {upto}"
                yield RawRecord(where, error=f"{why} (a quote left open? {span} read as one broken record)")
                if got is None:
                    break
                start, row, _ = got
                where = f"{path}:{start}"
            joined = "".join(row)
            if len(row) > len(header) and not any(v.strip() for v in row[len(header):]):
                row = row[: len(header)]  # empty cells past the header's columns (spreadsheet exports)
            if len(row) > len(header):

                yield RawRecord(where, error=f"{len(row)} fields, more than the header's {len(header)}")
            elif "\x00" in joined:
                yield RawRecord(where, error="NUL bytes (binary data), not a CSV record")
            elif _MARKED.search(joined):
                bad = next(h for h, v in zip(header, row) if _MARKED.search(v))
                yield RawRecord(where, error=f"field '{bad}' is not valid {codec}")
            else:
                yield RawRecord(where, data=dict(zip(header, row + [None] * (len(header) - len(row)))))
        problem = src.problem(fh)
        if problem:
            line = cut or lines.count + 1
            yield RawRecord(f"{path}:{line}", error=f"{problem}; the records before line {line} were read")


_EXCEL_SEP = re.compile(r'^"?sep=(.)"?[ \t]*\r?\n?$')


def _csv_delimiter(lines: _Lines) -> str:
    """The separator: what Excel's `sep=X` first line says (that line is then consumed), else
    the one of , TAB ; | that splits the header into the most columns (a comma on a tie)."""
    try:
        first = next(lines)
    except StopIteration:
        return ","
    m = _EXCEL_SEP.match(first)
    if m:
        return m.group(1)
    lines.replay([first])
    counts = {}
    for d in (",", "\t", ";", "|"):
        try:
            counts[d] = len(next(csv.reader([first], delimiter=d)))
        except (csv.Error, StopIteration):
            counts[d] = 0
    return max(counts, key=counts.get)


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
