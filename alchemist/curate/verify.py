"""Execution-verified data (`curate.verify`): Python answers are run in the sandbox, and an
answer whose own checks fail is dropped as `fails_execution`, with the error.

What runs is the answer's Python code (its fenced blocks, joined) and, as its checks:
- the `assert` statements it contains (they run with the code);
- else the doctest examples of its docstrings (`>>> f(1)` / expected output), through doctest;
- else a smoke run: the code is imported (its definitions and top-level statements run, a
  `__main__` block does not).
What is not the answer's fault keeps it (counted as unverified): a third-party module that is not
installed here, reading stdin, a smoke run that times out (servers, games), a sandbox failure.

C++, JavaScript, Java, Go and Rust answers run too (alchemist.execution.languages), when they
carry their own checks: asserts in a main (`assert(`, `assert.`/`console.assert`, `assert`/
`throw new AssertionError` in Java, `assert!` or `#[test]` in Rust), Go `Test` functions or a Go
main that panics. An answer that fails to compile or whose checks fail is `fails_execution`; one
without checks, or in a language whose toolchain is not installed, is kept and counted as
unverified with the reason.
"""

from __future__ import annotations

import ast
import doctest
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from alchemist.code import extract_code_blocks
from alchemist.execution import Limits, SandboxPool
from alchemist.execution.languages import LANGUAGE_LIMITS, LanguagePool, as_program, has_checks, normalize
from alchemist.execution.languages import missing as missing_toolchains
from alchemist.schema import make_tests

_ASSERT = re.compile(r"^\s*assert\b", re.M)
_DOCTEST = re.compile(r"^\s*>>> ", re.M)
NOT_ITS_FAULT = ("ModuleNotFoundError", "ImportError", "EOFError", "OSError: [Errno", "PermissionError")
# An example that fails for want of context the snippet does not hold (a name defined elsewhere
# in its module, an uninstalled import) says nothing about the answer: only the others count.
DOCTEST_RUNNER = """
import doctest as _doctest
_failed = 0
for _obj in [o for o in list(globals().values()) if getattr(o, "__module__", None) == __name__]:
    for _test in _doctest.DocTestFinder().find(_obj, module=False, globs=dict(globals())):
        for _example in _test.examples:
            _one = _doctest.DocTest([_example], _test.globs, _test.name, None, None, None)
            _report = []
            _runner = _doctest.DocTestRunner(verbose=False, optionflags=_doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE)
            if _runner.run(_one, out=_report.append).failed and not any(
                    e in "".join(_report) for e in ("NameError", "ImportError", "ModuleNotFoundError", "AttributeError: module")):
                _failed += 1
if _failed:
    raise AssertionError(f"{_failed} doctest example(s) failed")
"""


def program(sample) -> tuple[str, str] | None:
    """(source, kind of check) for a sample's Python answer, or None when it has no Python code."""
    if sample.task not in ("codegen", "code_snippet"):
        return None
    blocks = [code for m in sample.messages if m["role"] == "assistant"
              for lang, code in extract_code_blocks(m["content"])
              if lang == "python" or (lang is None and sample.language == "python")]
    code = "\n\n".join(b for b in blocks if b.strip() and not b.lstrip().startswith(">>>"))
    if not code.strip():
        return None
    # a `__main__` block is the answer's demo (often reading input): imports and asserts are the check
    head = "__name__ = 'alchemist_verify'\n"
    if _ASSERT.search(code):
        return head + code, "asserts"
    if _DOCTEST.search(code):
        return head + code + "\n" + DOCTEST_RUNNER, "doctest"
    return head + code, "smoke"


def kept_tests(sample, detail: dict | None) -> dict | None:
    """The checks a kept Python answer ran as (`schema.make_tests`): its top-level asserts (with
    its top-level imports as setup) or its docstrings' doctest examples; verdict passed, or
    unverified when the run said nothing about the answer (`detail`). None for a smoke run."""
    found = program(sample)
    if found is None or found[1] == "smoke":
        return None
    source, kind = found
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    verdict = "unverified" if detail and "unverified" in detail else "passed"
    if kind == "asserts":
        code = "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, ast.Assert))
        setup = "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
        return make_tests("asserts", code, "curate.verify", setup=setup, verdict=verdict) if code else None
    examples = [e for node in ast.walk(tree) if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                for e in doctest.DocTestParser().get_examples(ast.get_docstring(node) or "")]
    code = "\n".join(">>> " + e.source.rstrip().replace("\n", "\n... ") + ("\n" + e.want.rstrip() if e.want.strip() else "")
                     for e in examples)
    return make_tests("doctest", code, "curate.verify", verdict=verdict) if code else None


def language_program(sample) -> tuple[str, str] | str | None:
    """(language, source) for an answer in a compiled/interpreted language with its own checks;
    a reason string when it cannot be checked; None when it has no such code."""
    if sample.task not in ("codegen", "code_snippet"):
        return None
    blocks = [(normalize(lang or sample.language), code) for m in sample.messages if m["role"] == "assistant"
              for lang, code in extract_code_blocks(m["content"])]
    blocks = [(lang, code) for lang, code in blocks if lang and code.strip()]
    if not blocks:
        return None
    lang = blocks[0][0]
    code = "\n\n".join(c for lg, c in blocks if lg == lang)
    if not has_checks(lang, code):
        return f"no checks in its {lang} code"
    return lang, as_program(lang, code)


def _judge(outcome, kind: str) -> tuple[str | None, dict | None]:
    if outcome.status == "passed":
        return None, None
    err = (outcome.checks_stderr or outcome.stderr or "").strip()
    last = err.splitlines()[-1] if err else outcome.status
    if any(x in err for x in NOT_ITS_FAULT) or (outcome.status == "timeout" and kind == "smoke"):
        return None, {"unverified": last[:300]}
    return "fails_execution", {"check": kind, "status": outcome.status, "error": last[:300]}


def verify(samples: list, spec, pool=None) -> list[tuple[str | None, dict | None]]:
    """(reason, detail) per sample: ("fails_execution", {"check", "status", "error"}) when its
    Python answer fails its own checks, else (None, None) or (None, {"unverified": why})."""
    limits = Limits(timeout=spec.timeout, memory_mb=spec.memory_mb)
    jobs = [(i, p) for i, s in enumerate(samples) if (p := program(s)) is not None]
    out: list[tuple[str | None, dict | None]] = [(None, None)] * len(samples)
    python = {i for i, _ in jobs}
    others = [(i, p) for i, s in enumerate(samples) if i not in python and (p := language_program(s)) is not None]
    for i, found in others:
        if isinstance(found, str):
            out[i] = (None, {"unverified": found})
    verify_languages([(i, p) for i, p in others if not isinstance(p, str)], spec, out)
    own = pool is None
    pool = pool or SandboxPool()
    try:
        def run(job):
            i, (source, kind) = job
            try:
                return i, _judge(pool.run(source, limits), kind)
            except Exception as e:  # the sandbox itself failed: not the sample's fault
                return i, (None, {"unverified": f"sandbox: {e}"[:300]})

        with ThreadPoolExecutor(max_workers=spec.workers) as ex:
            for i, verdict in ex.map(run, jobs):
                out[i] = verdict
    finally:
        if own:
            pool.close()
    return out


def verify_languages(jobs: list, spec, out: list) -> int:
    """Run (index, (language, source)) answers in the toolchain sandbox; verdicts into `out`."""
    if not jobs:
        return 0
    absent = missing_toolchains()
    limits = replace(LANGUAGE_LIMITS, timeout=max(spec.timeout, LANGUAGE_LIMITS.timeout))
    with LanguagePool() as pool:
        def run(job):
            i, (lang, source) = job
            if lang in absent:
                return i, (None, {"unverified": absent[lang]})
            try:
                o = pool.run(lang, source, limits)
            except Exception as e:  # the sandbox itself failed: not the sample's fault
                return i, (None, {"unverified": f"sandbox: {e}"[:300]})
            if o.status == "passed":
                return i, (None, None)
            if o.stage == "compile":
                return i, ("fails_execution", {"check": f"{lang} compile", "status": o.status, "error": o.stderr[:300]})
            err = (o.stderr or o.stdout).strip()
            return i, ("fails_execution", {"check": f"{lang} asserts", "status": o.status,
                                           "error": (err.splitlines() or [o.status])[0][:300]})

        with ThreadPoolExecutor(max_workers=spec.workers) as ex:
            for i, verdict in ex.map(run, jobs):
                out[i] = verdict
    return len(jobs)
