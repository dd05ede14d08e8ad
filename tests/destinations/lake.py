"""A DuckLake for the tests: a PostgreSQL catalog (a fresh database per test), a local data
folder, the ``hostedsuite`` CLI run against it, and its tables read back.

Readers attach the lake as an analyst would (``pipelines.ducklake.attach_reader``: read-only,
at the snapshot the last run published). ``snapshot`` copies the lake's tables into a DuckDB
file, so that the DuckDB tests' own comparisons (``tests/pipeline/warehouse.py``) read it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ducklake import attach_reader
from tests.analytics_tables import compared_columns, compared_tables
from tests.cli import run_cli
from tests.pipeline.loader import Loader


@dataclass(frozen=True)
class Lake:
    """The lake's configuration and the CLI's working folder."""

    catalog: str
    data: Path
    pipelines_dir: Path

    def env(self) -> dict[str, str]:
        """dlt's own configuration keys, as a scheduler would set them."""
        return {
            "DESTINATION_NAME": "ducklake",
            "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": self.catalog,
            "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL": str(self.data),
        }

    def cli(
        self, loader: Loader, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``hostedsuite <args>`` in a subprocess, the emulator's account in env vars."""
        return run_cli(*args, *self.paths(), env=loader.cli_env({**self.env(), **(env or {})}))

    def paths(self) -> list[str]:
        return ["--pipelines-dir", str(self.pipelines_dir)]

    def load(self, loader: Loader, env: dict[str, str] | None = None) -> str:
        """A load up to the emulator's clock; its stdout (the run must succeed)."""
        run = self.cli(loader, "load", "--until", loader.emulator.now.isoformat(), env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stdout

    def reader(self) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect()
        conn.execute("SET TimeZone = 'UTC'")
        attach_reader(conn, self.catalog, remote_storage=False)
        return conn

    def snapshot(self, target: Path) -> Path:
        """The raw and analytics tables of the published snapshot, copied into a DuckDB file."""
        with self.reader() as conn:
            conn.execute(f"ATTACH '{target}' AS copy")
            tables = conn.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name IN ('hostedsuite', 'analytics')"
            ).fetchall()
            for schema, table in tables:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS copy.{schema}")
                conn.execute(
                    f"CREATE TABLE copy.{schema}.{table} AS SELECT * FROM {schema}.{table}"
                )
        return target


def make_lake(postgres_dsn: str, folder: Path) -> Lake:
    return Lake(postgres_dsn, folder / "lake-data", folder / "lake-pipelines")


def differing_analytics(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per analytics table (``tests/analytics_tables.py``, which must be the tables both have):
    rows only in ``left``, only in ``right``, compared with EXCEPT ALL on every column; empty
    when both are the same."""
    conn = duckdb.connect()
    conn.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
    conn.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
    found = [
        {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
                "AND table_schema = 'analytics'",
                [catalog],
            ).fetchall()
        }
        for catalog in ("l", "r")
    ]
    differing = {}
    for table in compared_tables(found[0] | found[1]):
        assert table in found[0] and table in found[1], f"analytics.{table}: only in one of {found}"
        names = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'l' "
            f"AND table_schema = 'analytics' AND table_name = '{table}' ORDER BY ordinal_position"
        ).fetchall()
        kept = compared_columns(table, (name for (name,) in names))
        columns = ", ".join(f'"{name}"' for name in kept)
        one, two = (f"SELECT {columns} FROM {db}.analytics.{table}" for db in ("l", "r"))
        only = [
            conn.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()
            for a, b in ((one, two), (two, one))
        ]
        counts = (int(only[0][0]), int(only[1][0]))  # type: ignore[index]
        if counts != (0, 0):
            differing[table] = counts
    conn.close()
    return differing
