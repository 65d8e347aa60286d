"""Any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, OpenAI, ...).

Async with bounded concurrency; every request is retried with exponential backoff and jitter on
429, 5xx, timeouts, connection errors and malformed answers, honouring Retry-After. Several
endpoints (scale-out over many vLLM servers) share the load: each request goes to the endpoint
with the fewest requests in flight.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field

import orjson

from alchemist.errors import UserError
from alchemist.llm.types import ChatRequest, ChatResult

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


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
    extra_body: dict = field(default_factory=dict)

    @property
    def endpoints(self) -> list[str]:
        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        return [u.rstrip("/") for u in urls]


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


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
        texts.append(content)
        reasons.append(str(choice.get("finish_reason") or ""))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ChatResult(texts=texts, finish_reasons=reasons, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0))


class OpenAIBackend:
    def __init__(self, config: OpenAIConfig):
        self.config = config
        self.model_id = f"openai:{config.model}"
        self._in_flight = {u: 0 for u in config.endpoints}

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
        env = self.config.api_key_env
        if env and not os.environ.get(env):
            raise UserError(f"the environment variable {env} (relabel.llm.api_key_env) is not set: export your API key "
                            "in it, or set api_key_env: null for a server that needs no key")
        asyncio.run(self._preflight())

    async def _preflight(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=min(30.0, self.config.timeout))
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            for url in self.config.endpoints:
                try:
                    async with session.get(f"{url}/models") as resp:
                        if resp.status in (401, 403):
                            raise UserError(f"{url} rejected the API key (HTTP {resp.status}); check {self.config.api_key_env}")
                        if resp.status != 200:
                            continue  # not every server lists models; the first request will tell
                        data = orjson.loads(await resp.read())
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    raise UserError(f"cannot reach the LLM endpoint {url} ({type(e).__name__}: {e}); start the server "
                                    "or fix relabel.llm.base_url") from None
                except orjson.JSONDecodeError:
                    continue
                served = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)] if isinstance(data, dict) else []
                if served and self.config.model not in served:
                    raise UserError(f"model '{self.config.model}' is not served by {url}; it serves: {', '.join(map(str, served[:10]))}")

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

    def _pick_endpoint(self) -> str:
        return min(self._in_flight, key=self._in_flight.get)

    async def _one(self, session, request: ChatRequest) -> ChatResult:
        import aiohttp

        cfg = self.config
        chat = request.prompt is None
        path = "/chat/completions" if chat else "/completions"
        payload = orjson.dumps(self._body(request))
        last_error = "no attempt made"
        for attempt in range(cfg.max_retries + 1):
            url = self._pick_endpoint()
            self._in_flight[url] += 1
            wait = None
            try:
                async with session.post(url + path, data=payload) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        result = parse_completion(orjson.loads(body), chat)
                        result.attempts = attempt + 1
                        return result
                    snippet = body[:200].decode("utf-8", "replace").strip()
                    last_error = f"HTTP {resp.status} from {url}: {snippet}"
                    if resp.status not in RETRY_STATUS:
                        return ChatResult(error=last_error, attempts=attempt + 1)
                    wait = _retry_after(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                last_error = f"{type(e).__name__} from {url}: {e}"
            except (Malformed, orjson.JSONDecodeError, ValueError, TypeError) as e:
                last_error = f"malformed answer from {url}: {e}"
            finally:
                self._in_flight[url] -= 1
            if attempt < cfg.max_retries:
                backoff = min(cfg.backoff_max, cfg.backoff_base * 2**attempt) * (0.5 + random.random())
                await asyncio.sleep(max(backoff, wait or 0.0))
        return ChatResult(error=last_error, attempts=cfg.max_retries + 1)
