"""data/manifest.json (nothing is lost silently: read == kept + sum(dropped) per source) and
data/report.md (the same for people, with contamination hits and examples of every drop)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from alchemist.mix.stats import MixStats


def build_manifest(recipe, ingested: Path, curated: Path, mix_stats: MixStats, relabel: dict | None = None) -> dict:
    curate_stats = json.loads((curated / "stats.json").read_text())
    sources, total_dropped = {}, Counter()
    total_read = total_kept = 0
    for spec in recipe.sources:
        ingest = json.loads((ingested / f"{spec.name}.stats.json").read_text())
        cur = curate_stats["sources"].get(spec.name, {"kept": 0, "dropped": {}})
        mixed = mix_stats.sources[spec.name]
        dropped = Counter({"malformed": ingest["malformed"]})
        dropped.update(cur["dropped"])
        if mixed.subsampled:
            dropped["mix_subsampled"] = mixed.subsampled
        kept = cur["kept"] - mixed.subsampled
        entry = {"read": ingest["read"], "kept": kept, "dropped": dict(dropped), "final_rows": mixed.rows}
        if mixed.seeds:
            entry["seeds"] = mixed.seeds  # code snippets kept for generation, not in final/
        if entry["read"] != kept + sum(dropped.values()):
            raise RuntimeError(f"accounting error for source {spec.name}: {entry}")
        sources[spec.name] = entry
        total_read += entry["read"]
        total_kept += kept
        total_dropped.update(dropped)
    return {
        "recipe": recipe.name,
        "sources": sources,
        "total": {"read": total_read, "kept": total_kept, "dropped": dict(total_dropped)},
        "relabel": relabel,
        "final": {"path": "final/train.parquet", "rows": mix_stats.rows, "by_task": mix_stats.by_task},
    }


def _table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join(out)


def build_report(manifest: dict, ingested: Path, curated: Path, relabeled: Path | None = None) -> str:
    curate_stats = json.loads((curated / "stats.json").read_text())
    reasons = sorted({r for s in manifest["sources"].values() for r in s["dropped"]})
    lines = [f"# Data report: {manifest['recipe']}", ""]
    t = manifest["total"]
    lines += [f"{t['read']} records read, {t['kept']} kept, {t['read'] - t['kept']} dropped; "
              f"{manifest['final']['rows']} rows in `{manifest['final']['path']}`.", ""]
    lines += ["## Per source", ""]
    rows = [[name, s["read"], s["kept"], *[s["dropped"].get(r, 0) for r in reasons], s["final_rows"]]
            for name, s in manifest["sources"].items()]
    rows.append(["**total**", t["read"], t["kept"], *[t["dropped"].get(r, 0) for r in reasons],
                 manifest["final"]["rows"]])
    lines += [_table(["source", "read", "kept", *reasons, "final rows"], rows), ""]
    by_sample: dict[tuple, dict] = {}
    for h in curate_stats["contamination"]:
        row = by_sample.setdefault((h["id"], h["task_id"]), {**h, "fields": []})
        signal = h.get("signal", "ngram")
        row["fields"].append(f"{h['field']} {h['overlap']:.0%}" + (f" ({signal})" if signal != "ngram" and signal != h["field"] else ""))
    lines += [f"## Contamination hits ({len({k[0] for k in by_sample})} samples)", ""]
    checked = ", ".join(curate_stats.get("benchmarks", [])) or "none"
    lines += [f"Checked against: {checked}."]
    for skip in curate_stats.get("benchmarks_skipped", []):
        lines += [f"**Not checked against {skip['benchmark']}**: {skip['reason']}"]
    lines += [""]
    if by_sample:
        lines += [_table(["sample", "source", "where", "benchmark task", "overlap by field"],
                         [[h["id"], h["source"], h["where"], h["task_id"], ", ".join(h["fields"])]
                          for h in by_sample.values()]), ""]
    else:
        lines += ["None.", ""]
    misses = curate_stats.get("near_misses") or []
    if misses:
        lines += [f"### Borderline misses ({len(misses)}, kept: just under a threshold)", ""]
        lines += [_table(["sample", "source", "where", "benchmark task", "signal", "score"],
                         [[m["id"], m["source"], m["where"], m.get("task_id"), m.get("signal", m.get("field")),
                           f"{float(m.get('overlap') or m.get('score') or 0):.2f}"] for m in misses[:50]]), ""]
    lines += ["## Malformed records (first examples per source)", ""]
    malformed = []
    for name in manifest["sources"]:
        ingest = json.loads((ingested / f"{name}.stats.json").read_text())
        malformed += [[name, e["where"], e["reason"]] for e in ingest["malformed_examples"]]
    lines += [_table(["source", "where", "reason"], malformed) if malformed else "None.", ""]
    lines += ["## Other drops (first examples per reason)", ""]
    examples = [[reason, e["source"], e["where"], json.dumps(e["detail"]) if e["detail"] else ""]
                for reason, items in curate_stats["examples"].items() for e in items]
    lines += [_table(["reason", "source", "where", "detail"], examples) if examples else "None.", ""]
    if relabeled is not None:
        lines += _relabel_section(manifest["relabel"], json.loads((relabeled / "stats.json").read_text()))
    return "\n".join(lines)


def _relabel_section(summary: dict, stats: dict) -> list[str]:
    lines = [f"## Relabeling ({summary['llm']})", ""]
    tasks = ("alchemist_prompt", "instruction_evolution", "evol_codegen", "oss_instruct", "data_filtering", "code_review")
    reasons = sorted({r for counts in stats["rejected"].values() for r in counts})
    rows = [[t, summary[t], *[stats["rejected"].get(t, {}).get(r, 0) for r in reasons]] for t in tasks]
    lines += [_table(["task", "produced", *[f"rejected: {r}" for r in reasons]], rows), ""]
    lines += [f"LLM requests sent: {summary['llm_requests']}, answered from cache: {summary['cache_hits']}, "
              f"failed: {summary['failed']}, tokens: {summary['prompt_tokens']} prompt + {summary['completion_tokens']} completion."]
    if summary["replaced"]:
        lines += [f"{summary['replaced']} originals replaced by their AlchemistPrompt version (mode: replace)."]
    lines += ["", "### Rejected LLM answers (first examples per task and reason)", ""]
    ex = [[e["task"], e["reason"], e["origin"], e["answer"]] for e in stats["examples"]]
    lines += [_table(["task", "reason", "sample", "answer (start)"], ex) if ex else "None.", ""]
    return lines


def relabel_manifest(out: Path | None) -> dict | None:
    """The relabel stage's counts for the manifest, read from its stats.json (None: no relabel)."""
    if out is None:
        return None
    stats = json.loads((out / "stats.json").read_text())
    counts = {t: stats["produced"].get(t, 0) for t in
              ("alchemist_prompt", "instruction_evolution", "evol_codegen", "oss_instruct", "data_filtering", "code_review")}
    return {**counts, **stats["usage"], "rejected": stats["rejected"], "replaced": len(stats["replaced"]), "llm": stats["llm"]}
