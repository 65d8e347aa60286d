"""The answer cache is run state: a file there that alchemist did not write is one line, never a traceback."""

import pytest

from alchemist.errors import UserError
from alchemist.llm.cache import ResultCache


def test_a_cache_that_is_not_sqlite_is_one_line(tmp_path):
    p = tmp_path / "cache.sqlite"
    p.write_text("not a database at all\n" * 100)
    with pytest.raises(UserError, match="not an answer cache alchemist can read"):
        ResultCache(p)
    assert p.read_text().startswith("not a database")
