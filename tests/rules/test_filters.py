import pytest

from alchemist.recipe import FilterSpec
from alchemist.rules.filters import quality_reason
from alchemist.schema import Sample


def sample(response, instruction="Write a function that doubles x.", task="codegen"):
    return Sample(source="t", messages=[{"role": "user", "content": instruction}, {"role": "assistant", "content": response}], task=task)


@pytest.mark.parametrize("response, reason", [
    ("", "empty_response"),
    ("   \n", "empty_response"),
    ("Yes", "short_response"),
    ("You can double a number by multiplying it by two, which is simple.", "no_code"),
    ('```python\nprint "doubled"\n```', "python_syntax_error"),
    ("def f(x):\n    return (x * 2\n", "python_syntax_error"),
    ("```python\ndef f(x):\n    return x * 2\n```\ufffd\ufffd\ufffd", "garbled_text"),
    ("```python\ndef f(x):\n    return x * 2\n```", None),
    ("def f(x):\n    return x * 2\n", None),
    ("```js\nconst f = (x) => x * 2;\n```", None),
])
def test_quality_reasons(response, reason):
    assert quality_reason(sample(response), FilterSpec()) == reason


def test_limits_are_configurable():
    s = sample("```python\nx = 1\n```")
    assert quality_reason(s, FilterSpec(max_chars=20)) == "too_long"
    assert quality_reason(sample("nothing here to run"), FilterSpec(require_code=False)) is None
    py2 = sample('def f(x):\n    print "x"\n')
    assert quality_reason(py2, FilterSpec()) == "python_syntax_error"
    assert quality_reason(py2, FilterSpec(python_syntax=False)) is None


def test_comprehension_tasks_need_no_code():
    s = sample("The answer is B: the code does not compile.", task="data_filtering")
    assert quality_reason(s, FilterSpec()) is None


def test_conversation_needs_code_in_one_answer():
    s = Sample(source="t", messages=[
        {"role": "user", "content": "Write a function that doubles x."},
        {"role": "assistant", "content": "```python\ndef double(x):\n    return 2 * x\n```"},
        {"role": "user", "content": "Thanks! Is it fast?"},
        {"role": "assistant", "content": "Yes: one multiplication, constant time."}])
    assert quality_reason(s, FilterSpec()) is None
