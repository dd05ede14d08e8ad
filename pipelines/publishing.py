"""Publishing the analysts' serving copy after a run: which file, when, and the summary line.

``serving.py`` does the file work (checkpoint, copy, rename) and knows nothing of dlt; this
module reads the ``[serving]`` configuration and gives it the pipeline's connection and state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pendulum

from pipelines.operations import CliError, ExitCode, cursor_state
from pipelines.serving import (
    NotAServingCopy,
    PublishError,
    PublishSchedule,
    default_serving_path,
    publish,
)

logger = logging.getLogger("hostedsuite")


@dataclass(frozen=True)
class ServingTarget:
    """Where the serving copy of a DuckDB warehouse goes, and how often."""

    warehouse: Path
    path: Path
    every_n_runs: int = 1


def serving_target(warehouse: str | None, override: str | None = None) -> ServingTarget | None:
    """``[serving] path`` (env ``SERVING__PATH``), default beside the warehouse; an empty value
    turns publishing off; None for destinations other than a DuckDB file.

    Read with ``dlt.config.get`` on the full key: a ``path`` argument injected by
    ``with_config`` would fall back to the ``PATH`` environment variable when unset.
    """
    if warehouse is None:
        return None
    configured = override if override is not None else dlt.config.get("serving.path", str)
    if configured == "":
        return None
    path = Path(configured) if configured else default_serving_path(warehouse)
    if path.resolve() == Path(warehouse).resolve():
        raise CliError(ExitCode.BAD_CONFIG, f"[serving] path must not be the warehouse: {path}")
    every = dlt.config.get("serving.every_n_runs", int)
    if every is not None and every < 1:
        raise CliError(ExitCode.BAD_CONFIG, f"[serving] every_n_runs must be >= 1, got {every}")
    return ServingTarget(Path(warehouse), path, every or 1)


def publish_step(pipeline: dlt.Pipeline, target: ServingTarget | None) -> list[str]:
    """Publishes the serving copy after a run that changed the warehouse (under the run lock).

    Raises ``CliError(PUBLISH)`` when it fails: the run has committed; the next run publishes
    again, even when ``every_n_runs`` would skip it.
    """
    if target is None:
        return _no_copy_line(pipeline)
    schedule = PublishSchedule(
        Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.serving.json",
        target.every_n_runs,
    )
    if not schedule.due(target.path):
        schedule.skipped()
        return [
            f"serving: {target.path}  (not republished: every {target.every_n_runs} runs, "
            f"next in {schedule.runs_until_due()})"
        ]
    logger.info("publishing the serving copy %s", target.path)
    try:
        published = publish(
            target.warehouse,
            target.path,
            checkpoint=lambda: _checkpoint(pipeline),
            health=load_health_fields(pipeline),
            now=lambda: pendulum.now("UTC"),
        )
    except NotAServingCopy as exc:
        schedule.record(ok=False)
        raise CliError(ExitCode.BAD_CONFIG, f"{exc}; the run itself committed") from None
    except PublishError as exc:
        schedule.record(ok=False)
        raise CliError(
            ExitCode.PUBLISH, f"{exc}; the run itself committed, the next run publishes again"
        ) from None
    schedule.record(ok=True)
    return [published.line()]


def _no_copy_line(pipeline: dlt.Pipeline) -> list[str]:
    # only a DuckDB file needs a copy for analysts; a server serves them itself
    destination = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    if destination == "duckdb":
        return []
    return [f"serving copy: skipped (the warehouse is a {destination} server: query it there)"]


def _checkpoint(pipeline: dlt.Pipeline) -> None:
    """Writes the WAL into the warehouse file, so that the file alone is the whole database."""
    with pipeline.sql_client() as sql:
        sql.execute_sql("CHECKPOINT")


def load_health_fields(pipeline: dlt.Pipeline) -> dict[str, Any]:
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


def with_published_copy(
    lines: list[str], pipeline: dlt.Pipeline, target: ServingTarget | None
) -> list[str]:
    """``lines`` plus the publish line; on a failed publish the lines still reach the user."""
    if pipeline.destination.destination_type.endswith("ducklake"):
        # No serving copy of a lake: its readers attach it at the snapshot this run publishes.
        from pipelines.ducklake import publish_snapshot

        return [*lines, *publish_snapshot(pipeline, load_health_fields(pipeline))]
    try:
        return [*lines, *publish_step(pipeline, target)]
    except CliError as exc:
        exc.lines = [*lines, *exc.lines]
        raise
