"""A small ordered runner for the SQL models and data-quality checks.

Why not dbt: the whole transform layer is ~20 SQL files over one database. A fixed list run
through the pipeline's own ``sql_client`` needs no extra dependency, no project compilation or
startup cost, reuses the single DuckDB connection dlt already holds (DuckDB allows one writer
process), and lets the whole refresh run in one transaction: analysts never see half-built marts.
DuckDB and PostgreSQL both have transactional DDL, which is what makes that one transaction
enough; the SQL they write differently comes from ``dialect.py``.

Models are plain ``SELECT`` files. A full rebuild wraps them in ``CREATE OR REPLACE VIEW|TABLE``.
An incremental refresh (the default once the marts exist) rebuilds only what the loads since the
last refresh could have changed: the runner computes the affected calls and center-days
(``transforms/incremental``), restricts the models' inputs to them, and replaces those keys in
each table (delete, then insert the model's rows for the keys); see ``transforms/README.md``.
The project (models, grains, placeholders) is in ``project.py``, the checks in ``checks.py``,
the incremental planning in ``refresh.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from .checks import CheckOutcome, run_checks
from .dialect import Dialect, DialectName, detect_dialect, fill_helpers
from .project import (
    ANALYTICS_SCHEMA,
    GRAIN_KEYS,
    INTERMEDIATE_SCHEMA,
    MODELS,
    RAW_TABLES,
    STAGING_SCHEMA,
    IncrementalKey,
    Model,
    SqlExecutor,
    affected_keys,
    fill_template,
    incremental_sql,
    literal,
    model_sql,
    number_literal,
    quote_identifier,
    render,
    scalar,
    sql_body,
)
from .refresh import models_sql_hash, newest_load_id, plan_refresh, write_state
from .settings import MetricSettings


@dataclass
class TransformResult:
    """What a run built and found; the CLI prints ``format_summary`` of it."""

    row_counts: dict[str, int] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    settings: MetricSettings = field(default_factory=MetricSettings)
    # "full" or "incremental", and why a full rebuild was needed
    refresh: str = "full"
    reason: str = ""
    # incremental refreshes: calls replaced, calls only read (repeat window), center-days replaced
    calls_rebuilt: int = 0
    calls_read_only: int = 0
    days_rebuilt: int = 0

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.failing_rows > 0]

    @property
    def errors(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "error"]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "warn"]


class TransformCheckError(Exception):
    """A grain check failed: the marts were written but must not be trusted."""

    def __init__(self, result: TransformResult) -> None:
        self.result = result
        listed = ", ".join(f"{c.check_name} ({c.failing_rows} rows)" for c in result.errors)
        super().__init__(
            f"data-quality errors in the analytics schema: {listed}; "
            f"see {ANALYTICS_SCHEMA}.dq_findings"
        )


def run_transforms(
    execute: SqlExecutor,
    raw_schema: str = "hostedsuite",
    settings: MetricSettings | None = None,
    full: bool = False,
    dialect: DialectName | None = None,
    ducklake: bool = False,
) -> TransformResult:
    """Refreshes ``staging``, ``intermediate`` and ``analytics`` from ``raw_schema``, then checks.

    Incremental (only what changed since the last refresh) unless ``full`` or a full rebuild is
    needed: no previous refresh, other settings, other model SQL, unstamped raw tables.
    Everything, including the check results and the new watermark, is committed in one
    transaction: a crash leaves the previous marts and watermark, and the next run redoes the
    same changes. Grain-check failures raise ``TransformCheckError`` after the commit (the
    findings tables must survive for the analyst to read); reconciliation findings are only
    reported in the result. ``dialect``: the destination's (asked of the server when None).
    ``ducklake``: the connection's current database is a DuckLake; see ``_scope_views``.
    """
    started = time.perf_counter()
    sql = Dialect(dialect or detect_dialect(execute))
    settings = settings or MetricSettings()
    settings.validate()
    raw = quote_identifier(raw_schema)
    result = TransformResult(settings=settings)
    with _unordered_inserts(execute, sql), _transaction(execute):
        columns = _raw_columns(execute, raw_schema)
        missing = [t for t in RAW_TABLES if t not in columns]
        if missing:
            raise RuntimeError(
                f"raw tables missing from schema {raw_schema!r}: {', '.join(missing)}; "
                "load the pipeline first"
            )
        for schema in (STAGING_SCHEMA, INTERMEDIATE_SCHEMA, ANALYTICS_SCHEMA):
            execute.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        sql_hash = models_sql_hash(raw, columns, sql.name)
        existing = _existing_objects(execute)
        plan = plan_refresh(execute, columns, settings, sql_hash, existing, full)
        # read before anything is written: the refresh then reflects at least this much
        new_watermark = newest_load_id(execute, raw, columns)
        _write_settings(execute, settings, sql)
        result.refresh = "full" if plan.full else "incremental"
        result.reason = plan.reason
        if plan.full:
            _build_full(execute, raw, columns, existing, sql)
        else:
            build = _build_incremental_on_lake if ducklake else _build_incremental
            build(execute, raw, columns, settings, plan.watermark, result, sql)
        result.checks = run_checks(execute, raw, columns, not plan.full, sql.name)
        write_state(execute, new_watermark, sql_hash, result, sql.name)
        for table in GRAIN_KEYS:
            result.row_counts[table] = scalar(
                execute, f"SELECT count(*) FROM {ANALYTICS_SCHEMA}.{table}"
            )
    result.elapsed_seconds = time.perf_counter() - started
    if result.errors:
        raise TransformCheckError(result)
    return result


def _build_full(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    existing: dict[tuple[str, str], str],
    sql: Dialect,
) -> None:
    for model in MODELS:
        kind = "VIEW" if model.materialization == "view" else "TABLE"
        other = existing.get((model.schema, model.name))
        if other is not None and other != kind:
            # CREATE OR REPLACE cannot turn a view into a table (or back) when a model's
            # materialization changes between releases.
            execute.execute_sql(f"DROP {other} {model.schema}.{model.name} {sql.cascade}")
        _create(execute, model, render(model_sql(model), raw, columns, dialect=sql.name), sql)
    # the scope tables of an earlier incremental refresh no longer describe anything
    for table in ("affected_calls", "affected_days"):
        execute.execute_sql(f"DROP TABLE IF EXISTS {INTERMEDIATE_SCHEMA}.{table}")


def _build_incremental(
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
    _create_views(execute, views, raw, columns, sql, incremental=False)
    _create_scope_tables(execute, raw, settings, watermark, sql)
    _create_views(execute, views, raw, columns, sql, incremental=True)
    _replace_affected_rows(execute, raw, columns, sql)
    _create_views(execute, views, raw, columns, sql, incremental=False)
    _count_affected(execute, result)


def _create_scope_tables(
    execute: SqlExecutor, raw: str, settings: MetricSettings, watermark: str, sql: Dialect
) -> None:
    """``intermediate.affected_calls`` (the loads since ``watermark``, with their repeat-call
    neighbours) and ``affected_days``: where the rebuilt calls were; where they are now is added
    once fct_calls is replaced."""
    scope = {
        "raw": raw,
        "watermark": literal(watermark),
        "repeat_window_seconds": number_literal(settings.repeat_call_window_hours * 3600),
    }
    affected = sql_body(
        fill_helpers(fill_template(incremental_sql("affected_calls"), scope), sql.name)
    )
    _execute(
        execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_calls", affected)
    )
    days = sql_body(incremental_sql("affected_days"))
    _execute(execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_days", days))


def _replace_affected_rows(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    sql: Dialect,
    views: dict[str, str] | None = None,
) -> None:
    """Deletes and re-inserts every table's affected rows; ``views``: the restricted views'
    names in place of the models' own (see ``_scope_views``)."""
    days = sql_body(incremental_sql("affected_days"))
    days_added = False
    for model in MODELS:
        if model.materialization == "view":
            continue
        rendered = _renamed(render(model_sql(model), raw, columns, True, sql.name), views or {})
        if model.incremental_key == "full":
            _create(execute, model, rendered, sql)
            continue
        # every "day" table reads fct_calls, which MODELS builds before them
        if model.incremental_key == "day" and not days_added:
            execute.execute_sql(f"INSERT INTO {INTERMEDIATE_SCHEMA}.affected_days\n{days}")
            days_added = True
        _replace_keys(execute, model, rendered, sql)


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


# --- DuckLake: every catalog entry is written at most once per transaction -------------------
# DuckLake (duckdb 1.4.4, ducklake extension 1.4.4.20260205) loses sight, until the commit, of
# the entries created or replaced in a transaction between two writes of another entry: "create
# or replace view a; create table b; create or replace view a" then fails on "b does not exist"
# (tests/destinations/test_ducklake_transforms.py). The incremental refresh above replaces each
# view three times, so on a lake the restricted views are the connection's temporary views
# instead, and the lake's own views are not touched: the plan is incremental only when the SQL
# hash, which covers their rendered text, is unchanged, so they are already what they would be.


def _build_incremental_on_lake(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    result: TransformResult,
    sql: Dialect,
) -> None:
    """``_build_incremental`` that writes each lake entry once (see above)."""
    views = _scope_views()
    _create_scope_tables(execute, raw, settings, watermark, sql)
    for model in MODELS:
        if model.materialization == "view":
            rendered = _renamed(render(model_sql(model), raw, columns, True, sql.name), views)
            name = views[f"{model.schema}.{model.name}"]
            execute.execute_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS\n{sql_body(rendered)}")
    _replace_affected_rows(execute, raw, columns, sql, views)
    _count_affected(execute, result)


def _scope_views() -> dict[str, str]:
    """``schema.view`` of each view model -> the name of its restricted temporary view."""
    return {
        f"{m.schema}.{m.name}": f"scope_{m.schema}_{m.name}"
        for m in MODELS
        if m.materialization == "view"
    }


def _renamed(sql: str, views: dict[str, str]) -> str:
    for qualified, name in views.items():
        sql = re.sub(rf"(?<![\w.]){re.escape(qualified)}\b", f"temp.main.{name}", sql)
    return sql


def _replace_keys(execute: SqlExecutor, model: Model, rendered: str, sql: Dialect) -> None:
    """Deletes the table's rows of the affected keys and inserts the model's rows for them."""
    key: IncrementalKey = model.incremental_key
    keys = affected_keys(key, sql.name)
    table = f"{model.schema}.{model.name}"
    # the same filter on both: what is deleted is exactly what the model may insert again
    execute.execute_sql(f"DELETE FROM {table} WHERE {keys}")
    rows = f"SELECT * FROM (\n{sql_body(rendered)}\n) AS model WHERE {keys}"
    execute.execute_sql(f"{sql.insert_by_name(table)}\n{rows}")


def _create_views(
    execute: SqlExecutor,
    views: list[Model],
    raw: str,
    columns: dict[str, set[str]],
    sql: Dialect,
    incremental: bool,
) -> None:
    for model in views:
        _create(execute, model, render(model_sql(model), raw, columns, incremental, sql.name), sql)


def _create(execute: SqlExecutor, model: Model, rendered: str, sql: Dialect) -> None:
    kind = "VIEW" if model.materialization == "view" else "TABLE"
    name = f"{model.schema}.{model.name}"
    _execute(execute, sql.create_or_replace(kind, name, sql_body(rendered)))


def _execute(execute: SqlExecutor, statements: list[str]) -> None:
    for statement in statements:
        execute.execute_sql(statement)


def format_summary(result: TransformResult) -> list[str]:
    """Lines for the CLI: row counts, failing checks, elapsed time."""
    lines = [
        f"transforms: {len(result.row_counts)} analytics tables in {result.elapsed_seconds:.2f}s"
    ]
    if result.refresh == "incremental":
        lines.append(
            f"  incremental: {result.calls_rebuilt:,} calls and {result.days_rebuilt:,} "
            f"center-days rebuilt ({result.calls_read_only:,} calls read for repeat calls)"
        )
    else:
        lines.append(f"  full rebuild: {result.reason}")
    lines += [f"  {table}: {count:,} rows" for table, count in result.row_counts.items()]
    for check in result.failed_checks:
        lines.append(
            f"  {check.severity.upper()}: {check.check_name} on {check.table_name}: "
            f"{check.failing_rows:,} rows (see {ANALYTICS_SCHEMA}.dq_findings)"
        )
    if not result.failed_checks:
        lines.append(f"  data-quality checks: all {len(result.checks)} passed")
    return lines


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
    _execute(execute, sql.create_or_replace("TABLE", f"{ANALYTICS_SCHEMA}.metric_settings", rows))
