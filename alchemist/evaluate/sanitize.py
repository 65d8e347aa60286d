"""Code out of a raw model answer: the fenced block (or bare text) that defines the entry point,
reduced to imports, definitions and top-level assignments. Example calls, prints, asserts and
`if __name__ == "__main__":` blocks are dropped: they would run, or fail, before the tests."""

from __future__ import annotations

import ast

from alchemist.code import FENCE_RE, UNCLOSED_FENCE_RE


def _candidates(text: str) -> list[str]:
    blocks = [m.group(3) for m in FENCE_RE.finditer(text)]
    if not blocks:
        unclosed = UNCLOSED_FENCE_RE.search(text)
        blocks = [unclosed.group(3)] if unclosed else []
    return blocks or [text]


def _parse_prefix(code: str) -> ast.Module | None:
    """The longest prefix of whole lines that parses (answers are often cut off mid-line)."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except (SyntaxError, ValueError):
            continue
    return None


def sanitize(text: str, entry_point: str | None = None) -> str:
    blocks = _candidates(text)
    if entry_point:
        defining = [b for b in blocks if f"def {entry_point}" in b]
        blocks = defining or blocks
    kept_blocks = []
    for block in blocks:
        tree = _parse_prefix(block)
        if tree is None:
            continue
        body = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                                                 ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
                                                                 ast.AnnAssign))]
        if body:
            kept_blocks.append("\n\n".join(ast.get_source_segment("\n".join(block.splitlines()), node) or ast.unparse(node)
                                           for node in body))
    if not kept_blocks:
        return text.strip()
    return "\n\n".join(kept_blocks) + "\n"
