"""The OpenAI-compatible client against a real HTTP server on 127.0.0.1 that misbehaves on cue."""

import pytest

from alchemist.errors import UserError
from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.fake_server import FakeServer
from alchemist.llm.openai_backend import OpenAIBackend, OpenAIConfig


@pytest.fixture
def server():
    s = FakeServer().start()
    yield s
    s.stop()


def backend(server, **kw):
    cfg = dict(model="fake-model", base_url=server.url, api_key_env=None, concurrency=8, timeout=2.0,
               max_retries=4, backoff_base=0.01, backoff_max=0.05)
    cfg.update(kw)
    return OpenAIBackend(OpenAIConfig(**cfg))


def req(text):
    return ChatRequest([{"role": "user", "content": text}], Sampling(max_tokens=32))


@pytest.mark.parametrize("mode", ["429", "500", "truncated", "malformed", "close"])
def test_transient_failures_are_retried_until_answered(server, mode):
    results = backend(server).generate([req(f"task {i} [[fail:{mode}x2]]") for i in range(6)])
    assert all(r.ok and r.text for r in results), [r.error for r in results]
    assert all(r.attempts == 3 for r in results)


def test_slow_requests_time_out_and_retry(server):
    results = backend(server, timeout=0.3).generate([req("slow one [[fail:slowx1]]")])
    assert results[0].ok and results[0].attempts == 2


def test_persistent_failure_is_counted_not_raised(server):
    b = backend(server, max_retries=2)
    results = b.generate([req("ok"), req("never [[fail:500x99]]"), req("fine")])
    assert results[0].ok and results[2].ok
    assert not results[1].ok and "HTTP 500" in results[1].error and results[1].attempts == 3


def test_client_errors_are_not_retried(server):
    results = backend(server, model="other-model").generate([req("x")])
    assert not results[0].ok and "HTTP 404" in results[0].error and results[0].attempts == 1


def test_concurrency_is_bounded():
    server = FakeServer(latency=0.05).start()
    try:
        results = backend(server, concurrency=5).generate([req(f"q{i}") for i in range(40)])
    finally:
        server.stop()
    assert all(r.ok for r in results)
    assert 3 <= server.peak <= 5


def test_load_is_spread_over_endpoints():
    a, b = FakeServer(latency=0.02).start(), FakeServer(latency=0.02).start()
    try:
        results = backend(a, base_url=[a.url, b.url], concurrency=8).generate([req(f"q{i}") for i in range(40)])
        assert all(r.ok for r in results)
        assert sum(a.requests.values()) >= 10 and sum(b.requests.values()) >= 10
    finally:
        a.stop()
        b.stop()


def test_preflight_names_the_problem(server, monkeypatch):
    with pytest.raises(UserError, match="cannot reach the LLM endpoint http://127.0.0.1:9/v1"):
        backend(server, base_url="http://127.0.0.1:9/v1").preflight()
    with pytest.raises(UserError, match="model 'gpt-nope' is not served by"):
        backend(server, model="gpt-nope").preflight()
    monkeypatch.delenv("ALCHEMIST_TEST_KEY", raising=False)
    with pytest.raises(UserError, match="environment variable ALCHEMIST_TEST_KEY"):
        backend(server, api_key_env="ALCHEMIST_TEST_KEY").preflight()
    keyed = FakeServer(require_key="sekret").start()
    try:
        monkeypatch.setenv("ALCHEMIST_TEST_KEY", "wrong")
        with pytest.raises(UserError, match="rejected the API key"):
            backend(keyed, api_key_env="ALCHEMIST_TEST_KEY").preflight()
        monkeypatch.setenv("ALCHEMIST_TEST_KEY", "sekret")
        backend(keyed, api_key_env="ALCHEMIST_TEST_KEY").preflight()
        assert backend(keyed, api_key_env="ALCHEMIST_TEST_KEY").generate([req("x")])[0].ok
    finally:
        keyed.stop()


def test_cache_answers_repeats_without_requests(server, tmp_path):
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    first = client.generate([req("a"), req("b"), req("a")])
    assert client.usage.requests == 2 and client.usage.cache_hits == 1
    assert first[0].text == first[2].text
    client.close()
    again = LLMClient(backend(server), tmp_path / "c.sqlite")
    second = again.generate([req("a"), req("b")])
    assert again.usage.requests == 0 and again.usage.cache_hits == 2 and all(r.cached for r in second)
    assert [r.text for r in second] == [first[0].text, first[1].text]
    assert sum(server.requests.values()) == 2


def test_a_lone_surrogate_in_an_answer_becomes_a_replacement_character(server, tmp_path):
    """Servers send half an emoji as a lone "\\ud83d" escape: the answer is kept (orjson refuses
    the body, the standard parser takes it) with U+FFFD in its place, and it can be cached."""
    client = LLMClient(backend(server), tmp_path / "c.sqlite")
    first = client.generate([req("cut emoji [[surrogate]]")])[0]
    assert first.ok and first.text.endswith(" \ufffd") and first.attempts == 1
    client.close()
    again = LLMClient(backend(server), tmp_path / "c.sqlite")
    assert again.generate([req("cut emoji [[surrogate]]")])[0].text == first.text and again.usage.requests == 0
    again.close()


def test_failed_answers_are_not_cached(server, tmp_path):
    client = LLMClient(backend(server, max_retries=0), tmp_path / "c.sqlite")
    assert not client.generate([req("x [[fail:500x1]]")])[0].ok
    assert client.usage.failed == 1
    assert client.generate([req("x [[fail:500x1]]")])[0].ok  # retried on the next run, now answered
