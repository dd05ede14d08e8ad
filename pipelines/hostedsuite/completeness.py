"""Completeness check: the API's TotalCount per center and local day against the warehouse.

The API may read a window in each call's local wall time or in UTC (unconfirmed), so a day
counts as complete when the API's count equals the warehouse's count of that center's calls
on that day under either reading. The findings go to ``analytics.completeness`` and a
one-row ``analytics.load_health`` with the "complete up to" watermark.

The SQL is the subset every supported destination shares, with values written as literals:
dlt's ``execute_sql`` takes the driver's own placeholders (``?`` for DuckDB, ``%s`` for
psycopg2), so placeholders would tie this module to one destination.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dlt.destinations.impl.ducklake.sql_client import DuckLakeSqlClient
from dlt.destinations.sql_client import SqlClientBase

from .client import HostedSuiteClient, parse_json
from .paging import CallsQuery
from .settings import CALLS_ROUTE


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
    days = f"BETWEEN {_date(first)} AND {_date(last)}"
    rows = sql.execute_sql(
        f"""
        SELECT center_id, day, reading, count(*) FROM (
            SELECT center_id, CAST(start_time_local AS DATE) AS day, 'local' AS reading
            FROM {dataset}.calls
            UNION ALL
            SELECT center_id, CAST(timezone('UTC', start_time) AS DATE), 'utc'
            FROM {dataset}.calls
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
    listed = ", ".join(_text(c) for c in center_ids)
    unlisted = f"center_id NOT IN ({listed})" if listed else "TRUE"
    rows = sql.execute_sql(
        f"""
        SELECT id, center_id FROM {dataset}.calls
        WHERE CAST(start_time_local AS DATE) BETWEEN {_date(first)} AND {_date(last)}
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


def record_results(
    sql: SqlClientBase[Any],
    results: Sequence[DayCount],
    first: date,
    last: date,
    health: dict[str, Any],
    checked_at: datetime,
) -> None:
    """Replaces the checked range in analytics.completeness and rewrites load_health."""
    sql.execute_sql("CREATE SCHEMA IF NOT EXISTS analytics")
    # DuckLake has no constraints (the DELETE below keeps the key unique there too), and each
    # statement outside a transaction is a snapshot of its own: one transaction for the lake.
    lake = isinstance(sql, DuckLakeSqlClient)
    key = "" if lake else ", PRIMARY KEY (center_id, local_date)"
    with sql.begin_transaction() if lake else contextlib.nullcontext():
        _record(sql, results, first, last, health, checked_at, key)


def _record(
    sql: SqlClientBase[Any],
    results: Sequence[DayCount],
    first: date,
    last: date,
    health: dict[str, Any],
    checked_at: datetime,
    key: str,
) -> None:
    sql.execute_sql(
        f"""
        CREATE TABLE IF NOT EXISTS analytics.completeness (
            center_id VARCHAR, local_date DATE, api_count BIGINT, warehouse_count BIGINT,
            status VARCHAR, checked_at TIMESTAMPTZ{key})
        """
    )
    sql.execute_sql(
        "DELETE FROM analytics.completeness "
        f"WHERE local_date BETWEEN {_date(first)} AND {_date(last)}"
    )
    if results:
        rows = ",\n".join(
            f"({_text(r.center_id)}, {_date(r.local_date)}, {_number(r.api_count)}, "
            f"{r.warehouse_local}, {_text(r.status)}, {_instant(checked_at)})"
            for r in results
        )
        sql.execute_sql(f"INSERT INTO analytics.completeness VALUES\n{rows}")
    differing = len({(r.center_id, r.local_date) for r in results if r.status != "ok"})
    verified = watermark(results)
    sql.execute_sql("DROP TABLE IF EXISTS analytics.load_health")
    sql.execute_sql(
        f"""
        CREATE TABLE analytics.load_health AS SELECT
            CAST({_text(health["pipeline_name"])} AS VARCHAR) AS pipeline_name,
            {_instant(health["last_successful_load_at"])} AS last_successful_load_at,
            {_instant(health["newest_call_start"])} AS newest_call_start,
            {_instant(health["complete_through"])} AS cursor_complete_through,
            {_date(verified)} AS verified_complete_through,
            {_date(first)} AS checked_from,
            {_date(last)} AS checked_to,
            CAST({differing} AS BIGINT) AS days_with_differences,
            {_instant(checked_at)} AS checked_at
        """
    )


def _text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _date(value: date | None) -> str:
    return "CAST(NULL AS DATE)" if value is None else f"DATE '{value.isoformat()}'"


def _number(value: int | None) -> str:
    return "CAST(NULL AS BIGINT)" if value is None else str(int(value))


def _instant(value: datetime | str | None) -> str:
    """A TIMESTAMPTZ literal from a datetime or an ISO 8601 string (the dlt state's)."""
    if value is None:
        return "CAST(NULL AS TIMESTAMPTZ)"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"CAST({_text(text)} AS TIMESTAMPTZ)"
