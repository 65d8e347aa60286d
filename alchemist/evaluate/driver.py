"""The program side of a scored run. Standard library only: its source text is sent, with a job,
as the program the sandbox runs (`program_for(job)`); nothing here is imported by the harness
except the plain-data codec (`encode`, `decode`), which both sides share.

Two jobs:
- `compute` (the candidate, untrusted; or the reference, to get the expected outputs): exec the
  code, call its function on the given inputs, write each result as plain data. It decides
  nothing: the harness compares (harness.py, oracle.py).
- `record` (the reference, trusted): run the benchmark's own test code with the reference
  solution behind recording stubs, to learn which functions the test calls and whether their
  arguments are plain data (what the sandbox's checks channel can carry).

Results travel as lines `NONCE <json>` on the process' original stdout (the program's own
prints go to /dev/null). The nonce only keeps a program's stray output from being read as a
frame: a program that forges frames gains nothing, because frames carry outputs, never verdicts.
"""

import io
import json
import math
import os
import random
import signal
import sys
import time


class Opaque:
    """A value that is not plain data (a match object, a generator, an instance of the program's
    own class): not None, truthy, equal to nothing, not even another Opaque."""

    __slots__ = ("type_name",)

    def __init__(self, type_name):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<{self.type_name} object>"


_PLAIN_BASES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)


def encode(x):
    """Plain data as JSON-ready values: lists are lists, everything else is a one-key object.
    Subclasses of plain types (Counter, namedtuple, numpy scalars, a str that redefines __eq__)
    become their plain content; anything else becomes {"opaque": type name}."""
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -(1 << 53) < x < (1 << 53) else {"int": format(x, "x")}  # hex: no 4300-digit limit
    if t is float:
        return x if math.isfinite(x) else {"float": repr(x)}
    if t is list:
        return [encode(v) for v in x]
    if t is tuple:
        return {"tuple": [encode(v) for v in x]}
    if t is set or t is frozenset:
        return {t.__name__: [encode(v) for v in x]}
    if t is dict:
        return {"dict": [[encode(k), encode(v)] for k, v in x.items()]}
    if t is bytes:
        return {"bytes": x.hex()}
    if t is complex:
        return {"complex": [encode(x.real), encode(x.imag)]}
    if t.__module__.split(".")[0] == "numpy" and hasattr(x, "tolist"):
        return encode(x.tolist())
    for base in _PLAIN_BASES:
        if isinstance(x, base):
            return encode(base(x))
    return {"opaque": t.__name__}


def decode(v):
    """The inverse of encode; raises on anything encode cannot produce."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [decode(x) for x in v]
    (tag, val), = v.items()
    if tag == "int":
        return int(val, 16)
    if tag == "float":
        return float(val)
    if tag == "tuple":
        return tuple(decode(x) for x in val)
    if tag == "set":
        return {decode(x) for x in val}
    if tag == "frozenset":
        return frozenset(decode(x) for x in val)
    if tag == "dict":
        return {decode(k): decode(x) for k, x in val}
    if tag == "bytes":
        return bytes.fromhex(val)
    if tag == "complex":
        return complex(decode(val[0]), decode(val[1]))
    if tag == "opaque":
        return Opaque(str(val))
    raise ValueError(f"not plain data: {tag!r}")


def _plain(x) -> bool:
    """Whether x holds no opaque part (so a call with it can be replayed elsewhere)."""
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    if isinstance(x, dict):
        if "opaque" in x:
            return False
        return all(_plain(v) for v in x.values())
    return True


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _error_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:500]


class _Channel:
    def __init__(self, nonce):
        self.nonce = nonce
        self.fd = os.dup(1)  # before any program code runs; its own prints go to /dev/null

    def send(self, *frame):
        data = (self.nonce + " " + json.dumps(frame) + "\n").encode("utf-8", "surrogatepass")
        while data:
            data = data[os.write(self.fd, data):]


def _quiet():
    sys.stdout = sys.stderr = open(os.devnull, "w")
    sys.stdin = io.StringIO()


def _namespace(code, setup):
    ns = {"__name__": "__solution__"}
    exec(compile(code, "solution.py", "exec"), ns)
    if setup:
        exec(compile(setup, "setup.py", "exec"), ns)
    return ns


def compute(job, ch):
    """The candidate's outputs, one frame per call: ["out", i, {"v": value} | {"err": line} |
    {"timeout": seconds}, seconds]; ["load", error line] when the code itself fails. With
    `stop_on_error`, the first call that raises or runs out of time is the last."""
    _quiet()
    try:
        ns = _namespace(job["code"], job.get("setup"))
    except BaseException as e:
        ch.send("load", _error_line(e))
        return
    limits = job.get("limits") or []
    signal.signal(signal.SIGALRM, _alarm)
    for i, (name, args) in enumerate(job["calls"]):
        limit = limits[i] if i < len(limits) else None
        result, start = None, time.time()
        try:
            fn = ns[name]
            args = decode(args)
            if limit:
                signal.setitimer(signal.ITIMER_REAL, limit)
            start = time.time()
            out = fn(*args)
            signal.setitimer(signal.ITIMER_REAL, 0)
            seconds = time.time() - start
            result = {"timeout": seconds} if limit and seconds > limit else {"v": encode(out)}
        except _Timeout:
            result = {"timeout": time.time() - start}
        except BaseException as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            result = {"err": _error_line(e), "type": type(e).__name__}
        ch.send("out", i, result, time.time() - start)
        if job.get("stop_on_error") and "v" not in result:
            break  # the sample has failed (evalplus' fast_check): the remaining inputs would only cost time


def _run_test(job, ns, stubs):
    """The benchmark's test code in `ns`, the stubs standing in for the candidate's functions."""
    random.seed(0)  # tests that draw random inputs (HumanEval/38, 50, 53) draw the same ones each time
    ns.update(stubs)
    exec(compile(job["tests"], "tests.py", "exec"), ns)
    if job["style"] == "check_function":
        ns["check"](stubs[job["entry_point"]])


def record(job, ch):
    """The calls the test makes, with the reference behind the stubs: ["calls", [[name, args]...],
    replayable] then ["verdict", passed, error line]."""
    _quiet()
    ns = _namespace(job["code"], job.get("setup"))
    calls, depth, replayable = [], [0], [True]

    def stub(name, real):
        def call(*args, **kwargs):
            if depth[0] == 0:  # the test's own calls, not the reference calling itself
                if kwargs:
                    replayable[0] = False
                enc = encode(list(args))
                replayable[0] = replayable[0] and _plain(enc)
                calls.append([name, enc])
            depth[0] += 1
            try:
                out = real(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:  # what comes back must cross as plain data too
                replayable[0] = replayable[0] and _plain(encode(out))
            return out
        return call

    try:
        _run_test(job, ns, {n: stub(n, ns[n]) for n in job["names"]})
        passed, error = True, ""
    except BaseException as e:
        passed, error = False, _error_line(e)
    ch.send("calls", calls, replayable[0])
    ch.send("verdict", passed, error)


def main(job_json):
    job = json.loads(job_json)
    ch = _Channel(job["nonce"])
    try:
        sys.set_int_max_str_digits(0)
    except AttributeError:
        pass
    {"compute": compute, "record": record}[job["mode"]](job, ch)
    ch.send("done")
