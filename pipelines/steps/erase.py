"""The erase step: one caller out of the raw tables, the marts, the pipeline folder and the
destination's files (``pipelines/erasure.py``); the plan publishes at once after it.

Idempotent: a second erasure of the same caller finds nothing more, lists nothing new, and
purges again (so a run killed between the deletes and the purge is finished by a rerun).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dlt

from pipelines.destinations import Destination
from pipelines.erasure import Erased, ErasureRequest, delete_completed_packages, erase_caller
from pipelines.plan import LinesResult, RunContext
from pipelines.privacy import configured_key, configured_policy
from pipelines.report_registry import reports_before
from pipelines.steps.load import finish_pending
from pipelines.steps.transform import transform
from transforms import RawTablesMissing


@dataclass(frozen=True)
class EraseResult(LinesResult):
    """What the erasure changed, as summary lines (counts and paths, never the caller)."""


@dataclass(frozen=True)
class Erase:
    request: ErasureRequest
    name: str = "erase"

    def run(self, context: RunContext) -> EraseResult:
        destination, pipeline = context.writer()
        started = datetime.now(UTC)
        configured_key("erase (its erasure list holds keyed hashes only)")
        policy = configured_policy()
        # a package an interrupted run left would land the caller's rows after the erasure
        finish_pending(pipeline)
        with pipeline.sql_client() as sql, sql.begin_transaction():
            erased = erase_caller(sql, pipeline.dataset_name, self.request, policy)
        lines = [*_counts(erased), *rebuild_and_purge(destination, pipeline)]
        lines += reports_lines(destination.report_database(), started)
        return EraseResult(self.name, tuple(lines))


def rebuild_and_purge(destination: Destination, pipeline: dlt.Pipeline) -> list[str]:
    """After rows were deleted or overwritten in the raw tables: the marts rebuilt from what
    remains, dlt's completed load packages deleted, the destination's files purged."""
    lines = []
    try:
        transform(pipeline, type(destination), full=True)
        lines.append("analytics: rebuilt in full from the remaining raw rows")
    except RawTablesMissing:
        lines.append("analytics: nothing to rebuild (no calls loaded)")
    packages = delete_completed_packages(Path(pipeline.pipelines_dir), pipeline.pipeline_name)
    lines.append(f"pipeline folder: {packages} completed load packages deleted")
    return [*lines, *destination.purge(pipeline)]


def reports_lines(db: Path | None, started: datetime) -> list[str]:
    reports = reports_before(db, started)
    if not reports:
        return ["reports written before: none recorded"]
    return [
        f"reports written before (not edited; delete or rewrite them): {len(reports)}",
        *(f"  {path}" for path in reports),
    ]


def _counts(erased: Erased) -> list[str]:
    return [
        f"erase: {erased.calls:,} calls of the caller removed, with {erased.interactions:,} "
        f"interactions and {erased.forms:,} form ids",
        f"  quarantined records removed: {erased.quarantined:,}; dlt staging rows removed: "
        f"{erased.staging_rows:,}",
        f"  erasure list: {erased.listed:,} new keyed hashes (these calls never land again)",
    ]
