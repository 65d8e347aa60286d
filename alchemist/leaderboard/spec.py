"""The leaderboard section."""

from __future__ import annotations

from pydantic import Field

from alchemist.specs import Strict, local_path


class LeaderboardSpec(Strict):
    enabled: bool = Field(True, description="Rank this run's eval results.")
    reference: bool = Field(True, description="Include the paper's published rows, marked as reference.")
    results: list[str] = local_path(default_factory=list, description="More results.json files or folders to rank against.")
