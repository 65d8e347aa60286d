"""HumanEval-X scoring: prompts in the benchmark's style, the function cut out of chat answers and
completions per language, verdicts from the toolchain sandbox, pass@k in results.json."""

import json

import pytest

from alchemist.evaluate.languages import completion, sanitize
from alchemist.evaluate.prompts import make_prompt
from alchemist.evaluate.score import score
from alchemist.execution import Limits
from alchemist.execution.languages import missing
from alchemist.testsets import get_benchmark
from alchemist.testsets.humaneval_x import LANGUAGES
from tests.execution.language_fixtures import load as load_fixtures

# what a chat model adds around the function: a demo main the test's own main must replace
EXTRA = {"cpp": "\nint main() { return 1; }\n", "java": "\npublic class Main { public static void main(String[] a) { } }\n",
         "go": "\nfunc main() {\n    fmt.Println(\"demo\")\n}\n", "rust": "\nfn main() { }\n", "js": "\nconsole.log('demo');\n"}


def load(lang):
    return load_fixtures("humaneval_x", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_prompts_speak_the_language(lang):
    _, problems, _ = load(lang)
    chat = make_prompt(problems[0], "instruct")
    assert chat.kind == "solution" and problems[0].prompt in chat.messages[0]["content"]
    comp = make_prompt(problems[0], "completion")
    assert comp.text == problems[0].prompt and comp.stop


def test_sanitize_cuts_the_function_out_of_answers():
    _, problems, records = load("cpp")
    p = problems[0]
    answer = f"Sure!\n```cpp\n{p.prompt}{records[0]['canonical_solution']}{EXTRA['cpp']}```\nDone."
    code = sanitize(answer, p, "cpp")
    assert "has_close_elements" in code and "int main" not in code
    cut = completion(p, records[0]["canonical_solution"] + "\nint main() { }\n")
    assert cut.rstrip().endswith("}") and "int main" not in cut
    body_only = sanitize("```cpp\n" + records[0]["canonical_solution"] + "```", p, "cpp")
    assert body_only.startswith(p.prompt)
    _, jproblems, jrecords = load("java")
    method = jrecords[0]["canonical_solution"].rsplit("}", 1)[0]  # the method, without the class' brace
    java = sanitize("```java\n" + jproblems[0].prompt.split("class Solution {\n", 1)[1] + method + "```", jproblems[0], "java")
    assert "class Solution" in java


@pytest.mark.parametrize("lang", LANGUAGES)
def test_scoring_a_language(tmp_path, lang):
    if lang in missing():
        pytest.skip(missing()[lang])
    path, problems, records = load(lang)
    p, r = problems[0], records[0]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(x) + "\n" for x in [
        {"task_id": p.task_id, "solution": f"Here it is:\n```\n{p.prompt}{r['canonical_solution']}{EXTRA[lang]}```\n"},
        {"task_id": p.task_id, "completion": r["wrong_solution"] + EXTRA[lang]},
    ]))
    bench = get_benchmark(f"humaneval_x/{lang}")
    results = score(bench, [p], samples, tmp_path / "out", limits=Limits(timeout=20.0), workers=1)
    statuses = [s["status"] for s in results["tasks"][p.task_id]["samples"]]
    assert statuses == ["passed", "failed"], results["tasks"][p.task_id]
    assert results["pass_at_k"]["pass@1"] == 0.5 and results["benchmark"] == f"humaneval_x/{lang}"


def test_language_results_reach_the_leaderboard(tmp_path):
    from alchemist.evaluate.run import evaluate
    from alchemist.leaderboard import write_leaderboard

    if "js" in missing():
        pytest.skip(missing()["js"])
    path, problems, records = load("js")
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": r["canonical_solution"] if i == 0
                                           else r["wrong_solution"]}) + "\n"
                               for i, (p, r) in enumerate(zip(problems, records))))
    bench = get_benchmark("humaneval_x/js")
    results = evaluate(bench, bench.eval_problems(path), tmp_path / "eval" / "humaneval_x" / "js", samples=samples,
                       model_name="m", workers=1)
    assert results["pass_at_k"] == {"pass@1": 0.5} and results["sandbox"]["languages"]["js"] == "runs"
    board = write_leaderboard([str(tmp_path / "eval")], tmp_path / "board", with_reference=False)
    assert board["titles"]["humaneval_x/js"] == "HumanEval-X (JavaScript)"
    assert board["rows"][0]["scores"]["humaneval_x/js"] == 50.0


def test_a_missing_toolchain_is_one_clear_error():
    from alchemist.errors import UserError
    from alchemist.evaluate.languages import score_all
    from alchemist.execution.languages import LanguagePool

    _, problems, _ = load("cpp")
    pool = LanguagePool()
    pool.tools = {}  # as on a machine without g++
    try:
        with pytest.raises(UserError, match="needs their toolchain: .*g\\+\\+"):
            score_all("cpp", {p.task_id: p for p in problems}, [(problems[0].task_id, "")], pool, Limits(), 1)
    finally:
        pool.close()
