"""What publishing compares between the warehouse and a serving copy attached beside it: their
catalogs (a copy of another shape is copied whole, never updated), their tables, and each
table's row count after an update (``serving_delta``: a difference rolls the update back).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pipelines import sql_literals as lit


class Executor(Protocol):
    def execute_sql(self, sql: str) -> Any: ...


def current_database(execute: Executor) -> str:
    rows = execute.execute_sql("SELECT current_database()")
    return str(rows[0][0])


def tables(execute: Executor, database: str) -> list[tuple[str, str]]:
    rows = execute.execute_sql(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        f"WHERE database_name = {lit.text(database)} AND NOT temporary ORDER BY 1, 2"
    )
    return [(str(schema), str(table)) for schema, table in rows or []]


def catalog(
    execute: Executor, database: str, left_out: Iterable[tuple[str, str]] = ()
) -> list[tuple[Any, ...]]:
    """Every table's and view's columns (name, type, nullability, position), and every view,
    macro, index and sequence of ``database`` by name, in a comparable form; the columns of the
    ``left_out`` tables (schema, table) left out."""
    name = lit.text(database)
    queries = (
        "SELECT 'column', schema_name, table_name, column_index::VARCHAR, column_name, "
        f"data_type || is_nullable::VARCHAR FROM duckdb_columns() WHERE database_name = {name}",
        # Views and macros by name: their columns are above, and DuckDB prints a view's SQL
        # differently once it was read back from a file (", " for "CROSS JOIN"). Their text
        # changes only with the transforms' SQL, which makes the refresh a full rebuild.
        "SELECT 'view', schema_name, view_name, '', '', '' FROM duckdb_views() "
        f"WHERE database_name = {name} AND NOT internal",
        "SELECT 'macro', schema_name, function_name, '', '', '' "
        f"FROM duckdb_functions() WHERE database_name = {name} AND NOT internal",
        "SELECT 'index', schema_name, index_name, table_name, '', coalesce(sql, '') "
        f"FROM duckdb_indexes() WHERE database_name = {name}",
        "SELECT 'sequence', schema_name, sequence_name, '', '', '' "
        f"FROM duckdb_sequences() WHERE database_name = {name}",
    )
    rows: list[tuple[Any, ...]] = []
    for query in queries:
        rows += [tuple(row) for row in execute.execute_sql(query) or []]
    skipped = {("column", *t) for t in left_out}
    return sorted((r for r in rows if r[:3] not in skipped), key=repr)


def differing_counts(
    execute: Executor, live: str, copy: str, left_out: Iterable[tuple[str, str]] = ()
) -> list[str]:
    """The tables of ``live`` (but the ``left_out`` ones) whose row count differs in ``copy``."""
    skipped = set(left_out)
    differing = []
    for schema, table in tables(execute, live):
        if (schema, table) in skipped:
            continue
        rows = execute.execute_sql(
            f'SELECT (SELECT count(*) FROM "{live}"."{schema}"."{table}"), '
            f'(SELECT count(*) FROM {copy}."{schema}"."{table}")'
        )
        if not rows or rows[0][0] != rows[0][1]:
            differing.append(f"{schema}.{table}")
    return differing
