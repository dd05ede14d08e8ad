"""The full rebuild: every model created or replaced from all of the raw tables, in one go.
(On a DuckDB file a large history is rebuilt in slices instead: ``sliced_build.py``.)"""

from __future__ import annotations

from .dialect import Dialect
from .materialize import create_model
from .project import INTERMEDIATE_SCHEMA, MODELS, Model, SqlExecutor, model_sql, render


def build_full(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    existing: dict[tuple[str, str], str],
    sql: Dialect,
) -> None:
    """Creates every model in ``MODELS`` order; ``existing``: (schema, name) -> VIEW or TABLE."""
    for model in MODELS:
        rendered = render(model_sql(model), raw, columns, dialect=sql.name)
        replace_model(execute, model, rendered, existing, sql)
    drop_scope_tables(execute)


def replace_model(
    execute: SqlExecutor,
    model: Model,
    rendered: str,
    existing: dict[tuple[str, str], str],
    sql: Dialect,
) -> None:
    """Creates or replaces ``model`` from its rendered ``SELECT``, whatever it was before."""
    kind = "VIEW" if model.materialization == "view" else "TABLE"
    other = existing.get((model.schema, model.name))
    if other is not None and other != kind:
        # CREATE OR REPLACE cannot turn a view into a table (or back) when a model's
        # materialization changes between releases.
        execute.execute_sql(f"DROP {other} {model.schema}.{model.name} {sql.cascade}")
    create_model(execute, model, rendered, sql)


def drop_scope_tables(execute: SqlExecutor) -> None:
    # the scope tables of an earlier incremental refresh no longer describe anything
    for table in ("affected_calls", "affected_days"):
        execute.execute_sql(f"DROP TABLE IF EXISTS {INTERMEDIATE_SCHEMA}.{table}")
