"""Brace matching for C-like code (C++, Java, JavaScript, Go, Rust), skipping strings, chars and
comments: where a function that a prompt opens is closed, what a function's body is. Our own
because the field's sanitizers (evalplus') parse Python only; CodeGeeX and MultiPL-E cut
completions at stop strings, which a chat answer does not respect."""

from __future__ import annotations

import re


def skip(code: str, i: int) -> int:
    """The index after a string, char or comment that starts at i (i itself when none does)."""
    two = code[i:i + 2]
    if two == "//":
        end = code.find("\n", i)
        return len(code) if end < 0 else end
    if two == "/*":
        end = code.find("*/", i + 2)
        return len(code) if end < 0 else end + 2
    if code[i] in "\"'`":
        quote, j = code[i], i + 1
        while j < len(code) and code[j] != quote and not (quote == "'" and code[j] == "\n"):
            j += 2 if code[j] == "\\" else 1
        return j + 1
    return i


def close_at_depth(code: str, depth: int) -> int | None:
    """Where the braces opened before `code` (depth of them) are all closed: the index after the
    closing brace, or None."""
    i = 0
    while i < len(code):
        j = skip(code, i)
        if j != i:
            i = j
            continue
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def depth(code: str) -> int:
    """Braces opened and not closed in `code`."""
    level, i = 0, 0
    while i < len(code):
        j = skip(code, i)
        if j != i:
            i = j
            continue
        level += {"{": 1, "}": -1}.get(code[i], 0)
        i += 1
    return level


def body_of(code: str, start: int) -> str | None:
    """What lies between the first `{` at or after `start` and its matching `}`."""
    brace = code.find("{", start)
    if brace < 0:
        return None
    end = close_at_depth(code[brace + 1:], 1)
    return None if end is None else code[brace + 1:brace + end]


def remove_item(code: str, pattern: str) -> str:
    """`code` without the brace-delimited item (a main function, a Main class) that `pattern` starts."""
    m = re.search(pattern, code, re.M)
    if not m:
        return code
    brace = code.find("{", m.end())
    end = close_at_depth(code[brace + 1:], 1) if brace >= 0 else None
    return code if end is None else code[:m.start()] + code[brace + 1 + end:]
