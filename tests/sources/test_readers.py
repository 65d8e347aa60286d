import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq

from alchemist.sources import iter_file


def records(path):
    return list(iter_file(path))


def test_jsonl_counts_every_bad_line_with_its_line_number(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"a": 1}\n\n{broken\n[1, 2]\n{"b": "\xff\xfe"}\n{"c": 3}\n')
    out = records(p)
    assert [r.data for r in out if r.data] == [{"a": 1}, {"c": 3}]
    errors = {r.where: r.error for r in out if r.error}
    assert set(errors) == {f"{p}:3", f"{p}:4", f"{p}:5"}
    assert "not valid JSON" in errors[f"{p}:3"]
    assert "expected a JSON object, got list" in errors[f"{p}:4"]
    assert "not valid UTF-8" in errors[f"{p}:5"]


def test_json_array_json_lines_in_dot_json_and_gzip(tmp_path):
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([{"x": 1}, 5, {"x": 2}]))
    out = records(arr)
    assert [r.where for r in out] == [f"{arr}#0", f"{arr}#1", f"{arr}#2"] and out[1].error
    lines = tmp_path / "lines.json"  # many hub files named .json are JSON lines
    lines.write_text('{"x": 1}\n{"x": 2}\n')
    assert [r.data for r in records(lines)] == [{"x": 1}, {"x": 2}]
    gz = tmp_path / "g.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write('{"x": 1}\nnope\n')
    out = records(gz)
    assert out[0].data == {"x": 1} and out[1].error and out[1].where == f"{gz}:2"


def test_truncated_json_array_keeps_what_precedes_the_cut(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('[{"x": 1}, {"x": ')
    out = records(p)
    assert out[0].data == {"x": 1} and len(out) == 2 and out[1].where == f"{p}:1" and "rest of the file" in out[1].error


def test_empty_and_binary_files(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    assert records(empty) == []
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    out = records(binary)
    assert len(out) == 1 and out[0].error == "binary file (a PNG image), not text records"


def test_csv_and_parquet(tmp_path):
    c = tmp_path / "a.csv"
    c.write_bytes(b'problem,solution\n"multi\nline",x = 1\nok,"y = 2"\nbad,\xff\xfe\n')
    out = records(c)
    assert out[0].data == {"problem": "multi\nline", "solution": "x = 1"}
    assert out[1].data["solution"] == "y = 2"
    assert out[2].error and "not valid UTF-8" in out[2].error
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"instruction": ["a", "b"], "output": ["1", "2"]}), p)
    assert [r.data["instruction"] for r in records(p)] == ["a", "b"]
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert records(broken)[0].error.startswith("not a readable Parquet file")


def test_byte_order_marks_and_deep_nesting(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\n' + b'[' * 100000 + b'\n{"b": 2}\n')
    out = records(p)
    assert out[0].data == {"a": 1} and out[2].data == {"b": 2}
    assert out[1].error and out[1].where == f"{p}:2"
    arr = tmp_path / "bom.json"
    arr.write_bytes(b'\xef\xbb\xbf[{"x": 1}]')
    assert [r.data for r in records(arr)] == [{"x": 1}]
    wrapped = tmp_path / "wrapped.json"  # {"data": [...]} as some exports write
    wrapped.write_text('{"data": [{"x": 1}, {"x": 2}]}')
    assert [r.data["x"] for r in records(wrapped)] == [1, 2]
    c = tmp_path / "bom.csv"
    c.write_bytes(b"\xef\xbb\xbfproblem,solution\np,s\n")
    assert records(c)[0].data == {"problem": "p", "solution": "s"}
