"""`runs/NAME/report.html`: one self-contained page about a run (no network, no script), drawn
from the run directory's files only. Every section is optional: a stage the recipe disabled, or a
file that is missing, becomes a "not run" note in its section, never an error.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from alchemist.report import collect as C
from alchemist.report import figures as F
from alchemist.report.markup import Markup, join, num, table, tag
from alchemist.rundir import atomic_file
from alchemist.testsets import title

STYLE_FILE = Path(__file__).with_name("style.css")


@dataclass
class Section:
    id: str
    title: str
    body: Markup
    missing: str | None = None  # why the section was not drawn ("not run: ...")

    def html(self) -> Markup:
        badge = tag("span", "not run", class_="badge") if self.missing else None
        body = tag("p", self.missing, class_="notrun") if self.missing else self.body
        return tag("section", tag("h2", self.title, badge), body, id=self.id)


def build_report(run_dir: Path, out_html: Path, *, enabled: dict[str, bool] | None = None,
                 token_sample: int = C.TOKEN_SAMPLE) -> dict:
    """Write the run's report page to `out_html` (atomically) and return what it drew:
    `{"path", "sections": {id: "drawn" | "not run: why"}, "drawn", "not_run", "figures", "seconds"}`.
    `enabled` (stage -> bool, as the pipeline knows it) marks disabled stages; without it run.json says."""
    started = time.perf_counter()
    run = C.Run.open(Path(run_dir), enabled)
    comp = C.composition(run.layout.train_data) if run.layout.train_data.is_file() else None
    train = None if run.status("train") == "disabled" else C.training(run.layout.output("train"))
    evals = [] if run.status("eval") == "disabled" else C.eval_results(run.layout.output("eval"))
    sections = [
        _composition(run, comp),
        _lengths(run, token_sample),
        _drops(run),
        _contamination(run),
        _relabel(run),
        _training(run, train),
        *_rl(run),
        _eval(run, evals),
        _stages(run),
        _examples(run),
    ]
    header = _header(run, comp, train, evals)
    nav = tag("nav", join(tag("a", s.title, href=f"#{s.id}", class_="off" if s.missing else None) for s in sections))
    problems = tag("div", tag("strong", "Some files could not be read: "), "; ".join(run.problems), class_="problems") if run.problems else None
    seconds = time.perf_counter() - started
    foot = tag("footer", f"Written by alchemist from {run.dir} in {seconds:.1f} s, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
                         "Self-contained: no script, nothing fetched; figures are SVG inside the page.")
    page = Markup("<!DOCTYPE html>\n") + tag(
        "html",
        tag("head", Markup('<meta charset="utf-8">'),
            Markup("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"),
            Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            tag("title", f"{run.name} · alchemist run report"), tag("style", Markup(STYLE_FILE.read_text(encoding="utf-8")))),
        tag("body", tag("main", header, nav, problems, join(s.html() for s in sections), foot)),
        lang="en")
    out_html = Path(out_html)
    with atomic_file(out_html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    status = {s.id: s.missing or "drawn" for s in sections}
    return {"path": str(out_html), "sections": status, "drawn": [k for k, v in status.items() if v == "drawn"],
            "not_run": [k for k, v in status.items() if v != "drawn"], "figures": page.count('class="figure"'),
            "seconds": round(time.perf_counter() - started, 2)}


# -- header ----------------------------------------------------------------------------------------


def _when(run: C.Run) -> str:
    stamp = run.record.get("started")
    if isinstance(stamp, str) and stamp:
        return stamp.replace("T", " ").replace("Z", " UTC")
    for p in (run.layout.run_json, run.layout.manifest):
        if p.is_file():
            return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(p.stat().st_mtime))
    return "date unknown"


def _header(run: C.Run, comp: dict | None, train: dict | None, evals: list[dict]) -> Markup:
    total = C.as_dict(run.manifest.get("total"))
    dropped = C.as_dict(total.get("dropped"))
    final_rows = C.as_dict(run.manifest.get("final")).get("rows", comp["rows"] if comp else None)
    facts = []
    if total:
        n_drop = sum(v for v in dropped.values() if isinstance(v, int))
        facts.append((num(total.get("read")), "records read"))
        facts.append((num(total.get("kept")), f"kept by curation ({num(n_drop)} dropped, {num(dropped.get('contaminated', 0))} contaminated)"))
    if final_rows is not None:
        facts.append((num(final_rows), "rows in train.parquet"))
    if train and train.get("summary"):
        s = train["summary"]
        loss = C.as_number(s.get("loss"))
        facts.append(("trained", f"{num(s.get('steps'))} steps" + (f", final loss {loss:.3f}" if loss is not None else "")))
    elif train:
        facts.append(("trained", "see the loss curve"))
    else:
        facts.append(("no model", "trained in this run" if run.status("train") != "disabled" else "trained (train stage disabled)"))
    for r in evals:
        p1 = r["pass_at_k"].get("pass@1")
        if p1 is not None:
            facts.append((f"{100 * p1:.1f}%", f"{_title(r['benchmark'])} pass@1"))
    if not evals:
        facts.append(("–", "eval not run" if run.status("eval") in ("disabled", "failed") else "no eval results"))
    chips = join(tag("div", tag("b", v), tag("span", what), class_="fact") for v, what in facts)
    return tag("header", tag("h1", run.name, tag("small", " · alchemist run report")),
               tag("p", f"Run started {_when(run)} · {run.dir}", class_="sub"), tag("div", chips, class_="facts"))


def _title(benchmark: str) -> str:
    try:
        return title(benchmark)
    except Exception:
        return benchmark


def _caption(*parts) -> Markup:
    return tag("p", *parts, class_="caption")


# -- data ------------------------------------------------------------------------------------------


def _composition(run: C.Run, comp: dict | None) -> Section:
    title = "Final training data"
    if comp is None:
        return Section("data", title, Markup(), run.not_run("mix", run.layout.train_data))
    if comp["rows"] == 0:
        return Section("data", title, tag("p", "data/final/train.parquet has no rows."))
    sources = [s for s, _ in comp["by_source"].most_common()]
    tasks = [t for t, _ in comp["by_task"].most_common()]
    fig, (a, b) = F._figure(10.5, 0.36 * max(len(sources), len(tasks)) + 1.4, ncols=2, widths=(3, 2))
    F.stacked_barh(a, sources, {t: [comp["cross"][s][t] for s in sources] for t in tasks}, "rows by source (split by task)", "rows")
    F.barh(b, tasks, [comp["by_task"][t] for t in tasks], "rows by task", "rows",
           colors=[F.PALETTE[i % len(F.PALETTE)] for i in range(len(tasks))])
    fig.subplots_adjust(wspace=0.45)
    rows = [[s, num(comp["by_source"][s]), f"{100 * comp['by_source'][s] / comp['rows']:.1f}%",
             ", ".join(f"{t} {num(n)}" for t, n in comp["cross"][s].most_common())] for s in sources]
    body = join([F.image(fig, "rows of the final training data by source and by task"),
                 _caption(f"{num(comp['rows'])} rows in data/final/train.parquet after curation, relabeling and mixing "
                          "(source weights may repeat rows)."),
                 table(["source", "rows", "share", "tasks"], rows, numeric={1, 2})])
    return Section("data", title, body)


def _lengths(run: C.Run, cap: int) -> Section:
    title = "Token lengths before and after curation"
    ingested = C.parquet_files(run.layout.output("ingest"))
    final = C.parquet_files(run.layout.train_data)
    if not ingested and not final:
        return Section("lengths", title, Markup(), run.not_run("ingest", run.layout.output("ingest"), "no parquet shards"))
    series, notes = {}, []
    for label, files in (("ingested (before curation)", ingested), ("final train.parquet (after)", final)):
        if not files:
            notes.append(f"{label}: no parquet files")
            continue
        lengths, total = C.token_lengths(files, cap=cap)
        series[label] = lengths
        notes.append(f"{label}: every one of the {num(total)} rows" if len(lengths) == total else
                     f"{label}: a seeded random sample (seed {C.SEED}) of {num(len(lengths))} of {num(total)} rows, drawn by whole row groups")
    fig, (ax,) = F._figure(9.5, 3.6)
    F.histogram(ax, series, "tokens per row (all messages), log scale", "tokens per row (approximate, see below)")
    body = join([F.image(fig, "histogram of token lengths before and after curation"),
                 _caption(f"Tokens are not counted with a model tokenizer but by a cheap rule: a token is {C.TOKEN_RULE} "
                          "(the regex ", tag("code", C.TOKEN_REGEX), "), summed over every message of a row. "
                          "A BPE tokenizer gives different (usually larger) counts for code. Dashed lines: medians. ",
                          "; ".join(notes) + ".")])
    return Section("lengths", title, body)


def _drop_table(run: C.Run) -> tuple[dict[str, dict], str]:
    sources = C.as_dict(run.manifest.get("sources"))
    if sources:
        return {str(k): C.as_dict(v) for k, v in sources.items()}, "data/manifest.json"
    stats, _ = C.read_json(run.layout.curate_stats)
    sources = C.as_dict(C.as_dict(stats).get("sources"))
    return {str(k): C.as_dict(v) for k, v in sources.items()}, "data/curated/stats.json"


def _drops(run: C.Run) -> Section:
    title = "What curation dropped, by reason"
    sources, origin = _drop_table(run)
    if not sources:
        return Section("curation", title, Markup(), run.not_run("curate", run.layout.manifest, "no per-source counts"))
    totals: Counter = Counter()
    for s in sources.values():
        totals.update({str(k): v for k, v in C.as_dict(s.get("dropped")).items() if isinstance(v, int)})
    reasons = [r for r, n in totals.most_common() if n > 0]
    names = list(sources)
    parts = []
    if reasons:
        fig, (ax,) = F._figure(9.5, 0.42 * len(names) + 1.4)
        F.stacked_barh(ax, names, {r: [C.as_dict(sources[s].get("dropped")).get(r, 0) for s in names] for r in reasons},
                       "records dropped per source, by reason", "records dropped")
        parts.append(F.image(fig, "records dropped per source, stacked by reason"))
    else:
        parts.append(tag("p", "Nothing was dropped."))
    rows, classes, broken = [], [], []
    grand = Counter()
    for s in names:
        d = C.as_dict(sources[s].get("dropped"))
        read, kept = sources[s].get("read"), sources[s].get("kept")
        n_drop = sum(v for v in d.values() if isinstance(v, int))
        ok = not isinstance(read, int) or not isinstance(kept, int) or read == kept + n_drop
        if not ok:
            broken.append(s)
        grand.update({"read": read if isinstance(read, int) else 0, "kept": kept if isinstance(kept, int) else 0, "dropped": n_drop})
        rows.append([s, num(read), num(kept), *[num(d.get(r, 0)) if d.get(r) else "·" for r in reasons], num(n_drop),
                     f"{100 * n_drop / read:.1f}%" if isinstance(read, int) and read else "–", num(sources[s].get("final_rows"))])
        classes.append("bad" if not ok else None)
    rows.append(["total", num(grand["read"]), num(grand["kept"]), *[num(totals[r]) for r in reasons], num(grand["dropped"]),
                 f"{100 * grand['dropped'] / grand['read']:.1f}%" if grand["read"] else "–",
                 num(C.as_dict(run.manifest.get("final")).get("rows"))])
    classes.append("total")
    head = ["source", "read", "kept", *[r.replace("_", " ") for r in reasons], "dropped", "% dropped", "final rows"]
    parts.append(tag("div", table(head, rows, classes, numeric=set(range(1, len(head)))), class_="scroll-x"))
    note = f"From {origin}. For every source read = kept + dropped"
    note += (f"; it does not hold for {', '.join(broken)} (marked)." if broken else ", and it holds here.")
    note += " Final rows can exceed kept when a source's weight repeats it, or be 0 for seed-only sources."
    parts.append(_caption(note))
    return Section("curation", title, join(parts))


def _contamination(run: C.Run) -> Section:
    title = "Benchmark contamination"
    if run.status("curate") == "disabled" or not (run.layout.curate_stats).is_file():
        return Section("contamination", title, Markup(), run.not_run("curate", run.layout.curate_stats))
    c = C.contamination(run)
    checked = ", ".join(str(b) for b in c["benchmarks"]) or "no benchmark"
    skipped = f" (skipped: {', '.join(str(b) for b in c['skipped'])})" if c["skipped"] else ""
    if not c["total"]:
        body = [tag("p", f"No hit: no sample overlaps {checked}{skipped}.")] + _near_misses(c["near_misses"])
        return Section("contamination", title, join(body))
    ids = {str(h.get("id")) for h in c["hits"]}
    tasks = Counter(str(h.get("task_id")) for h in c["hits"])
    benches = Counter(str(h.get("task_id", "")).split("/")[0] for h in c["hits"])
    groups: dict[tuple[str, str], list[dict]] = {}
    for h in c["hits"]:  # one row per (sample, benchmark task): the fields it matched on, each hit kept
        groups.setdefault((str(h.get("id")), str(h.get("task_id"))), []).append(h)
    lead = (f"{num(c['total'])} hits on {num(len(ids))} samples, matching {num(len(tasks))} benchmark tasks "
            f"({', '.join(f'{b} {n}' for b, n in benches.most_common())}). Checked against {checked}{skipped}; "
            "every matched sample was dropped as contaminated. One row per sample and benchmark task, with each field that "
            "matched and the evidence for it.")
    rows = []
    for (sid, task), hs in sorted(groups.items(), key=lambda kv: (kv[0][1].split("/")[0], _task_order(kv[0][1]), kv[0][0])):
        h = hs[0]
        fields = ", ".join(f"{x.get('field')} {_overlap(x.get('overlap'))}" for x in hs)
        where = str(h.get("where") or "")
        rows.append([task, h.get("source"), tag("code", sid), fields, _evidence(hs), tag("span", where.rsplit("/", 1)[-1], title=where),
                     F.short(str(h.get("prompt") or "").strip().replace("\n", " "), 150)])
    body = [tag("p", lead),
            tag("div", table(["benchmark task", "source", "sample id", "fields matched (overlap)", "evidence", "where",
                              "instruction (start)"], rows),
                class_="scroll hits")]
    if c["total"] > len(c["hits"]):
        body.append(_caption(f"The first {num(len(c['hits']))} of {num(c['total'])} hits are listed; data/curated/stats.json has all."))
    body.append(_caption("field: which part of the benchmark task matched (prompt, solution, code: the share of its n-grams found "
                         "in the sample; structure: edit similarity of the code; calibrated: the probability of the decision that "
                         "weighs every signal; judge: the LLM judge's yes). evidence: the signals' scores for this task "
                         "(statement and code embedding similarity, structure, shared example literals, the function's name) and "
                         "the judge's answer. where: the source file and line (hover for the full path)."))
    body += _near_misses(c["near_misses"])
    return Section("contamination", title, join(body))


_EVIDENCE_KEYS = ("statement", "code", "structure", "literals", "name", "rare_words", "arity")


def _evidence(hits: list[dict]) -> str:
    """The scores behind a hit and the judge's answer, one short line."""
    parts = []
    for h in hits:
        sc = h.get("scores") if isinstance(h.get("scores"), dict) else {}
        parts += [f"{k} {_overlap(sc.get(k))}" for k in _EVIDENCE_KEYS if C.as_number(sc.get(k)) is not None]
        judge = h.get("judge") if isinstance(h.get("judge"), dict) else None
        if judge:
            parts.append(f"judge: {judge.get('verdict')} ({F.short(str(judge.get('reason') or ''), 120)})")
    return "; ".join(dict.fromkeys(parts))


MAX_NEAR_MISS_ROWS = 50


def _near_misses(near: list[dict]) -> list:
    """Kept samples that came closest to a benchmark task, with their evidence."""
    if not near:
        return []
    rows = [[str(m.get("task_id")), m.get("source"), tag("code", str(m.get("id"))), f"{m.get('signal')} {_overlap(m.get('overlap'))}",
             _evidence([m])] for m in near[:MAX_NEAR_MISS_ROWS]]
    more = f" (the closest {MAX_NEAR_MISS_ROWS} of {num(len(near))}; data/curated/stats.json lists them)" if len(near) > MAX_NEAR_MISS_ROWS else ""
    return [tag("h3", "Near misses"),
            tag("p", f"Kept samples whose best benchmark candidate came within the judge's margin of the decision{more}."),
            tag("div", table(["benchmark task", "source", "sample id", "signal (score)", "evidence"], rows), class_="scroll hits")]


def _overlap(v) -> str:
    v = C.as_number(v)
    return "" if v is None else f"{v:.2f}"


def _task_order(task_id: str):
    tail = task_id.rsplit("/", 1)[-1]
    return (0, int(tail), "") if tail.isdigit() else (1, 0, tail)


def _relabel(run: C.Run) -> Section:
    title = "Relabeling"
    rel = C.as_dict(run.manifest.get("relabel"))
    if run.status("relabel") == "disabled" or not rel:
        why = run.not_run("relabel", run.layout.manifest, "no relabel counts")
        return Section("relabel", title, Markup(), why)
    counters = {"llm_requests", "cache_hits", "failed", "truncated", "prompt_tokens", "completion_tokens", "replaced"}
    rejected = C.as_dict(rel.get("rejected"))
    tasks = [k for k, v in rel.items() if isinstance(v, int) and k not in counters]
    tasks += [t for t in rejected if t not in tasks]
    rows = []
    for t in tasks:
        rej = C.as_dict(rejected.get(t))
        rows.append([t, num(rel.get(t, 0)), num(sum(v for v in rej.values() if isinstance(v, int))),
                     ", ".join(f"{r} {num(n)}" for r, n in rej.items()) or "·"])
    stats = " · ".join(f"{k.replace('_', ' ')} {num(rel[k])}" for k in
                       ("llm_requests", "cache_hits", "failed", "truncated", "prompt_tokens", "completion_tokens") if k in rel)
    body = join([tag("p", f"LLM: {rel.get('llm', 'unknown')}. {stats}."),
                 table(["task", "produced", "rejected", "rejected by reason"], rows, numeric={1, 2}),
                 _caption("Produced rows join the mix; rejected answers (unparseable, truncated, failing validation) are counted, "
                          "not kept." + (" A model with random weights (builtin:tiny-random) rejects nearly everything: point "
                                         "relabel.llm at a real model, or at builtin:smollm2-135m-instruct offline."
                                         if "tiny-random" in str(rel.get("llm", "")) else ""))])
    return Section("relabel", title, body)


# -- model -----------------------------------------------------------------------------------------

TRAIN_KEYS = [("title", "model"), ("method", "method"), ("steps", "optimizer steps"), ("epochs", "epochs"), ("tokens", "tokens seen"),
              ("loss", "final train loss"), ("train_loss_mean", "mean train loss"), ("eval_loss", "held-out loss (last, per task)"),
              ("seconds", "training seconds"), ("tokens_per_s", "tokens / s"), ("mfu", "MFU"), ("device", "device"),
              ("attention", "attention"), ("samples", "samples"), ("trained_samples", "trained samples"), ("held_out", "held out"),
              ("truncated", "truncated"), ("dropped", "dropped"), ("resumed_from", "resumed from")]


def _value(v) -> str:
    if isinstance(v, float):
        return num(v, 1) if abs(v) >= 100 else f"{v:.3f}" if abs(v) >= 1 else f"{v:.4g}"
    if isinstance(v, (dict, list)):
        if isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            return ", ".join(f"{k} {_value(x)}" for k, x in v.items()) or "·"
        return json.dumps(v)[:300]
    return num(v) if isinstance(v, int) else str(v)


def _loss_mask(samples: list[dict]) -> list:
    """One sample of each task as it was trained: the tokens that carry a loss highlighted."""
    if not samples:
        return []
    rows = []
    for m in samples:
        text = join(tag("mark", str(r.get("text", ""))) if r.get("loss") else tag("span", str(r.get("text", "")))
                    for r in C.as_list(m.get("runs")) if isinstance(r, dict))
        more = f" (first {m.get('shown')} of {m.get('tokens')} tokens)" if m.get("shown") != m.get("tokens") else ""
        problems = "; ".join(str(p) for p in C.as_list(m.get("problems"))) or "ok"
        rows.append([str(m.get("task")), f"{m.get('loss_tokens')} of {m.get('tokens')}{more}", problems,
                     tag("pre", text, class_="mask")])
    return [tag("h3", "What carries a loss (model/loss_mask.json)"),
            table(["task", "tokens with a loss", "check", "the sample as trained: highlighted tokens carry a loss"], rows),
            _caption("Rendered with the chat template the model was trained with. Every assistant turn must end with the "
                     "end-of-turn token inside the highlight, and no prompt token may be highlighted; "
                     "`alchemist train RECIPE --check` shows the same in a terminal before training.")]


def _training(run: C.Run, train: dict | None) -> Section:
    title = "Training"
    if train is None:
        why = run.not_run("train", run.layout.training_report)
        return Section("training", title, Markup(), why)
    parts = []
    panels = [p for p in ("train", "tasks") if train[p]]
    if panels:
        fig, axes = F._figure(5.2 * len(panels), 3.6, ncols=len(panels))
        for ax, p in zip(axes, panels):
            if p == "train":
                F.lines(ax, {"train loss": train["train"]}, "training loss", "optimizer step", "loss per label token")
                if train["lr"]:
                    twin = ax.twinx()
                    xs, ys = zip(*train["lr"])
                    twin.plot(xs, ys, color="#8C8C8C", linestyle=":", linewidth=1, label="learning rate")
                    twin.set_ylabel("learning rate", color="#6C6C6C")
                    twin.tick_params(axis="y", labelsize=7, colors="#6C6C6C")
                    twin.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
                    twin.grid(False)
                    twin.spines["top"].set_visible(False)
            else:
                F.lines(ax, train["tasks"], "held-out loss per task", "optimizer step", "loss per label token", markers=True)
        fig.subplots_adjust(wspace=0.35)
        parts.append(F.image(fig, "training loss and held-out loss per task"))
        parts.append(_caption("Loss is the mean cross-entropy per trained (assistant) token; the dotted line is the learning rate. "
                              "Held-out loss is measured on samples of each task kept out of training."))
    elif train.get("png"):
        parts.append(F.png_image(train["png"], "training loss (model/loss.png)"))
        parts.append(_caption("model/loss.png, as the train stage drew it" + (f" ({train['missing']})" if train.get("missing") else "") + "."))
    else:
        parts.append(tag("p", "The training report has no loss history."))
    parts += _loss_mask(train.get("mask") or [])
    s = train.get("summary") or {}
    rows = [[label, _value(s[k])] for k, label in TRAIN_KEYS if k in s and s[k] not in (None, "", {})]
    known = {k for k, _ in TRAIN_KEYS}
    rows += [[k.replace("_", " "), _value(v)] for k, v in s.items() if k not in known and v not in (None, "", {})]
    if rows:
        parts.append(tag("h3", "Summary (model/training_report.json)"))
        parts.append(tag("dl", join(join([tag("dt", k), tag("dd", v)]) for k, v in rows), class_="kv"))
    return Section("training", title, join(parts))


def _rl(run: C.Run) -> list[Section]:
    """The rl section, only in runs whose recipe has the (optional) rl stage."""
    if run.status("rl") in ("disabled", None):
        return []
    title = "Reinforcement learning"
    rl = C.rl_training(run.layout.output("rl"))
    if rl is None:
        return [Section("rl", title, Markup(), run.not_run("rl", run.layout.output("rl") / "training_report.json"))]
    parts = []
    shown = [k for k in C.RL_SERIES if rl["series"].get(k)]
    if shown:
        fig, axes = F._figure(3.2 * len(shown), 3.0, ncols=len(shown))
        for ax, key in zip(axes, shown):
            F.lines(ax, {C.RL_SERIES[key]: rl["series"][key]}, C.RL_SERIES[key], "GRPO step", C.RL_SERIES[key], markers=True)
        fig.subplots_adjust(wspace=0.4)
        parts.append(F.image(fig, "GRPO reward, pass rate, KL and response length per step"))
        parts.append(_caption("Reward: the share of a sample's tests a completion passes in the sandbox (0 when cut, "
                              "unparsable, timed out or crashed), averaged over the step's completions. Pass rate: "
                              "completions that pass all their tests. KL: to the starting model. Response length in tokens."))
    else:
        parts.append(tag("p", "The rl training report has no per-step history."))
    s = rl["summary"]
    rows = [[k.replace("_", " "), _value(v)] for k, v in s.items() if v not in (None, "", {})]
    if rows:
        parts.append(tag("h3", "Summary (rl/training_report.json)"))
        parts.append(tag("dl", join(join([tag("dt", k), tag("dd", v)]) for k, v in rows), class_="kv"))
    return [Section("rl", title, join(parts))]


def _eval(run: C.Run, evals: list[dict]) -> Section:
    title = "Evaluation against the paper"
    board, origin = (None, "") if run.status("eval") == "disabled" else C.board(run)
    if board is None and not evals:
        return Section("eval", title, Markup(), run.not_run("eval", run.layout.output("eval"), "no readable results.json"))
    parts = []
    if board:
        rows = [r for r in C.as_list(board.get("rows")) if isinstance(r, dict)]
        titles = C.as_dict(board.get("titles"))
        benches = [str(b) for b in C.as_list(board.get("benchmarks"))]
        ours = [r for r in rows if not r.get("reference")]
        shown = [b for b in benches if any(b in C.as_dict(r.get("scores")) for r in ours)] or benches
        if shown and rows:
            n = max(len([r for r in rows if b in C.as_dict(r.get("scores"))]) for b in shown)
            fig, axes = F._figure(min(4.4 * len(shown), 13.0) if len(shown) > 1 else 7.5, 0.3 * n + 1.3, ncols=len(shown))
            for ax, b in zip(axes, shown):
                have = sorted((r for r in rows if C.as_number(C.as_dict(r.get("scores")).get(b)) is not None),
                              key=lambda r: -C.as_dict(r["scores"])[b])
                F.barh(ax, [str(r.get("model")) + ("" if r.get("reference") else " (ours)") for r in have],
                       [float(r["scores"][b]) for r in have], f"{titles.get(b, b)} pass@1 (%)", "pass@1, %",
                       colors=[F.REFERENCE if r.get("reference") else F.OURS for r in have], fmt="{:.1f}", xmax=110,
                       highlight=[not r.get("reference") for r in have])
            fig.subplots_adjust(wspace=0.9)
            parts.append(F.image(fig, "pass@1 of this run's model beside the paper's reference rows"))
        head = ["#", "model", "params", *[titles.get(b, b) for b in benches], "average"]
        baseline = board.get("baseline")

        def marker(r) -> str:  # the baseline is ours but was not made by this run
            return "" if r.get("reference") else "  (baseline)" if r.get("model") == baseline else "  ◀ this run"
        trs = [[i + 1, str(r.get("model")) + marker(r), r.get("params") or "",
                *[_score(C.as_dict(r.get("scores")).get(b)) for b in benches], _score(r.get("average"))] for i, r in enumerate(rows)]
        parts.append(table(head, trs, ["reference" if r.get("reference") else "ours" for r in rows],
                           numeric={0, *range(3, len(head))}))
        notes = [str(n) for n in C.as_list(board.get("notes"))]
        ref = board.get("reference_source")
        parts.append(_caption(f"pass@1 in %, from {origin}. ", f"Grey rows: as published ({ref}). " if ref else "",
                              " ".join(notes)))
        parts += [_versus(c) for c in C.compared(board)]
    if evals:
        ks = sorted({k for r in evals for k in r["pass_at_k"]}, key=lambda k: int(k.split("@")[1]) if k.split("@")[-1].isdigit() else 99)
        rows = [[_title(r["benchmark"]), r["model"], *[_score(100 * v if v is not None else None) for v in
                                                       (r["pass_at_k"].get(k) for k in ks)],
                 f"{num(r['tasks_scored'])} / {num(r['tasks_in_benchmark'])}", _cut(r), r.get("llm") or ""] for r in evals]
        parts.append(tag("h3", "This run's results"))
        parts.append(table(["benchmark", "model", *[f"{k} %" for k in ks], "tasks scored", "cut at max_tokens", "generated by"], rows,
                           numeric=set(range(2, 2 + len(ks)))))
        if any("tiny" in f"{r['model']} {r.get('llm')}" for r in evals):
            parts.append(_caption("A score near 0 is expected here: the built-in tiny model has random or barely trained weights. "
                                  "Point eval at a real model for a real score."))
    return Section("eval", title, join(parts))


def _cut(r: dict) -> str:
    """Answers cut at max_tokens, as a share of the answers (– where the results do not say)."""
    if r.get("truncated") is None or not r.get("samples"):
        return "–"
    return f"{num(r['truncated'])} ({100 * r['truncated'] / r['samples']:.1f}%)"


def _versus(c: dict) -> Markup:
    """A model beside its baseline: pass@1, answers cut at max_tokens, and the tasks that changed."""
    def row(name: str, o: dict) -> list:
        cut = f"{o['truncated']} of {o['samples']} ({100 * o['truncated'] / o['samples']:.1f}%)" if o["samples"] else "–"
        return [name, _score(100 * o["pass1"] if o["pass1"] is not None else None), f"{len(o['passed'])} / {len(o['tasks'])}", cut]

    def tasks(ids: list[str]) -> str:
        return ", ".join(ids[:40]) + (f" and {len(ids) - 40} more" if len(ids) > 40 else "") if ids else "none"

    return join([tag("h3", f"{c['model']} beside {c['base']}: {_title(c['benchmark'])}"),
                 table(["model", "pass@1 %", "tasks passed", "answers cut at max_tokens"],
                       [row(c["base"], c["before"]), row(c["model"], c["after"])], numeric={1}),
                 _caption(f"Passed by {c['model']} only ({len(c['gained'])}): {tasks(c['gained'])}. ",
                          f"Passed by {c['base']} only ({len(c['lost'])}): {tasks(c['lost'])}. ",
                          "An answer cut at max_tokens never reached the end-of-turn token; many of them mean the model does not stop.")])


def _score(v) -> str:
    v = C.as_number(v)
    return "–" if v is None else f"{v:.1f}"


# -- run -------------------------------------------------------------------------------------------


def _stages(run: C.Run) -> Section:
    title = "Stages and timings"
    stages = C.as_dict(run.record.get("stages"))
    if not stages:
        return Section("stages", title, Markup(), "not run: run.json not found")
    items, rows = [], []
    for name, e in stages.items():
        e = C.as_dict(e)
        if name == "report" and e.get("status") == "running":
            continue  # this page, being written
        status = run.status(name) or "unknown"
        seconds = C.as_number(e.get("seconds")) if status not in ("disabled",) else None
        items.append((str(name), status, seconds))
        counts = C.as_dict(e.get("counts")) if status != "disabled" else {}
        what = ", ".join(f"{k} {_value(v)}" for k, v in counts.items() if isinstance(v, (int, float, str)))
        if status == "skipped" and e.get("reason"):
            what = f"skipped: {e.get('reason')}" + (f"; {what}" if what else "")
        if status == "failed" and e.get("error"):
            what = f"error: {e.get('error')}"
        rows.append([name, status, "–" if seconds is None else f"{seconds:,.2f}", e.get("start") or "", what])
    total = sum(s for _, _, s in items if s)
    body = join([F.timeline(items),
                 table(["stage", "status", "seconds", "started", "headline counts"], rows,
                       [f"st-{r[1]}" for r in rows], numeric={2}),
                 _caption(f"From run.json: {total:,.1f} s in stages. A stage whose recipe slice and inputs did not change "
                          "is skipped (its time is then that of the run that made its output).")])
    return Section("stages", title, body)


def _examples(run: C.Run) -> Section:
    title = "Training rows of each task"
    path = run.layout.train_data
    if not path.is_file():
        return Section("examples", title, Markup(), run.not_run("mix", path))
    each = C.one_row_per_task(path)
    rows = each + [r for r in C.example_rows(path, k=4) if r["id"] not in {e["id"] for e in each}]
    if not rows:
        return Section("examples", title, tag("p", "train.parquet has no rows."))
    cards = []
    for r in rows:
        user = (f"[system] {_clip(r['system'], 300)}\n\n" if r["system"] else "") + _clip(r["user"], 1200)
        cards.append(tag("div", tag("div", tag("b", r["source"]), f" · {r['task']} · ", tag("code", r["id"]), class_="meta"),
                         tag("div", tag("div", tag("div", "user", class_="role"), tag("pre", user)),
                             tag("div", tag("div", "assistant", class_="role"), tag("pre", _clip(r["assistant"], 1600))), class_="pair"),
                         class_="example"))
    return Section("examples", title, join([join(cards), _caption(
        f"One row of each of the {len(each)} tasks in the training data, then a few more, drawn at random (seed {C.SEED}); "
        "long texts are cut.")]))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + f"\n… ({len(text) - n:,} more characters)"

