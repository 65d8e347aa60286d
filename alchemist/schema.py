"""The records that flow between stages: `Sample`, the one record type of every data stage, with its
parquet schema; and `Problem`, a benchmark problem (loaded by testsets, read by the curation rules
and eval)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

import pyarrow as pa

TASKS = (
    "codegen",
    "alchemist_prompt",
    "instruction_evolution",
    "data_filtering",
    "code_review",
    # raw source code from the `code_files` adapter: seeds for generation, never trained on directly
    "code_snippet",
)

# Raw source snippets seed generation; they are never trained on as they are.
NOT_TRAINED = ("code_snippet",)

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
SAMPLE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("task", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("language", pa.string()),
        ("meta", pa.string()),
    ]
)


# UTF-16 surrogates are not characters: JSON may still escape one alone ("\ud83d", half of a cut
# emoji) and json.loads keeps it, but no UTF-8 writer (parquet, sqlite, files) accepts it.
SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_reason(texts) -> str | None:
    """Why these strings are not valid Unicode (the first lone surrogate), or None."""
    for text in texts:
        m = SURROGATE.search(text)
        if m:
            return (f"a lone UTF-16 surrogate U+{ord(m.group()):04X} at character {m.start()} (a broken \\u escape, "
                    "e.g. half of an emoji): not valid Unicode")
    return None


def safe_json(obj, **kwargs) -> str:
    """Readable JSON; escaped (losslessly) where a value holds a surrogate, e.g. a file name that
    is not valid UTF-8 (Python decodes those bytes to lone surrogates)."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    return json.dumps(obj, **kwargs) if SURROGATE.search(text) else text


def meta_json(meta: dict) -> str:
    return safe_json(meta, default=str)


# Tests that travel with a sample (`Sample.tests`): what checks its answer, where they came from,
# how the sample's own answer fared, and, where k candidate solutions were generated, their pass
# rate and the difficulty it implies (KodCode's labels). Kept in the row's meta JSON under "tests"
# only when present, so rows without tests are byte-identical to what they were.
TESTS_KEY = "tests"
TEST_KINDS = ("asserts", "doctest", "test_list")
DIFFICULTIES = ("easy", "medium", "hard")


def difficulty(pass_rate: float | None) -> str | None:
    """KodCode's label from the share of candidate solutions that passed: above 2/3 easy, from
    1/3 medium, below hard; None when no candidates were run."""
    if pass_rate is None:
        return None
    return "easy" if pass_rate > 2 / 3 else "medium" if pass_rate >= 1 / 3 else "hard"


def make_tests(kind: str, code: str, origin: str, setup: str = "", verdict: str | None = None,
               passed: int | None = None, k: int | None = None, attempts: int | None = None) -> dict:
    """A sample's tests as stored: `kind` one of TEST_KINDS, `code` the asserts (one statement a
    line or block) or doctest text, `setup` imports the checks need, `verdict` passed | failed |
    unverified for the sample's own answer, `passed` of `k` candidates (pass_rate, difficulty),
    `attempts` how many generations it took to get tests that pass."""
    if kind not in TEST_KINDS:
        raise ValueError(f"tests kind {kind!r}: expected one of {', '.join(TEST_KINDS)}")
    out = {"kind": kind, "code": code, "origin": origin}
    if setup:
        out["setup"] = setup
    if verdict is not None:
        out["verdict"] = verdict
    if k:
        rate = (passed or 0) / k
        out.update(k=k, passed=passed or 0, pass_rate=round(rate, 4), difficulty=difficulty(rate))
    if attempts is not None:
        out["attempts"] = attempts
    return out


def sample_id(task: str, messages: list[dict]) -> str:
    """Stable content hash: the same conversation for the same task always gets the same id."""
    payload = json.dumps([task, [[m["role"], m["content"]] for m in messages]], ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


@dataclass(slots=True)
class Sample:
    source: str
    messages: list[dict]
    task: str = "codegen"
    language: str | None = None
    meta: dict = field(default_factory=dict)
    id: str = ""
    tests: dict | None = None  # `make_tests`; not part of the id (the same conversation, the same sample)

    def __post_init__(self):
        if not self.id:
            self.id = sample_id(self.task, self.messages)

    @property
    def instruction(self) -> str:
        """Every user turn, in order: what the model is asked."""
        return "\n\n".join(m["content"] for m in self.messages if m["role"] == "user")

    @property
    def response(self) -> str:
        """The last assistant turn: what the model is trained to produce."""
        for m in reversed(self.messages):
            if m["role"] == "assistant":
                return m["content"]
        return ""

    def to_row(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "task": self.task,
            "messages": self.messages,
            "language": self.language,
            "meta": meta_json({**self.meta, TESTS_KEY: self.tests} if self.tests else self.meta),
        }

    @classmethod
    def from_row(cls, row: dict) -> Sample:
        meta = json.loads(row["meta"]) if row["meta"] else {}
        tests = meta.pop(TESTS_KEY, None) if isinstance(meta.get(TESTS_KEY), dict) else None
        return cls(
            source=row["source"],
            messages=[{"role": m["role"], "content": m["content"]} for m in row["messages"]],
            task=row["task"],
            language=row["language"],
            meta=meta,
            id=row["id"],
            tests=tests,
        )


def rows_to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)


@dataclass(frozen=True, slots=True)
class Problem:
    benchmark: str
    task_id: str
    prompt: str  # what the model is asked: a signature + docstring, or a sentence
    solution: str  # the reference code
    tests: str  # the checks, as source text
    entry_point: str | None = None
    # evalplus' "plus" format: inputs on which the candidate must match the reference solution
    base_inputs: list | None = None
    plus_inputs: list | None = None
    atol: float = 0.0
    # code the tests need before them: MBPP's test_setup_code, sanitized MBPP's test_imports
    setup: str = ""
