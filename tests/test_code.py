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
