"""`alchemist` command line. Thin: parse, load the recipe, call the pipeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from alchemist import __version__
from alchemist.errors import UserError
from alchemist.rundir import RunLayout
from alchemist.rundir.ownership import check_overlap

# Each command imports what it runs inside its function: the stages pull in pyarrow, datatrove and
# pydantic models of every section, so `alchemist --help` and a mistyped flag answer in 0.1 s, not 2 s.
CACHE_FILES = tuple(f"llm_cache.sqlite{s}" for s in ("", "-wal", "-shm", "-journal"))  # SQLite and its journals


def _print(text: str, file=None) -> None:
    """A line for the user; a non-UTF-8 file name in it (lone surrogates in Python) is escaped
    instead of failing to print."""
    print(text.encode("utf-8", "backslashreplace").decode("utf-8"), file=file or sys.stdout)


def _number(kind, low: float, inclusive: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"{text} is out of range: {what}")
        return value
    return parse


positive_float = _number(float, 0, False, "give a number above 0")
positive_int = _number(int, 1, True, "give 1 or more")
count = _number(int, 0, True, "give 0 or more")


def _stage_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _recipe_args(p: argparse.ArgumentParser, control: bool = True) -> None:
    p.add_argument("recipe", help="recipe YAML, e.g. recipes/tiny.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set curate.decontaminate.ngram=10 (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (what runs, what is skipped and why); write nothing")
    p.add_argument("--force", action="append", default=[], type=_stage_list, metavar="STAGE",
                   help="rerun STAGE and every stage that reads it, even when unchanged (repeatable, or a,b)")
    if control:
        p.add_argument("--stages", type=_stage_list, default=[], metavar="A,B", help="run only these stages")
        p.add_argument("--from", dest="start", metavar="STAGE", help="run from this stage on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alchemist", description="Build code LLMs the AlchemistCoder way.")
    parser.add_argument("--version", action="version", version=f"alchemist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _recipe_args(sub.add_parser("run", help="every stage the recipe enables, in order"))
    _recipe_args(sub.add_parser("data", help="data construction only: ingest, curate, relabel, mix"), control=False)
    tr = sub.add_parser("train", help="the train stage: data/final/train.parquet -> model/")
    _recipe_args(tr, control=False)
    tr.add_argument("--check", action="store_true",
                    help="show which tokens carry a loss in a few samples of each task, check the template's mask; train nothing")
    sub.add_parser("sources", help="list the source adapters and the known public corpora")
    ev = sub.add_parser("eval", help="the eval stage of a recipe, or: --benchmark NAME with --model or --samples")
    ev.add_argument("recipe", nargs="?", help="a recipe with an eval section (then --benchmark etc. are not needed)")
    ev.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--force", action="append", default=[], type=_stage_list, metavar="STAGE", help=argparse.SUPPRESS)
    ev.add_argument("--dry-run", action="store_true", help="with a recipe: print the plan, write nothing")
    ev.add_argument("--benchmark", help="a built-in benchmark (see `alchemist sources`), or any name with --data")
    source = ev.add_mutually_exclusive_group()
    source.add_argument("--samples", help="JSON lines (or one JSON array): task_id + solution (a program) or completion")
    source.add_argument("--model", dest="model_path", help="generate first: a model path / hub id (hf, vllm) or served name (openai)")
    ev.add_argument("--backend", choices=("hf", "vllm", "openai"), default="hf")
    ev.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai backend endpoint")
    ev.add_argument("--api-key-env", default=None, help="openai backend: environment variable with the key")
    ev.add_argument("--style", default="instruct", help="instruct | paper | completion | mbpp-3shot")
    ev.add_argument("-n", "--num-samples", type=positive_int, default=1, help="samples per task (pass@k needs n >= k)")
    ev.add_argument("--temperature", type=_number(float, 0, True, "give 0 or more"), default=0.0)
    ev.add_argument("--max-tokens", type=positive_int, default=512)
    ev.add_argument("--limit", type=count, default=0, help="only the first N tasks (0: all)")
    ev.add_argument("--data", help="benchmark file (JSON lines) instead of the built-in or downloaded one")
    ev.add_argument("-o", "--output", help="output folder (default: eval/BENCHMARK/ beside the samples)")
    ev.add_argument("--name", dest="model", help="model name for the results (default: the samples file's or model's name)")
    ev.add_argument("--no-sanitize", action="store_true", help="run solutions as they are")
    ev.add_argument("--timeout", type=positive_float, default=10.0, help="seconds per program (default 10)")
    ev.add_argument("--workers", type=count, default=0, help="programs at once (default 0: one per core)")
    ev.add_argument("--max-failure-rate", type=_number(float, 0, True, "give a share from 0 to 1"), default=0.05,
                    help="share of answers whose generation may fail before the eval fails (default 0.05)")
    ev.add_argument("--require-isolation", action="store_true",
                    help="fail when a sandbox layer is unavailable on this machine, instead of warning")
    ev.add_argument("--show", metavar="TASK", help="print one task's prompt, answer and verdict from an eval folder (-o DIR)")
    sl = sub.add_parser("slurm", help="sbatch scripts for the stages a recipe runs (data, train, eval) and a submit.sh")
    sl.add_argument("recipe", help="recipe YAML")
    sl.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sl.add_argument("--nodes", type=positive_int, help="nodes for the train job (default train.launch.nnodes)")
    sl.add_argument("-o", "--output", help="folder for the scripts (default runs/NAME/slurm)")
    lb = sub.add_parser("leaderboard", help="tables, page and plot from eval results: RESULTS... -o DIR")
    lb.add_argument("results", nargs="+", help="results.json files or folders holding them (e.g. runs/)")
    lb.add_argument("-o", "--output", required=True, help="output folder")
    lb.add_argument("--no-reference", action="store_true", help="leave out the paper's published rows")
    return parser


def _run_stages(recipe, stages: list[str], args, console: Console | None = None, start: str | None = None) -> None:
    from alchemist.pipeline import Selection, check_stage_names, run_pipeline  # lazy: only what this command runs (top of file)

    force = [name for group in args.force for name in group]
    check_stage_names(stages, "--stages")
    check_stage_names(force, "--force")
    if start:
        check_stage_names([start], "--from")
    run_pipeline(recipe, console or Console(stderr=True), Selection(tuple(stages), start, tuple(force)), dry_run=args.dry_run)


def cmd_leaderboard(args) -> None:
    from pathlib import Path

    from alchemist.leaderboard import write_leaderboard  # lazy: only what this command runs (top of file)

    board = write_leaderboard(args.results, Path(args.output), with_reference=not args.no_reference)
    ours = sum(1 for r in board["rows"] if not r["reference"])
    _print(f"leaderboard: {ours} models + {len(board['rows']) - ours} reference rows -> {args.output}/index.html")


def cmd_eval(args) -> None:
    from pathlib import Path

    if args.recipe:
        from alchemist.recipe import load_recipe  # lazy: only what this command runs (top of file)

        recipe = load_recipe(args.recipe, args.overrides)
        if recipe.eval is None or not recipe.eval.enabled:
            raise UserError(f"{args.recipe}: no enabled eval section; add one (llm, benchmarks, style), "
                            "--set eval.enabled=true, or use --benchmark")
        _run_stages(recipe, ["eval"], args)
        return
    if args.show:
        from alchemist.evaluate.show import show_task  # lazy: only what this command runs (top of file)

        folder = Path(args.output) if args.output else None
        if folder is None:
            raise UserError("alchemist eval --show TASK: give the eval folder with -o DIR (e.g. -o runs/tiny/eval/humaneval)")
        problems = None
        if args.data:
            from alchemist.testsets import get_benchmark  # lazy: only what this command runs (top of file)

            problems = get_benchmark(args.benchmark or folder.name, args.data).problems(args.data)
        print(show_task(folder, args.show, problems), end="")
        return
    if not args.benchmark or not (args.samples or args.model_path):
        raise UserError("alchemist eval: give a recipe, or --benchmark NAME with --samples FILE or --model PATH")

    from alchemist.evaluate.prompts import few_shot  # lazy: only what this command runs (top of file)
    from alchemist.evaluate.run import claim_eval_dir, evaluate, limit_problems  # lazy: only what this command runs (top of file)
    from alchemist.execution import Limits  # lazy: only what this command runs (top of file)
    from alchemist.testsets import get_benchmark  # lazy: only what this command runs (top of file)

    inputs = [("--data", Path(args.data))] if args.data else []

    bench = get_benchmark(args.benchmark, args.data)
    problems, excluded = limit_problems(bench.eval_problems(args.data), args.limit)
    common = {"style": args.style, "n": args.num_samples, "temperature": args.temperature, "max_tokens": args.max_tokens,
              "sanitize": not args.no_sanitize, "limits": Limits(timeout=args.timeout), "workers": args.workers,
              "excluded": excluded, "say": lambda m: _print(m, sys.stderr),
              "max_failure_rate": args.max_failure_rate, "require_isolation": args.require_isolation}
    if args.model_path:
        from alchemist.llm.factory import build_client  # lazy: only what this command runs (top of file)
        from alchemist.specs.llm import HFLLM, VLLMLLM  # lazy: only what this command runs (top of file)

        out = Path(args.output or Path("runs") / "eval" / Path(args.model_path).name / args.benchmark)
        model = Path(args.model_path)
        check_overlap(out, [*inputs, *([("--model", model)] if model.exists() else [])], "-o")
        sampling = {"model": args.model_path, "temperature": args.temperature, "max_tokens": args.max_tokens}
        spec = (_openai_spec(args, sampling) if args.backend == "openai"
                else VLLMLLM(**sampling) if args.backend == "vllm" else HFLLM(**sampling))
        owned = claim_eval_dir(out)
        # the answer cache: beside the benchmarks' folders by default (shared by them), inside -o's folder
        cache_dir, cache = (owned, out) if args.output else (None, out.parent)
        if cache_dir is not None:
            cache_dir.check(*CACHE_FILES)
            cache_dir.wrote(*CACHE_FILES)
        client = build_client(spec, cache / CACHE_FILES[0]).named("--base-url", "--api-key-env")
        try:
            client.preflight()
            shots = bench.examples(args.data) if few_shot(args.style) else None
            results = evaluate(bench, problems, out, client=client, shots=shots,
                               model_name=args.model or Path(args.model_path).name, **common)
        finally:
            client.close()
    else:
        samples = Path(args.samples)
        out = Path(args.output) if args.output else samples.parent / "eval" / args.benchmark
        check_overlap(out, [("--samples", samples), *inputs], "-o")
        results = evaluate(bench, problems, out, samples=samples, model_name=args.model, **common)
    scores = ", ".join(f"{k} {v:.1%}" for k, v in results["pass_at_k"].items())
    _print(f"{args.benchmark}: {scores} on {results['tasks_scored']} of {results['tasks_in_benchmark']} tasks "
          f"({results['samples']} samples, {results['programs_per_s']} programs/s) -> {out / 'results.json'}")


def _openai_spec(args, sampling: dict):
    from pydantic import ValidationError

    from alchemist.specs.llm import OpenAILLM  # lazy: only what this command runs (top of file)

    try:
        return OpenAILLM(base_url=args.base_url, api_key_env=args.api_key_env, **sampling)
    except ValidationError as e:
        err = e.errors()[0]
        flag = {"base_url": "--base-url", "api_key_env": "--api-key-env", "model": "--model", "temperature": "--temperature",
                "max_tokens": "--max-tokens"}.get(str(err["loc"][0]) if err["loc"] else "", "--model")
        raise UserError(f"{flag}: {err['msg']}") from None


def cmd_sources(console: Console) -> None:
    from rich.table import Table

    from alchemist.recipe import catalog_dirs  # lazy: only what this command runs (top of file)
    from alchemist.sources import ADAPTERS  # lazy: only what this command runs (top of file)

    table = Table(title="adapters")
    table.add_column("name", style="bold")
    table.add_column("reads")
    table.add_column("options")
    for a in ADAPTERS.values():
        table.add_row(a.name, a.description, ", ".join(a.options) or "-")
    console.print(table)
    import yaml

    corpora = Table(title="known corpora (use in a recipe as `- use: NAME`)")
    for col in ("name", "hub id", "adapter", "records", "license"):
        corpora.add_column(col)
    seen = set()
    for d in catalog_dirs(None):
        for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            if f.stem in seen:
                continue
            seen.add(f.stem)
            e = yaml.safe_load(f.read_text()) or {}
            corpora.add_row(f.stem, str(e.get("hf", e.get("path", ""))), str(e.get("adapter", "")),
                            str(e.get("records", "")), str(e.get("license", "")))
    console.print(corpora)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.command == "eval":
            cmd_eval(args)
            return 0
        if args.command == "leaderboard":
            cmd_leaderboard(args)
            return 0
        if args.command == "sources":
            out = Console()
            cmd_sources(out if out.is_terminal else Console(width=200))
            return 0
        from alchemist.pipeline import DATA_STAGES  # lazy: only what this command runs (top of file)
        from alchemist.recipe import load_recipe  # lazy: only what this command runs (top of file)

        recipe = load_recipe(args.recipe, args.overrides)
        if args.command == "slurm":
            from alchemist.slurm import write_slurm_scripts  # lazy: only what this command runs (top of file)

            for p in write_slurm_scripts(recipe, Path(args.output) if args.output else recipe.run_dir / "slurm", args.nodes):
                _print(str(p))
        elif args.command == "data":
            _run_stages(recipe, list(DATA_STAGES), args, console)
        elif args.command == "train":
            if not recipe.trains:
                raise UserError(f"{args.recipe}: no enabled train section; add one (model, epochs, lr, ...) or --set train.enabled=true")
            if args.check:
                # torch and transformers: only `train --check` pays for loading them
                from alchemist.train.check import run_check

                return run_check(recipe.train, RunLayout(recipe.run_dir).train_data, Console())
            _run_stages(recipe, ["train"], args, console)
        else:
            _run_stages(recipe, args.stages, args, console, start=args.start)
        return 0
    except UserError as e:
        # a non-UTF-8 file name (lone surrogates in Python) is shown escaped, on any terminal
        _print(f"error: {e}", sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume; finished stages are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
