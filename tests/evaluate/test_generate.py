"""`alchemist eval --model`: generation through the LLM client, then scoring."""

import json

import pytest

from alchemist.errors import UserError
from alchemist.evaluate.prompts import PAPER_HUMANEVAL, make_prompt
from alchemist.llm.fake_server import FakeServer
from alchemist.testsets import Problem, load_benchmark
from alchemist.tiny_model import build_tiny_model
from tests.helpers import run_cli


def test_prompt_styles():
    p = load_benchmark("humaneval")[0]
    chat = make_prompt(p, "instruct")
    assert chat.kind == "solution" and p.prompt in chat.messages[0]["content"]
    paper = make_prompt(p, "paper")
    assert paper.text == PAPER_HUMANEVAL.format(prompt=p.prompt) and paper.messages is None
    comp = make_prompt(p, "completion")
    assert comp.text == p.prompt and comp.kind == "completion" and "\ndef " in comp.stop
    mbpp = Problem("mbpp", "mbpp/11", "Write a function to add.", "def add(a, b):\n    return a + b", "assert add(1, 2) == 3")
    shot = make_prompt(mbpp, "mbpp-3shot", shots=[mbpp, mbpp, mbpp])
    assert shot.text.count("[BEGIN]") == 4 and shot.text.endswith("[BEGIN]\n") and shot.stop == ("[DONE]",)
    with pytest.raises(UserError):
        make_prompt(mbpp, "completion")


def test_eval_model_through_an_openai_compatible_server(tmp_path):
    server = FakeServer().start()
    try:
        args = ["eval", "--benchmark", "humaneval", "--model", "fake-model", "--backend", "openai",
                "--base-url", server.url, "--limit", "4", "-o", tmp_path / "o"]
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        results = json.loads((tmp_path / "o" / "results.json").read_text())
        assert results["tasks_scored"] == 4 and results["model"] == "fake-model"
        assert results["pass_at_k"]["pass@1"] == 0.0  # the fake server's answers do not solve HumanEval
        assert results["generation"] == {"llm": "openai:fake-model", "prompt_style": "instruct", "n": 1,
                                         "temperature": 0.0, "max_tokens": 512}
        generations = (tmp_path / "o" / "generations.jsonl").read_text().splitlines()
        assert len(generations) == 4 and all("solution" in json.loads(g) for g in generations)
        sent = sum(server.requests.values())
        assert run_cli(*args).returncode == 0 and sum(server.requests.values()) == sent  # answered from the cache
    finally:
        server.stop()


def test_eval_model_on_the_hf_backend_in_completion_mode(tmp_path):
    model = build_tiny_model(tmp_path / "tiny")
    r = run_cli("eval", "--benchmark", "humaneval", "--model", model, "--style", "completion", "--limit", "2",
                "--max-tokens", "16", "-o", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (tmp_path / "o" / "generations.jsonl").read_text().splitlines()]
    assert [x["task_id"] for x in lines] == ["HumanEval/0", "HumanEval/1"] and all("completion" in x for x in lines)
    assert json.loads((tmp_path / "o" / "results.json").read_text())["samples"] == 2


def test_evaluate_generates_through_the_client_and_its_cache(tmp_path):
    """evaluate() with an OpenAI-compatible endpoint: the same path the CLI and the eval stage take."""
    from alchemist.evaluate.run import evaluate
    from alchemist.llm import LLMClient
    from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig
    from alchemist.testsets import BENCHMARKS

    server = FakeServer().start()
    try:
        bench = BENCHMARKS["humaneval"]
        problems = bench.eval_problems()[:3]

        def run(out):
            client = LLMClient(OpenAIBackend(OpenAIConfig(model="fake-model", base_url=server.url, api_key_env=None)),
                               tmp_path / "cache.sqlite")
            try:
                return evaluate(bench, problems, out, client=client, excluded={"HumanEval/3"})
            finally:
                client.close()

        results = run(tmp_path / "o")
        assert results["model"] == "fake-model" and results["tasks_scored"] == 3 and results["tasks_in_benchmark"] == 4
        assert results["generation"]["llm"] == "openai:fake-model" and results["pass_at_k"]["pass@1"] == 0.0
        assert len((tmp_path / "o" / "generations.jsonl").read_text().splitlines()) == 3
        sent = sum(server.requests.values())
        assert run(tmp_path / "again")["pass_at_k"] == results["pass_at_k"] and sum(server.requests.values()) == sent
    finally:
        server.stop()
