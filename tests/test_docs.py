"""The README's recipe reference is generated from the schema: it must not be stale."""

from alchemist.recipe.reference import END, START, reference
from tests.helpers import ROOT


def test_readme_recipe_reference_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    current = readme[readme.index(START): readme.index(END) + len(END)]
    assert current == reference(), "stale: run python -m alchemist.recipe.reference --write README.md"
