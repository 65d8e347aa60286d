"""curated/stats.json through CurateStats: per-shard counts summed with `+` are what one pass over
all the rows counts, the file keeps its keys in their order, and a damaged file is one error
naming the file and the key."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest

from alchemist.curate.stage import _count
from alchemist.curate.stats import MAX_EXAMPLES, MAX_NEAR_MISSES, CurateStats, SourceCounts
from alchemist.curate.verdicts import Verdicts
from alchemist.errors import UserError
from alchemist.rundir import write_json_atomic

KEYS = ["sources", "examples", "contamination", "benchmarks", "benchmarks_skipped", "workers", "near_misses"]


def rows_and_verdicts(n: int = 60):
    """n rows of three sources with every kind of verdict: kept, kept near a benchmark, contaminated,
    and more drops of one reason than MAX_EXAMPLES."""
    sources = [("b", "a", "c")[i % 3] for i in range(n)]
    table = pa.table({"id": [f"r{i}" for i in range(n)], "source": sources,
                      "meta": [json.dumps({"where": f"{s}.jsonl:{i + 1}"}) for i, s in enumerate(sources)]})
    reasons, details = [], {}
    for i in range(n):
        if i % 5 == 0:
            reasons.append("exact_duplicate")
            details[i] = {"duplicate_of": f"r{i - 1}"}
        elif i % 7 == 0:
            reasons.append("contaminated")
            details[i] = {"matches": [{"benchmark": "humaneval", "task_id": f"HumanEval/{i}"}]}
        elif i % 11 == 0:
            reasons.append("no_code")
        else:
            reasons.append(None)
            if i % 4 == 1:
                details[i] = {"near_misses": [{"task_id": f"HumanEval/{i}", "overlap": (i % 9) / 10}]}
    return table, reasons, Verdicts(reasons, details)


def test_shards_summed_are_one_pass_over_all_rows():
    table, reasons, verdicts = rows_and_verdicts()
    whole = CurateStats(benchmarks=["humaneval"], workers=2) + _count(table, reasons, verdicts, 0)
    summed, offset = CurateStats(benchmarks=["humaneval"], workers=2), 0
    for n in (7, 0, 20, 33):  # an empty shard included
        summed += _count(table.slice(offset, n), reasons[offset:offset + n], verdicts, offset)
        offset += n
    assert json.dumps(summed.closest().to_json()) == json.dumps(whole.closest().to_json())
    assert list(summed.sources) == ["b", "a", "c"]  # in the order their rows came
    assert len(summed.examples["exact_duplicate"]) == MAX_EXAMPLES
    assert summed.examples["exact_duplicate"][0]["id"] == "r0"  # the first ones
    assert summed.kept + sum(summed.dropped.values()) == table.num_rows
    assert len(summed.contamination) == summed.dropped["contaminated"]


def test_the_sum_keeps_the_runs_settings_and_zero_counts():
    run = CurateStats(benchmarks=["mbpp"], benchmarks_skipped=[{"benchmark": "x", "reason": "y"}], workers=3)
    shard = CurateStats(sources={"a": SourceCounts(1, Counter({"no_code": 0, "short_response": 2}))})
    total = run + shard
    assert (total.benchmarks, total.workers, total.benchmarks_skipped) == (run.benchmarks, 3, run.benchmarks_skipped)
    assert (shard + run).workers == 3
    assert total.to_json()["sources"] == {"a": {"kept": 1, "dropped": {"no_code": 0, "short_response": 2}}}


def test_closest_near_misses_first_ties_in_row_order():
    misses = [{"id": str(i), "overlap": (i % 3) / 10} for i in range(MAX_NEAR_MISSES + 10)]
    got = CurateStats(near_misses=misses).closest().near_misses
    assert len(got) == MAX_NEAR_MISSES
    assert [m["id"] for m in got[:3]] == ["2", "5", "8"]
    assert all(a["overlap"] >= b["overlap"] for a, b in zip(got, got[1:]))


def test_round_trip_keeps_keys_order_and_bytes(tmp_path):
    table, reasons, verdicts = rows_and_verdicts()
    stats = (CurateStats(benchmarks=["humaneval"], workers=2) + _count(table, reasons, verdicts, 0)).closest()
    path = tmp_path / "stats.json"
    write_json_atomic(path, stats.to_json())
    assert list(json.loads(path.read_text())) == KEYS
    back = CurateStats.from_json(path)
    assert back == stats
    write_json_atomic(tmp_path / "again.json", back.to_json())
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("damage, key", [(lambda d: d.pop("workers"), "'workers'"),
                                         (lambda d: d["sources"]["a"].pop("kept"), "'sources.a.kept'"),
                                         (lambda d: d.update(examples=[]), "'examples'")])
def test_a_damaged_file_names_the_file_and_the_key(tmp_path, damage, key):
    d = CurateStats(sources={"a": SourceCounts(1)}, workers=1).to_json()
    damage(d)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match=key) as e:
        CurateStats.from_json(path)
    assert str(path) in str(e.value)


def test_a_file_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text("{cut")
    with pytest.raises(UserError, match="stats.json: cannot read curate's stats"):
        CurateStats.from_json(path)
