"""Purging: after rows were deleted or overwritten (an erasure, a stricter privacy policy), make
their old versions unrecoverable from the warehouse's own files. Each destination's ``purge``
calls one of these.

- DuckDB keeps deleted rows in free blocks of the file, and old values in its column
  statistics: the file is rewritten (``duckdb_rewrite.py``: apart, so that a DuckDB run does
  not import PostgreSQL's driver).
- PostgreSQL keeps dead tuples in its pages until they are reused: ``VACUUM FULL`` rewrites
  each table (the old files are unlinked), ``ANALYZE`` replaces the sampled values in
  ``pg_statistic``, whose old versions a ``VACUUM FULL`` of it removes (a superuser's right),
  and a ``CHECKPOINT`` writes it all out.
- A DuckLake keeps deleted rows in its Parquet files (a delete file only hides them) and every
  old snapshot's files, and its catalog keeps each text column's smallest and largest value
  ever loaded: the data files with deletions are rewritten, every snapshot but the newest
  expired, the files no snapshot needs deleted, the text columns' bounds narrowed to the
  current rows, and the catalog database vacuumed as a PostgreSQL warehouse is.
"""

from __future__ import annotations

import time
from typing import Any, Final

import psycopg2
from psycopg2 import sql as pgsql

from pipelines import sql_literals as lit

# The schemas our pipeline writes (raw, dlt's staging, the transforms').
ANALYTICS_SCHEMAS: Final = ("staging", "intermediate", "analytics")


def vacuum_postgres(dsn: str, schemas: tuple[str, ...], emptied: tuple[str, ...] = ()) -> list[str]:
    """Every table in ``emptied`` recreated empty, then ``VACUUM (FULL, ANALYZE)`` of every
    table in ``schemas``, then of ``pg_statistic`` and a checkpoint where the role may; returns
    what was not possible, as summary lines.

    Emptied tables are recreated rather than truncated: ``ANALYZE`` of an empty table leaves its
    statistics as they were, so a truncated table kept the sampled values of its last rows in
    ``pg_statistic`` (seen: callers' names, after ``privacy-apply``). A new table has none, and
    recreating one needs only its owner's rights."""
    notes = []
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' AND table_schema = ANY(%s)",
                (list(schemas),),
            )
            tables = cursor.fetchall()
            for schema, table in tables:
                if schema in emptied:
                    _recreate_empty(cursor, schema, table)
            for schema, table in tables:
                cursor.execute(
                    pgsql.SQL("VACUUM (FULL, ANALYZE) {}.{}").format(
                        pgsql.Identifier(schema), pgsql.Identifier(table)
                    )
                )
            # An autovacuum ANALYZE that began before the rewrite samples the old rows and
            # writes them into pg_statistic when it ends, possibly after the vacuum above:
            # wait for the database's autovacuum workers, then sample every table again.
            notes += _wait_for_autovacuum(cursor)
            for schema, table in tables:
                cursor.execute(
                    pgsql.SQL("ANALYZE {}.{}").format(
                        pgsql.Identifier(schema), pgsql.Identifier(table)
                    )
                )
            for statement, why in (
                ("VACUUM FULL pg_catalog.pg_statistic", "pg_statistic (sampled values)"),
                ("CHECKPOINT", "the checkpoint"),
            ):
                try:
                    cursor.execute(statement)
                except psycopg2.Error as exc:
                    first = str(exc).strip().splitlines()[0]
                    notes.append(f"purge: {why} left to autovacuum: {first}")
    finally:
        conn.close()
    return notes


def _recreate_empty(cursor: Any, schema: str, table: str) -> None:
    """Replaces ``schema.table`` by an empty table of the same definition, in one transaction."""
    new = f"{table}__emptied"
    names = {
        "old": pgsql.SQL("{}.{}").format(pgsql.Identifier(schema), pgsql.Identifier(table)),
        "new": pgsql.SQL("{}.{}").format(pgsql.Identifier(schema), pgsql.Identifier(new)),
        "table": pgsql.Identifier(table),
    }
    cursor.execute("BEGIN")
    try:
        for statement in (
            "CREATE TABLE {new} (LIKE {old} INCLUDING ALL)",
            "DROP TABLE {old}",
            "ALTER TABLE {new} RENAME TO {table}",
        ):
            cursor.execute(pgsql.SQL(statement).format(**names))
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")


AUTOVACUUM_WAIT_SECONDS: Final = 120.0


def _wait_for_autovacuum(cursor: Any) -> list[str]:
    """Waits (bounded) until no autovacuum worker runs in this database; a note if one still
    does at the deadline."""
    deadline = time.monotonic() + AUTOVACUUM_WAIT_SECONDS
    while True:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
        )
        if cursor.fetchone()[0] == 0:
            return []
        if time.monotonic() >= deadline:
            return ["purge: an autovacuum worker was still running; its statistics may lag"]
        time.sleep(0.2)


def compact_lake(sql: Any, catalog_dsn: str, catalog_schema: str) -> list[str]:
    """Rewrites the lake's data files that have deletions, expires every older snapshot and
    deletes the files no snapshot needs; ``sql``: dlt's client on the lake."""
    lake = str(sql.execute_sql("SELECT current_database()")[0][0])
    tables = sql.execute_sql(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        f"WHERE database_name = {lit.text(lake)}"
    )
    for schema, table in tables or []:
        sql.execute_sql(
            f"CALL ducklake_rewrite_data_files({lit.text(lake)}, {lit.text(table)}, "
            f"schema => {lit.text(schema)}, delete_threshold => 0)"
        )
    sql.execute_sql(f"CALL ducklake_expire_snapshots({lit.text(lake)}, older_than => now())")
    sql.execute_sql(f"CALL ducklake_cleanup_old_files({lit.text(lake)}, cleanup_all => true)")
    narrow_text_stats(sql, catalog_dsn, catalog_schema)
    return vacuum_postgres(catalog_dsn, (catalog_schema,))


def narrow_text_stats(sql: Any, catalog_dsn: str, catalog_schema: str) -> None:
    """Sets each text column's table-wide min and max in the catalog to those of its current
    rows. DuckLake only ever widens them as rows arrive, so a deleted or overwritten value
    that was a column's smallest or largest would stay in the catalog for good."""
    conn = psycopg2.connect(catalog_dsn)
    try:
        conn.autocommit = False
        with conn.cursor() as cursor:
            cursor.execute(
                pgsql.SQL(
                    "SELECT t.table_id, s.schema_name, t.table_name, c.column_id, c.column_name "
                    "FROM {catalog}.ducklake_table t "
                    "JOIN {catalog}.ducklake_schema s ON s.schema_id = t.schema_id "
                    "JOIN {catalog}.ducklake_column c ON c.table_id = t.table_id "
                    "WHERE t.end_snapshot IS NULL AND s.end_snapshot IS NULL "
                    "AND c.end_snapshot IS NULL AND c.parent_column IS NULL "
                    "AND lower(c.column_type) = 'varchar'"
                ).format(catalog=pgsql.Identifier(catalog_schema))
            )
            by_table: dict[tuple[int, str, str], list[tuple[int, str]]] = {}
            for table_id, schema, table, column_id, column in cursor.fetchall():
                by_table.setdefault((table_id, schema, table), []).append((column_id, column))
            for (table_id, schema, table), columns in by_table.items():
                bounds = ", ".join(f'min("{name}"), max("{name}")' for _, name in columns)
                row = sql.execute_sql(f'SELECT {bounds} FROM "{schema}"."{table}"')[0]
                for position, (column_id, _) in enumerate(columns):
                    cursor.execute(
                        pgsql.SQL(
                            "UPDATE {catalog}.ducklake_table_column_stats "
                            "SET min_value = %s, max_value = %s "
                            "WHERE table_id = %s AND column_id = %s"
                        ).format(catalog=pgsql.Identifier(catalog_schema)),
                        (row[2 * position], row[2 * position + 1], table_id, column_id),
                    )
        conn.commit()
    finally:
        conn.close()
