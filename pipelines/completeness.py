"""Completeness check: the API's TotalCount per center and local day against the warehouse.

The API may read a window in each call's local wall time or in UTC (unconfirmed), so a day
counts as complete when the API's count equals the warehouse's count of that center's calls
on that day under either reading. The findings go to ``analytics.completeness``; the "complete
up to" watermark goes to ``analytics.load_health`` (written by ``pipelines.load_health``).

The SQL is the subset every supported destination shares, with values written as literals:
dlt's ``execute_sql`` takes the driver's own placeholders (``?`` for DuckDB, ``%s`` for
psycopg2), so placeholders would tie this module to one destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from dlt.destinations.sql_client import SqlClientBase

from pipelines import sql_literals as lit
from pipelines.hostedsuite.client import HostedSuiteClient, parse_json
from pipelines.hostedsuite.paging import CallsQuery
from pipelines.hostedsuite.settings import CALLS_ROUTE
from pipelines.load_health import Verification
from pipelines.results import DayCount, watermark


def api_day_count(client: HostedSuiteClient, center_id: str, day: date) -> int | None:
    """TotalCount for one center and day; None when the server does not count (stats off)."""
    body = CallsQuery(page_size=1, center_id=center_id).body(
        f"{day.isoformat()}T00:00:00", f"{(day + timedelta(days=1)).isoformat()}T00:00:00", 0
    )
    page = client.post(CALLS_ROUTE, body, f"count {center_id} {day}", parse_json)
    total = int(page.get("TotalCount") or 0)
    if total == 0 and page.get("Items"):
        return None
    return total


def warehouse_counts(
    sql: SqlClientBase[Any], dataset: str, first: date, last: date
) -> dict[tuple[str, date, str], int]:
    """Calls per (center, day, reading) where reading is 'local' or 'utc'."""
    days = f"BETWEEN {lit.day(first)} AND {lit.day(last)}"
    # calls marked deleted upstream (reconcile) are not served any more: not counted
    marked = sql.execute_sql(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
        f"{lit.text(dataset)} AND table_name = 'calls' AND column_name = 'is_deleted'"
    )
    live = "WHERE coalesce(is_deleted, false) = false" if marked and marked[0][0] else ""
    rows = sql.execute_sql(
        f"""
        SELECT center_id, day, reading, count(*) FROM (
            SELECT center_id, CAST(start_time_local AS DATE) AS day, 'local' AS reading
            FROM {dataset}.calls {live}
            UNION ALL
            SELECT center_id, CAST(timezone('UTC', start_time) AS DATE), 'utc'
            FROM {dataset}.calls {live}
        ) AS calls
        WHERE day {days}
        GROUP BY center_id, day, reading
        """
    )
    return {(r[0], r[1], r[2]): int(r[3]) for r in rows or []}


def unknown_center_calls(
    sql: SqlClientBase[Any], dataset: str, center_ids: Sequence[str], first: date, last: date
) -> list[tuple[str, str | None]]:
    """(call id, center id) of the stored calls in [first, last] (local date) whose center is
    not among ``center_ids`` (those /api/centers lists) or is empty: the per-center counts
    above cannot see them, and their times were read in the default zone."""
    listed = ", ".join(lit.text(c) for c in center_ids)
    unlisted = f"center_id NOT IN ({listed})" if listed else "TRUE"
    rows = sql.execute_sql(
        f"""
        SELECT id, center_id FROM {dataset}.calls
        WHERE CAST(start_time_local AS DATE) BETWEEN {lit.day(first)} AND {lit.day(last)}
          AND (coalesce(center_id, '') = '' OR {unlisted})
        ORDER BY start_time, id
        """
    )
    return [(r[0], r[1]) for r in rows or []]


def check_completeness(
    client: HostedSuiteClient,
    sql: SqlClientBase[Any],
    dataset: str,
    center_ids: Sequence[str],
    first: date,
    last: date,
    workers: int,
) -> list[DayCount]:
    """Counts every (center, day) in [first, last] on both sides."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    keys = [(center, day) for center in center_ids for day in days]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        api = list(pool.map(lambda key: api_day_count(client, *key), keys))
    stored = warehouse_counts(sql, dataset, first, last)
    return [
        DayCount(
            center,
            day,
            count,
            stored.get((center, day, "local"), 0),
            stored.get((center, day, "utc"), 0),
        )
        for (center, day), count in zip(keys, api, strict=True)
    ]


def record_results(
    sql: SqlClientBase[Any],
    results: Sequence[DayCount],
    first: date,
    last: date,
    checked_at: datetime,
    primary_key: bool,
) -> None:
    """Replaces the checked range in ``analytics.completeness``; ``primary_key``: keep one on
    ``(center_id, local_date)`` (a lake has no constraints; the DELETE keeps the key unique)."""
    key = ", PRIMARY KEY (center_id, local_date)" if primary_key else ""
    sql.execute_sql("CREATE SCHEMA IF NOT EXISTS analytics")
    sql.execute_sql(
        f"""
        CREATE TABLE IF NOT EXISTS analytics.completeness (
            center_id VARCHAR, local_date DATE, api_count BIGINT, warehouse_count BIGINT,
            status VARCHAR, checked_at TIMESTAMPTZ{key})
        """
    )
    sql.execute_sql(
        "DELETE FROM analytics.completeness "
        f"WHERE local_date BETWEEN {lit.day(first)} AND {lit.day(last)}"
    )
    if results:
        rows = ",\n".join(
            f"({lit.text(r.center_id)}, {lit.day(r.local_date)}, {lit.number(r.api_count)}, "
            f"{r.warehouse_local}, {lit.text(r.status)}, {lit.instant(checked_at)})"
            for r in results
        )
        sql.execute_sql(f"INSERT INTO analytics.completeness VALUES\n{rows}")


def verification(
    results: Sequence[DayCount], first: date, last: date, checked_at: datetime
) -> Verification:
    """What a check of [first, last] found, for ``analytics.load_health``."""
    differing = len({(r.center_id, r.local_date) for r in results if r.status != "ok"})
    return Verification(watermark(results), first, last, differing, checked_at)
