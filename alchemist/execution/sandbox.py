"""Run untrusted Python programs under limits the kernel enforces, not Python patches.

Each worker is a zygote (zygote.py) that, once, enters its own user, mount, pid, network, ipc
and uts namespaces, makes every mount read-only (a fresh /proc for its pid namespace, a private
/tmp, the harness' scratch directory writable at /tmp/work), drops every capability and sets
no_new_privs; where cgroups are writable it runs in its own pids+memory cgroup. Per program it
forks a child that gets rlimits, a reduced environment, no inherited fds, Landlock (read/execute
on the interpreter and system dirs, full access in its own work dir only, no TCP bind/connect,
no signals or abstract sockets outside itself) and a seccomp filter (no process creation beyond
threads, no exec, ptrace, process_vm_*, sockets other than AF_UNIX, mount/unshare/setns, bpf,
keyctl, io_uring, userfaultfd, perf, modules, reboot, chmod/chown/utime by path; other syscall
ABIs killed). `isolation()` says which layers held here; `SandboxPool(require_isolation=True)`
refuses to run without all of them (otherwise the missing ones are logged once).

Why these tools: namespaces come from `unshare(2)` through ctypes, not bubblewrap, because the
worker must stay a warm fork server inside them (so they are paid once per worker, ~1.4 ms, not
per program) and because it needs no binary or wheel beyond the standard library; the seccomp
filter is a BPF program written here (no libseccomp needed), loaded per program with prctl (0.2
ms); Landlock is a few syscalls per program (0.3 ms). Where a layer is missing (no user
namespaces, an old kernel, not x86_64 for the filter) the others still apply and it is reported.
The harness reads a program's output files without following symlinks and only if they are
regular files (it has more rights than the program).

Time: `Limits.timeout` is CPU seconds (RLIMIT_CPU plus the child's rusage), so a loaded machine
does not turn a pass into a timeout; `Limits.wall_timeout` (default 4 x timeout + 10 s) is the
ceiling for programs that sleep or block. The zygote enforces both and kills the child.

Verdicts. There is no end marker anywhere. Two ways to run:

* `run(source)`: the whole program (code and checks) in one process; it passes when it exits 0
  having run to its end (sys.exit(0) or os._exit(0) before the checks is a failure: the trusted
  child code reports completion on a pipe only after `exec` returns). A hostile program that
  finds that pipe can forge completion; for verdicts it cannot forge, use checks:
* `run(code, checks=Checks(test, names, setup))`: the result channel for verdicts a program
  cannot forge. The code runs in one process, the checks in a second one that the first can
  neither read (Landlock: only its own work dir; the checks file lies in a sibling dir) nor
  signal, trace or inspect (seccomp, Landlock scoping, not dumpable). In the checks' process,
  `setup` (trusted, e.g. the benchmark prompt's helpers) runs first, then every name in `names`
  is bound to a proxy that calls the program's function of that name and gets its return value
  back as plain data (None, bool, int, float, str, bytes, complex, list, tuple, dict, set,
  frozenset; exact types only, so an object that equals everything cannot cross), then `test`
  runs. The verdict is the checks process' exit status: 0 only when `test` ran to its end; its
  traceback is `Outcome.checks_stderr`, where `File "checks.py", line N` is line N of `test`
  (the setup is "setup.py"), and an exception the program raised reads `ProgramError: <type>:
  <message>`. The checks' own stdout (`Outcome.checks_stdout`) is a channel the program cannot
  write to: a driver in `test` can print each input's output or verdict there. Each proxy has a
  `timeout` attribute (wall seconds per call, default None); a call past it raises
  `ProgramTimeout` (a `ProgramError`, both in the checks' namespace) and so does every later call,
  so a test can keep the results of earlier inputs and exit 0. So expected outputs, asserts and the decision never exist in the program's
  process; the program can only return values. Limits: arguments are copied, so a check that
  inspects an argument mutated in place sees it unchanged; functions cannot be passed as
  arguments; the integrity needs Landlock (`isolation()["missing"]` says when it is absent).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alchemist.errors import UserError

log = logging.getLogger("alchemist.execution")

ZYGOTE = Path(__file__).with_name("zygote.py")
CHECKS_SEPARATOR = "\n#--alchemist-checks--\n"
_SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
# Outcome.stderr when the harness, not the program, failed (the worker died or hung)
WORKER_FAILED = "sandbox worker failed"
LAYERS = ("namespaces", "filesystem", "capabilities", "landlock", "seccomp", "cgroups")


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # CPU seconds per program
    memory_mb: int = 2048  # address space per process
    file_mb: int = 32  # largest file the program may write (stdout and stderr included)
    processes: int = 64  # tasks (threads) per worker, through its pids cgroup
    output_chars: int = 4000  # of stdout/stderr kept in the verdict
    wall_timeout: float | None = None  # wall-clock ceiling; None: 4 x timeout + 10 s

    @property
    def wall(self) -> float:
        return self.wall_timeout if self.wall_timeout is not None else 4 * self.timeout + 10


@dataclass(frozen=True)
class Checks:
    """Checks run in their own process (see the module docstring): `setup`, then `names` bound
    to proxies of the program's functions, then `test`; passed when `test` runs to its end.
    `test` may set `<name>.timeout` and catch `ProgramError` / `ProgramTimeout`."""
    test: str
    names: tuple[str, ...]
    setup: str = ""


@dataclass
class Outcome:
    status: str  # passed | failed | timeout
    returncode: int | None
    seconds: float
    stdout: str = ""
    stderr: str = ""
    cpu: float = 0.0  # the program's CPU seconds
    checks_stdout: str = ""  # with Checks: what the checks' process printed
    checks_stderr: str = ""  # with Checks: its traceback (the failing assert, the program's exception)


class IsolationError(UserError):
    """A layer the caller required is not available on this machine."""


def _tail(path: Path, limit: int) -> str:
    """The end of an output file the program could have replaced: never through a symlink (the
    harness runs with more rights than the program), never a FIFO or device (it would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with open(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return ""
        fh.seek(max(0, st.st_size - limit))
        return fh.read(limit).decode("utf-8", "replace")


# ---------------------------------------------------------------- cgroups (per worker)

def _cgroup_roots() -> dict[str, tuple[Path, int]]:
    """controller -> (hierarchy root, cgroup version) for pids and memory, where writable."""
    roots = {}
    unified = next((p for p in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
                    if (p / "cgroup.controllers").exists()), None)
    for ctl in ("pids", "memory"):
        v1 = Path("/sys/fs/cgroup") / ctl
        if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
            roots[ctl] = (v1, 1)
        elif unified and ctl in (unified / "cgroup.controllers").read_text().split() and os.access(unified, os.W_OK):
            roots[ctl] = (unified, 2)
    return roots


def _remove_stale(root: Path) -> None:
    """Empty cgroups of harness processes that are gone (one that crashed before closing)."""
    for d in root.glob("alchemist-*-*"):
        try:
            if not os.path.exists(f"/proc/{int(d.name.split('-')[1])}") and not (d / "cgroup.procs").read_text().strip():
                d.rmdir()
        except (OSError, ValueError):
            continue


class Cgroup:
    """A pids and a memory cgroup for one worker; its programs inherit them. `limits` (): none."""
    _names = itertools.count(1)
    _swept = False

    def __init__(self, limits: Limits | tuple):
        name = f"alchemist-{os.getpid()}-{next(Cgroup._names)}"
        self.dirs: list[Path] = []
        self.held: list[str] = []
        roots = _cgroup_roots() if isinstance(limits, Limits) else {}
        if roots and not Cgroup._swept:
            Cgroup._swept = True
            for root, _ in roots.values():
                _remove_stale(root)
        mem = (limits.memory_mb + 512) << 20 if roots else 0  # the program, the checks' process and the zygote
        for ctl, (root, version) in roots.items():
            d = root / name
            try:
                d.mkdir(exist_ok=True)
                if ctl == "pids":
                    (d / "pids.max").write_text(str(limits.processes + 8))
                    self.held.append(f"pids <= {limits.processes + 8}")
                else:
                    (d / ("memory.limit_in_bytes" if version == 1 else "memory.max")).write_text(str(mem))
                    self.held.append(f"memory <= {mem >> 20} MB")
                self.dirs.append(d)
            except OSError:
                try:
                    d.rmdir()
                except OSError:
                    pass

    def argv(self) -> list[str]:
        """For the zygote, which enters them first thing."""
        return [a for d in self.dirs for a in ("--cgroup", str(d / "cgroup.procs"))]

    def close(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    if (d / "cgroup.kill").exists():
                        (d / "cgroup.kill").write_text("1")
                    for pid in (d / "cgroup.procs").read_text().split():
                        os.kill(int(pid), signal.SIGKILL)
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.01)


# ---------------------------------------------------------------- the worker

class _Lines:
    """Lines from a raw fd with our own buffer: select() only when no whole line is buffered
    (select on a buffered reader's fd misses what the buffer already holds)."""

    def __init__(self, fd: int):
        self.fd, self.buf = fd, b""

    def read(self, timeout: float) -> dict | None:
        """The next JSON line; {} at EOF; None when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return {}
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


class Zygote:
    """A warm, confined interpreter that forks one confined child per program (see zygote.py)."""

    def __init__(self, without: tuple[str, ...] = ()):
        self.proc: subprocess.Popen | None = None
        self.layers: dict = {}
        self.without = without  # layers to leave off (tests of the degraded path)
        self._jobs = 0

    def start(self, limits: Limits = Limits()) -> dict:
        self.scratch = Path(tempfile.mkdtemp(prefix="alchemist-sandbox-"))
        self.cgroup = Cgroup(() if "cgroups" in self.without else limits)
        argv = [sys.executable, "-I", "-B", str(ZYGOTE), str(self.scratch), *self.cgroup.argv(),
                *(a for layer in self.without for a in ("--without", layer))]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=_SCRUBBED_ENV, cwd="/", bufsize=0)
        self.lines = _Lines(self.proc.stdout.fileno())
        hello = self.lines.read(60.0)
        if not hello:
            self.close()
            raise RuntimeError("the sandbox worker did not start")
        held = ", ".join(self.cgroup.held) if self.cgroup.held else "unavailable: no writable cgroups"
        self.layers = {**hello["layers"], "cgroups": hello["layers"].get("cgroups", held)}
        return self.layers

    def run(self, source: str, limits: Limits = Limits(), checks: Checks | None = None) -> Outcome:
        start = time.perf_counter()
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.start(limits)
        self._jobs += 1
        job_id = f"{self._jobs:x}"
        work = self.scratch / job_id
        checks_dir = self.scratch / f"{job_id}.checks"
        try:
            work.mkdir()
            # a lone surrogate (JSON allows "\ud800") must fail the program, not the harness
            (work / "program.py").write_text(source, encoding="utf-8", errors="surrogatepass")
            if checks is not None:
                checks_dir.mkdir()
                (checks_dir / "checks.py").write_text(checks.setup + CHECKS_SEPARATOR + checks.test, encoding="utf-8",
                                                     errors="surrogatepass")
            job = {"id": job_id, "cpu": limits.timeout, "wall": limits.wall, "memory_mb": limits.memory_mb,
                   "file_mb": limits.file_mb, "processes": limits.processes,
                   "checks": list(checks.names) if checks is not None else None}
            try:
                self.proc.stdin.write((json.dumps(job) + "\n").encode())
                reply = self.lines.read(limits.wall + 30.0)
            except OSError:
                reply = {}
            if not reply:  # the worker died or hung: replace it
                self.close()
                return Outcome("failed", None, round(time.perf_counter() - start, 3), "", WORKER_FAILED)
            n = limits.output_chars
            return Outcome(reply["status"], reply.get("returncode"), round(time.perf_counter() - start, 3),
                           _tail(work / "stdout", n), _tail(work / "stderr", n) + reply.get("error", ""),
                           reply.get("cpu", 0.0), _tail(checks_dir / "stdout", n), _tail(checks_dir / "stderr", n))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(checks_dir, ignore_errors=True)

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()  # the launcher; PID 1 of the namespace follows (PDEATHSIG), and with it every program
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            self.proc = None
            self.cgroup.close()
            shutil.rmtree(self.scratch, ignore_errors=True)


def missing(layers: dict) -> list[str]:
    return [k for k in LAYERS if str(layers.get(k, "unavailable")).startswith("unavailable")]


@lru_cache(maxsize=1)
def _probe() -> dict:
    z = Zygote()
    try:
        return z.start()
    finally:
        z.close()


def isolation() -> dict:
    """What the sandbox enforces on this machine, layer by layer, for results.json."""
    layers = _probe()
    out = {k: layers.get(k, "unavailable") for k in LAYERS}
    out["uid"] = layers.get("uid", "?")
    out["network"] = ("none (own namespace)" if not out["namespaces"].startswith("unavailable")
                      else "not isolated: no network namespace")
    out["time"] = "CPU-time limit per program, wall-clock ceiling; the worker kills the program"
    out["missing"] = missing(layers)
    return out


_warned: set = set()


class SandboxPool:
    """One zygote per calling thread; `run` is safe to call from a thread pool.
    `require_isolation`: raise IsolationError at the first run when a layer is missing here
    (otherwise the missing layers are logged once per process)."""

    def __init__(self, require_isolation: bool = False):
        self.require_isolation = require_isolation
        self._local = threading.local()
        self._all: list[Zygote] = []
        self._lock = threading.Lock()
        self._checked = False

    def check(self) -> dict:
        """The isolation report; raises IsolationError if required layers are missing."""
        report = isolation()
        if report["missing"]:
            what = ", ".join(f"{k} ({report[k].removeprefix('unavailable: ')})" for k in report["missing"])
            if self.require_isolation:
                raise IsolationError(f"sandbox: required isolation is not available here: {what}; "
                                     f"run without --require-isolation (eval.require_isolation: false) to accept it")
            key = tuple(report["missing"])
            if key not in _warned:
                _warned.add(key)
                log.warning("sandbox: running without %s", what)
        return report

    def run(self, source: str, limits: Limits = Limits(), checks: Checks | None = None) -> Outcome:
        if not self._checked:
            self.check()
            self._checked = True
        z = getattr(self._local, "zygote", None)
        if z is None:
            z = self._local.zygote = Zygote()
            with self._lock:
                self._all.append(z)
        return z.run(source, limits, checks)

    def close(self) -> None:
        for z in self._all:
            z.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_python(source: str, limits: Limits = Limits(), checks: Checks | None = None) -> Outcome:
    """One program in a worker of its own (the simple path; SandboxPool is the fast one)."""
    z = Zygote()
    try:
        return z.run(source, limits, checks)
    finally:
        z.close()


__all__ = ["Checks", "IsolationError", "Limits", "Outcome", "SandboxPool", "isolation", "missing", "run_python"]
