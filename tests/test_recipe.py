from pathlib import Path

import pytest

from alchemist.errors import RecipeError
from alchemist.recipe import apply_overrides, load_recipe

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, text, name="r.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


DATA = ROOT / "data_sources" / "samples" / "code_alpaca.jsonl"


def base(extra=""):
    return f"""name: t
sources:
  - name: a
    adapter: alpaca
    path: {DATA}
{extra}"""


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "recipes").glob("*.yaml")))
def test_every_shipped_recipe_validates(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = load_recipe(ROOT / "recipes" / name)
    assert recipe.sources


def test_unknown_key_names_line_and_suggests(tmp_path):
    p = write(tmp_path, base("curate:\n  dedup:\n    exact: true\n  filtrs: {min_response_chars: 3}\n"))
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    assert f"{p}:9: curate.filtrs: unknown key; did you mean 'filters'?" in str(e.value)


def test_all_errors_reported_at_once(tmp_path):
    p = write(tmp_path, """name: t
seed: zero
sources:
  - name: a
    adapter: alpacca
    path: nowhere/*.jsonl
curate:
  decontaminate: {ngram: 2}
""")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert f"{p}:2: seed:" in msg
    assert "curate.decontaminate.ngram" in msg and f"{p}:8" in msg


def test_semantic_errors_name_adapter_and_path(tmp_path):
    p = write(tmp_path, """name: t
sources:
  - name: a
    adapter: alpacca
    path: nowhere/*.jsonl
""")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert f"{p}:4: sources[0].adapter: unknown adapter 'alpacca'; did you mean 'alpaca'?" in msg
    assert f"{p}:5: sources[0].path: no file matches 'nowhere/*.jsonl'" in msg


def test_path_and_hf_are_exclusive(tmp_path):
    p = write(tmp_path, "name: t\nsources:\n  - {name: a, adapter: alpaca}\n")
    with pytest.raises(RecipeError, match="exactly one of `path`"):
        load_recipe(p)


def test_overrides_apply_before_validation(tmp_path):
    p = write(tmp_path, base())
    r = load_recipe(p, ["curate.decontaminate.ngram=10", "sources.0.weight=0.5", "seed=7"])
    assert (r.curate.decontaminate.ngram, r.sources[0].weight, r.seed) == (10, 0.5, 7)
    with pytest.raises(RecipeError, match="curate.decontaminate.ngrm: unknown key"):
        load_recipe(p, ["curate.decontaminate.ngrm=10"])
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        apply_overrides({}, ["nonsense"])


def test_use_expands_catalog_entry(tmp_path):
    p = write(tmp_path, "name: t\nsources:\n  - use: magicoder_oss_instruct_75k\n    weight: 0.5\n")
    r = load_recipe(p)
    src = r.sources[0]
    assert src.name == "magicoder_oss_instruct_75k" and src.hf and src.adapter == "evol" and src.weight == 0.5
    p2 = write(tmp_path, "name: t\nsources:\n  - use: no_such_corpus\n", "r2.yaml")
    with pytest.raises(RecipeError, match=r"r2.yaml:3: sources\[0\].use: no data_sources entry named 'no_such_corpus'"):
        load_recipe(p2)


def test_llm_keys_are_checked_per_backend(tmp_path):
    p = write(tmp_path, base("relabel:\n  llm:\n    backend: openai\n    model: m\n    tensor_parallel_size: 2\n"))
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    assert f"{p}:10: relabel.llm.tensor_parallel_size: unknown key for backend openai" in str(e.value)
    p = write(tmp_path, base("eval:\n  model: x\n  benchmarks: [humaneval]\n"), "e.yaml")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    assert "eval.model: unknown key; the model and its sampling go under eval.llm" in str(e.value)
    assert "relabel" not in str(e.value)  # eval mistakes name eval keys


def test_eval_defaults_to_the_trained_model(tmp_path):
    r = load_recipe(write(tmp_path, base("train: {model: 'builtin:tiny'}\neval: {benchmarks: [humaneval]}\n")))
    assert r.eval.llm.model == "train" and r.eval.llm.temperature == 0.0 and r.evaluates_trained
    with pytest.raises(RecipeError, match=r":6: eval\.llm: is required"):
        load_recipe(write(tmp_path, base("eval: {benchmarks: [humaneval]}\n"), "no-train.yaml"))


def test_paths_are_absolute_in_the_resolved_recipe(tmp_path, monkeypatch):
    import yaml

    from alchemist.recipe import dump_resolved

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"instruction": "x", "output": "y"}\n')
    p = write(tmp_path, "name: t\nsources: [{name: a, adapter: alpaca, path: data/a.jsonl}]\n")
    monkeypatch.chdir("/")  # relative paths are found beside the recipe
    recipe = load_recipe(p)
    resolved = yaml.safe_load(dump_resolved(recipe))
    assert resolved["sources"][0]["path"] == str(tmp_path / "data" / "a.jsonl")
    assert Path(resolved["output_dir"]).is_absolute()
    again = tmp_path / "resolved.yaml"
    again.write_text(dump_resolved(recipe))
    assert load_recipe(again).model_dump() == recipe.model_dump()


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    p = write(tmp_path, "name: t\nsources: [\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(p)


def test_use_with_local_path_replaces_the_hub_location(tmp_path):
    p = write(tmp_path, f"name: t\nsources:\n  - use: code_alpaca_20k\n    path: {DATA}\n")
    src = load_recipe(p).sources[0]
    assert src.hf is None and src.path == str(DATA) and src.adapter == "alpaca"
