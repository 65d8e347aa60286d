import pytest

from alchemist.sources import ADAPTERS, AdapterError
from alchemist.sources.code_files import read as read_code
from alchemist.sources.code_files import split_snippets


def conv(adapter, record, options=None):
    return ADAPTERS[adapter].convert(record, options or {})


def test_alpaca_joins_input_and_ignores_placeholders():
    c = conv("alpaca", {"instruction": "Sum the list.", "input": "[1, 2]", "output": "```python\nprint(sum([1, 2]))\n```"})
    assert c.messages == [{"role": "user", "content": "Sum the list.\n\n[1, 2]"},
                          {"role": "assistant", "content": "```python\nprint(sum([1, 2]))\n```"}]
    assert c.language == "python"
    for placeholder in ("<noinput>", "< noinput >", "", "N/A"):
        c = conv("alpaca", {"instruction": "Do it.", "input": placeholder, "response": "x = 1"})
        assert c.messages[0]["content"] == "Do it."


@pytest.mark.parametrize("record, message", [
    ({"output": "x"}, "missing field 'instruction'"),
    ({"instruction": "a", "output": 3}, "field 'output' is int, expected text"),
    ({"instruction": "a"}, "missing field 'output' or 'response'"),
])
def test_alpaca_bad_records(record, message):
    with pytest.raises(AdapterError, match=message):
        conv("alpaca", record)


def test_evol_pairs_and_leftovers():
    c = conv("evol", {"problem": "P", "solution": "```rust\nfn main() {}\n```", "lang": "rust", "seed": "s"})
    assert c.messages[0]["content"] == "P" and c.language == "rust" and c.extra == {"lang": "rust", "seed": "s"}
    with pytest.raises(AdapterError, match="no instruction/response pair"):
        conv("evol", {"foo": "bar"})


def test_messages_and_sharegpt():
    c = conv("sharegpt", {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"},
                                            {"from": "gpt", "value": "A"}, {"from": "human", "value": "unanswered"}]})
    assert [m["role"] for m in c.messages] == ["system", "user", "assistant"]
    c = conv("messages", {"chat_rounds": [{"role": "human", "content": "Q"}, {"role": "bot", "content": "A"}]},
             {"key": "chat_rounds", "role_map": {"human": "user", "bot": "assistant"}})
    assert c.messages[-1] == {"role": "assistant", "content": "A"}
    c = conv("messages", {"chat_rounds": "[{'role': 'human', 'content': 'Q'}, {'role': 'bot', 'content': 'A'}]"},
             {"key": "chat_rounds"})
    assert len(c.messages) == 2
    with pytest.raises(AdapterError, match=r"messages\[0\].role is 'wizard'"):
        conv("messages", {"messages": [{"role": "wizard", "content": "x"}]})
    with pytest.raises(AdapterError, match="no user turn"):
        conv("messages", {"messages": [{"role": "user", "content": "x"}]})


def test_commit_is_an_edit_task():
    c = conv("commit", {"old_contents": "def f(a):\n    return a\n", "new_contents": "def f(a, b=0):\n    return a + b\n",
                        "message": "Add optional offset", "new_file": "pkg/m.py", "lang": "Python", "repos": "x/y"})
    assert "```python\ndef f(a):" in c.messages[0]["content"] and "Add optional offset" in c.messages[0]["content"]
    assert c.messages[1]["content"].startswith("```python\ndef f(a, b=0)") and c.language == "python"
    assert c.extra["repos"] == "x/y"


def test_mapped_options_and_dotted_fields():
    a = ADAPTERS["mapped"]
    assert "needs options.fields" in a.check_options({})
    assert "unknown option" in a.check_options({"fieldz": {}})
    opts = {"fields": {"instruction": "q.text", "response": "a", "system": "sys"}}
    assert a.check_options(opts) is None
    c = a.convert({"q": {"text": "Q"}, "a": "```go\npackage main\n```", "sys": "be brief"}, opts)
    assert c.messages[0] == {"role": "system", "content": "be brief"} and c.language == "go"


def test_code_files_snippets_cut_at_blank_lines(tmp_path):
    lines = []
    for i in range(10):
        lines += [f"def f{i}(x):", f"    y = x + {i}", "    return y", ""]
    p = tmp_path / "m.py"
    p.write_text("\n".join(lines))
    spans = split_snippets(p.read_text().splitlines(), 10)
    assert all(e - s <= 10 for s, e in spans) and spans[0] == (0, 8)
    snippets = list(read_code(p, {"max_lines": 10}))
    assert all(r.data["code"].startswith("def f") for r in snippets)
    assert ADAPTERS["code_files"].convert(snippets[0].data, {}).task == "code_snippet"
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = '\xff'\n")
    assert "not valid UTF-8" in list(read_code(bad, {}))[0].error


def test_messages_with_content_parts():
    c = conv("messages", {"messages": [{"role": "user", "content": [{"type": "text", "text": "Write"}, {"type": "text", "text": "code"}]},
                                       {"role": "assistant", "content": "x = 1"}]})
    assert c.messages[0]["content"] == "Write\ncode"
    with pytest.raises(AdapterError, match="expected text"):
        conv("messages", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
                                       {"role": "assistant", "content": "x"}]})
