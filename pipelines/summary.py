"""The closing summary: the lines printed for a run's step results, kept apart from the steps.

``summary_lines(results)`` renders each result in order; a failed run prints the results that
had committed the same way, before its one ``error:`` line.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch

from pipelines.hostedsuite.settings import CALLS_TABLE
from pipelines.plan import LinesResult, StepResult
from pipelines.results import BackfillResult, LoadResult, VerifyResult
from pipelines.steps.report import ReportStepResult
from pipelines.steps.transform import TransformStepResult
from transforms import format_summary

UNKNOWN_CENTER_LINES = 50  # calls of an unknown center listed by verify, at most


def summary_lines(results: Iterable[StepResult]) -> list[str]:
    return [line for result in results for line in lines(result)]


@singledispatch
def lines(result: StepResult) -> list[str]:
    """A step whose result has nothing to say."""
    return []


@lines.register
def _load(result: LoadResult) -> list[str]:
    out = [f"done in {result.seconds:.1f} s"]
    if len(result.batch_calls) > 1:
        out.append(
            f"loaded in {len(result.batch_calls)} batches of up to "
            f"{max(result.batch_calls):,} calls, each committed"
        )
    if result.finished_pending:
        out.append("finished a pending load package from an interrupted run first")
    for table, rows in sorted(result.row_counts.items()):
        out.append(f"  {table:<32} {rows:>10,} rows")
    if result.unchanged_calls:
        out.append(f"re-read and unchanged (not rewritten): {result.unchanged_calls:,} calls")
    if result.compared:
        out.append(
            f"calls read: {result.calls_read:,} (new {result.new_calls:,}, changed "
            f"{result.changed_calls:,}, unchanged {result.unchanged_calls:,})"
        )
    if not result.row_counts.get(CALLS_TABLE):
        out.append("no calls found in the range read (yet)")
    out.append(f"cursor (complete through): {result.complete_through or '-'}")
    out.append(f"newest call start:         {result.newest_call_start or '-'}")
    if result.unknown_center_calls:
        out.append(
            f"calls with an unknown center: {result.unknown_center_calls:,} "
            f"(read in {result.unknown_center_zone}; see dq_issues)"
        )
    return out


@lines.register
def _backfill(result: BackfillResult) -> list[str]:
    span = f"backfill {result.start}..{result.end} (UTC, end excluded)"
    if result.already_loaded:
        return [f"{span}: already loaded: nothing to do (use --force to re-read)"]
    return [f"{span}: {result.windows} windows", *_load(result)]


@lines.register
def _transform(result: TransformStepResult) -> list[str]:
    if result.result is None:
        return ["transforms: nothing to build yet (no calls have been loaded)"]
    return list(format_summary(result.result))


@lines.register
def _verify(result: VerifyResult) -> list[str]:
    differing = result.differing
    out = [
        f"verify {result.first}..{result.last}: {len(result.days)} center-days checked, "
        f"{len(differing)} differ"
    ]
    out += [
        f"  {r.center_id} {r.local_date}: api {r.api_count}, warehouse {r.warehouse_local} "
        f"({r.status})"
        for r in differing
    ]
    out.append(f"complete up to: {result.complete_through or '-'} (analytics.load_health)")
    orphans = result.unknown_center_calls
    if orphans:
        # Not a difference (the API cannot count them per center), but worth a look.
        out.append(
            f"calls with an unknown center: {len(orphans)} "
            f"(read in {result.default_zone}; not in the counts above)"
        )
        shown = orphans[:UNKNOWN_CENTER_LINES]
        out += [f"  {call_id} center {center_id!r}" for call_id, center_id in shown]
        if len(orphans) > len(shown):
            out.append(f"  ... and {len(orphans) - len(shown)} more (dq_issues says which)")
    return out


@lines.register
def _lines(result: LinesResult) -> list[str]:
    return list(result.lines)


@lines.register
def _report(result: ReportStepResult) -> list[str]:
    return [*result.notes, *([result.report.line()] if result.report else [])]
