"""Generated pairs are held to the curate stage's rules: decontamination, quality filters, exact
and near dedup against the curated samples and every pair admitted before them."""

import pytest

from alchemist.recipe import Recipe
from alchemist.relabel.curation import ProducedCuration
from alchemist.relabel.validate import Validator
from alchemist.schema import Sample
from alchemist.stage import RunContext

TASK = ("Write a Python function that takes a sentence as a string, splits it into words on whitespace, "
        "reverses the order of the words and returns them joined by single spaces, keeping punctuation attached.")
CODE = "```python\ndef reverse_words(sentence):\n    words = sentence.split()\n    return ' '.join(reversed(words))\n```"
OTHER = ("Write a Python function that counts how many vowels appear in a string, treating upper and lower case "
         "letters the same and ignoring every character that is not a letter of the English alphabet.")
OTHER_CODE = "```python\ndef count_vowels(text):\n    return sum(1 for ch in text.lower() if ch in 'aeiou')\n```"
# HumanEval/0 renamed and restructured: only the structure signal sees it
RENAMED_HE0 = ("```python\ndef near_pair(values, limit):\n    for a, first in enumerate(values):\n"
               "        for b, second in enumerate(values):\n            if a != b:\n"
               "                gap = abs(first - second)\n                if gap < limit:\n"
               "                    return True\n    return False\n```")


def pair(instruction: str, response: str) -> Sample:
    return Sample(source="gen", messages=[{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
                  task="codegen", language="python")


@pytest.fixture(scope="module")
def check(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curation")
    recipe = Recipe.model_validate({
        "name": "t", "output_dir": str(tmp), "sources": [{"name": "s", "adapter": "alpaca", "path": str(tmp / "x.jsonl")}],
        "curate": {"decontaminate": {"benchmarks": ["humaneval"], "embedding": False}}})
    snippet = Sample(source="files", messages=[{"role": "user", "content": "snippet"}, {"role": "assistant", "content": OTHER_CODE}],
                     task="code_snippet", language="python")
    c = ProducedCuration(RunContext(recipe=recipe), [pair(TASK, CODE), snippet], tmp)
    yield c
    c.close()


def test_each_rule_names_its_reason_and_admitted_pairs_are_remembered(check):
    """Seeds (code snippets) are not training data: a pair may reuse a snippet's code."""
    near_copy = pair(TASK.replace("single spaces", "one space"), CODE)
    fresh = pair(OTHER, OTHER_CODE)
    fresh_again = pair(OTHER.replace("English", "Latin"), OTHER_CODE)
    reasons = check.admit([pair("snippet", OTHER_CODE), pair(TASK, CODE), near_copy, pair("Check whether two numbers in the list are close.", RENAMED_HE0),
                           pair(OTHER, "ok"), fresh, fresh_again, pair(OTHER, OTHER_CODE)])
    assert reasons == [None, "exact_duplicate", "near_duplicate", "contaminated", "short_response", None, "near_duplicate",
                       "exact_duplicate"]


def test_other_produced_samples_are_decontaminated_on_every_turn(check):
    """An evolved instruction or a review that quotes a benchmark problem is as contaminated as an
    ingested copy, in any turn; a copy of a curated sample is not (AlchemistPrompts are that)."""
    from alchemist.relabel import tasks
    from alchemist.testsets import load_benchmark

    leaked = load_benchmark("humaneval")[10].prompt
    original = pair("Write a function that reverses a list.", "def rev(x):\n    return x[::-1]\n")
    evolved = tasks.compare_task(original, f"Solve this instead:\n{leaked}", "harder now", {})
    system = Sample(source="s", messages=[{"role": "system", "content": leaked}, *original.messages])
    review = pair("Review this code.", RENAMED_HE0)
    assert check.contaminated([original, evolved, system, review, pair(TASK, CODE)]) == [False, True, True, True, False]


VOWELS = "Write a program that reports how many vowels and how many consonants a sentence contains (letters only)."
VOWELS_CODE = ("The idea is easiest to see in code:\n\n```python\ndef vowel_consonant_count(text):\n"
               "    vowels = consonants = 0\n    for ch in text.lower():\n        if not ch.isalpha():\n            continue\n"
               "        if ch in \"aeiou\":\n            vowels += 1\n        else:\n            consonants += 1\n"
               "    return vowels, consonants\n```")


def test_a_review_is_decontaminated_on_the_text_it_adds(tmp_path):
    """With every signal on, a review of a clean sample puts the sample's answer in a user turn,
    inside the template's prose: read whole, it reads as a request close to HumanEval/64. Read on
    what it adds (the request it answers, the suggestion, the refined code) it is clean; a review
    whose refined code is a benchmark solution is not."""
    from alchemist.relabel import tasks
    from alchemist.relabel.curation import added_text
    from alchemist.relabel.templates import load
    from alchemist.rules.decontaminate import contamination_batch
    from alchemist.testsets import load_benchmark

    recipe = Recipe.model_validate({"name": "t", "output_dir": str(tmp_path), "curate": {"decontaminate": {"benchmarks": ["humaneval"]}},
                                    "sources": [{"name": "s", "adapter": "alpaca", "path": str(tmp_path / "x.jsonl")}]})
    c = ProducedCuration(RunContext(recipe=recipe), [], tmp_path)
    try:
        origin = pair(VOWELS, VOWELS_CODE)
        meta = {"task_template": load("code_review_task").id}
        review = tasks.review_task(origin, tasks.Review(None, None, ["Add a docstring that says what it returns."], None, "python"), meta)
        he0 = load_benchmark("humaneval")[0]
        leak = tasks.review_task(origin, tasks.Review(6, 7, ["Use better names."], he0.prompt + he0.solution, "python"), meta)
        assert contamination_batch([review], c.index)[0][0] is not None  # read whole
        assert "Review the following answer" not in added_text(review).messages[0]["content"]
        assert VOWELS in added_text(review).messages[0]["content"] and "```" not in added_text(review).messages[0]["content"]
        assert c.contaminated([origin, review, leak]) == [False, False, True]
    finally:
        c.close()


def test_doubtful_pairs_go_to_the_judge_and_only_they(tmp_path):
    """With `decontaminate.judge.llm` (here a local OpenAI-compatible server), a pair just under a
    threshold is shown to the judge: its "yes" drops the pair as contaminated, its "no" admits it.
    Without a doubtful pair the judge is never contacted."""
    from alchemist.llm.fake_server import FakeServer

    server = FakeServer(latency=0.0).start()
    try:
        recipe = Recipe.model_validate({
            "name": "t", "output_dir": str(tmp_path), "sources": [{"name": "s", "adapter": "alpaca", "path": str(tmp_path / "x")}],
            "curate": {"decontaminate": {"benchmarks": ["humaneval"], "embedding": False, "structure": {"threshold": 1.0},
                                         "judge": {"margin": 0.5, "llm": {"backend": "openai", "model": "fake-model",
                                                                          "base_url": server.url, "api_key_env": None}}}}})
        check = ProducedCuration(RunContext(recipe=recipe), [pair(TASK, CODE)], tmp_path)
        try:
            assert check.admit([pair(OTHER, OTHER_CODE)]) == [None]
            assert check.judge_client.client is None and sum(server.requests.values()) == 0
            judged = check.admit([pair("Are two of the values closer than the limit? [[judge:same]]", RENAMED_HE0),
                                  pair("Do any two readings differ by less than the limit?", RENAMED_HE0)])
            assert judged == ["contaminated", None]
            assert sum(server.requests.values()) == 2
        finally:
            check.close()
    finally:
        server.stop()


def test_sandbox_verdicts_are_read_back_after_a_kill(tmp_path):
    programs = ["def f(x):\n    return x + 1\n\nassert f(1) == 2\n", "def f(x):\n    return x\n\nassert f(1) == 2\n"]
    first = Validator(tmp_path, timeout=2.0)
    try:
        verdicts = [first.reason(p) for p in programs]
    finally:
        first.close()
    assert verdicts == [None, "tests_fail"] and first.ran == 2
    with (tmp_path / "oss_verdicts.jsonl").open("a") as f:
        f.write('{"key": "cut by a ki')  # the line a kill interrupted
    again = Validator(tmp_path, timeout=2.0)
    try:
        assert [again.reason(p) for p in programs] == verdicts
        assert again.ran == 0 and again.reused == 2
        assert again.reason("assert False\n") == "tests_fail" and again.ran == 1
    finally:
        again.close()
    third = Validator(tmp_path, timeout=2.0)  # the entry written after the cut line was not lost
    try:
        assert third.reason("assert False\n") == "tests_fail" and third.ran == 0
    finally:
        third.close()


def test_a_dead_sandbox_worker_is_not_the_program_s_verdict(tmp_path):
    """The worker is killed while it runs a passing program: the program runs again on a fresh
    worker and passes; the harness failure is never logged as the program's verdict."""
    import os
    import signal
    import threading
    import time

    v = Validator(tmp_path, timeout=10.0)
    program = "total = sum(range(40_000_000))\nassert total > 0\n"
    killed = []

    def kill_the_first_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not (v._pool and v._pool._all and v._pool._all[0].proc):
            time.sleep(0.01)
        time.sleep(0.3)
        os.kill(v._pool._all[0].proc.pid, signal.SIGKILL)
        killed.append(True)

    t = threading.Thread(target=kill_the_first_worker)
    t.start()
    try:
        assert v.reason(program) is None
    finally:
        t.join()
        v.close()
    assert killed and len((tmp_path / "oss_verdicts.jsonl").read_text().splitlines()) == 1


def test_parallel_validation_keeps_the_order_and_logs_every_verdict(tmp_path):
    programs = [f"def f(x):\n    return x + {k % 2}\n\nassert f({k}) == {k + 1}\n" for k in range(8)]
    v = Validator(tmp_path, timeout=2.0, workers=2)
    try:
        assert v.map(v.reason, programs) == [None if k % 2 else "tests_fail" for k in range(8)]
    finally:
        v.close()
    assert v.ran == 8 and len((tmp_path / "oss_verdicts.jsonl").read_text().splitlines()) == 8
