"""The transformers backend on a tiny model built in the test: the whole relabel stage runs."""

import json

import pytest

from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.hf_backend import HFBackend, HFConfig
from alchemist.tiny_model import build_tiny_model
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def test_generate_batches_in_order_and_is_deterministic(tiny_model, tmp_path):
    backend = HFBackend(HFConfig(model=str(tiny_model), batch_size=3))
    requests = [ChatRequest([{"role": "user", "content": f"Write code number {i}"}], Sampling(max_tokens=8)) for i in range(5)]
    first = backend.generate(requests)
    assert len(first) == 5 and all(r.ok for r in first)
    assert all(0 < r.completion_tokens <= 8 for r in first)
    alone = backend.generate([requests[3]])
    assert alone[0].text == first[3].text  # left padding: a prompt's answer does not depend on its batch
    client = LLMClient(backend, tmp_path / "c.sqlite")
    client.generate(requests[:2])
    assert client.usage.requests == 2
    client.generate(requests[:2])
    assert client.usage.cache_hits == 2


def test_relabel_stage_runs_on_the_hf_backend(tiny_model, tmp_path):
    r = run_cli("data", "recipes/tiny.yaml", "--set", f"output_dir={tmp_path}",
                "--set", f"relabel={{llm: {{backend: hf, model: '{tiny_model}', max_tokens: 24, batch_size: 8}}, "
                         "alchemist_prompts: {fraction: 0.05}, comprehension: {code_review: 3, data_filtering: 4}}")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    rel = manifest["relabel"]
    assert rel["llm"] == f"hf:{tiny_model}" and rel["failed"] == 0
    sent = rel["llm_requests"]
    assert sent > 3
    # a random model writes noise: every answer is either used or rejected with a reason
    asked = {"alchemist_prompt": sent - 3, "code_review": 3}
    for task, n in asked.items():
        assert rel[task] + sum(rel["rejected"].get(task, {}).values()) == n
    assert rel["data_filtering"] == 4  # built from rejection reasons, no LLM needed


def test_vllm_backend_without_vllm_says_how_to_install():
    import importlib.util

    from alchemist.errors import UserError
    from alchemist.llm.vllm_backend import VLLMBackend, VLLMConfig

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here; the GPU path is exercised where a GPU is")
    with pytest.raises(UserError, match=r"pip install 'alchemist\[gpu\]'"):
        VLLMBackend(VLLMConfig(model="any")).preflight()


def test_finish_reason_says_when_max_new_tokens_cut_the_answer(tiny_model):
    backend = HFBackend(HFConfig(model=str(tiny_model), batch_size=4))
    prompts = [[{"role": "user", "content": f"Write code number {i}"}] for i in range(3)]
    cut = backend.generate([ChatRequest(m, Sampling(max_tokens=6)) for m in prompts])
    assert all(r.finish_reasons == ["length"] and r.truncated for r in cut)  # a random model never says EOS
    # a stop string each answer writes (its first visible character): the answer stops there, cut before it
    stops = [r.text.strip()[:1] for r in cut]
    for m, stop, whole in zip(prompts, stops, cut):
        if not stop:
            continue
        [r] = backend.generate([ChatRequest(m, Sampling(max_tokens=6, stop=(stop,)))])
        assert r.finish_reasons == ["stop"] and not r.truncated
        assert whole.text.startswith(r.text) and stop not in r.text.strip()


def test_new_weights_at_the_same_path_are_not_answered_from_the_cache(tiny_model, tmp_path):
    import os
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    request = ChatRequest([{"role": "user", "content": "Write code"}], Sampling(max_tokens=4))

    def requests_sent() -> int:
        client = LLMClient(HFBackend(HFConfig(model=str(model))), tmp_path / "c.sqlite")
        client.generate([request])
        client.close()
        return client.usage.requests

    assert requests_sent() == 1
    assert requests_sent() == 0
    weights = next(model.glob("*.safetensors"))
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # retrained in place: same name, new file
    assert requests_sent() == 1
    assert requests_sent() == 0


def test_decoding_loop_matches_transformers_generate_and_drops_finished_rows(tiny_model):
    """Greedy answers of our loop (rows leave the batch as they end) equal transformers' own
    `generate` on each prompt alone; an end-of-turn token ends only its own row."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alchemist.llm.hf_backend import decode

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    texts = ["def add(a, b):", "x", "import os\nimport sys\nfor line in sys.stdin:\n    print(line)"]
    prompts = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    max_new = 12
    expected = []
    for p in prompts:
        with torch.no_grad():
            out = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                 max_new_tokens=max_new, do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id)
        expected.append(out[0, len(p):].tolist())
    new, reasons = decode(model, prompts, Sampling(max_tokens=max_new), set(), tok.pad_token_id)
    assert new == expected and reasons == ["length"] * 3
    # a token one answer writes (and another does not) as the end-of-turn: that row stops before
    # it, the rows that never write it go on unchanged after it left the batch
    row, k = next((r, i) for r in range(3) for i in range(max_new) if expected[r][i] not in expected[r][:i]
                  and any(expected[r][i] not in expected[o] for o in range(3)))
    eos = expected[row][k]
    new, reasons = decode(model, prompts, Sampling(max_tokens=max_new), {eos}, tok.pad_token_id)
    assert new[row] == expected[row][:k] and reasons[row] == "stop"
    for r in range(3):
        if eos not in expected[r]:
            assert new[r] == expected[r] and reasons[r] == "length"


def test_generation_threads_are_set_while_generating_and_restored(tiny_model):
    import torch

    from alchemist.llm.hf_backend import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: torch's own default, untouched
        assert torch.get_num_threads() == before


def test_length_batches_group_prompts_of_similar_length():
    from alchemist.llm.hf_backend import length_batches

    lengths = [5, 100, 7, 98, 6, 99]
    batches = length_batches(lengths, 3)
    assert [sorted(lengths[i] for i in b) for b in batches] == [[98, 99, 100], [5, 6, 7]]
    assert sorted(i for b in batches for i in b) == list(range(6))


def test_sampling_with_a_seed_repeats_and_answers_n_choices(tiny_model):
    backend = HFBackend(HFConfig(model=str(tiny_model), batch_size=4))
    req = ChatRequest([{"role": "user", "content": "Write code"}], Sampling(max_tokens=6, temperature=1.0, top_p=0.9, n=3, seed=7))
    a, b = backend.generate([req])[0], backend.generate([req])[0]
    assert len(a.texts) == 3 and a.texts == b.texts
    assert len(set(a.texts)) > 1  # three draws from a random model's wide distribution differ


def test_a_stop_string_counts_after_the_answers_leading_whitespace():
    """A model that opens with a newline (common after a pre-filled tag) has not answered yet."""
    assert HFBackend._cut("\nPlease write Go code.\nMore", ("\n",)) == "\nPlease write Go code."
    assert HFBackend._cut("Please</prompt> tail", ("</prompt>", "\n")) == "Please"
    assert HFBackend._cut("  \n ", ("\n",)) == "  \n "
