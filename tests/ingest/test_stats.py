"""ingested/NAME.stats.json through IngestStats: what ingest_source counts, the keys in their
order (notes only when there are some, the fingerprint last), a damaged file named with its key,
and a damaged file never carried over."""

from __future__ import annotations

import json

import pytest

from alchemist.errors import UserError
from alchemist.ingest.spec import SourceSpec
from alchemist.ingest.stage import _carry_over, ingest_source
from alchemist.ingest.stats import MAX_EXAMPLES, IngestStats
from alchemist.rundir import write_json_atomic


def alpaca(tmp_path, bad: int):
    lines = [json.dumps({"instruction": f"Write f{i}.", "output": f"def f{i}():\n    return {i}\n"}) for i in range(20)]
    lines[3:3 + bad] = ["{not json"] * bad  # in place of good ones
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return SourceSpec(name="a", adapter="alpaca", path=str(path)), path


def test_ingest_counts_and_writes_the_keys_in_order(tmp_path):
    spec, path = alpaca(tmp_path, bad=MAX_EXAMPLES + 2)
    stats = ingest_source(spec, [path], tmp_path, strict=False)
    assert (stats.read, stats.ingested, stats.malformed) == (20, 20 - (MAX_EXAMPLES + 2), MAX_EXAMPLES + 2)
    assert len(stats.malformed_examples) == MAX_EXAMPLES
    assert stats.malformed_examples[0]["where"] == f"{path}:4"
    assert list(stats.to_json()) == ["read", "ingested", "malformed", "malformed_examples", "files"]
    stats.fingerprint = "f" * 24
    assert list(stats.to_json()) == ["read", "ingested", "malformed", "malformed_examples", "files", "fingerprint"]
    for i in range(MAX_EXAMPLES + 1):
        stats.note(f"{path}:{i}", "a trailing comma")
    assert list(stats.to_json())[-2:] == ["notes", "fingerprint"]
    assert len(stats.notes) == MAX_EXAMPLES


def test_round_trip_keeps_the_bytes(tmp_path):
    stats = IngestStats(3, 2, 1, [{"where": "a.jsonl:2", "reason": "not valid JSON"}], ["a.jsonl"],
                        [{"where": "a.jsonl:3", "note": "a trailing comma"}], "abc")
    path = tmp_path / "a.stats.json"
    write_json_atomic(path, stats.to_json())
    back = IngestStats.from_json(path)
    assert back == stats
    write_json_atomic(tmp_path / "again.json", back.to_json())
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("damage, message", [(lambda d: d.pop("malformed"), "key 'malformed' is missing"),
                                             (lambda d: d.update(read="3"), "key 'read' of ingest's stats is not an integer")])
def test_a_damaged_file_names_the_file_and_the_key(tmp_path, damage, message):
    d = IngestStats(read=1, ingested=1, fingerprint="abc").to_json()
    damage(d)
    path = tmp_path / "a.stats.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match=message) as e:
        IngestStats.from_json(path)
    assert str(path) in str(e.value)


def test_only_an_intact_shard_of_the_same_fingerprint_is_carried_over(tmp_path):
    previous, out = tmp_path / "previous", tmp_path / "out"
    previous.mkdir()
    out.mkdir()
    (previous / "a.parquet").write_bytes(b"shard")
    stats = IngestStats(read=1, ingested=1, files=["a.jsonl"], fingerprint="abc")
    write_json_atomic(previous / "a.stats.json", stats.to_json())
    assert _carry_over(previous, out, "a", "other") is None
    assert _carry_over(previous, out, "a", "abc") == stats
    assert (out / "a.stats.json").read_bytes() == (previous / "a.stats.json").read_bytes()
    (previous / "a.stats.json").write_text(json.dumps({"fingerprint": "abc"}))  # damaged: read the source again
    assert _carry_over(previous, tmp_path / "elsewhere", "a", "abc") is None
