"""The DuckDB warehouse's serving copy for analysts: which file, how often, and the summary line.

``pipelines/serving.py`` publishes (update or copy, stamp, link) and knows nothing of dlt; this
module reads the ``[serving]`` configuration and hands it the pipeline's connection and the
health to stamp. With publishing off, the transforms' refresh log is pruned here instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import dlt
import pendulum
from dlt.destinations.exceptions import DatabaseException

from pipelines.config import checked_setting, configured_text
from pipelines.errors import ExitCode, RunError
from pipelines.serving import (
    NotAServingCopy,
    PublishError,
    PublishSchedule,
    check_serving_target,
    default_serving_path,
    publish,
)
from transforms import scope_log

logger = logging.getLogger("hostedsuite")

# The [serving] settings this module reads (and the only ones: see pipelines/known_settings.py).
SERVING_PATH: Final = "serving.path"
SERVING_EVERY_N_RUNS: Final = "serving.every_n_runs"
SERVING_SETTINGS: Final = (SERVING_PATH, SERVING_EVERY_N_RUNS)


@dataclass(frozen=True)
class ServingTarget:
    """Where the serving copy of a DuckDB warehouse goes, and how often."""

    warehouse: Path
    path: Path
    every_n_runs: int = 1


def serving_target(warehouse: str, override: str | None = None) -> ServingTarget | None:
    """``[serving] path`` (env ``SERVING__PATH``), default beside the warehouse; an empty value
    turns publishing off."""
    configured = override if override is not None else configured_text(SERVING_PATH)
    if configured == "":
        return None
    # absolute: the summary names the file, and a relative setting means a path in the project
    path = (Path(configured) if configured else default_serving_path(warehouse)).absolute()
    if path.resolve() == Path(warehouse).resolve():
        raise RunError(ExitCode.BAD_CONFIG, f"[serving] path must not be the warehouse: {path}")
    every = checked_setting(SERVING_EVERY_N_RUNS, int, "must be >= 1", lambda n: n >= 1)
    return ServingTarget(Path(warehouse), path, every or 1)


def check_serving_copy(target: ServingTarget) -> None:
    """Refuses, before a run writes anything, a serving path that holds something other than
    a serving copy this pipeline published (``serving.check_serving_target``)."""
    try:
        check_serving_target(target.path)
    except NotAServingCopy as exc:
        raise RunError(ExitCode.BAD_CONFIG, str(exc)) from None


def publish_copy(
    pipeline: dlt.Pipeline, target: ServingTarget, health: dict[str, Any], now: bool = False
) -> list[str]:
    """Publishes the serving copy after a run that changed the warehouse (under the run lock);
    ``now``: even when ``every_n_runs`` would skip this run, as a whole copy, deleting every
    older generation.

    Raises ``RunError(PUBLISH)`` when it fails: the run has committed; the next run publishes
    again, even when ``every_n_runs`` would skip it.
    """
    schedule = PublishSchedule(
        Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.serving.json",
        target.every_n_runs,
    )
    if not now and not schedule.due(target.path):
        schedule.skipped()
        return [
            f"serving: {target.path}  (not republished: every {target.every_n_runs} runs, "
            f"next in {schedule.runs_until_due()})"
        ]
    logger.info("publishing the serving copy %s", target.path)
    try:
        with pipeline.sql_client() as sql:
            published = publish(
                target.warehouse,
                target.path,
                sql,
                pipeline.dataset_name,
                health=health,
                now=lambda: pendulum.now("UTC"),
                full=now,
            )
    except NotAServingCopy as exc:
        schedule.record(ok=False)
        raise RunError(ExitCode.BAD_CONFIG, f"{exc}; the run itself committed") from None
    except PublishError as exc:
        schedule.record(ok=False)
        raise RunError(
            ExitCode.PUBLISH, f"{exc}; the run itself committed, the next run publishes again"
        ) from None
    except DatabaseException as exc:
        # the update of an earlier generation runs on dlt's client, which wraps DuckDB's errors
        schedule.record(ok=False)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(
            ExitCode.PUBLISH,
            f"cannot publish the serving copy {target.path}: {first}; the run itself "
            "committed, the next run publishes again",
        ) from None
    schedule.record(ok=True)
    return [published.line()]


def prune_refresh_log(pipeline: dlt.Pipeline) -> None:
    """With publishing off no generation needs the refresh log (``transforms/scope_log.py``):
    all but its newest line goes, so it does not grow run after run."""
    with pipeline.sql_client() as sql:
        scope_log.prune(sql, None)
