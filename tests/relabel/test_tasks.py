"""Parsers and builders of the relabel tasks, on well-formed and broken LLM answers."""

import pytest

from alchemist.relabel import tasks
from alchemist.relabel.select import stratified
from alchemist.relabel.templates import load
from alchemist.schema import Sample

SAMPLE = Sample(source="s", messages=[
    {"role": "user", "content": "Find the shortest paths from a source vertex, allowing negative edges."},
    {"role": "assistant", "content": "```python\ndef bellman_ford(graph, source):\n    distance = {v: float('inf') for v in graph}\n"
                                     "    distance[source] = 0\n    return distance\n```"}], language="python")


def test_templates_have_versions_and_fill_fields():
    t = load("alchemist_prompt")
    assert t.id == "alchemist_prompt.v2"
    messages = t.messages(instruction="{{not a field}}", response="R", language="Python")
    assert messages[0]["role"] == "system" and "{{not a field}}" in messages[1]["content"]
    with pytest.raises(KeyError, match="needs field '(response|language)'"):
        t.messages(instruction="x")


@pytest.mark.parametrize("answer, expected", [
    ("<prompt>Please generate Python code for the following task using dynamic programming.</prompt>", None),
    ("Please write Python code using the Bellman-Ford algorithm.", None),
    ("", "empty"),
    ("<prompt>Python.</prompt>", "too_short"),
    ("<prompt>" + "word " * 90 + "</prompt>", "too_long"),
    ("<prompt>Use this code: ```python\nx = 1\n```</prompt>", "pastes_code"),
    ("<prompt>Write it like distance = {v: float('inf') for v in graph} please</prompt>", "pastes_code"),
    ("Sure! Here is a prompt.\n\n<prompt>unterminated", "missing_tags"),
])
def test_alchemist_prompt_validation(answer, expected):
    prompt, why = tasks.parse_alchemist_prompt(answer, SAMPLE, 4, 80)
    assert why == expected
    if expected is None:
        relabeled = tasks.with_alchemist_prompt(SAMPLE, prompt, {"llm": "m"})
        assert relabeled.messages[0]["content"] == f"{prompt}\n\n{SAMPLE.messages[0]['content']}"
        assert relabeled.messages[1] == SAMPLE.messages[1]  # the response is untouched
        assert relabeled.task == "alchemist_prompt" and relabeled.meta["origin"] == SAMPLE.id


GOOD = "Please write Python code for the following task using the Bellman-Ford algorithm and a distance dictionary."


@pytest.mark.parametrize("answer", [
    "I'm sorry, but I can't help with that request.",
    "I\u2019m sorry, but I can\u2019t assist with writing a prompt for this code.",
    "<prompt>I cannot provide a prompt for this request.</prompt>",
    "As an AI language model, I cannot write prompts that describe code.",
    "I apologize, but I am unable to complete this task.",
    "Unfortunately, I am not able to generate that prompt for you.",
    "Sorry, but I won't write that.\n\nIf you have another request, I'm happy to help.",
    "<prompt>Please write Python code for this task. As an AI, I must note I cannot run it.</prompt>",
])
def test_alchemist_prompt_refusals_are_rejected(answer):
    assert tasks.parse_alchemist_prompt(answer, SAMPLE, 4, 80) == (None, "refusal")


@pytest.mark.parametrize("answer", [
    f"Sure! Here is the prompt: {GOOD}",
    f"Sure! Here is the prompt:\n\n{GOOD}",
    f"Certainly! Here's an AlchemistPrompt for this answer:\n<prompt>{GOOD}</prompt>",
    f"<prompt>Sure, here is the prompt: {GOOD}</prompt>",
    f"Of course! {GOOD}",
    f"Prompt: {GOOD}",
    f"**Prompt:** {GOOD}",
    f"Okay, here is a rewritten version of the prompt:\n<prompt>\"{GOOD}\"</prompt>",
])
def test_alchemist_prompt_preambles_are_cut_off(answer):
    assert tasks.parse_alchemist_prompt(answer, SAMPLE, 4, 80) == (GOOD, None)


@pytest.mark.parametrize("answer", [
    "<prompt>Here is a prompt that asks the model to write Python code using the Bellman-Ford algorithm.</prompt>",
    "Sure thing, I have written a prompt that describes the Bellman-Ford code in Python.",
    f"{GOOD} I hope this helps!",
    f"<prompt>{GOOD} Let me know if you would like any changes.</prompt>",
    "Here's a prompt for the answer, which uses recursion and memoization in Python.",
])
def test_alchemist_prompt_chatter_that_cannot_be_cut_is_rejected(answer):
    assert tasks.parse_alchemist_prompt(answer, SAMPLE, 4, 80) == (None, "preamble")


@pytest.mark.parametrize("answer", [
    "Please generate Python code for the following task and attempt to use the Bellman-Ford algorithm.",
    "Please provide a Python code example for the following task including the distances it returns.",
    "Please write Python code that fills the distance of each vertex and prints an error if the graph can't be read.",
    "Here is a graph as an adjacency list; write Python code that relaxes every edge with Bellman-Ford.",
    "Great care is needed: write Python code, with comments, that uses the Bellman-Ford algorithm.",
    "Write Python code that handles the case where the source vertex is sorry-looking data, using a distance dictionary.",
])
def test_alchemist_prompt_good_prompts_stay_accepted(answer):
    for wrapped in (answer, f"<prompt>{answer}</prompt>"):
        assert tasks.parse_alchemist_prompt(wrapped, SAMPLE, 4, 80) == (answer, None)


def test_evolution_parse():
    ok, why = tasks.parse_evolution("<evolved>\nHarder task.\n</evolved>\n<explanation>More constraints.</explanation>", "Task.")
    assert why is None and ok == ("Harder task.", "More constraints.")
    assert tasks.parse_evolution("<evolved>Task.</evolved><explanation>x</explanation>", "Task.")[1] == "unchanged"
    assert tasks.parse_evolution("Sure! Here is a harder task.", "Task.")[1] == "missing_tags"
    s = tasks.compare_task(SAMPLE, "Harder task.", "More constraints.", {})
    assert s.task == "instruction_evolution" and "Harder task." in s.messages[0]["content"]
    assert s.messages[1]["content"] == "More constraints."


REVIEW = """Correctness: 8
Clarity: 6
Suggestions:
- Use a deque.
- Add type hints.
Refined code:
```python
def f(x: int) -> int:
    return x
```"""


def test_review_parse_and_rejects():
    review, why = tasks.parse_review(REVIEW, "python")
    assert why is None and (review.correctness, review.clarity) == (8, 6)
    assert review.suggestions == ["Use a deque.", "Add type hints."] and review.code.startswith("def f")
    assert tasks.parse_review(REVIEW.replace("Clarity: 6", "Clarity: 11"), "python")[1] == "score_out_of_range"
    assert tasks.parse_review("Looks good to me!\nReally.", "python")[1] == "missing_scores"
    assert tasks.parse_review(REVIEW.split("Refined")[0], "python")[1] == "no_refined_code"
    assert tasks.parse_review(REVIEW.replace("return x", "return (x"), "python")[1] == "refined_code_syntax"
    s = tasks.review_task(SAMPLE, review, {})
    assert s.task == "code_review" and "1. Correctness: 8/10" in s.messages[1]["content"]


@pytest.mark.parametrize("reason, letter", [("short_response", "A"), ("python_syntax_error", "B"), ("no_code", "C"),
                                            ("garbled_text", "D")])
def test_data_filtering_letter_follows_reason(reason, letter):
    bad = Sample(source="s", messages=[{"role": "user", "content": "Sum a list."},
                                       {"role": "assistant", "content": "```python\ndef f(x:\n    pass\n```"}])
    s = tasks.filtering_task(bad, reason, {})
    assert s.task == "data_filtering" and s.messages[1]["content"].startswith(f"{letter}. ")
    if letter == "B":
        assert "line 1" in s.messages[1]["content"]


def test_stratified_selection_is_seeded_and_proportional():
    sources = ["a"] * 80 + ["b"] * 20
    picks = stratified(sources, list(range(100)), 10, seed=0, salt="x")
    assert picks == stratified(sources, list(range(100)), 10, seed=0, salt="x")
    assert picks != stratified(sources, list(range(100)), 10, seed=1, salt="x")
    assert sum(1 for i in picks if sources[i] == "a") == 8 and len(picks) == 10
    assert stratified(sources, list(range(100)), 500, seed=0, salt="x") == list(range(100))


def test_syntax_explanation_survives_code_too_deep_to_parse():
    deep = "x = " + "-" * 100_000 + "1"
    assert "does not parse" in tasks._syntax_error(f"```python\n{deep}\n```")


def _sample(language: str, response: str = "```js\nconst add = (a, b) => a + b;\n```") -> Sample:
    return Sample(source="t", messages=[{"role": "user", "content": "Calculate the distance between two numbers."},
                                        {"role": "assistant", "content": response}], task="codegen", language=language)


@pytest.mark.parametrize("answer, language, why", [
    ("Please generate Python code for the task.", "javascript", "wrong_language"),
    ("Please write a short JavaScript arrow function for the following task.", "javascript", None),
    ("Please write a Java class with a main method for the following task.", "javascript", "wrong_language"),
    ("Please write JavaScript code for the task and show how to call it.", "python", "wrong_language"),
    ("Please write C++ code for the following task with comments.", "c", "wrong_language"),
    ("Please write a concise solution in C for the following task.", "c", None),
    ("Please answer the task with a one-line function and an example call.", "rust", None),  # names none: fine
    ("Your task: add two numbers and return their total.", "javascript", None),
    ("Your task: Calculate the distance between two numbers.", "javascript", "restates_task"),
    # a made-up task: nothing of it is in the sample
    ("Please write JavaScript code to find the maximum sum of a contiguous subarray.", "javascript", "ungrounded"),
    # the template's own example, repeated: it describes another answer
    ("Please generate Python code for the following task and attempt to use the concept of Dynamic Programming.", "python",
     "copies_example"),
])
def test_prompt_naming_another_language_or_copying_the_example_is_rejected(answer, language, why):
    from alchemist.relabel.tasks import parse_alchemist_prompt

    prompt, reason = parse_alchemist_prompt(answer, _sample(language), 4, 80)
    assert reason == why and (prompt is None) == (why is not None)


ARROW = "Please write a short JavaScript arrow function for the following task."


@pytest.mark.parametrize("answer, expected", [
    # the continuation of the pre-filled "<prompt>Please write JavaScript code", cut at its newline
    (" for the following task as a short arrow function.", "Please write JavaScript code for the following task as a short arrow function."),
    (ARROW, ARROW),  # a new turn that wrote the prompt alone
    (ARROW + "</prompt>", ARROW),
    ("<prompt>" + ARROW, ARROW),  # a new turn, stopped at </prompt>
])
def test_continuations_of_the_prefilled_tag_are_read(answer, expected):
    from alchemist.relabel.tasks import parse_alchemist_prompt

    prompt, reason = parse_alchemist_prompt(answer, _sample("javascript"), 4, 80)
    assert reason is None and prompt == expected


def test_the_prompt_request_prefills_the_tag_and_names_the_language():
    from alchemist.relabel.tasks import alchemist_prompt_request, stop_strings

    messages = alchemist_prompt_request(_sample("javascript"))
    assert messages[-1] == {"role": "assistant", "content": "<prompt>Please write JavaScript code"}
    assert "### Answer (JavaScript)" in messages[1]["content"]
    assert stop_strings("alchemist_prompt", True) == ("</prompt>", "\n")
    assert stop_strings("alchemist_prompt", False) == ("</prompt>",) and stop_strings("code_review", False) == ()


# -- the one-line formats a small model can complete (pre-filled, continued by the hf backend) ---

@pytest.mark.parametrize("answer, expected", [
    (" handle graphs with up to 10^5 vertices and report a negative cycle by raising ValueError.", None),
    (" handle graphs", "too_short"),
    (" find the shortest paths from a source vertex, allowing negative edges.", "restates_task"),
    (" be written in JavaScript with a Map for the distances.", "wrong_language"),
    (" use this code: ```python\nx = 1\n```", "pastes_code"),
    (" be " + "very " * 50 + "fast.", "too_long"),
])
def test_evolution_continues_the_prefilled_requirement(answer, expected):
    found, why = tasks.parse_evolution(answer, SAMPLE.instruction, SAMPLE)
    assert why == expected
    if expected is None:
        evolved, explanation = found
        assert evolved.startswith(SAMPLE.instruction) and evolved.endswith("report a negative cycle by raising ValueError.")
        assert f"{tasks.EVOLVED_JOIN} handle graphs" in evolved and "the solution must handle graphs" in explanation


def test_evolution_request_prefills_a_requirement():
    messages = tasks.evolution_request(SAMPLE, tasks.EVOL_OPERATIONS[0])
    assert messages[-1] == {"role": "assistant", "content": "New requirement: The solution must"}
    assert SAMPLE.instruction in messages[1]["content"] and tasks.EVOL_OPERATIONS[0] in messages[1]["content"]


@pytest.mark.parametrize("answer, expected", [
    (" Use a deque of vertices to relax only the edges of vertices whose distance changed.", None),
    ("\n- \"Check for a negative cycle after the last round of relaxation.\"", None),
    (" The code is very clean and easy to read.", "not_a_suggestion"),
    ("\n\n```python", "pastes_code"),
    (" Use a queue.", "too_short"),
    (" Rewrite it in Rust with a HashMap to make it faster.", "wrong_language"),
    (" I'm sorry, but I cannot review this code.", "refusal"),
])
def test_review_of_one_suggestion(answer, expected):
    review, why = tasks.parse_review(answer, "python", SAMPLE)
    assert why == expected
    if expected is None:
        assert review.correctness is None and review.code is None and len(review.suggestions) == 1
        s = tasks.review_task(SAMPLE, review, {})
        assert s.messages[-1]["content"] == f"Suggestion: {review.suggestions[0]}" and s.meta["scores"] is None
        assert "one concrete suggestion" in s.messages[0]["content"] and SAMPLE.response in s.messages[0]["content"]
        assert not review.suggestions[0].startswith(("-", '"'))


def test_one_line_tasks_stop_at_the_line_and_spend_few_tokens():
    from alchemist.llm.types import Sampling

    base = Sampling(max_tokens=512, temperature=0.0)
    for task in ("alchemist_prompt", "instruction_evolution", "code_review"):
        continued = tasks.task_sampling(task, base, True)
        assert "\n" in continued.stop and continued.max_tokens == tasks.LINE_MAX_TOKENS
        assert tasks.task_sampling(task, base, False).max_tokens == 512  # a new turn may write the full format
    assert tasks.task_sampling("code_review", Sampling(max_tokens=32), True).max_tokens == 32  # never above the recipe's
