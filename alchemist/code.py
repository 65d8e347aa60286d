"""Finding code in model-facing text: fenced blocks, bare code, and which language it is."""

from __future__ import annotations

import bisect
import re
import symtable
import textwrap
import warnings
from collections import defaultdict

# Fence tags and file extensions -> canonical language names.
LANGUAGE_ALIASES = {
    "python": "python", "py": "python", "python3": "python", "py3": "python", "ipython": "python",
    "javascript": "javascript", "js": "javascript", "jsx": "javascript", "node": "javascript", "mjs": "javascript",
    "typescript": "typescript", "ts": "typescript", "tsx": "typescript",
    "java": "java", "kotlin": "kotlin", "kt": "kotlin", "scala": "scala", "groovy": "groovy",
    "c": "c", "h": "c", "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp",
    "csharp": "csharp", "c#": "csharp", "cs": "csharp",
    "go": "go", "golang": "go", "rust": "rust", "rs": "rust", "swift": "swift",
    "ruby": "ruby", "rb": "ruby", "php": "php", "perl": "perl", "pl": "perl", "lua": "lua",
    "r": "r", "julia": "julia", "jl": "julia", "haskell": "haskell", "hs": "haskell",
    "sql": "sql", "mysql": "sql", "postgresql": "sql", "sqlite": "sql", "plsql": "sql",
    "bash": "shell", "sh": "shell", "shell": "shell", "zsh": "shell", "console": "shell", "powershell": "powershell",
    "ps1": "powershell", "html": "html", "htm": "html", "xml": "xml", "css": "css", "scss": "css",
    "json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "dockerfile": "dockerfile",
    "matlab": "matlab", "m": "matlab", "dart": "dart", "elixir": "elixir", "ex": "elixir", "erlang": "erlang",
    "fortran": "fortran", "f90": "fortran", "vb": "vb", "vbnet": "vb", "assembly": "assembly", "asm": "assembly",
    "solidity": "solidity", "sol": "solidity", "verilog": "verilog", "v": "verilog", "vhdl": "vhdl",
}
# Languages where "is there code?" is not answered by their presence alone.
NOT_CODE = {"json", "yaml", "toml", "text", "txt", "plaintext", "markdown", "md", "output", "csv"}

# What a fenced block is, as regexes: the specification `fenced_blocks` follows. Not run on
# answers: they search for a closing line from every opening one (quadratic).
FENCE_RE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
UNCLOSED_FENCE_RE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*\n(.*)\Z", re.M | re.S)

_FENCE_LINE = re.compile(r"[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)")
_CLOSING_LINE = re.compile(r"[ \t]*(```+|~~~+)[ \t]*")
_TAG = re.compile(r"[ \t]*([\w+#.-]*)")


def fenced_blocks(text: str) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
    """(language tag, body) of each closed fence, as `FENCE_RE.finditer` finds them, and the first
    unclosed one as `UNCLOSED_FENCE_RE` would, in O(n log n) (curate, relabel and the evaluation's
    sanitizer read answers with it): those regexes look for a closing
    line from every opening one, so an answer of many unclosed fences cost minutes (20,000 of them:
    8 minutes). Here each opening line finds its closing line (the same marker alone on a line) by
    bisection in the list of such lines."""
    lines = text.split("\n")
    starts, at = [], 0  # the offset of each line
    for line in lines:
        starts.append(at)
        at += len(line) + 1
    closers: dict[tuple[str, int], list[int]] = defaultdict(list)  # (fence character, length) -> lines
    for i, line in enumerate(lines):
        m = _CLOSING_LINE.fullmatch(line)
        if m:
            closers[m.group(1)[0], len(m.group(1))].append(i)
    lengths: dict[str, list[int]] = defaultdict(list)  # the closers' lengths per character, longest first
    for char, length in sorted(closers, key=lambda key: -key[1]):
        lengths[char].append(length)
    blocks, unclosed, i = [], None, 0
    while i < len(lines) - 1:  # an opening line ends with a newline
        m = _FENCE_LINE.match(lines[i])
        if m is None:
            i += 1
            continue
        marker, j = m.group(1), None
        # as the regex backtracks: ```` may open a ``` block (only the closers' lengths are tried:
        # each of a 200,000-backtick line's prefixes would cost as much as the line)
        for length in (n for n in lengths[marker[0]] if n <= len(marker)):
            after = closers[marker[0], length]
            k = bisect.bisect_right(after, i)
            if k < len(after):
                j = after[k]
                break
        if j is not None:
            tag = _TAG.match(lines[i], m.start(1) + length).group(1)
            blocks.append((tag, text[starts[i + 1]:starts[j]]))
            i = j + 1
        else:
            unclosed = unclosed or (m.group(2), text[starts[i + 1]:])
            i += 1
    if unclosed is None and blocks:  # what UNCLOSED_FENCE_RE.search finds: the first opening line
        first = next(i for i in range(len(lines) - 1) if _FENCE_LINE.match(lines[i]))
        m = _FENCE_LINE.match(lines[first])
        unclosed = (m.group(2), text[starts[first + 1]:])
    return blocks, unclosed


# Scored cues for unfenced code; each language's score is the number of lines matching its cues.
_CUES = {
    "python": re.compile(r"^\s*(def \w+\(.*\).*:|class \w+.*:|import \w+|from [\w.]+ import |if __name__ ==|print\s*[(\"']|elif .*:|for \w+(, ?\w+)* in .*:|while .*:|return\b|with .* as \w+:|try:|except\b.*:|self\.\w+)"),
    "javascript": re.compile(r"^\s*(function\s+\w*\s*\(|const \w+ ?=|let \w+ ?=|var \w+ ?=|console\.log\(|module\.exports|=> ?\{|document\.|export (default )?(function|const|class))"),
    "java": re.compile(r"^\s*((public |private |protected )(static )?(class|void|int|String|boolean|[A-Z]\w*(<.*>)?) |System\.out\.print|import java\.|@Override)"),
    "cpp": re.compile(r"^\s*(#include\s*[<\"]|std::|using namespace std|int main\s*\(|cout\s*<<|template\s*<)"),
    "c": re.compile(r"^\s*(#include\s*<(stdio|stdlib|string)\.h>|printf\(|scanf\(|malloc\()"),
    "go": re.compile(r"^\s*(package \w+$|func (\(\w+ \*?\w+\) )?\w+\(|fmt\.\w+\(|\w+(, \w+)* := )"),
    "rust": re.compile(r"^\s*(fn \w+\(|let mut |impl\b|use std::|println!\(|pub fn |match .* \{)"),
    "sql": re.compile(r"^\s*(SELECT\b|INSERT INTO\b|UPDATE \w+ SET\b|DELETE FROM\b|CREATE TABLE\b|ALTER TABLE\b|FROM \w+|WHERE\b|GROUP BY\b|ORDER BY\b)", re.I),
    "shell": re.compile(r"^\s*(#!/bin/(ba)?sh|\$ \w+|sudo |apt(-get)? install|pip install|echo \$|export \w+=)"),
    "html": re.compile(r"^\s*<(!DOCTYPE|html|head|body|div|span|p|a|script|style)\b", re.I),
    "csharp": re.compile(r"^\s*(using System|namespace \w+|Console\.Write(Line)?\()"),
    "php": re.compile(r"^\s*(<\?php|\$\w+ ?= |echo [\"$])"),
    "ruby": re.compile(r"^\s*(puts |def \w+[^:(]*$|end$|require ['\"])"),
}
# Lines that look like code in any language (used to decide whether bare text is code at all).
_GENERIC_CODE_LINE = re.compile(r"\s*[#@]?\w[\w.]*\s*(\(.*\)|=[^=].*|\[.*\]\s*=.*)\s*;?\s*$|\s*[})\]]|\s*(#|//|/\*|\*)|\s{2,}\S")


def normalize_language(tag: str | None) -> str | None:
    if not tag:
        return None
    tag = tag.strip().lower().lstrip(".")
    if tag in NOT_CODE:
        return None
    return LANGUAGE_ALIASES.get(tag)


# Every cue is anchored at the start of a line: one `match` per line tries them all.
_ALL_CUES = re.compile("|".join(f"(?P<{lang}>{cue.pattern})" if not cue.flags & re.I else f"(?P<{lang}>(?i:{cue.pattern}))"
                                for lang, cue in _CUES.items()))
_MAX_LINES = 60  # the first 60 lines tell the language and whether it is code


def _scan(text: str) -> tuple[dict[str, int], int, int]:
    """One pass over the lines: cue matches per language, code-like lines, non-empty lines."""
    scores = dict.fromkeys(_CUES, 0)
    codeish = nonempty = 0
    match, generic = _ALL_CUES.match, _GENERIC_CODE_LINE.match
    for line in text.split("\n", _MAX_LINES)[:_MAX_LINES]:
        if not line or line.isspace():
            continue
        nonempty += 1
        m = match(line)
        if m:
            scores[m.lastgroup] += 1
            codeish += 1
        elif generic(line) or line.rstrip()[-1:] in ("{", "}", ";"):
            codeish += 1
    return scores, codeish, nonempty


def _best(scores: dict[str, int]) -> str | None:
    best = max(scores, key=scores.get)
    if scores[best] == 0:
        return None
    # `def f(x):` is Python even when a `return` also matched Ruby's cues
    if best == "ruby" and scores["python"] >= scores["ruby"]:
        return "python"
    if best == "c" and scores["cpp"] > 0:
        return "cpp"
    return best


def guess_language(code: str) -> str | None:
    """Language of unlabelled code by counting lines that match each language's cues."""
    return _best(_scan(code)[0])


def _bare_code(text: str) -> tuple[bool, str | None]:
    """(is the text mostly code, its language): at least half its non-empty lines look like code
    (the first _MAX_LINES lines decide)."""
    scores, codeish, nonempty = _scan(text)
    language = _best(scores)
    if nonempty == 0 or (nonempty < 2 and language is None):
        return False, None
    return codeish * 2 >= nonempty, language


def looks_like_code(text: str) -> bool:
    return _bare_code(text)[0]


def extract_code_blocks(text: str) -> list[tuple[str | None, str]]:
    """(language, code) for each fenced block; bare text that is mostly code is one block."""
    closed, unclosed = fenced_blocks(text)
    blocks = [(normalize_language(tag) or guess_language(body), body) for tag, body in closed]
    if blocks:
        return [b for b in blocks if b[1].strip()]
    if unclosed and unclosed[1].strip():  # an answer cut off before its closing fence
        return [(normalize_language(unclosed[0]) or guess_language(unclosed[1]), unclosed[1])]
    is_code, language = _bare_code(text)
    return [(language, text)] if is_code else []


def detect_language(*texts: str) -> str | None:
    """The main programming language of a sample: its first code block's, else cues in the text."""
    for text in texts:
        for lang, _ in extract_code_blocks(text or ""):
            if lang:
                return lang
    return None


_NOTEBOOK_LINE = re.compile(r"^[!%]")


# Errors raised after the source parsed fine: a snippet may declare `nonlocal` at its top level.
_NOT_SYNTAX = ("not allowed at module level", "no binding for nonlocal", "is parameter and global",
               "is parameter and nonlocal", "used prior to global declaration", "assigned to before global declaration",
               "used prior to nonlocal declaration", "assigned to before nonlocal declaration")


def _parses(src: str) -> bool:
    # The parser plus the symbol table pass: half the cost of compile() or ast.parse (no
    # bytecode, no Python AST objects), and the same syntax errors. Code generation's own checks
    # (`return` outside a function) are not syntax: snippets often are function bodies.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and friends: valid, but warned about
            symtable.symtable(src, "<snippet>", "exec")
        return True
    except SyntaxError as e:
        return any(marker in (e.msg or "") for marker in _NOT_SYNTAX)
    except (ValueError, MemoryError, RecursionError, OverflowError):
        return False


def python_parses(code: str) -> bool:
    """Whether a Python snippet parses. Snippets are often indented or carry notebook magics."""
    if code.lstrip().startswith(">>>"):
        return True  # an interactive session transcript, not a program
    if _parses(code):
        return True
    src = textwrap.dedent(code) if code[:1] in (" ", "\t") else code
    if src is not code and _parses(src):
        return True
    if "!" in src or "%" in src:  # `!pip install x`, `%matplotlib inline` at the start of a line
        return _parses("\n".join("" if _NOTEBOOK_LINE.match(line) else line for line in src.splitlines()))
    return False
