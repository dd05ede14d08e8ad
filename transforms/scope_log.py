"""The change log of the refreshes: which calls and center-days each refresh replaced.

A refresh rewrites only the rows of its scope (``intermediate.affected_calls`` and
``affected_days``), and the next refresh overwrites those scope tables. Whoever keeps a copy of
the marts in step with the warehouse (the DuckDB serving copy: ``pipelines/serving_delta.py``)
needs the union of the scopes of every refresh since the copy was made, so each refresh appends
its scope here, numbered, in its own transaction. A full rebuild is logged as such: everything
may have changed. The reader prunes what no copy needs any more (``prune``).

Four small tables in ``intermediate`` (DuckDB only; no personal data, ids, days and times alone):

- ``refresh_log``: ``refresh_seq`` (1, 2, ... in commit order), ``is_full``, ``refreshed_at``;
- ``refresh_log_calls``: ``refresh_seq``, ``call_id`` (the calls whose per-call rows it replaced),
  ``is_new`` (the per-call tables held no rows of the call before: none to delete);
- ``refresh_log_days``: ``refresh_seq``, ``center_id``, ``local_date`` (the center-days whose
  rows it replaced, a NULL field matching NULL as in ``Dialect.day_keys``);
- ``refresh_log_ranges``: ``refresh_seq``, ``table_name``, ``kind`` and, over the rows it wrote
  into that per-call table (``kind`` 'written') or deleted from it ('deleted'), the first and
  last value of the table's ``ZONE_COLUMNS`` column, the rows and the rows where it is NULL. The
  rows of the logged calls are then found by a constant range the scan tests against its zone
  maps (the tables are in time order: a rebuild writes them so, a refresh appends), not by
  searching every call id: in the warehouse, the rows the refreshes since a copy wrote; in the
  copy, the rows the first of them to rebuild each call deleted, which were the copy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .project import INTERMEDIATE_SCHEMA, SqlExecutor

LOG_TABLE: Final = f"{INTERMEDIATE_SCHEMA}.refresh_log"
LOG_CALLS: Final = f"{INTERMEDIATE_SCHEMA}.refresh_log_calls"
LOG_DAYS: Final = f"{INTERMEDIATE_SCHEMA}.refresh_log_days"
LOG_RANGES: Final = f"{INTERMEDIATE_SCHEMA}.refresh_log_ranges"

# The per-call tables whose written and deleted rows each refresh logs a range of, by this column
# (a time near the call's start). A per-call table not listed is searched by call id.
ZONE_COLUMNS: Final = {
    "intermediate.int_hold_segments": "hold_started_at_utc",
    "analytics.fct_calls": "start_time_utc",
    "analytics.fct_call_interactions": "started_at_utc",
    "analytics.fct_hold_segments": "hold_started_at_utc",
}

_CREATE: Final = (
    f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} "
    "(refresh_seq BIGINT NOT NULL, is_full BOOLEAN NOT NULL, refreshed_at TIMESTAMP NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {LOG_CALLS} (refresh_seq BIGINT NOT NULL, call_id VARCHAR)",
    # added after the log's first release: a call logged before it counts as not new
    f"ALTER TABLE {LOG_CALLS} ADD COLUMN IF NOT EXISTS is_new BOOLEAN DEFAULT false",
    f"CREATE TABLE IF NOT EXISTS {LOG_DAYS} "
    "(refresh_seq BIGINT NOT NULL, center_id VARCHAR, local_date DATE)",
    f"CREATE TABLE IF NOT EXISTS {LOG_RANGES} (refresh_seq BIGINT NOT NULL, "
    "table_name VARCHAR NOT NULL, kind VARCHAR NOT NULL, first_value TIMESTAMPTZ, "
    "last_value TIMESTAMPTZ, row_count BIGINT NOT NULL, null_rows BIGINT NOT NULL)",
)


@dataclass(frozen=True)
class LoggedRange:
    """Where, in a per-call table, the rows the refreshes since a copy wrote (or deleted) are:
    between two values of its ``ZONE_COLUMNS`` column, or NULL there (``has_nulls``); ``first``
    None: there were none."""

    column: str
    first: datetime | None
    last: datetime | None
    has_nulls: bool


@dataclass(frozen=True)
class LoggedRefresh:
    """One refresh in the log: its number and when it committed (together, an identity that a
    log dropped and started again cannot repeat)."""

    seq: int
    refreshed_at: datetime


def record_refresh(
    execute: SqlExecutor,
    full: bool,
    written: dict[str, str] | None = None,
    deleted: dict[str, list[Any]] | None = None,
) -> None:
    """Appends this refresh to the log, inside the refresh's transaction: its scope (the
    incremental build's scope tables) or, for a full rebuild, the mark that everything changed.
    For ``ZONE_COLUMNS``' ranges (a table without one is left out of the log): ``written``,
    ``schema.table`` -> the temporary table of the rows the refresh wrote into it; ``deleted``,
    ``schema.table`` -> that column's values in the rows it deleted."""
    for statement in _CREATE:
        execute.execute_sql(statement)
    rows = execute.execute_sql(f"SELECT coalesce(max(refresh_seq), 0) + 1 FROM {LOG_TABLE}")
    seq = int(rows[0][0]) if rows else 1
    execute.execute_sql(
        f"INSERT INTO {LOG_TABLE} VALUES ({seq}, {str(full).lower()}, now()::TIMESTAMP)"
    )
    if full:
        return
    execute.execute_sql(
        f"INSERT INTO {LOG_CALLS} (refresh_seq, call_id, is_new) SELECT DISTINCT {seq}, call_id, "
        f"is_new FROM {INTERMEDIATE_SCHEMA}.affected_calls WHERE is_rebuilt"
    )
    execute.execute_sql(
        f"INSERT INTO {LOG_DAYS} SELECT DISTINCT {seq}, center_id, local_date "
        f"FROM {INTERMEDIATE_SCHEMA}.affected_days"
    )
    for table, column in ZONE_COLUMNS.items():
        if table in (written or {}):
            execute.execute_sql(
                f"INSERT INTO {LOG_RANGES} SELECT {seq}, '{table}', 'written', min({column}), "
                f"max({column}), count(*), count(*) - count({column}) FROM {(written or {})[table]}"
            )
        if table in (deleted or {}):
            values = (deleted or {})[table]
            present = [v for v in values if v is not None]
            first, last = (
                (_instant(min(present)), _instant(max(present))) if present else ("NULL", "NULL")
            )
            execute.execute_sql(
                f"INSERT INTO {LOG_RANGES} VALUES ({seq}, '{table}', 'deleted', {first}, {last}, "
                f"{len(values)}, {len(values) - len(present)})"
            )


def logged_ranges(execute: SqlExecutor, since: int) -> dict[tuple[str, str], LoggedRange]:
    """``(table, kind)`` -> where the rows the refreshes after ``since`` wrote into ``table``
    (``kind`` 'written') or deleted from it ('deleted') are. A table and kind that one of those
    refreshes did not log (the refresh predates the ranges, or logged no deletes) is absent."""
    if not _log_exists(execute, LOG_RANGES):
        return {}
    rows = execute.execute_sql(
        f"SELECT table_name, kind, count(*), min(first_value), max(last_value), "
        f"coalesce(sum(null_rows), 0), "
        f"(SELECT count(*) FROM {LOG_TABLE} WHERE refresh_seq > {since}) "
        f"FROM {LOG_RANGES} WHERE refresh_seq > {since} GROUP BY table_name, kind"
    )
    return {
        (str(table), str(kind)): LoggedRange(ZONE_COLUMNS[str(table)], first, last, bool(nulls))
        for table, kind, logged, first, last, nulls, refreshes in rows or []
        if logged == refreshes and str(table) in ZONE_COLUMNS
    }


def _instant(value: datetime) -> str:
    return f"CAST('{value.isoformat()}' AS TIMESTAMPTZ)"


def newest_refresh(execute: SqlExecutor) -> LoggedRefresh | None:
    """The last refresh logged, or None when the log is absent or empty."""
    if not _log_exists(execute):
        return None
    rows = execute.execute_sql(
        f"SELECT refresh_seq, refreshed_at FROM {LOG_TABLE} ORDER BY refresh_seq DESC LIMIT 1"
    )
    return LoggedRefresh(int(rows[0][0]), rows[0][1]) if rows else None


def covers_since(execute: SqlExecutor, since: LoggedRefresh) -> bool:
    """Whether the log still holds ``since`` itself (so it was neither pruned nor dropped and
    started again) and no full rebuild after it: then the union of the scopes after it is
    everything the refreshes changed since."""
    if not _log_exists(execute):
        return False
    rows = execute.execute_sql(
        f"SELECT count(*) FILTER (WHERE refresh_seq = {since.seq} "
        f"AND refreshed_at = '{since.refreshed_at.isoformat(sep=' ')}'::TIMESTAMP), "
        f"count(*) FILTER (WHERE refresh_seq > {since.seq} AND is_full) FROM {LOG_TABLE}"
    )
    return rows is not None and len(rows) == 1 and tuple(rows[0]) == (1, 0)


def prune(execute: SqlExecutor, keep_from: int | None) -> None:
    """Deletes the log's entries before refresh ``keep_from`` (None: every entry but the
    newest refresh's own line, which numbering goes on from)."""
    if not _log_exists(execute):
        return
    if keep_from is None:
        rows = execute.execute_sql(f"SELECT max(refresh_seq) FROM {LOG_TABLE}")
        newest = rows[0][0] if rows else None
        keep_from = int(newest) + 1 if newest is not None else 0
        execute.execute_sql(f"DELETE FROM {LOG_TABLE} WHERE refresh_seq < {keep_from - 1}")
    else:
        execute.execute_sql(f"DELETE FROM {LOG_TABLE} WHERE refresh_seq < {keep_from}")
    for table in (LOG_CALLS, LOG_DAYS, LOG_RANGES):
        # a log older than the ranges gets them with its next refresh
        if table != LOG_RANGES or _log_exists(execute, LOG_RANGES):
            execute.execute_sql(f"DELETE FROM {table} WHERE refresh_seq < {keep_from}")


def _log_exists(execute: SqlExecutor, table: str = LOG_TABLE) -> bool:
    schema, name = table.split(".")
    rows = execute.execute_sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
        f"'{schema}' AND table_name = '{name}' AND table_catalog = current_database()"
    )
    return rows is not None and len(rows) == 1 and rows[0][0] == 1
