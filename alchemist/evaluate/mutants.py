"""Wrong programs made from right ones, to test a harness: one small change each (an operator
swapped, a constant off by one, a wrong return, a sort dropped or reversed, a result rounded).
Deterministic: the same program gives the same mutants in the same order."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

_BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
                ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_CMP_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
              ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In}
KINDS = ("operator", "off_by_one", "wrong_return", "sorting", "rounding")


def _sites(tree: ast.Module) -> list[tuple[str, int]]:
    """(kind, index of the node in ast.walk order) for every place a mutation can go."""
    out = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            out.append(("operator", i))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _CMP_SWAPS:
            out.append(("operator", i))
        elif isinstance(node, ast.BoolOp):
            out.append(("operator", i))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append(("off_by_one", i))
        elif isinstance(node, ast.Return) and node.value is not None:
            out.append(("wrong_return", i))
            out.append(("rounding", i))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sorted" and node.args:
            out.append(("sorting", i))
    return out


def _mutate(tree: ast.Module, kind: str, index: int) -> ast.Module | None:
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    if kind == "operator":
        if isinstance(node, ast.BinOp):
            node.op = _BINOP_SWAPS[type(node.op)]()
        elif isinstance(node, ast.Compare):
            node.ops[0] = _CMP_SWAPS[type(node.ops[0])]()
        else:
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "off_by_one":
        node.value += 1
    elif kind == "wrong_return":
        node.value = ast.Constant(None)
    elif kind == "rounding":
        node.value = ast.Call(ast.Name("round", ast.Load()), [node.value, ast.Constant(1)], [])
    elif kind == "sorting":
        if node.keywords:  # sorted(x, key=...) -> unsorted list(x)
            node.func = ast.Name("list", ast.Load())
            node.keywords = []
        else:
            node.keywords = [ast.keyword("reverse", ast.Constant(True))]
    return ast.fix_missing_locations(tree)


def mutants(program: str, limit: int = 4) -> Iterator[tuple[str, str]]:
    """Up to `limit` (kind, program) mutants, taking each kind in turn, no two alike and none
    equal to the original text."""
    tree = ast.parse(program)
    original = ast.unparse(tree)
    by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
    for kind, i in _sites(tree):
        by_kind[kind].append(i)
    seen = {original}
    made = 0
    while made < limit and any(by_kind.values()):
        for kind in KINDS:
            if made >= limit or not by_kind[kind]:
                continue
            sites = by_kind[kind]
            index = sites.pop(len(sites) // 2 if len(sites) > 2 else 0)  # a site inside the body, not the first line
            mutated = _mutate(tree, kind, index)
            if mutated is None:
                continue
            text = ast.unparse(mutated)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            yield kind, text
