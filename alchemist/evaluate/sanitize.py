"""Code out of a raw model answer, keeping everything the code needs and nothing that would run
before the tests.

Which code: the Python fenced blocks (else an unclosed fence, else the text from its first line
of code); the block that defines the entry point (by its exact name; the last one if several do)
is the program; definitions and imports from the other blocks that it uses (directly or through
each other) are kept too, as helpers are often shown in a fence of their own.

What of it: imports; functions and classes with their decorators; assignments (plain, annotated,
augmented); and top-level loops, `if`s, `try`s and method calls that build what the code needs
(`sys.setrecursionlimit(...)`, `try: import ...`, a table filled by a loop, `PRIMES = sieve(100)`).
Dropped: example usage, i.e. any statement that calls print/input, the entry point or a runner
the answer defines (`main()`, `test_...()`), and bare calls of the answer's own
functions or methods; asserts; `if __name__ == "__main__":` blocks; bare strings;
doctest/unittest/pytest runners.

What it adds: the benchmark prompt's own imports that the program uses without importing them. A
chat model answering HumanEval often restates the function but not the `from typing import List`
above it, and its program would fail with a NameError that says nothing about the solution; the
completion protocol runs prompt + completion, so the prompt's imports are part of the task.
(evalplus's sanitizer keeps the answer's imports only; bigcode's harness prepends the prompt's.)
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from alchemist.code import LANGUAGE_ALIASES, fenced_blocks

PARSE_ATTEMPTS = 40  # parses per block, at most (see _parse_prefix)
MAX_ANSWER = 200_000  # characters of an answer looked at; a longer one is cut (models do not write more)
_USAGE_CALLS = {"print", "input", "exit", "quit", "breakpoint", "help"}
_RUNNERS = re.compile(r"^(doctest|unittest|pytest)\b")
_RUNNER_NAMES = re.compile(r"^(test|main$|run$|demo|example)", re.I)  # an answer's functions that run the code
_CODE_START = re.compile(r"^(from\s+\w[\w.]*\s+import\b|import\s+\w|def\s+\w|async\s+def\s+\w|class\s+\w|@\w|\w+\s*(:[^=]+)?=[^=])")


def _blocks(text: str) -> list[str]:
    closed, unclosed = fenced_blocks(text)
    fenced = [(tag.lower(), body) for tag, body in closed]
    if not fenced:
        fenced = [(unclosed[0].lower(), unclosed[1])] if unclosed else []
    python = [body for tag, body in fenced if LANGUAGE_ALIASES.get(tag, "python" if not tag else tag) == "python"]
    if python:
        return python
    if fenced:
        return [body for _, body in fenced]
    lines = text.splitlines()  # bare code, maybe after a sentence of prose: start at its first code line
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), 0)
    return ["\n".join(lines[start:])]


@lru_cache(maxsize=64)
def _parse_prefix(code: str) -> tuple[ast.Module, list[str]] | None:
    """The longest prefix of whole lines that parses (answers are often cut off mid-line, or
    followed by prose), and its lines. Linear, not one parse per line: each failed parse jumps
    to the line before its error (an unclosed bracket names the line it opened on), and at most
    PARSE_ATTEMPTS parses are tried, so a long answer under one unclosed bracket costs a few
    parses, not one per line."""
    lines = code.splitlines()
    end = len(lines)
    for _ in range(PARSE_ATTEMPTS):
        if end <= 0:
            return None
        try:
            return ast.parse("\n".join(lines[:end])), lines[:end]
        except SyntaxError as e:
            line = e.lineno if isinstance(e.lineno, int) else end
            end = min(end - 1, max(line - 1, 0) if line < end else end - 1)
        except (ValueError, RecursionError, MemoryError):  # null bytes; code nested too deep to parse
            end -= 1
    return None


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}


def _keep(node: ast.stmt, usage: set[str], calls: set[str]) -> bool:
    """Whether a top-level statement belongs to the code, not to an example of using it. `usage`:
    names whose call anywhere in a statement marks it as usage (print, the entry point, main());
    `calls`: the answer's own functions and methods, whose bare call is a statement of usage."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assert, ast.Pass, ast.Delete, ast.With, ast.AsyncWith)) or _is_main_guard(node):
        return False
    if _called_names(node) & usage:
        return False
    if isinstance(node, ast.Expr):
        value = node.value
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
            return False  # bare strings (docstrings, notes), names, calls of the answer's functions
        return value.func.attr not in calls and not _RUNNERS.match(ast.unparse(value.func))
    return isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.While, ast.If, ast.Try))


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1:node.end_lineno])


def _kept(block: str, usage: set[str], calls: set[str]) -> list[tuple[ast.stmt, str]]:
    parsed = _parse_prefix(block)
    if parsed is None:
        return []
    tree, lines = parsed
    return [(node, _segment(lines, node)) for node in tree.body if _keep(node, usage, calls)]


def _defines(block: str, name: str) -> bool:
    parsed = _parse_prefix(block)
    return parsed is not None and any(name in _defined(n) for n in parsed[0].body
                                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign)))


def sanitize(text: str, entry_point: str | None = None, prompt: str | None = None) -> str:
    """The code of an answer (see the module docstring); `prompt`: the benchmark prompt, whose
    imports the program may rely on. An answer is hostile input: any failure here keeps the
    answer's text as it is (it then fails or passes on its own)."""
    try:
        code = _sanitize(text[:MAX_ANSWER], entry_point)
        return with_prompt_imports(code, prompt) if prompt else code
    except (RecursionError, MemoryError, ValueError):
        return text.strip()


def _prompt_imports(prompt: str) -> list[ast.stmt]:
    parsed = _parse_prefix(prompt)
    if parsed is None:
        return []
    return [n for n in parsed[0].body if isinstance(n, ast.Import)
            or isinstance(n, ast.ImportFrom) and n.module != "__future__" and n.level == 0]  # relative ones mean nothing here


def with_prompt_imports(code: str, prompt: str) -> str:
    """`code` with each import of `prompt` (top level) that binds a name the code uses but never
    binds itself put first (after the code's `from __future__` lines, which must lead). Code that
    does not parse, or needs none of them, is returned as it is."""
    imports = _prompt_imports(prompt)
    parsed = _parse_prefix(code) if imports else None
    if not parsed:
        return code
    tree = parsed[0]
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound |= _defined(node)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound
    missing = [ast.unparse(n) for n in imports if _defined(n) & used]
    if not missing:
        return code
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    cut = future[-1].end_lineno if future else 0
    lines = code.splitlines()
    head, rest = "\n".join(lines[:cut]), "\n".join(lines[cut:])
    return "\n".join(part for part in (head, *missing, rest) if part) + ("\n" if code.endswith("\n") else "")


def _sanitize(text: str, entry_point: str | None) -> str:
    blocks = _blocks(text)
    functions = set()  # every function and method the answer defines
    for block in blocks:
        parsed = _parse_prefix(block)
        if parsed:
            functions |= {n.name for n in ast.walk(parsed[0]) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    # a statement that calls one of these is usage; tables may be built with the other helpers
    usage = _USAGE_CALLS | {f for f in functions if _RUNNER_NAMES.match(f)} | ({entry_point} if entry_point else set())
    main_index = None
    if entry_point:
        defining = [i for i, b in enumerate(blocks) if _defines(b, entry_point)]
        main_index = defining[-1] if defining else None
    if main_index is None:
        parts = [seg for b in blocks for _, seg in _kept(b, usage, functions)]
    else:
        main = _kept(blocks[main_index], usage, functions)
        own = set().union(*(_defined(n) for n, _ in main)) if main else set()
        others = [(node, seg) for i, b in enumerate(blocks) if i != main_index for node, seg in _kept(b, usage, functions)
                  if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                       ast.Assign, ast.AnnAssign)) and not (_defined(node) & own)]
        needed = set().union(*(_names(n) for n, _ in main)) if main else set()
        chosen: set[int] = set()
        grew = True
        while grew:  # helpers the program uses, and what they use in turn
            grew = False
            for i, (node, _) in enumerate(others):
                if i not in chosen and _defined(node) & needed:
                    chosen.add(i)
                    needed |= _names(node)
                    grew = True
        helpers = [seg for i, (_, seg) in enumerate(others) if i in chosen]
        parts = helpers + [seg for _, seg in main]
    if not parts:
        return text.strip()
    return "\n\n".join(parts) + "\n"
