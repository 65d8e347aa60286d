"""OSS-Instruct helpers: parsing and validation verdicts."""

import subprocess
import sys

import pytest

from alchemist.execution.languages import missing as missing_toolchains
from alchemist.execution.languages import normalize
from alchemist.llm.fake_server import answer_for
from alchemist.relabel import oss_instruct as oss
from alchemist.schema import Sample


def passes_own_tests(seed: Sample) -> bool:
    """What the test server answers for this seed, judged by running it in a plain interpreter."""
    target = seed.language or "python"
    found, why = oss.parse(answer_for(oss.request(seed, target, 0)))
    if why:
        return False
    if target != "python":  # run by its toolchain where installed: the server's Python tests check nothing there
        lang = normalize(target)
        return lang is None or lang in missing_toolchains()
    if oss.precheck(found[1], found[2]):
        return False
    return subprocess.run([sys.executable, "-c", oss.program(found[1], found[2])], capture_output=True).returncode == 0


def test_fake_answers_parse_and_precheck():
    reasons = set()
    for k in range(12):
        found, why = oss.parse(answer_for([{"role": "user", "content": f"<problem> seed {k}"}]))
        assert why is None
        reasons.add(oss.precheck(found[1], found[2]))
    assert reasons == {None, "no_tests"}
    assert oss.precheck("def f(:\n", "assert f()") == "syntax_error"
    solution = "def f(x):\n    return x + 1\n"
    assert oss.precheck(solution, "assert f(1) == 2") is None
    assert oss.precheck(solution, "r = f(1)\nassert r == 2") is None
    for empty in ("# assert later", "assert True", "import math\nassert math.pi > 3", "print(f(1))", ""):
        assert oss.precheck(solution, empty) == "no_tests", empty
    assert oss.precheck("class Stack:\n    pass\n", "assert Stack() is not None") is None
    fallback = "try:\n    from math import isqrt\nexcept ImportError:\n    def isqrt(n):\n        return int(n ** 0.5)\n"
    assert oss.precheck(fallback, "assert isqrt(16) == 4") is None
    deep = "def f():\n    return " + " + ".join(["1"] * 5000) + "\n"  # too deep for the parser: no crash
    assert oss.precheck(deep, "assert f() == 5000") == "syntax_error"
    assert oss.parse("nonsense")[1] == "missing_tags"


def test_pairs_survive_only_when_their_solution_passes_their_tests(tmp_path):
    """The relabel stage against a local OpenAI-compatible server whose answers are well formed,
    some with failing tests and some with none: every candidate is kept or counted with its
    reason, kept Python pairs passed in the sandbox, and a rerun sends nothing twice."""
    import json

    import pyarrow.parquet as pq

    from alchemist.llm.fake_server import FakeServer
    from tests.helpers import run_cli

    server = FakeServer(latency=0.0).start()
    try:
        args = ["data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path}",
                "--set", "relabel={llm: {backend: openai, model: fake-model, base_url: '%s', api_key_env: null}}" % server.url,
                "--set", "relabel.alchemist_prompts.fraction=0",
                "--set", "relabel.generate={oss_instruct: 1000, candidates: 1}"]
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        stats = json.loads((tmp_path / "data" / "relabeled" / "stats.json").read_text())
        produced = stats["produced"].get("oss_instruct", 0)
        rejected = stats["rejected"].get("oss_instruct", {})
        seeds = sum(1 for t in pq.read_table(tmp_path / "data" / "curated" / "samples.parquet").column("task").to_pylist()
                    if t == "code_snippet")
        assert produced + sum(rejected.values()) == seeds  # every seed picked, every candidate kept or counted
        assert produced > 0 and rejected.get("tests_fail", 0) + rejected.get("no_tests", 0) > 0
        assert set(rejected) <= {"tests_fail", "no_tests", "timeout", "syntax_error", "missing_tags", "contaminated",
                                 "exact_duplicate", "near_duplicate", "short_response", "no_code", "python_syntax_error",
                                 "compile_error"}
        table = pq.read_table(tmp_path / "data" / "relabeled" / "samples.parquet")
        rows = [(json.loads(m), lang) for m, lang in zip(table.column("meta").to_pylist(), table.column("language").to_pylist())]
        pairs = [(m, lang) for m, lang in rows if m.get("generated") == "oss_instruct"]
        assert len(pairs) == produced
        assert all(m["validated"] for m, lang in pairs if lang == "python")  # Python pairs passed their tests
        # and keep them: the asserts, their verdict and the candidates it took travel with the pair
        python = [Sample.from_row(r) for r in table.to_pylist()
                  if json.loads(r["meta"]).get("generated") == "oss_instruct" and r["language"] == "python"]
        assert python and all(s.tests["kind"] == "asserts" and s.tests["verdict"] == "passed" and s.tests["attempts"] == 1
                              and "assert" in s.tests["code"] for s in python)
        # other languages: validated where their toolchain runs here, else kept unvalidated
        runs = [normalize(lang) is not None and normalize(lang) not in missing_toolchains() for m, lang in pairs]
        assert all(m["validated"] == ok for (m, lang), ok in zip(pairs, runs) if lang != "python")
        # exactly the seeds whose answer passes its own tests outside the sandbox
        curated = [Sample.from_row(r) for r in pq.read_table(tmp_path / "data" / "curated" / "samples.parquet").to_pylist()]
        expected = {seed.id for seed in curated if oss.is_seed(seed) and passes_own_tests(seed)}
        assert {m["origin"] for m, _ in pairs} == expected
        manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
        assert manifest["relabel"]["oss_instruct"] == produced
        r = run_cli(*args, "--force", "relabel")
        assert r.returncode == 0, r.stderr
        again = json.loads((tmp_path / "data" / "relabeled" / "stats.json").read_text())
        assert again["usage"]["llm_requests"] == 0 and again["produced"] == stats["produced"]
    finally:
        server.stop()


WORDS = ("alpha bravo cobalt delta ember falcon garnet harbor indigo jasper kernel lumen meadow nickel orbit "
         "pepper quartz raven saffron timber umber velvet walnut xenon yonder zephyr amber basil cedar dune").split()


def busy_snippets(folder, n: int) -> None:
    """Distinct source files (so curation keeps them all) whose OSS-Instruct tests are slow."""
    import random

    folder.mkdir()
    for k in range(n):
        rng = random.Random(k)
        names = [f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{k}" for _ in range(4)]
        body = "\n".join(f"    {a} = {b} * {rng.randint(2, 99)} + len('{rng.choice(WORDS)} {rng.choice(WORDS)}')"
                         for a, b in zip(names[1:], names))
        (folder / f"m{k}.py").write_text(f"# [[oss:busy]]\ndef {names[0]}_fn({names[0]}):\n{body}\n    return {names[-1]}\n")


@pytest.mark.slow
def test_killed_during_validation_resumes_without_asking_or_running_again(tmp_path):
    """SIGKILL while the sandbox validates OSS-Instruct pairs: the rerun sends no request twice,
    reads the verdicts already reached back instead of running those programs again, and ends
    with the data of an uninterrupted run."""
    import json
    import os
    import signal
    import time

    import pyarrow.parquet as pq
    import yaml

    from alchemist.llm.fake_server import FakeServer
    from tests.helpers import ROOT, run_cli

    busy_snippets(tmp_path / "files", 12)
    server = FakeServer(latency=0.0).start()

    def recipe(name: str):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "name": name, "output_dir": str(tmp_path / name), "seed": 0,
            "sources": [{"name": "alpaca", "adapter": "alpaca", "path": str(ROOT / "data_sources/samples/code_alpaca.jsonl")},
                        {"name": "files", "adapter": "code_files", "path": str(tmp_path / "files")}],
            "curate": {"strict": False, "decontaminate": {"benchmarks": ["humaneval"], "embedding": False}},
            "relabel": {"llm": {"backend": "openai", "model": "fake-model", "base_url": server.url, "api_key_env": None},
                        "alchemist_prompts": {"fraction": 0},
                        "comprehension": {"instruction_evolution": 0, "data_filtering": 0, "code_review": 0},
                        "generate": {"oss_instruct": 100, "candidates": 1}}}))
        return path

    try:
        killed = recipe("killed")
        log = tmp_path / "killed" / "work" / "relabel" / "oss_verdicts.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "alchemist.cli", "data", str(killed)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and (not log.is_file() or len(log.read_text().splitlines()) < 3):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not (tmp_path / "killed" / "data" / "relabeled" / "_SUCCESS").exists()
        ran_before = len(log.read_text().splitlines())
        assert ran_before >= 3
        asked = dict(server.requests)
        r = run_cli("data", killed)
        assert r.returncode == 0, r.stderr
        assert "sandbox verdicts read back" in " ".join(r.stderr.split())
        assert server.requests == asked  # every answer came from the cache
        assert run_cli("data", recipe("clean")).returncode == 0

        def produced(name):
            stats = json.loads((tmp_path / name / "data" / "relabeled" / "stats.json").read_text())
            ids = pq.read_table(tmp_path / name / "data" / "relabeled" / "samples.parquet").column("id").to_pylist()
            return stats["produced"], stats["rejected"], ids

        assert produced("killed") == produced("clean")
        assert produced("clean")[0].get("oss_instruct", 0) > 0
    finally:
        server.stop()


# An answer SmolLM2-135M-Instruct wrote after the pre-filled "Problem: Write a Python function":
# labeled parts, then the tests repeated (cut off at max_tokens there).
SMALL_MODEL_ANSWER = (
    " that takes a list of integers and returns the maximum value among them.\n\nSolution:\n```python\n"
    "def max_value(lst):\n    return max(lst)\n```\n\nTests:\n```python\nassert max_value([1, 2, 3]) == 3\n"
    "assert max_value([-1]) == -1\n```\n\nAssert:\n```python\nassert max_value([1, 2, 3]) == 3\nassert max_val")


def test_the_labeled_form_of_a_small_model_is_read():
    found, why = oss.parse(SMALL_MODEL_ANSWER, "python")
    assert why is None
    problem, solution, tests = found
    assert problem == "Write a Python function that takes a list of integers and returns the maximum value among them."
    assert solution == "def max_value(lst):\n    return max(lst)" and tests.startswith("assert max_value([1, 2, 3]) == 3")
    assert oss.precheck(solution, tests) is None
    assert subprocess.run([sys.executable, "-c", oss.program(solution, tests)]).returncode == 0
    # a new turn that writes the labels itself; a solution without tests; no code at all
    assert oss.parse("Problem: Reverse a list.\nSolution:\n```python\ndef rev(x):\n    return x[::-1]\n```")[0] == (
        "Reverse a list.", "def rev(x):\n    return x[::-1]", "")
    assert oss.parse(" that rambles on.\n\nThe function should take a list.", "python") == (None, "missing_tags")


def test_the_request_prefills_the_problem():
    seed = Sample(source="s", messages=[{"role": "user", "content": "snippet"},
                                        {"role": "assistant", "content": "fn main() {}"}], task="code_snippet", language="rust")
    messages = oss.request(seed, "python", 0)
    assert messages[-1] == {"role": "assistant", "content": "Problem: Write a Python function"}
    assert "fn main() {}" in messages[1]["content"] and "language: rust" in messages[1]["content"]
