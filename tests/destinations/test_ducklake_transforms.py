"""The transforms on a DuckLake: the catalog behaviour the runner works around, and an
incremental refresh on the lake equal to a full rebuild of the same raw data.

Cheap on purpose: the raw tables come from fast in-process DuckDB loads and are copied into the
lake (``_dlt_load_id`` included, which is what the incremental refresh reads); the lake's own
loads are tested in ``test_ducklake.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from dlt.destinations.impl.ducklake.ducklake import DuckLakeClient, DuckLakeMergeFollowupJob
from dlt.destinations.sql_jobs import SqlMergeFollowupJob

from hostedsuite_emulator import Emulator
from pipelines.destinations.duckdb_merge import (
    DuckDbMergeJob,
    _original_dedup,
    use_duckdb_merge_corrections,
)
from pipelines.destinations.ducklake import load_statements
from tests.pipeline.loader import Loader
from transforms import DuckDBExecutor, MetricSettings, run_transforms
from transforms.project import RAW_TABLES

from .lake import differing_analytics


@pytest.fixture
def lake_conn(postgres_dsn: str, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the lake attached as ``lake`` and in use."""
    conn = duckdb.connect()
    for statement in load_statements(remote_storage=False):
        conn.execute(statement)
    conn.execute(
        f"ATTACH 'ducklake:postgres:{postgres_dsn}' AS lake "
        f"(DATA_PATH '{tmp_path / 'lake-data'}', METADATA_SCHEMA 'lake')"
    )
    conn.execute("USE lake")
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


def test_the_lake_hides_entries_written_between_two_writes_of_another(
    lake_conn: duckdb.DuckDBPyConnection,
) -> None:
    """Why incremental_build.py writes each lake entry once per transaction: DuckLake (ducklake
    extension 1.4.4.20260205) loses ``b`` until the commit. When this test fails, DuckLake fixed
    it."""
    lake_conn.execute("CREATE SCHEMA s")
    lake_conn.execute("BEGIN TRANSACTION")
    lake_conn.execute("CREATE OR REPLACE VIEW s.a AS SELECT 1 AS x")
    lake_conn.execute("CREATE TABLE s.b AS SELECT 2 AS y")
    assert lake_conn.execute("SELECT y FROM s.b").fetchall() == [(2,)]
    lake_conn.execute("CREATE OR REPLACE VIEW s.a AS SELECT 3 AS x")
    with pytest.raises(duckdb.CatalogException, match="b does not exist"):
        lake_conn.execute("SELECT y FROM s.b")
    lake_conn.execute("ROLLBACK")


def copy_raw(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """The DuckDB file's raw tables into the lake, in one transaction."""
    conn.execute(f"ATTACH '{warehouse}' AS duck (READ_ONLY)")
    conn.execute("CREATE SCHEMA IF NOT EXISTS hostedsuite")
    conn.execute("BEGIN TRANSACTION")
    for table in RAW_TABLES:
        conn.execute(
            f"CREATE OR REPLACE TABLE hostedsuite.{table} AS SELECT * FROM duck.hostedsuite.{table}"
        )
    conn.execute("COMMIT")
    conn.execute("DETACH duck")


def full_rebuild(warehouse: Path) -> Path:
    with duckdb.connect(str(warehouse)) as conn:
        run_transforms(DuckDBExecutor(conn), settings=MetricSettings(), full=True)
    return warehouse


def lake_copy(conn: duckdb.DuckDBPyConnection, target: Path) -> Path:
    conn.execute(f"ATTACH '{target}' AS copy")
    conn.execute("CREATE SCHEMA copy.analytics")
    tables = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' "
        "AND schema_name = 'analytics'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f"CREATE TABLE copy.analytics.{table} AS SELECT * FROM analytics.{table}")
    conn.execute("DETACH copy")
    return target


def test_incremental_refresh_on_a_lake_equals_a_full_rebuild(
    emulator_factory: Callable[..., Emulator],
    lake_conn: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(calls=400, seed=81, start="2024-03-04", days=14)
    duck = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "pipelines")
    lake = DuckDBExecutor(lake_conn)

    duck.load()
    copy_raw(lake_conn, duck.duckdb_path)
    assert run_transforms(lake).refresh == "full"

    # new calls, late edits, one call losing its forms and all interactions but one
    emulator.advance(minutes=90, new_calls=40)
    edited = emulator.edit_random(10)
    emulator.edit_call(
        edited[0],
        completed_form_ids=[],
        interactions=[{"offset_seconds": 0, "type": "Hangup", "description": "dropped"}],
    )
    duck.load()
    copy_raw(lake_conn, duck.duckdb_path)
    result = run_transforms(lake)
    assert result.refresh == "incremental" and result.calls_rebuilt >= 40
    interactions = lake_conn.execute(
        "SELECT interaction_count FROM analytics.fct_calls WHERE call_id = ?", [edited[0]]
    ).fetchall()
    assert interactions == [(1,)]
    # the lake's own views are untouched by the refresh: unrestricted, every call
    assert lake_conn.execute("SELECT count(*) FROM staging.stg_calls").fetchall() == [
        (len(emulator.truth().calls),)
    ]
    # a refresh with no raw call row loaded since the last: no call and no day redone
    quiet = run_transforms(lake)
    assert (quiet.refresh, quiet.calls_rebuilt, quiet.days_rebuilt) == ("incremental", 0, 0)
    assert (
        differing_analytics(
            lake_copy(lake_conn, tmp_path / "lake.duckdb"), full_rebuild(duck.duckdb_path)
        )
        == {}
    )


def test_the_duckdb_merge_tweak_leaves_a_lakes_merge_as_dlt_writes_it() -> None:
    """A DuckDB pipeline makes DuckDB's client merge with its corrected job; the DuckLake
    client (a subclass of DuckDB's) keeps its own merge job and dlt's own query, also in the
    same process."""
    use_duckdb_merge_corrections()
    assert "_create_merge_followup_jobs" in vars(DuckLakeClient)
    args = ("staging", ['"call_id"'], ['"call_id"', '"seq"'])
    lake_sql = DuckLakeMergeFollowupJob.gen_select_from_dedup_sql(*args)
    assert lake_sql == _original_dedup(DuckLakeMergeFollowupJob, *args)
    assert "_dlt_dups" not in lake_sql
    assert "_dlt_dups" in DuckDbMergeJob.gen_select_from_dedup_sql(*args)
    assert "_dlt_dups" not in SqlMergeFollowupJob.gen_select_from_dedup_sql(*args)
