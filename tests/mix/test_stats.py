"""final/stats.json through MixStats: the keys in their order, the same bytes after a round trip,
and a damaged file named with its key."""

from __future__ import annotations

import json

import pytest

from alchemist.errors import UserError
from alchemist.mix.stats import MixStats, SourceMix, TaskMix
from alchemist.rundir import write_json_atomic


def sample() -> MixStats:
    return MixStats({"b": SourceMix(4, 2, 1, 0), "a": SourceMix(0, 0, 0, 3)}, {"evol_codegen": TaskMix(2, 2)}, 6,
                    {"codegen": 5, "data_filtering": 1})


def test_keys_in_order_and_the_same_bytes_after_a_round_trip(tmp_path):
    d = sample().to_json()
    assert list(d) == ["sources", "relabeled", "rows", "by_task"]
    assert list(d["sources"]) == ["b", "a"]
    assert list(d["sources"]["b"]) == ["rows", "distinct", "subsampled", "seeds"]
    assert list(d["relabeled"]["evol_codegen"]) == ["rows", "distinct"]
    path = tmp_path / "stats.json"
    write_json_atomic(path, d)
    back = MixStats.from_json(path)
    assert back == sample()
    write_json_atomic(tmp_path / "again.json", back.to_json())
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("damage, key", [(lambda d: d.pop("by_task"), "'by_task'"),
                                         (lambda d: d["sources"]["a"].pop("seeds"), "'sources.a.seeds'"),
                                         (lambda d: d["relabeled"].update(x=[]), "'relabeled.x'")])
def test_a_damaged_file_names_the_file_and_the_key(tmp_path, damage, key):
    d = sample().to_json()
    damage(d)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match=key) as e:
        MixStats.from_json(path)
    assert str(path) in str(e.value)
