"""Test-only driver: runs the real ``hostedsuite load`` and SIGKILLs itself at a chosen point.

Kill points are hooked on the code paths themselves, not timed with sleeps:
- ``extract``: after the third page was converted (dlt's extract is mid-way);
- ``after_normalize``: extract and normalize done, nothing loaded (a pending package);
- ``load``: after the first load job copied its file into DuckDB (or PostgreSQL);
- ``transforms``: when the transforms start building ``analytics.fct_calls`` (full rebuild) or
  replacing its rows (incremental refresh);
- ``second_batch``: in the extract of the second batch of a long load or backfill;
- ``second_slice``: when a full rebuild in slices (DuckDB) starts the second slice's rows of
  ``analytics.fct_calls`` (the first slice is committed);
- ``publish``: half-way through copying the warehouse into the serving copy's temporary file;
- ``publish_update``: when an earlier generation of the serving copy has had its changed rows
  replaced, before that transaction commits.

``hold:<point>`` (``transforms`` or ``publish``) pauses the run there instead of killing it: the
driver creates ``$HOLD_DIR/held`` and goes on once ``$HOLD_DIR/release`` exists, so that a test
can show what other processes do while a run is at that point.

Usage: python -m tests.pipeline.crash_driver [hold:]<point> <cli args...>
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient
from dlt.destinations.insert_job_client import InsertValuesLoadJob

import pipelines.hostedsuite.source as source_module  # patched: the name the source calls
from pipelines import hostedsuite_pipeline as cli
from pipelines import serving, serving_delta
from pipelines.destinations import kind_of
from pipelines.privacy import configured_policy
from pipelines.steps import backfill as backfill_step
from pipelines.steps import load as load_step


def patch_load_batch(replacement: Any) -> None:
    """``load_batch`` is called by the incremental loop and by the backfill step."""
    load_step.load_batch = replacement
    backfill_step.load_batch = replacement  # type: ignore[attr-defined]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hold() -> None:
    """Says it is held, then waits for the test's release (killed if it never comes)."""
    folder = Path(os.environ["HOLD_DIR"])
    (folder / "held").touch()
    deadline = time.monotonic() + 600
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            die()
        time.sleep(0.05)


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
        source = load_step.source_for(pipeline, source_kwargs, configured_policy())
        pipeline.extract(source, loader_file_format=file_format)
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


def kill_during_transforms(stop: Callable[[], None] = die) -> None:
    for client in (DuckDbSqlClient, Psycopg2SqlClient):
        _stop_on_fct_calls(client, stop)


def _stop_on_fct_calls(client: Any, stop: Callable[[], None]) -> None:
    original = client.execute_sql

    def execute_or_die(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(sql)
        # DuckDB replaces the table; PostgreSQL drops and creates it
        starts = ("CREATE OR REPLACE TABLE", "CREATE TABLE", "DELETE FROM")
        if text.startswith(tuple(f"{start} analytics.fct_calls" for start in starts)):
            stop()
        return original(self, sql, *args, **kwargs)

    client.execute_sql = execute_or_die


def kill_in_second_slice() -> None:
    original = DuckDbSqlClient.execute_sql
    slices = {"n": 0}

    def execute_or_die(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
        if str(sql).startswith("INSERT INTO analytics.fct_calls"):
            slices["n"] += 1
            if slices["n"] == 2:
                die()
        return original(self, sql, *args, **kwargs)

    DuckDbSqlClient.execute_sql = execute_or_die  # type: ignore[method-assign]


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

    serving.copy_file = copy_half_then_die  # type: ignore[attr-defined]


def kill_while_updating() -> None:
    def updated_then_die(*args: Any) -> Any:
        die()

    # called after every table's rows were replaced, before the commit
    serving_delta.differing_counts = updated_then_die  # type: ignore[attr-defined,assignment]


def hold_before_publishing() -> None:
    original = serving_delta.mark

    def hold_then_mark(*args: Any) -> Any:
        hold()
        return original(*args)

    serving_delta.mark = hold_then_mark  # type: ignore[assignment]


HOLDS = {
    "hold:transforms": lambda: kill_during_transforms(hold),
    "hold:publish": hold_before_publishing,
}
POINTS = {
    "publish": kill_while_publishing,
    "publish_update": kill_while_updating,
    "second_batch": kill_in_second_batch,
    "second_slice": kill_in_second_slice,
    "extract": kill_during_extract,
    "after_normalize": kill_after_normalize,
    "load": kill_during_load,
    "transforms": kill_during_transforms,
}

if __name__ == "__main__":
    {**POINTS, **HOLDS}[sys.argv[1]]()
    sys.exit(cli.main(sys.argv[2:]))
