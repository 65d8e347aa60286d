"""The structure signal: code compared as a renaming- and formatting-invariant token stream.

A copy of a benchmark solution that an LLM rewrote (new function and variable names, another
layout, comments and docstring replaced, a loop or two restructured) keeps its *shape*: the
sequence of keywords, operators, calls of well-known functions and literal kinds. So code is
turned into a stream of normalized tokens: user identifiers become `ID`, string literals `STR`,
numbers `NUM` (0, 1 and 2 kept), comments and docstrings dropped, and the spellings of other
languages folded into Python's (`function`/`func`/`fn` -> `def`, `&&` -> `and`, `===` -> `==`,
`null`/`nil` -> `None`, `.length` -> `len`, `.push` -> `append`, type names and `;{}` dropped).

Comparison is MOSS/Dolos style: k-grams of the stream are hashed and *winnowed* (the minimum
hash of every window of w consecutive k-grams is kept), which guarantees that any common run of
w + k - 1 tokens shares a fingerprint. Fingerprints that many benchmark problems share
(boilerplate like `def ID ( ID ) : return`) are dropped. Problems sharing enough fingerprints
with a sample are shortlisted; each is then scored by a sequence edit distance (rapidfuzz's
Indel alignment, best-matching window) between the problem's stream and the sample's.

The tokenizer is one regex for every language, not tree-sitter or pygments: it runs at C speed
on every sample of the corpus (pygments' lexers are pure-Python state machines, tree-sitter needs
one compiled grammar per language), it handles Python, JavaScript/TypeScript, C/C++, Java, Go,
Rust and C# alike, and an abstracted token stream is what the comparison needs: a parse tree of a
snippet that does not parse (common in instruction data) would be no tree at all.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from alchemist.rules.hashing import DOCSTRING_RE, window_hashes

K = 6  # tokens per k-gram
W = 4  # winnowing window: every common run of W + K - 1 = 9 tokens shares a fingerprint
MIN_TOKENS = 16  # shorter solutions are idioms (`return sorted(set(l))`), not evidence
COMMON_SHARE = 0.05  # fingerprints in more than this share of the problems are boilerplate

_TOKEN = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\''  # triple-quoted strings (docstrings): dropped
    r"|#[^\n]*|//[^\n]*|/\*[\s\S]*?\*/"  # comments: dropped (a `#include` goes too, harmlessly)
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`'  # strings
    r"|0[xXbBoO][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?[fFlLuU]*|\.\d+"  # numbers
    r"|[A-Za-z_$][\w$]*"  # words
    r"|===|!==|\*\*=|//=|>>=|<<=|->|=>|==|!=|<=|>=|&&|\|\||\+\+|--|\+=|-=|\*=|/=|%=|&=|\|=|\^=|<<|>>|\*\*|::"
    r"|[^\s\w]"  # any other punctuation, one character
)
_DROP = frozenset(";{}:()")  # braces, and parentheses JavaScript needs around every condition
_CANON = {
    # definitions and control flow
    "function": "def", "func": "def", "fn": "def", "fun": "def", "lambda": "lambda",
    "elif": "elif", "elsif": "elif", "switch": "if", "case": "if",
    "foreach": "for", "loop": "for", "do": "for", "while": "for", "of": "in",  # any loop is a loop
    "catch": "except", "rescue": "except", "throw": "raise", "throws": "", "yield": "yield",
    "null": "None", "nil": "None", "NULL": "None", "nullptr": "None", "undefined": "None", "None": "None",
    "true": "True", "false": "False", "True": "True", "False": "False",
    "this": "self", "self": "self",
    "&&": "and", "||": "or", "!": "not", "===": "==", "!==": "!=", "=>": "", "->": "",
    "++": "+=1", "--": "-=1",
    # spellings of Python's builtins and list methods
    "length": "len", "size": "len", "len": "len", "count": "count", "push": "append", "push_back": "append",
    "add": "append", "append": "append", "floor": "int", "parseInt": "int", "parseFloat": "float",
    "toString": "str", "String": "str", "abs": "abs", "Abs": "abs", "fabs": "abs", "sqrt": "sqrt",
    "max": "max", "min": "min", "Max": "max", "Min": "min", "sort": "sorted", "sorted": "sorted",
    "reverse": "reversed", "reversed": "reversed", "includes": "in", "contains": "in", "indexOf": "index",
    "join": "join", "split": "split", "map": "map", "filter": "filter", "reduce": "reduce", "pow": "pow",
    "toLowerCase": "lower", "toUpperCase": "upper", "lower": "lower", "upper": "upper", "tolower": "lower",
    "toupper": "upper", "substring": "slice", "slice": "slice", "substr": "slice", "charAt": "index",
    "keys": "keys", "values": "values", "items": "items", "entries": "items", "trim": "strip", "strip": "strip",
    "startsWith": "startswith", "endsWith": "endswith", "startswith": "startswith", "endswith": "endswith",
    "replace": "replace", "isdigit": "isdigit", "isalpha": "isalpha", "sum": "sum", "range": "range",
    "enumerate": "enumerate", "zip": "zip", "set": "set", "Set": "set", "dict": "dict", "Map": "dict",
    "list": "list", "Array": "list", "vector": "list", "tuple": "tuple", "ord": "ord", "chr": "chr",
    "charCodeAt": "ord", "fromCharCode": "chr", "isinstance": "isinstance", "any": "any", "all": "all",
    "some": "any", "every": "all", "round": "round", "str": "str", "int": "int", "float": "float",
    "bool": "bool", "print": "print", "console": "", "log": "print", "printf": "print", "println": "print",
    "insert": "insert", "pop": "pop", "remove": "remove", "extend": "extend", "concat": "extend",
    "math": "", "Math": "", "std": "", "strings": "", "fmt": "",
}
_KEYWORDS = frozenset(
    "def class return if else for while in not and or is break continue pass try finally with as "
    "import from global nonlocal assert del raise new await async of typeof instanceof".split()
)
# declarations and types: the same program in Python has none of them
_NOISE = frozenset(
    "let var const auto static public private protected final void int32 int64 uint long short char double "
    "boolean unsigned signed struct interface type mut pub impl usize isize i32 i64 u32 u64 f32 f64 "
    "string String Integer Boolean Double Float Object number any readonly export default package "
    "extends implements override virtual inline template typename".split()
)
# Python type annotations (`xs: List[int]`, `-> bool`): a rewrite drops or changes them freely
_DEF = re.compile(r"^([ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*)\(([^()]*(?:\([^()]*\)[^()]*)*)\)[ \t]*(?:->[^:\n]*)?:", re.M)
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_ANNOTATION = re.compile(r":[ \t]*[\w.|]+(?:[ \t]*\|[ \t]*[\w.]+)*")


def _strip_annotations(m: re.Match) -> str:
    args = m.group(2)
    while "[" in args:
        stripped = _BRACKETS.sub("", args)
        if stripped == args:
            break
        args = stripped
    return f"{m.group(1)}({_ANNOTATION.sub('', args)}):"
_ids: dict[str, int] = {}  # a cache only: a token's id comes from its bytes


def _tid(token: str) -> int:
    # The same in every process: Ray and Slurm workers are fresh interpreters, not forks of the
    # one that built the benchmark index, so ids handed out in order of first sight would differ.
    # Kept under 0xF0000 so that `_as_text` can spell a stream one character per token.
    i = _ids.get(token)
    if i is None:
        i = _ids[token] = 1 + zlib.crc32(token.encode("utf-8", "surrogatepass")) % 0xF0000
    return i


def tokens(code: str) -> list[str]:
    """The normalized token stream of `code` (any language)."""
    out = []
    if "def" in code:
        code = _DEF.sub(_strip_annotations, code)
    for m in _TOKEN.finditer(code):
        t = m.group()
        c = t[0]
        if c in "#/" and (t.startswith(("#", "//", "/*"))):
            continue
        if c in "\"'`":
            if t.startswith(('"""', "'''")):
                continue
            out.append("STR")
        elif c.isdigit() or (c == "." and len(t) > 1):
            out.append(t if t in ("0", "1", "2") else "NUM")
        elif c.isalpha() or c in "_$":
            if t in _NOISE:
                continue
            canon = _CANON.get(t)
            if canon is not None:
                if canon:
                    out.append(canon)
            elif t in _KEYWORDS:
                out.append(t)
            else:
                out.append("ID")
        elif t in _DROP:
            continue
        else:
            canon = _CANON.get(t)
            if canon is None:
                out.append(t)
            elif canon:
                out.append(canon)
    return out


def stream(code: str) -> np.ndarray:
    """Token ids of the normalized stream (ids from the tokens' bytes, so streams compare across processes)."""
    return np.fromiter((_tid(t) for t in tokens(code)), dtype=np.uint64)


def kgram_hashes(ids: np.ndarray, k: int = K) -> np.ndarray:
    return window_hashes(ids * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1), [k]) if len(ids) >= k else np.empty(0, np.uint64)


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """The minimum hash of every window of w consecutive k-gram hashes (MOSS's winnowing)."""
    if len(hashes) <= w:
        return np.unique(hashes)
    return np.unique(np.lib.stride_tricks.sliding_window_view(hashes, w).min(axis=1))


def fingerprints(code: str) -> np.ndarray:
    return winnow(kgram_hashes(stream(code)))


def as_text(ids: np.ndarray) -> str:
    """A token stream as a string, one character per token, for rapidfuzz's C alignment."""
    return "".join(map(chr, (0x100 + ids.astype(np.int64)).tolist()))


@dataclass(slots=True)
class StructureHit:
    task_id: str
    score: float  # edit similarity of the problem's stream to its best-aligned window in the sample
    shared: float  # share of the problem's fingerprints found in the sample


class StructureIndex:
    """Winnowed fingerprints of every benchmark solution (signature + reference code, docstring
    dropped) and the token streams the edit distance compares."""

    def __init__(self, problems, min_shared: float = 0.25, shortlist: int = 3, min_tokens: int = MIN_TOKENS):
        self.min_shared = min_shared
        self.shortlist = shortlist
        self.task_ids: list[str] = []
        self.texts: list[str] = []
        self.sizes: list[int] = []
        prints = []
        for p in problems:
            if not p.solution:
                continue
            code = DOCSTRING_RE.sub(" ", p.prompt) + "\n" + p.solution
            ids = stream(code)
            if len(ids) < min_tokens:
                continue
            self.task_ids.append(p.task_id)
            self.texts.append(as_text(ids))
            prints.append(winnow(kgram_hashes(ids)))
        df: dict[int, int] = {}
        for fp in prints:
            for h in fp.tolist():
                df[h] = df.get(h, 0) + 1
        limit = max(2, int(COMMON_SHARE * len(prints)))
        self.index: dict[int, list[int]] = {}
        for pid, fp in enumerate(prints):
            kept = [h for h in fp.tolist() if df[h] <= limit]
            self.sizes.append(len(kept))
            for h in kept:
                self.index.setdefault(h, []).append(pid)

    def hits(self, code: str, min_score: float = 0.0) -> list[StructureHit]:
        """Shortlisted problems scored by edit similarity, best first; those under min_score left out."""
        if not self.index or not code:
            return []
        ids = stream(code)
        if len(ids) < K:
            return []
        counts: dict[int, int] = {}
        index = self.index
        for h in winnow(kgram_hashes(ids)).tolist():
            for pid in index.get(h, ()):
                counts[pid] = counts.get(pid, 0) + 1
        if not counts:
            return []
        shortlist = sorted(((c / self.sizes[pid], pid) for pid, c in counts.items() if self.sizes[pid]), reverse=True)
        shortlist = [(s, pid) for s, pid in shortlist[: self.shortlist] if s >= self.min_shared]
        if not shortlist:
            return []
        from rapidfuzz import fuzz

        text = as_text(ids)
        out = []
        for shared, pid in shortlist:
            problem = self.texts[pid]
            # the sample's best-aligned window; a sample shorter than the problem (maybe a fragment
            # of it: a common idiom) is compared whole, so its length difference counts
            partial = len(text) >= len(problem)
            score = (fuzz.partial_ratio(problem, text) if partial else fuzz.ratio(problem, text)) / 100
            if score >= min_score:
                out.append(StructureHit(self.task_ids[pid], round(score, 3), round(shared, 3)))
        return sorted(out, key=lambda h: -h.score)
