"""The curation rules a produced sample is held to before it joins the data.

Generated code pairs (EvolCode answers, OSS-Instruct pairs) are new training samples, so they get
what every ingested sample got in the curate stage: decontamination with every signal the recipe
enables (and its LLM judge), the quality filters, exact dedup and MinHash near dedup against the
curated samples and every pair admitted before them. Other produced samples (AlchemistPrompts,
comprehension tasks) quote curated samples on purpose, so they are only decontaminated.
"""

from __future__ import annotations

from pathlib import Path

from alchemist.curate.decontaminate import build_index, contamination_batch
from alchemist.curate.exact import content_key
from alchemist.curate.filters import quality_reason
from alchemist.schema import Sample


def near_text(sample: Sample) -> str:
    """What MinHash compares, as in the curate stage (curate/steps.py)."""
    return f"{sample.instruction}\n{sample.response}"


class NearIndex:
    """MinHash LSH over samples in memory, with the curate stage's shingles, hash functions and
    bands (curate/near.py): a sample sharing any band with an indexed one is its near duplicate,
    as datatrove's bucket step decides. In memory because the produced samples are checked one by
    one as they are admitted, which datatrove's batch pipeline cannot do."""

    def __init__(self, spec, seed: int, work: Path):
        from alchemist.curate.near import CodeWordTokenizer, MinhashSignature, minhash_config

        self.steps = MinhashSignature(str(work), config=minhash_config(spec, seed), language=CodeWordTokenizer())
        self.bands: list[set[tuple]] = [set() for _ in range(self.steps.config.num_buckets)]

    def _signature(self, text: str) -> list[tuple] | None:
        shingles = self.steps.get_shingles(text)
        if not shingles.size:  # shorter than one shingle: never a near duplicate (datatrove skips it too)
            return None
        return [tuple(band) for band in self.steps.get_signature(shingles)]

    def add(self, text: str) -> None:
        sig = self._signature(text)
        for band, key in zip(self.bands, sig or ()):
            band.add(key)

    def duplicate(self, text: str) -> bool:
        sig = self._signature(text)
        return sig is not None and any(key in band for band, key in zip(self.bands, sig))


class LazyClient:
    """An LLM client built (and its endpoint checked, or its model loaded) on the first request:
    most relabel runs have no doubtful pair for the judge, and a local judge model is big."""

    def __init__(self, spec, cache: Path):
        self.spec, self.cache, self.client = spec, cache, None

    def generate(self, requests, **kwargs):
        if self.client is None:
            from alchemist.llm.factory import build_client

            self.client = build_client(self.spec, self.cache)
            self.client.preflight()
        return self.client.generate(requests, **kwargs)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class ProducedCuration:
    """`admit` decides generated pairs one at a time (so a seed's next candidate can stand in for
    a rejected one); `contaminated` checks any other produced samples in one batch."""

    def __init__(self, ctx, curated: list[Sample], work: Path):
        from alchemist.curate.stage import run_problems

        recipe = ctx.recipe
        from alchemist.mix.stage import NOT_TRAINED

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
            self.judge_client = LazyClient(decontaminate.judge.llm, ctx.run_dir / "cache" / "judge_llm.sqlite")
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
            for s in track(self.curated, description="relabel: MinHash of curated samples", console=self.ctx.console,
                           transient=True):
                self._near.add(near_text(s))
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
            near = self.near
            if reason is None and near is not None and near.duplicate(near_text(s)):
                reason = "near_duplicate"
            if reason is None:
                if self.seen is not None:
                    self.seen.add(key)
                if near is not None:
                    near.add(near_text(s))
            reasons.append(reason)
        return reasons

    def contaminated(self, samples: list[Sample]) -> list[bool]:
        return [detail is not None for detail, _ in contamination_batch(samples, self.index)]

    def close(self) -> None:
        if self.judge_client is not None:
            self.judge_client.close()
