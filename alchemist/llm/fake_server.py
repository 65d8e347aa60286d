"""A deterministic OpenAI-compatible chat-completions server on 127.0.0.1, for tests, benchmarks
and offline dry runs of the relabel stage.

Answers are derived from the request (same request, same answer) and fit alchemist's relabel
templates, so a whole relabel stage runs against it. Requests can script failures with a
directive in their text: `[[fail:429x2]]` answers 429 twice then succeeds; the modes are 429,
500, slow (sleeps past the client's timeout), truncated (a cut-off JSON body), malformed (JSON
that is not a completion) and close (drops the connection). `[[length]]` answers a cut-off text
with finish_reason "length"; `[[surrogate]]` ends the answer with a lone surrogate escape; `[[oss:busy]]` in a snippet makes its OSS-Instruct tests slow; the decontamination judge
answers "no" unless the sample holds `[[judge:same]]`. `latency` delays every answer. `root` is reported by /v1/models as
vLLM does (the checkpoint path); `served_model` is the answers' `model` field (a dated snapshot).

    python -m alchemist.llm.fake_server --port 8000 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import threading
from collections import Counter

_DIRECTIVE = re.compile(r"\[\[fail:(429|500|slow|truncated|malformed|close)x(\d+)\]\]")


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)


def answer_for(messages: list[dict]) -> str:
    """A well-formed answer for each alchemist template, varied by the request's hash."""
    text = "\n".join(m.get("content", "") for m in messages if isinstance(m, dict))
    h = _digest(text)
    if "Are these the same problem" in text:  # the decontamination judge
        same = "[[judge:same]]" in text
        return f"VERDICT: {'yes' if same else 'no'}\nREASON: {'the same task, reworded' if same else 'different tasks'}"
    if "<prompt>" in text:
        styles = ["using a helper function and clear names", "with example usage and the printed output",
                  "using recursion", "with type hints and a docstring", "using a dictionary for fast lookups",
                  "with assert statements as tests"]
        language = re.search(r"<prompt>Please write (.+?) code", text)  # the pre-filled start names the sample's language
        return (f"<prompt>Please write {language.group(1) if language else 'Python'} code for the following task "
                f"{styles[h % len(styles)]}.</prompt>")
    if "<problem>" in text:  # OSS-Instruct: by hash, tests pass (2 in 4), fail (1 in 4) or are missing
        k, x, m, name = h % 4, h % 50, 2 + (h >> 4) % 7, f"scale_{(h >> 8) % 10000}"
        tests = "" if k == 1 else f"assert {name}({x}) == {m * x + (1 if k == 0 else 0)}"
        if tests and "[[oss:busy]]" in text:  # tests that take a while (about 0.3 CPU seconds)
            tests = f"_ = sum(i * i for i in range(3_000_000))\n{tests}"
        snippet = re.search(r"```\n(.*?)\n```", text, re.S)
        words = " ".join(re.findall(r"\w+", snippet.group(1))[:40]) if snippet else ""
        return (f"<problem>\nWrite a function {name}(x) that returns {m} times x, in the spirit of this code: "
                f"{words}\n</problem>\n"
                f"<solution>\n```python\ndef {name}(x):\n    return {m} * x\n```\n</solution>\n"
                f"<tests>\n```python\n{tests}\n```\n</tests>")
    if "<evolved>" in text:
        task = re.search(r"### Task\n(.*?)\n\nReply in exactly", text, re.S)
        original = task.group(1).strip() if task else "the task"
        extra = ["Handle empty input and invalid arguments by raising ValueError.",
                 "The solution must run in O(n log n) time.",
                 "Also return the number of steps performed."][h % 3]
        return (f"<evolved>\n{original}\n{extra}\n</evolved>\n<explanation>\nThe new version adds a requirement: "
                f"{extra} This makes it harder because the solution must handle more cases and reason about "
                f"them explicitly.\n</explanation>")
    if "Refined code:" in text:
        return (f"Correctness: {6 + h % 5}\nClarity: {5 + h % 6}\nSuggestions:\n- Add type hints to the signature.\n"
                f"- Handle empty input explicitly.\nRefined code:\n```python\ndef solution(items: list) -> list:\n"
                f"    if not items:\n        return []\n    return sorted(items)\n```")
    name = f"solve_{h % 1000}"
    return (f"Here is a solution:\n\n```python\ndef {name}(values):\n    \"\"\"Return the processed values.\"\"\"\n"
            f"    if not values:\n        raise ValueError('empty input')\n    result = sorted(values)\n"
            f"    return result[: {1 + h % 7}]\n```\n\nIt sorts the input and keeps the first items.")


class FakeServer:
    def __init__(self, latency: float = 0.0, model: str = "fake-model", require_key: str | None = None,
                 root: str | None = None):
        self.latency = latency
        self.model = model
        self.root = root
        self.served_model = model
        self.require_key = require_key
        self.requests: Counter = Counter()  # request body hash -> times received
        self.attempts: Counter = Counter()
        self.fail_share = 0.0  # this share of requests (chosen by hash, stable) answers HTTP 500
        self.in_flight = 0
        self.peak = 0  # most requests handled at once
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._thread: threading.Thread | None = None

    # -- handlers --------------------------------------------------------------------------

    async def _models(self, request):
        from aiohttp import web

        if self.require_key and request.headers.get("Authorization") != f"Bearer {self.require_key}":
            return web.json_response({"error": "invalid api key"}, status=401)
        entry = {"id": self.model, "object": "model", **({"root": self.root} if self.root else {})}
        return web.json_response({"object": "list", "data": [entry]})

    async def _stats(self, request):
        from aiohttp import web

        return web.json_response({"requests": dict(self.requests), "total": sum(self.requests.values())})

    async def _complete(self, request):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request):
        from aiohttp import web

        body = await request.read()
        key = hashlib.sha256(body).hexdigest()
        self.requests[key] += 1
        if self.require_key and request.headers.get("Authorization") != f"Bearer {self.require_key}":
            return web.json_response({"error": "invalid api key"}, status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            return web.json_response({"error": "bad json"}, status=400)
        if payload.get("model") != self.model:
            return web.json_response({"error": f"model {payload.get('model')!r} not found"}, status=404)
        chat = "messages" in payload
        text = json.dumps(payload.get("messages")) if chat else str(payload.get("prompt"))
        self.attempts[key] += 1
        if self.fail_share and _digest(text) % 1000 < self.fail_share * 1000:
            return web.json_response({"error": "scripted failure"}, status=500)
        directive = _DIRECTIVE.search(text)
        if directive and self.attempts[key] <= int(directive.group(2)):
            mode = directive.group(1)
            if mode == "429":
                return web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": "0.05"})
            if mode == "500":
                return web.json_response({"error": "internal"}, status=500)
            if mode == "slow":
                await asyncio.sleep(60)
            if mode == "truncated":
                return web.Response(body=b'{"id": "x", "choices": [{"message": {"content": "cut', content_type="application/json")
            if mode == "malformed":
                return web.json_response({"id": "x", "result": "not a completion"})
            if mode == "close":
                request.transport.close()
                return web.Response()
        if self.latency:
            await asyncio.sleep(self.latency)
        messages = payload.get("messages") or [{"role": "user", "content": str(payload.get("prompt"))}]
        n = int(payload.get("n") or 1)
        content = answer_for(messages)
        finish = "stop"
        if "[[length]]" in text:  # as if max_tokens ran out mid-answer
            content, finish = content[: len(content) // 2], "length"
        if "[[surrogate]]" in text:  # half of an emoji, sent as a lone "\ud83d" escape
            content += " \ud83d"
        choice = ({"message": {"role": "assistant", "content": content}} if chat else {"text": content})
        return web.json_response({
            "id": f"cmpl-{key[:12]}", "object": "chat.completion" if chat else "text_completion",
            "model": self.served_model,
            "choices": [{"index": i, **choice, "finish_reason": finish} for i in range(n)],
            "usage": {"prompt_tokens": len(text) // 4, "completion_tokens": len(content) // 4},
        })

    def _app(self):
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        return app

    # -- lifecycle -------------------------------------------------------------------------

    async def _start(self, port: int) -> None:
        from aiohttp import web

        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        actual = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{actual}/v1"

    def start(self, port: int = 0) -> FakeServer:
        """Serve from a background thread; returns once listening (self.url)."""
        ready = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start(port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--root", default=None, help="the checkpoint path /v1/models reports, as vLLM does")
    args = ap.parse_args()

    async def run():
        server = FakeServer(args.latency, args.model, root=args.root)
        await server._start(args.port)
        print(server.url, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
