"""Execution-verified data beyond Python: curate.verify runs C++/JS/Java/Go/Rust answers against
their own checks; failing ones are fails_execution, unchecked ones counted as unverified."""

import pytest

from alchemist.curate.spec import VerifySpec
from alchemist.curate.verify import verify
from alchemist.execution.languages import missing
from alchemist.schema import Sample


def answer(lang, code):
    return Sample(source="t", task="codegen", language=lang, messages=[
        {"role": "user", "content": "q"}, {"role": "assistant", "content": f"Here:\n```{lang}\n{code}\n```\n"}])


CASES = {
    ("cpp", True): "#include <cassert>\nint add(int a, int b) { return a + b; }\nint main() { assert(add(2, 3) == 5); }",
    ("cpp", False): "#include <cassert>\nint add(int a, int b) { return a - b; }\nint main() { assert(add(2, 3) == 5); }",
    ("javascript", True): "const assert = require('assert');\nconst add = (a, b) => a + b;\nassert.strictEqual(add(2, 3), 5);",
    ("javascript", False): "const assert = require('assert');\nconst add = (a, b) => a - b;\nassert.strictEqual(add(2, 3), 5);",
    ("java", True): ("public class Adder { static int add(int a, int b) { return a + b; }\n"
                     "  public static void main(String[] x) { if (add(2, 3) != 5) throw new AssertionError(); } }"),
    ("java", False): ("public class Adder { static int add(int a, int b) { return a - b; }\n"
                      "  public static void main(String[] x) { if (add(2, 3) != 5) throw new AssertionError(); } }"),
    ("go", True): "func add(a, b int) int { return a + b }\nfunc main() { if add(2, 3) != 5 { panic(\"add\") } }",
    ("go", False): "func add(a, b int) int { return a - b }\nfunc main() { if add(2, 3) != 5 { panic(\"add\") } }",
    ("rust", True): "fn add(a: i32, b: i32) -> i32 { a + b }\nfn main() { assert_eq!(add(2, 3), 5); }",
    ("rust", False): "fn add(a: i32, b: i32) -> i32 { a - b }\nfn main() { assert_eq!(add(2, 3), 5); }",
}


@pytest.fixture(scope="module")
def verdicts():
    samples = [answer(lang, code) for (lang, _), code in CASES.items()]
    samples.append(answer("cpp", "int add(int a, int b) { return a + b; }"))  # no checks
    samples.append(answer("rust", "fn main() { let x: i32 = \"s\"; assert!(x == 1); }"))  # does not compile
    samples.append(answer("java", "public class T { public static void main(String[] a) { assert 1 + 1 == 3; } }"))
    return verify(samples, VerifySpec())


@pytest.mark.parametrize("case", list(CASES))
def test_answers_run_against_their_own_checks(verdicts, case):
    lang, good = case
    why = missing().get({"javascript": "js"}.get(lang, lang))
    reason, detail = verdicts[list(CASES).index(case)]
    if why:
        assert reason is None and why in detail["unverified"]
        return
    if good:
        assert (reason, detail) == (None, None)
    else:
        assert reason == "fails_execution" and detail["status"] == "failed", detail


def test_unchecked_answers_are_counted_and_compile_errors_fail(verdicts):
    assert verdicts[-3] == (None, {"unverified": "no checks in its cpp code"})
    if "rust" not in missing():
        reason, detail = verdicts[-2]
        assert reason == "fails_execution" and detail["check"] == "rust compile" and "error" in detail["error"]


def test_oss_instruct_validation_runs_other_languages(tmp_path):
    from alchemist.relabel import oss_instruct as oss
    from alchemist.relabel.validate import Validator

    if "cpp" in missing():
        pytest.skip(missing()["cpp"])
    solution = "#include <cassert>\nint add(int a, int b) { return a + b; }"
    tests = "int main() { assert(add(2, 3) == 5); }"
    assert oss.precheck_language("c++", solution, tests) is None
    assert oss.precheck_language("cpp", solution, "int main() {}") == "no_tests"
    v = Validator(tmp_path, timeout=20.0, workers=1)
    try:
        assert v.reason(oss.language_program("cpp", solution, tests), "cpp") is None
        assert v.reason(oss.language_program("cpp", solution.replace("a + b", "a - b"), tests), "cpp") == "tests_fail"
        assert v.reason(oss.language_program("cpp", solution + " int", tests), "cpp") == "compile_error"
        assert v.reason(oss.language_program("cpp", solution, tests), "cpp") is None and v.reused == 1
        assert oss.language_verdict("c++", solution, tests, v.reason) == (None, True)
        assert oss.language_verdict("cpp", solution, "int main() {}", v.reason) == ("no_tests", False)
        assert oss.language_verdict("cobol", solution, tests, v.reason) == (None, False)  # kept, not validated
    finally:
        v.close()


def test_java_asserts_are_enabled(verdicts):
    if "java" not in missing():  # `assert` statements count (java -ea, as MultiPL-E runs them)
        assert verdicts[-1][0] == "fails_execution"
