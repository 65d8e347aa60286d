from alchemist.code import detect_language, extract_code_blocks, looks_like_code, python_parses


def test_fenced_blocks_and_language_tags():
    text = "Here:\n```py\nx = 1\n```\nand\n~~~js\nconst a = 1;\n~~~\n"
    assert extract_code_blocks(text) == [("python", "x = 1\n"), ("javascript", "const a = 1;\n")]
    assert extract_code_blocks("Answer:\n```python\ndef f():\n    return 1\n") == [("python", "def f():\n    return 1\n")]


def test_bare_code_and_prose():
    assert looks_like_code("def f(x):\n    return x * 2\n")
    assert not looks_like_code("The capital of France is Paris. It is a large city.")
    assert detect_language("#include <iostream>\nint main() {\n  std::cout << 1;\n}") == "cpp"
    assert detect_language("SELECT name FROM users\nWHERE id = 1;") == "sql"
    assert extract_code_blocks("Yes.") == []


def test_python_parses_tolerates_indent_and_magics():
    assert python_parses("    x = 1\n    y = x + 1\n")
    assert python_parses("%matplotlib inline\n!pip install numpy\nimport numpy as np\n")
    assert not python_parses('print "hello"\n')
    assert not python_parses("def f(:\n    pass\n")


def test_python_parses_accepts_function_bodies_and_rejects_real_errors():
    assert python_parses("return x + 1\n")  # a body snippet: code generation's check, not syntax
    assert python_parses("for x in y:\n    break\n")
    assert not python_parses("x = = 1\n")
    assert not python_parses("def f(x):\nreturn x\n")  # missing indentation


def _extract_with_the_regexes(text):
    """extract_code_blocks as it was written with FENCE_RE / UNCLOSED_FENCE_RE (quadratic)."""
    from alchemist.code import FENCE_RE, UNCLOSED_FENCE_RE, _bare_code, guess_language, normalize_language

    blocks = [(normalize_language(m.group(2)) or guess_language(m.group(3)), m.group(3)) for m in FENCE_RE.finditer(text)]
    if blocks:
        return [b for b in blocks if b[1].strip()]
    unclosed = UNCLOSED_FENCE_RE.search(text)
    if unclosed and unclosed.group(3).strip():
        return [(normalize_language(unclosed.group(2)) or guess_language(unclosed.group(3)), unclosed.group(3))]
    is_code, language = _bare_code(text)
    return [(language, text)] if is_code else []


def test_code_blocks_are_the_regexes_blocks_found_in_linear_time():
    """The one-pass fence scan finds what the fence regexes find on random answers, and a
    hostile answer (20,000 unclosed fences, one line of 200,000 backticks: minutes with the
    regexes or with a try per prefix length) is read at once."""
    import random

    rng = random.Random(11)
    pieces = ["```", "```python", "````", "~~~", "~~~js", " ```", "```  ", "\t```", "x = 1", "def f():", "  return 2",
              "", "Here is the code:", "```js extra", "``` python", "`````py", "~~~~", "const a = 1;", "```c++", "``"]
    for _ in range(4000):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) + rng.choice(["", "\n"])
        assert extract_code_blocks(text) == _extract_with_the_regexes(text), text
    for hostile in ("```python\n" * 20000, "`" * 200000 + "\nx\n", "\n".join("`" * i for i in range(3, 700)),
                    "~~~\n" + "```\n" * 20000):
        assert isinstance(extract_code_blocks(hostile), list)
