"""The sandbox's verdict on a Python program, decided by `zygote.status_of` from what the worker
saw: each process' (exit code, CPU seconds, killed by the worker), the wall clock, and the
program's "ran to its end" byte. Tested on tuples, no process started."""

import itertools
import signal

import pytest

from alchemist.execution.zygote import over_cpu, status_of

LIMIT = 2.0  # the job's CPU seconds
KILL, XCPU = -signal.SIGKILL, -signal.SIGXCPU
UNDER, NEAR, OVER = 0.5, LIMIT - 0.05, LIMIT  # CPU used: well under, within 0.1 s of, at the limit


@pytest.mark.parametrize("code, cpu, killed, expected", [
    (0, UNDER, False, False),
    (1, UNDER, False, False),
    (0, OVER, False, True),  # rusage at the limit, whatever the exit status
    (1, LIMIT + 1, False, True),
    (XCPU, UNDER, False, True),  # the soft limit's signal, whatever rusage says
    (KILL, NEAR, False, True),  # the hard limit's SIGKILL, rusage a little short
    (KILL, LIMIT - 0.1, False, True),  # the edge of the slack
    (KILL, LIMIT - 0.2, False, False),  # just outside it
    (KILL, UNDER, False, False),  # a SIGKILL from elsewhere (the memory cgroup): not a timeout
    (KILL, NEAR, True, False),  # the worker's own SIGKILL never counts as the CPU limit's
    (KILL, OVER, True, True),  # ... but rusage at the limit still does
    (XCPU, UNDER, True, True),
])
def test_over_cpu(code, cpu, killed, expected):
    assert over_cpu(code, cpu, LIMIT, killed) is expected


# Without checks: (wall_hit, program, finished) -> status
PLAIN = {
    "ran to its end, exit 0": (False, (0, UNDER, False), True, "passed"),
    "exit 0 before its end (sys.exit(0), os._exit(0))": (False, (0, UNDER, False), False, "failed"),
    "the end byte forged, then exit 1": (False, (1, UNDER, False), True, "failed"),
    "an exception": (False, (1, UNDER, False), False, "failed"),
    "confinement failed in the child": (False, (125, UNDER, False), False, "failed"),
    "killed by the memory cgroup": (False, (KILL, UNDER, False), False, "failed"),
    "SIGXCPU": (False, (XCPU, UNDER, False), False, "timeout"),
    "the hard CPU limit's SIGKILL": (False, (KILL, NEAR, False), False, "timeout"),
    "wall clock, killed by the worker": (True, (KILL, UNDER, True), False, "timeout"),
    # several at once: running out of time wins over everything, a pass included
    "wall clock and CPU at once": (True, (KILL, OVER, True), False, "timeout"),
    "wall clock and SIGXCPU at once": (True, (XCPU, UNDER, False), False, "timeout"),
    "ran to its end as the wall clock ran out": (True, (0, UNDER, False), True, "timeout"),
    "ran to its end past the CPU limit": (False, (0, OVER, False), True, "timeout"),
    "the end byte forged, then SIGXCPU": (False, (XCPU, UNDER, False), True, "timeout"),
}


@pytest.mark.parametrize("wall_hit, program, finished, expected", PLAIN.values(), ids=PLAIN.keys())
def test_without_checks(wall_hit, program, finished, expected):
    assert status_of(LIMIT, wall_hit, program, finished) == expected


# With checks: (wall_hit, program, checks) -> status; the program's `finished` plays no part
CHECKS = {
    "checks exit 0": (False, (0, UNDER, False), (0, UNDER, False), "passed"),
    # once the verdict is in the worker kills the program: a pass stays a pass
    "checks exit 0, program killed after": (False, (KILL, UNDER, True), (0, UNDER, False), "passed"),
    "checks exit 0, program past its CPU": (False, (KILL, OVER, True), (0, UNDER, False), "passed"),
    "checks exit 0, program SIGXCPU": (False, (XCPU, UNDER, False), (0, UNDER, False), "passed"),
    "checks fail": (False, (0, UNDER, False), (1, UNDER, False), "failed"),
    "checks fail, program killed after (its own SIGKILL is no timeout)":
        (False, (KILL, NEAR, True), (1, UNDER, False), "failed"),
    "checks' confinement failed": (False, (0, UNDER, False), (125, UNDER, False), "failed"),
    "checks killed by the memory cgroup": (False, (0, UNDER, False), (KILL, UNDER, False), "failed"),
    "program killed by the memory cgroup, checks fail": (False, (KILL, UNDER, False), (1, UNDER, False), "failed"),
    "checks fail, program past its CPU": (False, (XCPU, UNDER, False), (1, UNDER, False), "timeout"),
    "checks fail, program at the hard CPU limit": (False, (KILL, NEAR, False), (1, UNDER, False), "timeout"),
    "checks SIGXCPU": (False, (0, UNDER, False), (XCPU, UNDER, False), "timeout"),
    "checks at the hard CPU limit": (False, (0, UNDER, False), (KILL, NEAR, False), "timeout"),
    "checks past their CPU, exit 1": (False, (0, UNDER, False), (1, OVER, False), "timeout"),
    "wall clock, both killed by the worker": (True, (KILL, UNDER, True), (KILL, UNDER, True), "timeout"),
    # several at once: the wall clock beats a pass the checks reported as it ran out
    "checks exit 0 as the wall clock ran out": (True, (KILL, UNDER, True), (0, UNDER, False), "timeout"),
    "wall clock and the program's CPU at once": (True, (KILL, OVER, True), (KILL, UNDER, True), "timeout"),
    "wall clock and the checks' CPU at once": (True, (0, UNDER, False), (XCPU, UNDER, False), "timeout"),
}


@pytest.mark.parametrize("wall_hit, program, checks, expected", CHECKS.values(), ids=CHECKS.keys())
def test_with_checks(wall_hit, program, checks, expected):
    assert status_of(LIMIT, wall_hit, program, False, checks) == expected
    assert status_of(LIMIT, wall_hit, program, True, checks) == expected  # the program's end byte is no vote


# Every combination of a grid of observations: a pass comes only from the trusted signal (the
# end byte with exit 0 without checks, the checks' exit 0 with them), within both limits for
# the first and within the wall clock for the second; nothing else is ever "passed".
CODES = (0, 1, 125, KILL, XCPU, -signal.SIGSEGV)
PROCESS = list(itertools.product(CODES, (0.0, UNDER, NEAR, OVER, LIMIT + 5), (False, True)))


def test_without_checks_grid():
    for wall_hit, program, finished in itertools.product((False, True), PROCESS, (False, True)):
        status = status_of(LIMIT, wall_hit, program, finished)
        code, cpu, killed = program
        timed_out = wall_hit or over_cpu(code, cpu, LIMIT, killed)
        assert status == ("timeout" if timed_out else "passed" if code == 0 and finished else "failed"), \
            (wall_hit, program, finished)


def test_with_checks_grid():
    for wall_hit, program, checks in itertools.product((False, True), PROCESS, PROCESS):
        status = status_of(LIMIT, wall_hit, program, True, checks)
        assert status in ("passed", "failed", "timeout")
        assert (status == "passed") == (checks[0] == 0 and not wall_hit), (wall_hit, program, checks)
        if status != "passed":
            timed_out = wall_hit or over_cpu(*program[:2], LIMIT, program[2]) or over_cpu(*checks[:2], LIMIT, checks[2])
            assert status == ("timeout" if timed_out else "failed"), (wall_hit, program, checks)
