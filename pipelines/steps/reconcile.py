"""The reconcile step: a UTC range re-read, the calls the API no longer returns marked deleted
(``pipelines/reconcile.py``), the marts rebuilt without them; the plan then publishes.

The marks are written in one transaction, then the marts are rebuilt in full: an update of a
raw row carries no new load id, so an incremental refresh would not see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dlt
import pendulum

from pipelines.config import configured_workers
from pipelines.hostedsuite.directory import CenterDirectory
from pipelines.hostedsuite.paging import CallsQuery
from pipelines.hostedsuite.settings import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW_HOURS,
    WINDOW_MARGIN_HOURS,
)
from pipelines.hostedsuite.source import make_client
from pipelines.plan import LinesResult, RunContext
from pipelines.privacy import has_table
from pipelines.reconcile import api_call_ids, check_guard, ensure_columns, mark, warehouse_calls
from pipelines.steps.transform import transform


@dataclass(frozen=True)
class ReconcileResult(LinesResult):
    """What reconcile found and marked, as summary lines."""


@dataclass(frozen=True)
class Reconcile:
    start: pendulum.DateTime
    end: pendulum.DateTime
    confirmed: bool = False
    workers: int | None = None
    name: str = "reconcile"

    def run(self, context: RunContext) -> ReconcileResult:
        destination, pipeline = context.writer()
        label = f"reconcile {self.start.to_iso8601_string()}..{self.end.to_iso8601_string()}"
        with pipeline.sql_client() as sql:
            if not has_table(sql, pipeline.dataset_name, "calls"):
                return ReconcileResult(self.name, (f"{label}: no calls loaded yet",))
        client = make_client()
        zone = dlt.config.get("sources.hostedsuite.default_timezone", str) or DEFAULT_TIMEZONE
        query = CallsQuery(
            dlt.config.get("sources.hostedsuite.page_size", int) or DEFAULT_PAGE_SIZE,
            window_margin_hours=_configured("window_margin_hours", WINDOW_MARGIN_HOURS),
        )
        api = api_call_ids(
            client,
            CenterDirectory(client, zone),
            self.start,
            self.end,
            _configured("window_hours", DEFAULT_WINDOW_HOURS),
            configured_workers(self.workers),
            query,
        )
        with pipeline.sql_client() as sql, sql.begin_transaction():
            ensure_columns(sql, pipeline.dataset_name)
            stored = warehouse_calls(sql, pipeline.dataset_name, self.start, self.end)
            check_guard(api, stored, self.confirmed)
            found = mark(sql, pipeline.dataset_name, api, stored)
        lines = [
            f"{label}: the API returns {found.api_calls:,} calls, the warehouse holds "
            f"{found.warehouse_calls:,}",
            f"  marked deleted: {found.marked:,}; returned again (un-marked): {found.unmarked:,}; "
            f"still deleted: {found.already_deleted:,}",
        ]
        if found.marked or found.unmarked:
            transform(pipeline, type(destination), full=True)
            lines.append("analytics: rebuilt in full (deleted calls are not in the marts)")
        return ReconcileResult(self.name, tuple(lines))


def _configured(key: str, default: float) -> float:
    value = dlt.config.get(f"sources.hostedsuite.{key}", float)
    return default if value is None else float(value)
