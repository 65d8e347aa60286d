"""The curation rules a produced sample is held to before it joins the data.

Generated code pairs (EvolCode answers, OSS-Instruct pairs) are new training samples, so they get
what every ingested sample got in the curate stage: decontamination with every signal the recipe
enables (and its LLM judge), the quality filters, exact dedup and MinHash near dedup against the
curated samples and every pair admitted before them. Other produced samples (AlchemistPrompts,
comprehension tasks) quote curated samples on purpose, so they are only decontaminated.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from alchemist.llm.factory import build_client
from alchemist.relabel.templates import load
from alchemist.rules.decontaminate import build_index, contamination_batch
from alchemist.rules.exact import content_key
from alchemist.rules.filters import quality_reason
from alchemist.rules.near import CodeWordTokenizer, MinhashSignature, minhash_config, mix64
from alchemist.schema import NOT_TRAINED, Sample
from alchemist.testsets.decontaminate import run_problems

# A template field that quotes the answer of the sample a task was made from: that answer was
# decontaminated where it was curated (or screened before its quality reason), and quoted inside a
# user turn its prose would read as part of the request
QUOTED_ANSWER = "response"
_FIELD = re.compile(r"\{\{(\w+)\}\}")


def added_text(sample: Sample) -> Sample:
    """A produced sample as decontamination reads it: each turn without the prose of the template
    that laid the sample out (`meta["task_template"]`, else `meta["template"]`) and without the
    quoted answer of its origin; the quoted request stays, as what the added text answers. A turn
    the template does not match is kept whole (an AlchemistPrompt: the request template's prose
    is not in the sample)."""
    name = sample.meta.get("task_template") or sample.meta.get("template")
    try:
        template = load(name.rsplit(".v", 1)[0]) if name else None
    except FileNotFoundError:
        template = None
    if template is None or template.id != name or len(template.sections) != len(sample.messages):
        return sample
    messages = []
    for m, (_, text) in zip(sample.messages, template.sections):
        parts = _FIELD.split(text)  # prose, field, prose, field, ..., prose
        found = re.fullmatch("".join("(.*?)" if i % 2 else re.escape(p) for i, p in enumerate(parts)), m["content"], re.S)
        if found is None:
            messages.append(m)
            continue
        kept = [v.strip() for f, v in zip(parts[1::2], found.groups()) if f != QUOTED_ANSWER and v.strip()]
        messages.append({**m, "content": "\n\n".join(kept)})
    return Sample(source=sample.source, messages=messages, task=sample.task, language=sample.language, meta=sample.meta)


def near_text(sample: Sample) -> str:
    """What MinHash compares, as in the curate stage (curate/steps.py)."""
    return f"{sample.instruction}\n{sample.response}"


class NearIndex:
    """MinHash LSH over samples in memory, with the curate stage's shingles, hash functions and
    bands (rules/near.py): a sample sharing any band with an indexed one is its near duplicate,
    as datatrove's bucket step decides. In memory because the produced samples are checked one by
    one as they are admitted, which datatrove's batch pipeline cannot do.

    Each band is kept as one 64-bit key (its rows folded by a mixing hash) in a sorted array per
    band for the curated samples and a set for the pairs admitted since: 1M curated samples
    take ~100 MB, not the gigabytes of Python tuples."""

    def __init__(self, spec, seed: int, work: Path):
        self.steps = MinhashSignature(str(work), config=minhash_config(spec, seed), language=CodeWordTokenizer())
        self.rows = self.steps.config.hashes_per_bucket
        self.base: list[np.ndarray] = []
        self.added: set[tuple[int, int]] = set()

    def keys(self, text: str) -> np.ndarray | None:
        """The sample's band keys, or None when it is shorter than one shingle (datatrove skips those too)."""
        shingles = self.steps.get_shingles(text)
        if not shingles.size:
            return None
        sig = np.asarray(self.steps.get_signature(shingles), dtype=np.uint64)  # (bands, rows)
        key = np.zeros(len(sig), dtype=np.uint64)
        with np.errstate(over="ignore"):  # 64-bit wraparound is the point
            for j in range(self.rows):
                key = mix64(key * np.uint64(0x100000001B3) + sig[:, j])
        return key

    def build(self, texts) -> None:
        """Index the reference samples (each text once, in one go)."""
        keys = [k for k in map(self.keys, texts) if k is not None]
        table = np.stack(keys) if keys else np.empty((0, self.steps.config.num_buckets), dtype=np.uint64)
        self.base = [np.unique(table[:, band]) for band in range(table.shape[1])]

    def add(self, text: str) -> None:
        k = self.keys(text)
        if k is not None:
            self.added.update(enumerate(k.tolist()))

    def duplicate(self, text: str) -> bool:
        k = self.keys(text)
        if k is None:
            return False
        for band, key in enumerate(k):
            if (band, int(key)) in self.added:
                return True
            if band < len(self.base):
                col = self.base[band]
                i = np.searchsorted(col, key)
                if i < len(col) and col[i] == key:
                    return True
        return False


class LazyClient:
    """An LLM client built (and its endpoint checked, or its model loaded) on the first request:
    most relabel runs have no doubtful pair for the judge, and a local judge model is big."""

    def __init__(self, spec, cache: Path):
        self.spec, self.cache, self.client = spec, cache, None

    def _built(self):
        if self.client is None:
            self.client = build_client(self.spec, self.cache)
            self.client.preflight()
        return self.client

    def generate(self, requests, **kwargs):
        return self._built().generate(requests, **kwargs)

    def ask(self, prompts, max_tokens, temperature=0.0):
        """What the curation rules' judge calls (LLMClient.ask)."""
        return self._built().ask(prompts, max_tokens, temperature)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class ProducedCuration:
    """`admit` decides generated pairs one at a time (so a seed's next candidate can stand in for
    a rejected one); `contaminated` checks any other produced samples in one batch."""

    def __init__(self, ctx, curated: list[Sample], work: Path):
        recipe = ctx.recipe
        # seeds are never trained on: a pair that reuses its snippet's code duplicates no training data
        curated = [s for s in curated if s.task not in NOT_TRAINED]
        self.ctx, self.curated, self.work = ctx, curated, work
        self.filters = recipe.curate.filters
        self.dedup = recipe.curate.dedup
        self.seed = recipe.seed
        decontaminate = recipe.curate.decontaminate
        problems, _ = run_problems(ctx)
        self.judge_client = None
        if decontaminate.enabled and problems and decontaminate.judge.llm is not None:
            # the curate stage's judge cache: a doubtful pair judged before is not asked again
            self.judge_client = LazyClient(decontaminate.judge.llm, ctx.layout.judge_cache)
        self.index = build_index(problems, decontaminate, self.judge_client)
        self.seen = {content_key(s) for s in curated} if self.dedup.exact else None
        self._near: NearIndex | None = None

    @property
    def near(self) -> NearIndex | None:
        """Built on first use: signatures of every curated sample cost seconds per 100k, paid only
        when there is a pair to check."""
        if self._near is None and self.dedup.near.enabled:
            from rich.progress import track

            self._near = NearIndex(self.dedup.near, self.seed, self.work)
            self._near.build(near_text(s) for s in track(self.curated, description="relabel: MinHash of curated samples",
                                                         console=self.ctx.console, transient=True))
        return self._near

    def admit(self, samples: list[Sample]) -> list[str | None]:
        """Each sample in order: None when it is admitted (and remembered, so later samples that
        copy it are duplicates), else the reason it is dropped, in the curate stage's precedence
        (contaminated, quality reasons, exact_duplicate, near_duplicate)."""
        reasons: list[str | None] = []
        for s, (detail, _) in zip(samples, contamination_batch(samples, self.index)):
            reason = "contaminated" if detail is not None else quality_reason(s, self.filters)
            key = content_key(s)
            if reason is None and self.seen is not None and key in self.seen:
                reason = "exact_duplicate"
            near = self.near if reason is None else None
            if near is not None and near.duplicate(near_text(s)):
                reason = "near_duplicate"
            if reason is None:
                if self.seen is not None:
                    self.seen.add(key)
                if near is not None:
                    near.add(near_text(s))
            reasons.append(reason)
        return reasons

    def contaminated(self, samples: list[Sample]) -> list[bool]:
        """Each sample checked on what it adds (`added_text`): a review of a clean sample is not
        contaminated by the review template's prose."""
        return [detail is not None for detail, _ in contamination_batch([added_text(s) for s in samples], self.index)]

    def close(self) -> None:
        if self.judge_client is not None:
            self.judge_client.close()
