"""HumanEval-X as benchmark data: records read in the benchmark's own fields, entry points found
per language, and decontamination against its problems (a rewritten C++ solution and a JS
translation of a Rust/JS problem are caught, a clean program is not)."""

from pathlib import Path

import pytest

from alchemist.errors import UserError
from alchemist.schema import Sample
from alchemist.testsets import get_benchmark, load_benchmark
from alchemist.testsets.humaneval_x import LANGUAGES, language_of

DATA = Path(__file__).parent / "data"
ENTRY = {"cpp": "has_close_elements", "go": "HasCloseElements", "java": "hasCloseElements", "js": "hasCloseElements",
         "rust": "has_close_elements"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_records_in_the_benchmarks_own_fields(lang):
    problems = get_benchmark(f"humaneval_x/{lang}").eval_problems(DATA / f"humaneval_x_{lang}.jsonl")
    assert len(problems) == 2 and problems[0].entry_point == ENTRY[lang]
    assert problems[0].solution.startswith(problems[0].prompt) and problems[0].tests
    assert language_of(problems[0].benchmark) == lang and language_of("humaneval") is None


def test_offline_without_data_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ALCHEMIST_CACHE", str(tmp_path))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(UserError, match=r"HumanEval-X \(C\+\+\) is not available offline.*--data"):
        load_benchmark("humaneval_x/cpp")


def _sample(question: str, answer: str, lang: str) -> Sample:
    return Sample(source="t", task="codegen", language=lang,
                  messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}])


def test_every_language_at_once_for_decontamination(tmp_path):
    problems = load_benchmark("humaneval_x", DATA)  # the fixtures' folder holds humaneval_x_<lang>.jsonl
    assert sorted({p.benchmark for p in problems}) == [f"humaneval_x/{lang}" for lang in LANGUAGES]
    with pytest.raises(UserError, match="scored per language: humaneval_x/cpp"):
        get_benchmark("humaneval_x").eval_problems(DATA)
    with pytest.raises(UserError, match="no HumanEval-X file for C\\+\\+"):
        load_benchmark("humaneval_x", tmp_path)


@pytest.mark.slow  # the embedding model loads (~30 s on 2 busy cores)
def test_decontamination_against_humaneval_x():
    from alchemist.rules.decontaminate import build_index, contamination_batch
    from alchemist.rules.spec import DecontaminateSpec
    from alchemist.testsets.decontaminate import load_problems

    spec = DecontaminateSpec(benchmarks=[{"name": "humaneval_x", "path": str(DATA)}])
    problems, skipped = load_problems(spec)
    assert not skipped and len(problems) == 2 * len(LANGUAGES)
    index = build_index(problems, spec)
    copy = ("```cpp\n#include <vector>\n#include <cmath>\nusing namespace std;\nbool close_pair(vector<float> xs, float eps) {\n"
            "    for (int a = 0; a < xs.size(); a++)\n        for (int b = a + 1; b < xs.size(); b++)\n"
            "            if (fabs(xs[a] - xs[b]) < eps) return true;\n    return false;\n}\n```")
    clean = ("```cpp\n#include <string>\nstd::string reverse_words(const std::string& s) {\n    std::string out;\n"
             "    for (auto it = s.rbegin(); it != s.rend(); ++it) out.push_back(*it);\n    return out;\n}\n```")
    js = ("```javascript\nconst belowZeroCheck = (ops) => {\n  let bal = 0;\n  for (const o of ops) {\n    bal += o;\n"
          "    if (bal < 0) return true;\n  }\n  return false;\n}\n```")
    samples = [
        _sample("Write a C++ function that tells whether any two numbers in a vector are closer to each other than a "
                "threshold.", copy, "cpp"),
        _sample("Write a C++ function that reverses a string.", clean, "cpp"),
        _sample("Given a list of deposits and withdrawals starting from zero balance, detect whether the balance ever "
                "falls below zero.", js, "javascript")]
    verdicts = [detail for detail, _ in contamination_batch(samples, index)]
    assert verdicts[0] and verdicts[0]["matches"][0]["task_id"] == "CPP/0"
    assert verdicts[1] is None
    assert verdicts[2] and {m["task_id"] for m in verdicts[2]["matches"]} & {"JavaScript/3", "Rust/3", "Go/3", "CPP/3", "Java/3"}
