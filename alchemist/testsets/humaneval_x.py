"""HumanEval-X (Zheng et al., 2023, CodeGeeX): HumanEval's problems in C++, Go, Java, JavaScript
and Rust, each checked by a test program (a `main` with asserts, a Java `Main`, Go's `testing`,
Rust's `#[test]`s) that runs after the candidate. Registered as `humaneval_x/<language>`.

The data is downloaded once from the Hugging Face hub (THUDM/humaneval-x) where there is a
network and cached, or read from a local file (`--data`, `eval.data`). The records keep their
own fields (`task_id`, `prompt`, `declaration`, `canonical_solution`, `test`, Go's `test_setup`);
`program()` joins a candidate and a test the way CodeGeeX's evaluation does. The Go tests of the
published set import github.com/stretchr/testify: Debian's golang-github-stretchr-testify-dev
puts it on the GOPATH the sandbox's Go toolchain reads (/usr/share/gocode).
"""

from __future__ import annotations

import re
from pathlib import Path

from alchemist.errors import UserError
from alchemist.testsets.base import Benchmark, Problem, download, read_jsonl

HUB = "https://huggingface.co/datasets/THUDM/humaneval-x/resolve/main/data/{lang}/data/humaneval.jsonl.gz"
LANGUAGES = ("cpp", "go", "java", "js", "rust")
TITLES = {"cpp": "C++", "go": "Go", "java": "Java", "js": "JavaScript", "rust": "Rust"}
# CodeGeeX's headers for C++ programs whose prompt lacks them
CPP_HEADERS = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
               "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>", "#include<iostream>")
_ENTRY = {
    "cpp": re.compile(r"(\w+)\s*\([^()]*\)\s*\{\s*$", re.M),
    "js": re.compile(r"(?:const|let|var|function)\s+(\w+)\s*[=(]", re.M),
    "java": re.compile(r"public\s+[\w<>\[\], ?]+?\s+(\w+)\s*\(", re.M),
    "go": re.compile(r"^func\s+(\w+)\s*\(", re.M),
    "rust": re.compile(r"^\s*fn\s+(\w+)", re.M),
}


def language_of(benchmark: str) -> str | None:
    """`humaneval_x/cpp` -> "cpp" (None for other benchmarks)."""
    name, _, lang = benchmark.partition("/")
    return lang if name == "humaneval_x" and lang in LANGUAGES else None


def entry_point(lang: str, code: str) -> str | None:
    names = [n for n in _ENTRY[lang].findall(code) if n != "main"]
    return names[-1] if names else None


def _header(declaration: str, lang: str) -> str:
    """The lines of a declaration before its function (includes, imports, `use`)."""
    lines = declaration.splitlines()
    keep = [ln for ln in lines if re.match(r"\s*(#include|using namespace|import |use )", ln)]
    return "\n".join(keep)


def problem(lang: str, record: dict, index: int) -> Problem:
    task_id = str(record.get("task_id") or f"{TITLES[lang]}/{index}")
    prompt = record.get("prompt") or ""
    declaration = record.get("declaration") or ""
    setup = record.get("test_setup") or _header(declaration, lang) if lang != "js" else ""
    return Problem(f"humaneval_x/{lang}", task_id, prompt, prompt + (record.get("canonical_solution") or ""),
                   record.get("test") or "", entry_point(lang, prompt or declaration), setup=setup)


def loader(lang: str):
    def load(path: Path | None) -> list[Problem]:
        path = path if path is not None else download(HUB.format(lang=lang), f"humaneval_x_{lang}.jsonl.gz",
                                                      f"HumanEval-X ({TITLES[lang]})", f"humaneval_x/{lang}")
        return [problem(lang, r, i) for i, r in enumerate(read_jsonl(path))]
    return load


def _go_program(setup: str, code: str, test: str) -> str:
    """package main, one import block (the test's and the code's; imports the code does not use
    left out, since Go refuses them), the code, the test."""
    imports: list[str] = []
    body = []
    for part in (setup, code):
        text = re.sub(r"^\s*package\s+\w+\s*$", "", part, flags=re.M)
        for block in re.findall(r"^import\s*\((.*?)\)", text, flags=re.M | re.S):
            imports += re.findall(r"\"[^\"]+\"", block)
        imports += re.findall(r"^import\s+(\"[^\"]+\")", text, flags=re.M)
        body.append(re.sub(r"^import\s*\(.*?\)|^import\s+\"[^\"]+\"", "", text, flags=re.M | re.S))
    rest = "\n".join(body[1:]) + "\n" + test
    used = [i for i in dict.fromkeys(imports) if re.search(rf"\b{re.escape(i.strip(chr(34)).split('/')[-1])}\.", rest)]
    block = "import (\n" + "".join(f"    {i}\n" for i in used) + ")\n" if used else ""
    return f"package main\n\n{block}\n{body[1]}\n{test}\n"


def program(lang: str, p: Problem, code: str) -> str:
    """The candidate's code (a whole function, its prompt's header added where missing) and the
    problem's test, as one program of the language (CodeGeeX's `process_humaneval_test`)."""
    if lang == "cpp":
        head = [h for h in (*p.setup.splitlines(), *CPP_HEADERS) if h.strip() and h not in code]
        return "\n".join(dict.fromkeys(head)) + "\n" + code + "\n" + p.tests
    if lang == "java":
        head = [h for h in p.setup.splitlines() if h.startswith("import ") and h not in code]
        return "\n".join(head) + "\n" + code + "\n\n" + p.tests
    if lang == "go":
        return _go_program(p.setup, code, p.tests)
    if lang == "rust":
        head = "\n".join(h for h in p.setup.splitlines() if h.strip() and h not in code)
        return f"{head}\n{code}\n{p.tests}"
    return code + "\n" + p.tests


def reference(lang: str, p: Problem) -> str:
    return program(lang, p, p.solution)


def load_all(path: Path | None) -> list[Problem]:
    """Every language's problems (for decontamination: `benchmarks: [humaneval_x]`); `path` a
    folder holding `humaneval_x_<lang>.jsonl` files or HumanEval-X's own `<lang>/data/humaneval.jsonl.gz`."""
    if path is None:
        return [p for lang in LANGUAGES for p in loader(lang)(None)]
    out = []
    for lang in LANGUAGES:
        found = [f for f in (path / f"humaneval_x_{lang}.jsonl", path / f"humaneval_x_{lang}.jsonl.gz",
                             path / lang / "data" / "humaneval.jsonl.gz") if f.is_file()]
        if not found:
            raise UserError(f"{path}: no HumanEval-X file for {TITLES[lang]} (humaneval_x_{lang}.jsonl or "
                            f"{lang}/data/humaneval.jsonl.gz); give a folder with all five")
        out += loader(lang)(found[0])
    return out


def per_language(problems: list[Problem]) -> list[Problem]:
    raise UserError("humaneval_x is scored per language: "
                    f"{', '.join(f'humaneval_x/{lang}' for lang in LANGUAGES)}")


BENCHMARKS = tuple(
    Benchmark(name=f"humaneval_x/{lang}", title=f"HumanEval-X ({TITLES[lang]})", load=loader(lang), checks="program",
              source=HUB.format(lang=lang))
    for lang in LANGUAGES) + (
    # every language at once, for decontamination
    Benchmark(name="humaneval_x", title="HumanEval-X", load=load_all, checks="program", select=per_language,
              source=HUB.format(lang="<lang>")),)
