"""Messy files as scrapers and hand edits leave them, ingested through the real command
(`alchemist run RECIPE --stages ingest`): each broken record is one malformed record, the good
records after it are kept, and read == ingested + malformed == the records the file holds.

Every case writes a well-formed file of RECORDS and then breaks it the way it happens in the
wild: a quote left open in a CSV, two broken items side by side in a JSON array, broken first
lines of a `.json` file of JSON lines, empty `__init__.py` files, Latin-1 sources that declare it.
"""

import csv
import gzip
import io
import json

import pyarrow.parquet as pq
import pytest

from alchemist.cli import main
from tests.helpers import run_cli

N = 10
RECORDS = [{"instruction": f"Write f{i}, a function that returns {i} (see \"docs\").",
            "output": f"def f{i}():\n    return {i}\n"} for i in range(N)]


def csv_text(rows=RECORDS, newline="\n") -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["instruction", "output"], lineterminator=newline)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def instr(i: int) -> str:
    """Record i's instruction field as the CSV writer quotes it."""
    return '"Write f%d, a function that returns %d (see ""docs"")."' % (i, i)


def open_quote_in_instruction(text: str, i: int) -> str:  # the field's closing quote is lost
    return text.replace(instr(i), instr(i)[:-1])


def unescaped_quote(text: str, i: int) -> str:  # a scraper that did not double the inner quotes
    return text.replace(instr(i), instr(i).replace('""', '"'))


def open_quote_in_output(text: str, i: int) -> str:  # the code field's closing quote is lost
    return text.replace(f'    return {i}\n"\n', f"    return {i}\n\n", 1)


CSV_CASES = [
    ("csv-clean", lambda t: t, 0),
    ("csv-open-quote-middle", lambda t: open_quote_in_instruction(t, 4), 1),
    ("csv-open-quote-first", lambda t: open_quote_in_instruction(t, 0), 1),
    ("csv-open-quote-last", lambda t: open_quote_in_instruction(t, 9), 1),
    ("csv-two-open-quotes", lambda t: open_quote_in_instruction(open_quote_in_instruction(t, 2), 6), 2),
    ("csv-unescaped-inner-quotes", lambda t: unescaped_quote(t, 5), 1),
    ("csv-open-quote-in-code", lambda t: open_quote_in_output(t, 3), 1),
    ("csv-open-code-quote-last", lambda t: open_quote_in_output(t, 9), 1),
    ("csv-extra-field", lambda t: t.replace(instr(7) + ",", instr(7) + ",extra,", 1), 1),
    ("csv-quote-in-unquoted-field", lambda t: t.replace(instr(1), 'Cut a 6" pipe in f1', 1), 0),
]


@pytest.mark.parametrize("make, broken", [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_csv(tmp_path, monkeypatch, capsys, make, broken):
    write(tmp_path, "data.csv", make(csv_text()))
    assert_counts(tmp_path, monkeypatch, capsys, "data.csv", read=N, malformed=broken)


def test_csv_with_crlf_lines_and_an_open_quote(tmp_path, monkeypatch, capsys):
    text = open_quote_in_instruction(csv_text(newline="\r\n"), 5)
    write(tmp_path, "data.csv", text)
    assert_counts(tmp_path, monkeypatch, capsys, "data.csv", read=N, malformed=1)


def test_gzipped_csv_with_an_open_quote(tmp_path, monkeypatch, capsys):
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(open_quote_in_instruction(csv_text(), 3).encode()))
    assert_counts(tmp_path, monkeypatch, capsys, "data.csv.gz", read=N, malformed=1)


# -- JSON arrays ---------------------------------------------------------------------------------

def missing_colon(item: str) -> str:
    return item.replace('"output":', '"output"', 1)


def cut(item: str) -> str:  # a copy-paste that lost the item's end
    return item[: len(item) * 2 // 3]


def raw_newline(item: str) -> str:  # the scraper wrote the code's newline itself, inside the string
    return item.replace("\\n    return", "\n    return", 1)


def python_repr(record: dict) -> str:  # a scraper that printed dicts instead of dumping JSON
    return repr(record)


def items(indent: int | None) -> list[str]:
    out = [json.dumps(r, indent=indent) for r in RECORDS]
    return [x.replace("\n", "\n  ") for x in out] if indent else out


def array(parts: list[str], style: str) -> str:
    if style == "pretty":
        return "[\n  " + ",\n  ".join(parts) + "\n]\n"
    if style == "lines":
        return "[\n" + ",\n".join(parts) + "\n]\n"
    return "[" + ", ".join(parts) + "]"


def broken_items(style: str, breaks: dict) -> str:
    parts = items(2 if style == "pretty" else None)
    for i, how in breaks.items():
        parts[i] = how(RECORDS[i]) if how is python_repr else how(parts[i])
    return array(parts, style)


ARRAY_CASES = [
    ("pretty-two-side-by-side", "pretty", {3: cut, 4: missing_colon}),
    ("pretty-three-in-a-row", "pretty", {2: missing_colon, 3: cut, 4: missing_colon}),
    ("pretty-first-two", "pretty", {0: missing_colon, 1: cut}),
    ("pretty-last-two", "pretty", {8: missing_colon, 9: missing_colon}),
    ("lines-two-side-by-side", "lines", {5: cut, 6: missing_colon}),
    ("lines-two-python-reprs", "lines", {1: python_repr, 2: python_repr}),
    ("lines-two-apart", "lines", {1: cut, 7: cut}),
    ("compact-two-side-by-side", "compact", {3: missing_colon, 4: missing_colon}),
    ("compact-first-two", "compact", {0: missing_colon, 1: missing_colon}),
    ("compact-cut-then-broken", "compact", {5: cut, 6: missing_colon}),
]


@pytest.mark.parametrize("style, breaks", [c[1:] for c in ARRAY_CASES], ids=[c[0] for c in ARRAY_CASES])
def test_json_array(tmp_path, monkeypatch, capsys, style, breaks):
    write(tmp_path, "data.json", broken_items(style, breaks))
    assert_counts(tmp_path, monkeypatch, capsys, "data.json", read=N, malformed=len(breaks))


@pytest.mark.parametrize("pretty, breaks", [
    (True, {3: missing_colon, 4: cut}),
    (True, {0: cut}),
    (False, {3: missing_colon}),
    (False, {6: missing_colon, 7: missing_colon}),
], ids=["pretty-two-side-by-side", "pretty-first-cut", "compact-one", "compact-two-side-by-side"])
def test_json_wrapper_object(tmp_path, monkeypatch, capsys, pretty, breaks):
    """{"version": 1, "data": [...]} as dataset exports write it, with broken items inside."""
    parts = [json.dumps(r, indent=2).replace("\n", "\n    ") if pretty else json.dumps(r) for r in RECORDS]
    for i, how in breaks.items():
        parts[i] = how(parts[i])
    text = ('{\n  "version": "1.0",\n  "count": 10,\n  "data": [\n    ' + ",\n    ".join(parts) + "\n  ]\n}\n" if pretty
            else '{"version": "1.0", "data": [' + ", ".join(parts) + "]}")
    write(tmp_path, "data.json", text)
    assert_counts(tmp_path, monkeypatch, capsys, "data.json", read=N, malformed=len(breaks))


def test_json_array_item_with_a_raw_newline_in_a_string(tmp_path, monkeypatch, capsys):
    parts = items(None)
    parts[4] = raw_newline(parts[4])
    write(tmp_path, "data.json", array(parts, "lines"))
    assert_counts(tmp_path, monkeypatch, capsys, "data.json", read=N, malformed=1)


# -- JSON lines (also in files named .json, as on the Hub) -----------------------------------------

def json_lines(breaks: dict, blank_first: bool = False) -> str:
    lines = [json.dumps(r) for r in RECORDS]
    for i, how in breaks.items():
        lines[i] = how(RECORDS[i]) if how is python_repr else how(lines[i])
    return ("\n" if blank_first else "") + "\n".join(lines) + "\n"


LINES_CASES = [
    ("json-first-two-lines", "data.json", {0: cut, 1: cut}, False),
    ("json-lines-4-and-5", "data.json", {3: missing_colon, 4: cut}, False),
    ("json-blank-then-two-broken", "data.json", {0: missing_colon, 1: missing_colon}, True),
    ("json-python-reprs-first", "data.json", {0: python_repr, 1: python_repr}, False),
    ("jsonl-two-side-by-side", "data.jsonl", {6: cut, 7: missing_colon}, False),
    ("ndjson-first-and-last", "data.ndjson", {0: cut, 9: cut}, False),
    ("jsonl-raw-newline-in-a-string", "data.jsonl", {5: raw_newline}, False),
    ("jsonl-raw-newlines-side-by-side", "data.jsonl", {2: raw_newline, 3: raw_newline}, False),
    ("json-lines-raw-newline-first", "data.json", {0: raw_newline, 1: cut}, False),
    ("jsonl-raw-newline-last", "data.jsonl", {9: raw_newline}, False),
]


@pytest.mark.parametrize("name, breaks, blank", [c[1:] for c in LINES_CASES], ids=[c[0] for c in LINES_CASES])
def test_json_lines(tmp_path, monkeypatch, capsys, name, breaks, blank):
    write(tmp_path, name, json_lines(breaks, blank))
    assert_counts(tmp_path, monkeypatch, capsys, name, read=N, malformed=len(breaks))


# -- source code seeds -----------------------------------------------------------------------------

MODULE = "def area(w, h):\n    \"\"\"Area of a {what}.\"\"\"\n    return w * h\n"


def package(tmp_path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        f = tmp_path / "pkg" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)


LATIN = MODULE.format(what="carré (côté × côté)").encode("latin-1")
CODE_CASES = [
    ("empty-init", {"__init__.py": b"", "geometry.py": MODULE.format(what="box").encode()}, 1, 1),
    ("nested-empty-inits", {"__init__.py": b"", "a/__init__.py": b"", "a/b/__init__.py": b"\n\n",
                            "a/b/shapes.py": MODULE.format(what="box").encode(), "a/m.py": MODULE.format(what="tile").encode()}, 2, 3),
    ("whitespace-only-file", {"blank.py": b"   \n\t\n", "geometry.py": MODULE.format(what="box").encode()}, 1, 1),
    ("latin-1-declared", {"geo.py": b"# -*- coding: latin-1 -*-\n" + LATIN}, 1, 0),
    ("latin-1-vim-modeline", {"geo.py": b"# vim: set fileencoding=iso-8859-1 :\n" + LATIN}, 1, 0),
    ("cp1252-after-shebang", {"geo.py": b"#!/usr/bin/env python\n# coding=cp1252\n" + LATIN}, 1, 0),
    ("latin-1-undeclared", {"geo.py": LATIN, "ok.py": MODULE.format(what="box").encode()}, 1, 1),
    ("unknown-declared-encoding", {"geo.py": b"# coding: klingon-8\n" + LATIN, "ok.py": MODULE.format(what="box").encode()}, 1, 1),
    ("ascii-declared-but-latin", {"geo.py": b"# coding: ascii\n" + LATIN, "ok.py": MODULE.format(what="box").encode()}, 1, 1),
]


@pytest.mark.parametrize("files, kept, malformed", [c[1:] for c in CODE_CASES], ids=[c[0] for c in CODE_CASES])
def test_code_files(tmp_path, monkeypatch, capsys, files, kept, malformed):
    package(tmp_path, files)
    stats = assert_counts(tmp_path, monkeypatch, capsys, "pkg", read=kept + malformed, malformed=malformed, adapter="code_files")
    if malformed:
        assert all(e["where"].startswith(str(tmp_path / "pkg")) for e in stats["malformed_examples"])
    codes = pq.read_table(tmp_path / "runs" / "t" / "data" / "ingested" / "a.parquet").column("messages").to_pylist()
    text = "".join(m["content"] for msgs in codes for m in msgs)
    if "latin" in str(files) or b"coding" in b"".join(files.values()):
        assert ("carré (côté × côté)" in text) == (malformed == 0)


def test_code_files_all_empty_is_one_line(tmp_path, monkeypatch, capsys):
    package(tmp_path, {"__init__.py": b"", "a/__init__.py": b"\n"})
    write(tmp_path, "r.yaml", recipe("pkg", "code_files"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and "Traceback" not in err
    assert "source 'a': none of its 2 files holds a usable snippet" in errors[0] and "empty file" in errors[0]


# -- helpers -----------------------------------------------------------------------------------------

def write(tmp_path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8", newline="")


def recipe(path: str, adapter: str) -> str:
    return f"name: t\nsources:\n  - name: a\n    adapter: {adapter}\n    path: {path}\ncurate: {{strict: false}}\n"


def assert_counts(tmp_path, monkeypatch, capsys, path: str, read: int, malformed: int, adapter: str = "alpaca") -> dict:
    write(tmp_path, "r.yaml", recipe(path, adapter))
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "r.yaml", "--stages", "ingest"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Traceback" not in err
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    got = (stats["read"], stats["ingested"], stats["malformed"])
    assert got == (read, read - malformed, malformed), (got, stats["malformed_examples"])
    return stats


def test_an_open_csv_quote_through_the_real_command_line(tmp_path):
    write(tmp_path, "data.csv", open_quote_in_instruction(csv_text(), 4))
    write(tmp_path, "r.yaml", recipe("data.csv", "alpaca"))
    proc = run_cli("run", "r.yaml", "--stages", "ingest", cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    assert (stats["read"], stats["ingested"], stats["malformed"]) == (N, N - 1, 1)
    assert stats["malformed_examples"][0]["where"] == f"{tmp_path / 'data.csv'}:14"  # header, then 3 lines a record
