"""The self-contained HTML call-center report (``hostedsuite report``, ``make report``).

``build.build_report(db, out, start, end)`` reads the ``analytics`` marts of a DuckDB file
(opened read-only: the serving copy by default) and writes one HTML file that opens offline:
headline per center against the previous period, daily trend, interval heat map, agent
scorecard, abandonment, data health and staffing. ``queries.py`` holds the SQL, ``charts.py``
the chart specs, ``sections.py`` and ``page.py`` the HTML, ``staffing.py`` the staffing section.

This module holds only what a run's plan names before any report is written (the result, the
error, the default target): a scheduled load imports it, and imports ``build`` only when
``[report] after_load`` has it write a report (``pipelines/steps/report.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

DEFAULT_TARGET_PCT = 80.0


class ReportError(Exception):
    """A report that cannot be made (no such file, no marts, a bad range): one line."""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    start: date
    end: date
    calls_offered: int
    size_bytes: int
    seconds: float

    def line(self) -> str:
        return (
            f"report: {self.path}  ({self.start}..{self.end}, {self.calls_offered:,} incoming "
            f"calls, {self.size_bytes / 1e6:.1f} MB, {self.seconds:.2f} s)"
        )


__all__ = ["DEFAULT_TARGET_PCT", "ReportError", "ReportResult"]
