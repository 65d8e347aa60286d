"""The datatrove pipeline steps alchemist adds around datatrove's MinHash steps.

Steps follow datatrove's protocol (`run(data, rank, world_size)`), so each can be tested on a
plain list and run by any of datatrove's executors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from alchemist.curate.spec import FilterSpec
from alchemist.rules.exact import content_key
from alchemist.rules.filters import screen, screen_batch
from alchemist.rundir import atomic_file
from alchemist.schema import Sample


def rank_range(n: int, rank: int, world_size: int) -> tuple[int, int]:
    return n * rank // world_size, n * (rank + 1) // world_size


def _atomic_write_lines(path: Path, lines) -> None:
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")


class SampleReader(PipelineStep):
    """Reads this rank's contiguous slice of the ingested shards, skipping rows already dropped."""

    name = "alchemist samples"
    type = "📖 - READER"

    def __init__(self, files: list[str], active: np.ndarray):
        super().__init__()
        self.files = files
        self.active = active  # bool per global row: still a candidate

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        lo, hi = rank_range(len(self.active), rank, world_size)
        offset = 0
        for f in self.files:
            pf = pq.ParquetFile(f)
            for group in range(pf.metadata.num_row_groups):  # read only the row groups this rank needs
                rows = pf.metadata.row_group(group).num_rows
                start, stop = max(lo, offset), min(hi, offset + rows)
                if start < stop:
                    table = pf.read_row_group(group, columns=["source", "task", "messages", "language"])
                    for j, row in enumerate(table.slice(start - offset, stop - start).to_pylist()):
                        idx = start + j
                        if self.active[idx]:
                            sample = Sample(row["source"], row["messages"], row["task"], row["language"], id="-")
                            self.stat_update("read")
                            yield Document(text=f"{sample.instruction}\n{sample.response}", id=str(idx), metadata={"sample": sample})
                offset += rows


class Screen(PipelineStep):
    """Decontamination and quality filters in one pass, plus the exact-dedup content key. Writes
    one verdict line per document to `verdicts/NNNNN.jsonl` and passes clean documents on (to the
    MinHash signature step). Every document is checked for contamination, over all its turns, and
    that reason wins over any quality reason (`filters.screen`). Exact copies share their verdict:
    they have the same content. Documents are screened in batches of BATCH (the embedding
    signal's model runs on batches), in order."""

    BATCH = 2048  # ~1-2% of a batch reaches the full embedding model: a few dozen texts per model call

    name = "alchemist quality + decontamination"
    type = "🔻 - FILTER"

    def __init__(self, out_dir: str, filters: FilterSpec | None, index):
        super().__init__()
        self.out_dir = out_dir
        self.filters = filters
        self.index = index

    def verdict(self, sample: Sample) -> tuple[str | None, dict | None]:
        return screen(sample, self.filters, self.index)

    def run(self, data, rank: int = 0, world_size: int = 1):
        lines = []
        batch = []
        for doc in data:
            batch.append(doc)
            if len(batch) >= self.BATCH:
                yield from self._screen(batch, lines)
                batch = []
        yield from self._screen(batch, lines)
        Path(self.out_dir).mkdir(parents=True, exist_ok=True)
        _atomic_write_lines(Path(self.out_dir) / f"{rank:05d}.jsonl", lines)

    def _screen(self, docs: list[Document], lines: list[str]):
        if not docs:
            return
        with self.track_time(unit="batch"):
            samples = [doc.metadata.pop("sample") for doc in docs]
            verdicts = screen_batch(samples, self.filters, self.index)
            keys = [content_key(s).hex() for s in samples]
        for doc, (reason, detail), key in zip(docs, verdicts, keys):
            lines.append(orjson.dumps({"idx": int(doc.id), "reason": reason, "detail": detail, "key": key}).decode())
            if reason is None:
                self.stat_update("kept")
                yield doc
            else:
                self.stat_update(f"dropped_{reason}")


class PassedReader(PipelineStep):
    """Replays, as empty documents, the ids this rank passed to the MinHash signature step, in the
    same order: MinHash's filter step only needs each document's position."""

    name = "alchemist passed ids"
    type = "📖 - READER"

    def __init__(self, verdict_dir: str):
        super().__init__()
        self.verdict_dir = verdict_dir

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        with open(Path(self.verdict_dir) / f"{rank:05d}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                v = orjson.loads(line)
                if v["reason"] is None:
                    yield Document(text="", id=str(v["idx"]))


class KeptIds(PipelineStep):
    """Sink: writes the ids that survived MinHash to `kept/NNNNN.txt`."""

    name = "alchemist kept ids"
    type = "💽 - WRITER"

    def __init__(self, out_dir: str):
        super().__init__()
        self.out_dir = out_dir

    def run(self, data, rank: int = 0, world_size: int = 1):
        Path(self.out_dir).mkdir(parents=True, exist_ok=True)
        _atomic_write_lines(Path(self.out_dir) / f"{rank:05d}.txt", (doc.id for doc in data))
        return
        yield  # a generator that yields nothing, as datatrove sinks are
