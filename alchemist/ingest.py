"""Ingest: every source's records become Sample rows in `data/ingested/NAME.parquet`.

Per source, `NAME.stats.json` counts what was read and what was malformed (with the first few
file:line examples); it is written last and doubles as the completion marker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.errors import MalformedRecord, UserError
from alchemist.recipe import Recipe, SourceSpec
from alchemist.rundir import file_digest, fingerprint, write_json_atomic
from alchemist.schema import SAMPLE_SCHEMA, Sample, rows_to_table
from alchemist.sources import ADAPTERS, AdapterError, RawRecord, expand_paths, iter_file, iter_hub

MAX_EXAMPLES = 5
BATCH = 8192


def source_files(spec: SourceSpec, recipe_path: Path | None) -> list[Path]:
    paths = [spec.path] if isinstance(spec.path, str) else spec.path
    files: list[Path] = []
    for text in paths:
        found = expand_paths(text, recipe_path, ADAPTERS[spec.adapter])
        if not found:
            raise UserError(f"source '{spec.name}': no file matches '{text}'")
        files += found
    return files


def raw_records(spec: SourceSpec, files: list[Path]) -> Iterator[RawRecord]:
    adapter = ADAPTERS[spec.adapter]
    if spec.hf:
        yield from iter_hub(spec.hf, spec.config, spec.split, spec.revision)
        return
    for f in files:
        yield from (adapter.read(f, spec.options) if adapter.read else iter_file(f))


def source_fingerprint(spec: SourceSpec, files: list[Path]) -> str:
    return fingerprint("ingest-v1", spec.model_dump(mode="json"), [(str(f), file_digest(f)) for f in files])


def ingest_source(spec: SourceSpec, files: list[Path], out_dir: Path, strict: bool, progress=None) -> dict:
    adapter = ADAPTERS[spec.adapter]
    parquet_path = out_dir / f"{spec.name}.parquet"
    tmp = parquet_path.with_name(parquet_path.name + ".partial")
    stats = {"read": 0, "ingested": 0, "malformed": 0, "malformed_examples": [], "files": [str(f) for f in files]}
    writer = pq.ParquetWriter(tmp, SAMPLE_SCHEMA)
    batch: list[dict] = []
    try:
        for raw in raw_records(spec, files):
            stats["read"] += 1
            if progress:
                progress()
            try:
                if raw.error:
                    raise AdapterError(raw.error)
                conv = adapter.convert(raw.data, spec.options)
            except AdapterError as e:
                if strict:
                    raise MalformedRecord(raw.where, f"{e} (source '{spec.name}', adapter '{spec.adapter}'; "
                                          "fix the record or set curate.strict: false to count and skip it)") from None
                stats["malformed"] += 1
                if len(stats["malformed_examples"]) < MAX_EXAMPLES:
                    stats["malformed_examples"].append({"where": raw.where, "reason": str(e)})
                continue
            meta = {"file": raw.where.rsplit(":", 1)[0].rsplit("#", 1)[0], "where": raw.where, "adapter": spec.adapter}
            if conv.extra:
                meta["fields"] = conv.extra
            sample = Sample(source=spec.name, messages=conv.messages, task=conv.task, language=conv.language, meta=meta)
            batch.append(sample.to_row())
            if len(batch) >= BATCH:
                writer.write_table(rows_to_table(batch))
                stats["ingested"] += len(batch)
                batch = []
        if batch:
            writer.write_table(rows_to_table(batch))
            stats["ingested"] += len(batch)
    finally:
        writer.close()
    tmp.replace(parquet_path)
    return stats


def ingest(recipe: Recipe, data_dir: Path, console=None) -> list[Path]:
    """Ingest every source (skipping those already ingested from the same files and settings)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out_dir = data_dir / "ingested"
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = []
    with Progress(SpinnerColumn(), TextColumn("ingest {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        for spec in recipe.sources:
            files = [] if spec.hf else source_files(spec, recipe._path)
            fp = source_fingerprint(spec, files)
            stats_path = out_dir / f"{spec.name}.stats.json"
            parquet_path = out_dir / f"{spec.name}.parquet"
            if stats_path.is_file() and parquet_path.is_file() and json.loads(stats_path.read_text()).get("fingerprint") == fp:
                bar.add_task(f"{spec.name} (unchanged, skipped)", total=1, completed=1)
                shards.append(parquet_path)
                continue
            task = bar.add_task(spec.name, total=None)
            stats = ingest_source(spec, files, out_dir, recipe.curate.strict, progress=lambda: bar.advance(task))
            bar.update(task, total=stats["read"], completed=stats["read"])
            stats["fingerprint"] = fp
            write_json_atomic(stats_path, stats)
            shards.append(parquet_path)
    return shards
