"""alchemist's sanitizer against `evalplus.sanitize` (tree-sitter) on raw chat answers built from
HumanEval's 164 correct programs, one answer per shape a chat model writes: prose around a fence,
example usage and a `__main__` block, no fence at all, a helper in a fence of its own, a
decorator, a table filled by a loop, `try: import`, an augmented assignment, a raised recursion
limit. A program is "kept" when its sanitized text still passes HumanEval's test (scored by
alchemist's harness). Goal: ours keeps every program evalplus' keeps, and more.

    python benchmarks/sanitizer_comparison.py

Writes benchmarks/results/sanitizer_comparison.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alchemist.evaluate.sanitize import sanitize  # noqa: E402
from alchemist.evaluate.score import score  # noqa: E402
from alchemist.testsets import BENCHMARKS, Problem  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sanitizer_comparison.json"


def _with_body_line(program: str, entry: str, line: str) -> str:
    """The program with `line` as the entry point's first statement (after its docstring)."""
    tree = ast.parse(program)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry)
    at = 1 if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(getattr(fn.body[0], "value", None), ast.Constant) else 0
    fn.body.insert(at, ast.parse(line).body[0])
    return ast.unparse(tree)


def _renamed(program: str, entry: str, new: str) -> str:
    tree = ast.parse(program)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            node.name = new
        elif isinstance(node, ast.Name) and node.id == entry:
            node.id = new
    return ast.unparse(tree)


def fence(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def answers(p: Problem) -> dict[str, str]:
    """Raw chat answers, one per shape, each containing a correct program."""
    e, code = p.entry_point, p.prompt + p.solution
    decorator = ("import functools\n\ndef logged(fn):\n    @functools.wraps(fn)\n    def inner(*args, **kwargs):\n"
                 "        return fn(*args, **kwargs)\n    return inner\n\n")
    return {
        "prose_and_fence": f"Here is the implementation:\n\n{fence(code)}\n\nIt runs in linear time.",
        "example_usage": f"Sure!\n\n{fence(code + chr(10) * 2 + f'print({e}.__name__)' + chr(10) + f'assert callable({e})' + chr(10) + 'if __name__ == ' + repr('__main__') + ':' + chr(10) + '    print(1)')}\n",
        "no_fence": f"Sure! Here's the code:\n{code.strip()}\n\nLet me know if you need anything else.",
        "helper_in_own_fence": f"First a helper:\n\n{fence(_renamed(code, e, '_' + e + '_impl'))}\n\nThen the function:\n\n"
                               f"{fence(f'def {e}(*args):' + chr(10) + f'    return _{e}_impl(*args)')}\n",
        "decorator": f"With logging:\n\n{fence(decorator + code.replace(f'def {e}(', f'@logged{chr(10)}def {e}(', 1))}",
        "table_built_by_loop": fence("_TABLE = {}\nfor _i in range(3):\n    _TABLE[_i] = _i\n\n"
                                     + _with_body_line(code, e, "_TABLE[2]")),
        "try_import": fence("try:\n    from math import gcd as _gcd\nexcept ImportError:\n    _gcd = None\n\n"
                            + _with_body_line(code, e, "_gcd(4, 6)")),
        "augmented_assignment": fence("_NAMES = []\n_NAMES += ['x']\n\n" + _with_body_line(code, e, "_NAMES[0]")),
        "recursion_limit": fence("import sys\nsys.setrecursionlimit(10000)\n\n"
                                 + _with_body_line(code, e, "assert sys.getrecursionlimit() >= 10000")),
    }


def _kept(problems, rows, programs, work: Path, name: str) -> list[bool]:
    path = work / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"task_id": r["task_id"], "solution": code}) + "\n" for r, code in zip(rows, programs)))
    results = score(BENCHMARKS["humaneval"], problems, path, work / name, do_sanitize=False)
    by_line = {s["line"]: s for t in results["tasks"].values() for s in t["samples"]}
    return [by_line[i + 1]["status"] == "passed" for i in range(len(rows))]


def compare(problems: list[Problem]) -> dict:
    from evalplus.sanitize import sanitize as evalplus_sanitize

    rows = [{"task_id": p.task_id, "shape": shape, "raw": raw, "entry_point": p.entry_point}
            for p in problems for shape, raw in answers(p).items()]
    ours = [sanitize(r["raw"], r["entry_point"]) for r in rows]
    theirs = [evalplus_sanitize(r["raw"], r["entry_point"]) for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        kept_ours = _kept(problems, rows, ours, Path(tmp), "ours")
        kept_theirs = _kept(problems, rows, theirs, Path(tmp), "evalplus")
    shapes = {}
    for r, a, b in zip(rows, kept_ours, kept_theirs):
        s = shapes.setdefault(r["shape"], {"answers": 0, "kept_ours": 0, "kept_evalplus": 0, "only_ours": 0,
                                           "only_evalplus": 0})
        s["answers"] += 1
        s["kept_ours"] += a
        s["kept_evalplus"] += b
        s["only_ours"] += a and not b
        s["only_evalplus"] += b and not a
    lost = [{"task_id": r["task_id"], "shape": r["shape"], "ours": o} for r, a, b, o in zip(rows, kept_ours, kept_theirs, ours)
            if b and not a]
    return {"answers": len(rows), "kept_ours": sum(kept_ours), "kept_evalplus": sum(kept_theirs),
            "only_ours": sum(a and not b for a, b in zip(kept_ours, kept_theirs)),
            "only_evalplus": len(lost), "shapes": shapes, "kept_by_evalplus_not_ours": lost}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N tasks (0: all 164)")
    ap.add_argument("-o", "--output", default=str(RESULTS))
    args = ap.parse_args()
    problems = BENCHMARKS["humaneval"].eval_problems()
    problems = problems[:args.limit] if args.limit else problems
    report = compare(problems)
    from importlib.metadata import version

    report["versions"] = {p: version(p) for p in ("evalplus", "tree-sitter", "tree-sitter-python")}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"kept: ours {report['kept_ours']}/{report['answers']}, evalplus {report['kept_evalplus']}/{report['answers']}; "
          f"only ours {report['only_ours']}, only evalplus {report['only_evalplus']}")
    for shape, s in report["shapes"].items():
        print(f"  {shape}: ours {s['kept_ours']}, evalplus {s['kept_evalplus']} of {s['answers']}")


if __name__ == "__main__":
    main()
