"""What the steps that read the API return: the results the summary prints and tests read.

Apart from their steps, which import the source (and with it PyArrow), so that printing a
summary does not: ``transform``, ``report`` and ``sql`` start without it. The other steps'
results are small and live beside their steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipelines.errors import ExitCode
from pipelines.hostedsuite.settings import CALLS_TABLE
from pipelines.plan import StepResult


@dataclass(frozen=True)
class LoadResult(StepResult):
    """What the load wrote: rows per table, the batches, and the cursor after it."""

    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    complete_through: str | None = None
    newest_call_start: str | None = None
    finished_pending: bool = False
    # Calls per load package, one entry per batch.
    batch_calls: tuple[int, ...] = ()
    # Calls whose CenterId /api/centers does not list, read in this zone (flagged in dq_issues).
    unknown_center_calls: int = 0
    unknown_center_zone: str | None = None
    # Re-read calls the warehouse already held as they are: not rewritten.
    unchanged_calls: int = 0
    # Calls written that the warehouse held otherwise, and that it did not hold; both 0 when
    # the run did not compare with the warehouse (a first load).
    changed_calls: int = 0
    new_calls: int = 0

    @property
    def calls_read(self) -> int:
        """Calls the API delivered: written or left alone as unchanged."""
        return self.row_counts.get(CALLS_TABLE, 0) + self.unchanged_calls

    @property
    def compared(self) -> bool:
        """Whether the calls read were compared with the warehouse (new, changed, unchanged)."""
        return self.unchanged_calls + self.changed_calls + self.new_calls > 0

    def plus(self, other: LoadResult) -> LoadResult:
        """This load's counts and another's (a later batch)."""
        counts = dict(self.row_counts)
        for table, rows in other.row_counts.items():
            counts[table] = counts.get(table, 0) + rows
        return LoadResult(
            self.step,
            counts,
            finished_pending=self.finished_pending or other.finished_pending,
            batch_calls=self.batch_calls + other.batch_calls,
            unknown_center_calls=self.unknown_center_calls + other.unknown_center_calls,
            unknown_center_zone=other.unknown_center_zone or self.unknown_center_zone,
            unchanged_calls=self.unchanged_calls + other.unchanged_calls,
            changed_calls=self.changed_calls + other.changed_calls,
            new_calls=self.new_calls + other.new_calls,
        )

    def finished(self, cursor: Mapping[str, Any], seconds: float) -> LoadResult:
        """With the cursor the pipeline committed (``cursor_state``) and the time it took."""
        return LoadResult(
            self.step,
            self.row_counts,
            seconds,
            cursor.get("complete_through"),
            cursor.get("newest_call_start"),
            self.finished_pending,
            self.batch_calls,
            self.unknown_center_calls,
            self.unknown_center_zone,
            self.unchanged_calls,
            self.changed_calls,
            self.new_calls,
        )


@dataclass(frozen=True)
class BackfillResult(LoadResult):
    """A load result, with the range and the number of windows it was split into."""

    start: str = ""
    end: str = ""
    windows: int = 0
    # The range was loaded before and not forced: nothing was read.
    already_loaded: bool = False


@dataclass(frozen=True)
class DayCount:
    """One center's local day: what the API counts and what the warehouse holds."""

    center_id: str
    local_date: date
    api_count: int | None
    warehouse_local: int
    warehouse_utc: int

    @property
    def status(self) -> str:
        if self.api_count is None:
            return "unknown"
        if self.api_count in (self.warehouse_local, self.warehouse_utc):
            return "ok"
        return "missing" if self.api_count > self.warehouse_local else "extra"


def watermark(results: Sequence[DayCount]) -> date | None:
    """The last day up to which every earlier day of the range is complete for every center."""
    bad_days = sorted({r.local_date for r in results if r.status != "ok"})
    all_days = sorted({r.local_date for r in results})
    if not all_days:
        return None
    if not bad_days:
        return all_days[-1]
    clean = [d for d in all_days if d < bad_days[0]]
    return clean[-1] if clean else None


@dataclass(frozen=True)
class VerifyResult(StepResult):
    first: date
    last: date
    days: tuple[DayCount, ...]
    # (call id, center id) of calls whose center the API does not list, read in this zone
    unknown_center_calls: tuple[tuple[str, str | None], ...]
    default_zone: str

    @property
    def differing(self) -> list[DayCount]:
        return [day for day in self.days if day.status != "ok"]

    @property
    def complete_through(self) -> date | None:
        return watermark(self.days)

    @property
    def problem(self) -> tuple[ExitCode, str] | None:
        if not self.differing:
            return None
        return ExitCode.INCOMPLETE, f"{len(self.differing)} center-days differ from the API"
