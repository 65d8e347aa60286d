"""Several OpenAI-compatible endpoints behind one client (N vLLM servers): real HTTP servers on
127.0.0.1, one dead from the start or killed mid-run. Assertions count attempts, never seconds."""

import socket
import threading
import time

import pytest

from alchemist.llm import ChatRequest, LLMClient, Sampling
from alchemist.llm.fake_server import FakeServer
from alchemist.llm.openai_backend import Endpoint, OpenAIBackend, OpenAIConfig

CONCURRENCY = 8
EJECT_AFTER = 3


def closed_port_url() -> str:
    """A URL where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def backend(urls, **kw):
    cfg = dict(model="fake-model", base_url=urls, api_key_env=None, concurrency=CONCURRENCY, timeout=5.0,
               max_retries=4, backoff_base=0.01, backoff_max=0.05, eject_after=EJECT_AFTER,
               eject_cooldown=600.0)  # no probe during these runs: the counts below do not depend on time
    cfg.update(kw)
    return OpenAIBackend(OpenAIConfig(**cfg))


def req(text):
    return ChatRequest([{"role": "user", "content": text}], Sampling(max_tokens=32))


@pytest.fixture
def two():
    servers = [FakeServer(latency=0.01).start() for _ in range(2)]
    yield servers
    for s in servers:
        s.stop()


@pytest.mark.parametrize("death", ["refused", "http500"])
def test_a_dead_endpoint_gets_a_bounded_share_and_loses_no_answer(two, death):
    a, b = two
    broken = None
    if death == "refused":
        dead = closed_port_url()
    else:
        broken = FakeServer().start()
        broken.fail_share = 1.0  # up, but answers HTTP 500 to everything
        dead = broken.url
    try:
        n = 200
        be = backend([dead, a.url, b.url])
        results = be.generate([req(f"question {i}") for i in range(n)])
    finally:
        if broken:
            broken.stop()
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert max(r.attempts for r in results) <= 2  # a request that met the dead one was answered by the next
    d = be.endpoints[dead]
    # before it is ejected it can only get the first requests in flight at once, and the eject_after-th
    # failure ejects it: today's least-in-flight sends it most of the traffic instead
    assert 1 <= d.attempts <= EJECT_AFTER + CONCURRENCY and d.ejections == 1
    if broken:
        assert sum(broken.attempts.values()) == d.attempts
    # the run costs what a two-server run costs, plus those few failed attempts
    assert sum(a.requests.values()) + sum(b.requests.values()) == n
    assert sum(e.attempts for e in be.endpoints.values()) == n + d.attempts


def test_an_endpoint_killed_mid_run_loses_no_answer_and_the_others_take_over(two):
    a, b = two
    c = FakeServer(latency=0.01).start()
    n, kill_at = 300, 40

    def killer():
        while sum(c.requests.values()) < kill_at:
            time.sleep(0.002)
        c.stop()

    t = threading.Thread(target=killer)
    t.start()
    be = backend([a.url, b.url, c.url])
    try:
        results = be.generate([req(f"question {i}") for i in range(n)])
    finally:
        t.join(30)
        c.stop()
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert max(r.attempts for r in results) <= 2
    answered_by_c = sum(c.requests.values())
    assert kill_at <= answered_by_c < n // 2
    ec = be.endpoints[c.url]
    # after the kill: the requests in flight on it, and new ones until the eject_after-th failure
    assert ec.failed <= CONCURRENCY + EJECT_AFTER and ec.ejections == 1
    assert sum(a.requests.values()) + sum(b.requests.values()) >= n - answered_by_c


def test_an_ejected_endpoint_is_probed_back_after_its_cool_down(two):
    a, b = two
    c = FakeServer().start()
    port = int(c.url.rsplit(":", 1)[1].split("/")[0])
    c.stop()
    be = backend([a.url, b.url, c.url], eject_cooldown=0.05, eject_cooldown_max=0.2)
    assert all(r.ok for r in be.generate([req(f"first {i}") for i in range(40)]))
    ec = be.endpoints[c.url]
    assert ec.ejections >= 1 and not ec.live
    c = FakeServer().start(port)  # back on the same address
    try:
        while time.monotonic() < ec.ejected_until:  # at most eject_cooldown_max
            time.sleep(0.01)
        results = be.generate([req(f"second {i}") for i in range(60)])
        assert all(r.ok for r in results)
        assert ec.live and sum(c.requests.values()) >= 10  # the probe succeeded: its share is back
    finally:
        c.stop()


def test_cool_down_doubles_after_each_failed_probe_and_resets_on_success():
    be = backend(["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], eject_cooldown=1.0, eject_cooldown_max=5.0)
    e: Endpoint = be.endpoints["http://127.0.0.1:1/v1"]
    for _ in range(EJECT_AFTER - 1):
        be._fault(e)
    assert e.live
    be._fault(e)
    assert not e.live and e.cooldown == 1.0 and e.ejections == 1
    assert be._pick().url == "http://127.0.0.1:2/v1"  # no traffic while cooling down
    cooled = []
    for _ in range(4):
        e.ejected_until = time.monotonic() - 1  # the cool-down is over
        probe = be._pick()
        assert probe is e and e.probing
        assert be._pick().url == "http://127.0.0.1:2/v1"  # one probe at a time
        be._fault(e)
        cooled.append(e.cooldown)
    assert cooled == [2.0, 4.0, 5.0, 5.0]
    be._alive(e)
    assert e.live and e.failures == 0 and be._pick().url == "http://127.0.0.1:1/v1"


def test_every_endpoint_down_still_retries_and_reports():
    be = backend([closed_port_url(), closed_port_url()], max_retries=3)
    results = be.generate([req("x"), req("y")])
    assert all(not r.ok and r.attempts == 4 and "from http://127.0.0.1" in r.error for r in results)


def test_preflight_starts_without_an_unreachable_endpoint_among_several(two, caplog):
    a, b = two
    dead = closed_port_url()
    be = backend([a.url, dead, b.url])
    be.preflight()
    assert not be.endpoints[dead].live and "unreachable" in caplog.text
    client = LLMClient(be, None)
    assert all(r.ok for r in client.generate([req(f"q{i}") for i in range(20)]))
    assert be.endpoints[dead].attempts == 0
