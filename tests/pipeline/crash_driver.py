"""Test-only driver: runs the real ``hostedsuite load`` and SIGKILLs itself at a chosen point.

Kill points are hooked on the code paths themselves, not timed with sleeps:
- ``extract``: after the third page was converted (dlt's extract is mid-way);
- ``after_normalize``: extract and normalize done, nothing loaded (a pending package);
- ``load``: after the first load job copied its file into DuckDB;
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

import pipelines.hostedsuite as source_module  # patched: the name the source calls
from pipelines import commands, operations, serving
from pipelines import hostedsuite_pipeline as cli


def patch_run_source(replacement: Any) -> None:
    """``run_source`` is called by the incremental loop and by the backfill command."""
    operations.run_source = replacement
    commands.run_source = replacement  # type: ignore[attr-defined]


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
    def extract_normalize_then_die(
        pipeline: dlt.Pipeline, source_kwargs: dict[str, Any], transform: Any = None
    ) -> Any:
        operations.finish_pending(pipeline)
        pipeline.extract(source_module.hostedsuite(**source_kwargs), loader_file_format="parquet")
        pipeline.normalize()
        die()

    patch_run_source(extract_normalize_then_die)


def kill_during_load() -> None:
    original = DuckDbCopyJob.run

    def run_then_die(self: DuckDbCopyJob) -> None:
        original(self)
        die()

    DuckDbCopyJob.run = run_then_die  # type: ignore[method-assign]


def kill_during_transforms() -> None:
    original = DuckDbSqlClient.execute_sql

    def execute_or_die(self: DuckDbSqlClient, sql: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(sql)
        if text.startswith(
            ("CREATE OR REPLACE TABLE analytics.fct_calls ", "DELETE FROM analytics.fct_calls ")
        ):
            die()
        return original(self, sql, *args, **kwargs)

    DuckDbSqlClient.execute_sql = execute_or_die  # type: ignore[method-assign]


def kill_in_second_batch() -> None:
    original = operations.run_source
    batches = {"n": 0}

    def run_or_die(*args: Any, **kwargs: Any) -> Any:
        batches["n"] += 1
        if batches["n"] == 2:
            kill_during_extract()
        return original(*args, **kwargs)

    patch_run_source(run_or_die)


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
