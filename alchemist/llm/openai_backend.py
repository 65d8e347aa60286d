"""Any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, OpenAI, ...).

Async with bounded concurrency; every request is retried with exponential backoff and jitter on
429, 5xx, timeouts, connection errors and malformed answers, honouring Retry-After. Several
endpoints (scale-out over many vLLM servers) share the load: each request goes to the live endpoint
with the fewest requests in flight. An endpoint that fails `eject_after` times in a row (refused
connection, 5xx, timeout, malformed answer) is ejected: no traffic for a cool-down, then one probe
request; a failed probe doubles the cool-down (up to `eject_cooldown_max`), a success brings it
back. A request whose endpoint failed is retried at once on another live one, so a dead server
costs a few attempts, not answers. With every endpoint ejected, all of them are tried as usual.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

from alchemist.errors import UserError
from alchemist.llm.types import ChatRequest, ChatResult
from alchemist.schema import SURROGATE

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
log = logging.getLogger(__name__)


def check_url(url: str, key: str) -> None:
    """An endpoint URL with a scheme and a host; `localhost:8000` gets the `http://` it lacks."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f"; did you mean 'http://{url}'?" if "://" not in url and url.strip() else "; give an http:// or https:// URL"
        raise UserError(f"{key} {url!r}: not an http(s) URL{hint}")


def _no_key(key: str) -> str:
    return "leave out --api-key-env" if key.startswith("--") else f"set {key}: null"


class Malformed(Exception):
    """A 200 answer that is not a chat completion."""


@dataclass
class OpenAIConfig:
    model: str
    base_url: str | list[str] = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 32
    timeout: float = 300.0
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    extra_body: dict = field(default_factory=dict)  # sent with every request (and part of the cache key)
    eject_after: int = 3  # consecutive failures that take an endpoint out of rotation
    eject_cooldown: float = 2.0  # seconds before the first probe; doubles after each failed probe
    eject_cooldown_max: float = 120.0
    # how the user named the endpoint settings (recipe keys or flags), for errors about them
    names: dict = field(default_factory=lambda: {"base_url": "relabel.llm.base_url", "api_key_env": "relabel.llm.api_key_env"})

    @property
    def endpoints(self) -> list[str]:
        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        return [u.rstrip("/") for u in urls]


@dataclass
class Endpoint:
    """One base URL's load and health, and counts for reports and tests."""

    url: str
    in_flight: int = 0
    failures: int = 0  # consecutive
    ejected_until: float = 0.0  # time.monotonic(); 0.0 while live
    cooldown: float = 0.0
    probing: bool = False  # the one request allowed to an ejected endpoint after its cool-down
    attempts: int = 0
    failed: int = 0
    ejections: int = 0

    @property
    def live(self) -> bool:
        return self.ejected_until == 0.0


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def load_body(body: bytes):
    """A JSON answer. orjson refuses a lone surrogate escape (a cut emoji) that servers do send;
    the standard parser takes it, and parse_completion replaces it."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if "surrogate" not in str(e):
            raise
        import json

        return json.loads(body)


def parse_completion(data, chat: bool) -> ChatResult:
    """Texts, finish reasons and usage from a (chat) completion body; Malformed if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise Malformed("no choices in the answer")
    texts, reasons = [], []
    for choice in sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        if not isinstance(choice, dict):
            raise Malformed("a choice is not an object")
        if chat:
            message = choice.get("message")
            content = message.get("content") if isinstance(message, dict) else None
        else:
            content = choice.get("text")
        if not isinstance(content, str):
            raise Malformed("a choice has no text content")
        # a lone surrogate escape (a cut emoji) is no character: U+FFFD, as a decoder would write
        texts.append(SURROGATE.sub("\ufffd", content))
        reasons.append(str(choice.get("finish_reason") or ""))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ChatResult(texts=texts, finish_reasons=reasons, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0),
                      model=data["model"] if isinstance(data.get("model"), str) else "")


def served_checkpoints(models: object, name: str) -> list[str]:
    """What a /v1/models answer says is behind `name`: vLLM's `root` (the checkpoint path) and, for a
    LoRA adapter, `parent`. Empty where the server does not say (OpenAI)."""
    entries = models.get("data") if isinstance(models, dict) else None
    found = []
    for m in entries if isinstance(entries, list) else []:
        if isinstance(m, dict) and m.get("id") == name:
            found += [f"{k}={m[k]}" for k in ("root", "parent") if isinstance(m.get(k), str) and m[k]]
    return found


class OpenAIBackend:
    def __init__(self, config: OpenAIConfig):
        self.config = config
        self.model_id = f"openai:{config.model}"
        self.endpoints = {u: Endpoint(u) for u in config.endpoints}
        self._served: list[str] | None = None  # checkpoints the endpoints report; None: not asked yet

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        env = self.config.api_key_env
        if env and os.environ.get(env):
            headers["Authorization"] = f"Bearer {os.environ[env]}"
        return headers

    def _body(self, request: ChatRequest) -> dict:
        s = request.sampling
        body = {"model": self.config.model, "max_tokens": s.max_tokens, "temperature": s.temperature,
                "top_p": s.top_p, "n": s.n, **self.config.extra_body}
        if s.stop:
            body["stop"] = list(s.stop)
        if s.seed is not None:
            body["seed"] = s.seed
        if request.prompt is not None:
            body["prompt"] = request.prompt
        else:
            body["messages"] = request.messages
        return body

    # -- preflight -------------------------------------------------------------------------

    def preflight(self) -> None:
        names = self.config.names
        for url in self.config.endpoints:
            check_url(url, names["base_url"])
        env = self.config.api_key_env
        if env and not os.environ.get(env):
            raise UserError(f"the environment variable {env} ({names['api_key_env']}) is not set: export your API key "
                            f"in it, or {_no_key(names['api_key_env'])} for a server that needs no key")
        asyncio.run(self._preflight())

    async def _preflight(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=min(30.0, self.config.timeout))
        unreachable, served = [], set()
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            for url in self.config.endpoints:
                try:
                    async with session.get(f"{url}/models") as resp:
                        if resp.status in (401, 403):
                            raise UserError(f"{url} rejected the API key (HTTP {resp.status}); check {self.config.api_key_env} "
                                            f"({self.config.names['api_key_env']})")
                        if resp.status != 200:
                            continue  # not every server lists models; the first request will tell
                        data = orjson.loads(await resp.read())
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    unreachable.append((url, f"{type(e).__name__}: {e}"))
                    continue
                except orjson.JSONDecodeError:
                    continue
                ids = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)] if isinstance(data, dict) else []
                if ids and self.config.model not in ids:
                    raise UserError(f"model '{self.config.model}' is not served by {url} ({self.config.names['base_url']}); "
                                    f"it serves: {', '.join(map(str, ids[:10]))}")
                served.update(served_checkpoints(data, self.config.model))
        if len(unreachable) == len(self.config.endpoints):
            url, why = unreachable[0]
            raise UserError(f"cannot reach the LLM endpoint {url} ({why}); start the server or fix {self.config.names['base_url']}")
        for url, why in unreachable:  # among several: start without it, probe it back after its cool-down
            log.warning("LLM endpoint %s is unreachable (%s); continuing on the others", url, why)
            self._eject(self.endpoints[url], time.monotonic())
        if len(served) > 1:
            log.warning("the endpoints serving '%s' report different checkpoints: %s", self.config.model, ", ".join(sorted(served)))
        self._served = sorted(served)

    def identity(self) -> dict:
        """extra_body and the checkpoint(s) the endpoints report (asked once, where preflight did not)."""
        if self._served is None:
            self._served = asyncio.run(self._discover())
        ident: dict = {}
        if self.config.extra_body:
            ident["extra_body"] = self.config.extra_body
        if self._served:
            ident["served"] = self._served
        return ident

    async def _discover(self) -> list[str]:
        import aiohttp

        async def one(session, url):
            try:
                async with session.get(f"{url}/models") as resp:
                    return served_checkpoints(orjson.loads(await resp.read()), self.config.model) if resp.status == 200 else []
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, orjson.JSONDecodeError):
                return []

        timeout = aiohttp.ClientTimeout(total=min(10.0, self.config.timeout))
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            found = await asyncio.gather(*(one(session, u) for u in self.config.endpoints))
        return sorted({c for f in found for c in f})

    def close(self) -> None:
        """Nothing held between calls: each `generate` opens and closes its own connections."""

    # -- generation ------------------------------------------------------------------------

    def generate(self, requests: list[ChatRequest], on_result=None) -> list[ChatResult]:
        """Answer every request (in order). `on_result(i, result)` is called as each one lands."""
        return asyncio.run(self._generate(requests, on_result))

    async def _generate(self, requests, on_result):
        import aiohttp

        cfg = self.config
        results: list[ChatResult | None] = [None] * len(requests)
        connector = aiohttp.TCPConnector(limit=cfg.concurrency, limit_per_host=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=cfg.timeout)
        queue: asyncio.Queue = asyncio.Queue()
        for i in range(len(requests)):
            queue.put_nowait(i)

        async def worker(session):
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                result = await self._one(session, requests[i])
                results[i] = result
                if on_result is not None:
                    on_result(i, result)

        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self._headers(),
                                         json_serialize=lambda o: orjson.dumps(o).decode()) as session:
            await asyncio.gather(*(worker(session) for _ in range(min(cfg.concurrency, len(requests)))))
        return results  # type: ignore[return-value]

    # -- endpoint health -------------------------------------------------------------------

    def _pick(self, avoid: str | None = None) -> Endpoint:
        """The live endpoint with the fewest requests in flight; an ejected one whose cool-down is
        over gets a single probe first. `avoid` (where this request just failed) only if alone."""
        now = time.monotonic()
        eps = list(self.endpoints.values())
        for e in eps:
            if not e.live and not e.probing and now >= e.ejected_until and e.url != avoid:
                e.probing = True
                return e
        live = [e for e in eps if e.live]
        pool = [e for e in live if e.url != avoid] or live or [e for e in eps if e.url != avoid] or eps
        return min(pool, key=lambda e: e.in_flight)

    def _eject(self, e: Endpoint, now: float) -> None:
        cfg = self.config
        e.cooldown = cfg.eject_cooldown if e.live else min(cfg.eject_cooldown_max, 2 * max(e.cooldown, cfg.eject_cooldown))
        e.ejected_until = now + e.cooldown
        e.ejections += 1

    def _alive(self, e: Endpoint) -> None:
        e.failures, e.ejected_until, e.cooldown, e.probing = 0, 0.0, 0.0, False

    def _fault(self, e: Endpoint) -> None:
        e.failures += 1
        e.failed += 1
        was_probe, e.probing = e.probing, False
        now = time.monotonic()
        if e.live:
            if e.failures >= self.config.eject_after:
                self._eject(e, now)
        elif was_probe or now >= e.ejected_until:
            self._eject(e, now)  # a failed probe: a longer cool-down
        # else: an ejected endpoint tried because every one is, or a request sent before it was
        # ejected: its cool-down stands

    async def _one(self, session, request: ChatRequest) -> ChatResult:
        import aiohttp

        cfg = self.config
        chat = request.prompt is None
        path = "/chat/completions" if chat else "/completions"
        payload = orjson.dumps(self._body(request))
        last_error = "no attempt made"
        avoid = None
        for attempt in range(cfg.max_retries + 1):
            e = self._pick(avoid)
            url = e.url
            e.in_flight += 1
            e.attempts += 1
            wait = None
            fault = False
            try:
                async with session.post(url + path, data=payload) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        result = parse_completion(load_body(body), chat)
                        result.attempts = attempt + 1
                        self._alive(e)
                        return result
                    snippet = body[:200].decode("utf-8", "replace").strip()
                    last_error = f"HTTP {resp.status} from {url}: {snippet}"
                    fault = resp.status >= 500
                    if not fault:
                        self._alive(e)  # it answers: a rate limit or a bad request is not a dead server
                    if resp.status not in RETRY_STATUS:
                        if fault:
                            self._fault(e)
                        return ChatResult(error=last_error, attempts=attempt + 1)
                    wait = _retry_after(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as ex:
                last_error = f"{type(ex).__name__} from {url}: {ex}"
                fault = True
            except (Malformed, orjson.JSONDecodeError, ValueError, TypeError) as ex:
                last_error = f"malformed answer from {url}: {ex}"
                fault = True
            finally:
                e.in_flight -= 1
            if fault:
                self._fault(e)
            if attempt < cfg.max_retries:
                avoid = url if fault else None
                if fault and any(o.live and o.url != url for o in self.endpoints.values()):
                    continue  # another endpoint is live: fail over at once, no backoff
                backoff = min(cfg.backoff_max, cfg.backoff_base * 2**attempt) * (0.5 + random.random())
                await asyncio.sleep(max(backoff, wait or 0.0))
        return ChatResult(error=last_error, attempts=cfg.max_retries + 1)
