"""A small ordered runner for the SQL models and data-quality checks: ``run_transforms``.

Why not dbt: the whole transform layer is ~20 SQL files over one database. A fixed list run
through the pipeline's own ``sql_client`` needs no extra dependency, no project compilation or
startup cost, reuses the single DuckDB connection dlt already holds (DuckDB allows one writer
process), and lets the whole refresh run in one transaction: analysts never see half-built marts.
DuckDB and PostgreSQL both have transactional DDL, which is what makes that one transaction
enough; the SQL they write differently comes from ``dialect.py``. The exception is a full
rebuild in slices (``sliced_build.py``), which commits slice by slice so that its memory does not
grow with the history, and marks the marts unfinished until its last commit.

Models are plain ``SELECT`` files. A full rebuild (``full_build.py``) wraps them in
``CREATE OR REPLACE VIEW|TABLE``. An incremental refresh (the default once the marts exist;
``incremental_build.py``) rebuilds only what the loads since the last refresh could have
changed: it computes the affected calls and center-days (``transforms/incremental``), restricts
the models' inputs to them, and replaces those keys in each table (delete, then insert the
model's rows for the keys); see ``transforms/README.md``. The project (models, grains,
placeholders) is in ``project.py``, the checks in ``checks.py``, the incremental planning and
the watermark in ``refresh.py``, the run's result in ``result.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from .checks import run_checks
from .dialect import Dialect, DialectName, detect_dialect
from .full_build import build_full
from .incremental_build import (
    build_incremental,
    build_incremental_in_temp,
    missed_old_rows,
    refresh_without_new_calls,
    scope_tables,
)
from .materialize import execute_statements
from .project import (
    ANALYTICS_SCHEMA,
    GRAIN_KEYS,
    INTERMEDIATE_SCHEMA,
    RAW_TABLES,
    STAGING_SCHEMA,
    SqlExecutor,
    literal,
    quote_identifier,
    scalar,
)
from .refresh import models_sql_hash, newest_load_id, plan_refresh, write_state
from .result import RawTablesMissing, TransformCheckError, TransformResult
from .scope_log import record_refresh
from .settings import MetricSettings
from .sliced_build import bucket_count, build_sliced, call_slice_count

logger = logging.getLogger("hostedsuite.transforms")


def run_transforms(
    execute: SqlExecutor,
    raw_schema: str = "hostedsuite",
    settings: MetricSettings | None = None,
    full: bool = False,
    dialect: DialectName | None = None,
    scope_log: bool = False,
    slice_calls: int | None = None,
) -> TransformResult:
    """Refreshes ``staging``, ``intermediate`` and ``analytics`` from ``raw_schema``, then checks.

    Incremental (only what changed since the last refresh) unless ``full`` or a full rebuild is
    needed: no previous refresh, other settings, other model SQL, unstamped raw tables.
    Everything, including the check results and the new watermark, is committed in one
    transaction: a crash leaves the previous marts and watermark, and the next run redoes the
    same changes (a full rebuild in slices commits slice by slice: a crash leaves the marts
    marked unfinished, and the next run rebuilds them). On DuckDB, an incremental refresh first
    searches ``fct_calls`` for the changed calls' old rows by their new start times; when a
    call's start time moved out of that range, the refresh is rolled back and run again with
    the rows searched by id (``affected_calls.sql``). Grain-check failures raise
    ``TransformCheckError`` after the commit (the findings tables must survive for the analyst
    to read); reconciliation findings are only reported in the result. ``dialect``: the
    destination's (asked of the server when None).
    ``scope_log``: log what the refresh replaced (``scope_log.py``; DuckDB only), for the copy
    that is kept in step with the warehouse. ``slice_calls``: a full rebuild on a DuckDB file
    (not a lake) runs in slices of about this many calls (``sliced_build.py``); None: in one go.
    """
    started = time.perf_counter()
    sql = Dialect(dialect or detect_dialect(execute))
    settings = settings or MetricSettings()
    settings.validate()
    options = _Options(raw_schema, settings, full, sql, scope_log, slice_calls)
    try:
        with _unordered_inserts(execute, sql), _transaction(execute):
            result = _refresh(execute, options, old_rows_by_range=sql.is_duckdb)
    except _OldRowMissed:
        # rolled back: a changed call's start time moved out of the range its old row was
        # searched in (affected_calls.sql); the same refresh, every old row searched by id
        logger.info("refresh: a changed call moved; searching the marts by call id")
        with _unordered_inserts(execute, sql), _transaction(execute):
            result = _refresh(execute, options, old_rows_by_range=False)
        result.searched_by_id = True
    result.elapsed_seconds = time.perf_counter() - started
    if result.errors:
        raise TransformCheckError(result)
    return result


@dataclass(frozen=True)
class _Options:
    raw_schema: str
    settings: MetricSettings
    full: bool
    sql: Dialect
    scope_log: bool
    slice_calls: int | None


class _OldRowMissed(Exception):
    """An incremental refresh whose search by range left a changed call's old row in fct_calls
    (``incremental_build.missed_old_rows``); raised inside its transaction, to roll it back."""


def _refresh(execute: SqlExecutor, options: _Options, old_rows_by_range: bool) -> TransformResult:
    """One refresh, in the caller's transaction (see ``run_transforms``)."""
    sql, settings = options.sql, options.settings
    raw = quote_identifier(options.raw_schema)
    result = TransformResult(settings=settings)
    columns = _raw_columns(execute, options.raw_schema)
    missing = [t for t in RAW_TABLES if t not in columns]
    if missing:
        raise RawTablesMissing(options.raw_schema, missing)
    for schema in (STAGING_SCHEMA, INTERMEDIATE_SCHEMA, ANALYTICS_SCHEMA):
        execute.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sql_hash = models_sql_hash(raw, columns, sql.name)
    existing = _existing_objects(execute)
    plan = plan_refresh(execute, columns, settings, sql_hash, existing, options.full)
    # read before anything is written: the refresh then reflects at least this much
    new_watermark = newest_load_id(execute, raw, columns, plan.watermark)
    _write_settings(execute, settings, sql)
    result.refresh = "full" if plan.full else "incremental"
    result.reason = plan.reason
    # where the per-call tables' new rows are kept for the checks (DuckDB's refresh)
    new_rows: dict[str, str] = {}
    # the logged per-call tables' deleted rows, by the column the log takes ranges of
    deleted: dict[str, list[Any]] = {}
    if plan.full:
        _build_full(execute, raw, columns, existing, sql, result, options.slice_calls)
    elif new_watermark == plan.watermark:
        # no raw call row loaded since the watermark: no call and no day to redo
        new_rows = refresh_without_new_calls(execute, raw, columns, settings, plan.watermark, sql)
    elif sql.is_duckdb:
        new_rows = build_incremental_in_temp(
            execute,
            raw,
            columns,
            settings,
            plan.watermark,
            result,
            sql,
            deleted if options.scope_log else None,
            old_rows_by_range,
        )
        if old_rows_by_range and missed_old_rows(execute):
            raise _OldRowMissed
    else:
        build_incremental(execute, raw, columns, settings, plan.watermark, result, sql)
    if options.scope_log:
        record_refresh(execute, plan.full, new_rows, deleted)
    by_file = result.call_slices > 1  # a rebuild in slices: its checks one at a time too
    checked = {t: name for t, name in new_rows.items() if t in scope_tables()}
    result.checks = run_checks(
        execute,
        raw,
        columns,
        not plan.full,
        sql.name,
        checked,
        by_file,
        bucket_count(result.call_slices) if by_file else 1,
    )
    write_state(execute, new_watermark, sql_hash, result, sql.name)
    for table in GRAIN_KEYS:
        result.row_counts[table] = scalar(
            execute, f"SELECT count(*) FROM {ANALYTICS_SCHEMA}.{table}"
        )
    return result


def _build_full(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    existing: dict[tuple[str, str], str],
    sql: Dialect,
    result: TransformResult,
    slice_calls: int | None,
) -> None:
    # Slices need DuckDB's quantiles and temporary objects; the destination asks for them (a
    # DuckDB file: a lake writes each entry once per transaction, see incremental_build.py). One
    # slice is the rebuild in one go.
    slices = 1
    if slice_calls is not None and sql.is_duckdb:
        slices = call_slice_count(execute, raw, slice_calls)
    if slices == 1:
        build_full(execute, raw, columns, existing, sql)
        return
    result.day_slices = build_sliced(
        execute, raw, columns, existing, slices, slice_calls or 1, result.reason
    )
    result.call_slices = slices


@contextmanager
def _transaction(execute: SqlExecutor) -> Iterator[None]:
    execute.execute_sql("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        # dlt's client rolls back by itself when a statement fails; a second ROLLBACK then
        # errors with "no transaction is active", which must not hide the original error.
        with suppress(Exception):
            execute.execute_sql("ROLLBACK")
        raise
    execute.execute_sql("COMMIT")


@contextmanager
def _unordered_inserts(execute: SqlExecutor, sql: Dialect) -> Iterator[None]:
    # Tables have no order; letting DuckDB write CREATE TABLE AS results in parallel without
    # preserving the input order saves ~10 % of a 1M-call refresh. The connection may be dlt's,
    # so the session's own setting is put back afterwards. DuckDB's setting only.
    if not sql.is_duckdb:
        yield
        return
    rows = execute.execute_sql("SELECT current_setting('preserve_insertion_order')")
    previous = bool(rows[0][0]) if rows else True
    execute.execute_sql("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        execute.execute_sql(f"SET preserve_insertion_order = {str(previous).lower()}")


def _raw_columns(execute: SqlExecutor, raw_schema: str) -> dict[str, set[str]]:
    rows = execute.execute_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{raw_schema}' AND table_catalog = current_database()"
    )
    columns: dict[str, set[str]] = {}
    for table, column in rows or []:
        columns.setdefault(str(table), set()).add(str(column))
    return columns


def _existing_objects(execute: SqlExecutor) -> dict[tuple[str, str], str]:
    rows = execute.execute_sql(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema IN ('{STAGING_SCHEMA}', '{INTERMEDIATE_SCHEMA}', "
        f"'{ANALYTICS_SCHEMA}') AND table_catalog = current_database()"
    )
    return {
        (str(schema), str(name)): "VIEW" if str(kind) == "VIEW" else "TABLE"
        for schema, name, kind in rows or []
    }


def _write_settings(execute: SqlExecutor, settings: MetricSettings, sql: Dialect) -> None:
    # Values are validated numbers or a formula from a fixed list, so literal SQL is safe here.
    values = ",\n  ".join(
        "(" + ", ".join(literal(v) for v in row) + ")" for row in settings.as_rows()
    )
    rows = (
        "SELECT * FROM (VALUES\n  "
        + values
        + "\n) AS s(setting_name, setting_value, unit, description)"
    )
    execute_statements(
        execute, sql.create_or_replace("TABLE", f"{ANALYTICS_SCHEMA}.metric_settings", rows)
    )
