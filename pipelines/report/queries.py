"""The report's SQL over the ``analytics`` marts, behind a small query interface.

Every figure in the report comes from here. The range figures re-aggregate the marts' own count
and sum columns with the formulas of the data dictionary (``transforms/README.md``); nothing
here defines a metric of its own. ``ReportSource`` is all the report needs of a database, so another
destination needs only another implementation of it; DuckDB's (read-only) is the one today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from transforms.refresh import STATE_TABLE, UNFINISHED_REBUILD

Row = dict[str, Any]


class ReportSource(Protocol):
    """What the report needs of a database: run a query, know whether a table exists."""

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        """Runs ``sql``, whose parameters are named ``$name``; rows as dicts."""
        ...

    def has_table(self, schema: str, table: str) -> bool: ...

    def close(self) -> None: ...


class DuckDBSource:
    """A DuckDB file opened read-only (the serving copy, or the warehouse between runs), with
    ``config`` (the run's ``duckdb_session.session_config``: its memory cap)."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.connection = duckdb.connect(str(path), read_only=True, config=config)
        # Instants are rendered and compared in UTC whatever the machine's zone.
        self.connection.execute("SET TimeZone = 'UTC'")

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        # DuckDB refuses named parameters the statement does not use: pass only those it does.
        used = {name: value for name, value in (params or {}).items() if f"${name}" in sql}
        cursor = self.connection.execute(sql, used)
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def has_table(self, schema: str, table: str) -> bool:
        found = self.rows(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = $schema AND table_name = $table",
            {"schema": schema, "table": table},
        )
        return bool(found)

    def close(self) -> None:
        self.connection.close()


def rebuild_unfinished(source: ReportSource) -> bool:
    """Whether the marts are those of a full rebuild that stopped midway (``transform_state``
    says ``refresh.UNFINISHED_REBUILD``): they hold only the slices it committed."""
    if not source.has_table("analytics", STATE_TABLE):
        return False
    state = source.rows(f"SELECT sql_hash FROM analytics.{STATE_TABLE}")
    return any(row["sql_hash"] == UNFINISHED_REBUILD for row in state)


# Range measures from the daily mart's count and sum columns, with the data dictionary's
# formulas (fct_call_metrics_daily): rates ÷ calls_answered, AHT = handle_seconds_total ÷
# calls_answered, service level ÷ the denominator of `service_level_formula`. ASA's numerator
# (Σ ring time of answered calls) is not a mart column: avg × calls_answered gives it back.
# abandon_rate_pct as the marts define it (int_call_metrics_rollup): calls_abandoned ÷
# calls_offered, incoming calls; short abandons count as offered, not abandoned.
ABANDON_RATE = "100 × calls_abandoned ÷ calls_offered (incoming)"
SUMS = """
    sum(calls_offered) AS calls_offered,
    sum(calls_answered) AS calls_answered,
    sum(calls_abandoned) AS calls_abandoned,
    sum(calls_short_abandoned) AS calls_short_abandoned,
    sum(calls_within_service_level) AS calls_within_service_level,
    sum(avg_speed_of_answer_seconds * calls_answered) AS answer_seconds_total,
    sum(handle_seconds_total) AS handle_seconds_total,
    sum(calls_held) AS calls_held,
    sum(calls_transferred) AS calls_transferred,
    sum(calls_repeated) AS calls_repeated
"""
RATIOS = """
    calls_offered, calls_answered, calls_abandoned,
    100.0 * calls_within_service_level / nullif(CASE $formula
        WHEN 'offered' THEN calls_offered
        WHEN 'answered' THEN calls_answered
        ELSE calls_answered + calls_abandoned END, 0) AS service_level_pct,
    answer_seconds_total / nullif(calls_answered, 0) AS asa_seconds,
    handle_seconds_total / nullif(calls_answered, 0) AS aht_seconds,
    100.0 * calls_abandoned / nullif(calls_offered, 0) AS abandon_rate_pct,
    100.0 * calls_held / nullif(calls_answered, 0) AS hold_rate_pct,
    100.0 * calls_transferred / nullif(calls_answered, 0) AS transfer_rate_pct,
    100.0 * calls_repeated / nullif(calls_answered, 0) AS repeat_call_rate_pct
"""
INCOMING = "lower(direction) = 'incoming'"

HEADLINE_SQL = f"""
    WITH sums AS (
        SELECT center_id,
               CASE WHEN local_date >= $start THEN 'current' ELSE 'previous' END AS period,
               {SUMS}
        FROM analytics.fct_call_metrics_daily
        WHERE {INCOMING} AND local_date BETWEEN $previous_start AND $end
        GROUP BY ALL)
    SELECT center_id, period, {RATIOS} FROM sums ORDER BY center_id, period
"""

DAILY_SQL = f"""
    WITH sums AS (
        SELECT center_id, local_date, {SUMS}
        FROM analytics.fct_call_metrics_daily
        WHERE {INCOMING} AND local_date BETWEEN $start AND $end
        GROUP BY ALL)
    SELECT center_id, local_date, {RATIOS} FROM sums ORDER BY center_id, local_date
"""

# Which zone each center's local times are in: the center's, else the one its calls were read
# in (the unknown member's calls use the pipeline's default zone).
ZONES_SQL = """
    SELECT calls.center_id, coalesce(any_value(centers.iana_time_zone),
                                     any_value(calls.time_zone_id), 'UTC') AS zone
    FROM analytics.fct_calls AS calls
    LEFT JOIN analytics.dim_centers AS centers USING (center_id)
    WHERE calls.local_date BETWEEN $start AND $end
    GROUP BY calls.center_id
"""

# A heat-map cell is a weekday × local interval; its average divides the calls by how often
# that wall-clock interval occurred in the range: a calendar fact, counted the way the interval
# mart keys its rows (one local interval at one UTC offset). So the repeated fall-back hour
# occurs twice that day and the skipped spring-forward hour not at all: no invented or lost
# interval. UTC steps of 15 minutes meet every local interval start (zone offsets are whole
# quarter hours).
HEATMAP_SQL = f"""
    WITH zones AS ({ZONES_SQL}),
    instants AS (
        SELECT zones.center_id, utc, timezone(zones.zone, utc) AS local_time
        FROM zones, generate_series(
            ($start::DATE - 2)::TIMESTAMPTZ, ($end::DATE + 3)::TIMESTAMPTZ, INTERVAL 15 MINUTE
        ) AS steps(utc)),
    occurrences AS (
        SELECT center_id, isodow(bucket) AS weekday, strftime(bucket, '%H:%M') AS slot,
               count(DISTINCT (bucket, local_time - timezone('UTC', utc))) AS occurrences
        FROM (SELECT *, time_bucket(to_minutes($minutes), local_time) AS bucket FROM instants)
        WHERE CAST(local_time AS DATE) BETWEEN $start AND $end
        GROUP BY ALL),
    sums AS (
        SELECT center_id, isodow(interval_start_local) AS weekday,
               strftime(interval_start_local, '%H:%M') AS slot, {SUMS}
        FROM analytics.fct_call_metrics_interval
        WHERE {INCOMING} AND local_date BETWEEN $start AND $end
        GROUP BY ALL)
    SELECT o.center_id, o.weekday, o.slot, o.occurrences,
           coalesce(s.calls_offered, 0) / o.occurrences AS avg_calls_offered,
           100.0 * s.calls_within_service_level / nullif(CASE $formula
               WHEN 'offered' THEN s.calls_offered
               WHEN 'answered' THEN s.calls_answered
               ELSE s.calls_answered + s.calls_abandoned END, 0) AS service_level_pct
    FROM occurrences o LEFT JOIN sums s USING (center_id, weekday, slot)
    ORDER BY o.center_id, o.weekday, o.slot
"""

AGENTS_SQL = """
    SELECT agent, center_id, sum(calls_handled) AS calls_handled,
           sum(handle_seconds_total) / nullif(sum(calls_handled), 0) AS aht_seconds,
           100.0 * sum(calls_held) / nullif(sum(calls_handled), 0) AS hold_rate_pct,
           sum(calls_transferred) AS calls_transferred
    FROM analytics.fct_agent_metrics_daily
    WHERE local_date BETWEEN $start AND $end
    GROUP BY ALL
    ORDER BY calls_handled DESC, agent, center_id
"""

ABANDON_BUCKET_SECONDS = 5
ABANDON_CAP_SECONDS = 300  # ring times at or beyond this share the last bar
# fct_calls' flags; a NULL ring time counts as 0, as in every formula of the marts.
ABANDON_SQL = f"""
    SELECT least(floor(coalesce(ring_seconds, 0) / {ABANDON_BUCKET_SECONDS})
                 * {ABANDON_BUCKET_SECONDS}, {ABANDON_CAP_SECONDS})::INTEGER AS ring_from_seconds,
           count(*) FILTER (WHERE is_short_abandon) AS short_abandons,
           count(*) FILTER (WHERE is_abandoned) AS abandons
    FROM analytics.fct_calls
    WHERE (is_abandoned OR is_short_abandon) AND local_date BETWEEN $start AND $end
    GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class Health:
    """What the data-health section shows: freshness, completeness and data quality."""

    load: Row = field(default_factory=dict)
    newest_call_utc: datetime | None = None
    transformed_at: datetime | None = None
    verify_checked_days: int | None = None
    verify_differences: list[Row] = field(default_factory=list)
    checks: list[Row] = field(default_factory=list)  # every check of the last refresh
    quarantined: list[Row] = field(default_factory=list)

    @property
    def findings(self) -> list[Row]:
        """The checks that failed on some rows."""
        return [check for check in self.checks if check["failing_rows"]]


def settings(source: ReportSource) -> dict[str, Row]:
    rows = source.rows(
        "SELECT setting_name, setting_value, unit, description FROM analytics.metric_settings"
    )
    return {row["setting_name"]: row for row in rows}


def centers(source: ReportSource) -> dict[str, Row]:
    rows = source.rows("SELECT center_id, center_name, iana_time_zone FROM analytics.dim_centers")
    return {row["center_id"]: row for row in rows}


def newest_local_date(source: ReportSource) -> date | None:
    value = source.rows("SELECT max(local_date) AS newest FROM analytics.fct_calls")[0]["newest"]
    return value if isinstance(value, date) else None


def oldest_local_date(source: ReportSource) -> date | None:
    value = source.rows("SELECT min(local_date) AS oldest FROM analytics.fct_calls")[0]["oldest"]
    return value if isinstance(value, date) else None


def calls_in_range(source: ReportSource, start: date, end: date) -> int:
    """Calls of any direction in the range (the daily mart's calls_offered)."""
    rows = source.rows(
        "SELECT coalesce(sum(calls_offered), 0) AS calls FROM analytics.fct_call_metrics_daily "
        "WHERE local_date BETWEEN $start AND $end",
        {"start": start, "end": end},
    )
    return int(rows[0]["calls"])


def headline(
    source: ReportSource, start: date, end: date, previous_start: date, formula: str
) -> list[Row]:
    params = {"start": start, "end": end, "previous_start": previous_start, "formula": formula}
    return source.rows(HEADLINE_SQL, params)


def daily(source: ReportSource, start: date, end: date, formula: str) -> list[Row]:
    return source.rows(DAILY_SQL, {"start": start, "end": end, "formula": formula})


def zones(source: ReportSource, start: date, end: date) -> dict[str, str]:
    """The time zone of each center with calls in the range."""
    rows = source.rows(ZONES_SQL, {"start": start, "end": end})
    return {row["center_id"]: row["zone"] for row in rows}


def heatmap(source: ReportSource, start: date, end: date, formula: str, minutes: int) -> list[Row]:
    """The weekday × local interval cells of each center with calls in the range."""
    params = {"start": start, "end": end, "formula": formula, "minutes": minutes}
    return source.rows(HEATMAP_SQL, params)


def agents(source: ReportSource, start: date, end: date) -> list[Row]:
    return source.rows(AGENTS_SQL, {"start": start, "end": end})


def abandonment(source: ReportSource, start: date, end: date) -> list[Row]:
    return source.rows(ABANDON_SQL, {"start": start, "end": end})


def health(source: ReportSource, start: date, end: date) -> Health:
    load = (
        source.rows("SELECT * FROM analytics.load_health LIMIT 1")
        if source.has_table("analytics", "load_health")
        else []
    )
    newest = source.rows("SELECT max(start_time_utc) AS newest FROM analytics.fct_calls")
    state = (
        source.rows("SELECT refreshed_at FROM analytics.transform_state LIMIT 1")
        if source.has_table("analytics", "transform_state")
        else []
    )
    checked, differences = _verify(source, start, end)
    checks = source.rows(
        "SELECT check_name, severity, table_name, failing_rows FROM analytics.dq_summary "
        "ORDER BY severity, check_name"
    )
    quarantined = (
        source.rows(
            "SELECT reason, count(*) AS records FROM hostedsuite.calls_quarantine "
            "GROUP BY reason ORDER BY records DESC, reason"
        )
        if source.has_table("hostedsuite", "calls_quarantine")
        else []
    )
    return Health(
        load=load[0] if load else {},
        newest_call_utc=newest[0]["newest"],
        transformed_at=state[0]["refreshed_at"] if state else None,
        verify_checked_days=checked,
        verify_differences=differences,
        checks=checks,
        quarantined=quarantined,
    )


def _verify(source: ReportSource, start: date, end: date) -> tuple[int | None, list[Row]]:
    """Center-days of the range that ``verify`` checked, and those that differ from the API."""
    if not source.has_table("analytics", "completeness"):
        return None, []
    params = {"start": start, "end": end}
    where = "WHERE local_date BETWEEN $start AND $end"
    checked = source.rows(f"SELECT count(*) AS n FROM analytics.completeness {where}", params)
    differing = source.rows(
        "SELECT center_id, local_date, api_count, warehouse_count, status "
        f"FROM analytics.completeness {where} AND status <> 'ok' ORDER BY local_date, center_id",
        params,
    )
    return int(checked[0]["n"]), differing
