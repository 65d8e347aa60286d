"""OSS-Instruct with self-validation (Magicoder, SelfCodeAlign): a code snippet inspires a
problem, a solution and tests; a Python solution is kept only when it passes its own tests in
the sandbox. Pure helpers here; the stage sends the requests and runs the sandbox."""

from __future__ import annotations

import ast
import re

from alchemist.code import extract_code_blocks
from alchemist.execution.languages import as_program, has_checks, normalize
from alchemist.execution.languages import missing as missing_toolchains
from alchemist.relabel.tasks import clip, language_name
from alchemist.relabel.templates import load
from alchemist.schema import Sample, make_tests


def is_seed(sample: Sample) -> bool:
    return sample.task == "code_snippet"


def request(seed: Sample, target: str, candidate: int) -> list[dict]:
    return load("oss_instruct").messages(snippet=clip(seed.response or seed.instruction, 3000),
                                         language=seed.language or "unknown", target=target, candidate=candidate,
                                         target_name=language_name(target))


def _tag(text: str, name: str) -> str | None:
    m = re.search(rf"<{name}>\s*(.*?)\s*</{name}>", text, re.S | re.I)
    return m.group(1).strip() if m else None


def _code(part: str | None) -> str | None:
    if part is None:
        return None
    blocks = extract_code_blocks(part)
    return blocks[0][1].strip("\n") if blocks else part.strip()


_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.S)


def _labeled(answer: str, target: str) -> tuple[str, str, str] | None:
    """(problem, solution, tests) of the labeled form a small model writes after the pre-filled
    "Problem: Write a TARGET function": the problem up to its first code fence or "Solution", the
    first closed code block as the solution, and the next closed block holding an assert as the
    tests. What follows (models repeat their tests, add examples) is ignored."""
    start = f"Write a {language_name(target)} function"
    text = answer if answer.lstrip().lower().startswith("problem:") else f"Problem: {start}{answer}"
    head = re.split(r"\n\s*(?:\**solution\**\s*:?|```)", text, maxsplit=1, flags=re.I)[0]
    problem = " ".join(re.sub(r"^\s*problem\s*:\s*", "", head, flags=re.I).split())
    blocks = [m.group(1).strip("\n") for m in _FENCE.finditer(text[len(head):])]
    if not problem or not blocks:
        return None
    tests = next((b for b in blocks[1:] if "assert" in b), "")
    return problem, blocks[0], tests


def parse(answer: str, target: str = "python") -> tuple[tuple[str, str, str] | None, str | None]:
    """((problem, solution, tests), None) or (None, reason); tests may be ''. Tagged answers and
    the labeled form (`_labeled`) are both read."""
    problem, solution = _tag(answer, "problem"), _code(_tag(answer, "solution"))
    if problem and solution:
        return (problem, solution, _code(_tag(answer, "tests")) or ""), None
    found = _labeled(answer, target)
    if found is None:
        return None, "missing_tags"
    return found, None


def program(solution: str, tests: str) -> str:
    return f"{solution}\n\n{tests}\n"


def _defined(tree: ast.Module) -> set[str]:
    """Names a solution defines at module level: functions, classes, assigned and imported names,
    also inside top-level if/try/with/for blocks (not inside functions or classes)."""
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(node, field, None) or [])
    return names


def precheck(solution: str, tests: str) -> str | None:
    """The reason a Python candidate fails before running it, or None. Tests must hold an assert
    statement and use something the solution defines: `# assert later`, `assert True` or asserts
    about the standard library test nothing and are `no_tests`."""
    try:
        ast.parse(program(solution, tests))
        solution_tree, tests_tree = ast.parse(solution), ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting raises the last two
        return "syntax_error" if "assert" in tests else "no_tests"
    used = {n.id for n in ast.walk(tests_tree) if isinstance(n, ast.Name)}
    if not any(isinstance(n, ast.Assert) for n in ast.walk(tests_tree)) or not used & _defined(solution_tree):
        return "no_tests"
    return None


def precheck_language(language: str, solution: str, tests: str) -> str | None:
    """Like `precheck`, for a C++/JavaScript/Java/Go/Rust candidate: its tests must check
    something (asserts in a main, Go Test functions, Rust assert macros or #[test]s)."""
    lang = normalize(language)
    if lang is None:
        return "no_toolchain"
    return None if has_checks(lang, tests or solution) else "no_tests"


def language_program(language: str, solution: str, tests: str) -> str:
    """A non-Python candidate and its tests as one program of its language."""
    return as_program(normalize(language) or language, program(solution, tests))


def language_verdict(target: str, solution: str, tests: str, run) -> tuple[str | None, bool]:
    """(reject reason, validated) of a C++/JavaScript/Java/Go/Rust candidate: `run(program,
    language)` (Validator.reason) decides when its toolchain is installed here; otherwise the
    candidate is kept unvalidated (not its fault)."""
    lang = normalize(target)
    if lang is None or lang in missing_toolchains():
        return None, False
    why = precheck_language(lang, solution, tests) or run(language_program(lang, solution, tests), lang)
    return why, why is None


def verdict(outcome) -> str | None:
    """None when the program passed, else the reject reason."""
    if outcome.status == "passed":
        return None
    if getattr(outcome, "stage", "") == "compile":
        return "compile_error"
    return "timeout" if outcome.status == "timeout" else "tests_fail"


def pair(seed: Sample, problem: str, solution: str, target: str, validated: bool, meta: dict,
         tests: str = "", attempts: int | None = None) -> Sample:
    """The kept (problem, solution) as a sample; its Python tests travel with it (`Sample.tests`),
    with the verdict of the solution against them and the candidates it took (`attempts`)."""
    response = f"```{target}\n{solution}\n```"
    kept = (make_tests("asserts", tests, "oss_instruct", verdict="passed" if validated else "unverified", attempts=attempts)
            if target == "python" and tests.strip() else None)
    return Sample(source=seed.source, messages=[{"role": "user", "content": problem}, {"role": "assistant", "content": response}],
                  task="codegen", language=target,
                  meta={**meta, "origin": seed.id, "generated": "oss_instruct", "validated": validated,
                        "template": load("oss_instruct").id}, tests=kept)
