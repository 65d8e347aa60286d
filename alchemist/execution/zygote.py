"""The sandbox worker: a warm, single-threaded interpreter that forks one confined child per
program (standard library only; started as `python -I -B zygote.py SCRATCH`).

Once, at start (per worker):
  * own user, mount, pid, network, ipc and uts namespaces (`unshare` through ctypes; the
    first fork after it is PID 1 of the new pid namespace and becomes the worker);
  * every mount read-only (`mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)`), a fresh read-only
    `/proc` for the pid namespace (the harness is not in it), a private tmpfs on `/tmp`, and the
    harness' scratch directory bound read-write at `/tmp/work` (the programs' work dirs);
  * every capability dropped (bounding, ambient, effective, permitted), `no_new_privs`, not
    dumpable; the seccomp filter compiled to BPF; the Landlock read rules opened.
Per program (after fork): `setsid`, rlimits, the environment reduced, every inherited fd
closed, Landlock (read/execute on the interpreter and system dirs only, full access in the work
dir, no TCP bind/connect, no signals or abstract sockets outside its own domain), then the
seccomp filter via prctl.

Protocol on stdin/stdout. The zygote says one JSON line first, {"layers": {...}}: what held.
Then per job the harness sends one JSON line {"id", "cpu", "wall", "memory_mb", "file_mb",
"processes", "checks": [names] | null} and the zygote answers one line {"status", "returncode",
"checks_returncode", "cpu", "wall"}. The program is WORK/id/program.py. With "checks", the
checks are WORK/id.checks/checks.py, run in a second child (see `checker`): the verdict is that
process' exit status, and the program's process can neither read the checks nor touch it.
"""

import ctypes
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import traceback

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
CLONE_THREAD = 0x10000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 22, 38, 47, 4
SECCOMP_MODE_FILTER = 2
SYS_MOUNT_SETATTR, SYS_LL_CREATE, SYS_LL_ADD, SYS_LL_RESTRICT = 442, 444, 445, 446  # same number on every arch
WORK_IN_NS = "/tmp/work"
CHECKS_SUFFIX = ".checks"


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


# ---------------------------------------------------------------- namespaces, mounts, capabilities

def enter_namespaces() -> None:
    """unshare(user, mount, pid, net, ipc, uts) and map uid/gid 0 to ours. The caller forks next:
    the child is PID 1 of the new pid namespace."""
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _mount(src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def confine_filesystem(scratch: str) -> None:
    """In the new mount namespace (as its PID 1): everything read-only, fresh /proc, private /tmp,
    the scratch directory read-write at /tmp/work."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch_fd = os.open(scratch, os.O_PATH | os.O_DIRECTORY)
    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)),
           "mount_setattr(/, read-only)")
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m")
    os.mkdir(WORK_IN_NS)
    _mount(f"/proc/self/fd/{scratch_fd}", WORK_IN_NS, None, MS_BIND)
    _mount(None, WORK_IN_NS, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)  # the clone of a ro mount: rw again
    os.close(scratch_fd)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    try:
        libc.sethostname(b"sandbox", 7)
    except AttributeError:
        pass


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except OSError:
        last = 63
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    data = (CapData * 2)()
    _check(libc.capset(ctypes.byref(CapHeader(0x20080522, 0)), data), "capset")


def capabilities_left() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return -1


# ---------------------------------------------------------------- seccomp (a BPF program, built once)

# x86_64 numbers. Refused with EPERM: process creation (clone without CLONE_THREAD below), exec,
# tracing, mounts and namespaces, bpf, keys, io_uring, userfaultfd, perf, modules, reboot, fd
# stealing, handle-based opens, and the rest of the administrative calls.
DENY_X86_64 = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "ptrace": 101, "process_vm_readv": 310,
    "process_vm_writev": 311, "process_madvise": 440, "kcmp": 312, "pidfd_getfd": 438,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "bpf": 321, "keyctl": 250, "add_key": 248, "request_key": 249,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 323,
    "perf_event_open": 298, "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246,
    "kexec_file_load": 320, "reboot": 169, "name_to_handle_at": 303, "open_by_handle_at": 304, "swapon": 167,
    "swapoff": 168, "acct": 163, "iopl": 172, "ioperm": 173, "modify_ldt": 154, "quotactl": 179, "quotactl_fd": 443,
    "lookup_dcookie": 212, "syslog": 103, "vhangup": 153, "settimeofday": 164, "clock_settime": 227,
    "clock_adjtime": 305, "adjtimex": 159, "uselib": 134, "personality": 135, "fanotify_init": 300,
    # metadata by path: Landlock does not cover chmod/chown/utime, and the work dirs' mount is
    # writable (the fd-based calls stay: Landlock already refuses to open a file outside)
    "chmod": 90, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "lchown": 94, "fchownat": 260, "utime": 132,
    "utimes": 235, "futimesat": 261,
}
NR_UTIMENSAT = 280  # allowed only with a NULL path (futimens)
NR_CLONE, NR_CLONE3, NR_SOCKET, NR_SOCKETPAIR = 56, 435, 41, 53
AUDIT_ARCH_X86_64 = 0xC000003E
RET_KILL, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
EPERM, ENOSYS, AF_UNIX = 1, 38, 1
LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program() -> bytes:
    """The filter as raw `struct sock_filter`s: native ABI only (others killed, x32 included),
    the DENY list refused, clone3 ENOSYS (libc falls back to clone), clone only with
    CLONE_THREAD, socket/socketpair only for AF_UNIX, utimensat only on an fd."""
    ins: list = []  # (code, jt, jf, k), jt/jf a label or an offset

    def op(code, k, jt=0, jf=0):
        ins.append([code, jt, jf, k])

    op(LD_W_ABS, 4)  # seccomp_data.arch
    op(JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    op(LD_W_ABS, 0)  # seccomp_data.nr
    op(JGE, 0x40000000, "kill", 0)  # x32 ABI
    for nr in sorted(DENY_X86_64.values()):
        op(JEQ, nr, "eperm", 0)
    op(JEQ, NR_CLONE3, "enosys", 0)
    op(JEQ, NR_CLONE, "clone", 0)
    op(JEQ, NR_SOCKET, "socket", 0)
    op(JEQ, NR_SOCKETPAIR, "socket", 0)
    op(JEQ, NR_UTIMENSAT, "utimensat", 0)
    labels = {}
    op(RET, RET_ALLOW)
    labels["utimensat"] = len(ins)
    op(LD_W_ABS, 24)  # args[1] low half: the path
    op(JEQ, 0, 0, "eperm")
    op(LD_W_ABS, 28)  # args[1] high half
    op(JEQ, 0, "allow", "eperm")
    labels["clone"] = len(ins)
    op(LD_W_ABS, 16)  # args[0] (low 32 bits): clone flags
    op(JSET, CLONE_THREAD, "allow", "eperm")
    labels["socket"] = len(ins)
    op(LD_W_ABS, 16)  # args[0]: the address family
    op(JEQ, AF_UNIX, "allow", "eperm")
    for name, ret in (("allow", RET_ALLOW), ("eperm", RET_ERRNO | EPERM), ("enosys", RET_ERRNO | ENOSYS),
                      ("kill", RET_KILL)):
        labels[name] = len(ins)
        op(RET, ret)
    out = b""
    for i, (code, jt, jf, k) in enumerate(ins):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", code, jt, jf, k)
    return out


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def compile_seccomp():
    """A ready prctl argument (kept alive by the caller), or None where the filter is not native."""
    if platform.machine() != "x86_64":
        return None
    prog = seccomp_program()
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    return fprog, buf


def load_seccomp(compiled) -> None:
    fprog, _buf = compiled
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


# ---------------------------------------------------------------- Landlock

FS = {"execute": 1 << 0, "write_file": 1 << 1, "read_file": 1 << 2, "read_dir": 1 << 3, "remove_dir": 1 << 4,
      "remove_file": 1 << 5, "make_char": 1 << 6, "make_dir": 1 << 7, "make_reg": 1 << 8, "make_sock": 1 << 9,
      "make_fifo": 1 << 10, "make_block": 1 << 11, "make_sym": 1 << 12, "refer": 1 << 13, "truncate": 1 << 14,
      "ioctl_dev": 1 << 15}
FS_FILE_ONLY = FS["execute"] | FS["write_file"] | FS["read_file"] | FS["truncate"] | FS["ioctl_dev"]
READ = FS["execute"] | FS["read_file"] | FS["read_dir"]
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1, 2


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    abi = libc.syscall(SYS_LL_CREATE, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    return abi if abi > 0 else 0


def landlock_fs_rights(abi: int) -> int:
    bits = 13 if abi == 1 else 14 if abi == 2 else 15 if abi in (3, 4) else 16
    return (1 << bits) - 1


def read_paths() -> list[str]:
    """What programs may read: the interpreter, its libraries, system libraries and a few files."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/usr", "/lib", "/lib64", "/bin",
             "/proc", "/sys/devices/system/cpu", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
             "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mime.types"}
    paths |= {p for p in sys.path if p.startswith("/") and os.path.isdir(p)}
    return sorted(p for p in paths if os.path.exists(p))


class Landlock:
    """Rules built per program from fds opened once (O_PATH)."""

    def __init__(self, abi: int):
        self.abi = abi
        self.fs = landlock_fs_rights(abi)
        self.reads = []
        for p in read_paths():
            fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            rights = READ if os.path.isdir(p) else READ & FS_FILE_ONLY
            if p in ("/dev/null", "/dev/zero"):
                rights |= FS["write_file"] | (FS["ioctl_dev"] if abi >= 5 else 0)
            self.reads.append((fd, rights & self.fs))

    def restrict(self, full_dirs: list[str], read_files: list[str] = ()) -> None:
        attr = RulesetAttr(self.fs, (NET_BIND_TCP | NET_CONNECT_TCP) if self.abi >= 4 else 0,
                           (SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL) if self.abi >= 6 else 0)
        size = ctypes.sizeof(RulesetAttr) if self.abi >= 6 else 16 if self.abi >= 4 else 8
        rs = _check(libc.syscall(SYS_LL_CREATE, ctypes.byref(attr), size, 0), "landlock_create_ruleset")
        opened = []
        try:
            rules = list(self.reads)
            for d in full_dirs:  # everything but FIFOs and device nodes (the harness reads what is left)
                fd = os.open(d, os.O_PATH | os.O_DIRECTORY)
                opened.append(fd)
                rules.append((fd, self.fs & ~(FS["make_fifo"] | FS["make_char"] | FS["make_block"])))
            for f in read_files:
                fd = os.open(f, os.O_PATH)
                opened.append(fd)
                rules.append((fd, FS["read_file"]))
            for fd, rights in rules:
                rule = PathBeneath(rights, fd)
                _check(libc.syscall(SYS_LL_ADD, rs, 1, ctypes.byref(rule), 0), "landlock_add_rule")
            _check(libc.syscall(SYS_LL_RESTRICT, rs, 0), "landlock_restrict_self")
        finally:
            os.close(rs)
            for fd in opened:
                os.close(fd)


# ---------------------------------------------------------------- plain data between processes

def encode(v, depth=0):
    """Plain data to JSON-able, tagging what JSON cannot say. Exact types only: a subclass (an
    object that equals everything, a str with a rigged __eq__) is refused."""
    if depth > 200:
        raise ValueError("nested too deep")
    t = type(v)
    if v is None or t in (bool, int, str):
        return v
    if t is float:
        return v if v == v and v not in (float("inf"), float("-inf")) else {"x": repr(v)}
    if t is list:
        return [encode(x, depth + 1) for x in v]
    if t is tuple:
        return {"t": [encode(x, depth + 1) for x in v]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]}
    if t in (set, frozenset):
        return {"s" if t is set else "f": [encode(x, depth + 1) for x in v]}
    if t is bytes:
        return {"b": v.hex()}
    if t is complex:
        return {"c": [encode(v.real), encode(v.imag)]}
    raise TypeError(f"a {t.__module__}.{t.__qualname__} is not plain data")


def decode(v):
    if type(v) is list:
        return [decode(x) for x in v]
    if type(v) is dict:
        (tag, x), = v.items()
        if tag == "t":
            return tuple(decode(y) for y in x)
        if tag == "d":
            return {decode(k): decode(y) for k, y in x}
        if tag == "s":
            return {decode(y) for y in x}
        if tag == "f":
            return frozenset(decode(y) for y in x)
        if tag == "b":
            return bytes.fromhex(x)
        if tag == "c":
            return complex(x[0], x[1])
        if tag == "x":
            return float(x)
        raise ValueError(f"unknown tag {tag!r}")
    return v


MAX_FRAME = 64 << 20


def write_frame(fd: int, obj) -> None:
    data = json.dumps(obj).encode()
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def read_exact(fd: int, n: int) -> bytes | None:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def read_frame(fd: int):
    head = read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_FRAME:
        raise ValueError(f"a frame of {n} bytes is over the limit")
    body = read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body)


# ---------------------------------------------------------------- per program

# Imported once here so that programs (forks) find them loaded: `from typing import List` alone
# costs a program ~3 ms otherwise. Each child's copy is its own (copy-on-write).
WARM = ("typing", "re", "math", "collections", "heapq", "itertools", "functools", "string", "bisect", "copy",
        "random", "hashlib", "fractions", "decimal", "statistics", "datetime", "operator", "dataclasses", "enum")


class Worker:
    def __init__(self, work: str, layers: dict, without: set = frozenset()):
        self.work = work
        self.layers = layers
        for name in WARM:
            try:
                __import__(name)
            except ImportError:
                pass
        abi = 0 if "landlock" in without else landlock_abi()
        self.landlock = None
        try:
            if abi:
                self.landlock = Landlock(abi)
                layers["landlock"] = f"ABI {abi}"
        except OSError as e:
            layers["landlock"] = f"unavailable: {e}"
        if not abi:
            layers["landlock"] = "unavailable: the kernel has no Landlock"
        self.seccomp = None if "seccomp" in without else compile_seccomp()
        layers["seccomp"] = "BPF filter via prctl" if self.seccomp else f"unavailable: no filter for {platform.machine()}"

    def confine(self, job: dict, full_dirs: list[str], read_files: list[str] = ()) -> None:
        """In a fresh child: everything from setsid to seccomp. Any failure exits 125."""
        os.setsid()
        for res, value in ((resource.RLIMIT_AS, job["memory_mb"] << 20), (resource.RLIMIT_FSIZE, job["file_mb"] << 20),
                           (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, job.get("processes", 64))):
            resource.setrlimit(res, (value, value))
        cpu = max(1, int(-(-job["cpu"] // 1)))  # whole seconds, rounded up
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if self.landlock:
            self.landlock.restrict(full_dirs, read_files)
        if self.seccomp:
            load_seccomp(self.seccomp)

    def _child(self, job, dirname, keep_fds, body):
        try:
            os.chdir(dirname)
            devnull = os.open(os.devnull, os.O_RDONLY)
            out = os.open("stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            err = os.open("stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            for i, fd in enumerate((devnull, out, err)):
                os.dup2(fd, i)
            # keep_fds move to 3, 4, ...; everything else the zygote holds is closed
            moved = []
            for i, fd in enumerate(keep_fds):
                os.dup2(fd, 100 + i, inheritable=False)
                moved.append(100 + i)
            for i, fd in enumerate(moved):
                os.dup2(fd, 3 + i, inheritable=False)
            os.closerange(3 + len(moved), 1 << 16)
            os.environ.clear()
            os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": dirname, "TMPDIR": dirname})
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["program.py"]
            body(list(range(3, 3 + len(moved))))
        except BaseException:
            try:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(125)
        os._exit(1)

    def spawn(self, job, dirname, full_dirs, read_files, keep_fds, body) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                self.confine(job, full_dirs, read_files)
            except BaseException:
                os._exit(125)
            self._child(job, dirname, keep_fds, body)
        return pid

    def run(self, job: dict) -> dict:
        start = time.monotonic()
        prog_dir = os.path.join(self.work, job["id"])
        names = job.get("checks")
        children = {}  # pid -> role
        done_r = None
        if names is None:
            done_r, done_w = os.pipe()
            program = self.spawn(job, prog_dir, [prog_dir], [], [done_w], lambda fds: run_plain(fds[0]))
            os.close(done_w)
            children[program] = "program"
        else:
            req_r, req_w = os.pipe()
            resp_r, resp_w = os.pipe()
            program = self.spawn(job, prog_dir, [prog_dir], [], [req_r, resp_w], lambda fds: serve(fds[0], fds[1]))
            checks_dir = prog_dir + CHECKS_SUFFIX
            checker_pid = self.spawn(job, checks_dir, [checks_dir], [], [resp_r, req_w],
                                     lambda fds: checker(fds[0], fds[1], names))
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            children[program] = "program"
            children[checker_pid] = "checks"
        pidfds = {os.pidfd_open(pid): pid for pid in children}
        results = {}  # role -> (exit code, cpu seconds)
        deadline = start + job["wall"]
        wall_hit = False
        poller = select.poll()
        for fd in pidfds:
            poller.register(fd, select.POLLIN)
        while len(results) < len(children):
            left = deadline - time.monotonic()
            if left <= 0:
                wall_hit = True
                break
            ready = poller.poll(max(1, int(left * 1000)))
            for fd, _ in ready:
                pid = pidfds[fd]
                _, status, usage = os.wait4(pid, 0)
                results[children[pid]] = (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
                poller.unregister(fd)
            if "checks" in results:  # the verdict is in: the program has no more to do
                break
        killed = set()  # roles we killed (not the kernel's CPU limit)
        for fd, pid in pidfds.items():
            role = children[pid]
            if role not in results:
                for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                    try:
                        kill()
                    except OSError:
                        pass
                _, status, usage = os.wait4(pid, 0)
                results[role] = (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
                killed.add(role)
            os.close(fd)

        def over_cpu(role: str) -> bool:  # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL one second later
            code, cpu = results[role]
            return (cpu >= job["cpu"] or code == -signal.SIGXCPU
                    or (code == -signal.SIGKILL and role not in killed and cpu >= job["cpu"] - 0.1))

        code, cpu = results["program"]
        cpu_hit = over_cpu("program")
        if names is None:
            finished = os.read(done_r, 1) == b"\x01"
            os.close(done_r)
            if wall_hit or cpu_hit:
                status = "timeout"
            else:
                status = "passed" if code == 0 and finished else "failed"
            checks_code = None
        else:
            checks_code = results["checks"][0]
            if checks_code == 0 and not wall_hit:
                status = "passed"
            elif wall_hit or cpu_hit or over_cpu("checks"):
                status = "timeout"
            else:
                status = "failed"
        return {"status": status, "returncode": code, "checks_returncode": checks_code, "cpu": round(cpu, 3),
                "wall": round(time.monotonic() - start, 3)}


def _exec_program(ns: dict) -> None:
    with open("program.py", encoding="utf-8") as fh:
        source = fh.read()
    exec(compile(source, "program.py", "exec"), ns)


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


def run_plain(done_fd: int) -> None:
    """The whole program in this process. `done_fd` gets one byte when the program ran to its end
    (not on sys.exit or os._exit before it): a program that exits 0 early is not a pass."""
    code, finished = 0, False
    try:
        _exec_program({"__name__": "__main__", "__file__": "program.py"})
        finished = True
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        _flush()
    except BaseException:
        code = code or 1
    if finished and code == 0:
        os.write(done_fd, b"\x01")
    os._exit(code)


def serve(req_fd: int, resp_fd: int) -> None:
    """The program under test: run it, then answer calls from the checks with plain data."""
    ns = {"__name__": "__main__", "__file__": "program.py"}
    try:
        _exec_program(ns)
    except BaseException:
        traceback.print_exc()
        _flush()
        os._exit(1)
    _flush()
    while True:
        req = read_frame(req_fd)
        if req is None:
            _flush()
            os._exit(0)
        try:
            _, name, args, kwargs = req
            getattr(sys, "set_int_max_str_digits", int)(0)  # big ints cross as JSON numbers
            value = encode(ns[name](*decode(args), **decode(kwargs)))
            reply = ["ok", value]
        except BaseException as e:  # noqa: BLE001 (SystemExit and KeyboardInterrupt from the program too)
            reply = ["err", f"{type(e).__name__}: {e}"[:2000]]
        try:
            _flush()
        except BaseException:
            pass
        write_frame(resp_fd, reply)


class ProgramError(Exception):
    """The program under test raised (or exited) while the checks called it."""


class ProgramTimeout(ProgramError):
    """A call took longer than the proxy's `timeout`; every later call raises too."""


def checker(resp_fd: int, req_fd: int, names: list[str]) -> None:
    """The checks, in their own process: the setup part of `checks.py`, then every name in `names`
    bound to a proxy that calls the program's function and gets plain data back, then the test
    part (see sandbox.Checks). Exit 0 only when the test ran to its end."""
    getattr(sys, "set_int_max_str_digits", int)(0)
    broken: list[str] = []  # one channel: after a timeout the program's answer is out of step

    def proxy(name):
        def call(*args, **kwargs):
            if broken:
                raise ProgramTimeout(broken[0])
            write_frame(req_fd, ["call", name, encode(list(args)), encode(kwargs)])
            if call.timeout is not None and not select.select([resp_fd], [], [], call.timeout)[0]:
                broken.append(f"an earlier call ({name}) took over {call.timeout} s")
                raise ProgramTimeout(f"{name}: no answer within {call.timeout} s")
            reply = read_frame(resp_fd)
            if reply is None:
                raise ProgramError("the program under test exited")
            tag, payload = reply
            if tag == "err":
                raise ProgramError(payload)
            return decode(payload)
        call.__name__ = call.__qualname__ = name
        call.timeout = None  # seconds of wall time per call; None: the job's limits only
        return call

    with open("checks.py", encoding="utf-8") as fh:
        setup, _, test = fh.read().partition("\n#--alchemist-checks--\n")
    ns = {"__name__": "__main__", "__file__": "checks.py", "ProgramError": ProgramError, "ProgramTimeout": ProgramTimeout}
    code = 1
    try:
        exec(compile(setup, "setup.py", "exec"), ns)  # tracebacks: "checks.py", line N is line N of the test
        ns.update({name: proxy(name) for name in names})
        exec(compile(test, "checks.py", "exec"), ns)
        code = 0
    except SystemExit as e:
        print(f"the checks exited early ({e.code!r})", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    try:
        _flush()
    except BaseException:
        code = 1
    os._exit(code)


# ---------------------------------------------------------------- start

def enter_namespaces_in_child() -> str | None:
    """Returns in PID 1 of new namespaces (None), or in this process with the reason they are
    unavailable. The attempt runs in a child, so a half-made attempt (unshare allowed, uid_map
    refused) leaves this process as it was: launcher -> child (unshares, forks) -> PID 1, each
    waiting for the next and killed with its parent (PDEATHSIG)."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        try:
            enter_namespaces()
        except OSError as e:
            os.write(w, (e.strerror or str(e)).encode()[:500] or b"failed")
            os._exit(0)
        pid1 = os.fork()
        if pid1 == 0:
            os.close(w)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            return None
        os.close(w)
        os.closerange(3, 1 << 16)
        _, status = os.waitpid(pid1, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    os.close(w)
    reason = b""
    while chunk := os.read(r, 512):
        reason += chunk
    os.close(r)
    if reason:
        os.waitpid(child, 0)
        return reason.decode(errors="replace")
    os.closerange(3, 1 << 16)  # the launcher, outside: wait, and exit with the worker
    _, status = os.waitpid(child, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main() -> None:
    """argv: SCRATCH [--cgroup PROCS_FILE]... [--without LAYER]... (--without: tests of the
    degraded path)"""
    scratch, rest = sys.argv[1], sys.argv[2:]
    options = {"--cgroup": [], "--without": []}
    for flag, value in zip(rest[::2], rest[1::2]):
        options[flag].append(value)
    without = set(options["--without"])
    layers: dict = {}
    for procs in options["--cgroup"]:  # before anything else: every later process inherits them
        try:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        except OSError as e:
            layers["cgroups"] = f"unavailable: cannot join {procs}: {e.strerror}"
    work, host_uid = scratch, os.geteuid()
    failed = "switched off" if "namespaces" in without else enter_namespaces_in_child()
    if failed:
        layers["namespaces"] = f"unavailable: {failed}"
        layers["filesystem"] = "unavailable: no mount namespace (programs see the host's files; Landlock still applies)"
    else:  # PID 1 of the new pid namespace
        layers["namespaces"] = "user, mount, pid, network, ipc, uts"
        try:
            confine_filesystem(scratch)
            work = WORK_IN_NS
            layers["filesystem"] = "root read-only, fresh /proc, private /tmp, work dirs writable"
        except OSError as e:
            layers["filesystem"] = f"unavailable: {e}"
    try:  # in the user namespace, or (without one) in the host's: dropping is always allowed
        drop_capabilities()
    except OSError:
        pass
    left = capabilities_left()
    layers["capabilities"] = "all dropped" if left == 0 else f"unavailable: CapEff {left:x}"
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    caps = "no capabilities" if left == 0 else "capabilities kept"
    layers["uid"] = (f"0 in its user namespace = host uid {host_uid}, {caps}" if work == WORK_IN_NS
                     else f"host uid {host_uid}, {caps}")
    worker = Worker(work, layers, without)
    os.write(1, (json.dumps({"layers": layers}) + "\n").encode())
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(0, 65536)
            if not chunk:
                os._exit(0)
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        job = json.loads(line)
        try:
            reply = worker.run(job)
        except Exception as e:  # noqa: BLE001 (the worker's own failure, reported as such)
            reply = {"status": "failed", "returncode": None, "error": f"sandbox worker: {type(e).__name__}: {e}"}
        os.write(1, (json.dumps(reply) + "\n").encode())


if __name__ == "__main__":
    main()
