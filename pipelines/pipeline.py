"""The dlt pipeline a run writes with: building it for a destination, its state, and its lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
import filelock

from pipelines.config import DATASET_NAME, DEFAULT_PIPELINES_DIR, PIPELINE_NAME, use_code_defaults
from pipelines.destinations import Destination, configured_destination
from pipelines.errors import ExitCode, RunError


def make_pipeline(destination: Destination, pipelines_dir: str | None) -> dlt.Pipeline:
    """The pipeline for ``destination``, after its checks (nothing is written before them)."""
    use_code_defaults()
    destination.check()
    target = destination.dlt_destination()
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=target,
        dataset_name=DATASET_NAME,
        # absolute: a run works in its project folder (project.py), and the summary names it
        pipelines_dir=str(Path(pipelines_dir or DEFAULT_PIPELINES_DIR).absolute()),
    )


def open_pipeline(duckdb_file: str | None, pipelines_dir: str | None) -> dlt.Pipeline:
    """The configured destination's pipeline (``duckdb_file``: the DuckDB file, if DuckDB):
    for code that has no plan, such as tests and the benchmark."""
    use_code_defaults()
    return make_pipeline(configured_destination(duckdb_file), pipelines_dir)


def cursor_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The ``calls`` resource state: ``complete_through``, ``newest_call_start``, ``backfills``."""
    sources = pipeline.state.get("sources", {})
    state: dict[str, Any] = sources.get("hostedsuite", {}).get("resources", {}).get("calls", {})
    return state


def current_health(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The pipeline's last successful load and cursor, for ``analytics.load_health``."""
    state = cursor_state(pipeline)
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql(
            f"SELECT max(inserted_at) FROM {pipeline.dataset_name}._dlt_loads WHERE status = 0"
        )
    return {
        "pipeline_name": pipeline.pipeline_name,
        "last_successful_load_at": rows[0][0] if rows else None,
        "newest_call_start": state.get("newest_call_start"),
        "complete_through": state.get("complete_through"),
    }


@contextmanager
def run_lock(pipeline: dlt.Pipeline, wait_seconds: float) -> Iterator[None]:
    """One run per pipeline at a time; dlt has no lock of its own."""
    Path(pipeline.pipelines_dir).mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(
        str(Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.run.lock")
    )
    try:
        lock.acquire(timeout=wait_seconds)
    except filelock.Timeout:
        raise RunError(
            ExitCode.LOCKED,
            f"another run of pipeline '{pipeline.pipeline_name}' is in progress "
            f"(waited {wait_seconds:g} s); try again later",
        ) from None
    try:
        yield
    finally:
        lock.release()
