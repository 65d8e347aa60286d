"""The benchmark prompt's imports, added to a chat answer that restates the function without them
(real HumanEval problems, run with their own checks)."""

import subprocess
import sys

import pytest

from alchemist.evaluate.sanitize import sanitize, with_prompt_imports
from alchemist.testsets import load_benchmark


@pytest.fixture(scope="module")
def with_imports():
    """HumanEval problems whose prompt imports something above the function (22 of 164)."""
    problems = [p for p in load_benchmark("humaneval") if "import " in p.prompt.split("def ", 1)[0]]
    assert len(problems) >= 20
    return problems


def _chat_answer(p) -> str:
    """What a chat model writes: a sentence, then the function in a fence, its imports left out."""
    body = "\n".join(line for line in p.prompt.splitlines() if not line.startswith(("import ", "from ")))
    return f"Here is the function:\n```python\n{body.strip()}\n{p.solution}```\nIt passes the examples."


def _passes(code: str, p) -> subprocess.CompletedProcess:
    program = f"{code}\n\n{p.tests}\n\ncheck({p.entry_point})\n"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)


def test_answers_without_the_prompts_imports_pass_once_they_are_added(with_imports):
    for p in with_imports:
        answer = _chat_answer(p)
        bare = sanitize(answer, p.entry_point)
        fixed = sanitize(answer, p.entry_point, p.prompt)
        names = {line.split()[-1] for line in p.prompt.splitlines() if line.startswith(("import ", "from "))}
        if any(n in bare for n in names):  # the function uses what the prompt imports
            assert _passes(bare, p).returncode != 0, p.task_id
        run = _passes(fixed, p)
        assert run.returncode == 0, (p.task_id, run.stderr[-500:])


def test_only_missing_and_used_imports_are_added(with_imports):
    p = with_imports[0]  # from typing import List
    assert "from typing import List" in p.prompt
    own = "```python\nfrom typing import List\n\ndef has_close_elements(numbers: List[float], t: float) -> bool:\n    return False\n```"
    assert sanitize(own, p.entry_point, p.prompt).count("from typing import List") == 1
    unused = "def has_close_elements(numbers, t):\n    return False\n"
    assert sanitize(unused, p.entry_point, p.prompt) == unused  # nothing it needs is missing
    shadowed = "List = list\n\ndef has_close_elements(numbers: List[float], t):\n    return False\n"
    assert "typing" not in sanitize(shadowed, p.entry_point, p.prompt)  # the answer binds the name itself


def test_prompt_imports_go_after_future_imports():
    code = "from __future__ import annotations\n\ndef f(x: List[int]) -> int:\n    return math.floor(len(x))\n"
    out = with_prompt_imports(code, "import math\nfrom typing import List\nimport os\n\ndef f(x: List[int]) -> int:\n")
    assert out.splitlines()[:3] == ["from __future__ import annotations", "import math", "from typing import List"]
    assert "import os" not in out
    compile(out, "<sanitized>", "exec")
    assert with_prompt_imports("def broken(:\n", "import math\n") == "def broken(:\n"
