"""Ingest: every source's records become Sample rows in `data/ingested/NAME.parquet`.

Per source, `NAME.stats.json` counts what was read and what was malformed (with the first few
file:line examples). A source whose settings and files did not change since the last ingest is
carried over from the previous output instead of being read again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from alchemist.errors import MalformedRecord, UserError
from alchemist.ingest.spec import SourceSpec
from alchemist.ingest.stats import IngestStats
from alchemist.rundir import fingerprint, write_json_atomic
from alchemist.schema import SAMPLE_SCHEMA, Sample, rows_to_table, surrogate_reason
from alchemist.sources import ADAPTERS, AdapterError, RawRecord, expand_paths, iter_file, iter_hub
from alchemist.sources.readers import no_match_reason

BATCH = 8192


def source_files(spec: SourceSpec, recipe_path: Path | None) -> list[Path]:
    files: list[Path] = []
    for text in spec.paths():
        found = expand_paths(text, recipe_path, ADAPTERS[spec.adapter])
        if not found:
            raise UserError(f"source '{spec.name}': no file matches '{text}': "
                            f"{no_match_reason(text, recipe_path, ADAPTERS[spec.adapter].suffixes)}")
        files += found
    # a file named twice (a glob and a name, a link and its target) is read once
    files = list({os.path.realpath(f): f for f in reversed(files)}.values())[::-1]
    if spec.path is not None and not files:

        raise UserError(f"source '{spec.name}': `path` names no file; give a file, glob or directory")
    return files


def raw_records(spec: SourceSpec, files: list[Path]) -> Iterator[tuple[Path | None, RawRecord]]:
    adapter = ADAPTERS[spec.adapter]
    if spec.hf:
        for raw in iter_hub(spec.hf, spec.config, spec.split, spec.revision):
            yield None, raw
        return
    for f in files:
        for raw in (adapter.read(f, spec.options) if adapter.read else iter_file(f)):
            yield f, raw


def source_fingerprint(spec: SourceSpec, digests: list[tuple[str, str]]) -> str:
    return fingerprint("ingest-source-v2", spec.model_dump(mode="json"), digests)


def ingest_source(spec: SourceSpec, files: list[Path], out_dir: Path, strict: bool, progress=None) -> IngestStats:
    """Write NAME.parquet; return its stats. A file that yields no record at all is an error (an
    empty or unreadable file would otherwise pass as a source with nothing in it)."""
    adapter = ADAPTERS[spec.adapter]
    parquet_path = out_dir / f"{spec.name}.parquet"
    stats = IngestStats(files=[str(f) for f in files])
    good = dict.fromkeys(files, 0)
    first_error: dict[Path, str] = {}
    writer = pq.ParquetWriter(parquet_path, SAMPLE_SCHEMA)
    batch: list[dict] = []
    try:
        for f, raw in raw_records(spec, files):
            if raw.note:  # a flaw of the file that lost no record (a trailing comma): said, not counted
                stats.note(raw.where, raw.note)
                continue
            stats.read += 1
            if progress:
                progress()
            try:
                if raw.error:
                    raise AdapterError(raw.error)
                conv = adapter.convert(raw.data, spec.options)
                # (surrogates elsewhere, e.g. in a file name kept in meta, are escaped: schema.meta_json)
                why = surrogate_reason(m["content"] for m in conv.messages)
                if why:
                    raise AdapterError(why)
            except AdapterError as e:
                if strict:
                    raise MalformedRecord(raw.where, f"{e} (source '{spec.name}', adapter '{spec.adapter}'; "
                                          "fix the record or set curate.strict: false to count and skip it)") from None
                stats.malformed_record(raw.where, str(e))
                if f is not None:
                    first_error.setdefault(f, f"{raw.where}: {e}")
                continue
            if f is not None:
                good[f] += 1
            meta = {"file": raw.where.rsplit(":", 1)[0].rsplit("#", 1)[0], "where": raw.where, "adapter": spec.adapter}
            if conv.extra:
                meta["fields"] = conv.extra
            sample = Sample(source=spec.name, messages=conv.messages, task=conv.task, language=conv.language, meta=meta,
                            tests=conv.tests)
            batch.append(sample.to_row())
            if len(batch) >= BATCH:
                writer.write_table(rows_to_table(batch))
                stats.ingested += len(batch)
                batch = []
        if batch:
            writer.write_table(rows_to_table(batch))
            stats.ingested += len(batch)
    finally:
        writer.close()
    if adapter.whole_files and files and stats.ingested == 0:
        raise UserError(f"source '{spec.name}': none of its {len(files)} files holds a usable snippet "
                        f"(e.g. {next(iter(first_error.values()), 'every file is empty')}); check its path and options")
    for f, n in good.items():
        if n == 0 and not adapter.whole_files:
            why = first_error.get(f, "the file is empty")
            raise UserError(f"{f}: no record could be read from this file of source '{spec.name}' ({why}); "
                            "fix the file, or remove it from the source's path")
    if spec.hf and stats.ingested == 0:
        raise UserError(f"source '{spec.name}': the dataset {spec.hf} yielded no usable record")
    return stats


class Ingest:
    name, version, reads = "ingest", 2, ()
    publishes: dict[str, str] = {}  # writes nothing outside its own folder

    def enabled(self, recipe) -> bool:
        return True

    def config(self, recipe):
        return {"sources": recipe.sources, "strict": recipe.curate.strict}

    def inputs(self, ctx) -> list[Path]:
        return [f for spec in ctx.recipe.sources if not spec.hf for f in source_files(spec, ctx.recipe._path)]

    def plan(self, ctx) -> str:
        return f"{len(ctx.recipe.sources)} sources"

    def preflight(self, ctx) -> None:
        for i, spec in enumerate(ctx.recipe.sources):
            if spec.hf:
                check_hub(spec, f"sources.{i}.hf")

    def run(self, ctx, out: Path, work: Path) -> dict:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        previous = ctx.layout.output("ingest")
        totals = {"sources": 0, "read": 0, "malformed": 0, "carried_over": 0}
        with Progress(SpinnerColumn(), TextColumn("ingest {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=ctx.console, transient=False) as bar:
            for spec in ctx.recipe.sources:
                files = [] if spec.hf else source_files(spec, ctx.recipe._path)
                fp = source_fingerprint(spec, [(str(f), ctx.digest(f)) for f in files])
                stats = _carry_over(previous, out, spec.name, fp)
                if stats is not None:
                    bar.add_task(f"{spec.name} (unchanged, carried over)", total=1, completed=1)
                    totals["carried_over"] += 1
                else:
                    task = bar.add_task(spec.name, total=None)
                    stats = ingest_source(spec, files, out, ctx.recipe.curate.strict, progress=lambda t=task: bar.advance(t))
                    bar.update(task, total=stats.read, completed=stats.read)
                    stats.fingerprint = fp
                    write_json_atomic(out / f"{spec.name}.stats.json", stats.to_json())
                totals["sources"] += 1
                totals["read"] += stats.read
                totals["malformed"] += stats.malformed
        return totals


def _carry_over(previous: Path, out: Path, name: str, fp: str) -> IngestStats | None:
    """The previous output's shard of this source, when it was made from the same files and settings."""
    stats_path, shard = previous / f"{name}.stats.json", previous / f"{name}.parquet"
    if not (stats_path.is_file() and shard.is_file()):
        return None
    try:
        stats = IngestStats.from_json(stats_path)
    except UserError:  # not what ingest wrote: read the source again
        return None
    if stats.fingerprint != fp:
        return None
    try:
        os.link(shard, out / shard.name)
    except OSError:
        shutil.copyfile(shard, out / shard.name)
    shutil.copyfile(stats_path, out / stats_path.name)
    return stats


def check_hub(spec: SourceSpec, key: str) -> None:
    """Before any work: with the hub out of reach, an `hf:` source that is not in the local cache
    is one line at once (datasets would retry for half a minute, printing every retry); a cached
    one is left to datasets."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=10).close()
        return
    except OSError as e:
        why = e.strerror or type(e).__name__
    cached = [Path(constants.HF_HUB_CACHE) / f"datasets--{spec.hf.replace('/', '--')}",
              Path(os.environ.get("HF_DATASETS_CACHE", Path(constants.HF_HOME) / "datasets")) / spec.hf.replace("/", "___")]
    if not any(p.exists() for p in cached):
        raise UserError(f"source '{spec.name}' ({key}: {spec.hf}): the Hugging Face hub ({host}) cannot be reached ({why}) "
                        "and the dataset is not in the local cache; connect to the network, or download it elsewhere "
                        "and point the source's `path:` at the files")
