"""Test-only driver: runs the real ``hostedsuite load`` and SIGKILLs itself at a chosen point.

Kill points are hooked on the code paths themselves, not timed with sleeps:
- ``extract``: after the third page was converted (dlt's extract is mid-way);
- ``after_normalize``: extract and normalize done, nothing loaded (a pending package);
- ``load``: after the first load job copied its file into DuckDB (or PostgreSQL);
- ``transforms``: when the transforms start building ``analytics.fct_calls`` (full rebuild) or
  replacing its rows (incremental refresh);
- ``second_batch``: in the extract of the second batch of a long load or backfill;
- ``publish``: half-way through copying the warehouse into the serving copy's temporary file.

Usage: python -m tests.pipeline.crash_driver <point> <cli args...>
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient
from dlt.destinations.insert_job_client import InsertValuesLoadJob

import pipelines.hostedsuite as source_module  # patched: the name the source calls
from pipelines import hostedsuite_pipeline as cli
from pipelines import serving
from pipelines.destinations import kind_of
from pipelines.steps import backfill as backfill_step
from pipelines.steps import load as load_step


def patch_load_batch(replacement: Any) -> None:
    """``load_batch`` is called by the incremental loop and by the backfill step."""
    load_step.load_batch = replacement
    backfill_step.load_batch = replacement  # type: ignore[attr-defined]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_during_extract() -> None:
    original = source_module.page_to_tables  # type: ignore[attr-defined]
    calls = {"n": 0}

    def page_then_die(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            die()
        return original(*args, **kwargs)

    source_module.page_to_tables = page_then_die  # type: ignore[attr-defined]


def kill_after_normalize() -> None:
    def extract_normalize_then_die(pipeline: dlt.Pipeline, source_kwargs: dict[str, Any]) -> Any:
        load_step.finish_pending(pipeline)
        file_format = kind_of(pipeline).loader_file_format
        pipeline.extract(source_module.hostedsuite(**source_kwargs), loader_file_format=file_format)
        pipeline.normalize()
        die()

    patch_load_batch(extract_normalize_then_die)


def kill_during_load() -> None:
    # PostgreSQL loads INSERT statements; DuckDB may use them for dlt's own tables, which
    # would move its kill point
    postgres = os.environ.get("DESTINATION_NAME") == "postgres"
    _die_after(InsertValuesLoadJob if postgres else DuckDbCopyJob)


def _die_after(job: Any) -> None:
    original = job.run

    def run_then_die(self: Any) -> None:
        original(self)
        die()

    job.run = run_then_die


def kill_during_transforms() -> None:
    for client in (DuckDbSqlClient, Psycopg2SqlClient):
        _die_on_fct_calls(client)


def _die_on_fct_calls(client: Any) -> None:
    original = client.execute_sql

    def execute_or_die(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(sql)
        # DuckDB replaces the table; PostgreSQL drops and creates it
        starts = ("CREATE OR REPLACE TABLE", "CREATE TABLE", "DELETE FROM")
        if text.startswith(tuple(f"{start} analytics.fct_calls" for start in starts)):
            die()
        return original(self, sql, *args, **kwargs)

    client.execute_sql = execute_or_die


def kill_in_second_batch() -> None:
    original = load_step.load_batch
    batches = {"n": 0}

    def run_or_die(*args: Any, **kwargs: Any) -> Any:
        batches["n"] += 1
        if batches["n"] == 2:
            kill_during_extract()
        return original(*args, **kwargs)

    patch_load_batch(run_or_die)


def kill_while_publishing() -> None:
    def copy_half_then_die(source: Any, target: Any) -> None:
        with open(source, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read(os.path.getsize(source) // 2))
            dst.flush()
            os.fsync(dst.fileno())
        die()

    serving._copy_file = copy_half_then_die


POINTS = {
    "publish": kill_while_publishing,
    "second_batch": kill_in_second_batch,
    "extract": kill_during_extract,
    "after_normalize": kill_after_normalize,
    "load": kill_during_load,
    "transforms": kill_during_transforms,
}

if __name__ == "__main__":
    POINTS[sys.argv[1]]()
    sys.exit(cli.main(sys.argv[2:]))
