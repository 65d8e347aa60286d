"""Seeded, source-stratified selection of samples for relabeling."""

from __future__ import annotations

import random
from collections import defaultdict


def stratified(sources: list[str], eligible: list[int], count: int, seed: int, salt: str) -> list[int]:
    """`count` indices from `eligible`, spread over sources in proportion to their size (largest
    remainder), each source's picks drawn with its own seeded generator. Sorted."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for i in eligible:
        by_source[sources[i]].append(i)
    total = len(eligible)
    count = min(count, total)
    if count <= 0:
        return []
    quotas = {s: count * len(ix) / total for s, ix in by_source.items()}
    take = {s: int(q) for s, q in quotas.items()}
    for s in sorted(quotas, key=lambda s: (-(quotas[s] - take[s]), s))[: count - sum(take.values())]:
        take[s] += 1
    picked = []
    for s, ix in sorted(by_source.items()):
        rng = random.Random(f"{seed}:{salt}:{s}")
        picked += rng.sample(ix, take[s])
    return sorted(picked)
