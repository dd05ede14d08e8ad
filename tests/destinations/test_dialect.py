"""The dialect helpers: DuckDB's rendering is the SQL it ran before, PostgreSQL's runs there,
and a server that is neither is refused in one line."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from transforms import DbApiExecutor, DuckDBExecutor, run_transforms
from transforms.dialect import fill_helpers


def test_duckdb_rendering_is_duckdb_sql() -> None:
    sql = "select {{ count_if(x > {{ epoch(t) }}) }}, {{ arg_min(a, b) }}"
    assert fill_helpers(sql, "duckdb") == "select count_if(x > epoch(t)), arg_min(a, b)"


def test_helpers_agree_on_both_destinations(postgres_dsn: str) -> None:
    import psycopg2

    sql = (
        "select {{ epoch(cast('2024-03-10 08:00:01.5+00' as timestamptz)) }}, "
        "{{ add_seconds(cast('2024-03-10 08:00:00+00' as timestamptz), 2.25) }} "
        "= cast('2024-03-10 08:00:02.25+00' as timestamptz), "
        "{{ interval_floor(cast('2024-03-10 01:59:00' as timestamp), 15) }}, "
        "(select {{ arg_min(v, k) }} from (values ('b', 2), ('a', 1), ('c', 3)) as t(v, k)), "
        "(select {{ count_if(k > 1) }} from (values (1), (2), (3)) as t(k))"
    )
    with duckdb.connect() as conn:
        duck = DuckDBExecutor(conn).execute_sql(fill_helpers(sql, "duckdb"))
    conn = psycopg2.connect(postgres_dsn)
    try:
        pg = DbApiExecutor(conn).execute_sql(fill_helpers(sql, "postgres"))
    finally:
        conn.close()
    # 1710057601.5 s since 1970; the floor of 01:59 to 15 minutes is 01:45
    expected = (1710057601.5, True, "2024-03-10 01:45:00", "a", 2)
    for row in (duck, pg):
        assert row is not None
        epoch, added, floored, first, counted = row[0]
        assert (epoch, added, str(floored), first, counted) == expected


def test_other_servers_are_refused_in_one_line() -> None:
    with pytest.raises(RuntimeError, match="transforms support DuckDB and PostgreSQL, not"):
        run_transforms(DbApiExecutor(sqlite3.connect(":memory:")))
