"""report.html: drawn from a real tiny run (slow) and from hand-made run directories (fast), with
hostile text escaped, missing stages said, and the page checked in headless Chromium."""

import asyncio
import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alchemist.report import build_report
from alchemist.report.collect import token_lengths
from alchemist.report.stage import Report
from tests.helpers import ROOT, run_cli

slow = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                    "(Debian package `chromium`; .ci/run installs it)")
HOSTILE = "<script>alert('pwned')</script><img src=x onerror=alert(2)> & \"quotes\""
SECTIONS = ("data", "lengths", "curation", "contamination", "relabel", "training", "eval", "stages", "examples")


# -- hand-made run directories ---------------------------------------------------------------------


def _sample(i, source="code_alpaca", task="codegen", user="Write a function that adds two numbers.",
            answer="def add(a, b):\n    return a + b\n"):
    return {"id": f"id{i:04d}", "source": source, "task": task,
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
            "language": "python", "meta": "{}"}


def _write_parquet(path: Path, rows: list[dict], row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def _manifest(run: Path, sources: dict) -> None:
    (run / "data").mkdir(parents=True, exist_ok=True)
    total = {"read": sum(s["read"] for s in sources.values()), "kept": sum(s["kept"] for s in sources.values()), "dropped": {}}
    for s in sources.values():
        for k, v in s["dropped"].items():
            total["dropped"][k] = total["dropped"].get(k, 0) + v
    (run / "data" / "manifest.json").write_text(json.dumps({"recipe": "handmade", "sources": sources, "total": total}))


def test_a_run_dir_with_only_a_manifest_says_what_was_not_run(tmp_path):
    _manifest(tmp_path, {"code_alpaca": {"read": 10, "kept": 7, "dropped": {"exact_duplicate": 2, "no_code": 1}}})
    out = tmp_path / "report.html"
    summary = build_report(tmp_path, out)
    assert summary["drawn"] == ["curation"]
    for sid in ("data", "lengths", "contamination", "relabel", "training", "eval", "stages", "examples"):
        assert summary["sections"][sid].startswith("not run"), (sid, summary["sections"][sid])
    page = out.read_text()
    assert page.count(">not run</span>") == 8 and "handmade" in page and "exact duplicate" in page
    assert "train.parquet not found" in page and "http://" not in page and "https://" not in page and "<script" not in page


@pytest.mark.parametrize("llm, hint", [("hf:/cache/models/tiny-random-v2", True),
                                        ("hf:/cache/models/smollm2-135m-instruct-b179c9523d0e", False)])
def test_the_random_weights_hint_shows_only_for_the_random_model(tmp_path, llm, hint):
    _manifest(tmp_path, {"code_alpaca": {"read": 10, "kept": 7, "dropped": {}}})
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    manifest["relabel"] = {"alchemist_prompt": 3, "llm_requests": 5, "rejected": {"alchemist_prompt": {"ungrounded": 2}}, "llm": llm}
    (tmp_path / "data" / "manifest.json").write_text(json.dumps(manifest))
    page = (tmp_path / "report.html")
    build_report(tmp_path, page)
    text = page.read_text()
    assert "ungrounded 2" in text and ("A model with random weights" in text) is hint


def test_an_empty_dir_and_broken_files_do_not_crash(tmp_path):
    summary = build_report(tmp_path, tmp_path / "a" / "report.html")
    assert summary["drawn"] == [] and set(summary["not_run"]) == set(SECTIONS)
    (tmp_path / "run.json").write_text("{not json")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "training_report.json").write_text(json.dumps(
        {"history": [{"step": "x", "loss": 1}, {"loss": None}, "junk", {"step": 1, "loss": float("nan")}], "steps": [1]}))
    (tmp_path / "eval" / "humaneval").mkdir(parents=True)
    (tmp_path / "eval" / "humaneval" / "results.json").write_text(json.dumps({"model": "m", "pass_at_k": "nope"}))
    summary = build_report(tmp_path, tmp_path / "report.html")
    assert summary["sections"]["training"] == "drawn" and summary["sections"]["eval"].startswith("not run")
    page = (tmp_path / "report.html").read_text()
    assert "run.json is unreadable" in page and "no loss history" in page


def test_disabled_stages_are_said_even_when_old_files_remain(tmp_path):
    _write_parquet(tmp_path / "data" / "final" / "train.parquet", [_sample(i) for i in range(5)])
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "training_report.json").write_text(json.dumps({"history": [{"step": 1, "loss": 2.0}]}))
    (tmp_path / "run.json").write_text(json.dumps({"recipe": "r", "stages": {
        "mix": {"status": "done", "seconds": 0.1, "counts": {"rows": 5}},
        "train": {"status": "disabled", "fingerprint": None, "seconds": 9.0},
        "eval": {"status": "failed", "seconds": 1.0, "error": "boom <b>"}}}))
    summary = build_report(tmp_path, tmp_path / "report.html")
    assert summary["sections"]["training"] == "not run: the recipe disables the train stage"
    assert summary["sections"]["eval"] == "not run: the eval stage failed (boom <b>)"
    assert "boom &lt;b&gt;" in (tmp_path / "report.html").read_text()
    summary = build_report(tmp_path, tmp_path / "report.html", enabled={"train": True, "eval": False})
    assert summary["sections"]["training"] == "drawn" and summary["sections"]["eval"].startswith("not run: the recipe disables")


def test_training_curves_from_either_history_shape(tmp_path):
    (tmp_path / "model").mkdir()
    history = [{"step": s, "loss": 3.0 - s / 10, "lr": 1e-4, "grad_norm": 1.0, "tokens_per_s": 900.0} for s in range(1, 20)]
    (tmp_path / "model" / "training_report.json").write_text(json.dumps({
        "history": history, "steps": 19, "loss": 1.1,
        "eval_history": [{"step": 5, "codegen": 2.5, "code_review": 2.9}, {"step": 10, "losses": {"codegen": 2.1, "code_review": 2.6}}]}))
    summary = build_report(tmp_path, tmp_path / "report.html")
    assert summary["sections"]["training"] == "drawn" and summary["figures"] == 1
    page = (tmp_path / "report.html").read_text()
    assert "held-out loss per task" in page and "19 steps, final loss 1.100" in page


def test_hostile_text_is_escaped_everywhere(tmp_path):
    rows = [_sample(0, source=HOSTILE, user=HOSTILE, answer=HOSTILE), *[_sample(i) for i in range(1, 4)]]
    _write_parquet(tmp_path / "data" / "final" / "train.parquet", rows)
    _write_parquet(tmp_path / "data" / "ingested" / "x.parquet", rows)
    _manifest(tmp_path, {HOSTILE: {"read": 2, "kept": 1, "dropped": {HOSTILE: 1}}})
    (tmp_path / "data" / "curated").mkdir(parents=True)
    (tmp_path / "data" / "curated" / "stats.json").write_text(json.dumps({"benchmarks": [HOSTILE], "contamination": [
        {"id": HOSTILE, "source": HOSTILE, "where": HOSTILE, "task_id": HOSTILE, "field": HOSTILE, "overlap": 1.0}]}))
    (tmp_path / "run.json").write_text(json.dumps({"recipe": HOSTILE, "stages": {"mix": {"status": "done", "counts": {HOSTILE: 1}}}}))
    build_report(tmp_path, tmp_path / "report.html", token_sample=2)
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    assert "<img src=x" not in page and page.count("&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;") >= 8


def test_token_lengths_sample_is_bounded_and_seeded(tmp_path):
    words = [" ".join(["w"] * (i + 1)) for i in range(300)]
    path = _write_parquet(tmp_path / "a.parquet", [_sample(i, user=w, answer="x = (1)") for i, w in enumerate(words)], row_group_size=40)
    lengths, total = token_lengths([path], cap=50)
    assert total == 300 and len(lengths) == 50 and lengths == token_lengths([path], cap=50)[0]
    full, _ = token_lengths([path], cap=1000)
    assert sorted(full) == [i + 1 + 5 for i in range(300)]  # i+1 words, then `x = ( 1 )` is 5 tokens


def test_stage_writes_report_html_and_counts(tmp_path):
    _manifest(tmp_path, {"s": {"read": 3, "kept": 3, "dropped": {}}})
    stage = Report()
    assert (stage.name, stage.version, stage.reads) == ("report", 1, ("mix", "train", "rl", "eval", "leaderboard"))
    assert stage.enabled(None) is True and stage.config(None) == {} and stage.publishes == {"report.html": "report.html"}
    ctx = SimpleNamespace(run_dir=tmp_path, enabled={"train": False, "eval": True}, say=lambda msg: None)
    assert stage.inputs(ctx) == []
    (tmp_path / "out").mkdir()
    counts = stage.run(ctx, tmp_path / "out", tmp_path / "work")
    assert counts == {"sections": 1, "not_run": 8, "figures": 0}
    assert "the recipe disables the train stage" in (tmp_path / "out" / "report.html").read_text()


# -- the real tiny run -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    r = run_cli("run", "recipes/tiny.yaml", "--set", f"output_dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@slow
def test_tiny_run_report_has_every_section(tiny, tmp_path):
    started = time.perf_counter()
    summary = build_report(tiny, tmp_path / "report.html")
    seconds = time.perf_counter() - started
    record = json.loads((tiny / "run.json").read_text())["stages"]
    expected_off = {sid for sid, stage in (("training", "train"), ("eval", "eval"), ("relabel", "relabel"))
                    if record.get(stage, {}).get("status") == "disabled"}
    assert set(summary["not_run"]) == expected_off, summary["sections"]
    assert seconds < 8, f"report took {seconds:.1f}s"  # ~1 s on a 2-core CPU (matplotlib import included); slack for busy CI
    page = (tmp_path / "report.html").read_text()
    stats = json.loads((tiny / "data" / "curated" / "stats.json").read_text())
    assert stats["contamination"], "the tiny samples plant benchmark leaks"
    for hit in stats["contamination"]:
        assert f"<td>{hit['task_id']}</td>" in page
    manifest = json.loads((tiny / "data" / "manifest.json").read_text())
    assert f"{manifest['total']['read']:,}" in page and f"{manifest['final']['rows']:,}" in page
    assert "not a model tokenizer" in page or "not counted with a model tokenizer" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def _poison(tiny: Path, dest: Path) -> Path:
    """A copy of the tiny run whose final data, one ingested shard and the contaminated rejects
    (whose instructions the contamination table quotes) carry hostile text."""
    shutil.copytree(tiny, dest, ignore=shutil.ignore_patterns("*.sqlite", "model", "work", ".lock"))
    hostile = [{"role": "user", "content": HOSTILE}, {"role": "assistant", "content": HOSTILE}]
    for path in (dest / "data" / "final" / "train.parquet", sorted((dest / "data" / "ingested").glob("*.parquet"))[0],
                 dest / "data" / "curated" / "rejected.parquet"):
        t = pq.read_table(path)
        rows = t.to_pylist()
        if path.name == "rejected.parquet":
            rows = [{**r, "messages": hostile} if r["reason"] == "contaminated" else r for r in rows]
        else:
            rows[0] = {**rows[0], "source": "evil<b>source</b>", "messages": hostile}
        pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), path)
    return dest


@slow
def test_tiny_run_with_hostile_rows_escapes_them(tiny, tmp_path):
    run = _poison(tiny, tmp_path / "run")
    build_report(run, run / "report.html")
    page = (run / "report.html").read_text()
    assert "<script" not in page and "evil<b>" not in page and "evil&lt;b&gt;source&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page


# -- the page in headless Chromium -----------------------------------------------------------------

CHECK = """JSON.stringify({
  images: [...document.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})),
  svgs: [...document.querySelectorAll('svg')].map(s => { const b = s.getBoundingClientRect(); return {w: b.width, h: b.height}; }),
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  scripts: document.scripts.length,
  text: document.body.innerText,
})"""


async def _inspect(url: str, shot: Path, profile: Path, width: int = 1280) -> dict:
    """Open `url` in headless Chromium over the DevTools protocol: every console message, page
    error, log entry and dialog; the CHECK above; a full-page screenshot."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", f"--user-data-dir={profile}",
        f"--window-size={width},900", "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as http:
            for _ in range(50):
                targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    break
                await asyncio.sleep(0.1)
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                events, ids = [], iter(range(1, 10_000))

                async def call(method, **params):
                    mid = next(ids)
                    await ws.send_json({"id": mid, "method": method, "params": params})
                    while True:
                        msg = json.loads((await ws.receive(timeout=60)).data)
                        if msg.get("id") == mid:
                            assert "error" not in msg, msg
                            return msg["result"]
                        events.append(msg)

                for domain in ("Page", "Runtime", "Log"):
                    await call(f"{domain}.enable")
                await call("Page.navigate", url=url)
                deadline = time.monotonic() + 60
                while not any(e.get("method") == "Page.loadEventFired" for e in events) and time.monotonic() < deadline:
                    events.append(json.loads((await ws.receive(timeout=60)).data))
                result = json.loads((await call("Runtime.evaluate", expression=CHECK, returnByValue=True))["result"]["value"])
                size = (await call("Page.getLayoutMetrics"))["cssContentSize"]
                await call("Emulation.setDeviceMetricsOverride", width=width, height=int(size["height"]), deviceScaleFactor=1, mobile=False)
                import base64

                shot.write_bytes(base64.b64decode((await call("Page.captureScreenshot", format="png"))["data"]))
                result["errors"] = [e for e in events if
                                    (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert", "warning"))
                                    or e.get("method") in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening")
                                    or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
                result["loaded"] = any(e.get("method") == "Page.loadEventFired" for e in events)
                return result
    finally:
        proc.kill()
        await proc.wait()


def inspect_page(page: Path, shot: Path, profile: Path) -> dict:
    return asyncio.run(asyncio.wait_for(_inspect(page.resolve().as_uri(), shot, profile), timeout=120))


@slow
@needs_chromium
def test_page_renders_in_chromium(tiny, tmp_path):
    run = _poison(tiny, tmp_path / "run")
    summary = build_report(run, run / "report.html")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    found = inspect_page(run / "report.html", shot, tmp_path / "profile")
    assert found["loaded"] and found["errors"] == [], found["errors"]
    assert found["sections"] == list(SECTIONS) and found["scripts"] == 0
    assert len(found["images"]) == summary["figures"] >= 3
    assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in found["images"]), found["images"]
    assert found["svgs"] and all(s["w"] > 0 and s["h"] > 0 for s in found["svgs"]), found["svgs"]
    assert HOSTILE in found["text"] and "evil<b>source</b>" in found["text"]  # shown as text, not run
    assert shot.stat().st_size > 50_000
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[20:24], "big") > 2000  # the whole page, not one screen


def test_screenshot_tool_is_usable_without_the_tiny_run(tmp_path):
    """Guards the helper itself (fast): a page with one broken image reports an error in Chromium."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    page = tmp_path / "p.html"
    page.write_text('<!DOCTYPE html><html><body><section id="x"><img src="missing.png" alt="m"></section>'
                    '<svg width="10" height="10"><rect width="10" height="10"/></svg></body></html>')
    found = inspect_page(page, tmp_path / "p.png", tmp_path / "profile")
    assert found["images"][0]["w"] == 0 and found["errors"] and found["svgs"] == [{"w": 10, "h": 10}]


if __name__ == "__main__":  # python -m tests.report.test_report RUN_DIR: build and screenshot a run's report
    import sys

    target = Path(sys.argv[1])
    print(json.dumps(build_report(target, target / "report.html"), indent=1))
    if CHROMIUM:
        print(json.dumps({k: v for k, v in inspect_page(target / "report.html", Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/report.png"),
                                                        Path("/tmp/report-profile-%d" % time.time())).items() if k != "text"}, indent=1))
