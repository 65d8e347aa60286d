"""MultiPL-E (`multipl_e/<language>`): records read from JSON lines or the hub's parquet, and in the
toolchain sandbox the fixtures' reference completion passes, a wrong one fails, and a chat
answer's whole function (its closing brace where the tests bring their own) passes."""

import pytest

from alchemist.evaluate.languages import completion, sanitize
from alchemist.execution import Limits
from alchemist.execution.languages import missing
from alchemist.testsets import KNOWN_BENCHMARKS, get_benchmark
from alchemist.testsets.multilang import language_of, program
from alchemist.testsets.multipl_e import CODES
from tests.execution.language_fixtures import load as load_fixtures

LIMITS = Limits(timeout=20.0, memory_mb=2048, file_mb=64, processes=128)


def load(lang):
    return load_fixtures("multipl_e", lang)


def test_registered_and_read_from_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert {f"multipl_e/{lang}" for lang in CODES} <= set(KNOWN_BENCHMARKS)
    path, problems, records = load("cpp")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "humaneval-cpp.parquet")
    again = get_benchmark("multipl_e/cpp").eval_problems(tmp_path / "humaneval-cpp.parquet")
    assert [(p.task_id, p.prompt, p.tests, p.entry_point) for p in again] == \
        [(p.task_id, p.prompt, p.tests, p.entry_point) for p in problems]
    assert problems[0].entry_point == "below_zero" and language_of("multipl_e/rust") == "rust"


@pytest.mark.parametrize("lang", sorted(CODES))
def test_reference_passes_wrong_fails_chat_answer_passes(pool, lang):
    if lang in missing():
        pytest.skip(missing()[lang])
    _, problems, records = load(lang)
    p, r = problems[0], records[0]
    assert pool.run(lang, program(p, p.prompt + r["canonical_solution"]), LIMITS).status == "passed"
    assert pool.run(lang, program(p, completion(p, r["wrong_solution"])), LIMITS).status == "failed"
    closes = "}\n" * (p.prompt.count("{") - p.prompt.count("}"))  # a whole function (and class) in the answer
    whole = p.prompt + r["canonical_solution"] + ("" if r["canonical_solution"].rstrip().endswith("}") else closes)
    out = pool.run(lang, program(p, sanitize(f"Sure:\n```\n{whole}```\n", p, lang)), LIMITS)
    assert out.status == "passed", (out.stderr, out.compile_output)
