"""The structure signal: a token stream that renaming, layout, comments and the spelling of
another language do not change, winnowed fingerprints, and edit distance on the shortlist."""

import numpy as np
import pytest

from alchemist.rules.structure import K, StructureIndex, W, fingerprints, kgram_hashes, tokens, winnow
from alchemist.testsets import load_benchmark

PY = '''
def below_zero(operations):
    """Detect whether the balance falls below zero."""
    balance = 0  # running total
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
'''
PY_RENAMED = '''
def check(xs):
    acc = 0
    for x in xs:
        acc += x
        if (acc < 0): return True
    return False
'''
JS = '''
function check(xs) {
  let acc = 0;
  for (const x of xs) {
    acc += x;
    if (acc < 0) {
      return true;
    }
  }
  return false;
}
'''


def test_renaming_layout_comments_and_docstrings_do_not_change_the_stream():
    assert tokens(PY) == tokens(PY_RENAMED)


def test_javascript_folds_into_the_same_stream():
    assert tokens(JS) == tokens(PY)


def test_literals_are_abstracted_but_small_integers_kept():
    assert tokens("x = 'a' + \"b\" + 17 + 1") == ["ID", "=", "STR", "+", "STR", "+", "NUM", "+", "1"]


def test_winnowing_keeps_a_fingerprint_of_every_long_enough_common_run():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 500, dtype=np.uint64)
    picked = set(winnow(hashes).tolist())
    for start in range(0, len(hashes) - W):  # any W consecutive k-grams hold a picked one
        assert picked & set(hashes[start:start + W].tolist())
    assert len(picked) < len(hashes) / 2


def test_fingerprints_of_short_code_are_empty():
    assert len(kgram_hashes(np.arange(K - 1, dtype=np.uint64))) == 0
    assert len(fingerprints("x = 1")) == 0


@pytest.fixture(scope="module")
def index():
    return StructureIndex(load_benchmark("humaneval"))


def rename_all(code, entry):
    import ast

    tree = ast.parse(code)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)} | {entry}
    mapping = {n: f"v{i}" for i, n in enumerate(sorted(names))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = mapping.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = mapping.get(node.arg, node.arg)
            node.annotation = None
        elif isinstance(node, ast.FunctionDef):
            node.name = mapping.get(node.name, node.name)
            node.returns = None
    return ast.unparse(tree)


def test_renamed_humaneval_solutions_are_found(index):
    problems = load_benchmark("humaneval")[:60]
    found = indexed = 0
    for p in problems:
        if p.task_id not in index.task_ids:  # too short to be evidence
            continue
        indexed += 1
        hits = index.hits(rename_all(p.prompt + p.solution, p.entry_point))
        found += bool(hits) and hits[0].task_id == p.task_id and hits[0].score >= 0.8
    assert indexed >= 45
    assert found / indexed >= 0.75  # the benchmark (all signals together) measures the rest


def test_clean_code_is_not_found(index, clean_records):
    scores = [max((h.score for h in index.hits(r["output"])), default=0) for r in clean_records[:200]]
    assert sum(s >= 0.8 for s in scores) <= 2
