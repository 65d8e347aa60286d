"""A synthetic but realistic code-instruction corpus for benchmarks: real code (functions and
methods of the Python standard library), instructions from their docstrings, and the defects
real corpora have (exact and near duplicates, junk, benchmark leaks) at realistic rates."""

from __future__ import annotations

import ast
import os
import random
import re
import textwrap
from pathlib import Path

TEMPLATES = (
    "Write a Python function `{name}` that does the following: {doc}",
    "Implement `{name}` in Python. {doc}",
    "{doc}\nPlease provide a Python implementation named {name}.",
    "Create a function called {name}. Requirements: {doc}",
    "How would you write {name} in Python? It should: {doc}",
)


def code_pool(min_lines: int = 4, max_lines: int = 80) -> list[tuple[str, str, str]]:
    """(name, first docstring line, source) of stdlib functions and methods."""
    pool = []
    for path in sorted(Path(os.__file__).parent.rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            src = path.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = src.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                if not (min_lines <= node.end_lineno - start <= max_lines):
                    continue
                code = "\n".join(lines[start - 1 : node.end_lineno])
                doc = (ast.get_docstring(node) or "").strip().splitlines()
                doc = doc[0] if doc else f"implement the behaviour of {node.name} shown in its name"
                pool.append((node.name, doc, textwrap.dedent(code)))
    return pool


def make_records(n: int, seed: int = 0) -> list[dict]:
    from alchemist.testsets import load_benchmark

    rng = random.Random(seed)
    pool = code_pool()
    humaneval = load_benchmark("humaneval")
    records = []
    for i in range(n):
        roll = rng.random()
        if records and roll < 0.03:  # exact duplicate
            records.append(dict(rng.choice(records)))
            continue
        if records and roll < 0.06:  # near duplicate: one identifier renamed, a comment added
            r = dict(rng.choice(records))
            names = re.findall(r"\b([a-z_]\w{2,})\s*=", r["output"])
            if names:
                old = rng.choice(names)
                r["output"] = re.sub(rf"\b{old}\b", old + "_1", r["output"])
            r["output"] = r["output"].replace("\n", "\n# reviewed\n", 1)
            records.append(r)
            continue
        if roll < 0.07:  # junk
            records.append({"instruction": "Write a function that reverses a list.", "input": "",
                            "output": rng.choice(["", "Yes.", "Use reversed().", 'print "done"\n'])})
            continue
        if roll < 0.075:  # benchmark leak
            p = rng.choice(humaneval)
            records.append({"instruction": f"Complete the function:\n{p.prompt}", "input": "",
                            "output": f"```python\n{p.prompt}{p.solution}```"})
            continue
        name, doc, code = pool[i % len(pool)]
        if i >= len(pool):  # beyond the pool: two functions make one answer, still distinct content
            name2, _, code2 = pool[rng.randrange(len(pool))]
            code = f"{code}\n\n{code2}"
        instruction = rng.choice(TEMPLATES).format(name=name, doc=doc)
        output = f"Here is an implementation:\n\n```python\n{code}\n```" if rng.random() < 0.6 else code
        records.append({"instruction": instruction, "input": "<noinput>" if rng.random() < 0.5 else "", "output": output})
    rng.shuffle(records)  # published corpora are shuffled; long and short samples mix in every shard
    return records
