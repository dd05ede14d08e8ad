"""The incremental refresh: replaces, in every table, the rows of the calls and center-days the
loads since the watermark could have changed (scope in ``transforms/incremental``). PostgreSQL
restricts the views themselves for the refresh; DuckDB and DuckLake read the scope from the
connection's temporary objects (see ``build_incremental_in_temp``). Whether a refresh may be
incremental, and from which watermark, is ``refresh.py``'s.
"""

from __future__ import annotations

from typing import Any, Final

from .dialect import Dialect, fill_helpers
from .materialize import (
    create_model,
    create_scope_copy,
    create_views,
    drop_scope_copies,
    execute_statements,
    scope_view_names,
)
from .project import (
    ANALYTICS_SCHEMA,
    GRAIN_KEYS,
    INTERMEDIATE_SCHEMA,
    MODELS,
    STAGING_SCHEMA,
    IncrementalKey,
    Model,
    SqlExecutor,
    affected_keys,
    fill_template,
    has_null_dates,
    incremental_sql,
    literal,
    model_sql,
    number_literal,
    renamed,
    render,
    replaced_keys,
    scalar,
    sql_body,
)
from .result import TransformResult
from .scope_log import ZONE_COLUMNS
from .scope_ranges import FAR_TIMED, far_timed_calls, raw_load_floor, replaced_parts
from .settings import MetricSettings


def build_incremental(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    result: TransformResult,
    sql: Dialect,
) -> None:
    """Replaces, in every table, the rows of the calls and center-days the loads since
    ``watermark`` could have changed; the views end up unrestricted again."""
    views = [m for m in MODELS if m.materialization == "view"]
    # The scope is computed from the unrestricted staging views (their columns may be new).
    create_views(execute, views, raw, columns, sql, incremental=False)
    # by id: no retry here if a search by range missed a moved call (see runner.py)
    _create_scope_tables(execute, raw, settings, watermark, sql, old_rows_by_range=False)
    create_views(execute, views, raw, columns, sql, incremental=True)
    _replace_affected_rows(execute, raw, columns, sql)
    create_views(execute, views, raw, columns, sql, incremental=False)
    _count_affected(execute, result)


def refresh_without_new_calls(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    sql: Dialect,
) -> dict[str, str]:
    """The refresh when the loads since ``watermark`` wrote no row into the raw call tables (a
    quiet five minutes: nothing new, and every re-read call as stored): no call and no
    center-day is in scope, so the per-call and per-day tables keep their rows, and only the
    whole-table models (the dimensions; the centers and clients are merged on every run) are
    rebuilt. The scope tables and, on DuckDB, the kept new rows (``build_incremental_in_temp``)
    are created empty, for the checks and the refresh log.

    Why not the usual refresh with an empty scope: its searches by a range of start times get
    NULL bounds, which skip nothing. At 10M calls such a run took 7.4 s, one with ten new calls
    3.5 s (measured 2026-12-07)."""
    _create_scope_tables(execute, raw, settings, watermark, sql, False, empty=True)
    kept: dict[str, str] = {}
    if sql.is_duckdb:
        kept = _kept_tables()
        for table, name in kept.items():
            _create_empty_copy(execute, name, table)
    for model in MODELS:
        if model.materialization == "table" and model.incremental_key == "full":
            create_model(
                execute, model, render(model_sql(model), raw, columns, True, sql.name), sql
            )
    return kept


def _create_scope_tables(
    execute: SqlExecutor,
    raw: str,
    settings: MetricSettings,
    watermark: str,
    sql: Dialect,
    old_rows_by_range: bool,
    empty: bool = False,
) -> None:
    """``intermediate.affected_calls`` (the loads since ``watermark``, with their repeat-call
    neighbours) and ``affected_days``: where the rebuilt calls were; where they are now is added
    once fct_calls is replaced. ``old_rows_by_range``: the changed calls' rows in fct_calls are
    searched for within the range of their new start times (else by id; see affected_calls).
    ``empty``: the two tables with their columns and no rows, and nothing searched."""
    scope = {
        "raw": raw,
        "watermark": literal(watermark),
        "repeat_window_seconds": number_literal(settings.repeat_call_window_hours * 3600),
        "old_rows_by_range": str(old_rows_by_range).lower(),
    }
    affected = sql_body(
        fill_helpers(fill_template(incremental_sql("affected_calls"), scope), sql.name)
    )
    days = sql_body(incremental_sql("affected_days"))
    if empty:
        # a constant false filter: both planners drop the query beneath it unread
        affected = f"SELECT * FROM (\n{affected}\n) AS scope WHERE false"
        days = f"SELECT * FROM (\n{days}\n) AS scope WHERE false"
    execute_statements(
        execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_calls", affected)
    )
    execute_statements(
        execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_days", days)
    )


def _replace_affected_rows(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    sql: Dialect,
    views: dict[str, str] | None = None,
    kept: dict[str, str] | None = None,
    deleted: dict[str, list[Any]] | None = None,
    far_timed: bool = False,
) -> None:
    """Deletes and re-inserts every table's affected rows; ``views``: the restricted views'
    names in place of the models' own (see ``materialize.scope_view_names``); ``kept``: where
    the per-call and per-day tables' new rows are kept (see ``scope_tables``); ``deleted``:
    filled with the ``ZONE_COLUMNS`` values of the rows deleted from each table that has one;
    ``far_timed``: ``FAR_TIMED`` is there (see ``replaced_parts``)."""
    days = sql_body(incremental_sql("affected_days"))
    days_added = False
    null_dates = True
    for model in MODELS:
        if model.materialization == "view":
            continue
        # every "day" table reads fct_calls, which MODELS builds before them
        if model.incremental_key == "day" and not days_added:
            execute.execute_sql(f"INSERT INTO {INTERMEDIATE_SCHEMA}.affected_days\n{days}")
            days_added = True
            null_dates = has_null_dates(execute, f"{INTERMEDIATE_SCHEMA}.affected_days")
        rendered = render(model_sql(model), raw, columns, True, sql.name, null_dates)
        rendered = renamed(rendered, views or {})
        if model.incremental_key == "full":
            create_model(execute, model, rendered, sql)
            continue
        table = f"{model.schema}.{model.name}"
        zone = ZONE_COLUMNS.get(table) if deleted is not None else None
        values = _replace_keys(
            execute, model, rendered, sql, (kept or {}).get(table), null_dates, zone, far_timed
        )
        if deleted is not None and zone is not None:
            deleted[table] = values


def _count_affected(execute: SqlExecutor, result: TransformResult) -> None:
    counted = execute.execute_sql(
        "SELECT sum(CASE WHEN is_rebuilt THEN 1 ELSE 0 END), "
        "sum(CASE WHEN is_rebuilt THEN 0 ELSE 1 END), "
        "(SELECT count(*) FROM (SELECT DISTINCT center_id, local_date "
        f"FROM {INTERMEDIATE_SCHEMA}.affected_days) AS days) "
        f"FROM {INTERMEDIATE_SCHEMA}.affected_calls"
    )
    if counted:
        rebuilt, read_only, days_rebuilt = counted[0]
        result.calls_rebuilt = int(rebuilt or 0)
        result.calls_read_only = int(read_only or 0)
        result.days_rebuilt = int(days_rebuilt or 0)


def _replace_keys(
    execute: SqlExecutor,
    model: Model,
    rendered: str,
    sql: Dialect,
    kept: str | None = None,
    null_dates: bool = True,
    zone: str | None = None,
    far_timed: bool = False,
) -> list[Any]:
    """Deletes the table's rows of the affected keys and inserts the model's rows for them;
    ``kept``: a temporary table that holds those new rows afterwards; ``null_dates``: whether
    the affected days may hold a NULL date (see ``Dialect.day_keys``); ``zone``: a column whose
    values in the deleted rows are returned (DuckDB's ``RETURNING``); ``far_timed``: the
    refresh has ``FAR_TIMED`` (see ``replaced_parts``)."""
    key: IncrementalKey = model.incremental_key
    keys = affected_keys(key, sql.name, null_dates)
    replaced = replaced_keys(key, sql.name, null_dates)
    table = f"{model.schema}.{model.name}"
    # the same filter on both (new calls have no rows to delete): what is deleted is exactly
    # what the model may insert again
    rows = f"SELECT * FROM (\n{sql_body(rendered)}\n) AS model WHERE {keys}"
    if kept is not None:
        execute.execute_sql(f"CREATE OR REPLACE TEMP TABLE {kept} AS\n{rows}")
        rows = f"SELECT * FROM {kept}"
    returning = f" RETURNING {zone}" if zone else ""
    old: list[Any] = []
    parts = replaced_parts(table, keys, replaced, far_timed) if key == "call" else (replaced,)
    for condition in parts:
        old += execute.execute_sql(f"DELETE FROM {table} WHERE {condition}{returning}") or []
    execute.execute_sql(f"{sql.insert_by_name(table)}\n{rows}")
    return [row[0] for row in old] if zone else []


# The deleted rows' zone values come back to Python (``DELETE ... RETURNING``): a few thousand
# in a scheduled run, millions in a refresh after a backfill that changed a year of calls. Past
# this many calls the refresh logs no range of what it deleted, and the serving copy's next update
# searches its old rows by call id instead.
DELETES_LOGGED_UP_TO_CALLS: Final = 20_000


# --- DuckDB and DuckLake: the scope in the connection's temporary objects --------------------
# On DuckDB the restricted inputs are the connection's temporary objects, and the persistent
# views are not touched: the plan is incremental only when the SQL hash, which covers their
# rendered text, is unchanged, so they already are what they would be. Two reasons:
# - cost: the staging models are temporary *tables*, so the raw tables (10M calls, 30M
#   interactions a year and a half in) are searched for the scope's calls once per refresh, not
#   once per model that reads them; the per-call and per-day tables' new rows are kept in
#   temporary tables too, where their checks read them (``checks.run_checks``) instead of
#   searching the marts again.
# - DuckLake (duckdb 1.4.4, ducklake extension 1.4.4.20260205) loses sight, until the commit, of
#   the entries created or replaced in a transaction between two writes of another entry:
#   "create or replace view a; create table b; create or replace view a" then fails on "b does
#   not exist" (tests/destinations/test_ducklake_transforms.py), so it must not replace a view
#   three times as the PostgreSQL path above does.


def build_incremental_in_temp(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    result: TransformResult,
    sql: Dialect,
    deleted: dict[str, list[Any]] | None = None,
    old_rows_by_range: bool = True,
) -> dict[str, str]:
    """``build_incremental`` with the scope in temporary objects (see above); returns the
    temporary copies of the new rows (``schema.table`` -> name) of the per-call and per-day
    tables the checks read (``scope_tables``) and of those the refresh log takes a range of
    (``scope_log.ZONE_COLUMNS``); ``deleted``: filled as ``_replace_affected_rows`` says;
    ``old_rows_by_range``: as ``_create_scope_tables`` says. A search by range can miss the
    old row of a call whose start time moved: ``missed_old_rows`` tells afterwards."""
    kept = _kept_tables()
    # The models that read the hold segments read the rebuilt calls' new ones, which the refresh
    # keeps (the segments of the calls only read for the repeat window reach no table), instead
    # of searching 3.8M segments by call id at 10M calls. Created empty first: the temporary
    # views that read it are bound now; its rows come with the table's own refresh.
    views = scope_view_names() | {HOLD_SEGMENTS: kept[HOLD_SEGMENTS]}
    _create_empty_copy(execute, kept[HOLD_SEGMENTS], HOLD_SEGMENTS)
    _create_scope_tables(execute, raw, settings, watermark, sql, old_rows_by_range)
    # before any delete: from the interactions as the marts hold them
    execute.execute_sql(f"CREATE OR REPLACE TEMP TABLE {FAR_TIMED} AS\n{far_timed_calls()}")
    floor = raw_load_floor(execute, raw, watermark)
    for model in MODELS:
        if model.materialization == "view":
            # the staging models read the raw tables, the other views read staging
            on_raw = floor if model.schema == STAGING_SCHEMA else None
            rendered = render(model_sql(model), raw, columns, True, sql.name, load_floor=on_raw)
            rendered = renamed(rendered, views)
            name = views[f"{model.schema}.{model.name}"]
            create_scope_copy(execute, model, name, sql_body(rendered))
    if deleted is not None and _old_calls(execute) > DELETES_LOGGED_UP_TO_CALLS:
        deleted = None  # a large refresh: the copy's update searches by id (see the constant)
    _replace_affected_rows(execute, raw, columns, sql, views, kept, deleted, far_timed=True)
    _count_affected(execute, result)
    # the scope's copies are read by the models only (the checks read the kept new rows); a
    # rebuild in slices later on this connection gives their names to views
    drop_scope_copies(execute)
    execute.execute_sql(f"DROP TABLE {FAR_TIMED}")
    return kept


def missed_old_rows(execute: SqlExecutor) -> bool:
    """Whether fct_calls, after a refresh, holds another number of rows than the calls staging
    has (one row per call in both): what a refresh that left a changed call's old row in place
    shows. Both counts together took under 5 ms in a scheduled run at 10M calls (each
    statement of a run timed by hand); staging's reads one column, the deleted flag."""
    return bool(
        scalar(
            execute,
            f"SELECT CASE WHEN (SELECT count(*) FROM {ANALYTICS_SCHEMA}.fct_calls) "
            f"= (SELECT count(*) FROM {STAGING_SCHEMA}.stg_calls) THEN 0 ELSE 1 END",
        )
    )


def scope_tables() -> dict[str, str]:
    """``schema.table`` of each per-call and per-day table the checks read (the analytics
    tables of ``GRAIN_KEYS``) -> the temporary table of its new rows."""
    return {
        f"{m.schema}.{m.name}": _kept_name(f"{m.schema}.{m.name}")
        for m in MODELS
        if m.name in GRAIN_KEYS and m.incremental_key in ("call", "day")
    }


def _old_calls(execute: SqlExecutor) -> int:
    """How many of the rebuilt calls the per-call tables already hold rows of."""
    return scalar(
        execute,
        f"SELECT count(*) FROM {INTERMEDIATE_SCHEMA}.affected_calls "
        "WHERE is_rebuilt AND NOT is_new",
    )


# The intermediate per-call table that later per-call models read.
HOLD_SEGMENTS: Final = f"{INTERMEDIATE_SCHEMA}.int_hold_segments"


def _kept_name(table: str) -> str:
    return f"temp.main.new_rows_{table.replace('.', '_')}"


def _kept_tables() -> dict[str, str]:
    """Where DuckDB's refresh keeps the new rows: of the tables the checks read
    (``scope_tables``) and of those the refresh log takes a range of (``ZONE_COLUMNS``)."""
    return scope_tables() | {table: _kept_name(table) for table in ZONE_COLUMNS}


def _create_empty_copy(execute: SqlExecutor, name: str, table: str) -> None:
    """The temporary table ``name`` with ``table``'s columns and no rows."""
    execute.execute_sql(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {table} WHERE false")
