import random
import re

import pytest

from alchemist.rules.decontaminate import NgramIndex
from alchemist.testsets import Problem, load_benchmark


@pytest.fixture(scope="module")
def humaneval():
    return load_benchmark("humaneval")


@pytest.fixture(scope="module")
def index(humaneval):
    return NgramIndex(humaneval, n=13, min_overlap=0.1)


def rename(problem, text):
    return re.sub(rf"\b{re.escape(problem.entry_point)}\b", "solve_task", text)


def reword(text, seed):
    """Rewrite the docstring's prose (examples and their outputs stay): drop ~30% of the words
    of each prose line and prepend filler."""
    rng, out, inside, after_example = random.Random(seed), [], False, False
    for line in text.splitlines():
        stripped = line.strip()
        opens = stripped.startswith(('"""', "'''"))
        if opens:
            inside = not inside or stripped.count('"""') + stripped.count("'''") > 1
            stripped = stripped[3:]
        if inside and stripped and not stripped.startswith(">>>") and not after_example:
            words = [w for w in stripped.split() if rng.random() > 0.3]
            line = "    " + ('"""' if opens else "") + "Please note: " + " ".join(words)
        after_example = stripped.startswith(">>>") or (after_example and bool(stripped))
        out.append(line)
    return "\n".join(out) + "\n"


def respace(text):
    return text.replace("    ", "  ").replace("\n", "\n\n").replace("(", "( ")


EDITS = {
    "verbatim": lambda p: (f"Complete this function.\n{p.prompt}", p.prompt + p.solution),
    "renamed": lambda p: (rename(p, p.prompt), rename(p, p.prompt + p.solution)),
    "reworded": lambda p: (reword(p.prompt, 1), reword(p.prompt, 1) + p.solution),
    "whitespace": lambda p: (respace(p.prompt), "```python\n" + respace(p.prompt + p.solution) + "\n```"),
    "instruction only": lambda p: (f"Implement:\n{p.prompt}", "```python\nraise NotImplementedError\n```"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_planted_humaneval_problems_are_caught(index, humaneval, edit):
    caught = 0
    for p in humaneval:
        instruction, response = EDITS[edit](p)
        caught += any(h.task_id == p.task_id for h in index.hits(f"{instruction}\n{response}"))
    assert caught / len(humaneval) >= 0.95, f"{edit}: {caught}/{len(humaneval)}"


def test_clean_code_is_not_flagged(index, clean_records):
    flagged = [r["origin"] for r in clean_records if index.hits(r["instruction"] + "\n" + r["output"])]
    assert len(clean_records) >= 200
    assert len(flagged) / len(clean_records) <= 0.01, flagged


def test_short_prompt_fields_match_whole_and_report_field():
    problems = [Problem("mbpp", "mbpp/2", "Write a function to find the shared elements from the given two lists.",
                        "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
                        "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))")]
    index = NgramIndex(problems, n=13, min_overlap=0.2)
    hits = index.hits("Q: write a function to find the shared elements from the given two lists\nA: use sets")
    assert [(h.task_id, h.field, h.overlap) for h in hits] == [("mbpp/2", "prompt", 1.0)]
    assert index.hits("Write a function to find the shared items of two lists.") == []
