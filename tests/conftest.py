import pytest

from tests.helpers import stdlib_functions


@pytest.fixture(scope="session")
def clean_records():
    return stdlib_functions()
