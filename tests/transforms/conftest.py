"""Fixtures: a real DuckDB file per test holding the hand-built raw schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.analytics_tables import compared_columns, compared_tables

from .raw_fixture import build_raw


@pytest.fixture
def raw_db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_raw(conn)
    yield conn
    conn.close()


def normalise(value: Any) -> Any:
    """Floats rounded to 6 places so hand-written fractions compare; other values as they are."""
    return round(value, 6) if isinstance(value, float) else value


def fetch(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(normalise(v) for v in row) for row in conn.execute(sql).fetchall()]


def expect(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(normalise(v) for v in row) for row in rows]


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every analytics table (``tests/analytics_tables.py``), its rows in order."""
    found = fetch(conn, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'analytics'")
    tables = {}
    for table in compared_tables(str(name) for (name,) in found):
        names = [d[0] for d in conn.execute(f"SELECT * FROM analytics.{table} LIMIT 0").description]
        kept = ", ".join(f'"{name}"' for name in compared_columns(table, names))
        tables[table] = fetch(conn, f"SELECT {kept} FROM analytics.{table} ORDER BY ALL")
    return tables
