"""The incremental refresh: replaces, in every table, the rows of the calls and center-days the
loads since the watermark could have changed (scope in ``transforms/incremental``), on DuckDB
and PostgreSQL, and on a DuckLake, which needs each catalog entry written once per transaction.
Whether a refresh may be incremental, and from which watermark, is ``refresh.py``'s.
"""

from __future__ import annotations

from .dialect import Dialect, fill_helpers
from .materialize import (
    create_model,
    create_views,
    execute_statements,
    renamed,
    scope_view_names,
)
from .project import (
    INTERMEDIATE_SCHEMA,
    MODELS,
    IncrementalKey,
    Model,
    SqlExecutor,
    affected_keys,
    fill_template,
    incremental_sql,
    literal,
    model_sql,
    number_literal,
    render,
    sql_body,
)
from .result import TransformResult
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
    _create_scope_tables(execute, raw, settings, watermark, sql)
    create_views(execute, views, raw, columns, sql, incremental=True)
    _replace_affected_rows(execute, raw, columns, sql)
    create_views(execute, views, raw, columns, sql, incremental=False)
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
    execute_statements(
        execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_calls", affected)
    )
    days = sql_body(incremental_sql("affected_days"))
    execute_statements(
        execute, sql.create_or_replace("TABLE", f"{INTERMEDIATE_SCHEMA}.affected_days", days)
    )


def _replace_affected_rows(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    sql: Dialect,
    views: dict[str, str] | None = None,
) -> None:
    """Deletes and re-inserts every table's affected rows; ``views``: the restricted views'
    names in place of the models' own (see ``materialize.scope_view_names``)."""
    days = sql_body(incremental_sql("affected_days"))
    days_added = False
    for model in MODELS:
        if model.materialization == "view":
            continue
        rendered = renamed(render(model_sql(model), raw, columns, True, sql.name), views or {})
        if model.incremental_key == "full":
            create_model(execute, model, rendered, sql)
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


def _replace_keys(execute: SqlExecutor, model: Model, rendered: str, sql: Dialect) -> None:
    """Deletes the table's rows of the affected keys and inserts the model's rows for them."""
    key: IncrementalKey = model.incremental_key
    keys = affected_keys(key, sql.name)
    table = f"{model.schema}.{model.name}"
    # the same filter on both: what is deleted is exactly what the model may insert again
    execute.execute_sql(f"DELETE FROM {table} WHERE {keys}")
    rows = f"SELECT * FROM (\n{sql_body(rendered)}\n) AS model WHERE {keys}"
    execute.execute_sql(f"{sql.insert_by_name(table)}\n{rows}")


# --- DuckLake: every catalog entry is written at most once per transaction -------------------
# DuckLake (duckdb 1.4.4, ducklake extension 1.4.4.20260205) loses sight, until the commit, of
# the entries created or replaced in a transaction between two writes of another entry: "create
# or replace view a; create table b; create or replace view a" then fails on "b does not exist"
# (tests/destinations/test_ducklake_transforms.py). The incremental refresh above replaces each
# view three times, so on a lake the restricted views are the connection's temporary views
# instead, and the lake's own views are not touched: the plan is incremental only when the SQL
# hash, which covers their rendered text, is unchanged, so they are already what they would be.


def build_incremental_on_lake(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    result: TransformResult,
    sql: Dialect,
) -> None:
    """``build_incremental`` that writes each lake entry once (see above)."""
    views = scope_view_names()
    _create_scope_tables(execute, raw, settings, watermark, sql)
    for model in MODELS:
        if model.materialization == "view":
            rendered = renamed(render(model_sql(model), raw, columns, True, sql.name), views)
            name = views[f"{model.schema}.{model.name}"]
            execute.execute_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS\n{sql_body(rendered)}")
    _replace_affected_rows(execute, raw, columns, sql, views)
    _count_affected(execute, result)
