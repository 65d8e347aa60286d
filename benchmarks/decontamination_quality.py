"""Decontamination quality: recall on benchmark problems rewritten by rules, false positives on
clean look-alikes, per signal and for the combined decision.

    python benchmarks/decontamination_quality.py [--signals ngram,structure,embedding]

The evaluation set is built here from HumanEval (MBPP cannot be had offline), by rules:
- renamed: every function, argument and local renamed, reformatted (ast.unparse), docstring
  replaced by an instruction that paraphrases it by templates and a synonym table;
- loops: renamed + `for` loops rewritten as `while` loops;
- reordered: renamed + independent statements swapped, if/else branches swapped under a negated test;
- combined: all of the above at once, with another template;
- question_only: the paraphrased problem statement alone, the answer is prose;
- translated_js: a rule-based Python-to-JavaScript translation of the renamed solution, with the
  paraphrased statement as the instruction;
and clean samples: standard-library functions (as instructions from their docstrings), the same
functions put through the rewrite rules, and Code Alpaca-style tasks on HumanEval's topics.
The labeled set (benchmarks/data/decontamination/labeled.jsonl, written by hand: whole programs
rewritten and translated to JavaScript and C under a generic instruction, rewritten statements,
same-topic hard negatives, clean exercises) is scored apart, on its held-out split:

    python benchmarks/decontamination_quality.py --calibrate   # refit rules/calibration/weights.json

Results go to benchmarks/results/decontamination_quality.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NAMES = ["data", "items", "value", "result", "acc", "current", "tmp", "left", "right", "total", "idx", "pos",
         "elem", "seq", "buf", "out", "cnt", "val", "key", "node", "piece", "word", "entry", "first", "second"]
FUNC_NAMES = ["solve", "compute", "process_input", "calc", "handle", "do_task", "my_func", "evaluate", "answer", "run_it"]

# --------------------------------------------------------------------------- Python rewrites


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        node.returns = None
        self.generic_visit(node)
        return node


def _strip_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def rename(tree, rng):
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    pool = NAMES[:]
    rng.shuffle(pool)
    funcs = FUNC_NAMES[:]
    rng.shuffle(funcs)
    mapping = {}
    for i, name in enumerate(sorted(defined)):
        is_func = any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(tree))
        mapping[name] = (funcs.pop() if funcs else f"f{i}") if is_func else (pool.pop() if pool else f"v{i}") + ("_" * (i % 2))
    return _Renamer(mapping).visit(tree), mapping


def _has(node, kinds):
    return any(isinstance(n, kinds) for n in ast.walk(node))


class _ForToWhile(ast.NodeTransformer):
    def __init__(self):
        self.n = 0

    def visit_For(self, node):
        self.generic_visit(node)
        if node.orelse or _has(node, ast.Continue) or not isinstance(node.target, ast.Name):
            return node
        it = node.iter
        self.n += 1
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and len(it.args) in (1, 2) and not it.keywords:
            start, stop = (ast.Constant(0), it.args[0]) if len(it.args) == 1 else it.args
            var = node.target.id
            init = ast.Assign([ast.Name(var, ast.Store())], start, lineno=0)
            test = ast.Compare(ast.Name(var, ast.Load()), [ast.Lt()], [stop])
            step = ast.AugAssign(ast.Name(var, ast.Store()), ast.Add(), ast.Constant(1))
            return [init, ast.While(test, node.body + [step], [])]
        k = f"k{self.n}"
        seq = f"seq{self.n}"
        return [ast.Assign([ast.Name(seq, ast.Store())], ast.Call(ast.Name("list", ast.Load()), [it], []), lineno=0),
                ast.Assign([ast.Name(k, ast.Store())], ast.Constant(0), lineno=0),
                ast.While(ast.Compare(ast.Name(k, ast.Load()), [ast.Lt()], [ast.Call(ast.Name("len", ast.Load()), [ast.Name(seq, ast.Load())], [])]),
                          [ast.Assign([node.target], ast.Subscript(ast.Name(seq, ast.Load()), ast.Name(k, ast.Load()), ast.Load()), lineno=0)]
                          + node.body + [ast.AugAssign(ast.Name(k, ast.Store()), ast.Add(), ast.Constant(1))], [])]


def _names(node, ctx):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


class _Reorder(ast.NodeTransformer):
    def _body(self, body):
        body = list(body)
        i = 0
        while i + 1 < len(body):
            a, b = body[i], body[i + 1]
            if isinstance(a, (ast.Assign, ast.AugAssign)) and isinstance(b, (ast.Assign, ast.AugAssign)):
                wa, wb = _names(a, ast.Store), _names(b, ast.Store)
                ra, rb = _names(a, ast.Load), _names(b, ast.Load)
                if not (wa & (rb | wb)) and not (wb & ra):
                    body[i], body[i + 1] = b, a
                    i += 2
                    continue
            i += 1
        return body

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse"):
            if isinstance(getattr(node, field, None), list) and getattr(node, field) and isinstance(getattr(node, field)[0], ast.stmt):
                setattr(node, field, self._body(getattr(node, field)))
        if isinstance(node, ast.If) and node.orelse and not (len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)):
            node.test = ast.UnaryOp(ast.Not(), node.test)
            node.body, node.orelse = node.orelse, node.body
        return node


def python_variant(code: str, rng, loops=False, reorder=False):
    tree = _strip_docstrings(ast.parse(code))
    tree, mapping = rename(tree, rng)
    if loops:
        tree = _ForToWhile().visit(tree)
    if reorder:
        tree = _Reorder().visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree), mapping

# --------------------------------------------------------------------------- paraphrase


SYNONYMS = [
    (r"\bGiven\b", "You are given"), (r"\bgiven\b", "provided"), (r"\breturns?\b", "output"), (r"\bReturns?\b", "Output"),
    (r"\blists?\b", "array"), (r"\bstrings?\b", "text"), (r"\bintegers?\b", "whole number"), (r"\bnumbers\b", "values"),
    (r"\bcheck if\b", "determine whether"), (r"\bCheck if\b", "Determine whether"), (r"\bfunction\b", "routine"),
    (r"\bwrite\b", "implement"), (r"\bWrite\b", "Implement"), (r"\bfind\b", "compute"), (r"\bcount\b", "tally"),
    (r"\bpositive\b", "greater-than-zero"), (r"\bcharacters\b", "letters"), (r"\bempty\b", "blank"),
]
TEMPLATES = [
    "Write a Python function that solves this. {desc}{ex}",
    "I need help with a coding task: {desc} Could you write the code?{ex}",
    "Task: {desc}{ex}\nProvide an implementation.",
    "Create a program for the following problem.\n{desc}{ex}",
]


def description(prompt: str) -> tuple[str, list[str]]:
    """The prose of a HumanEval docstring and its example lines."""
    m = re.search(r'("""|\'\'\')([\s\S]*?)\1', prompt)
    doc = m.group(2) if m else ""
    prose, examples = [], []
    for line in doc.splitlines():
        s = line.strip()
        if s.startswith(">>>") or re.match(r"^\w+\(.*\)\s*(==|➞|=>|->|should return)", s):
            examples.append(s.lstrip("> "))
        elif examples and s and not re.match(r"^(For example|Example|Examples|Note)\b", s):
            examples[-1] += " -> " + s
        elif s and not examples:
            prose.append(s)
    return " ".join(prose), examples


def paraphrase(prompt: str, entry: str, new_name: str, rng, template=None) -> str:
    desc, examples = description(prompt)
    for pat, rep in SYNONYMS:
        if rng.random() < 0.8:
            desc = re.sub(pat, rep, desc)
    desc = desc.replace(entry, new_name)
    ex = ""
    if examples and rng.random() < 0.7:
        ex = "\nFor instance: " + "; ".join(e.replace(entry, new_name) for e in examples[:2])
    return (template or rng.choice(TEMPLATES)).format(desc=desc, ex=ex)

# --------------------------------------------------------------------------- Python -> JavaScript


class Untranslatable(Exception):
    pass


_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|",
        ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_CMP = {ast.Eq: "===", ast.NotEq: "!==", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "===", ast.IsNot: "!=="}


class JS:
    def __init__(self):
        self.declared: set[str] = set()

    def expr(self, n) -> str:
        e = self.expr
        if isinstance(n, ast.Constant):
            if n.value is True or n.value is False:
                return "true" if n.value else "false"
            if n.value is None:
                return "null"
            return json.dumps(n.value) if isinstance(n.value, str) else repr(n.value)
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.FloorDiv):
                return f"Math.floor({e(n.left)} / {e(n.right)})"
            if isinstance(n.op, ast.Pow):
                return f"Math.pow({e(n.left)}, {e(n.right)})"
            if type(n.op) in _BIN:
                return f"({e(n.left)} {_BIN[type(n.op)]} {e(n.right)})"
        if isinstance(n, ast.UnaryOp):
            return ("!" if isinstance(n.op, ast.Not) else "-" if isinstance(n.op, ast.USub) else "+") + f"({e(n.operand)})"
        if isinstance(n, ast.BoolOp):
            return "(" + (" && " if isinstance(n.op, ast.And) else " || ").join(e(v) for v in n.values) + ")"
        if isinstance(n, ast.Compare):
            parts, left = [], n.left
            for op, right in zip(n.ops, n.comparators):
                if isinstance(op, ast.In):
                    parts.append(f"{e(right)}.includes({e(left)})")
                elif isinstance(op, ast.NotIn):
                    parts.append(f"!{e(right)}.includes({e(left)})")
                else:
                    parts.append(f"{e(left)} {_CMP[type(op)]} {e(right)}")
                left = right
            return " && ".join(parts)
        if isinstance(n, ast.IfExp):
            return f"({e(n.test)} ? {e(n.body)} : {e(n.orelse)})"
        if isinstance(n, (ast.List, ast.Tuple)):
            return "[" + ", ".join(e(x) for x in n.elts) + "]"
        if isinstance(n, ast.Dict):
            return "{" + ", ".join(f"[{e(k)}]: {e(v)}" for k, v in zip(n.keys, n.values)) + "}"
        if isinstance(n, ast.Subscript):
            if isinstance(n.slice, ast.Slice):
                s = n.slice
                if s.step is not None:
                    if s.lower is None and s.upper is None and isinstance(s.step, ast.UnaryOp):
                        return f"[...{e(n.value)}].reverse()"
                    raise Untranslatable("step slice")
                lo = e(s.lower) if s.lower else "0"
                return f"{e(n.value)}.slice({lo}{', ' + e(s.upper) if s.upper else ''})"
            return f"{e(n.value)}[{e(n.slice)}]"
        if isinstance(n, ast.Attribute):
            return f"{e(n.value)}.{n.attr}"
        if isinstance(n, ast.Lambda):
            return f"(({', '.join(a.arg for a in n.args.args)}) => {e(n.body)})"
        if isinstance(n, (ast.ListComp, ast.GeneratorExp)) and len(n.generators) == 1:
            g = n.generators[0]
            if not isinstance(g.target, ast.Name):
                raise Untranslatable("comprehension target")
            v = g.target.id
            out = f"[...{e(g.iter)}]"
            for c in g.ifs:
                out += f".filter(({v}) => {e(c)})"
            return out + f".map(({v}) => {e(n.elt)})"
        if isinstance(n, ast.Call):
            return self.call(n)
        raise Untranslatable(type(n).__name__)

    def call(self, n) -> str:
        e = self.expr
        args = [e(a) for a in n.args]
        if n.keywords:
            raise Untranslatable("keywords")
        if isinstance(n.func, ast.Name):
            f = n.func.id
            simple = {"abs": "Math.abs", "str": "String", "int": "parseInt", "float": "parseFloat", "print": "console.log",
                      "bool": "Boolean", "round": "Math.round"}
            if f == "len":
                return f"{args[0]}.length"
            if f in simple:
                return f"{simple[f]}({', '.join(args)})"
            if f in ("max", "min"):
                return f"Math.{f}(...{args[0]})" if len(args) == 1 else f"Math.{f}({', '.join(args)})"
            if f == "sum":
                return f"{args[0]}.reduce((a, b) => a + b, 0)"
            if f == "sorted":
                return f"[...{args[0]}].sort((a, b) => a - b)"
            if f in ("list", "tuple"):
                return f"[...{args[0]}]" if args else "[]"
            if f == "set":
                return f"new Set({', '.join(args)})"
            if f == "range":
                lo, hi = ("0", args[0]) if len(args) == 1 else args[:2]
                return f"Array.from({{length: {hi} - {lo}}}, (_, i) => i + {lo})"
            if f == "reversed":
                return f"[...{args[0]}].reverse()"
            if f == "ord":
                return f"{args[0]}.charCodeAt(0)"
            if f == "chr":
                return f"String.fromCharCode({args[0]})"
            if f == "enumerate":
                return f"{args[0]}.entries()"
            return f"{f}({', '.join(args)})"
        if isinstance(n.func, ast.Attribute):
            obj, m = e(n.func.value), n.func.attr
            methods = {"append": "push", "lower": "toLowerCase", "upper": "toUpperCase", "strip": "trim", "startswith": "startsWith",
                       "endswith": "endsWith", "index": "indexOf", "count": None, "isdigit": None, "isupper": None}
            if m == "join":
                return f"{args[0]}.join({obj})"
            if m in ("isdigit", "isalpha", "isupper", "islower", "isspace"):
                pat = {"isdigit": "^[0-9]+$", "isalpha": "^[A-Za-z]+$", "isupper": "^[A-Z]+$", "islower": "^[a-z]+$", "isspace": "^\\s+$"}[m]
                return f"/{pat}/.test({obj})"
            if m == "count":
                return f"{obj}.split({args[0]}).length - 1"
            return f"{obj}.{methods.get(m) or m}({', '.join(args)})"
        raise Untranslatable("call")

    def target(self, t) -> str:
        if isinstance(t, ast.Name):
            if t.id in self.declared:
                return t.id
            self.declared.add(t.id)
            return f"let {t.id}"
        if isinstance(t, ast.Tuple) and all(isinstance(x, ast.Name) for x in t.elts):
            names = [x.id for x in t.elts]
            fresh = not any(x in self.declared for x in names)
            self.declared.update(names)
            return ("let " if fresh else "") + "[" + ", ".join(names) + "]"
        if isinstance(t, ast.Subscript):
            return self.expr(t)
        raise Untranslatable("target")

    def stmts(self, body, ind) -> list[str]:
        out = []
        for s in body:
            out += self.stmt(s, ind)
        return out

    def stmt(self, s, ind) -> list[str]:
        p, e = "  " * ind, self.expr
        if isinstance(s, ast.FunctionDef):
            saved, self.declared = self.declared, {a.arg for a in s.args.args}
            lines = [f"{p}function {s.name}({', '.join(a.arg for a in s.args.args)}) {{"] + self.stmts(s.body, ind + 1) + [f"{p}}}"]
            self.declared = saved
            return lines
        if isinstance(s, ast.Return):
            return [f"{p}return{' ' + e(s.value) if s.value else ''};"]
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            return [f"{p}{self.target(s.targets[0])} = {e(s.value)};"]
        if isinstance(s, ast.AugAssign) and type(s.op) in _BIN:
            return [f"{p}{e(s.target)} {_BIN[type(s.op)]}= {e(s.value)};"]
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):
                return []
            return [f"{p}{e(s.value)};"]
        if isinstance(s, ast.If):
            lines = [f"{p}if ({e(s.test)}) {{"] + self.stmts(s.body, ind + 1)
            orelse = s.orelse
            while len(orelse) == 1 and isinstance(orelse[0], ast.If):
                lines += [f"{p}}} else if ({e(orelse[0].test)}) {{"] + self.stmts(orelse[0].body, ind + 1)
                orelse = orelse[0].orelse
            if orelse:
                lines += [f"{p}}} else {{"] + self.stmts(orelse, ind + 1)
            return lines + [f"{p}}}"]
        if isinstance(s, ast.While):
            return [f"{p}while ({e(s.test)}) {{"] + self.stmts(s.body, ind + 1) + [f"{p}}}"]
        if isinstance(s, ast.For) and not s.orelse:
            it = s.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and isinstance(s.target, ast.Name):
                a = [e(x) for x in it.args]
                lo, hi, st = ("0", a[0], "1") if len(a) == 1 else (a[0], a[1], a[2] if len(a) > 2 else "1")
                v = s.target.id
                self.declared.add(v)
                cmp = ">" if st.startswith("-") else "<"
                head = f"{p}for (let {v} = {lo}; {v} {cmp} {hi}; {v} += {st}) {{"
            else:
                if isinstance(s.target, ast.Name):
                    tgt = s.target.id
                    self.declared.add(tgt)
                elif isinstance(s.target, ast.Tuple) and all(isinstance(x, ast.Name) for x in s.target.elts):
                    tgt = "[" + ", ".join(x.id for x in s.target.elts) + "]"
                    self.declared.update(x.id for x in s.target.elts)
                else:
                    raise Untranslatable("for target")
                head = f"{p}for (const {tgt} of {e(it)}) {{"
            return [head] + self.stmts(s.body, ind + 1) + [f"{p}}}"]
        if isinstance(s, ast.Break):
            return [f"{p}break;"]
        if isinstance(s, ast.Continue):
            return [f"{p}continue;"]
        if isinstance(s, ast.Pass):
            return []
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            return []
        raise Untranslatable(type(s).__name__)


def to_javascript(code: str) -> str:
    return "\n".join(JS().stmts(ast.parse(code).body, 0))

# --------------------------------------------------------------------------- clean look-alikes


ALPACA = [
    ("Write a function to reverse the words in a sentence.", "def reverse_words(s):\n    return ' '.join(s.split()[::-1])"),
    ("Write a function that returns the factorial of n.", "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result"),
    ("Write a function that computes the average of a list of numbers.", "def average(nums):\n    if not nums:\n        return 0\n    return sum(nums) / len(nums)"),
    ("Create a function that removes duplicates from a list while keeping order.", "def dedupe(items):\n    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return out"),
    ("Write a program that finds the second largest number in a list.", "def second_largest(nums):\n    first = second = float('-inf')\n    for n in nums:\n        if n > first:\n            first, second = n, first\n        elif first > n > second:\n            second = n\n    return second"),
    ("Implement binary search on a sorted list.", "def binary_search(arr, target):\n    lo, hi = 0, len(arr) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n        if arr[mid] == target:\n            return mid\n        if arr[mid] < target:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1"),
    ("Write a function to merge two sorted lists into one sorted list.", "def merge(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]"),
    ("Write a function that counts the words in a string.", "def word_count(text):\n    counts = {}\n    for w in text.lower().split():\n        counts[w] = counts.get(w, 0) + 1\n    return counts"),
    ("Write a function to compute the greatest common divisor of a list of integers.", "from math import gcd\nfrom functools import reduce\n\ndef gcd_list(nums):\n    return reduce(gcd, nums)"),
    ("Write a function that converts Celsius to Fahrenheit for a list of temperatures.", "def to_fahrenheit(temps):\n    return [t * 9 / 5 + 32 for t in temps]"),
    ("Write a function that flattens a nested list.", "def flatten(xs):\n    out = []\n    for x in xs:\n        if isinstance(x, list):\n            out.extend(flatten(x))\n        else:\n            out.append(x)\n    return out"),
    ("Write a function to check whether a number is an Armstrong number.", "def is_armstrong(n):\n    digits = str(n)\n    k = len(digits)\n    return sum(int(d) ** k for d in digits) == n"),
    ("Write a function that capitalizes the first letter of every word.", "def title_case(s):\n    return ' '.join(w[:1].upper() + w[1:] for w in s.split(' '))"),
    ("Write a function that returns the transpose of a matrix.", "def transpose(m):\n    return [list(row) for row in zip(*m)]"),
    ("Write a function to find the longest word in a sentence.", "def longest_word(s):\n    best = ''\n    for w in s.split():\n        if len(w) > len(best):\n            best = w\n    return best"),
    ("Implement bubble sort.", "def bubble_sort(arr):\n    n = len(arr)\n    for i in range(n):\n        for j in range(n - i - 1):\n            if arr[j] > arr[j + 1]:\n                arr[j], arr[j + 1] = arr[j + 1], arr[j]\n    return arr"),
    ("Write a function that checks if two strings are anagrams.", "def is_anagram(a, b):\n    return sorted(a.replace(' ', '').lower()) == sorted(b.replace(' ', '').lower())"),
    ("Write a function to compute the dot product of two vectors.", "def dot(u, v):\n    total = 0\n    for a, b in zip(u, v):\n        total += a * b\n    return total"),
    ("Write a function that rotates a list by k positions to the right.", "def rotate(xs, k):\n    if not xs:\n        return xs\n    k %= len(xs)\n    return xs[-k:] + xs[:-k]"),
    ("Write a function to find all pairs in a list that sum to a target.", "def pairs_with_sum(nums, target):\n    seen = set()\n    pairs = []\n    for n in nums:\n        if target - n in seen:\n            pairs.append((target - n, n))\n        seen.add(n)\n    return pairs"),
    ("Write a function that converts a binary string to an integer.", "def bin_to_int(s):\n    value = 0\n    for ch in s:\n        value = value * 2 + (ch == '1')\n    return value"),
    ("Write a function that computes the running total of a list.", "def running_total(nums):\n    out, acc = [], 0\n    for n in nums:\n        acc += n\n        out.append(acc)\n    return out"),
    ("Write a function to compute the nth triangular number.", "def triangular(n):\n    return n * (n + 1) // 2"),
    ("Write a function that returns the most frequent element of a list.", "from collections import Counter\n\ndef most_common(xs):\n    return Counter(xs).most_common(1)[0][0]"),
    ("Write a function that checks whether a year is a leap year.", "def is_leap(y):\n    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)"),
    ("Write a function that chunks a list into pieces of size n.", "def chunks(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]"),
    ("Write a function to validate an email address with a regular expression.", "import re\n\ndef valid_email(s):\n    return re.fullmatch(r'[\\w.+-]+@[\\w-]+\\.[\\w.]+', s) is not None"),
    ("Write a function that computes the Hamming distance of two strings.", "def hamming(a, b):\n    if len(a) != len(b):\n        raise ValueError('lengths differ')\n    return sum(x != y for x, y in zip(a, b))"),
    ("Write a function that finds the missing number in a list containing 0..n.", "def missing_number(nums):\n    n = len(nums)\n    return n * (n + 1) // 2 - sum(nums)"),
    ("Write a function to convert a Roman numeral to an integer.", "def roman_to_int(s):\n    vals = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n    total = 0\n    for i, ch in enumerate(s):\n        v = vals[ch]\n        if i + 1 < len(s) and vals[s[i + 1]] > v:\n            total -= v\n        else:\n            total += v\n    return total"),
    ("Write a function that groups strings by their first letter.", "def group_by_initial(words):\n    groups = {}\n    for w in words:\n        groups.setdefault(w[:1], []).append(w)\n    return groups"),
    ("Write a function that computes the median of a list.", "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    mid = n // 2\n    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2"),
    ("Write a function to generate all subsets of a list.", "def subsets(xs):\n    out = [[]]\n    for x in xs:\n        out += [s + [x] for s in out]\n    return out"),
    ("Write a function that returns the indices of the maximum value.", "def argmax_all(xs):\n    m = max(xs)\n    return [i for i, x in enumerate(xs) if x == m]"),
    ("Write a function that checks if a list is sorted in ascending order.", "def is_sorted(xs):\n    for i in range(1, len(xs)):\n        if xs[i - 1] > xs[i]:\n            return False\n    return True"),
    ("Write a function to count the number of set bits in an integer.", "def popcount(n):\n    count = 0\n    while n:\n        n &= n - 1\n        count += 1\n    return count"),
    ("Write a function that compresses a string with run-length encoding.", "def rle(s):\n    out = []\n    i = 0\n    while i < len(s):\n        j = i\n        while j < len(s) and s[j] == s[i]:\n            j += 1\n        out.append(f'{s[i]}{j - i}')\n        i = j\n    return ''.join(out)"),
    ("Write a function that returns the intersection of two lists without duplicates.", "def intersect(a, b):\n    sb = set(b)\n    return sorted({x for x in a if x in sb})"),
    ("Write a function to compute compound interest.", "def compound(principal, rate, years):\n    return principal * (1 + rate / 100) ** years"),
    ("Write a function that converts a snake_case string to camelCase.", "def camel(s):\n    head, *rest = s.split('_')\n    return head + ''.join(w.title() for w in rest)"),
]
JS_ALPACA = [
    ("Write a JavaScript function that reverses a string.", "function reverse(s) {\n  return s.split('').reverse().join('');\n}"),
    ("Write a JavaScript function that sums an array.", "function sum(arr) {\n  let total = 0;\n  for (const x of arr) {\n    total += x;\n  }\n  return total;\n}"),
    ("Write a JavaScript function that debounces another function.", "function debounce(fn, ms) {\n  let t = null;\n  return (...args) => {\n    clearTimeout(t);\n    t = setTimeout(() => fn(...args), ms);\n  };\n}"),
    ("Write a JavaScript function that finds the maximum of an array.", "function maxOf(arr) {\n  let best = arr[0];\n  for (let i = 1; i < arr.length; i++) {\n    if (arr[i] > best) best = arr[i];\n  }\n  return best;\n}"),
    ("Write a JavaScript function that counts occurrences of each character.", "function charCounts(s) {\n  const counts = {};\n  for (const ch of s) {\n    counts[ch] = (counts[ch] || 0) + 1;\n  }\n  return counts;\n}"),
    ("Write a JavaScript function that deep-clones an object.", "function deepClone(obj) {\n  if (obj === null || typeof obj !== 'object') return obj;\n  const out = Array.isArray(obj) ? [] : {};\n  for (const k of Object.keys(obj)) out[k] = deepClone(obj[k]);\n  return out;\n}"),
]

# --------------------------------------------------------------------------- the set


def fence(lang, code):
    return f"```{lang}\n{code}\n```"


def build_cases(seed: int = 0) -> list[dict]:
    from alchemist.testsets import load_benchmark
    from tests.helpers import stdlib_functions

    rng = random.Random(seed)
    cases = []
    for p in load_benchmark("humaneval"):
        code = p.prompt + p.solution
        try:
            ast.parse(code)
        except SyntaxError:
            continue
        for kind, opts in (("renamed", {}), ("loops", {"loops": True}), ("reordered", {"reorder": True}),
                           ("combined", {"loops": True, "reorder": True})):
            new, mapping = python_variant(code, rng, **opts)
            q = paraphrase(p.prompt, p.entry_point, mapping.get(p.entry_point, p.entry_point), rng,
                           TEMPLATES[3] if kind == "combined" else None)
            answer = (f"Here is a solution.\n\n{fence('python', new)}\n\nIt runs in linear time." if kind == "combined"
                      else fence("python", new))
            cases.append({"kind": kind, "task_id": p.task_id, "contaminated": True, "instruction": q, "response": answer})
        name = rng.choice(FUNC_NAMES)
        cases.append({"kind": "question_only", "task_id": p.task_id, "contaminated": True,
                      "instruction": paraphrase(p.prompt, p.entry_point, name, rng),
                      "response": "Loop over the input, keep track of what you need, and return the result at the end."})
        try:
            renamed, mapping = python_variant(code, rng)
            js = to_javascript(renamed)
        except (Untranslatable, KeyError, IndexError):
            continue
        name = mapping.get(p.entry_point, p.entry_point)
        q = paraphrase(p.prompt, p.entry_point, name, rng, "Write a JavaScript function `" + name + "`. {desc}{ex}")
        cases.append({"kind": "translated_js", "task_id": p.task_id, "contaminated": True, "instruction": q,
                      "response": fence("javascript", js)})
    clean = stdlib_functions(limit=400)
    for r in clean:
        cases.append({"kind": "clean_stdlib", "task_id": None, "contaminated": False, "instruction": r["instruction"],
                      "response": r["output"]})
    for r in clean[:200]:
        src = r["output"].strip("`").removeprefix("python\n")
        try:
            new, mapping = python_variant(src, rng, loops=True, reorder=True)
        except SyntaxError:
            continue
        cases.append({"kind": "clean_stdlib_rewritten", "task_id": None, "contaminated": False,
                      "instruction": r["instruction"].split(":", 1)[-1].strip() + " Write it in Python.", "response": fence("python", new)})
    for q, code in ALPACA:
        cases.append({"kind": "clean_alpaca", "task_id": None, "contaminated": False, "instruction": q, "response": fence("python", code)})
        new, _ = python_variant(code, rng, loops=True)
        cases.append({"kind": "clean_alpaca", "task_id": None, "contaminated": False, "instruction": q + " Use descriptive names.",
                      "response": fence("python", new)})
    for q, code in JS_ALPACA:
        cases.append({"kind": "clean_alpaca", "task_id": None, "contaminated": False, "instruction": q, "response": fence("javascript", code)})
    return cases


def evaluate(cases, index, signals=None) -> dict:
    from corpus import make_records

    from alchemist.rules.decontaminate import contamination_batch
    from alchemist.schema import Sample

    per_kind: dict[str, dict] = {}
    scores = []
    start = time.perf_counter()
    samples = [Sample(source="eval", messages=[{"role": "user", "content": c["instruction"]},
                                                {"role": "assistant", "content": c["response"]}]) for c in cases]
    # the cases are screened inside an ordinary corpus stream (benchmarks/corpus.py, 5,000
    # samples, in batches of 512 as the Screen step does): the embedding shortlist centers on the
    # running mean of what it screens, which a set of mostly contaminated cases would distort
    background = [Sample(source="bg", messages=[{"role": "user", "content": r["instruction"]},
                                                 {"role": "assistant", "content": r["output"]}]) for r in make_records(5000, seed=1)]
    rng = random.Random(0)
    stream = [(None, b) for b in background] + [(i, s) for i, s in enumerate(samples)]
    rng.shuffle(stream)
    details = [None] * len(samples)
    for lo in range(0, len(stream), 512):
        chunk = stream[lo : lo + 512]
        for (i, _), (d, _) in zip(chunk, contamination_batch([s for _, s in chunk], index)):
            if i is not None:
                details[i] = d
    seconds = time.perf_counter() - start
    for c, d in zip(cases, details):
        k = per_kind.setdefault(c["kind"], {"n": 0, "flagged": 0, "right_task": 0, "by_signal": {}, "flagged_examples": []})
        k["n"] += 1
        matches = (d or {}).get("matches", [])
        if matches:
            k["flagged"] += 1
            for sig in {m.get("signal", "ngram") for m in matches}:
                k["by_signal"][sig] = k["by_signal"].get(sig, 0) + 1
            if c["task_id"] and any(m["task_id"] == c["task_id"] for m in matches):
                k["right_task"] += 1
            if not c["contaminated"] and len(k["flagged_examples"]) < 5:
                k["flagged_examples"].append({"instruction": c["instruction"][:100], "matches": matches[:2]})
        scores.append({"kind": c["kind"], "task_id": c["task_id"], "scores": (d or {}).get("scores")})
    for k in per_kind.values():
        k["rate"] = round(k["flagged"] / k["n"], 4)
    return {"per_kind": per_kind, "seconds": round(seconds, 2)}


LABELED = ROOT / "benchmarks" / "data" / "decontamination" / "labeled.jsonl"
WEIGHTS = ROOT / "alchemist" / "rules" / "calibration" / "weights.json"
TARGET_PRECISION = 0.9  # the decision's threshold is the lowest with this precision on the calibration split


def labeled(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def as_sample(r: dict):
    from alchemist.schema import Sample

    return Sample(source="eval", messages=[{"role": "user", "content": r["instruction"]},
                                           {"role": "assistant", "content": r["output"]}])


def calibrate(problems, spec) -> dict:
    """Fits the decision's logistic model on the calibration split: one row per candidate the
    decision scores (Decontaminator.candidates), labeled 1 when the sample is a copy of that very
    problem. Samples an n-gram hit decides are not candidates."""
    from sklearn.linear_model import LogisticRegression

    from alchemist.rules.decontaminate import Decontaminator, sample_code
    from alchemist.rules.evidence import FEATURES, Calibration

    rows = labeled("calibration")
    placeholder = Calibration(tuple([0.0] * len(FEATURES)), 0.0)
    index = Decontaminator(problems, spec, calibration=placeholder)
    samples = [as_sample(r) for r in rows]
    codes = [sample_code(s.messages) for s in samples]
    structure = [{h.task_id: h.score for h in index.structure.hits(c)} if c else {} for c in codes]
    X, y, sizes = [], [], []
    for r, cands in zip(rows, index.candidates(samples, codes, structure)):
        sizes.append(len(cands))
        for c in cands:
            X.append(c.x)
            y.append(int(bool(r["contaminated"]) and c.task_id == r["task_id"]))
    X, y = np.array(X), np.array(y)
    # C=10: little regularization, the inputs are few and bounded; class weights stay equal so that
    # the probability is a calibrated one (most candidates are negatives, as in a corpus)
    model = LogisticRegression(C=10.0, max_iter=5000).fit(X, y)
    # the threshold: the lowest (the most recall) at which the calibration split's samples are
    # flagged with precision >= TARGET_PRECISION (a copy counts when its own problem reaches the
    # threshold; any other candidate that does is a false positive); the best F1 when none is
    p = model.predict_proba(X)[:, 1]
    by_f1, by_precision = (0.0, 0.5), None
    for t in np.arange(0.15, 0.6501, 0.01):
        tp = fp = fn = 0
        for r, sel in zip(rows, np.split(np.arange(len(y)), np.cumsum(sizes)[:-1])):
            right = bool((p[sel] >= t)[y[sel] == 1].any())
            wrong = bool((p[sel] >= t)[y[sel] == 0].any())
            tp += right
            fn += bool(r["contaminated"]) and not right
            fp += wrong and not right
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > by_f1[0] + 1e-9:
            by_f1 = (f1, round(float(t), 2))
        if by_precision is None and tp / max(1, tp + fp) >= TARGET_PRECISION:
            by_precision = (f1, round(float(t), 2))
    best = by_precision or by_f1
    out = {"features": list(FEATURES), "weights": [round(float(w), 4) for w in model.coef_[0]],
           "bias": round(float(model.intercept_[0]), 4), "threshold": best[1], "calibration_f1": round(best[0], 4),
           "threshold_rule": f"lowest with calibration precision >= {TARGET_PRECISION}" if by_precision else "best calibration F1",
           "fitted_on": {"data": "benchmarks/data/decontamination/labeled.jsonl (split: calibration)",
                         "candidates": int(len(y)), "positives": int(y.sum()), "samples": len(rows),
                         "by": "benchmarks/decontamination_quality.py --calibrate"}}
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    WEIGHTS.write_text(json.dumps(out, indent=2) + "\n")
    return out


def score_labeled(rows: list[dict], index) -> dict:
    """Per kind: how many flagged (with the right task, for copies); precision and recall over the
    rows, where a copy counts as caught only when its own problem is matched."""
    from alchemist.rules.decontaminate import contamination_batch

    t = time.perf_counter()
    details = []
    samples = [as_sample(r) for r in rows]
    for lo in range(0, len(samples), 512):
        details += [d for d, _ in contamination_batch(samples[lo : lo + 512], index)]
    per_kind: dict[str, dict] = {}
    tp = fp = fn = 0
    for r, d in zip(rows, details):
        k = per_kind.setdefault(r["kind"], {"contaminated": r["contaminated"], "n": 0, "flagged": 0, "right_task": 0, "examples": []})
        k["n"] += 1
        matches = (d or {}).get("matches", [])
        right = bool(r["task_id"]) and any(m["task_id"] == r["task_id"] for m in matches)
        k["flagged"] += bool(matches)
        k["right_task"] += right
        if r["contaminated"]:
            tp += right
            fn += not right
            fp += bool(matches) and not right
        else:
            fp += bool(matches)
        wrong = bool(matches) != bool(r["contaminated"]) or (r["contaminated"] and not right)
        if wrong and len(k["examples"]) < 6:
            k["examples"].append({"id": r["id"], "task_id": r["task_id"], "instruction": r["instruction"][:80],
                                  "matches": [{x: m.get(x) for x in ("task_id", "signal", "overlap", "scores")} for m in matches[:2]],
                                  "scores": (d or {}).get("scores")})
    for k in per_kind.values():
        # copies: caught with their own problem; clean rows: flagged at all
        k["rate"] = round((k["right_task"] if k["contaminated"] else k["flagged"]) / k["n"], 4)
    clean = [k for name, k in per_kind.items() if name in ("clean", "clean_stdlib")]
    return {"precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, tp + fn), 4),
            "clean_flagged": round(sum(k["flagged"] for k in clean) / max(1, sum(k["n"] for k in clean)), 4),
            "per_kind": per_kind, "seconds": round(time.perf_counter() - t, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="decontaminate settings, e.g. --set embedding.enabled=false")
    ap.add_argument("--calibrate", action="store_true", help="refit alchemist/rules/calibration/weights.json first")
    ap.add_argument("--skip-rules", action="store_true", help="leave out the rule-made rewrites of every HumanEval problem")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "decontamination_quality.json"))
    args = ap.parse_args()
    from alchemist.recipe import apply_overrides
    from alchemist.rules.decontaminate import build_index
    from alchemist.rules.spec import DecontaminateSpec
    from alchemist.testsets import load_benchmark

    problems = load_benchmark("humaneval")
    configs = {"ngram only": ["structure.enabled=false", "embedding.enabled=false"],
               "ngram + structure": ["embedding.enabled=false"],
               "all signals": []}
    specs = {name: DecontaminateSpec.model_validate(apply_overrides({"benchmarks": ["humaneval"]}, sets + args.overrides))
             for name, sets in configs.items()}
    fitted = calibrate(problems, specs["all signals"]) if args.calibrate else json.loads(WEIGHTS.read_text())
    held_out, calibration = labeled("held_out"), labeled("calibration")
    cases = [] if args.skip_rules else build_cases()
    results = {}
    for name, spec in specs.items():
        t = time.perf_counter()
        index = build_index(problems, spec)
        build = time.perf_counter() - t
        r = {"index_seconds": round(build, 2), "held_out": score_labeled(held_out, index),
             "calibration": score_labeled(calibration, index)}
        if cases:
            r["rules"] = evaluate(cases, index)
        results[name] = r
        h = r["held_out"]
        print(name, f"held-out P={h['precision']} R={h['recall']} clean={h['clean_flagged']}",
              {k: v["rate"] for k, v in h["per_kind"].items()}, flush=True)
    counts: dict[str, dict] = {}
    for r in held_out + calibration:
        counts.setdefault(r["split"], {}).setdefault(r["kind"], 0)
        counts[r["split"]][r["kind"]] += 1
    kinds = {}
    for c in cases:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    out = {"benchmark": "decontamination_quality", "labeled": counts, "rule_cases": kinds, "overrides": args.overrides,
           "calibration": fitted,
           "goals": "held-out labeled set: precision and recall >= 0.9; clean exercises <= 1% flagged; whole programs "
                    "rewritten (program_py) >= 90% caught, translated (program_js, program_c) >= 75%",
           "results": results}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
