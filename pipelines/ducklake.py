"""Reading the DuckLake as an analyst: attach it read-only at the snapshot a run published.

``python -m pipelines.ducklake '<catalog>'`` prints the SQL an analyst runs in DuckDB to attach
the lake read-only from this environment (the pinned extension files, then ``ATTACH`` at the
newest published snapshot). The writer side is ``pipelines/destinations/ducklake.py``.
"""

from __future__ import annotations

import sys
from typing import Any

import duckdb

from pipelines.destinations.ducklake import DEFAULT_LAKE_NAME, load_statements, published_version


def attach_statement(
    catalog: str, lake_name: str = DEFAULT_LAKE_NAME, version: int | None = None
) -> str:
    """``ATTACH`` of the lake read-only, at snapshot ``version`` if given (else the newest).

    ``catalog``: the PostgreSQL catalog as a libpq string (``host=... dbname=... user=...``) or
    URL (``postgresql://user:password@host:5432/database``); the data path is in the catalog.
    """
    pinned = f", SNAPSHOT_VERSION {int(version)}" if version is not None else ""
    return (
        f"ATTACH 'ducklake:postgres:{catalog.replace(chr(39), chr(39) * 2)}' AS {lake_name} "
        f"(READ_ONLY, METADATA_SCHEMA '{lake_name}'{pinned})"
    )


def attach_reader(
    conn: duckdb.DuckDBPyConnection,
    catalog: str,
    lake_name: str = DEFAULT_LAKE_NAME,
    remote_storage: bool = True,
) -> int | None:
    """Attaches the lake read-only to ``conn`` at its newest published snapshot and makes it the
    default database; returns that snapshot (None before the first run: the newest state).
    ``remote_storage``: the data path is a bucket (loads httpfs)."""
    for statement in load_statements(remote_storage):
        conn.execute(statement)
    probe = f"{lake_name}_newest"
    conn.execute(attach_statement(catalog, lake_name).replace(f" AS {lake_name} ", f" AS {probe} "))
    version = published_version(_Rows(conn), probe)
    conn.execute(f"DETACH {probe}")
    conn.execute(attach_statement(catalog, lake_name, version))
    conn.execute(f"USE {lake_name}")
    return version


class _Rows:
    """``execute_sql`` over a plain DuckDB connection (what ``published_version`` reads with)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()


def reader_sql(catalog: str, lake_name: str = DEFAULT_LAKE_NAME) -> str:
    """The SQL an analyst's DuckDB session runs to attach the lake read-only, at the snapshot
    published last (looked up now)."""
    conn = duckdb.connect()
    try:
        version = attach_reader(conn, catalog, lake_name)
    finally:
        conn.close()
    return "\n".join(
        [
            *(f"{statement};" for statement in load_statements()),
            f"{attach_statement(catalog, lake_name, version)};",
            f"USE {lake_name};",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(
            "usage: python -m pipelines.ducklake '<catalog: libpq string or postgresql:// URL>'"
        )
    sys.stdout.write(reader_sql(sys.argv[1]) + "\n")
