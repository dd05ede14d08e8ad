"""Creating a model's view or table (``CREATE OR REPLACE`` in the destination's dialect): the
one step the full build and the incremental refresh both take for every model they rebuild."""

from __future__ import annotations

from .dialect import Dialect
from .project import Model, SqlExecutor, model_sql, render, sql_body


def create_model(execute: SqlExecutor, model: Model, rendered: str, sql: Dialect) -> None:
    """Creates or replaces ``model``'s view or table from its rendered ``SELECT``."""
    kind = "VIEW" if model.materialization == "view" else "TABLE"
    name = f"{model.schema}.{model.name}"
    execute_statements(execute, sql.create_or_replace(kind, name, sql_body(rendered)))


def create_views(
    execute: SqlExecutor,
    views: list[Model],
    raw: str,
    columns: dict[str, set[str]],
    sql: Dialect,
    incremental: bool,
) -> None:
    """Creates or replaces the view models, restricted to the affected keys if ``incremental``."""
    for model in views:
        rendered = render(model_sql(model), raw, columns, incremental, sql.name)
        create_model(execute, model, rendered, sql)


def execute_statements(execute: SqlExecutor, statements: list[str]) -> None:
    # one step may take several statements in a dialect (PostgreSQL: DROP, then CREATE)
    for statement in statements:
        execute.execute_sql(statement)
