"""Bringing an older serving copy up to date in SQL, by what changed since it was published.

A scheduled run changes a few thousand rows of a warehouse that may hold 10M calls; copying the
whole file to publish them would write gigabytes every five minutes. An older copy that no
analyst holds open is instead attached to the pipeline's own connection and brought level with
the warehouse, table by table:

- the raw calls and their children: the calls whose rows (or children's rows) a load wrote
  after the copy's newest load id are replaced (dlt stamps every merged row with its load's id,
  and load ids only grow);
- dlt's ``_dlt_loads`` and ``_dlt_pipeline_state``: the rows of those later loads;
- the per-call and per-day transform tables: the calls and center-days that every refresh after
  the copy's own replaced (``transforms/scope_log.py``);
- every other table (dimensions, settings, checks, health, dlt's staging): replaced whole;
  each is small, bounded by centers, days or one load.

The changed rows are found by constants that the scans test against their zone maps where the
tables' order allows it (load ids in the load-ordered raw tables, the refreshes' logged time
ranges in the time-ordered per-call tables), so that a scheduled run on 10M calls does not
search all of history for a few hundred calls.

It refuses (and the caller copies the whole file instead) whenever that could be wrong: the two
catalogs differ in any table, column, view, macro, index or sequence; a full rebuild ran since
the copy; the refresh log no longer reaches back to it. After the update, every table must have
as many rows in the copy as in the warehouse, or the transaction rolls back: the update runs
once more with the copy's raw rows searched by id alone (``_held_raw_rows``), and when the
counts still differ the caller copies the file. Each attempt is one transaction on the copy.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pipelines import sql_literals as lit
from pipelines.hostedsuite.settings import CALL_ID_COLUMNS
from pipelines.serving_catalog import (
    Executor,
    catalog,
    current_database,
    differing_counts,
    tables,
)
from transforms.dialect import Dialect
from transforms.project import CALL_TABLES, INTERMEDIATE_SCHEMA, MODELS, has_null_dates
from transforms.scope_log import (
    LOG_CALLS,
    LOG_DAYS,
    LoggedRange,
    LoggedRefresh,
    covers_since,
    logged_ranges,
    newest_refresh,
)

ALIAS: Final = "serving_generation"
_CHANGED_RAW: Final = "temp.main.publish_changed_raw_calls"
_CHANGED_CALLS: Final = "temp.main.publish_changed_calls"
# the changed calls the copy may hold rows of: those a refresh found already in the marts
_OLD_CALLS: Final = "temp.main.publish_old_calls"
_CHANGED_DAYS: Final = "temp.main.publish_changed_days"
# dlt's bookkeeping tables that grow by a row per load: only the later loads' rows are copied
_PER_LOAD: Final = {"_dlt_loads": "load_id", "_dlt_pipeline_state": "_dlt_load_id"}
# A copy's load_health has a column the warehouse's lacks (published_at): it is replaced by the
# warehouse's and stamped again after the update (``load_health.stamp_published``).
RESTAMPED: Final = ("analytics", "load_health")
# Recreated whole (or dropped) as the warehouse has them, and left out of the shape comparison:
# the refresh's scratch tables, which a full rebuild drops and the next refresh creates again,
# and the stamped load_health.
RECREATED: Final = (
    RESTAMPED,
    (INTERMEDIATE_SCHEMA, "affected_calls"),
    (INTERMEDIATE_SCHEMA, "affected_days"),
)


@dataclass(frozen=True)
class Mark:
    """What the warehouse reflected when a copy was published: its newest load id and the last
    refresh of its transforms (None: nothing of either yet)."""

    raw_load_id: str | None
    refresh: LoggedRefresh | None

    def as_json(self) -> dict[str, Any]:
        refresh = self.refresh
        return {
            "raw_load_id": self.raw_load_id,
            "refresh_seq": refresh.seq if refresh else None,
            "refreshed_at": refresh.refreshed_at.isoformat() if refresh else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mark:
        refresh = None
        if data.get("refresh_seq") is not None and data.get("refreshed_at"):
            refresh = LoggedRefresh(
                int(data["refresh_seq"]), datetime.fromisoformat(str(data["refreshed_at"]))
            )
        raw = data.get("raw_load_id")
        return cls(str(raw) if raw is not None else None, refresh)


@dataclass(frozen=True)
class DeltaResult:
    """What an update replaced: the raw calls, and the calls and center-days of the marts."""

    raw_calls: int
    calls: int
    days: int


def mark(execute: Executor, raw_schema: str) -> Mark:
    """The warehouse's mark now (after its checkpoint, under the run lock)."""
    loads = execute.execute_sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        f"AND table_schema = {lit.text(raw_schema)} AND table_name = '_dlt_loads'"
    )
    raw_load_id = None
    if loads and loads[0][0]:
        rows = execute.execute_sql(f'SELECT max(load_id) FROM "{raw_schema}"._dlt_loads')
        raw_load_id = str(rows[0][0]) if rows and rows[0][0] is not None else None
    return Mark(raw_load_id, newest_refresh(execute))


def bring_up_to_date(execute: Executor, raw_schema: str, since: Mark) -> DeltaResult | str:
    """Updates the copy attached as ``ALIAS`` to the warehouse's current rows, in one
    transaction; or returns why it may not (nothing written then)."""
    if since.raw_load_id is None or since.refresh is None:
        return "the copy predates the change log"
    if not covers_since(execute, since.refresh):
        return "a full rebuild since the copy, or the change log no longer reaches it"
    live = current_database(execute)
    ours, theirs = set(catalog(execute, live, RECREATED)), set(catalog(execute, ALIAS, RECREATED))
    if ours != theirs:
        first = min(ours ^ theirs, key=repr)
        what = f"{first[0]} {first[1]}.{first[2]}"
        return f"the warehouse's tables or views changed shape since the copy ({what})"
    _scope_tables(execute, raw_schema, since)
    null_dates = has_null_dates(execute, _CHANGED_DAYS)
    ranges = logged_ranges(execute, since.refresh.seq)
    update = _Update(execute, live, raw_schema, since, null_dates, ranges)
    mismatch = update.apply(_held_raw_rows(execute, raw_schema, live, since))
    if mismatch is not None:
        # a re-loaded call moved out of the range of start times the copy was searched in
        # (``_held_raw_rows``): once more, its rows found by id through all of the copy
        mismatch = update.apply(_held_raw_rows(execute, raw_schema, live, None))
    if mismatch is not None:
        return mismatch
    counts = execute.execute_sql(
        f"SELECT (SELECT count(*) FROM {_CHANGED_RAW}), (SELECT count(*) FROM {_CHANGED_CALLS}), "
        f"(SELECT count(*) FROM {_CHANGED_DAYS})"
    )
    raw_calls, calls, days = counts[0] if counts else (0, 0, 0)
    return DeltaResult(int(raw_calls), int(calls), int(days))


class _Mismatch(Exception):
    pass


@dataclass(frozen=True)
class _Update:
    """The update of every table of the copy, for one search of its raw rows (``held``)."""

    execute: Executor
    live: str
    raw_schema: str
    since: Mark
    null_dates: bool
    ranges: dict[tuple[str, str], LoggedRange]

    def apply(self, held: str | None) -> str | None:
        """One transaction: committed (None), or rolled back when the row counts then differ
        from the warehouse's (why)."""
        execute, live, raw_schema = self.execute, self.live, self.raw_schema
        execute.execute_sql("BEGIN TRANSACTION")
        try:
            _recreate(execute, live)
            for schema, table in tables(execute, live):
                if (schema, table) in RECREATED:
                    continue
                condition = _condition(raw_schema, schema, table, self.since, self.null_dates)
                target = f'{ALIAS}."{schema}"."{table}"'
                source = f'"{live}"."{schema}"."{table}"'
                where = f" WHERE {condition}" if condition else ""
                fresh = _fresh_rows(raw_schema, schema, table, self.since, self.ranges)
                stale = _stale_rows(schema, table, raw_schema, self.ranges, held) or condition
                execute.execute_sql(f"DELETE FROM {target}" + (f" WHERE {stale}" if stale else ""))
                execute.execute_sql(
                    f"INSERT INTO {target} SELECT * FROM {source}{where}"
                    + (f" AND {fresh}" if fresh and condition else "")
                )
            differing = differing_counts(execute, live, ALIAS, RECREATED)
            if differing:
                raise _Mismatch(f"row counts differ after the update in {', '.join(differing[:3])}")
            execute.execute_sql("COMMIT")
        except _Mismatch as exc:
            execute.execute_sql("ROLLBACK")
            return str(exc)
        except BaseException:
            # a failed statement may have ended the transaction already; its error is the one
            # to see
            with contextlib.suppress(Exception):
                execute.execute_sql("ROLLBACK")
            raise
        return None


def _recreate(execute: Executor, live: str) -> None:
    """Makes each ``RECREATED`` table in the copy what it is in the warehouse, or absent."""
    present = set(tables(execute, live))
    for schema, table in RECREATED:
        target = f'{ALIAS}."{schema}"."{table}"'
        if (schema, table) in present:
            execute.execute_sql(f'CREATE SCHEMA IF NOT EXISTS {ALIAS}."{schema}"')
            execute.execute_sql(
                f'CREATE OR REPLACE TABLE {target} AS SELECT * FROM "{live}"."{schema}"."{table}"'
            )
        else:
            execute.execute_sql(f"DROP TABLE IF EXISTS {target}")


def _scope_tables(execute: Executor, raw_schema: str, since: Mark) -> None:
    """The changed raw calls, transformed calls and center-days since ``since``, as temporary
    tables (the connection's own memory: nothing is written to either file)."""
    assert since.raw_load_id is not None and since.refresh is not None
    raw = f'"{raw_schema}"'
    after = lit.text(since.raw_load_id)
    changed = " UNION ".join(
        f"SELECT {'id' if table == 'calls' else 'call_id'} AS call_id FROM {raw}.{table} "
        f"WHERE _dlt_load_id > {after}"
        for table in CALL_TABLES
    )
    seq = since.refresh.seq
    for name, query in (
        (_CHANGED_RAW, changed),
        (_CHANGED_CALLS, f"SELECT DISTINCT call_id FROM {LOG_CALLS} WHERE refresh_seq > {seq}"),
        (
            _OLD_CALLS,
            f"SELECT DISTINCT call_id FROM {LOG_CALLS} "
            f"WHERE refresh_seq > {seq} AND NOT coalesce(is_new, false)",
        ),
        (
            _CHANGED_DAYS,
            f"SELECT DISTINCT center_id, local_date FROM {LOG_DAYS} WHERE refresh_seq > {seq}",
        ),
    ):
        execute.execute_sql(f"CREATE OR REPLACE TEMP TABLE {name.split('.')[-1]} AS {query}")


def _condition(
    raw_schema: str, schema: str, table: str, since: Mark, null_dates: bool
) -> str | None:
    """The rows of ``schema.table`` that may differ from the copy's; None: all of them.
    ``null_dates``: whether a changed center-day has no date (``Dialect.day_keys``)."""
    if schema == raw_schema:
        if table == "calls":
            return f"id IN (SELECT call_id FROM {_CHANGED_RAW})"
        if table in CALL_TABLES:
            return f"call_id IN (SELECT call_id FROM {_CHANGED_RAW})"
        if table in _PER_LOAD:
            return f"{_PER_LOAD[table]} > {lit.text(str(since.raw_load_id))}"
        return None
    for model in MODELS:
        if (model.schema, model.name) == (schema, table) and model.materialization == "table":
            if model.incremental_key == "call":
                return f"call_id IN (SELECT call_id FROM {_CHANGED_CALLS})"
            if model.incremental_key == "day":
                return Dialect("duckdb").day_keys(_CHANGED_DAYS, null_dates)
    return None


def _held_raw_rows(execute: Executor, raw_schema: str, live: str, since: Mark | None) -> str | None:
    """What the copy holds of the changed raw calls, as a condition on a raw call table's rows:
    their load ids, from the oldest of the copy's rows of those calls on (see ``_stale_rows``);
    ``"false"`` when it holds none; None when one has no load id (loaded before the column).

    The copy's rows are searched between the earliest and the latest start time of the
    warehouse's rows written since the copy, as constants its scan tests against the zone maps:
    a call re-read is the call it was, at the same start time, and a search by id alone read
    every call of history (0.2 s at 10M calls). A call whose start time did move leaves its
    row in the copy undeleted; the row counts then differ after the update, which rolls back,
    and the update runs again with this search by id alone (``since`` None)."""
    within = ""
    if since is not None:
        bounds = execute.execute_sql(
            f'SELECT min(start_time), max(start_time) FROM "{live}"."{raw_schema}".calls '
            f"WHERE _dlt_load_id > {lit.text(str(since.raw_load_id))}"
        )
        first, last = bounds[0] if bounds else (None, None)
        if first is None:
            return "false"  # no call row written since the copy: none of the copy's to replace
        within = f"start_time BETWEEN {lit.instant(first)} AND {lit.instant(last)} AND "
    rows = execute.execute_sql(
        f"SELECT min(_dlt_load_id), count(*), count(*) - count(_dlt_load_id) "
        f'FROM {ALIAS}."{raw_schema}".calls '
        f"WHERE {within}id IN (SELECT call_id FROM {_CHANGED_RAW})"
    )
    oldest, held, unstamped = rows[0] if rows else (None, 0, 0)
    if unstamped:
        return None
    return f"_dlt_load_id >= {lit.text(str(oldest))}" if held else "false"


def _stale_rows(
    schema: str,
    table: str,
    raw_schema: str,
    ranges: dict[tuple[str, str], LoggedRange],
    held: str | None = None,
) -> str | None:
    """The copy's rows of a per-call table to delete, where narrower than ``_condition``: a call
    that a refresh since the copy found new to the marts has no rows in the copy (the copy was
    the warehouse then) unless a later refresh found it already there, which lists it again.
    Most scheduled runs only add calls: their copies' deletes then search nothing. Those rows
    of the others are the ones the first refresh since the copy to rebuild each call deleted in
    the warehouse: within the range the log holds of what the refreshes since deleted.

    In the raw call tables, the changed calls' rows from the copy's oldest row of them on
    (``held``): they are in load order, so the scan skips the older row groups by their zone
    maps, and a call's children carry its row's load id (a load writes them together). A row
    this leaves behind (children without a call row) makes the row counts differ after the
    update, which then rolls back (see the module's docstring). None: use ``_condition``."""
    if schema == raw_schema and table in CALL_TABLES and held is not None:
        key = CALL_ID_COLUMNS[table]
        return f"{held} AND {key} IN (SELECT call_id FROM {_CHANGED_RAW})"
    for model in MODELS:
        if (model.schema, model.name) == (schema, table) and model.incremental_key == "call":
            old = f"call_id IN (SELECT call_id FROM {_OLD_CALLS})"
            where = _within(ranges.get((f"{schema}.{table}", "deleted")))
            return f"{where} AND {old}" if where else old
    return None


def _within(logged: LoggedRange | None) -> str | None:
    """The rows of a logged range as a condition on its column; None: not logged."""
    if logged is None:
        return None
    if logged.first is None:
        return "false"  # no rows
    column = logged.column
    within = f"{column} BETWEEN {lit.instant(logged.first)} AND {lit.instant(logged.last)}"
    return f"({within} OR {column} IS NULL)" if logged.has_nulls else within


def _fresh_rows(
    raw_schema: str,
    schema: str,
    table: str,
    since: Mark,
    ranges: dict[tuple[str, str], LoggedRange],
) -> str | None:
    """What the warehouse's rows of ``_condition`` also meet, and the scan can test from its zone
    maps: a raw call table is in load order, and a load that changes a call writes the call's
    row and all of its children again with its own load id (the merge replaces them together);
    a per-call table's rows of the changed calls were written by the refreshes since the copy,
    whose range of its zone column the log holds (``scope_log.logged_ranges``). The id search then
    runs on the last loads' or days' row groups, not on all of history. Were a row ever left
    behind, the row counts would differ after the update and it would roll back."""
    if schema == raw_schema and table in CALL_TABLES:
        return f"_dlt_load_id > {lit.text(str(since.raw_load_id))}"
    return _within(ranges.get((f"{schema}.{table}", "written")))
