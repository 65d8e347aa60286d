"""Builds labeled.jsonl, the labeled decontamination set, from the hand-written records in src/
and real standard-library functions (clean code that no benchmark was built from).

    python benchmarks/data/decontamination/build.py

src/*.txt hold one record per `### key=value ...` header: the text under it is the sample; a
line `---` separates its instruction from its answer, and without one the instruction is the
generic "Write the following python code." (the problem statement then lives only in the
program's docstring or comments). Kinds:
- program_py, program_js, program_c: a HumanEval problem's whole program rewritten (statement
  reworded in the docstring, names changed, code restructured) or translated: contaminated;
- statement: the problem statement rewritten, with a different solution: contaminated;
- hard_negative: a real exercise on the same topic as `task` that is a different task: clean;
- clean, clean_stdlib: generic exercises that are no benchmark problem: clean.
Split: problems are split by a hash of their task id (held-out tasks never appear in
calibration); clean records alternate. Records that name a benchmark task in clean.txt are
generic-looking exercises that are that task (a median of a list is HumanEval/47).
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
GENERIC = "Write the following python code."
CONTAMINATED = {"program_py", "program_js", "program_c", "statement"}
LANG = {"program_py": "python", "program_js": "javascript", "program_c": "c"}
_HEAD = re.compile(r"^### (.*)$", re.M)


def parse(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    heads = list(_HEAD.finditer(text))
    out = []
    for n, m in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(text)
        body = text[m.end() + 1 : end].rstrip("\n")
        keys = dict(kv.split("=", 1) for kv in m.group(1).split())
        if "\n---\n" in body:
            instruction, output = body.split("\n---\n", 1)
        else:
            instruction, output = GENERIC, body
        if instruction.strip() == GENERIC and "\n---\n" in body:
            instruction = GENERIC
        out.append({"kind": keys["kind"], "task_id": keys.get("task"), "instruction": instruction.strip(),
                    "output": output, "origin": f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}"})
    return out


def held_out_tasks(records: list[dict]) -> set[str]:
    # by a hash of the task id, so that adding records of a new task moves no other task
    return {r["task_id"] for r in records if r["task_id"] and zlib.crc32(r["task_id"].encode()) % 2}


def main():
    records = []
    for path in sorted((HERE / "src").glob("*.txt")):
        records += parse(path)
    sys.path.insert(0, str(ROOT))
    from tests.helpers import stdlib_functions

    # real standard-library functions: half asked for by their docstring's first line, half as a
    # whole program under the generic instruction (the docstring is then the only statement)
    for i, r in enumerate(stdlib_functions(limit=420)):
        code = r["output"].strip("`").removeprefix("python\n").strip("\n")
        if i % 2:
            records.append({"kind": "clean_stdlib", "task_id": None, "instruction": GENERIC, "output": code, "origin": r["origin"]})
        else:
            records.append({"kind": "clean_stdlib", "task_id": None, "instruction": r["instruction"], "output": r["output"],
                            "origin": r["origin"]})
    held = held_out_tasks(records)
    clean_seen = 0
    with open(HERE / "labeled.jsonl", "w", encoding="utf-8") as fh:
        for i, r in enumerate(records):
            if r["task_id"]:
                split = "held_out" if r["task_id"] in held else "calibration"
            else:
                split = "held_out" if clean_seen % 2 else "calibration"
                clean_seen += 1
            row = {"id": i, "split": split, "kind": r["kind"], "contaminated": r["kind"] in CONTAMINATED,
                   "task_id": r["task_id"], "language": LANG.get(r["kind"]), "instruction": r["instruction"],
                   "output": r["output"], "origin": r["origin"]}
            fh.write(json.dumps(row) + "\n")
    print(f"{len(records)} records, {len(held)} held-out tasks")


if __name__ == "__main__":
    main()
