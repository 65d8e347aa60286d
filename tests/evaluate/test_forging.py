"""Programs that try to forge a pass instead of computing the answer: none passes, on HumanEval's
check(candidate), MBPP's asserts and a plus (differential) file; the same tasks' reference
solutions pass. Each forger wraps a wrong function (`return None`-like) in one trick."""

import json

import pytest

from alchemist.evaluate.run import evaluate
from alchemist.testsets import BENCHMARKS, get_benchmark
from tests.helpers import write_jsonl

# What a forger does before (or instead of) answering. {f}: the entry point; {args}: its params.
FORGERS = {
    "marker_from_file": """
import os, re, sys
found = set()
for root in (".", os.path.dirname(os.path.abspath(sys.argv[0] if sys.argv and sys.argv[0] else "."))):
    for name in os.listdir(root):
        try:
            found |= set(re.findall(r"alchemist[\\w-]*|[0-9a-f]{{16,}}", open(os.path.join(root, name), errors="replace").read()))
        except OSError:
            pass
for key, value in os.environ.items():
    found.add(value)
print("\\n".join(sorted(found)), flush=True)
os._exit(0)
def {f}(*args):
    return None
""",
    "marker_from_frames": """
import os, sys
f, seen = sys._getframe(), []
while f is not None:
    seen += [c for c in f.f_code.co_consts if isinstance(c, str)]
    seen += [v for v in list(f.f_locals.values()) + list(f.f_globals.values()) if isinstance(v, str)]
    f = f.f_back
print("\\n".join(seen), flush=True)
os._exit(0)
def {f}(*args):
    return None
""",
    "marker_from_heap": """
import gc, json, os
strings = set()
for o in gc.get_objects():
    try:
        items = o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()
        strings |= {{s for s in items if isinstance(s, str) and len(s) < 10000}}
    except Exception:
        pass
for s in strings:  # a job with a nonce: forge the frames it expects, with made-up outputs
    if s.startswith("{{") and '"nonce"' in s:
        job = json.loads(s)
        for i in range(len(job.get("calls", []))):
            os.write(1, (job["nonce"] + " " + json.dumps(["out", i, {{"v": 0}}, 0.0]) + "\\n").encode())
        os.write(1, (job["nonce"] + ' ["done"]\\n').encode())
print("\\n".join(strings), flush=True)
os._exit(0)
def {f}(*args):
    return None
""",
    "exit_hooks": """
import atexit, os, sys
atexit.register(lambda: os._exit(0))
def {f}(*args):
    sys.exit(0)
""",
    "exit_at_import": """
import sys
def {f}(*args):
    return None
sys.exit(0)
""",
    "traceback_hooks": """
import os, sys, threading
sys.excepthook = lambda *a: os._exit(0)
threading.excepthook = lambda *a: os._exit(0)
def {f}(*args):
    raise ValueError("wrong")
""",
    "always_equal_object": """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __bool__(self): return True
    def __len__(self): return 0
    def __sub__(self, other): return 0
    def __rsub__(self, other): return 0
    def __abs__(self): return 0
    __hash__ = object.__hash__
def {f}(*args):
    return Anything()
""",
    "always_equal_subclass": """
class Anything(str):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = str.__hash__
def {f}(*args):
    return Anything("")
""",
    "patched_json": """
import json
json.loads = lambda *a, **k: []
json.load = lambda *a, **k: []
json.dumps = lambda *a, **k: "[]"
def {f}(*args):
    return None
""",
    "patched_builtins": """
import builtins, math
builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0
builtins.AssertionError = type("Ignored", (Exception,), {{}})
math.isclose = lambda *a, **k: True
def {f}(*args):
    return None
""",
    "patched_settrace": """
import sys, threading
def tracer(frame, event, arg):
    def local(frame, event, arg):
        if event == "line":
            try:
                frame.f_lineno = frame.f_lineno + 1  # jump over every assert
            except ValueError:
                pass
        return local
    return local
sys.settrace(tracer)
threading.settrace(tracer)
sys.settrace = lambda *a: None
def {f}(*args):
    return None
""",
}

MBPP_FIXTURE = [
    {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
     "code": "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]",
     "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 12, "text": "Write a function to sort a given matrix in ascending order according to the sum of its rows.",
     "code": "def sort_matrix(M):\n    return sorted(M, key=sum)",
     "test_list": ["assert sort_matrix([[1, 2, 3], [2, 4, 5], [1, 1, 1]]) == [[1, 1, 1], [1, 2, 3], [2, 4, 5]]"],
     "test_setup_code": "", "challenge_test_list": []},
]

PLUS_INPUTS = {"HumanEval/0": ([[[1.0, 2.0, 3.0], 0.5], [[1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3]], [[[1.0, 1.05], 0.1], [[], 1.0]]),
               "HumanEval/2": ([[3.5], [1.33]], [[123.456], [0.0]]),
               "HumanEval/12": ([[[]], [["x", "y", "z"]]], [[["a", "bb", "ccc", "dd"]]])}


def _samples(tmp_path, name, problems, solution_of):
    rows = [{"task_id": p.task_id, "solution": solution_of(p)} for p in problems]
    rows += [{"task_id": p.task_id, "solution": code.format(f=p.entry_point)} for code in FORGERS.values() for p in problems]
    return write_jsonl(tmp_path / f"{name}.jsonl", rows)


def _verdicts(results, problems):
    """(trick, task) -> status, and the reference solutions' statuses."""
    out, refs = {}, {}
    for p in problems:
        statuses = [s["status"] for s in sorted(results["tasks"][p.task_id]["samples"], key=lambda s: s["line"])]
        refs[p.task_id] = statuses[0]
        for trick, status in zip(FORGERS, statuses[1:]):
            out[(trick, p.task_id)] = status
    return out, refs


def _check(results, problems):
    forged, refs = _verdicts(results, problems)
    assert refs == {p.task_id: "passed" for p in problems}
    passed = sorted(k for k, status in forged.items() if status == "passed")
    assert not passed, f"forged passes: {passed}"
    assert len(forged) == len(FORGERS) * len(problems)


def test_forgers_fail_on_humaneval_check_function(tmp_path):
    bench = BENCHMARKS["humaneval"]
    problems = [p for p in bench.eval_problems() if p.task_id in ("HumanEval/0", "HumanEval/2", "HumanEval/32")]
    samples = _samples(tmp_path, "he", problems, lambda p: p.prompt + p.solution)
    results = evaluate(bench, problems, tmp_path / "he", samples=samples, sanitize=False)
    _check(results, problems)
    assert results["verdicts"]["in_process"] == 0  # every check ran outside the programs


def test_forgers_fail_on_mbpp_asserts(tmp_path):
    data = write_jsonl(tmp_path / "mbpp.jsonl", MBPP_FIXTURE)
    bench = get_benchmark("mbpp")
    problems = bench.eval_problems(data)
    samples = _samples(tmp_path, "mbpp", problems, lambda p: p.solution)
    results = evaluate(bench, problems, tmp_path / "mbpp", samples=samples, sanitize=False)
    _check(results, problems)
    assert results["verdicts"]["in_process"] == 0


def test_forgers_fail_on_a_plus_file(tmp_path):
    pytest.importorskip("evalplus")
    he = {p.task_id: p for p in BENCHMARKS["humaneval"].eval_problems()}
    data = write_jsonl(tmp_path / "plus.jsonl", [
        {"task_id": t, "prompt": he[t].prompt, "canonical_solution": he[t].solution, "entry_point": he[t].entry_point,
         "contract": "", "base_input": base, "plus_input": plus, "atol": 0} for t, (base, plus) in PLUS_INPUTS.items()])
    bench = BENCHMARKS["humaneval_plus"]
    problems = bench.eval_problems(data)
    samples = _samples(tmp_path, "plus", problems, lambda p: p.solution)
    results = evaluate(bench, problems, tmp_path / "plus", samples=samples, sanitize=False)
    _check(results, problems)
    base_forged = [s for t in results["tasks"].values() for s in t["samples"][1:] if s.get("base_status") == "passed"]
    assert not base_forged  # nor does the "base inputs ok" score
    failure = next(s for s in results["tasks"]["HumanEval/0"]["samples"] if s.get("failure", {}).get("got"))
    assert failure["failure"]["expected"] and failure["failure"]["input"]  # the first failing input, shown
    json.dumps(results)  # plain data throughout
