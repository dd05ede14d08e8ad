"""The verify step: the API's count per center and local day against the warehouse's.

The findings go to ``analytics.completeness`` and ``analytics.load_health`` in one write (one
transaction where the destination needs it). Differences are not a failure of the step: the
run goes on to publish them, then ends with exit code 6 (``VerifyResult.problem``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import dlt
import pendulum

from pipelines import load_health
from pipelines.completeness import (
    DayCount,
    check_completeness,
    record_results,
    unknown_center_calls,
    verification,
    watermark,
)
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite import CenterDirectory, make_client, parse_instant
from pipelines.hostedsuite.settings import DEFAULT_TIMEZONE
from pipelines.pipeline import current_health, cursor_state
from pipelines.plan import RunContext, StepResult

logger = logging.getLogger("hostedsuite")


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


@dataclass(frozen=True)
class Verify:
    """``hostedsuite verify``: local days [first, last] of every listed center; ``last``
    defaults to the cursor's date (today before any load), ``first`` to 6 days before it."""

    first: date | None = None
    last: date | None = None
    workers: int = 4
    name: str = "verify"

    def days(self, pipeline: dlt.Pipeline) -> tuple[date, date]:
        cursor = parse_instant(cursor_state(pipeline).get("complete_through"), "cursor")
        last = self.last or (cursor or pendulum.now("UTC")).date()
        first = self.first or last - timedelta(days=6)
        if last < first:
            raise RunError(ExitCode.BAD_CONFIG, "--end must not be before --start")
        return first, last

    def run(self, context: RunContext) -> VerifyResult:
        destination, pipeline = context.writer()
        first, last = self.days(pipeline)
        client = make_client()
        zone = dlt.config.get("sources.hostedsuite.default_timezone", str) or DEFAULT_TIMEZONE
        directory = CenterDirectory(client, zone)
        center_ids = [c["id"] for c in directory.centers()]
        logger.info("verify: %d centers x %d days", len(center_ids), (last - first).days + 1)
        health = current_health(pipeline)
        checked_at = pendulum.now("UTC")
        with pipeline.sql_client() as sql:
            found = check_completeness(
                client, sql, pipeline.dataset_name, center_ids, first, last, self.workers
            )
            with destination.verify_writes(sql):
                record_results(sql, found, first, last, checked_at, destination.verify_primary_key)
                load_health.write_verified(
                    sql.execute_sql,
                    health,
                    verification(found, first, last, checked_at),
                )
            orphans = unknown_center_calls(sql, pipeline.dataset_name, center_ids, first, last)
        return VerifyResult(
            self.name, first, last, tuple(found), tuple(orphans), directory.default_timezone
        )
