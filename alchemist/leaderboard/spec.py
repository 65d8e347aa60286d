"""The leaderboard section."""

from __future__ import annotations

from pydantic import Field

from alchemist.specs import Strict


class LeaderboardSpec(Strict):
    enabled: bool = Field(True, description="Rank this run's eval results.")
    reference: bool = Field(True, description="Include the paper's published rows, marked as reference.")
    results: list[str] = Field(default_factory=list, description="More results.json files or folders to rank against.")
