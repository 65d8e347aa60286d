"""Attacks on the toolchain path (C++, JavaScript, Java, Go, Rust programs), written as a hostile
program author would: forge a verdict, poison a later program on the same worker, escape the
allowed view or exhaust the host through the compiler. Each outcome is checked from the host side
(host files, the worker's pids cgroup, a later canonical program's verdict). One worker for the
module (conftest's `pool`); a language whose toolchain is missing skips with its package."""

import hashlib
from pathlib import Path

import pytest

from alchemist.execution import Limits
from alchemist.execution.languages import PCH_HEADERS, missing, precompiled_header, toolchain

LIMITS = Limits(timeout=20.0, memory_mb=2048, file_mb=64, processes=64, wall_timeout=60.0)
# a compile limit short enough for attacks that would compile forever (CPU seconds; no wall ceiling)
SHORT_COMPILE = Limits(timeout=5.0, memory_mb=2048, file_mb=64, processes=64)
CANONICAL = {"cpp": "#include <cassert>\nint main() { assert(1 + 1 == 2); }\n",
             "js": "console.assert(1 + 1 === 2);\n",
             "rust": "fn main() { assert_eq!(1 + 1, 2); }\n",
             "go": 'package main\nimport "testing"\nfunc TestOne(t *testing.T) { if 1+1 != 2 { t.Fatal("no") } }\n'}


def need(*langs):
    for lang in langs:
        if why := missing().get(lang):
            pytest.skip(why)


def still_serves(pool, lang):
    """The worker runs the next (honest) program as before."""
    assert pool.run(lang, CANONICAL[lang], LIMITS).status == "passed"


def _pids(pool) -> int | None:
    """Tasks now in the worker's pids cgroup, read on the host."""
    z = pool.pool._all[0]
    d = next((d for d in z.cgroup.dirs if (d / "pids.current").exists()), None)
    return None if d is None else int((d / "pids.current").read_text())


# A copy of /bin/sh written into the work dir (it is writable, and a file can be created with
# mode 0755): the execute right there covers only the compiled program itself, so the copy
# does not run; neither does the toolchain's own compiler output built at run time
COPY_AND_EXEC = {
    "cpp": r'''
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>
int main() {
  int in = open("/bin/sh", O_RDONLY), out = open("mysh", O_WRONLY | O_CREAT | O_TRUNC, 0755);
  char buf[65536]; ssize_t n; while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in); close(out);
  pid_t p = fork(); if (p == 0) { execl("./mysh", "sh", "-c", "echo SHELL-RAN; touch @MARK@", (char*)0); _exit(7); }
  int st = 0; waitpid(p, &st, 0); printf("copied:%d\n", WEXITSTATUS(st));
  return WEXITSTATUS(st) == 7 ? 1 : 0;
}
''',
    "js": r'''
const fs = require("fs"), cp = require("child_process");
fs.writeFileSync("mysh", fs.readFileSync("/bin/sh"), {mode: 0o755});
let ran = false;
try { cp.execFileSync("./mysh", ["-c", "echo SHELL-RAN; touch @MARK@"], {stdio: "inherit"}); ran = true; } catch (e) {}
console.log("copied:" + ran);
process.exit(ran ? 0 : 1);
''',
    "go": r'''
package main
import ("fmt"; "os"; "os/exec"; "testing")
func TestCopy(t *testing.T) {
  b, _ := os.ReadFile("/bin/sh")
  os.WriteFile("mysh", b, 0o755)
  out, err := exec.Command("./mysh", "-c", "echo SHELL-RAN; touch @MARK@").Output()
  fmt.Printf("%scopied:%v\n", out, err == nil)
  if err != nil { t.Fatal("refused") }
}
''',
}


@pytest.mark.parametrize("lang", ["cpp", "js", "go"])
def test_a_binary_written_into_the_work_dir_does_not_run(pool, lang, tmp_path):
    need(lang)
    mark = tmp_path / "mark"
    out = pool.run(lang, COPY_AND_EXEC[lang].replace("@MARK@", str(mark)), LIMITS)
    assert out.stage == "run" and "copied:" in out.stdout, out
    assert "SHELL-RAN" not in out.stdout and not mark.exists(), out
    assert out.status == "failed", out
    still_serves(pool, lang)


def test_a_cpp_program_cannot_build_and_run_another_program_at_run_time(pool):
    need("cpp")
    gxx = toolchain("cpp").compile[0]
    source = r'''
#include <cstdio>
#include <unistd.h>
#include <sys/wait.h>
int main() {
  FILE* f = fopen("x.cpp", "w"); fputs("int main() { return 0; }\n", f); fclose(f);
  pid_t p = fork(); if (p == 0) { execl("@GXX@", "g++", "-o", "x", "x.cpp", (char*)0); _exit(7); }
  int st = 0; waitpid(p, &st, 0); printf("built:%d\n", WEXITSTATUS(st));
  p = fork(); if (p == 0) { execl("./x", "x", (char*)0); _exit(7); }
  waitpid(p, &st, 0); printf("ran:%d\n", WEXITSTATUS(st) != 7);
  return WEXITSTATUS(st) == 7 ? 1 : 0;
}
'''.replace("@GXX@", gxx)
    out = pool.run("cpp", source, LIMITS)
    assert "ran:0" in out.stdout and out.status == "failed", out


def test_javascript_cannot_erase_the_stderr_that_fails_it(pool):
    """JavaScript fails on anything printed to stderr (console.assert only prints): the program
    truncates every stderr file it can name (its own, the compiler's) after a failed assert."""
    need("js")
    source = r'''
console.assert(1 === 2, "wrong answer");
const fs = require("fs");
for (const p of ["stderr", "../o/stderr", "../c/stderr", "/proc/self/fd/2"]) {
  try { fs.truncateSync(p); console.log("truncated " + p); } catch (e) {}
}
'''
    out = pool.run("js", source, LIMITS)
    assert out.status == "failed" and "wrong answer" in out.stderr, out
    still_serves(pool, "js")


def test_a_forked_child_exiting_zero_does_not_pass_a_failing_program(pool):
    need("cpp")
    source = r'''
#include <cassert>
#include <unistd.h>
int main() { if (fork() == 0) _exit(0); usleep(100000); assert(1 + 1 == 3); }
'''
    out = pool.run("cpp", source, LIMITS)
    assert out.status == "failed" and out.returncode != 0, out


def test_processes_that_keep_changing_pid_and_session_do_not_outlive_the_step(pool):
    """Walkers: each forks, the parent exits, the child starts a session of its own, forever (a
    process that is never where the worker last saw it). None survives into the next program."""
    need("cpp")
    still_serves(pool, "cpp")
    before = _pids(pool)
    source = r'''
#include <unistd.h>
int main() {
  for (int i = 0; i < 8; i++)
    if (fork() == 0) for (;;) { pid_t p = fork(); if (p > 0) _exit(0); if (p == 0) setsid(); }
  usleep(300000);
  return 0;
}
'''
    for _ in range(2):
        pool.run("cpp", source, LIMITS)
        if before is not None:
            assert _pids(pool) == before
        still_serves(pool, "cpp")


# Reading host files through the compiler: an #include, .incbin or include_str! of a host file
# would put it into the compile error that is reported back (or into the program)
@pytest.mark.parametrize("lang,template", [
    ("cpp", '#include "@SECRET@"\nint main() {}\n'),
    ("cpp", '#include "/proc/1/environ"\nint main() {}\n'),
    ("cpp", 'asm(".incbin \\"@SECRET@\\"");\nint main() {}\n'),  # the assembler reads it
    ("rust", 'const S: &str = include_str!("@SECRET@");\nfn main() { assert!(S.is_empty()); }\n'),
])
def test_the_compiler_reads_no_host_file(pool, lang, template, tmp_path):
    need(lang)
    secret = tmp_path / "secret.h"
    secret.write_text('"the-host-secret"\n')
    out = pool.run(lang, template.replace("@SECRET@", str(secret)), LIMITS)
    assert out.stage == "compile" and out.status == "failed", out
    said = out.stdout + out.stderr + out.compile_output
    assert "the-host-secret" not in said and "PATH=" not in said, out


# Compiles that never end or grow without bound: the compile step's own limits stop them
@pytest.mark.parametrize("lang,source", [
    ("cpp", '#include "/dev/zero"\nint main() {}\n'),
    ("rust", '#![allow(long_running_const_eval)]\n'
             'const X: u64 = { let mut i = 0u64; while i < u64::MAX { i += 1; } i };\n'
             'fn main() { assert!(X > 0); }\n'),
    ("rust", '#![recursion_limit = "100000000"]\n'
             'macro_rules! m { ($($t:tt)*) => { m!($($t)* $($t)*); }; }\nm!(x);\nfn main() {}\n'),
], ids=["cpp-include-dev-zero", "rust-const-eval-loop", "rust-macro-recursion"])
def test_compile_limits_hold(pool, lang, source):
    need(lang)
    out = pool.run(lang, source, LIMITS, compile_limits=SHORT_COMPILE)
    assert out.stage == "compile" and out.status in ("failed", "timeout"), out
    still_serves(pool, lang)


def test_the_precompiled_header_cache_cannot_be_poisoned(pool):
    """C++ programs compile with a precompiled header from alchemist's cache: a program (at run
    time; a compile step is only g++) cannot rewrite it or place a file beside it."""
    need("cpp")
    t = toolchain("cpp")
    if "-include" not in t.compile:
        pytest.skip("no precompiled header on this machine")
    header = t.compile[t.compile.index("-include") + 1]
    gch = header + ".gch"
    digest = hashlib.sha256(open(gch, "rb").read()).hexdigest()
    source = r'''
#include <cstdio>
int main() {
  FILE* f = fopen("@GCH@", "r+"); printf("rewrite:%d\n", f != nullptr); if (f) { fputs("poison", f); fclose(f); }
  FILE* g = fopen("@HEADER@.x.gch", "w"); printf("beside:%d\n", g != nullptr);
  return 1;
}
'''.replace("@GCH@", gch).replace("@HEADER@", header)
    out = pool.run("cpp", source, LIMITS)
    assert "rewrite:0" in out.stdout and "beside:0" in out.stdout, out
    assert hashlib.sha256(open(gch, "rb").read()).hexdigest() == digest
    still_serves(pool, "cpp")


def test_no_ipc_object_or_key_carries_over_to_a_later_program(pool):
    """A SysV shared memory segment or a kernel key left behind would be a channel to (and a way
    to change the result of) the next program on the worker: both are refused."""
    need("cpp")
    leave = r'''
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>
int main() {
  int id = shmget(4242, 4096, IPC_CREAT | 0666); printf("shm:%d\n", id >= 0);
  if (id >= 0) { char* p = (char*)shmat(id, 0, 0); if (p != (char*)-1) strcpy(p, "left-behind"); }
  printf("key:%d\n", syscall(SYS_add_key, "user", "left", "left-behind", 11, KEY_SPEC_USER_KEYRING) >= 0);
  return 0;
}
'''
    find = r'''
#include <cstdio>
#include <unistd.h>
#include <sys/shm.h>
#include <sys/syscall.h>
int main() {
  int id = shmget(4242, 0, 0); long k = syscall(SYS_request_key, "user", "left", 0, 0);
  printf("found shm:%d key:%d\n", id >= 0, k >= 0);
  return id >= 0 || k >= 0;
}
'''
    out = pool.run("cpp", leave, LIMITS)
    assert "shm:0" in out.stdout and "key:0" in out.stdout, out
    later = pool.run("cpp", find, LIMITS)
    assert later.status == "passed" and "found shm:0 key:0" in later.stdout, later


def test_a_half_written_precompiled_header_is_rebuilt_whole(monkeypatch, tmp_path):
    """A header left half-written (a build interrupted, or truncated by another process' build)
    without its .gch is replaced whole, and the .gch built from it holds every standard header."""
    need("cpp")
    monkeypatch.setenv("ALCHEMIST_CACHE", str(tmp_path))
    gxx = toolchain("cpp").compile[0]
    first = precompiled_header(gxx)
    assert first is not None
    Path(first + ".gch").unlink()
    Path(first).write_text("#include <stdlib.h>\n")  # the rest never written
    header = precompiled_header(gxx)
    assert header == first and Path(header).read_text() == "".join(f"#include <{h}>\n" for h in PCH_HEADERS)
    assert sorted(p.name for p in Path(header).parent.iterdir()) == ["alchemist_pch.h", "alchemist_pch.h.gch"]


def test_the_cpu_limit_holds_for_the_whole_process_tree(pool):
    """RLIMIT_CPU is per process and a step's rusage holds only the children it waited for:
    children the kernel reaps (SIGCHLD ignored) would burn the limit each, processes x limit in
    all. A step's CPU is its cgroup's (the whole tree's), so this is a timeout."""
    need("cpp")
    if not any((d / "cpuacct.usage").exists() or (d / "cpu.stat").exists() for d in pool.pool._all[0].cgroup.dirs):
        pytest.skip("no CPU accounting cgroup here (cpuacct, or cgroup v2)")
    source = r'''
#include <csignal>
#include <cstdio>
#include <ctime>
#include <unistd.h>
static double cpu() { timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main() {
  signal(SIGCHLD, SIG_IGN);  // children reaped by the kernel: their CPU never reaches this rusage
  pid_t kids[6];
  for (int i = 0; i < 6; i++) if ((kids[i] = fork()) == 0) { volatile long x = 0; while (cpu() < 0.8) x++; _exit(0); }
  for (int i = 0; i < 6; i++) while (kill(kids[i], 0) == 0) usleep(20000);
  printf("burned: 6 x 0.8 CPU seconds\n");
  return 0;
}
'''
    out = pool.run("cpp", source, Limits(timeout=1.0, memory_mb=2048, file_mb=64, processes=64, wall_timeout=120.0),
                   compile_limits=LIMITS)
    assert "burned" in out.stdout or out.status == "timeout", out
    assert out.status == "timeout", out  # 4.8 CPU seconds against a limit of 1
