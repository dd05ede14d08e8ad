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
    check_completeness,
    record_results,
    unknown_center_calls,
    verification,
)
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.directory import CenterDirectory
from pipelines.hostedsuite.settings import DEFAULT_TIMEZONE
from pipelines.hostedsuite.source import make_client
from pipelines.hostedsuite.windows import parse_instant
from pipelines.pipeline import current_health, cursor_state
from pipelines.plan import RunContext
from pipelines.results import VerifyResult

logger = logging.getLogger("hostedsuite")


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
