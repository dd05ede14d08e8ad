"""A DuckLake for the tests: a PostgreSQL catalog (a fresh database per test), a local data
folder or a bucket on the tests' S3 server, the ``hostedsuite`` CLI run against it, and its
tables read back.

Readers attach the lake as an analyst would (``pipelines.ducklake.attach_reader``: read-only,
at the snapshot the last run published). ``snapshot`` copies the lake's tables into a DuckDB
file, so that the DuckDB tests' own comparisons (``tests/pipeline/warehouse.py``) read it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.destinations.ducklake import load_statements
from pipelines.ducklake import attach_reader
from tests.analytics_tables import compared_columns, compared_tables
from tests.cli import run_cli
from tests.pipeline.loader import Loader
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server


@dataclass(frozen=True)
class Lake:
    """The lake's configuration and the CLI's working folder."""

    catalog: str
    data: Path | str  # a folder, or an s3:// URL on ``s3``
    pipelines_dir: Path
    s3: S3Server | None = None

    def env(self) -> dict[str, str]:
        """dlt's own configuration keys, as a scheduler would set them."""
        env = {
            "DESTINATION_NAME": "ducklake",
            "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": self.catalog,
            "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL": str(self.data),
        }
        if self.s3 is not None:
            keys = "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__CREDENTIALS__"
            env |= {
                f"{keys}AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                f"{keys}AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                f"{keys}REGION_NAME": REGION,
                f"{keys}ENDPOINT_URL": self.s3.endpoint,
            }
        return env

    def reader_setup(self) -> list[str]:
        """What a reader runs before attaching: the S3 secret of a lake in a bucket (what the
        README tells analysts to create), nothing for a folder."""
        if self.s3 is None:
            return []
        endpoint = self.s3.endpoint.removeprefix("http://")
        return [
            f"CREATE SECRET (TYPE S3, KEY_ID '{ACCESS_KEY_ID}', SECRET '{SECRET_ACCESS_KEY}', "
            f"REGION '{REGION}', ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
        ]

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
        return attach(conn, self.catalog, self.reader_setup())[0]

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


def attach(
    conn: duckdb.DuckDBPyConnection, catalog: str, setup: list[str]
) -> tuple[duckdb.DuckDBPyConnection, int | None]:
    """``conn`` with the lake attached at its published snapshot, after ``setup`` (a secret):
    httpfs is loaded for a lake in a bucket only."""
    remote = bool(setup)
    if remote:  # CREATE SECRET (TYPE S3) needs httpfs loaded first
        for statement in load_statements(remote_storage=True):
            conn.execute(statement)
    for statement in setup:
        conn.execute(statement)
    return conn, attach_reader(conn, catalog, remote_storage=remote)


def make_lake(postgres_dsn: str, folder: Path) -> Lake:
    return Lake(postgres_dsn, folder / "lake-data", folder / "lake-pipelines")


def make_s3_lake(postgres_dsn: str, folder: Path, s3: S3Server, bucket: str) -> Lake:
    """A lake whose data are in ``bucket`` (under a prefix, as a team's bucket would hold it)."""
    return Lake(postgres_dsn, f"s3://{bucket}/hostedsuite-lake", folder / "lake-pipelines", s3)


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
