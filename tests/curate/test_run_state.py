"""Curation's resume state is run state: a layout file that alchemist did not write (damaged, or
edited by hand) makes curation start over; it is never a traceback."""

import json

from alchemist.curate.spec import CurateSpec
from alchemist.curate.stage import _reset_if_layout_changed


def test_a_damaged_layout_file_restarts_curation(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "layout.json").write_text("{not json")
    (work / "completions").mkdir()
    (work / "completions" / "00000").write_text("")  # a task marker of the unknown layout
    (work / ".fingerprint").write_text("fp")
    _reset_if_layout_changed(work, CurateSpec(), [tmp_path / "a.parquet"])
    assert not (work / "completions").exists()
    assert (work / ".fingerprint").read_text() == "fp"
    assert json.loads((work / "layout.json").read_text())["shards"] == ["a.parquet"]


def test_the_same_layout_keeps_its_markers(tmp_path):
    work = tmp_path / "work"
    _reset_if_layout_changed(work, CurateSpec(), [tmp_path / "a.parquet"])
    (work / "completions").mkdir()
    _reset_if_layout_changed(work, CurateSpec(), [tmp_path / "a.parquet"])
    assert (work / "completions").is_dir()
