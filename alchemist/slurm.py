"""`alchemist slurm RECIPE`: the sbatch scripts for the stages a recipe runs, and one that submits
them in order.

- `data.sbatch`: ingest, curate, relabel and mix (`alchemist data`). With `curate.executor.type:
  slurm` this job only drives: the curate stage submits its tasks as datatrove job arrays and
  waits for them; with the local executor the job gets a node and curates on its cores.
- `train.sbatch`: the train stage on `train.launch.nnodes` nodes (torchrun on every node through
  srun; `alchemist/train/launch.py` writes it).
- `eval.sbatch`: eval generation and scoring, then the leaderboard and report stages.
- `submit.sh`: sbatch of each, every job after the one before it succeeded (afterok).

Every job reads `recipe.resolved.yaml` beside the scripts (absolute paths; what ran is what was
written), so later edits of the recipe change nothing until the scripts are written again.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from alchemist.errors import UserError
from alchemist.recipe import Recipe, dump_resolved
from alchemist.recipe.claim import claim_run_dir, recipe_inputs
from alchemist.rundir.ownership import Owned, check_overlap, inside
from alchemist.specs.llm import HFLLM, VLLMLLM
from alchemist.train.launch import sbatch_script


def write_slurm_scripts(recipe: Recipe, out_dir: Path, nodes: int | None = None) -> list[Path]:
    """Write the scripts into `out_dir` (created); returns them in submission order, submit.sh last."""
    out_dir = Path(out_dir).resolve()
    if nodes is not None:
        if not recipe.trains:
            raise UserError("--nodes sets the train job's nodes, but the recipe has no enabled train section")
        launch = recipe.train.launch.model_copy(update={"nnodes": nodes})
        recipe = recipe.model_copy(update={"train": recipe.train.model_copy(update={"launch": launch})})
    if recipe.trains:
        launch = recipe.train.launch
        if launch.launcher == "deepspeed" and launch.nnodes > 1 and not launch.hostfile:
            raise UserError("train.launch.launcher deepspeed needs a hostfile across nodes; under Slurm use "
                            "launcher: torchrun (one torchrun per node through srun)")
    owned = claim_slurm_dir(recipe, out_dir)
    resolved = out_dir / "recipe.resolved.yaml"
    resolved.write_text(dump_resolved(recipe), encoding="utf-8")
    env = _env_line(recipe)
    scripts = {"data": _data_script(recipe, resolved, out_dir, env)}
    if recipe.trains:
        text = sbatch_script(recipe.train, resolved, out_dir, f"{recipe.name}-train", workdir=Path.cwd())
        scripts["train"] = _with_env(text, env)
    if recipe.eval is not None and recipe.eval.enabled:
        scripts["eval"] = _eval_script(recipe, resolved, out_dir, env)
    paths = []
    owned.check(*(f"{stage}.sbatch" for stage in scripts))
    owned.wrote(*(f"{stage}.sbatch" for stage in scripts))
    for stage, text in scripts.items():
        path = out_dir / f"{stage}.sbatch"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")  # a non-UTF-8 path: its own bytes
        paths.append(path)
    submit = out_dir / "submit.sh"
    submit.write_text(_submit_script(paths), encoding="utf-8", errors="surrogateescape")
    submit.chmod(0o755)
    return [*paths, submit]


def claim_slurm_dir(recipe: Recipe, out_dir: Path) -> Owned:
    """The scripts' folder: overlapping none of the recipe's inputs, new, empty or alchemist's; of
    what is there, only the scripts are replaced."""
    check_overlap(out_dir, [*([("the recipe", recipe._path)] if recipe._path else []), *recipe_inputs(recipe)], "-o")
    if inside(out_dir, recipe.run_dir) and not inside(recipe.run_dir, out_dir):  # e.g. the default runs/NAME/slurm
        claim_run_dir(recipe, str(out_dir.relative_to(recipe.run_dir.resolve())))
    owned = Owned(out_dir, "-o").claim()
    owned.check("recipe.resolved.yaml", "submit.sh")
    owned.wrote("recipe.resolved.yaml", "submit.sh")
    return owned


def _env_line(recipe: Recipe) -> str:
    """What each job runs first: the curate executor's env_command, else this Python's scripts
    (alchemist, datatrove's launchers) first on PATH."""
    return recipe.curate.executor.env_command or f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"


def _header(name: str, out_dir: Path, stage: str, options: dict) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}-{stage}", f"#SBATCH --output={out_dir / f'{stage}-%j.out'}"]
    lines += [f"#SBATCH --{k}={v}" if v != "" else f"#SBATCH --{k}" for k, v in options.items() if v is not None]
    return lines


def _body(env: str, command: str) -> list[str]:
    return ["set -euo pipefail", env, f"cd {shlex.quote(str(Path.cwd()))}", command, ""]


def _data_script(recipe: Recipe, resolved: Path, out_dir: Path, env: str) -> str:
    ex = recipe.curate.executor
    if ex.type == "slurm":
        # the driver: one CPU that submits the job arrays and wait for them (and run ingest, mix)
        options = {"partition": ex.partition, "qos": ex.qos, "time": ex.time, "nodes": 1, "ntasks": 1,
                   "cpus-per-task": 1, "mem-per-cpu": f"{int(ex.mem_per_cpu_gb * 1024)}M",
                   **{k: v for k, v in ex.sbatch_args.items() if k not in ("array", "output", "error", "job-name")}}
    else:  # local processes on one node: `workers` cores, or the whole node for one per core
        cores = {"cpus-per-task": ex.workers} if ex.workers else {"exclusive": ""}
        options = {"partition": _train_partition(recipe), "account": _train_account(recipe), "nodes": 1, "ntasks": 1, **cores}
    gpus = _gpus(recipe.relabel.llm) if recipe.relabel is not None and recipe.relabel.enabled else 0
    if gpus:
        options["gpus-per-node"] = gpus
    return "\n".join(_header(recipe.name, out_dir, "data", options)
                     + _body(env, f"alchemist data {shlex.quote(str(resolved))}"))


def _eval_script(recipe: Recipe, resolved: Path, out_dir: Path, env: str) -> str:
    options = {"partition": _train_partition(recipe), "account": _train_account(recipe), "nodes": 1, "ntasks": 1,
               "time": recipe.train.launch.time if recipe.trains else None}
    gpus = _gpus(recipe.eval.llm)
    if gpus:
        options["gpus-per-node"] = gpus
    # from eval on: eval, then the leaderboard and report stages that read it
    return "\n".join(_header(recipe.name, out_dir, "eval", options)
                     + _body(env, f"alchemist run {shlex.quote(str(resolved))} --from eval"))


def _gpus(llm) -> int:
    """GPUs a local LLM backend needs (servers behind the openai backend run elsewhere)."""
    if isinstance(llm, VLLMLLM):
        return llm.tensor_parallel_size
    if isinstance(llm, HFLLM) and not llm.model.startswith("builtin:"):
        return 1
    return 0


def _train_partition(recipe: Recipe) -> str | None:
    return recipe.train.launch.partition if recipe.trains else recipe.curate.executor.partition


def _train_account(recipe: Recipe) -> str | None:
    return recipe.train.launch.account if recipe.trains else None


def _with_env(script: str, env: str) -> str:
    """`env` as the first command after the #SBATCH block."""
    lines = script.split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("#SBATCH") or line.startswith("#!"))
    return "\n".join([*lines[: last + 1], env, *lines[last + 1:]])


def _submit_script(paths: list[Path]) -> str:
    lines = ["#!/bin/bash", "# Submits the jobs in order: each starts only after the one before it succeeded.",
             "set -euo pipefail", 'dep=""']
    for p in paths:
        stage = p.stem
        lines.append(f'{stage}=$(sbatch --parsable $dep {shlex.quote(str(p))}); echo "{stage}: job ${stage}"')
        lines.append(f'dep="--dependency=afterok:${{{stage}%%;*}}"')
    return "\n".join(lines) + "\n"
