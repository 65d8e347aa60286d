"""Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k), computed stably."""

from __future__ import annotations

import numpy as np

# Beyond 10 samples per task, the usual ks (and the largest k every task supports).
USUAL_KS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes."""
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def supported_ks(smallest: int) -> list[int]:
    """Every k that `smallest` samples per task support: each k up to 10, then the usual ones and
    `smallest` itself."""
    if smallest < 1:
        return []
    return sorted({k for k in range(1, min(smallest, 10) + 1)} | {k for k in USUAL_KS if k <= smallest} | {smallest})


def mean_pass_at_k(counts: list[tuple[int, int]], ks=None) -> dict[str, float]:
    """pass@k averaged over tasks, for every k that every task has enough samples for (`ks`: only these)."""
    if not counts:
        return {}
    smallest = min(n for n, _ in counts)
    ks = supported_ks(smallest) if ks is None else [k for k in ks if k <= smallest]
    return {f"pass@{k}": float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks}


def pass_at_k_coverage(ns: dict[str, int]) -> dict:
    """Which k the scores go up to and which tasks hold it back (fewer samples than the most);
    `ns`: the samples scored per task."""
    if not ns:
        return {"max_k": 0, "most_samples": 0, "tasks_with_fewer_samples": {}}
    most, fewest = max(ns.values()), min(ns.values())
    return {"max_k": fewest, "most_samples": most,
            "tasks_with_fewer_samples": {t: n for t, n in sorted(ns.items()) if n < most}}
