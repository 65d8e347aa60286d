import pytest

from alchemist.execution.languages import LanguagePool


@pytest.fixture(scope="module")
def pool():
    """One toolchain worker per test module: compiles are slow, workers are reused."""
    with LanguagePool() as p:
        yield p
