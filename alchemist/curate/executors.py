"""Where curation tasks run: datatrove's local, Ray or Slurm executor, built from `curate.executor`.

The executors own sharding, logs, stats and completion markers (`LOGGING_DIR/completions/NNNNN`),
so a rerun after a kill skips the tasks that finished, on any of the three. Ray and Slurm tasks
write into the stage's work directory from other processes (other nodes on a real cluster): it
must be on a filesystem they all see. `execute` returns only when every task has finished.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from alchemist.curate.spec import CurateSpec, ExecutorSpec
from alchemist.errors import UserError


def execute(pipeline, tasks: int, workers: int, logging_dir: Path, spec: CurateSpec, name: str) -> None:
    """Run `pipeline` as `tasks` datatrove tasks, at most `workers` at once, on the recipe's
    executor; a task that fails (or never finishes) is a UserError pointing at its logs."""
    ex = spec.executor
    log = logging_dir.parent / "datatrove.log"
    where = f"{log} and {logging_dir}/logs"
    build = {"local": _local, "ray": _ray, "slurm": _slurm}[ex.type]
    try:
        with stderr_to(log):  # datatrove logs every task to stderr (workers inherit fd 2)
            build(pipeline, tasks, workers, logging_dir, ex, name)
    except UserError:
        raise
    except Exception as e:  # a failed task: its log says why
        raise UserError(f"curation step {name} failed ({e}); see {where}") from None
    done = {p.name for p in (logging_dir / "completions").glob("*")}
    missing = [r for r in range(tasks) if f"{r:05d}" not in done]
    if missing:
        if ex.type == "slurm":
            where += f" and {logging_dir}/slurm_logs"
        raise UserError(f"curation step {name}: {len(missing)} of {tasks} tasks did not finish on {ex.type} "
                        f"(ranks {missing[:10]}); see {where}")


@contextlib.contextmanager
def stderr_to(path: Path):
    """Send fd 2 (and so every worker's stderr) to a log file for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _local(pipeline, tasks, workers, logging_dir, ex: ExecutorSpec, name) -> None:
    from datatrove.executor import LocalPipelineExecutor

    options = {"start_method": "fork", **ex.options}
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(logging_dir),
                          skip_completed=True, **options).run()


def _ray(pipeline, tasks, workers, logging_dir, ex: ExecutorSpec, name) -> None:
    try:
        import ray
        from datatrove.executor import RayPipelineExecutor
    except ImportError:
        raise UserError("curate.executor.type ray needs Ray: pip install 'alchemist[ray]', and start a cluster "
                        "(ray start --head) or set curate.executor.address") from None
    executor = RayPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir),
                                   skip_completed=True, cpus_per_task=ex.cpus_per_task, mem_per_cpu_gb=ex.mem_per_cpu_gb,
                                   **ex.options)
    joined = not ray.is_initialized()
    if joined:
        no_cluster = (f"curate.executor.address {ex.address}: no Ray cluster there; start one with `ray start --head`, "
                      "or give address: local for one in this process")
        if not _reachable(ex.address):  # else ray.init retries for minutes
            raise UserError(no_cluster)
        try:
            ray.init(address=ex.address, include_dashboard=False, logging_level="warning")
        except ConnectionError as e:
            raise UserError(f"{no_cluster} ({e})") from None
    try:
        executor.run()  # a failed task is only logged: `execute` finds it by its missing completion marker
    finally:
        if joined:
            ray.shutdown()


def _reachable(address: str) -> bool:
    """False only for a HOST:PORT (the GCS of a cluster) where nothing listens; `auto`, `local`
    and ray:// addresses are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return True
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        return True
    except OSError:
        return False


def _slurm(pipeline, tasks, workers, logging_dir, ex: ExecutorSpec, name) -> None:
    """Submit the tasks as a job array (plus datatrove's stats-merging job) and wait for them."""
    from datatrove.executor.slurm import SlurmPipelineExecutor, default_job_id_retriever

    if "SLURM_ARRAY_TASK_ID" in os.environ:
        raise UserError("curate.executor.type slurm submits job arrays: run alchemist from a login node or a plain "
                        "(non-array) batch job, not from inside an array task")
    jobs: list[str] = []
    # the shell of every task puts this Python's scripts (datatrove's launch_pickled_pipeline) first
    env_command = ex.env_command or f"export PATH={Path(sys.executable).parent}:$PATH"
    options = {
        "sbatch_args": {"mem-per-cpu": f"{int(ex.mem_per_cpu_gb * 1024)}M", **ex.sbatch_args},  # sbatch wants whole units
        # several datatrove tasks per array job when there are more tasks than workers: fewer jobs to schedule
        "tasks_per_job": max(1, -(-tasks // max(workers, 1))),
        **ex.options,
    }
    executor = SlurmPipelineExecutor(
        pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir), skip_completed=True,
        job_name=f"alchemist_{name}", partition=ex.partition, time=ex.time, cpus_per_task=ex.cpus_per_task,
        mem_per_cpu_gb=ex.mem_per_cpu_gb, qos=ex.qos or "", env_command=env_command,
        job_id_retriever=partial(_record_job, jobs, default_job_id_retriever), **options)
    with _without_slurm_job_env():
        executor.run()
    try:
        _wait_for(jobs)
    except BaseException:
        _scancel(jobs)
        raise
    _scancel(jobs)  # left pending only when a dependency failed (the stats merge after a failed task)


def _record_job(jobs: list[str], retriever, output: str, **kwargs) -> str:
    job = retriever(output, job_id_position=-1)
    jobs.append(job)
    return job


@contextlib.contextmanager
def _without_slurm_job_env():
    """Inside a batch job (a driver job from `alchemist slurm`), its SLURM_* variables would leak
    into the arrays it submits (e.g. SLURM_MEM_PER_NODE against --mem-per-cpu)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SLURM_") and k != "SLURM_CONF"}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def _wait_for(jobs: list[str]) -> None:
    """Until none of `jobs` (array jobs included) is pending or running. Finished jobs leave
    squeue's listing (or are shown only for MinJobAge), so the user's listing is read, not -j."""
    import getpass

    start, failures = time.monotonic(), 0
    while True:
        r = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%F %r"], capture_output=True, text=True)
        if r.returncode == 0:
            failures = 0
            # the stats merge waits forever on a failed array: DependencyNeverSatisfied counts as ended
            waiting = {job for job, reason in (line.split(maxsplit=1) for line in r.stdout.splitlines() if " " in line)
                       if job in jobs and reason != "DependencyNeverSatisfied"}
            if not waiting:
                return
        else:  # slurmctld busy or restarting: try again, but not forever
            failures += 1
            if failures > 30:
                raise UserError(f"squeue keeps failing ({r.stderr.strip()}); jobs {', '.join(jobs)} may still run")
        time.sleep(min(10.0, 0.5 + (time.monotonic() - start) / 20))  # ~2 polls/s at first, every 10 s after 3 min


def _scancel(jobs: list[str]) -> None:
    if jobs:
        subprocess.run(["scancel", *jobs], capture_output=True)
