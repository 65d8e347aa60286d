"""A warm, single-threaded Python process that forks one child per program (standard library
only; started with `python -I`). Forking a warm interpreter costs about a millisecond, starting
one costs tens: this is what makes the sandbox fast.

Protocol, one JSON object per line: the harness sends {"dir", "timeout", "memory_mb", "file_mb",
"processes", "no_network", "as_nobody"}; the zygote answers {"pid"} as soon as the child runs,
then {"returncode"} when it ends (negative: killed by that signal). The harness enforces the
wall-clock limit by killing the child's process group.
"""

import json
import os
import resource
import sys
import traceback

CLONE_NEWNET = 0x40000000
NOBODY = 65534


def child(job: dict) -> None:
    os.setsid()
    if job["no_network"]:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
            os._exit(125)
    mem = job["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(job["timeout"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    size = job["file_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (job["processes"], job["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if job["as_nobody"]:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    os.chdir(job["dir"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open("stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open("stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    sys.argv = ["program.py"]
    code = 0
    try:
        with open("program.py", encoding="utf-8") as fh:
            source = fh.read()
        exec(compile(source, "program.py", "exec"), {"__name__": "__main__", "__file__": "program.py"})
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # the program's own error: report it as Python would
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = code or 1
    os._exit(code)


def main() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                child(job)
            finally:
                os._exit(1)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"returncode": code}), flush=True)


if __name__ == "__main__":
    main()
