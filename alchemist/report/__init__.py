"""The run report: `runs/NAME/report.html`, one self-contained page with pictures of what a run
did (data composition, token lengths, drops, contamination, training loss, eval scores, timings).
`report.md` (written by mix) stays the terminal's summary."""

from alchemist.report.page import build_report

__all__ = ["build_report"]
