"""Creating a model's view or table (``CREATE OR REPLACE`` in the destination's dialect): the
one step the full build and the incremental refresh both take for every model they rebuild;
and the restricted copies of the views as the connection's temporary views, which the lake's
refresh and the full rebuild in slices read instead of the views themselves (``renamed``)."""

from __future__ import annotations

import re

from .dialect import Dialect
from .project import MODELS, Model, SqlExecutor, model_sql, render, sql_body


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


def scope_view_names() -> dict[str, str]:
    """``schema.view`` of each view model -> the name of its restricted temporary view."""
    return {
        f"{m.schema}.{m.name}": f"scope_{m.schema}_{m.name}"
        for m in MODELS
        if m.materialization == "view"
    }


def renamed(sql: str, views: dict[str, str]) -> str:
    """``sql`` reading ``views``' replacements (``schema.name`` -> a temporary object's name)."""
    for qualified, name in views.items():
        sql = re.sub(rf"(?<![\w.]){re.escape(qualified)}\b", f"temp.main.{name}", sql)
    return sql
