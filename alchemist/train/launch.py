"""How the train stage starts more than one process: torchrun or the deepspeed launcher on one
node, `srun` + torchrun across the nodes of a Slurm allocation, or the deepspeed launcher with a
hostfile; and the sbatch script `alchemist slurm RECIPE` writes.

Every rank runs `python -m alchemist.train.worker SPEC DATA OUT WORK SEED` (the same `train`
function the stage calls in-process); the stage waits for the launcher and reads rank 0's
summary, so the pipeline still owns the run directory.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from alchemist.errors import UserError
from alchemist.train.spec import LaunchSpec, TrainSpec

WORKER = "alchemist.train.worker"


def procs_per_node(launch: LaunchSpec) -> int:
    if launch.nproc_per_node != "auto":
        return launch.nproc_per_node
    import torch

    return max(1, torch.cuda.device_count())


def planned_world_size(launch: LaunchSpec, env: dict | None = None) -> int:
    """How many training processes this launch starts (inside a launcher: the ones it started)."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:
        return int(env["WORLD_SIZE"])
    if launch.launcher == "deepspeed" and launch.hostfile and Path(launch.hostfile).expanduser().is_file():
        return sum(slots for _, slots in read_hostfile(launch.hostfile))
    return procs_per_node(launch) * launch.nnodes


def read_hostfile(path: str | Path) -> list[tuple[str, int]]:
    """`host slots=N` lines (DeepSpeed's format; # comments and blank lines allowed)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"train.launch.hostfile: {p} does not exist; write one `host slots=N` line per node")
    hosts = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].startswith("slots=") or not parts[1][6:].isdigit():
            raise UserError(f"{p}:{n}: expected `host slots=N`, got {line!r}")
        hosts.append((parts[0], int(parts[1][6:])))
    if not hosts:
        raise UserError(f"train.launch.hostfile: {p} lists no hosts")
    return hosts


def under_launcher() -> bool:
    """True inside a process a launcher started (it sets the rank variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def command(spec: TrainSpec, worker_args: list[str], env: dict | None = None) -> list[str] | None:
    """The launcher command line for this spec, or None when one process in place is enough."""
    env = os.environ if env is None else env
    launch = spec.launch
    if under_launcher():
        return None
    per_node = procs_per_node(launch)
    slurm_nodes = int(env.get("SLURM_JOB_NUM_NODES", "1"))
    nodes = launch.nnodes
    if launch.launcher == "deepspeed":
        if nodes > 1 and not launch.hostfile:
            raise UserError("train.launch.hostfile: the deepspeed launcher needs a hostfile for "
                            f"{nodes} nodes; set train.launch.hostfile or use launcher: torchrun under Slurm")
        if launch.hostfile:
            read_hostfile(launch.hostfile)
            return ["deepspeed", "--hostfile", str(Path(launch.hostfile).expanduser()), "--master_port",
                    str(launch.master_port), "--module", WORKER, *worker_args]
        if per_node == 1:
            return None
        return ["deepspeed", "--num_gpus", str(per_node), "--master_port", str(launch.master_port),
                "--module", WORKER, *worker_args]
    if nodes > 1:
        if slurm_nodes < nodes:
            raise UserError(f"train.launch.nnodes: {nodes} nodes need a Slurm allocation of as many "
                            f"(this one has {slurm_nodes}); run `alchemist slurm RECIPE` and sbatch its script")
        rdzv = f"{env.get('MASTER_ADDR', '$MASTER_ADDR')}:{launch.master_port}"
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", str(nodes), "--nproc_per_node",
                    str(per_node), "--rdzv_backend", "c10d", "--rdzv_endpoint", rdzv, "-m", WORKER, *worker_args]
        # one torchrun per node; each finds the others through the rendezvous on the first node
        return ["srun", f"--nodes={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1", *torchrun]
    if per_node == 1:
        return None
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(per_node),
            "-m", WORKER, *worker_args]


def sbatch_script(spec: TrainSpec, recipe_path: str | Path, run_dir: str | Path, job_name: str,
                  workdir: str | Path | None = None) -> str:
    """An sbatch script that runs `alchemist train` on the first node of a multi-node allocation;
    the stage starts torchrun on every node through srun."""
    launch = spec.launch
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --nodes={launch.nnodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={launch.gpus_per_node}",
        "#SBATCH --exclusive",
        f"#SBATCH --time={launch.time}",
        f"#SBATCH --output={Path(run_dir) / 'slurm-%j.out'}",
    ]
    if launch.partition:
        lines.append(f"#SBATCH --partition={launch.partition}")
    if launch.account:
        lines.append(f"#SBATCH --account={launch.account}")
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(workdir or Path.cwd()))}",
        '# the rendezvous host: the first node of the allocation',
        'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
        f"export MASTER_PORT={launch.master_port}",
        "export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}",
        f"alchemist train {shlex.quote(str(recipe_path))}",
        "",
    ]
    return "\n".join(lines)
