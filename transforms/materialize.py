"""Creating a model's view or table (``CREATE OR REPLACE`` in the destination's dialect): the
one step the full build and the incremental refresh both take for every model they rebuild;
and the restricted copies of the views as the connection's temporary objects, which DuckDB's
incremental refresh and the full rebuild in slices read instead of the views themselves
(``project.renamed``)."""

from __future__ import annotations

from .dialect import Dialect
from .project import MODELS, STAGING_SCHEMA, Model, SqlExecutor, model_sql, render, sql_body


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
    """``schema.view`` of each view model -> its restricted temporary copy (``scope_kind``)."""
    return {
        f"{m.schema}.{m.name}": f"temp.main.scope_{m.schema}_{m.name}"
        for m in MODELS
        if m.materialization == "view"
    }


def scope_kind(model: Model) -> str:
    """What a view model's restricted temporary copy is: a TABLE for staging, which several
    models read (its rows are then searched for in the raw tables once, not once per reader),
    else a VIEW."""
    return "TABLE" if model.schema == STAGING_SCHEMA else "VIEW"


def create_scope_copy(execute: SqlExecutor, model: Model, name: str, body: str) -> None:
    """Creates or replaces a view model's restricted temporary copy ``name`` from ``body``."""
    execute.execute_sql(f"CREATE OR REPLACE TEMP {scope_kind(model)} {name} AS\n{body}")


def drop_scope_copies(execute: SqlExecutor) -> None:
    """Drops the view models' restricted temporary copies, if any."""
    names = scope_view_names()
    for model in MODELS:
        if model.materialization == "view":
            name = names[f"{model.schema}.{model.name}"]
            execute.execute_sql(f"DROP {scope_kind(model)} IF EXISTS {name}")
