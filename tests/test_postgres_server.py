"""The tests' PostgreSQL server is real, private to the test, and byte-ordered like DuckDB."""

from __future__ import annotations

import psycopg2


def test_fresh_database_on_a_real_server(postgres_dsn: str) -> None:
    connection = psycopg2.connect(postgres_dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*) from information_schema.tables where table_schema = 'public'"
            )
            assert cursor.fetchone() == (0,)
            # the C collation: upper case sorts before lower case, as in DuckDB
            cursor.execute("select x from (values ('b'), ('B'), ('a')) as t(x) order by x")
            assert [row[0] for row in cursor.fetchall()] == ["B", "a", "b"]
            cursor.execute("show server_version")
            (version,) = cursor.fetchone()
            assert int(version.split(".")[0]) >= 13
    finally:
        connection.close()
