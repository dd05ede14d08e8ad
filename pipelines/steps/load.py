"""The load step: the source into the warehouse, in committed batches, up to a point in time.

A batch is one dlt run (extract, normalize, load) of about ``calls_per_load`` calls, committed
with its cursor. An interrupted run's pending package is loaded first, since dlt's ``run()``
would stop after doing only that. The first batch re-reads the look-back; the following ones
continue exactly at the cursor the previous batch committed. A scheduled run is one batch; a
first run over months of history is several: memory stays flat, and a killed run resumes where
it stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import dlt
import pendulum

from pipelines.config import configured_lookback_hours
from pipelines.destinations import kind_of
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.privacy import ErasureList, PrivacyPolicy
from pipelines.hostedsuite.settings import (
    CALLS_TABLE,
    CONTENT_HASH_COLUMN,
    DEFAULT_CALLS_PER_LOAD,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
)
from pipelines.hostedsuite.source import (
    CHANGED_CALLS_STATE,
    NEW_CALLS_STATE,
    PRIVACY_STATE,
    UNCHANGED_CALLS_STATE,
    UNKNOWN_CENTER_STATE,
    hostedsuite,
)
from pipelines.hostedsuite.windows import parse_instant
from pipelines.pipeline import cursor_state
from pipelines.plan import RunContext
from pipelines.privacy import (
    POLICY_TABLE,
    check_unchanged,
    configured_policy,
    erasure_list,
    has_table,
    record_policy,
    stored_policy,
    table_columns,
)
from pipelines.reconcile import DELETED_COLUMN
from pipelines.results import LoadResult

logger = logging.getLogger("hostedsuite")

# At most this many calls expected: a run holds one DuckDB connection (see is_small_run).
HELD_CONNECTION_MAX_CALLS = 20_000


@dataclass(frozen=True)
class LoadIncremental:
    """``hostedsuite load``: from the cursor (minus the look-back) up to ``until``."""

    until: str | None = None
    workers: int | None = None
    name: str = "load"

    def run(self, context: RunContext) -> LoadResult:
        _, pipeline = context.writer()
        kwargs: dict[str, Any] = dict(context.source_kwargs)
        if self.until:
            kwargs["until"] = self.until
        if self.workers:
            kwargs["workers"] = self.workers
        return load_incremental(pipeline, kwargs)


def load_incremental(pipeline: dlt.Pipeline, source_kwargs: dict[str, Any]) -> LoadResult:
    """An incremental run up to ``until`` (default: now), in batches (see the module)."""
    started = time.perf_counter()
    until = source_kwargs.get("until") or pendulum.now("UTC").replace(microsecond=0)
    target = parse_instant(until, "until")
    assert target is not None
    kwargs = {**source_kwargs, "until": target.to_iso8601_string()}
    if not kwargs.get("calls_per_load"):
        configured = dlt.config.get("sources.hostedsuite.calls_per_load", int)
        kwargs["calls_per_load"] = configured or DEFAULT_CALLS_PER_LOAD
    result = LoadResult("load")
    previous = None
    while True:
        result = result.plus(load_batch(pipeline, kwargs))
        cursor = parse_instant(cursor_state(pipeline).get("complete_through"), "cursor")
        if cursor is None or cursor >= target:
            break
        if previous is not None and cursor <= previous:
            raise RunError(ExitCode.FAILED, "load made no progress; see the log above")
        logger.info("committed through %s; loading the next batch", cursor.to_iso8601_string())
        previous = cursor
        kwargs["lookback_hours"] = 0  # the batch just committed needs no re-read
    return result.finished(cursor_state(pipeline), time.perf_counter() - started)


def load_batch(pipeline: dlt.Pipeline, source_kwargs: dict[str, Any]) -> LoadResult:
    """One load package: a pending package first, then extract/normalize/load the source."""
    finished_pending = finish_pending(pipeline)
    policy = configured_policy()
    # None (dlt's own default, typed without it): each item format in its native file format
    file_format = kind_of(pipeline).loader_file_format
    pipeline.run(source_for(pipeline, source_kwargs, policy), loader_file_format=file_format)  # type: ignore[arg-type]
    if pipeline.default_schema_name and not _has_policy_record(pipeline):
        with pipeline.sql_client() as sql:
            record_policy(sql, pipeline.dataset_name, policy)
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = real_row_counts(normalize_info.row_counts) if normalize_info else {}
    state = cursor_state(pipeline)
    unknown = state.get(UNKNOWN_CENTER_STATE) or {}
    return LoadResult(
        "load",
        counts,
        finished_pending=finished_pending,
        batch_calls=(counts.get(CALLS_TABLE, 0),),
        unknown_center_calls=int(unknown.get("calls") or 0),
        unknown_center_zone=unknown.get("zone"),
        unchanged_calls=int(state.get(UNCHANGED_CALLS_STATE) or 0),
        changed_calls=int(state.get(CHANGED_CALLS_STATE) or 0),
        new_calls=int(state.get(NEW_CALLS_STATE) or 0),
    )


def source_for(pipeline: dlt.Pipeline, source_kwargs: dict[str, Any], policy: PrivacyPolicy) -> Any:
    """The source of one batch into ``pipeline``: what the warehouse holds (to rewrite only the
    calls that changed), the privacy ``policy``, and the erasure list the warehouse keeps."""
    return hostedsuite(
        **source_kwargs,
        stored_hashes=lambda start, end: stored_call_hashes(pipeline, start, end),
        privacy=policy,
        erased=lambda: checked_privacy(pipeline, policy),
    )


def checked_privacy(pipeline: dlt.Pipeline, policy: PrivacyPolicy) -> ErasureList:
    """Refuses a ``policy`` other than the one the warehouse was loaded under; returns its
    erasure list. Called by the source once dlt has synced the pipeline with the warehouse."""
    if not pipeline.default_schema_name:
        return ErasureList()  # nothing loaded yet
    with pipeline.sql_client() as sql:
        in_state = cursor_state(pipeline).get(PRIVACY_STATE)
        check_unchanged(stored_policy(sql, pipeline.dataset_name, in_state), policy)
        return erasure_list(sql, pipeline.dataset_name, policy)


def _has_policy_record(pipeline: dlt.Pipeline) -> bool:
    with pipeline.sql_client() as sql:
        return has_table(sql, pipeline.dataset_name, POLICY_TABLE)


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Loads what an interrupted run left behind; dlt's run() would stop after doing only this."""
    if not pipeline.has_pending_data:
        return False
    logger.info("finishing the pending load package of an interrupted run")
    pipeline.normalize()
    pipeline.load()
    return True


def stored_call_hashes(
    pipeline: dlt.Pipeline, start: pendulum.DateTime, end: pendulum.DateTime
) -> dict[str, str]:
    """``content_hash`` of each call in the warehouse starting in [start, end); "" for a call
    stored without one (before the column existed: its first re-read rewrites it once)."""
    if not pipeline.default_schema_name:
        return {}
    columns = pipeline.default_schema.tables.get(CALLS_TABLE, {}).get("columns", {})
    if "id" not in columns:
        return {}
    digest = f"coalesce({CONTENT_HASH_COLUMN}, '')" if CONTENT_HASH_COLUMN in columns else "''"
    with pipeline.sql_client() as client:
        calls = client.make_qualified_table_name(CALLS_TABLE)
        # a call marked deleted upstream is rewritten when it is read again: that un-marks it
        marked = DELETED_COLUMN in table_columns(client, pipeline.dataset_name, CALLS_TABLE)
        live = f" and coalesce({DELETED_COLUMN}, false) = false" if marked else ""
        rows = client.execute_sql(
            f"select id, {digest} from {calls} "
            f"where start_time >= cast('{start.to_iso8601_string()}' as timestamp with time zone) "
            f"and start_time < cast('{end.to_iso8601_string()}' as timestamp with time zone)"
            f"{live}"
        )
    return {str(call_id): str(digest) for call_id, digest in rows or []}


def real_row_counts(row_counts: dict[str, int]) -> dict[str, int]:
    """Rows per table without dlt's own tables and without the child tables' tombstones
    (one per call in each child table; they are deleted by the merge, never stored)."""
    counts = {t: n for t, n in row_counts.items() if not t.startswith("_dlt")}
    for child in (INTERACTIONS_TABLE, FORMS_TABLE):
        if child in counts:
            counts[child] -= counts.get(CALLS_TABLE, 0)
    return counts


def is_small_run(pipeline: dlt.Pipeline, until: str | None) -> bool:
    """Whether an incremental run up to ``until`` (default now) writes few calls: the previous
    runs measured the density, and the look-back plus the time since the cursor holds at most
    ``HELD_CONNECTION_MAX_CALLS`` calls at that density. A scheduled run is; a first load, a
    long catch-up is not."""
    state = cursor_state(pipeline)
    cursor = parse_instant(state.get("complete_through"), "cursor")
    density = state.get("calls_per_hour")
    if cursor is None or density is None:
        return False
    end = parse_instant(until, "until") or pendulum.now("UTC")
    hours = (end - cursor).total_seconds() / 3600 + configured_lookback_hours()
    return float(density) * hours <= HELD_CONNECTION_MAX_CALLS
