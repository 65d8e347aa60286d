"""Scoring HumanEval-X and MultiPL-E (`humaneval_x/<language>`, `multipl_e/<language>`): prompts
in the benchmark's style, the function cut out of a chat answer or a completion per language, and
each candidate run with the problem's test program in the toolchain sandbox
(alchemist.execution.languages).

Why our own extraction: evalplus' sanitizer parses Python only; for C-like languages the
function is found by its name and cut by brace matching (strings, chars and comments skipped),
as CodeGeeX's post-processing does for completions."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from alchemist.code import extract_code_blocks
from alchemist.errors import UserError
from alchemist.evaluate.records import Verdict
from alchemist.execution import Limits
from alchemist.execution.languages import PACKAGES, LanguagePool, normalize, toolchain
from alchemist.testsets import Problem
from alchemist.testsets.braces import close_at_depth, depth, remove_item
from alchemist.testsets.humaneval_x import TITLES
from alchemist.testsets.multilang import language_of, program

FENCE = {"cpp": "cpp", "js": "javascript", "java": "java", "go": "go", "rust": "rust"}
# a completion ends where the next top-level item starts (and at the function's closing brace)
STOPS = {"cpp": ("\nint main", "\n#include", "\n/*"), "js": ("\nconst ", "\nfunction ", "\nconsole."),
         "java": ("\npublic static void main", "\npublic class"), "go": ("\nfunc ", "\npackage "),
         "rust": ("\nfn main", "\n#[cfg(test)]", "\nmod tests")}
_MAINS = {"cpp": r"^\s*int\s+main\s*\(", "go": r"^\s*func\s+main\s*\(", "java": r"^\s*(public\s+)?(final\s+)?class\s+Main\b"}


def defines(lang: str, code: str, name: str) -> bool:
    n = re.escape(name)
    pattern = {"cpp": rf"\b{n}\s*\([^;{{}}]*\)\s*(const\s*)?\{{", "js": rf"\b(const|let|var|function)\s+{n}\b",
               "java": rf"\b{n}\s*\([^;{{}}]*\)\s*(throws\s+[\w., ]+)?\{{", "go": rf"\bfunc\s+{n}\s*\(",
               "rust": rf"\bfn\s+{n}\b"}[lang]
    return bool(re.search(pattern, code))


def completion(p: Problem, text: str) -> str:
    """The prompt and its continuation, cut where the prompt's open function closes."""
    opened = depth(p.prompt)
    end = close_at_depth(text, opened) if opened > 0 else None
    body = text[:end] if end is not None else text
    return p.prompt + body


def sanitize(text: str, p: Problem, lang: str) -> str:
    """The candidate's code from a chat answer: the fenced block (of the language, else any) that
    defines the entry point; a bare body is put after the prompt; the answer's own `main` (C++, Go)
    or `Main` class (Java) is left out, since the test brings its own."""
    blocks = [code for tag, code in extract_code_blocks(text) if normalize(tag) in (lang, None)] or [text]
    name = p.entry_point or ""
    code = next((b for b in blocks if name and defines(lang, b, name)), None)
    if code is None:  # the function's body only: after the prompt
        return completion(p, max(blocks, key=len))
    if lang in _MAINS:
        code = remove_item(code, _MAINS[lang])
    if lang == "java" and not re.search(r"\bclass\s+Solution\b", code):
        imports = "\n".join(ln for ln in code.splitlines() if ln.startswith("import "))
        rest = "\n".join(ln for ln in code.splitlines() if not ln.startswith("import "))
        code = f"{imports}\nclass Solution {{\n{rest}\n}}"
    return code


def prompt_text(p: Problem, lang: str) -> str:
    """The instruct style's request, in the benchmark's own words and fence."""
    return f"Complete the following {TITLES[lang]} function:\n```{FENCE[lang]}\n{p.prompt}\n```"


def code_of(p: Problem, sample: dict, do_sanitize: bool) -> str:
    lang = language_of(p.benchmark)
    if sample["kind"] == "completion":
        return completion(p, sample["text"])
    return sanitize(sample["text"], p, lang) if do_sanitize else sample["text"]


def score_all(lang: str, problems: dict[str, Problem], items: list[tuple[str, str]], pool: LanguagePool,
              limits: Limits, workers: int) -> tuple[list[Verdict], dict]:
    """A verdict per (task_id, code): the program's exit status with the problem's test."""
    if lang not in pool.tools:
        why = toolchain(lang)
        hint = why if isinstance(why, str) else f"install Debian's `{PACKAGES[lang]}`"
        raise UserError(f"scoring {TITLES[lang]} programs needs their toolchain: {hint}")
    limits = replace(limits, file_mb=max(limits.file_mb, 64), processes=max(limits.processes, 128))

    def one(item):
        task_id, code = item
        o = pool.run(lang, program(problems[task_id], code), limits)
        err = "" if o.status == "passed" else (f"compile: {o.stderr.strip()}" if o.stage == "compile"
                                               else (o.stderr.strip().splitlines() or [o.status])[-1])
        return Verdict(o.status, checked="in_program", seconds=o.seconds, error=err[:500])

    with ThreadPoolExecutor(max(1, workers)) as ex:
        verdicts = list(ex.map(one, items))
    # the test runs in the program's own process, as under the benchmark's executor
    return verdicts, {task_id: {"checks": "in_program"} for task_id in problems}
