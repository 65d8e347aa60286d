"""What decontamination reads from a sample besides its n-grams, and the one calibrated decision
that weighs the signals together.

A problem statement lives in two places: in what the user asks (the instruction), and, when a
whole program is given under a generic instruction ("Write the following python code."), in the
program's docstrings and comments. `statement_text` reads both. `code_text` is the sample's code
as the code-embedding signal sees it: docstrings and comments kept (they say what the code does),
identifiers split into words (`largest_prime_factor`, `largestPrimeFactor` -> largest prime
factor) so that a sentence embedding model reads code in any language as words.

The decision (`Calibration`): one logistic model per (sample, benchmark problem) candidate over
the signals' scores and how specific the benchmark solution is (a 3-line idiom matched by its
structure says little), fitted on the labeled set in benchmarks/data/decontamination/ by
benchmarks/decontamination_quality.py --calibrate and shipped as calibration/weights.json.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("calibration") / "weights.json"

# Docstrings, `#` comments (not C's `#include`/`#define`), `//` and `/* */` comments; one-line
# strings are matched (and skipped) so that a `#` or `//` inside one is no comment.
_COMMENT = re.compile(
    r'"""([\s\S]*?)"""|\'\'\'([\s\S]*?)\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r"|(?<![\w\"'])#(?!\s*(?:include|define|if|ifdef|ifndef|endif|else|pragma|undef)\b)([^\n]*)"
    r"|//([^\n]*)|/\*([\s\S]*?)\*/"
)
_FENCED = re.compile(r"^[ \t]*(```+|~~~+)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.M | re.S)
_STAR = re.compile(r"^[ \t]*\*+[ \t]?", re.M)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Instructions that say nothing about the task: the statement is then in the code's comments
_GENERIC = re.compile(r"^\W*(?:please\s+)?(?:write|give|show|generate|implement|create|complete|here is)\b.{0,40}"
                      r"\b(?:code|program|function|snippet|script)\W*$", re.I | re.S)


def comments(code: str) -> str:
    """The prose of code: its docstrings and comments, in order, one line each."""
    parts = []
    for m in _COMMENT.finditer(code):
        text = next((g for g in m.groups() if g is not None), None)
        if text is None:  # a string
            continue
        text = _STAR.sub("", text).strip()
        if text:
            parts.append(" ".join(text.split()))
    return "\n".join(parts)


def statement_text(instruction: str, code: str, prose: str | None = None) -> str:
    """What a sample asks: its instruction (fenced code removed; nothing when it is generic) and
    the prose of its code (`prose`, when the caller has read it already)."""
    asked = _FENCED.sub(" ", instruction).strip()
    if _GENERIC.match(asked):
        asked = ""
    if prose is None:
        prose = comments(code) if code else ""
    return "\n".join(x for x in (asked, prose) if x)


def _words(m: re.Match) -> str:
    return _CAMEL.sub(" ", m.group()).replace("_", " ")


def code_text(code: str) -> str:
    """Code for a sentence embedding model: identifiers split into words, whitespace folded."""
    return " ".join(_IDENT.sub(_words, code).split())


# A quoted string is read whole, from its opening quote to its closing one, short or long, so that
# the quotes of a dict display `{'a': 1, 'b': 2}` pair up as they do in the code (a pattern that
# skipped short strings read `': 1, '` as a literal); a quote after a letter is an apostrophe
# (don't) or a string prefix, not an opening one. Numbers are read outside strings.
_LITERAL = re.compile(r"""(?<![\w'"])(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)")|\b(\d+(?:\.\d+)?)\b""")
_ALNUM = re.compile(r"[^\W_]")
_LIST_MARKER = re.compile(r"^[ \t]*\d+[.)][ \t]", re.M)  # "3. Suggestions": a numbered list's item, no literal
_COMMON_LITERALS = frozenset(("0", "1", "2", "10", "100", "0.0", "1.0"))
_WORD = re.compile(r"[A-Za-z][a-z0-9]*|[A-Z]+(?![a-z])")


def literals(text: str) -> frozenset[str]:
    """Distinctive literals (numbers other than the commonest, quoted strings): a rewrite keeps a
    problem's examples (`13195 -> 29`), a different task on the same topic has its own."""
    out = set()
    for single, double, number in _LITERAL.findall(_LIST_MARKER.sub(" ", text)):
        if number:
            out.add(number)
        elif 2 <= len(s := single or double) <= 40 and _ALNUM.search(s):  # not a separator like ', '
            out.add(s)
    return frozenset(out) - _COMMON_LITERALS


def name_words(text: str) -> frozenset[str]:
    """Lower-cased words of every identifier (snake_case and camelCase split)."""
    return frozenset(w.lower() for w in _WORD.findall(text.replace("_", " ")))


def shared_literals(sample: frozenset[str], problem: frozenset[str]) -> float:
    """0..1: three shared distinctive literals or more is 1."""
    return min(1.0, len(sample & problem) / 3)


# a function definition's parameter list: Python `def f(...)`, JavaScript `function f(...)` or
# `f = (...) =>`, C `type f(...) {`
_SIGNATURE = re.compile(r"\bdef\s+\w+\s*\(([^)]*)\)|\bfunction\b\s*\w*\s*\(([^)]*)\)|=\s*\(([^)]*)\)\s*=>"
                        r"|^[ \t]*(?:[A-Za-z_][\w\s\*]*\s\**)\w+\s*\(([^)]*)\)\s*\{", re.M)
_BRACKETED = re.compile(r"\[[^\[\]]*\]|<[^<>]*>")


def arities(code: str) -> frozenset[int]:
    """How many parameters each function of the code takes: a rewrite renames a function's
    parameters but keeps their number; a task on the same topic often takes others."""
    out = set()
    for m in _SIGNATURE.finditer(code):
        params = next(g for g in m.groups() if g is not None)
        while _BRACKETED.search(params):  # `List[Tuple[int, int]]` is one parameter
            params = _BRACKETED.sub("", params)
        params = params.strip()
        out.add(0 if params in ("", "void") else params.count(",") + 1)
    return frozenset(out)


_PROSE_WORD = re.compile(r"[a-z]{3,}")


def prose_words(text: str) -> frozenset[str]:
    """Lower-cased words of three letters or more."""
    return frozenset(_PROSE_WORD.findall(text.lower()))


def rarity(documents: list[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over the benchmark problems' statements: `list` or
    `return` is in many problems and says little, `fib4` or `roman` names one."""
    df = Counter(w for d in documents for w in d)
    n = len(documents)
    return {w: math.log((n + 1) / (c + 1)) for w, c in df.items()}


def rare_overlap(sample: frozenset[str], problem: frozenset[str], idf: dict[str, float]) -> float:
    """0..1: the share of a problem's statement, weighted by rarity, that the sample's statement
    repeats. A reworded docstring keeps the problem's rare words; an exercise on the same topic
    shares only the topic's common ones."""
    total = sum(idf.get(w, 0.0) for w in problem)
    return sum(idf.get(w, 0.0) for w in sample & problem) / total if total else 0.0


def specificity(n_tokens: int) -> float:
    """How much a structural or code match with a solution of n normalized tokens says, 0..1:
    `return len(s)` (5 tokens) almost nothing, a 60-token algorithm a lot."""
    return min(1.0, math.log1p(n_tokens) / math.log1p(60))


FEATURES = ("statement", "code", "statement_margin", "code_margin", "structure", "literals", "specificity",
            "structure_x_specificity", "name", "rare_words", "arity")


def features(statement: float, code: float, statement_margin: float, code_margin: float, structure: float,
             shared: float, spec: float, name: float, rare: float, arity: float) -> list[float]:
    """The model's inputs for one candidate. Margins are the candidate's score less the best score
    of any other benchmark problem: a sample on a topic resembles several problems, a copy of one
    problem resembles that one."""
    return [statement, code, statement_margin, code_margin, structure, shared, spec, structure * spec, name, rare, arity]


@dataclass(frozen=True)
class Calibration:
    """A logistic model over FEATURES; a candidate is contaminated when its probability reaches
    `threshold`."""

    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Calibration:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: features {data['features']} are not {list(FEATURES)}")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data.get("threshold", 0.5)))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The model's logit of each row of inputs."""
        return self.bias + x @ np.asarray(self.weights)

    def probability(self, x: list[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
