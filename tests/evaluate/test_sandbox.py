"""Hostile programs are contained and reported as failures; the harness and other verdicts survive."""

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from alchemist.evaluate.sandbox import Limits, SandboxPool, isolation, run_python

LIMITS = Limits(timeout=3.0, memory_mb=1024, file_mb=16)


@pytest.fixture
def listener():
    """A listener this test opens on 127.0.0.1; a program that reaches it marks `connected`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)
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


def hostile(tmp_path, port):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    return {
        "infinite loop": "while True:\n    pass",
        "exit before asserts": "import sys\nsys.exit(0)\nassert False",
        "_exit before asserts": "import os\nos._exit(0)\nassert False",
        "allocate 50 GB": "x = bytearray(50 * 1024 ** 3)",
        "write a 2 GB file": "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (2 * 1024 ** 3))",
        "print 1 GB": "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)",
        "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "delete outside": f"import os, shutil, pathlib\npathlib.Path({str(victim)!r}).unlink()",
        "fork storm": "import os\nfor _ in range(300):\n    os.fork()",
        "process storm": "import multiprocessing as mp\nps = [mp.Process(target=print) for _ in range(300)]\nfor p in ps:\n    p.start()",
        "connect": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
    }, victim


@pytest.fixture(params=["one-shot", "zygote"])
def runner(request):
    if request.param == "one-shot":
        yield run_python
    else:
        with SandboxPool() as pool:
            yield pool.run


def test_hostile_programs_fail_and_harness_survives(tmp_path, listener, runner):
    port, connected = listener
    programs, victim = hostile(tmp_path, port)
    good = "def add(a, b):\n    return a + b\nassert add(2, 3) == 5"
    bad = "def add(a, b):\n    return a - b\nassert add(2, 3) == 5"
    names = list(programs) + ["good", "bad"]
    sources = list(programs.values()) + [good, bad]
    with ThreadPoolExecutor(4) as pool:
        outcomes = dict(zip(names, pool.map(lambda src: runner(src, LIMITS), sources)))
    assert outcomes["good"].status == "passed"
    assert outcomes["bad"].status == "failed"
    for name in programs:
        assert outcomes[name].status in ("failed", "timeout"), (name, outcomes[name])
    assert outcomes["infinite loop"].status == "timeout"
    assert victim.read_text() == "keep me"
    if isolation()["network"].startswith("none"):
        assert not connected.is_set()
    assert os.getpid()  # still here


def test_outcome_keeps_output_tails(runner):
    o = runner("print('hello')\nraise ValueError('boom')", LIMITS)
    assert o.status == "failed" and "hello" in o.stdout and "ValueError: boom" in o.stderr
