"""The recipe: one YAML file, validated by a schema composed of each stage's spec before any work
starts. `load` reads and checks it, `locate` resolves its paths, `schema` composes the specs."""

from alchemist.curate.spec import CurateSpec, DedupSpec, ExecutorSpec
from alchemist.evaluate.spec import EvalSpec
from alchemist.ingest.spec import SourceSpec
from alchemist.leaderboard.spec import LeaderboardSpec
from alchemist.mix.spec import MixSpec
from alchemist.recipe.load import apply_overrides, dump_resolved, load_catalog_entry, load_recipe
from alchemist.recipe.locate import catalog_dirs, resolve_path
from alchemist.recipe.schema import Recipe
from alchemist.relabel.spec import AlchemistPromptSpec, ComprehensionSpec, RelabelSpec
from alchemist.rules.spec import BenchmarkRef, DecontaminateSpec, FilterSpec, NearDedupSpec
from alchemist.specs.llm import HFLLM, VLLMLLM, LLMSpec, OpenAILLM
from alchemist.train.spec import TrainSpec

__all__ = [
    "HFLLM", "VLLMLLM", "AlchemistPromptSpec", "BenchmarkRef", "ComprehensionSpec", "CurateSpec", "DecontaminateSpec",
    "DedupSpec", "EvalSpec", "ExecutorSpec", "FilterSpec", "LLMSpec", "LeaderboardSpec", "MixSpec", "NearDedupSpec",
    "OpenAILLM", "Recipe", "RelabelSpec", "SourceSpec", "TrainSpec", "apply_overrides", "catalog_dirs", "dump_resolved",
    "load_catalog_entry", "load_recipe", "resolve_path",
]
