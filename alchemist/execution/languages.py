"""Programs beyond Python in the sandbox: C++ (g++), JavaScript (Node.js), Java, Go and Rust.

A toolchain spawns processes (g++ runs cc1plus, as, collect2 and ld) and a compiled program is
exec'd, so these programs run in workers of their own (`SandboxPool(toolchains=...)`) with the
same namespaces, new read-only root, capabilities, quota'd work dir and per-program reset as
Python programs, and these differences:

* exec: the seccomp filter lets fork, vfork, exec and clone through (never a clone that makes
  namespaces), and Landlock decides what may run: the execute right is given only on the
  toolchain's own files and dirs (`Toolchain.execute`), the dynamic loader, and, in the run step,
  the compiled program itself (that file, not its dir: a copy of /bin/sh written into the work dir
  does not run); every other file of the new root is readable but not executable (no /bin/sh, no
  python, no curl);
* processes: a pids limit (the worker's pids cgroup, `Limits.processes` + 8 tasks) instead of "no
  fork"; after every step the worker (PID 1 of its pid namespace) kills and reaps every process
  left in the namespace, so nothing a program started outlives it;
* steps: compile and run are separate processes with limits of their own (`compile_limits`:
  CPU, wall clock, address space, file size); a step's CPU time is its whole process tree's (the
  worker's CPU accounting cgroup: children the kernel reaps unwaited count too); a compile step that fails ends the job as `failed`
  with the compiler's first error line (`Outcome.stderr`; all it printed in `compile_output`);
  both steps' stdout and stderr lie where the program cannot write (it cannot erase the stderr
  that fails a JavaScript program);
* memory: the address-space rlimit is the job's, except for toolchains that reserve large
  virtual ranges up front (the JVM, Go): those get `address_space_mb` and are held by the
  worker's memory cgroup;
* verdict: the run step's exit status (0 passes; for JavaScript, as in HumanEval-X's own
  executor, anything on stderr fails too, since `console.assert` only prints). A program can
  forge a pass by exiting 0 early, as under the benchmarks' own executors: these verdicts are
  only as strong as the test's main.
Toolchain paths are found once on the host (`toolchains()`); a language whose toolchain is not
installed is reported with the package that provides it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from functools import cache

from alchemist.execution.sandbox import Limits, Outcome, SandboxPool, layers
from alchemist.paths import cache_dir

# Debian's packages (the project's install step installs them); rustup's rustc also works
PACKAGES = {"cpp": "g++", "js": "nodejs", "java": "openjdk-17-jdk-headless", "go": "golang-go", "rust": "rustc"}
TITLES = {"cpp": "C++", "js": "JavaScript", "java": "Java", "go": "Go", "rust": "Rust"}
LANGUAGES = tuple(PACKAGES)
ALIASES = {"c++": "cpp", "cxx": "cpp", "javascript": "js", "node": "js", "golang": "go", "rs": "rust"}
# CPU seconds a compile step may take (javac and rustc --test are slow on a loaded machine)
COMPILE_CPU = 60.0
LANGUAGE_LIMITS = Limits(timeout=10.0, memory_mb=2048, file_mb=64, processes=128)


@dataclass(frozen=True)
class Toolchain:
    language: str
    source_name: str  # the file the program is written to
    compile: tuple[str, ...] | None  # argv of the compile step (None: interpreted)
    run: tuple[str, ...]  # argv of the run step
    execute: tuple[str, ...]  # files and dirs with Landlock's execute right
    read: tuple[str, ...] = ()  # trees outside the system dirs it reads (bound read-only)
    env: dict = field(default_factory=dict)
    executable: tuple[str, ...] = ()  # outputs of the compile step made executable
    stderr_fails: bool = False
    address_space_mb: int | None = None  # for toolchains that reserve large virtual ranges


def normalize(language: str | None) -> str | None:
    lang = (language or "").strip().lower()
    lang = ALIASES.get(lang, lang)
    return lang if lang in PACKAGES else None


def _real(path: str | None) -> str | None:
    return os.path.realpath(path) if path and os.path.exists(path) else None


def _loader() -> list[str]:
    """The dynamic loader: exec of a dynamically linked binary opens it for execution too."""
    return sorted({os.path.realpath(p) for p in glob.glob("/lib64/ld-linux*.so*") + glob.glob("/lib/ld-linux*.so*")})


def _ask(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _gcc_parts(driver: str) -> list[str]:
    """What a gcc driver executes: its programs dir (cc1plus, collect2, lto-wrapper), as, ld."""
    parts = [driver]
    for prog in ("cc1plus", "cc1", "collect2"):
        found = _ask([driver, f"-print-prog-name={prog}"])
        if found.startswith("/"):
            parts.append(os.path.dirname(os.path.realpath(found)))
    for tool in ("as", "ld", "ld.bfd"):
        if (p := _real(shutil.which(tool))) is not None:
            parts.append(p)
    return parts


CPP_FLAGS = ("-std=c++17", "-O1")
# The standard headers HumanEval-X's executor adds to every C++ program (and assert.h), precompiled
# once per machine: a compile step takes about half the time (benchmarks/language_throughput.py)
PCH_HEADERS = ("stdlib.h", "algorithm", "math.h", "stdio.h", "vector", "string", "climits", "cstring", "iostream",
               "assert.h", "map", "set")


def precompiled_header(gxx: str) -> str | None:
    """The header (its .gch beside it) built once in alchemist's cache by the host's g++ (trusted:
    the header is ours), keyed by the compiler's version and flags; None when it cannot be built."""
    text = "".join(f"#include <{h}>\n" for h in PCH_HEADERS)
    key = hashlib.blake2b(json.dumps([_ask([gxx, "--version"]), CPP_FLAGS, text]).encode(), digest_size=8).hexdigest()
    folder = str(cache_dir() / "pch" / key)
    header = os.path.join(folder, "alchemist_pch.h")
    if os.path.isfile(header + ".gch"):
        return header
    try:
        os.makedirs(folder, exist_ok=True)
        # replaced whole, never rewritten in place: another process' g++ may be reading it (a
        # header truncated under it would be precompiled half, for every later program)
        with open(f"{header}.{os.getpid()}", "w") as f:
            f.write(text)
        os.replace(f"{header}.{os.getpid()}", header)
        tmp = f"{header}.{os.getpid()}.gch"
        r = subprocess.run([gxx, *CPP_FLAGS, "-x", "c++-header", header, "-o", tmp], capture_output=True, timeout=300)
        if r.returncode != 0:
            return None
        os.replace(tmp, header + ".gch")
    except (OSError, subprocess.SubprocessError):
        return None
    return header


def _cpp(compile_cache: bool = True) -> Toolchain | str:
    gxx = _real(shutil.which("g++"))
    if gxx is None:
        return "g++ is not installed"
    pch = precompiled_header(gxx) if compile_cache else None
    include = ("-include", pch) if pch else ()
    return Toolchain("cpp", "main.cpp", (gxx, *CPP_FLAGS, *include, "-o", "prog", "main.cpp"), ("./prog",),
                     tuple(_gcc_parts(gxx)), read=(os.path.dirname(pch),) if pch else (), executable=("prog",))


def _js() -> Toolchain | str:
    node = _real(shutil.which("node") or shutil.which("nodejs"))
    if node is None:
        return "node is not installed"
    return Toolchain("js", "main.js", None, (node, "main.js"), (node,), stderr_fails=True, address_space_mb=16384)


def _outside_system(home: str) -> list[str]:
    """Where the symlinks of a JDK tree point outside the system dirs (Debian's /etc/java-17-openjdk)."""
    found = set()
    for p in glob.glob(home + "/*") + glob.glob(home + "/*/*") + glob.glob(home + "/*/*/*"):
        if os.path.islink(p):
            target = os.path.realpath(p)
            if target.startswith("/etc/") and os.path.exists(target):
                found.add("/".join(target.split("/")[:3]))  # /etc/java-17-openjdk
    return sorted(found)


def _java() -> Toolchain | str:
    javac, java = _real(shutil.which("javac")), _real(shutil.which("java"))
    if javac is None or java is None:
        return "javac is not installed"
    home = os.path.dirname(os.path.dirname(javac))
    jvm = ("-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")
    return Toolchain("java", "Main.java", (javac, *(f"-J{o}" for o in jvm), "-encoding", "UTF-8", "-nowarn", "Main.java"),
                     (java, *jvm, "-ea", "-Xss64m", "-cp", ".", "Main"), (javac, java), read=tuple(_outside_system(home)),
                     address_space_mb=16384)


GOCODE = "/usr/share/gocode"
TESTIFY = GOCODE + "/src/github.com/stretchr/testify/assert"


def _go() -> Toolchain | str:
    go = _real(shutil.which("go"))
    if go is None:
        return "go is not installed"
    root = os.path.dirname(os.path.dirname(go))
    tools = glob.glob(root + "/pkg/tool/*")
    # Debian's Go libraries (golang-github-stretchr-testify-dev: HumanEval-X's Go tests import testify)
    gopath = ":".join(["{work}/.gopath", *([GOCODE] if os.path.isdir(GOCODE) else [])])
    env = {"GOROOT": root, "GOCACHE": "{work}/.gocache", "GOPATH": gopath, "GO111MODULE": "off", "CGO_ENABLED": "0",
           "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "GOTELEMETRY": "off"}
    return Toolchain("go", "main_test.go", (go, "test", "-c", "-vet=off", "-o", "prog", "main_test.go"),
                     ("./prog", "-test.count=1"), (go, *tools), env=env, executable=("prog",), address_space_mb=16384)


def _rust() -> Toolchain | str:
    rustc = shutil.which("rustc") or shutil.which("rustc", path=os.path.expanduser("~/.cargo/bin"))
    if rustc is None:
        return "rustc is not installed"
    sysroot = _ask([rustc, "--print", "sysroot"])
    real = os.path.join(sysroot, "bin", "rustc")
    cc = _real(shutil.which("cc") or shutil.which("gcc"))
    if not sysroot or not os.path.exists(real) or cc is None:
        return "rustc or its linker (cc) is not usable"
    system = any(sysroot == d or sysroot.startswith(d + "/") for d in ("/usr", "/lib"))
    execute = (real, *glob.glob(sysroot + "/lib/rustlib/*/bin"), *_gcc_parts(cc))
    return Toolchain("rust", "main.rs", (real, "--edition", "2021", "--test", "-A", "warnings", "-C", f"linker={cc}",
                                         "-C", "debuginfo=0", "-o", "prog", "main.rs"),
                     ("./prog", "--test-threads=1", "-q"), execute, read=() if system else (sysroot,),
                     executable=("prog",))


FINDERS = {"cpp": _cpp, "js": _js, "java": _java, "go": _go, "rust": _rust}


@cache
def toolchain(language: str, compile_cache: bool = True) -> Toolchain | str:
    """The language's toolchain on this machine, or why it is missing (naming the package).
    `compile_cache`: C++ compiles with a precompiled header of the standard headers."""
    found = FINDERS[language](compile_cache) if language == "cpp" else FINDERS[language]()
    if isinstance(found, str):
        return f"{found}: install Debian's `{PACKAGES[language]}`"
    return found


def available(compile_cache: bool = True) -> dict[str, Toolchain]:
    return {lang: t for lang in LANGUAGES if isinstance(t := toolchain(lang, compile_cache), Toolchain)}


def missing() -> dict[str, str]:
    """language -> why it cannot run here."""
    return {lang: t for lang in LANGUAGES if isinstance(t := toolchain(lang, False), str)}


def toolchains_argument(tools: dict[str, Toolchain]) -> str:
    """What the worker is told (`--toolchains`): per language what it reads and executes."""
    loader = _loader()
    return json.dumps({lang: {"read": list(t.read), "exec": [*t.execute, *loader]} for lang, t in sorted(tools.items())})


# What counts as a program's own checks, per language (asserts in a main, Go Test functions or a
# panicking main, Rust's assert macros or #[test]s): a program without any tests nothing
OWN_CHECKS = {"cpp": re.compile(r"\bassert\s*\("), "js": re.compile(r"\bassert\b|console\.assert"),
              "java": re.compile(r"\bassert\b|throw\s+new\s+AssertionError"),
              "go": re.compile(r"^func\s+Test\w*\(|\bpanic\(", re.M),
              "rust": re.compile(r"\bassert(_eq|_ne)?!|#\[test\]")}
_JAVA_PUBLIC_CLASS = re.compile(r"public\s+(?:final\s+)?class\s+(\w+)")


def has_checks(language: str, code: str) -> bool:
    return bool(OWN_CHECKS[language].search(code))


def as_program(language: str, code: str) -> str:
    """An answer's code as the file the toolchain builds: Java's public class is Main (the file is
    Main.java), Go code gets `package main` when it has no package clause."""
    if language == "java" and (m := _JAVA_PUBLIC_CLASS.search(code)) and m.group(1) != "Main":
        code = re.sub(rf"\b{m.group(1)}\b", "Main", code)
    if language == "go" and not re.search(r"^package\s+\w+", code, re.M):
        code = "package main\n\n" + code
    return code


GO_TESTS = re.compile(r"^func\s+Test\w*\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)


def rust_needs_main(source: str) -> bool:
    """A Rust program without #[test] functions runs its main (with asserts) instead of the harness."""
    return "#[test]" not in source


def job(t: Toolchain, source: str, limits: Limits, compile_limits: Limits | None = None) -> dict:
    """The worker's job fields for a toolchain program: its file name and steps."""
    # the compile step's own limits: never the run's wall ceiling (a compiler on a loaded machine)
    compile_limits = compile_limits or replace(limits, timeout=max(COMPILE_CPU, limits.timeout), wall_timeout=None)
    memory = max(limits.memory_mb, t.address_space_mb or 0)
    compile_argv, run_argv, name = t.compile, t.run, t.source_name
    if t.language == "rust" and rust_needs_main(source):
        compile_argv = tuple(a for a in t.compile if a != "--test")
        run_argv = ("./prog",)
    if t.language == "go" and not GO_TESTS.search(source):  # a main that checks: built and run as a command
        name = "main.go"
        compile_argv = (t.compile[0], "build", "-o", "prog", name)
        run_argv = ("./prog",)
    steps = []
    if compile_argv:
        steps.append({"role": "compile", "argv": list(compile_argv), "cpu": compile_limits.timeout,
                      "wall": compile_limits.wall, "memory_mb": max(compile_limits.memory_mb, t.address_space_mb or 0),
                      "executable": list(t.executable)})
    steps.append({"role": "run", "argv": list(run_argv), "cpu": limits.timeout, "wall": limits.wall, "memory_mb": memory})
    return {"language": t.language, "source_name": name, "steps": steps, "env": t.env,
            "stderr_fails": t.stderr_fails}


class LanguagePool:
    """Sandbox workers for toolchain programs (every toolchain found here); `run` is safe to call
    from a thread pool (one worker per thread)."""

    def __init__(self, require_isolation: bool = False, compile_cache: bool = True):
        self.tools = available(compile_cache)
        self.pool = SandboxPool(require_isolation, toolchains=toolchains_argument(self.tools))

    def run(self, language: str, source: str, limits: Limits = LANGUAGE_LIMITS,
            compile_limits: Limits | None = None) -> Outcome:
        lang = normalize(language)
        if lang is None or lang not in self.tools:
            why = toolchain(lang) if lang else f"no toolchain for '{language}' (known: {', '.join(LANGUAGES)})"
            raise LookupError(why)
        return self.pool.run(source, limits, program=job(self.tools[lang], source, limits, compile_limits))

    def close(self) -> None:
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_language(language: str, source: str, limits: Limits = LANGUAGE_LIMITS) -> Outcome:
    """One toolchain program in a worker of its own (the simple path)."""
    with LanguagePool() as pool:
        return pool.run(language, source, limits)


# What differs for C++/JavaScript/Java/Go/Rust programs (languages.py); every other layer is the same
TOOLCHAIN_PROGRAMS = (
    "workers of their own; exec allowed by seccomp and decided by Landlock: the execute right only on the "
    "toolchain's own binaries, the dynamic loader and the compiled program itself (not its work dir); fork and "
    "clone allowed (never with namespace flags), capped by the worker's pids cgroup; compile and run are separate "
    "processes with their own CPU (the whole process tree's), wall, address-space and file limits (a compile "
    "error is `failed` with the compiler's first error line; both steps' outputs lie where the program cannot "
    "write); after each step every "
    "process left in the worker's pid namespace is killed and reaped; the verdict is the run's exit status "
    "(JavaScript: and an empty stderr)")


def isolation() -> dict:
    """What the sandbox enforces on this machine, layer by layer, for results.json: the layers of
    Python programs, what differs for toolchain programs, and which languages run here."""
    return {**layers(), "toolchain_programs": TOOLCHAIN_PROGRAMS,
            "languages": {lang: "runs" for lang in available(compile_cache=False)} | missing()}
