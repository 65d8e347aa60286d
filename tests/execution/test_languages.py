"""Toolchain programs in the sandbox (C++, JavaScript, Java, Go, Rust): HumanEval-X fixtures'
canonical solutions pass and wrong ones fail; compile errors are `failed` with the compiler's
first error line; hostile programs are contained, checked from the host side. One worker for the
whole module (compiles are slow); a language whose toolchain is missing skips with the package."""

import socket
import threading
from pathlib import Path

import pytest

from alchemist.execution import Limits
from alchemist.execution.languages import LANGUAGES, missing, toolchain
from alchemist.testsets.humaneval_x import program, reference
from tests.execution.language_fixtures import load

# generous: the machine is shared; a hostile program's wall clock is what bounds it
LIMITS = Limits(timeout=20.0, memory_mb=2048, file_mb=64, processes=128)
HOSTILE = Limits(timeout=5.0, memory_mb=2048, file_mb=64, processes=64, wall_timeout=30.0)
BOMB = Limits(timeout=5.0, memory_mb=2048, file_mb=64, processes=64, wall_timeout=10.0)  # stopped by the wall clock


def need(lang):
    why = missing().get(lang)
    if why:
        pytest.skip(why)


def fixtures(lang):
    _, problems, records = load("humaneval_x", lang)
    return problems, [r["wrong_solution"] for r in records]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_canonical_solutions_pass_and_wrong_ones_fail(pool, lang):
    need(lang)
    problems, wrong = fixtures(lang)
    for p, bad in zip(problems, wrong):
        ok = pool.run(lang, reference(lang, p), LIMITS)
        assert ok.status == "passed", (p.task_id, ok.stderr, ok.compile_output)
        failed = pool.run(lang, program(lang, p, p.prompt + bad), LIMITS)
        assert failed.status == "failed" and failed.stage == "run", (p.task_id, failed)


BROKEN = {"cpp": "int main() { return undefined_name; }\n", "java": "public class Main { void f() { int x = \"s\"; } }\n",
          "go": "package main\nfunc TestX(t *T) {}\n", "rust": "fn main() { let x: i32 = \"s\"; }\n"}


@pytest.mark.parametrize("lang", sorted(BROKEN))
def test_a_compile_error_is_failed_with_the_first_error_line(pool, lang):
    need(lang)
    out = pool.run(lang, BROKEN[lang], LIMITS)
    assert out.status == "failed" and out.stage == "compile"
    assert "error" in out.stderr.lower() or "undefined" in out.stderr.lower(), out
    assert "\n" not in out.stderr.strip() and out.stderr.strip() in out.compile_output


# Each tries, in its language: write a host file, read a host secret, list the inbox (other
# programs' sources), connect to a host TCP server, exec /bin/sh to touch a host file.
HOSTILE_PROGRAMS = {
    "cpp": r'''
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
int main() {
  FILE* f = fopen("@OUTSIDE@", "w"); printf("write:%d\n", f != nullptr);
  char buf[64] = {0}; FILE* r = fopen("@SECRET@", "r"); if (r) fread(buf, 1, 60, r); printf("read:%s\n", buf);
  printf("inbox:%d\n", opendir("/tmp/in") != nullptr);
  int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(@PORT@);
  a.sin_addr.s_addr = inet_addr("127.0.0.1");
  printf("connect:%d\n", s >= 0 && connect(s, (sockaddr*)&a, sizeof a) == 0);
  pid_t p = fork(); if (p == 0) { execl("/bin/sh", "sh", "-c", "touch @MARK@", (char*)0); _exit(7); }
  int st = 0; waitpid(p, &st, 0); printf("exec:%d\n", WEXITSTATUS(st) != 7);
}
''',
    "js": r'''
const fs = require("fs"), net = require("net"), cp = require("child_process");
try { fs.writeFileSync("@OUTSIDE@", "x"); console.log("write:1"); } catch (e) { console.log("write:0"); }
try { console.log("read:" + fs.readFileSync("@SECRET@", "utf8")); } catch (e) { console.log("read:"); }
try { fs.readdirSync("/tmp/in"); console.log("inbox:1"); } catch (e) { console.log("inbox:0"); }
try { cp.execFileSync("/bin/sh", ["-c", "touch @MARK@"]); console.log("exec:1"); } catch (e) { console.log("exec:0"); }
const s = net.connect(@PORT@, "127.0.0.1");
s.on("error", () => console.log("connect:0")); s.on("connect", () => { console.log("connect:1"); s.end(); });
''',
    "java": r'''
import java.io.*; import java.net.*; import java.nio.file.*;
public class Main { public static void main(String[] a) {
  try { Files.writeString(Path.of("@OUTSIDE@"), "x"); System.out.println("write:1"); } catch (Exception e) { System.out.println("write:0"); }
  try { System.out.println("read:" + Files.readString(Path.of("@SECRET@"))); } catch (Exception e) { System.out.println("read:"); }
  System.out.println("inbox:" + (new File("/tmp/in").list() != null ? 1 : 0));
  try { new Socket("127.0.0.1", @PORT@).close(); System.out.println("connect:1"); } catch (Exception e) { System.out.println("connect:0"); }
  try { new ProcessBuilder("/bin/sh", "-c", "touch @MARK@").start().waitFor(); System.out.println("exec:1"); } catch (Exception e) { System.out.println("exec:0"); }
} }
''',
    "go": r'''
package main
import ("fmt"; "net"; "os"; "os/exec"; "testing")
func TestHostile(t *testing.T) {
  fmt.Printf("write:%v\n", os.WriteFile("@OUTSIDE@", []byte("x"), 0o644) == nil)
  b, _ := os.ReadFile("@SECRET@"); fmt.Printf("read:%s\n", b)
  _, err := os.ReadDir("/tmp/in"); fmt.Printf("inbox:%v\n", err == nil)
  c, err := net.Dial("tcp", "127.0.0.1:@PORT@"); if err == nil { c.Close() }; fmt.Printf("connect:%v\n", err == nil)
  fmt.Printf("exec:%v\n", exec.Command("/bin/sh", "-c", "touch @MARK@").Run() == nil)
}
''',
    "rust": r'''
use std::io::Read;
fn main() {
  println!("write:{}", std::fs::write("@OUTSIDE@", "x").is_ok());
  let mut s = String::new(); if let Ok(mut f) = std::fs::File::open("@SECRET@") { let _ = f.read_to_string(&mut s); }
  println!("read:{}", s);
  println!("inbox:{}", std::fs::read_dir("/tmp/in").is_ok());
  println!("connect:{}", std::net::TcpStream::connect("127.0.0.1:@PORT@").is_ok());
  println!("exec:{}", std::process::Command::new("/bin/sh").args(["-c", "touch @MARK@"]).status().is_ok());
}
''',
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_hostile_program_is_contained(pool, lang, tmp_path):
    need(lang)
    outside, secret, mark = tmp_path / "outside.txt", tmp_path / "secret.txt", tmp_path / "exec-mark"
    secret.write_text("the-host-secret")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.5)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    source = (HOSTILE_PROGRAMS[lang].replace("@OUTSIDE@", str(outside)).replace("@SECRET@", str(secret))
              .replace("@MARK@", str(mark)).replace("@PORT@", str(server.getsockname()[1])))
    try:
        out = pool.run(lang, source, HOSTILE)
    finally:
        stop.set()
        t.join()
        server.close()
    assert out.stage == "run", out
    said = out.stdout
    assert not outside.exists() and not mark.exists() and not accepted, said
    assert "the-host-secret" not in said and "read:" in said, out
    assert "inbox:0" in said or "inbox:false" in said, said


# Fork bombs: C++ forks, the others exec themselves (their own binary, or node) or start threads
BOMBS = {
    "cpp": "#include <unistd.h>\nint main() { for (;;) fork(); }\n",
    "js": ("const cp = require('child_process');\n"
           "for (;;) { try { cp.spawn(process.execPath, [__filename], {stdio: 'ignore'}); } catch (e) {} }\n"),
    "java": ("public class Main { public static void main(String[] a) { for (;;) { try { new Thread(() -> {"
             " try { Thread.sleep(100000); } catch (Exception e) {} }).start(); } catch (Throwable e) {} } } }\n"),
    "go": ('package main\nimport ("os"; "os/exec"; "testing")\nfunc TestBomb(t *testing.T) {\n'
           '  for { exec.Command(os.Args[0], "-test.run=TestBomb").Start() }\n}\n'),
    "rust": ('fn main() { let me = std::env::current_exe().unwrap();\n'
             '  loop { let _ = std::process::Command::new(&me).spawn(); } }\n'),
}


def _pids(pool) -> tuple[int, int] | None:
    """(tasks now, forks refused so far) in the worker's pids cgroup, read on the host."""
    z = pool.pool._all[0]
    d = next((d for d in z.cgroup.dirs if (d / "pids.current").exists()), None)
    if d is None:
        return None
    events = (d / "pids.events").read_text().split() if (d / "pids.events").exists() else ["max", "0"]
    return int((d / "pids.current").read_text()), int(events[events.index("max") + 1])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_fork_bomb_is_capped_and_reset(pool, lang):
    need(lang)
    before = _pids(pool)
    out = pool.run(lang, BOMBS[lang], BOMB)
    assert out.status in ("timeout", "failed") and out.stage == "run", out
    after = _pids(pool)
    if before is not None and after is not None:
        assert after[0] == before[0], (before, after)  # every process of the bomb is gone
        assert after[1] > before[1] or lang == "java", (before, after)  # the pids limit refused forks
    problems, _ = fixtures(lang)  # the worker serves the next program as before
    assert pool.run(lang, reference(lang, problems[0]), LIMITS).status == "passed"


def test_missing_toolchain_names_its_package():
    for lang in LANGUAGES:
        t = toolchain(lang)
        if isinstance(t, str):
            assert "install Debian's" in t
    assert all("install Debian's" in why for why in missing().values())


HOGS = {"cpp": ("#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v;\n"
                "  for (;;) { char* p = new char[1 << 24]; memset(p, 1, 1 << 24); v.push_back(p); } }\n"),
        "js": "const a = []; for (;;) a.push(new Array(1e6).fill(1.5));\n"}


@pytest.mark.parametrize("lang", sorted(HOGS))
def test_memory_hog_is_stopped(pool, lang):
    """C++: the address-space limit; JavaScript (which reserves more address space up front): the
    worker's memory cgroup. The worker serves the next program either way."""
    need(lang)
    out = pool.run(lang, HOGS[lang], Limits(timeout=20.0, memory_mb=1024, file_mb=64, processes=128, wall_timeout=60.0))
    assert out.status == "failed" and out.returncode != 0, out
    problems, _ = fixtures(lang)
    assert pool.run(lang, reference(lang, problems[0]), LIMITS).status == "passed"


def test_humaneval_x_go_tests_with_testify(pool):
    """The published HumanEval-X Go tests import testify: found on Debian's GOPATH (/usr/share/gocode)."""
    from alchemist.execution.languages import TESTIFY
    from alchemist.testsets.base import Problem

    need("go")
    if not Path(TESTIFY).is_dir():
        pytest.skip("testify is not installed: install Debian's `golang-github-stretchr-testify-dev`")
    setup = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
    test = ("func TestBelowZero(t *testing.T) {\n    assert := assert.New(t)\n"
            "    assert.Equal(false, BelowZero([]int{1, 2, -3}))\n    assert.Equal(true, BelowZero([]int{1, -2, 5}))\n}\n")
    problems, wrong = fixtures("go")
    p = Problem("humaneval_x/go", "Go/3", problems[1].prompt, problems[1].solution, test, "BelowZero", setup=setup)
    out = pool.run("go", reference("go", p), LIMITS)
    assert out.status == "passed", (out.stdout, out.compile_output)
    assert pool.run("go", program("go", p, p.prompt + wrong[1]), LIMITS).status == "failed"


ESCAPES = r'''
#include <cstdio>
#include <csignal>
#include <dirent.h>
#include <sched.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
int main() {
  printf("unshare:%d\n", unshare(CLONE_NEWUSER) == 0);
  long c = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
  if (c == 0) _exit(0);
  printf("clone_ns:%d\n", c > 0);
  printf("ptrace:%d\n", ptrace(PTRACE_ATTACH, 1, 0, 0) == 0);
  printf("mount:%d\n", mount("none", "/tmp", "tmpfs", 0, 0) == 0);
  printf("kill_worker:%d\n", kill(1, SIGTERM) == 0);
  printf("work_dir_list:%d\n", opendir("/tmp/work") != nullptr);
  FILE* f = fopen("@LEFT@", "r"); printf("left:%d\n", f != nullptr);
  FILE* g = fopen("left.txt", "w"); if (g) { fputs("secret", g); fclose(g); }
  char cwd[256]; printf("cwd:%s\n", getcwd(cwd, sizeof cwd));
}
'''


def test_namespaces_tracing_mounts_and_leftovers_are_refused(pool):
    """A compiled program may fork and exec the toolchain, never make namespaces, trace, mount,
    signal the worker, list the work dirs, or find the file an earlier program left."""
    need("cpp")
    first = pool.run("cpp", ESCAPES.replace("@LEFT@", "/nonexistent"), HOSTILE)
    cwd = first.stdout.split("cwd:")[1].split()[0]
    second = pool.run("cpp", ESCAPES.replace("@LEFT@", f"{cwd}/left.txt"), HOSTILE)
    for out in (first, second):
        assert out.status == "passed", out
        for what in ("unshare", "clone_ns", "ptrace", "mount", "kill_worker", "work_dir_list", "left"):
            assert f"{what}:0" in out.stdout, (what, out.stdout)
