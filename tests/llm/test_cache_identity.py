"""What the cache key holds besides the conversation: extra request parameters and the checkpoint
the server says it serves (vLLM's /v1/models `root`, an answer's `model` field)."""

import pytest

from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.fake_server import FakeServer
from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig


def backend(server, **kw):
    cfg = dict(model="fake-model", base_url=server.url, api_key_env=None, concurrency=4, timeout=5.0,
               max_retries=1, backoff_base=0.01, backoff_max=0.05)
    cfg.update(kw)
    return OpenAIBackend(OpenAIConfig(**cfg))


def req(text):
    return ChatRequest([{"role": "user", "content": text}], Sampling(max_tokens=32))


def sent(server, tmp_path, texts, **kw) -> int:
    """Requests a fresh client (a new run) sends for `texts` through the shared cache."""
    client = LLMClient(backend(server, **kw), tmp_path / "c.sqlite")
    try:
        assert all(r.ok for r in client.generate([req(t) for t in texts]))
        return client.usage.requests
    finally:
        client.close()


@pytest.fixture
def server():
    s = FakeServer().start()
    yield s
    s.stop()


def test_extra_body_is_part_of_the_key(server, tmp_path):
    assert sent(server, tmp_path, ["a"]) == 1
    assert sent(server, tmp_path, ["a"]) == 0
    assert sent(server, tmp_path, ["a"], extra_body={"top_k": 20}) == 1  # other request parameters, other answer
    assert sent(server, tmp_path, ["a"], extra_body={"top_k": 20}) == 0
    assert sent(server, tmp_path, ["a"], extra_body={"top_k": 40}) == 1


def test_another_checkpoint_under_the_same_name_is_not_answered_from_the_cache(server, tmp_path):
    server.root = "/ckpt/step-100"
    assert sent(server, tmp_path, ["a", "b"]) == 2
    assert sent(server, tmp_path, ["a", "b"]) == 0
    server.root = "/ckpt/step-200"  # vLLM restarted on a new checkpoint, --served-model-name unchanged
    assert sent(server, tmp_path, ["a", "b"]) == 2
    server.root = "/ckpt/step-100"
    assert sent(server, tmp_path, ["a"]) == 0  # both stay cached, each under its own checkpoint


def test_preflight_learns_the_checkpoint_and_so_does_a_client_without_it(server, tmp_path):
    server.root = "/ckpt/final"
    b = backend(server)
    b.preflight()
    assert b.identity() == {"served": ["root=/ckpt/final"]}
    assert backend(server).identity() == {"served": ["root=/ckpt/final"]}  # asked on first use
    server.root = None
    assert backend(server).identity() == {}  # OpenAI lists no root: the key is what it always was


def test_an_answer_from_another_snapshot_makes_cached_answers_stale(server, tmp_path):
    server.served_model = "fake-model-2024-05"
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    first = client.generate([req("a"), req("b")])
    assert [r.model for r in first] == ["fake-model-2024-05"] * 2
    client.close()
    server.served_model = "fake-model-2024-08"  # the alias now points at a newer snapshot
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    again = client.generate([req("a"), req("b"), req("c")])
    # "c" was answered by the new snapshot, so the cached "a" and "b" of the old one were resent
    assert [r.model for r in again] == ["fake-model-2024-08"] * 3 and not any(r.cached for r in again)
    assert client.usage.requests == 3 and client.usage.cache_hits == 0
    client.close()
    assert sent(server, tmp_path, ["a", "b", "c"]) == 0


def test_finish_reason_is_recorded_and_kept_in_the_cache(server, tmp_path):
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    cut, whole = client.generate([req("long answer [[length]]"), req("short answer")])
    assert cut.finish_reasons == ["length"] and cut.truncated
    assert whole.finish_reasons == ["stop"] and not whole.truncated
    assert client.usage.truncated == 1 and client.usage.as_dict()["truncated"] == 1
    client.close()
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    cut, whole = client.generate([req("long answer [[length]]"), req("short answer")])
    assert cut.cached and cut.truncated and cut.finish_reasons == ["length"]
    assert whole.cached and not whole.truncated and whole.model == "fake-model"
    client.close()
