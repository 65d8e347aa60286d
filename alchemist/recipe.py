"""The recipe: one YAML file, validated by a typed schema before any work starts.

Every problem is reported at once, each with the file line and the key, e.g.
`recipes/tiny.yaml:14: sources[0].adpter: unknown key; did you mean 'adapter'?`.
"""

from __future__ import annotations

import copy
import difflib
import glob
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from alchemist.errors import RecipeError

# Keys of a data_sources/ entry that describe the corpus and are not source settings.
CATALOG_ONLY_KEYS = ("description", "license", "homepage", "records")
# Sections owned by stages that this version does not ship yet: accepted only when disabled.
FUTURE_SECTIONS = ("train",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSpec(Strict):
    name: str = Field(description="Unique name; the manifest counts per name.")
    adapter: str = Field(description="How records become Samples; see `alchemist sources`.")
    path: str | list[str] | None = Field(None, description="File, glob, directory or list of them.")
    hf: str | None = Field(None, description="Hugging Face dataset id, read with `datasets`.")
    config: str | None = Field(None, description="Dataset config (subset) for `hf`.")
    split: str = "train"
    revision: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="Adapter options.")
    weight: float = Field(1.0, ge=0, description="Mixing weight: <1 subsamples, >1 repeats.")
    max_samples: int | None = Field(None, ge=0, description="Cap on curated samples taken from this source.")
    use: str | None = Field(None, description="Name of the data_sources/ entry this was expanded from.")

    @model_validator(mode="after")
    def _one_location(self):
        if (self.path is None) == (self.hf is None):
            raise ValueError("give exactly one of `path` (local files) or `hf` (a Hugging Face dataset id)")
        return self


class NearDedupSpec(Strict):
    enabled: bool = True
    threshold: float = Field(0.7, gt=0, lt=1, description="Jaccard similarity above which samples are near-duplicates.")
    # 3-word shingles: instruction data is short, and in a 50-word sample one renamed variable
    # already breaks a third of the 5-word shingles
    ngram: int = Field(3, ge=1, description="Word n-gram (shingle) size.")
    num_perm: int = Field(112, ge=8, le=1024, description="Hash functions in total (buckets x hashes per bucket).")
    num_buckets: int | None = Field(None, ge=1, description="LSH bands; derived from threshold when unset.")
    hashes_per_bucket: int | None = Field(None, ge=1, description="Rows per band; derived from threshold when unset.")


class DedupSpec(Strict):
    exact: bool = True
    near: NearDedupSpec | bool = Field(default_factory=NearDedupSpec)

    @field_validator("near", mode="after")
    @classmethod
    def _near_bool(cls, v):
        if isinstance(v, bool):
            return NearDedupSpec(enabled=v)
        return v


class BenchmarkRef(Strict):
    name: str
    path: str | None = Field(None, description="Local copy; required for names that are not built in.")


class DecontaminateSpec(Strict):
    enabled: bool = True
    benchmarks: list[str | BenchmarkRef] = Field(default_factory=lambda: ["humaneval", "mbpp"])
    ngram: int = Field(13, ge=3, description="Word n-gram size of the overlap test.")
    min_overlap: float = Field(
        0.1, gt=0, le=1,
        description="Share of one benchmark field's n-grams found in a sample that marks it contaminated.",
    )

    def refs(self) -> list[BenchmarkRef]:
        return [BenchmarkRef(name=b) if isinstance(b, str) else b for b in self.benchmarks]


class FilterSpec(Strict):
    min_response_chars: int = Field(8, ge=0)
    max_chars: int = Field(60_000, ge=1, description="Instruction + response characters above which a sample is dropped.")
    require_code: bool = Field(True, description="Drop code-generation samples whose response holds no code.")
    python_syntax: bool = Field(True, description="Drop samples whose Python code does not parse.")
    max_garbled_ratio: float = Field(0.001, ge=0, le=1, description="Share of U+FFFD / control characters tolerated.")


class ExecutorSpec(Strict):
    type: Literal["local", "ray"] = Field("local", description="datatrove executor: local processes, or a running Ray cluster.")
    workers: int = Field(0, ge=0, description="Parallel tasks; 0 means one per CPU core.")
    options: dict[str, Any] = Field(default_factory=dict, description="Passed to datatrove's executor.")


class CurateSpec(Strict):
    enabled: bool = True
    strict: bool = Field(False, description="Stop at the first malformed record instead of counting it.")
    dedup: DedupSpec = Field(default_factory=DedupSpec)
    decontaminate: DecontaminateSpec = Field(default_factory=DecontaminateSpec)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)


class LLMSpec(Strict):
    backend: Literal["openai", "vllm", "hf"] = "openai"
    model: str = Field(description="Model name on the endpoint, or a local path / hub id for vllm and hf.")
    base_url: str | list[str] = Field("http://127.0.0.1:8000/v1", description="openai: one endpoint or several (load spread).")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="openai: the environment variable holding the key; null for none.")
    concurrency: int = Field(32, ge=1, le=4096)
    timeout: float = Field(300.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(6, ge=0)
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1)
    batch_size: int = Field(8, ge=1, description="hf: prompts per generate call.")
    tensor_parallel_size: int = Field(1, ge=1, description="vllm")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vllm")


class AlchemistPromptSpec(Strict):
    fraction: float = Field(0.05, ge=0, le=1, description="Share of curated code samples that get an AlchemistPrompt.")
    mode: Literal["add", "replace"] = Field("add", description="add: relabeled copy beside the original; replace: instead of it.")
    min_words: int = Field(4, ge=1)
    max_words: int = Field(80, ge=1)


class ComprehensionSpec(Strict):
    instruction_evolution: int = Field(0, ge=0, description="(original, evolved) instruction comparison tasks.")
    evol_codegen: int | None = Field(None, ge=0, description="Evolved instructions answered as code samples (default: as many as evolved).")
    data_filtering: int = Field(0, ge=0, description="Multiple-choice tasks from rejected samples.")
    code_review: int = Field(0, ge=0, description="Code reviews (scores, suggestions, refined code).")


class RelabelSpec(Strict):
    enabled: bool = True
    llm: LLMSpec
    alchemist_prompts: AlchemistPromptSpec = Field(default_factory=AlchemistPromptSpec)
    comprehension: ComprehensionSpec = Field(default_factory=ComprehensionSpec)
    max_failure_rate: float = Field(0.2, ge=0, le=1, description="Stop when more LLM requests than this share fail.")
    cache: str | None = Field(None, description="SQLite answer cache; default OUTPUT_DIR/llm_cache.sqlite.")
    seed: int | None = Field(None, description="Sampling seed sent with requests (default: the recipe seed).")


class EvalSpec(Strict):
    enabled: bool = True
    model: str = Field(description="Model to evaluate: a path or hub id (hf, vllm), a served name (openai), or builtin:tiny-random.")
    backend: Literal["openai", "vllm", "hf"] = "hf"
    base_url: str | list[str] = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None
    name: str | None = Field(None, description="Model name in results and the leaderboard (default: from `model`).")
    benchmarks: list[str] = Field(default_factory=lambda: ["humaneval", "humaneval_plus", "mbpp", "mbpp_plus"])
    data: dict[str, str] = Field(default_factory=dict, description="Benchmark name -> local file (offline machines).")
    style: Literal["instruct", "paper", "completion", "mbpp-3shot"] = "instruct"
    n: int = Field(1, ge=1, description="Samples per task; pass@k is reported for every k <= n.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(512, ge=1)
    timeout: float = Field(10.0, gt=0, description="Seconds per program in the sandbox.")
    limit: int = Field(0, ge=0, description="Only the first N tasks of each benchmark (0: all).")
    batch_size: int = Field(16, ge=1, description="hf backend")


class LeaderboardSpec(Strict):
    enabled: bool = True
    reference: bool = Field(True, description="Include the paper's published rows, marked as reference.")
    results: list[str] = Field(default_factory=list, description="More results.json files or folders to rank against.")


class MixSpec(Strict):
    shuffle: bool = True
    task_weights: dict[str, float] = Field(default_factory=dict, description="Per relabel task: <1 subsamples, >1 repeats.")


class Recipe(Strict):
    name: str
    output_dir: str | None = None
    seed: int = 0
    sources: list[SourceSpec] = Field(min_length=1)
    curate: CurateSpec = Field(default_factory=CurateSpec)
    mix: MixSpec = Field(default_factory=MixSpec)
    relabel: RelabelSpec | None = None
    train: dict[str, Any] | None = None
    eval: EvalSpec | None = None
    leaderboard: LeaderboardSpec | None = None
    _path: Path | None = PrivateAttr(None)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")


# ---------------------------------------------------------------------------------------------
# loading


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. --set curate.filters.min_response_chars=16")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value) if value.strip() else ""


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`--set a.b.c=value` (value parsed as YAML); list items by index: `sources.0.weight=2`."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        keys, value = _parse_override(text)
        node: Any = raw
        for i, key in enumerate(keys[:-1]):
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise RecipeError(f"--set {text}: '{'.'.join(keys[:i + 1])}' is not an index of that list")
                node = node[int(key)]
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, (dict, list)):
                    raise RecipeError(f"--set {text}: '{'.'.join(keys[:i + 1])}' is a value, not a section")
        last = keys[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise RecipeError(f"--set {text}: '{last}' is not an index of that list")
            node[int(last)] = value
        else:
            node[last] = value
    return raw


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _key_line(node: yaml.Node | None, loc: tuple) -> int | None:
    """Line of the key itself for unknown-key errors (the value may sit on another line)."""
    if not loc:
        return _line_of(node, loc)
    parent = node
    for key in loc[:-1]:
        if isinstance(parent, yaml.MappingNode):
            parent = next((v for k, v in parent.value if k.value == key), None)
        elif isinstance(parent, yaml.SequenceNode) and isinstance(key, int) and key < len(parent.value):
            parent = parent.value[key]
        else:
            return _line_of(node, loc)
    if isinstance(parent, yaml.MappingNode):
        for k, _ in parent.value:
            if k.value == loc[-1]:
                return k.start_mark.line + 1
    return _line_of(node, loc)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: Any = Recipe
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nested = [a for c in candidates for a in (c, *getattr(c, "__args__", ()))]
        model = next((a for a in nested if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def _describe(err: dict, yaml_root, origin: str) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper() or p in ("str", "bool", "list[str]")))
    where = _dotted(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        line = _key_line(yaml_root, loc)
        parent = _model_at(loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        msg = f"unknown key{hint}"
    else:
        line = _line_of(yaml_root, loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required key is missing"
    return f"{origin}:{line}: {where}: {msg}" if line else f"{origin}: {where}: {msg}"


def catalog_dirs(recipe_path: Path | None) -> list[Path]:
    """Where `use: NAME` entries are looked up, first match wins."""
    dirs = []
    if recipe_path is not None:
        dirs += [recipe_path.parent / "data_sources", recipe_path.parent.parent / "data_sources"]
    dirs += [Path.cwd() / "data_sources", Path(__file__).resolve().parent.parent / "data_sources"]
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def load_catalog_entry(name: str, recipe_path: Path | None) -> dict:
    for d in catalog_dirs(recipe_path):
        f = d / f"{name}.yaml"
        if f.is_file():
            entry = yaml.safe_load(f.read_text()) or {}
            return {k: v for k, v in entry.items() if k not in CATALOG_ONLY_KEYS}
    known = sorted({p.stem for d in catalog_dirs(recipe_path) if d.is_dir() for p in d.glob("*.yaml")})
    raise KeyError(f"no data_sources entry named '{name}' (known: {', '.join(known) or 'none'})")


def _expand_uses(raw: dict, recipe_path: Path | None, errors: list[str], yaml_root, origin: str) -> None:
    for i, src in enumerate(raw.get("sources") or []):
        if isinstance(src, dict) and src.get("use"):
            try:
                entry = load_catalog_entry(str(src["use"]), recipe_path)
            except KeyError as e:
                errors.append(f"{origin}:{_line_of(yaml_root, ('sources', i, 'use'))}: sources[{i}].use: {e.args[0]}")
                continue
            if "path" in src:  # a local copy of the corpus replaces its hub location
                entry = {k: v for k, v in entry.items() if k not in ("hf", "config", "split", "revision")}
            merged = {**entry, **src}
            merged.setdefault("name", src["use"])
            raw["sources"][i] = merged


def resolve_path(text: str, recipe_path: Path | None) -> Path:
    """Paths in a recipe are relative to the working directory, else to the recipe's folder."""
    p = Path(os.path.expanduser(text))
    if p.is_absolute() or recipe_path is None or _exists(p):
        return p
    alt = recipe_path.parent / p
    return alt if _exists(alt) else p


def _exists(p: Path) -> bool:
    if any(ch in str(p) for ch in "*?["):
        return bool(glob.glob(str(p), recursive=True))
    return p.exists()


def _semantic_errors(recipe: Recipe, recipe_path: Path | None, yaml_root, origin: str) -> list[str]:
    from alchemist.sources import ADAPTERS, expand_paths
    from alchemist.testsets import KNOWN_BENCHMARKS

    errors = []

    def err(loc: tuple, msg: str):
        line = _line_of(yaml_root, loc)
        errors.append(f"{origin}:{line}: {_dotted(loc)}: {msg}" if line else f"{origin}: {_dotted(loc)}: {msg}")

    seen = {}
    for i, src in enumerate(recipe.sources):
        if src.name in seen:
            err(("sources", i, "name"), f"'{src.name}' is already the name of sources[{seen[src.name]}]; names must be unique")
        seen[src.name] = i
        if src.adapter not in ADAPTERS:
            guess = difflib.get_close_matches(src.adapter, list(ADAPTERS), n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            err(("sources", i, "adapter"), f"unknown adapter '{src.adapter}'; {hint}choose one of {', '.join(ADAPTERS)}")
        else:
            problem = ADAPTERS[src.adapter].check_options(src.options)
            if problem:
                err(("sources", i, "options"), problem)
        if src.path is not None:
            for text in [src.path] if isinstance(src.path, str) else src.path:
                if not expand_paths(text, recipe_path, ADAPTERS.get(src.adapter)):
                    err(("sources", i, "path"), f"no file matches '{text}' (relative paths are read from the working directory, then the recipe's folder)")
    if recipe.eval is not None:
        for j, name in enumerate(recipe.eval.benchmarks):
            if name not in KNOWN_BENCHMARKS and name not in recipe.eval.data:
                err(("eval", "benchmarks", j), f"'{name}' is not built in ({', '.join(KNOWN_BENCHMARKS)}); give its file in eval.data")
    for j, ref in enumerate(recipe.curate.decontaminate.refs()):
        if ref.name not in KNOWN_BENCHMARKS and ref.path is None:
            err(("curate", "decontaminate", "benchmarks", j),
                f"'{ref.name}' is not a built-in benchmark ({', '.join(KNOWN_BENCHMARKS)}); give it a `path:` to a JSONL file")
        if ref.path is not None and not resolve_path(ref.path, recipe_path).is_file():
            err(("curate", "decontaminate", "benchmarks", j), f"benchmark file '{ref.path}' does not exist")
    for section in FUTURE_SECTIONS:
        value = getattr(recipe, section)
        if value is not None and value.get("enabled", True) is not False:
            err((section,), f"the '{section}' stage is not part of alchemist {_version()} yet; set `{section}.enabled: false` or remove the section")
    return errors


def _version() -> str:
    from alchemist import __version__

    return __version__


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, expand (`use:`), override (`--set`) and validate a recipe; raise RecipeError listing every problem."""
    path = Path(path)
    origin = str(path)
    if not path.is_file():
        raise RecipeError(f"{origin}: recipe file not found")
    text = path.read_text(encoding="utf-8")
    try:
        yaml_root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise RecipeError(f"{origin}{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{origin}: a recipe is a YAML mapping with keys name, sources, curate, ...")
    raw = apply_overrides(raw, overrides or [])
    errors: list[str] = []
    _expand_uses(raw, path, errors, yaml_root, origin)
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        errors += [_describe(err, yaml_root, origin) for err in e.errors()]
        raise RecipeError("\n".join(errors)) from None
    errors += _semantic_errors(recipe, path, yaml_root, origin)
    if errors:
        raise RecipeError("\n".join(errors))
    recipe._path = path
    return recipe


def dump_resolved(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
