"""Shared test helpers: real clean code, JSONL writing, running the CLI."""

import ast
import json
import os
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stdlib_functions(limit: int = 400, min_lines: int = 6, max_lines: int = 60) -> list[dict]:
    """Real, distinct code: top-level functions of the standard library, with their docstrings
    as instructions. Clean data for false-positive checks (no benchmark was built from these)."""
    out = []
    libdir = Path(os.__file__).parent
    for path in sorted(libdir.glob("*.py")):
        try:
            src = path.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                code = ast.get_source_segment(src, node)
                if not doc or not code or not (min_lines <= code.count("\n") <= max_lines):
                    continue
                first = doc.strip().splitlines()[0]
                out.append({"instruction": f"Write a Python function `{node.name}`: {first}",
                            "output": f"```python\n{textwrap.dedent(code)}\n```", "origin": f"{path.name}:{node.lineno}"})
                if len(out) >= limit:
                    return out
    return out


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def run_cli(*args, cwd=ROOT, timeout=300):
    import subprocess

    return subprocess.run([sys.executable, "-m", "alchemist.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
