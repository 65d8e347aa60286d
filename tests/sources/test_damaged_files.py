"""Damaged and unusual files are read record by record: what can be read is kept, each broken
part is one malformed record with file:line, and `read == good + malformed` always holds."""

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alchemist.sources import iter_file
from alchemist.sources.readers import expand_paths

LINES = [{"instruction": f"Write function {i}.", "output": f"def f{i}():\n    return {i}\n"} for i in range(3)]


def read(path):
    """Records (notes about the file, which are no record, left out): the good and the bad."""
    out = [r for r in iter_file(path) if r.note is None]
    good = [r for r in out if r.data is not None]
    bad = [r for r in out if r.error is not None]
    assert len(out) == len(good) + len(bad)  # every record is one or the other
    return out, good, bad


def notes(path) -> list:
    return [r for r in iter_file(path) if r.note is not None]


def jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_a_line_of_nul_bytes_is_one_malformed_line_not_a_binary_file(tmp_path):
    p = tmp_path / "nul.jsonl"
    p.write_bytes(jsonl(LINES[:2]).encode() + b"\x00" * 4096 + b"\n" + jsonl(LINES[2:]).encode())
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (4, 3, 1)
    assert [r.data for r in good] == LINES
    assert [r.where for r in good] == [f"{p}:1", f"{p}:2", f"{p}:4"]
    assert bad[0].where == f"{p}:3" and "NUL bytes" in bad[0].error


@pytest.mark.parametrize("name, data", [
    ("png.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8),
    ("random.jsonl", random.Random(0).randbytes(20000)),
    ("random.csv", random.Random(1).randbytes(20000)),
    ("random.json", b"[" + random.Random(2).randbytes(20000)),
])
def test_a_binary_file_is_one_malformed_record(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    out, good, bad = read(p)
    assert (len(out), len(bad)) == (1, 1)
    assert bad[0].where == str(p) and bad[0].error.startswith("binary file (") and "not text records" in bad[0].error


def test_json_array_with_a_trailing_comma_keeps_every_item(tmp_path):
    p = tmp_path / "trailing.json"
    p.write_text("[\n" + ",\n".join(json.dumps(r) for r in LINES) + ",\n]\n")
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (3, 3, 0)  # the comma is no record: a note
    assert [r.data for r in good] == LINES and [r.where for r in good] == [f"{p}#0", f"{p}#1", f"{p}#2"]
    [note] = notes(p)
    assert note.where == f"{p}:4" and "trailing comma before ']' at line 4" in note.note


def test_pretty_printed_array_with_a_broken_item_loses_only_that_item(tmp_path):
    p = tmp_path / "broken.json"
    items = [json.dumps(r, indent=2).replace("\n", "\n  ") for r in LINES + LINES[:1]]
    items[1] = items[1].replace('"output":', '"output"')  # a missing colon inside item 1
    p.write_text("[\n  " + ",\n  ".join(items) + "\n]\n")
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (4, 3, 1)
    assert [r.data for r in good] == [LINES[0], LINES[2], LINES[0]]
    assert bad[0].where == f"{p}:6"  # item 1 starts on line 6: "[", then four lines of item 0
    assert "Expecting ':' delimiter at line 8" in bad[0].error and "up to line 10" in bad[0].error


def test_compact_array_with_a_missing_comma_and_a_cut_end(tmp_path):
    p = tmp_path / "compact.json"
    p.write_text('[{"x": 1} {"x": 2}, {"x": 3}, {"x": ')
    out, good, bad = read(p)
    assert [r.data for r in good] == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert len(out) == 4 and len(bad) == 1
    assert [n.where for n in notes(p)] == [f"{p}:1"] and "missing ','" in notes(p)[0].note
    assert "Expecting value" in bad[0].error and "rest of the file" in bad[0].error


def test_truncated_json_array_keeps_the_items_before_the_cut(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('[{"x": 1},\n {"x": ')
    out, good, bad = read(p)
    assert [r.data for r in good] == [{"x": 1}] and len(bad) == 1 and len(out) == 2
    assert bad[0].where == f"{p}:2" and "the rest of the file skipped" in bad[0].error


@pytest.mark.parametrize("encoding, bom", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-32-le", b"\xff\xfe\x00\x00"),
])
def test_utf16_utf32_and_bom_files_are_decoded(tmp_path, encoding, bom):
    rows = LINES + [{"instruction": "Écris une fonction « double » 🙂", "output": "def double(x):\n    return 2 * x\n"}]
    p = tmp_path / "u.jsonl"
    p.write_bytes(bom + jsonl(rows).encode(encoding))
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (4, 4, 0)
    assert [r.data for r in good] == rows and good[3].where == f"{p}:4"
    arr = tmp_path / "u.json"
    arr.write_bytes(bom + json.dumps(rows, indent=1, ensure_ascii=False).encode(encoding))
    assert [r.data for r in iter_file(arr)] == rows
    c = tmp_path / "u.csv"
    c.write_bytes(bom + 'instruction,output\n"multi\nline",x = 1\nÉté,y\n'.encode(encoding))
    assert [(r.where, r.data) for r in iter_file(c)] == [
        (f"{c}:2", {"instruction": "multi\nline", "output": "x = 1"}), (f"{c}:4", {"instruction": "Été", "output": "y"})]


def test_utf16_with_a_bad_line_is_one_malformed_line(tmp_path):
    p = tmp_path / "bad16.jsonl"
    p.write_bytes(b"\xff\xfe" + jsonl(LINES[:1]).encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le")
                  + jsonl(LINES[1:]).encode("utf-16-le"))  # a lone high surrogate on line 2
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (4, 3, 1)
    assert bad[0].where == f"{p}:2" and bad[0].error == "not valid UTF-16"


def _gzip_cut(tmp_path, name, text, keep):
    full = gzip.compress(text.encode(), mtime=0)
    p = tmp_path / name
    p.write_bytes(full[: int(len(full) * keep)])
    return p


def test_truncated_jsonl_gz_keeps_the_lines_before_the_cut(tmp_path):
    rows = [{"instruction": f"Task {i}: " + "word " * (i % 50), "output": f"x = {random.Random(i).random()}"} for i in range(5000)]
    p = _gzip_cut(tmp_path, "cut.jsonl.gz", jsonl(rows), keep=0.5)
    out, good, bad = read(p)
    k = len(good)
    assert 1000 < k < 4900 and len(bad) == 1 and len(out) == k + 1
    assert [r.data for r in good] == rows[:k]  # the lines before the cut, in order, none lost
    assert [r.where for r in good] == [f"{p}:{i}" for i in range(1, k + 1)]
    assert bad[0].where == f"{p}:{k + 1}" and bad[0].error.startswith("file is truncated")
    assert f"before line {k + 1} were read" in bad[0].error


def test_truncated_csv_gz_and_corrupt_gz(tmp_path):
    rows = "".join(f"task {i},x = {i}\n" for i in range(5000))
    p = _gzip_cut(tmp_path, "cut.csv.gz", "instruction,output\n" + rows, keep=0.6)
    out, good, bad = read(p)
    assert len(bad) == 1 and bad[0].error.startswith("file is truncated") and len(out) == len(good) + 1
    assert [r.data["instruction"] for r in good] == [f"task {i}" for i in range(len(good))]
    assert bad[0].where == f"{p}:{len(good) + 2}"  # the header is line 1
    rng = random.Random(3)
    rows = [{"instruction": " ".join(rng.choice(("sort", "list", "tree", "sum", "graph")) for _ in range(30))} for _ in range(4000)]
    full = bytearray(gzip.compress(jsonl(rows).encode(), mtime=0))
    full[len(full) // 2 : len(full) // 2 + 64] = b"\xff" * 64
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(bytes(full))
    out, good, bad = read(corrupt)
    damage = [r for r in bad if "gzip data is corrupt" in r.error]
    assert len(damage) == 1 and out[-1] is damage[0] and damage[0].where == f"{corrupt}:{len(out)}"
    assert 1000 < len(good) and [r.data for r in good[:1000]] == rows[:1000]


def test_concatenated_gzip_members_and_zero_padding(tmp_path):
    p = tmp_path / "members.jsonl.gz"
    p.write_bytes(gzip.compress(jsonl(LINES[:2]).encode()) + gzip.compress(jsonl(LINES[2:]).encode()) + b"\x00" * 512)
    out, good, bad = read(p)
    assert [r.data for r in out] == LINES and not bad


def test_plain_file_named_gz_is_read_as_plain_text(tmp_path):
    p = tmp_path / "plain.jsonl.gz"
    p.write_text(jsonl(LINES))
    out, good, bad = read(p)
    assert [r.data for r in out] == LINES and not bad
    gz = tmp_path / "really.jsonl"  # and a gzipped file without the suffix is decompressed
    gz.write_bytes(gzip.compress(jsonl(LINES).encode()))
    assert [r.data for r in iter_file(gz)] == LINES


def test_csv_errors_cite_the_line_where_the_record_starts(tmp_path):
    p = tmp_path / "lines.csv"
    p.write_text('instruction,output\n'            # 1
                 '"a question\nover three\nlines",ok\n'  # 2-4
                 '"too many\nfields",x,y\n'         # 5-6
                 '\n'                               # 7, blank
                 'short\n'                          # 8: the missing field is None
                 'last,"answer\nspans two"\n')      # 9-10
    out, good, bad = read(p)
    assert (len(out), len(good), len(bad)) == (4, 3, 1)
    assert [r.where for r in good] == [f"{p}:2", f"{p}:8", f"{p}:9"]
    assert good[1].data == {"instruction": "short", "output": None}
    assert bad[0].where == f"{p}:5" and "3 fields, more than the header's 2" in bad[0].error


def test_corrupt_parquet_is_one_malformed_record(tmp_path):
    table = pa.table({"instruction": [f"write function number {i} " * 20 for i in range(200)],
                      "output": [f"def f{i}(): return {i}" for i in range(200)]})
    ok = tmp_path / "ok.parquet"
    pq.write_table(table, ok, row_group_size=100, compression="snappy")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(ok.read_bytes()[:-100])
    out, good, bad = read(cut)
    assert len(out) == 1 and bad[0].where == str(cut) and bad[0].error.startswith("not a readable Parquet file: ")
    # damage inside the second row group's pages: the first group is read, the second is one record
    data = bytearray(ok.read_bytes())
    col = pq.ParquetFile(ok).metadata.row_group(1).column(0)
    start = col.dictionary_page_offset or col.data_page_offset
    data[start + 20 : start + col.total_compressed_size - 10] = b"\xab" * (col.total_compressed_size - 30)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    out, good, bad = read(damaged)
    assert (len(out), len(good), len(bad)) == (101, 100, 1)
    assert bad[0].where == f"{damaged}#100" and "row group 1 (rows 100 to 199) is corrupt" in bad[0].error


def test_empty_path_expands_to_nothing(tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text(jsonl(LINES))
    monkeypatch.chdir(tmp_path)
    assert expand_paths("", None) == [] and expand_paths("  ", None) == []
    assert [f.name for f in expand_paths(".", None)] == ["a.jsonl"]  # while "." is the working directory


@pytest.mark.parametrize("marker", ["run.json", "recipe.resolved.yaml"])
def test_directory_search_skips_run_directories(tmp_path, marker, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text(jsonl(LINES))
    run = tmp_path / "runs" / "tiny"
    (run / "data" / "ingested").mkdir(parents=True)
    (run / marker).write_text("{}")
    (run / "data" / "ingested" / "a.parquet").write_bytes(b"PAR1")
    (run / "data" / "final.jsonl").write_text(jsonl(LINES))
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "meta.json").write_text("{}")
    assert expand_paths(str(tmp_path), None) == [tmp_path / "data" / "a.jsonl"]
    assert expand_paths(str(tmp_path / "**" / "*.jsonl"), None) == [tmp_path / "data" / "a.jsonl"]
    monkeypatch.chdir(tmp_path)  # `path: .` and `path: "**/*.jsonl"` from the project folder
    assert expand_paths(".", None) == [Path("data/a.jsonl")] and expand_paths("**/*.jsonl", None) == [Path("data/a.jsonl")]
    # named explicitly, a run's own files are a fine source
    assert expand_paths(str(run / "data" / "final.jsonl"), None) == [run / "data" / "final.jsonl"]
    assert expand_paths(str(run / "data" / "*.jsonl"), None) == [run / "data" / "final.jsonl"]


def test_code_files_decode_utf16_and_refuse_binary(tmp_path):
    from alchemist.sources.code_files import read as read_code

    code = "def double(x):\n    y = 2 * x\n    return y\n\n\ndef triple(x):\n    y = 3 * x\n    return y\n"
    src = tmp_path / "win.cs.py"
    src.write_bytes(b"\xff\xfe" + code.encode("utf-16-le"))
    out = list(read_code(src, {}))
    assert [r.where for r in out] == [f"{src}:1"] and out[0].data["code"] == code.strip("\n")
    png = tmp_path / "logo.py"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    out = list(read_code(png, {}))
    assert len(out) == 1 and out[0].error == "binary file (a PNG image), not source code"


def test_json_lines_named_json_with_a_broken_first_line_keep_line_numbers(tmp_path):
    p = tmp_path / "lines.json"
    p.write_text('{"x": \n' + jsonl(LINES))
    out, good, bad = read(p)
    assert [r.where for r in out] == [f"{p}:{i}" for i in range(1, 5)] and len(bad) == 1
    assert [r.data for r in good] == LINES


def test_truncated_json_array_gz_is_one_malformed_record(tmp_path):
    rows = [{"instruction": f"Task {i}: " + "word " * (i % 50), "output": f"x = {random.Random(i).random()}"} for i in range(3000)]
    p = _gzip_cut(tmp_path, "cut.json.gz", json.dumps(rows, indent=1), keep=0.5)
    out, good, bad = read(p)
    assert len(bad) == 1 and bad[0].error.startswith("file is truncated") and len(out) == len(good) + 1
    assert [r.data for r in good] == rows[: len(good)] and len(good) > 500
