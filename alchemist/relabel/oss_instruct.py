"""OSS-Instruct with self-validation (Magicoder, SelfCodeAlign): a code snippet inspires a
problem, a solution and tests; a Python solution is kept only when it passes its own tests in
the sandbox. Pure helpers here; the stage sends the requests and runs the sandbox."""

from __future__ import annotations

import ast
import re

from alchemist.code import extract_code_blocks
from alchemist.relabel.tasks import clip
from alchemist.relabel.templates import load
from alchemist.schema import Sample


def is_seed(sample: Sample) -> bool:
    return sample.task == "code_snippet"


def request(seed: Sample, target: str, candidate: int) -> list[dict]:
    return load("oss_instruct").messages(snippet=clip(seed.response or seed.instruction, 3000),
                                         language=seed.language or "unknown", target=target, candidate=candidate)


def _tag(text: str, name: str) -> str | None:
    m = re.search(rf"<{name}>\s*(.*?)\s*</{name}>", text, re.S | re.I)
    return m.group(1).strip() if m else None


def _code(part: str | None) -> str | None:
    if part is None:
        return None
    blocks = extract_code_blocks(part)
    return blocks[0][1].strip("\n") if blocks else part.strip()


def parse(answer: str) -> tuple[tuple[str, str, str] | None, str | None]:
    """((problem, solution, tests), None) or (None, reason); tests may be ''."""
    problem, solution = _tag(answer, "problem"), _code(_tag(answer, "solution"))
    if not problem or not solution:
        return None, "missing_tags"
    return (problem, solution, _code(_tag(answer, "tests")) or ""), None


def program(solution: str, tests: str) -> str:
    return f"{solution}\n\n{tests}\n"


def precheck(solution: str, tests: str) -> str | None:
    """The reason a Python candidate fails before running it, or None."""
    if "assert" not in tests:
        return "no_tests"
    try:
        ast.parse(program(solution, tests))
    except (SyntaxError, ValueError):
        return "syntax_error"
    return None


def verdict(outcome) -> str | None:
    """None when the program passed, else the reject reason."""
    if outcome.status == "passed":
        return None
    return "timeout" if outcome.status == "timeout" else "tests_fail"


def pair(seed: Sample, problem: str, solution: str, target: str, validated: bool, meta: dict) -> Sample:
    response = f"```{target}\n{solution}\n```"
    return Sample(source=seed.source, messages=[{"role": "user", "content": problem}, {"role": "assistant", "content": response}],
                  task="codegen", language=target,
                  meta={**meta, "origin": seed.id, "generated": "oss_instruct", "validated": validated,
                        "template": load("oss_instruct").id})
