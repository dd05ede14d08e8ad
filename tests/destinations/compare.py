"""Reading the analytics tables of a DuckDB file and a PostgreSQL database into comparable
Python rows: instants in UTC, keys sorted, floating point compared within a relative 1e-9.
Which tables, and in which order their rows compare, is ``tests/analytics_tables.py``."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.analytics_tables import COMPARED, compared_columns, compared_tables
from tests.pipeline.warehouse import rows


def tables(*warehouses: Path | str) -> list[str]:
    """The analytics tables to compare: those the warehouses have (the same in each), which
    must be the ones ``tests/analytics_tables.py`` lists."""
    found = [
        {
            str(name)
            for (name,) in rows(
                warehouse,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'",
            )
        }
        for warehouse in warehouses
    ]
    assert all(names == found[0] for names in found), found
    return compared_tables(found[0])


def columns(warehouse: Path | str, table: str) -> list[str]:
    found = rows(
        warehouse,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
        f"AND table_name = '{table}' ORDER BY ordinal_position",
    )
    return compared_columns(table, (str(name) for (name,) in found))


def table_rows(warehouse: Path | str, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    keys = ", ".join(COMPARED[table])
    quoted = ", ".join(f'"{name}"' for name in names)
    return [
        tuple(_normal(v) for v in row)
        for row in rows(warehouse, f"SELECT {quoted} FROM analytics.{table} ORDER BY {keys}")
    ]


def _normal(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()  # the instant, whatever the session's zone
    return value


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=0.0) or left == right
    return type(left) is type(right) and left == right


def differences(duckdb_file: Path | str, dsn: str, table: str) -> list[str]:
    """What differs in ``table`` between two warehouses (empty when equal); the first is
    named ``duckdb_file`` but may be a PostgreSQL DSN too."""
    names = columns(duckdb_file, table)
    if columns(dsn, table) != names:
        return [f"columns {names} != {columns(dsn, table)}"]
    left, right = table_rows(duckdb_file, table, names), table_rows(dsn, table, names)
    if len(left) != len(right):
        return [f"{len(left)} rows in DuckDB, {len(right)} in PostgreSQL"]
    found = []
    for a, b in zip(left, right, strict=True):
        wrong = [
            f"{name}: {x!r} != {y!r}"
            for name, x, y in zip(names, a, b, strict=True)
            if not same_value(x, y)
        ]
        if wrong:
            found.append(f"row {a[: len(COMPARED[table])]}: {'; '.join(wrong[:3])}")
    return found
