"""The report's training rows: one of each task (what each relabel task added), then random ones."""

import pyarrow.parquet as pq

from alchemist.report import collect as C
from alchemist.schema import Sample, rows_to_table


def test_one_row_of_each_task(tmp_path):
    samples = [Sample(source="s", messages=[{"role": "user", "content": f"ask {i}"}, {"role": "assistant", "content": f"answer {i}"}],
                      task=task) for i, task in enumerate(["codegen"] * 50 + ["alchemist_prompt"] * 3 + ["code_review"])]
    path = tmp_path / "train.parquet"
    pq.write_table(rows_to_table([s.to_row() for s in samples]), path, row_group_size=7)
    rows = C.one_row_per_task(path)
    assert [r["task"] for r in rows] == ["alchemist_prompt", "code_review", "codegen"]
    assert rows[1]["user"] == "ask 53" and rows[1]["assistant"] == "answer 53"
    assert rows == C.one_row_per_task(path)  # seeded
    assert C.one_row_per_task(tmp_path / "missing.parquet") == []
