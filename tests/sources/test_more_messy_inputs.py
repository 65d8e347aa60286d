"""More messy inputs as scrapers, exporters and hand edits leave them, each through the real
command (`alchemist run RECIPE --stages ingest`, or `data RECIPE --dry-run` for recipes): either
a manifest whose counts equal the records the file holds (read == ingested + malformed), or exit
code 2 with exactly one line naming the file (and line, key or flag) and what to do. Never a
traceback, and no input file is changed.
"""

import codecs
import csv
import gzip
import hashlib
import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alchemist.cli import main
from tests.helpers import run_cli

N = 10
RECORDS = [{"instruction": f"Write f{i}, a function that returns {i}.", "output": f"def f{i}():\n    return {i}\n"}
           for i in range(N)]


def csv_text(delimiter=",", newline="\n", rows=RECORDS, quoting=csv.QUOTE_MINIMAL) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["instruction", "output"], delimiter=delimiter, lineterminator=newline, quoting=quoting)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def jsonl(rows=RECORDS) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def pretty_array(rows=RECORDS) -> str:
    return json.dumps(rows, indent=2) + "\n"


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def smart(i: int) -> dict:
    return {"instruction": f"Write f{i}, the \u201cidentity\u201d \u2013 it returns {i}.", "output": f"def f{i}():\n    return {i}\n"}


MODULE = b'def area(w, h):\n    """Area of a box."""\n    return w * h\n'

# (id, {file: bytes}, path in the recipe, adapter, (read, malformed) or the error line's parts)
FILE_CASES = [
    # -- CSV ---------------------------------------------------------------------------------
    ("csv-crlf-bom-nul", {"d.csv": codecs.BOM_UTF8 + csv_text(newline="\r\n").replace("returns 3", "ret\x00urns 3").encode()},
     "d.csv", "alpaca", (N, 1)),
    ("tsv-named-csv", {"d.csv": csv_text(delimiter="\t").encode()}, "d.csv", "alpaca", (N, 0)),
    ("semicolon-csv", {"d.csv": csv_text(delimiter=";").encode()}, "d.csv", "alpaca", (N, 0)),
    ("excel-sep-line", {"d.csv": ("sep=,\n" + csv_text()).encode()}, "d.csv", "alpaca", (N, 0)),
    ("excel-sep-semicolon-bom-crlf", {"d.csv": codecs.BOM_UTF8 + ("sep=;\r\n" + csv_text(";", "\r\n")).encode()},
     "d.csv", "alpaca", (N, 0)),
    ("csv-old-mac-cr", {"d.csv": csv_text(newline="\r", quoting=csv.QUOTE_ALL).encode()}, "d.csv", "alpaca", (N, 0)),
    ("csv-utf16-bom", {"d.csv": csv_text().encode("utf-16")}, "d.csv", "alpaca", (N, 0)),
    ("csv-cut-mid-quoted-field", {"d.csv": csv_text().encode()[:-9]}, "d.csv", "alpaca", (N, 1)),
    ("csv-blank-lines-between", {"d.csv": csv_text().replace("\n\"Write", "\n\n\n\"Write").encode()}, "d.csv", "alpaca", (N, 0)),
    ("csv-cp1252-smart-quotes", {"d.csv": csv_text(rows=[smart(i) if i in (2, 5) else r for i, r in enumerate(RECORDS)])
                                 .encode("cp1252")}, "d.csv", "alpaca", (N, 0)),
    ("csv-header-only", {"d.csv": b"instruction,output\n"}, "d.csv", "alpaca", ["d.csv", "no record"]),
    ("csv-gz-concatenated-members", {"d.csv.gz": gzip.compress(csv_text(rows=RECORDS[:4]).encode())
                                     + gzip.compress("".join(csv_text(rows=RECORDS[4:]).splitlines(True)[1:]).encode())},
     "d.csv.gz", "alpaca", (N, 0)),
    ("csv-latin1-excel-export", {"d.csv": csv_text().replace("Write", "\u00c9cris").encode("latin-1")}, "d.csv", "alpaca", (N, 0)),
    ("csv-stray-binary-bytes", {"d.csv": csv_text().replace("returns 4", "returns \udcff\udcfe4").encode("utf-8", "surrogateescape")},
     "d.csv", "alpaca", (N, 1)),
    ("tsv-suffix", {"d.tsv": csv_text(delimiter="\t").encode()}, "d.tsv", "alpaca", (N, 0)),
    ("excel-sep-line-quoted", {"d.csv": ('"sep=;"\n' + csv_text(delimiter=";")).encode()}, "d.csv", "alpaca", (N, 0)),
    ("csv-header-spaced", {"d.csv": csv_text().replace("instruction,output", " instruction , output ", 1).encode()}, "d.csv", "alpaca", (N, 0)),
    ("csv-header-capitalised", {"d.csv": csv_text().replace("instruction,output", "Instruction,Output", 1).encode()}, "d.csv", "alpaca",
     ["d.csv", "missing field 'instruction'", "the record has 'Instruction'"]),
    ("csv-header-names-a-column-twice", {"d.csv": csv_text(quoting=csv.QUOTE_ALL).replace('"instruction","output"', "instruction,output,output", 1)
                                         .replace('\n"\n', '\n","x"\n').encode()}, "d.csv", "alpaca", ["d.csv", "'output' twice"]),
    ("csv-empty-cells-past-the-header", {"d.csv": csv_text(quoting=csv.QUOTE_ALL).replace('\n"\n', '\n",,\n').encode()},
     "d.csv", "alpaca", (N, 0)),
    # -- JSON lines --------------------------------------------------------------------------
    ("jsonl-jq-pretty-objects", {"d.jsonl": "".join(json.dumps({**r, "tags": ["code"]}, indent=2) + "\n" for r in RECORDS).encode()},
     "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-jq-pretty-one-broken", {"d.jsonl": "".join(json.dumps(r, indent=2).replace('"output":', '"output"' if i == 3 else '"output":')
                                                       + "\n" for i, r in enumerate(RECORDS)).encode()}, "d.jsonl", "alpaca", (N, 1)),
    ("jsonl-raw-tabs-in-strings", {"d.jsonl": jsonl().replace("\\n    return", "\\n\\treturn").replace("\\t", "\t").encode()},
     "d.jsonl", "alpaca", (N, 0)),
    ("json-one-pretty-record-with-a-list-field", {"d.json": json.dumps({**RECORDS[0], "tags": ["a", "b"]}, indent=2).encode()},
     "d.json", "alpaca", (1, 0)),
    ("jsonl-old-mac-cr-lines",
 {"d.jsonl": jsonl().replace("\n", "\r").encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-bom-on-every-line", {"d.jsonl": "".join("\ufeff" + json.dumps(r) + "\n" for r in RECORDS).encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-commas-after-lines", {"d.jsonl": jsonl().replace("}\n", "},\n").encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-that-is-an-array", {"d.jsonl": ("[\n" + jsonl().replace("}\n", "},\n").rstrip(",\n") + "\n]\n").encode()},
     "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-null-list-string-lines", {"d.jsonl": (jsonl() + "null\n[]\n\"x\"\n").encode()}, "d.jsonl", "alpaca", (N + 3, 3)),
    ("jsonl-gz-compressed-twice", {"d.jsonl.gz": gzip.compress(gzip.compress(jsonl().encode()))}, "d.jsonl.gz", "alpaca",
     ["d.jsonl.gz", "compressed twice"]),
    ("jsonl-gz-trailing-garbage", {"d.jsonl.gz": gzip.compress(jsonl().encode()) + b"garbage"}, "d.jsonl.gz", "alpaca", (N, 0)),
    ("jsonl-capitalised-keys", {"d.jsonl": jsonl().replace('"instruction"', '"Instruction"').encode()}, "d.jsonl", "alpaca",
     ["d.jsonl:1", "the record has 'Instruction'"]),
    ("jsonl-last-line-cut-mid-string", {"d.jsonl": jsonl().rstrip("\n")[:-12].encode()}, "d.jsonl", "alpaca", (N, 1)),
    ("jsonl-two-objects-on-one-line", {"d.jsonl": jsonl().replace("}\n{", "}{", 1).encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-three-objects-on-one-line", {"d.jsonl": jsonl().replace("}\n{", "} {", 2).encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-utf16-no-bom", {"d.jsonl": jsonl().encode("utf-16-le")}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-utf16-be-bom-crlf", {"d.jsonl": codecs.BOM_UTF16_BE + jsonl().replace("\n", "\r\n").encode("utf-16-be")},
     "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-cp1252-smart-quotes", {"d.jsonl": "".join(json.dumps(smart(i) if i in (1, 8) else r, ensure_ascii=False) + "\n"
                                                      for i, r in enumerate(RECORDS)).encode("cp1252")},
     "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-nul-padded-tail", {"d.jsonl": jsonl().encode() + b"\x00" * 4096}, "d.jsonl", "alpaca", (N + 1, 1)),
    ("jsonl-gz-concatenated-members", {"d.jsonl.gz": gzip.compress(jsonl(RECORDS[:3]).encode()) + gzip.compress(jsonl(RECORDS[3:]).encode())},
     "d.jsonl.gz", "alpaca", (N, 0)),
    ("jsonl-gzip-without-gz-name", {"d.jsonl": gzip.compress(jsonl().encode())}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-line-is-an-array", {"d.jsonl": jsonl().replace(json.dumps(RECORDS[4]), json.dumps([RECORDS[4]])).encode()},
     "d.jsonl", "alpaca", (N, 1)),
    ("jsonl-u2028-inside-strings", {"d.jsonl": "".join(json.dumps({**r, "instruction": r["instruction"] + "\u2028more"},
                                                                  ensure_ascii=False) + "\n" for r in RECORDS).encode()},
     "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-huge-numbers-in-fields", {"d.jsonl": "".join(json.dumps(r)[:-1] + ', "id": 1e400, "n": ' + "9" * 40 + "}\n"
                                                         for r in RECORDS).encode()}, "d.jsonl", "alpaca", (N, 0)),
    ("jsonl-output-is-a-number", {"d.jsonl": jsonl([{**r, "output": 5} if i == 3 else r for i, r in enumerate(RECORDS)]).encode()},
     "d.jsonl", "alpaca", (N, 1)),
    # -- JSON documents ----------------------------------------------------------------------
    ("array-last-item-cut", {"d.json": pretty_array()[:-40].encode()}, "d.json", "alpaca", (N, 1)),
    ("array-trailing-comma", {"d.json": pretty_array().replace("\n  }\n]", "\n  },\n]").encode()}, "d.json", "alpaca", (N, 0)),
    ("array-missing-comma", {"d.json": pretty_array().replace("},\n  {", "}\n  {", 1).encode()}, "d.json", "alpaca", (N, 0)),
    ("array-two-missing-commas-compact", {"d.json": json.dumps(RECORDS).replace("}, {", "} {", 2).encode()}, "d.json", "alpaca", (N, 0)),
    ("array-not-closed", {"d.json": pretty_array().rstrip().removesuffix("]").encode()}, "d.json", "alpaca", (N, 0)),
    ("two-arrays-appended", {"d.json": (json.dumps(RECORDS[:4]) + "\n" + json.dumps(RECORDS[4:]) + "\n").encode()},
     "d.json", "alpaca", (N, 0)),
    ("array-trailing-comma-and-cut-item", {"d.json": pretty_array().replace("\n  }\n]", "\n  },\n]").replace(
        json.dumps(RECORDS[6], indent=2).replace("\n", "\n  "), json.dumps(RECORDS[6], indent=2).replace("\n", "\n  ")[:30]).encode()},
     "d.json", "alpaca", (N, 1)),
    ("array-utf16-bom", {"d.json": pretty_array().encode("utf-16")}, "d.json", "alpaca", (N, 0)),
    ("array-of-strings", {"d.json": json.dumps([r["instruction"] for r in RECORDS]).encode()}, "d.json", "alpaca",
     ["d.json", "no record", "expected a JSON object"]),
    ("json-scalar-document", {"d.json": b"42\n"}, "d.json", "alpaca", ["d.json", "no record"]),
    ("json-null-document", {"d.json": b"null\n"}, "d.json", "alpaca", ["d.json", "no record"]),
    ("array-with-null-items", {"d.json": json.dumps(RECORDS[:5] + [None, None] + RECORDS[5:]).encode()}, "d.json", "alpaca", (N + 2, 2)),
    ("json-train-and-test-lists", {"d.json": json.dumps({"train": RECORDS[:5], "test": RECORDS[5:]}).encode()}, "d.json", "alpaca",
     ["d.json", "2 lists of records (train, test)", "own file"]),
    ("json-wrapper-with-a-tag-list", {"d.json": json.dumps({"tags": ["code"], "data": RECORDS}).encode()}, "d.json", "alpaca", (N, 0)),
    ("json-python-reprs-compact", {"d.json": ("[" + ", ".join([json.dumps(r) for r in RECORDS[:5]] + [repr(r) for r in RECORDS[5:]])
                                              + "]").encode()},
     "d.json", "alpaca", (N, 5)),
    # -- Parquet -----------------------------------------------------------------------------
    ("parquet-output-wrong-type", {"d.parquet": parquet_bytes(pa.table({"instruction": [r["instruction"] for r in RECORDS],
                                                                      "output": list(range(N))}))},
     "d.parquet", "alpaca", ["d.parquet", "no record", "field 'output' is int"]),
    ("parquet-binary-and-timestamp-columns", {"d.parquet": parquet_bytes(pa.table({
        "instruction": [r["instruction"] for r in RECORDS], "output": [r["output"] for r in RECORDS],
        "blob": [b"\x00\xff" * 3] * N, "when": pa.array([0] * N, pa.timestamp("s")), "tags": [["a", "b"]] * N}))},
     "d.parquet", "alpaca", (N, 0)),
    ("parquet-some-null-outputs", {"d.parquet": parquet_bytes(pa.table({"instruction": [r["instruction"] for r in RECORDS],
                                                                      "output": [None if i % 5 == 0 else r["output"] for i, r in enumerate(RECORDS)]}))},
     "d.parquet", "alpaca", (N, 2)),
    ("parquet-named-jsonl", {"d.jsonl": parquet_bytes(pa.table({"instruction": ["x"], "output": ["y"]}))}, "d.jsonl", "alpaca",
     ["d.jsonl", "Parquet"]),
    ("parquet-zero-rows", {"d.parquet": parquet_bytes(pa.table({"instruction": pa.array([], pa.string()), "output": pa.array([], pa.string())}))},
     "d.parquet", "alpaca", ["d.parquet", "no record"]),
    # -- paths -------------------------------------------------------------------------------
    ("glob-star-skips-readme", {"in/a.jsonl": jsonl(RECORDS[:5]).encode(), "in/b.jsonl": jsonl(RECORDS[5:]).encode(),
                                "in/README.md": b"# about these files\n"}, "in/*", "alpaca", (N, 0)),
    ("recursive-glob", {"in/x/a.jsonl": jsonl(RECORDS[:5]).encode(), "in/y/z/b.jsonl.gz": gzip.compress(jsonl(RECORDS[5:]).encode())},
     "in/**/*.jsonl*", "alpaca", (N, 0)),
    ("path-with-trailing-space", {"d.jsonl": jsonl().encode()}, "'d.jsonl '", "alpaca", ["sources[0].path", "space"]),
    ("path-from-a-block-scalar", {"d.jsonl": jsonl().encode()}, "|\n      d.jsonl", "alpaca", ["sources[0].path", "'d.jsonl\\n'", "line break"]),
    ("path-with-shell-braces", {"d.jsonl": jsonl().encode()}, "'{d,e}.jsonl'", "alpaca", ["sources[0].path", "give a list"]),
    ("path-with-env-variable", {"d.jsonl": jsonl().encode()}, "$DATA/d.jsonl", "alpaca", ["sources[0].path", "$DATA", "environment"]),
    ("same-file-named-twice", {"d.jsonl": jsonl().encode()}, "[d.jsonl, d.jsonl]", "alpaca", (N, 0)),
    ("glob-overlapping-a-name", {"in/d.jsonl": jsonl().encode()}, "[in/d.jsonl, 'in/*.jsonl']", "alpaca", (N, 0)),
    ("spark-parquet-folder", {"d.parquet/part-0.parquet": parquet_bytes(pa.table({"instruction": [r["instruction"] for r in RECORDS],
                                                                                   "output": [r["output"] for r in RECORDS]})),
                              "d.parquet/_SUCCESS": b"", "d.parquet/.part-0.parquet.crc": b"crc"}, "d.parquet", "alpaca", (N, 0)),
    # -- source code seeds -------------------------------------------------------------------
    ("code-nul-byte", {"pkg/bad.py": MODULE.replace(b"box", b"b\x00x"), "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-python2", {"pkg/old.py": b"def area(w, h):\n    print 'area'\n    return w * h\n"}, "pkg", "code_files", (1, 0)),
    ("code-huge-file", {"pkg/big.py": MODULE * 60000, "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-minified-one-line", {"pkg/app.js": b"function a(){return 1}" * 20, "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-crlf", {"pkg/win.py": MODULE.replace(b"\n", b"\r\n")}, "pkg", "code_files", (1, 0)),
    ("code-coding-line-too-late", {"pkg/geo.py": b"import os\n\n# -*- coding: latin-1 -*-\n" + MODULE.replace(b"box", "carré".encode("latin-1")),
                                   "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-utf8-bom-and-coding-line", {"pkg/a.py": codecs.BOM_UTF8 + b"# -*- coding: utf-8 -*-\n" + MODULE}, "pkg", "code_files", (1, 0)),
    ("code-utf16-with-bom", {"pkg/a.py": ("\ufeff" + MODULE.decode()).encode("utf-16-le")}, "pkg", "code_files", (1, 0)),
    ("code-executable-named-py", {"pkg/a.py": b"\x7fELF" + bytes(range(256)) * 4, "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-one-file-too-big", {"a.py": MODULE * 40000}, "a.py", "code_files", ["source 'a'", "a.py", "over options.max_bytes"]),
    ("code-cp1252-undeclared", {"pkg/a.py": MODULE.replace(b"box", b"\x93box\x94"), "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 1)),
    ("code-glob-over-a-tree", {"pkg/a.py": MODULE, "pkg/sub/b.py": MODULE, "pkg/README.md": b"# x\n"}, "'pkg/**'", "code_files", (2, 0)),
    ("code-directory-named-like-a-file",
 {"pkg/fake.py/inner.py": MODULE, "pkg/ok.py": MODULE}, "pkg", "code_files", (2, 0)),
]


def make(tmp_path, files: dict) -> None:
    for rel, data in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)


def snapshot(root) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "runs"]
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


def recipe(path: str, adapter: str) -> str:
    return f"name: t\nsources:\n  - name: a\n    adapter: {adapter}\n    path: {path}\ncurate: {{strict: false}}\n"


@pytest.mark.parametrize("files, path, adapter, expected", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_a_messy_file(tmp_path, monkeypatch, capsys, files, path, adapter, expected):
    make(tmp_path, files)
    (tmp_path / "r.yaml").write_text(recipe(path, adapter))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA", str(tmp_path))
    before = snapshot(tmp_path)
    rc = main(["run", "r.yaml", "--stages", "ingest"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # no input file changed
    if isinstance(expected, list):
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert rc == 2 and len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
        for part in expected:
            assert part in errors[0], (part, errors[0])
        return
    assert rc == 0, err
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    read, malformed = expected
    got = (stats["read"], stats["ingested"], stats["malformed"])
    assert got == (read, read - malformed, malformed), (got, stats["malformed_examples"])


# -- recipes -------------------------------------------------------------------------------------

SRC = "sources:\n  - name: a\n    adapter: alpaca\n    path: d.jsonl\n"
OK = "name: t\n" + SRC

# (id, recipe text or bytes, --set flags, what the one line must hold)
RECIPE_CASES = [
    ("source-is-a-bare-string", "name: t\nsources:\n  - d.jsonl\n", [], [":3:", "sources[0]", "mapping of keys", "'d.jsonl'"]),
    ("second-source-is-empty", OK + "  -\n", [], [":6:", "sources[1]", "an empty entry"]),
    ("set-source-to-a-string", OK, ["sources.0=d.jsonl"], ["--set sources.0=d.jsonl", "mapping of keys"]),
    ("seed-true", OK + "seed: true\n", [], [":6:", "seed", "YAML reads true as a boolean"]),
    ("weight-yes", OK + "    weight: yes\n", [], [":6:", "sources[0].weight", "yes as a boolean"]),
    ("task-weight-on", OK + "mix: {task_weights: {code_review: on}}\n", [], [":6:", "mix.task_weights.code_review", "boolean"]),
    ("set-seed-false", OK, ["seed=false"], ["--set seed=false", "seed", "boolean"]),
    ("set-past-the-list-end", OK, ["sources.5.weight=1"], ["--set sources.5.weight=1", "not an index"]),
    ("set-key-typo", OK, ["sources.0.wieght=2"], ["--set sources.0.wieght=2", "did you mean 'weight'"]),
    ("set-sources-empty", OK, ["sources=[]"], ["--set sources=[]", "at least 1 item"]),
    ("set-into-a-value", OK, ["name.x=1"], ["--set name.x=1", "is a value, not a section"]),
    ("empty-file", "", [], ["the file is empty", "YAML mapping"]),
    ("comments-only", "# my recipe\n# to do\n", [], ["the file is empty"]),
    ("a-yaml-list", "- name: t\n  sources: []\n", [], ["holds a list", "remove the '- '"]),
    ("a-bare-word", "tiny\n", [], ["holds only the text 'tiny'"]),
    ("two-documents", OK + "---\nname: u\n", [], [":6:", "one YAML document", "---"]),
    ("capitalised-name", "Name: t\n" + SRC, [], [":1:", "Name", "did you mean 'name'"]),
    ("curate-false", OK + "curate: false\n", [], [":6:", "curate", "section of keys", "got false"]),
    ("dedup-true", OK + "curate:\n  dedup: true\n", [], [":7:", "curate.dedup", "section of keys"]),
    ("non-breaking-space-indent", "name: t\nsources:\n  - name: a\n\u00a0   adapter: alpaca\n    path: d.jsonl\n", [],
     ["not valid YAML", "line 4", "non-breaking space"]),
    ("typographic-quotes-name", "name: \u201ctiny\u201d\n" + SRC, [], [":1:", "name", "typographic quotes"]),
    ("numeric-key", OK + "1: 2\n", [], [":6:", "YAML reads this key as int"]),
    ("null-key", OK + "~: 2\n", [], [":6:", "as null"]),
    ("alias-loop", "name: t\nsources: &s\n  - *s\n", [], [":2:", "loop"]),
    ("undefined-alias", "name: t\nsources:\n  - <<: *base\n    name: b\n", [], [":3:", "undefined alias 'base'"]),
    ("url-as-path", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: https://example.com/x.jsonl\n", [],
     [":5:", "sources[0].path", "a URL is not read", "hf: org/name"]),
    ("typographic-quoted-path", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: \u201cd.jsonl\u201d\n", [],
     [":5:", "typographic quotes"]),
    ("weight-percent", OK + "    weight: 50%\n", [], [":6:", "sources[0].weight", "number"]),
    ("max-samples-1e3", OK + "    max_samples: 1e3\n", [], [":6:", "sources[0].max_samples", "integer"]),
    ("code-option-max-bytes-zero", "name: t\nsources:\n  - name: a\n    adapter: code_files\n    path: pkg\n    options: {max_bytes: 0}\n",
     [], [":6:", "options.max_bytes must be a positive integer"]),
    ("hf-empty", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    hf: ''\n", [], [":5:", "sources[0].hf", "is empty"]),
    ("hf-is-a-url", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    hf: https://huggingface.co/datasets/org/corpus\n", [],
     [":5:", "sources[0].hf", "hf: org/corpus"]),
    ("use-empty", "name: t\nsources:\n  - use:\n", [], [":3:", "sources[0].use", "is empty"]),
    ("second-item-mis-indented", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: d.jsonl\n   - name: b\n", [],
     [":6:", "not valid YAML", "indented like the lines"]),
    ("set-path-to-a-yaml-anchor", OK, ["sources.0.path=&x"], ["--set sources.0.path=&x", "no file matches '&x'"]),
    ("set-weight-true", OK, ["sources.0.weight=true"], ["--set sources.0.weight=true", "boolean"]),
    ("set-unicode-typo", OK, ["s\u00e9ed=3"], ["--set s\u00e9ed=3", "did you mean 'seed'"]),
    ("capitalised-section", OK + "Curate:\n  strict: false\n", [], [":6:", "Curate", "did you mean 'curate'"]),
    ("weight-underflows-to-zero", OK + "    weight: 1.0e-400\n", [], [":6:", "sources[0].weight", "weight 0"]),
    ("seed-0o-octal", OK + "seed: 0o17\n", [], [":6:", "seed", "integer"]),
    ("task-weight-negative", OK + "mix: {task_weights: {code_review: -1}}\n", [], [":6:", "mix.task_weights.code_review", "greater than or equal to 0"]),
    ("verify-timeout-zero", OK + "curate:\n  verify: {timeout: 0}\n", [], [":7:", "curate.verify.timeout", "greater than 0"]),
    ("path-is-a-device", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: /dev/null\n", [], [":5:", "not a regular file"]),
    ("path-list-nested", "name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: [[d.jsonl]]\n", [], [":5:", "sources[0].path[0]"]),
    ("weight-decimal-comma", OK + "    weight: 1,5\n", [], [":6:", "sources[0].weight", "decimals take a dot, e.g. 1.5"]),
    ("weight-percent-hint", OK + "    weight: 50 %\n", [], [":6:", "give a fraction, e.g. 0.5"]),
    ("seed-with-thousands-spaces", OK + "seed: 1 000\n", [], [":6:", "seed", "without separators, e.g. 1000"]),
    ("set-weight-decimal-comma", OK, ["sources.0.weight=0,5"], ["--set sources.0.weight=0,5", "e.g. 0.5"]),
    ("not-utf8-latin1",

 ("name: t\n# caf\u00e9\n" + SRC).encode("latin-1"), [], [":2:", "not UTF-8", "save the recipe as UTF-8"]),
]


@pytest.fixture
def recipe_dir(tmp_path, monkeypatch):
    (tmp_path / "d.jsonl").write_text(jsonl())
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_bytes(MODULE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("text, flags, expected", [c[1:] for c in RECIPE_CASES], ids=[c[0] for c in RECIPE_CASES])
def test_a_bad_recipe(recipe_dir, capsys, text, flags, expected):
    f = recipe_dir / "recipe.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = snapshot(recipe_dir)
    rc = main(["data", "recipe.yaml", "--dry-run"] + [x for flag in flags for x in ("--set", flag)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    if not flags:
        assert lines[0].startswith("error: recipe.yaml"), lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert snapshot(recipe_dir) == before and not (recipe_dir / "runs").exists()


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + OK.encode(),
    ("\ufeff" + OK).encode("utf-16-le"),
    OK.replace("\n", "\r\n").encode(),
    OK.encode() + b'    weight: "1.0"\n',
    b"name: t\nsources:\n  - &a\n    name: a\n    adapter: alpaca\n    path: d.jsonl\n  - <<: *a\n    name: b\n    weight: 0.5\n",
    b"name: t\nsources:\n  - name: a\n    adapter: alpaca\n    path: ~/d.jsonl\n",
], ids=["utf8-bom", "utf16-bom", "crlf", "weight-quoted-number", "anchor-and-merge-key", "home-tilde"])
def test_a_recipe_users_write_that_loads(recipe_dir, monkeypatch, capsys, data):
    monkeypatch.setenv("HOME", str(recipe_dir))
    (recipe_dir / "recipe.yaml").write_bytes(data)
    assert main(["run", "recipe.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    stats = json.loads((recipe_dir / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    assert (stats["read"], stats["ingested"]) == (N, N)
    if b"<<" in data:
        assert json.loads((recipe_dir / "runs" / "t" / "data" / "ingested" / "b.stats.json").read_text())["ingested"] == N


def test_a_comma_flaw_is_a_note_in_the_source_stats(tmp_path, monkeypatch, capsys):
    make(tmp_path, {"d.json": pretty_array().replace("\n  }\n]", "\n  },\n]").replace("},\n  {", "}\n  {", 1).encode()})
    (tmp_path / "r.yaml").write_text(recipe("d.json", "alpaca"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    assert (stats["read"], stats["ingested"], stats["malformed"]) == (N, N, 0)
    assert [n["note"].split(" at line")[0] for n in stats["notes"]] == [
        "not valid JSON: missing ',' before the item", "not valid JSON: trailing comma before ']'"]


@pytest.mark.parametrize("links, path, adapter, expected", [
    ({"pkg/loop": ".."}, "pkg", "code_files", (1, 0)),  # a folder link that loops: not entered
    ({"pkg/a.py": "b.py", "pkg/b.py": "a.py"}, "pkg", "code_files", (1, 0)),  # file links in a loop: no file
    ({"pkg/gone.py": "nowhere.py"}, "pkg", "code_files", (1, 0)),  # a broken link
    ({"in/e.jsonl": "d.jsonl"}, "in", "alpaca", (N, 0)),  # a link beside its target: read once
], ids=["code-folder-link-loop", "code-file-link-loop", "code-broken-link", "link-beside-its-target"])
def test_symbolic_links(tmp_path, monkeypatch, capsys, links, path, adapter, expected):
    make(tmp_path, {"pkg/m.py": MODULE, "in/d.jsonl": jsonl().encode()})
    for rel, target in links.items():
        (tmp_path / rel).symlink_to(target)
    (tmp_path / "r.yaml").write_text(recipe(path, adapter))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    read, malformed = expected
    assert (stats["read"], stats["ingested"], stats["malformed"]) == (read, read - malformed, malformed)


def test_windows_1252_text_is_decoded(tmp_path, monkeypatch, capsys):
    rows = [smart(i) for i in range(N)]
    make(tmp_path, {"d.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("cp1252")})
    (tmp_path / "r.yaml").write_text(recipe("d.jsonl", "alpaca"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    messages = pq.read_table(tmp_path / "runs" / "t" / "data" / "ingested" / "a.parquet").column("messages").to_pylist()
    assert [m[0]["content"] for m in messages] == [r["instruction"] for r in rows]


@pytest.mark.parametrize("files, text, expected", [
    ({"d.json": pretty_array().replace("\n  }\n]", "\n  },\n]").encode()}, recipe("d.json", "alpaca"), (N, 0)),
    ({"d.csv": ("sep=;\n" + csv_text(delimiter=";")).encode("cp1252")}, recipe("d.csv", "alpaca"), (N, 0)),
    ({"d.jsonl": jsonl().encode()}, "name: t\nsources:\n  - d.jsonl\n", "sources[0]"),
    ({"d.jsonl": jsonl().encode()}, OK + "seed: yes\n", "seed"),
], ids=["json-trailing-comma", "excel-csv", "bare-string-source", "seed-yes"])
def test_through_the_real_command_line(tmp_path, files, text, expected):
    make(tmp_path, files)
    (tmp_path / "r.yaml").write_text(text)
    before = snapshot(tmp_path)
    proc = run_cli("run", "r.yaml", "--stages", "ingest", cwd=tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(tmp_path) == before
    if isinstance(expected, str):
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
        assert proc.stderr.startswith("error: r.yaml:") and expected in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "runs" / "t" / "data" / "ingested" / "a.stats.json").read_text())
    assert (stats["read"], stats["ingested"], stats["malformed"]) == (expected[0], expected[0] - expected[1], expected[1])


def test_windows_1252_bytes_and_later_utf8_each_decode_as_they_are(tmp_path, monkeypatch, capsys):
    """A lone 8-bit byte early on does not turn the file into Windows-1252: real UTF-8 further
    down (past the sniffed head) still reads as UTF-8, never as mojibake."""
    first = json.dumps(smart(0), ensure_ascii=False).encode("cp1252") + b"\n"
    filler = [{"instruction": f"Pad {i} " + "x" * 400, "output": "def f():\n    return 0\n"} for i in range(200)]
    last = {"instruction": "Écris f, déjà “fini”.", "output": "def f():\n    return 1\n"}
    data = first + jsonl(filler).encode() + (json.dumps(last, ensure_ascii=False) + "\n").encode("utf-8")
    make(tmp_path, {"d.jsonl": data})
    (tmp_path / "r.yaml").write_text(recipe("d.jsonl", "alpaca"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "r.yaml", "--stages", "ingest"]) == 0, capsys.readouterr().err
    messages = pq.read_table(tmp_path / "runs" / "t" / "data" / "ingested" / "a.parquet").column("messages").to_pylist()
    assert len(messages) == 202
    assert messages[0][0]["content"] == smart(0)["instruction"] and messages[-1][0]["content"] == last["instruction"]
