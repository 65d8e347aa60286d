"""MultiPL-E (Cassano et al., 2023): HumanEval translated to other languages, prompts to complete
(a signature and a doc comment) and tests that run after the completion. Registered as
`multipl_e/<language>` for C++, Go, Java, JavaScript and Rust.

Downloaded once from the Hugging Face hub (nuprl/MultiPL-E, `humaneval-<lang>`, parquet) where
there is a network and cached, or read from a local file (`--data`, `eval.data`: the parquet file
or JSON lines with the same fields: `name`, `prompt`, `tests`, `stop_tokens`). The program is
`prompt + completion + tests`, as MultiPL-E's executors build it; their Java classpath holds
javatuples, which is not here: its import is dropped when a program uses none of its classes.
MultiPL-E has no reference solutions; a file may add `canonical_solution` (our fixtures do).
"""

from __future__ import annotations

import re
from pathlib import Path

from alchemist.errors import UserError
from alchemist.testsets.base import Benchmark, Problem, download, read_jsonl
from alchemist.testsets.braces import body_of, depth
from alchemist.testsets.humaneval_x import entry_point

HUB = "https://huggingface.co/datasets/nuprl/MultiPL-E/resolve/main/humaneval-{code}/test-00000-of-00001.parquet"
CODES = {"cpp": "cpp", "go": "go", "java": "java", "js": "js", "rust": "rs"}
TITLES = {"cpp": "C++", "go": "Go", "java": "Java", "js": "JavaScript", "rust": "Rust"}
JAVATUPLES = re.compile(r"\b(Unit|Pair|Triplet|Quartet|Quintet|Sextet|Septet|Octet|Ennead|Decade|KeyValue|LabelValue)\s*<")


def language_of(benchmark: str) -> str | None:
    name, _, lang = benchmark.partition("/")
    return lang if name == "multipl_e" and lang in CODES else None


def _records(path: Path) -> list[dict]:
    if path.suffix != ".parquet":
        return read_jsonl(path)
    import pyarrow.parquet as pq  # heavy: only for the hub's parquet files

    try:
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read MultiPL-E's parquet file: {e}") from None


def loader(lang: str):
    def load(path: Path | None) -> list[Problem]:
        path = path if path is not None else download(HUB.format(code=CODES[lang]), f"multipl_e_{lang}.parquet",
                                                      f"MultiPL-E ({TITLES[lang]})", f"multipl_e/{lang}")
        out = []
        for i, r in enumerate(_records(path)):
            prompt = r.get("prompt") or ""
            solution = prompt + r["canonical_solution"] if r.get("canonical_solution") else ""
            out.append(Problem(f"multipl_e/{lang}", str(r.get("name") or f"MultiPL-E/{lang}/{i}"), prompt, solution,
                               r.get("tests") or "", entry_point(lang, prompt)))
        return out
    return load


def program(lang: str, p: Problem, code: str) -> str:
    """prompt + completion + tests. A chat answer's whole function gives its body after the
    prompt; the function is left open where the tests close it (C++, Java, Rust) and closed
    where they do not (Go, JavaScript)."""
    if not code.startswith(p.prompt):
        m = re.search(rf"\b{re.escape(p.entry_point)}\b", code) if p.entry_point else None
        body = body_of(code, m.end()) if m else None
        code = p.prompt + (body if body is not None else code)
    opened = depth(p.prompt)
    if p.tests.lstrip().startswith("}"):
        while depth(code) < opened and code.rstrip().endswith("}"):
            code = code.rstrip()[:-1]
    elif depth(code) >= opened:
        code += "\n}\n" * (depth(code) - opened + 1)
    text = f"{code}\n{p.tests}"
    if lang == "java":
        if not JAVATUPLES.search(text):
            text = text.replace("import org.javatuples.*;\n", "")
        text = re.sub(r"\bclass\s+Problem\b", "class Main", text)  # the file is Main.java
    return text


BENCHMARKS = tuple(
    Benchmark(name=f"multipl_e/{lang}", title=f"MultiPL-E ({TITLES[lang]})", load=loader(lang), checks="program",
              source=HUB.format(code=CODES[lang]))
    for lang in CODES)
