"""A sample's tests as sandbox checks that count, one by one, how many a candidate passes.

The candidate runs in one process; its tests run in the checks' process (`execution.Checks`),
where each function the tests call is a proxy that gets plain data back. A driver there runs the
tests' statements in order, each assert in its own try, and prints `<nonce> passed total` on the
checks' stdout, a channel the candidate cannot write to. So what a candidate prints, patches or
raises in its own process, or how it exits, never turns into a pass: only return values the
asserts accept do.

Which asserts count: those that call a function the candidate must define (`names`); an assert
about the standard library alone tests nothing and is run but not counted.
"""

from __future__ import annotations

import ast
import builtins
import json
import secrets
from dataclasses import dataclass

from alchemist.code import extract_code_blocks
from alchemist.execution import Checks

_BUILTINS = set(dir(builtins))
# the driver, in the checks' process: each statement in order, each counted assert in its own try
DRIVER = """
_passed = 0
for _counted, _src in {statements!r}:
    try:
        exec(compile(_src, "checks.py", "exec"), globals())
    except ProgramTimeout:
        break  # every later call would raise too: the rest fail
    except BaseException:
        continue
    _passed += _counted
print({nonce!r}, _passed, {total})
"""


@dataclass(frozen=True)
class Suite:
    """Tests ready to run: the statements in order (counted or not), the names the candidate must
    define, the setup (imports) the checks need."""

    statements: tuple[tuple[bool, str], ...]
    names: tuple[str, ...]
    setup: str = ""

    @property
    def total(self) -> int:
        return sum(counted for counted, _ in self.statements)

    def checks(self, call_timeout: float) -> tuple[Checks, str]:
        """The sandbox checks and the nonce their result line starts with."""
        nonce = secrets.token_hex(8)
        per_call = "".join(f"{n}.timeout = {call_timeout!r}\n" for n in self.names)
        test = per_call + DRIVER.format(statements=list(self.statements), nonce=nonce, total=self.total)
        return Checks(test=test, names=self.names, setup=self.setup), nonce


def _defined_functions(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _bound(tree: ast.AST) -> set[str]:
    """Names the tests bind themselves: assigned, looped over, defined."""
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        targets = (n.targets if isinstance(n, ast.Assign) else
                   [n.target] if isinstance(n, (ast.AnnAssign, ast.AugAssign, ast.For, ast.comprehension)) else [])
        out |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    return out


def suite(tests: dict, reference: str | None = None) -> Suite | None:
    """The Suite of a sample's tests (`schema.make_tests`), or None when they hold no counted
    assert. `reference` (the sample's own answer) says which names are the candidate's: the
    functions it defines that the tests use; without it, every name the tests use but neither
    define nor import, and that is no builtin."""
    if tests.get("kind") not in ("asserts", "test_list"):
        return None  # doctests compare printed output, not returned values: not run as rewards
    try:
        tree = ast.parse(tests.get("code", ""))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    own = {(a.asname or a.name).split(".")[0] for n in imports for a in n.names} | _bound(tree)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if reference is not None:
        names = used & _defined_functions(reference)
    else:
        names = {n for n in used - own if n not in _BUILTINS}
    if not names:
        return None
    statements = []
    for node in body:
        calls = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & names
        statements.append((isinstance(node, ast.Assert) and bool(calls), ast.unparse(node)))
    # the tests' own setup (MBPP's test_setup_code) runs before their imports
    setup = "\n".join([*([tests["setup"]] if tests.get("setup") else []), *(ast.unparse(n) for n in imports)])
    out = Suite(tuple(statements), tuple(sorted(names)), setup)
    return out if out.total else None


def suite_json(s: Suite) -> str:
    return json.dumps({"statements": s.statements, "names": s.names, "setup": s.setup})


def suite_from_json(text: str) -> Suite:
    d = json.loads(text)
    return Suite(tuple((bool(c), src) for c, src in d["statements"]), tuple(d["names"]), d["setup"])


def candidate_code(completion: str) -> str | None:
    """The Python code of an answer: its python (or untagged) fenced blocks, joined; an answer
    without a fence counts when it parses as Python whole. None: a format failure."""
    blocks = [code for lang, code in extract_code_blocks(completion) if lang in (None, "python")]
    if blocks:
        code = "\n\n".join(b for b in blocks if b.strip())
    else:
        code = completion
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return code if code.strip() else None


def count_passed(checks_stdout: str, nonce: str, total: int) -> int:
    """Tests passed, from the driver's line on the checks' stdout (0 when it is not there)."""
    for line in reversed(checks_stdout.splitlines()):
        parts = line.split()
        if len(parts) == 3 and parts[0] == nonce and parts[2] == str(total) and parts[1].isdigit():
            return min(int(parts[1]), total)
    return 0
