"""Calls that disappear upstream: which calls of a range the API no longer returns.

HostedSuite reports no deletes. ``reconcile`` re-reads a range with the same paging as a load
(so the empty-page and truncated-body rules hold: a read that cannot be completed fails, and
nothing is marked), collects the ids of the calls that start in it, and compares them with the
warehouse's calls of the same range. Calls the API no longer returns are marked
``is_deleted = true`` with ``deleted_at`` (nothing is physically deleted); a marked call the API
returns again is un-marked. A scheduled load that re-reads a marked call rewrites its row,
which un-marks it too (the merge writes the loaded columns only).

The guard: an answer with far fewer calls than the warehouse holds looks like an outage, a
permission change on the API user or the vendor's retention, not like deletes, so it is refused
unless the operator confirms (and an empty answer is never taken without confirmation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pendulum
from dlt.destinations.sql_client import SqlClientBase

from pipelines import sql_literals as lit
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.client import HostedSuiteClient
from pipelines.hostedsuite.directory import CenterDirectory
from pipelines.hostedsuite.paging import CallsQuery, fetch_concurrently, iter_window_pages
from pipelines.hostedsuite.records import PageTables, page_to_tables
from pipelines.hostedsuite.settings import CALLS_TABLE
from pipelines.hostedsuite.windows import Window, split_windows
from pipelines.privacy import table_columns

DELETED_COLUMN: Final = "is_deleted"
DELETED_AT_COLUMN: Final = "deleted_at"
# More calls than this share of the range's (and more than MASS_MIN_CALLS) gone at once: refused
# without --confirm.
MASS_SHARE: Final = 0.10
MASS_MIN_CALLS: Final = 10
CHUNK: Final = 500


@dataclass(frozen=True)
class Reconciled:
    """One reconciliation of [start, end): counts, never ids."""

    api_calls: int
    warehouse_calls: int
    marked: int
    unmarked: int
    already_deleted: int


def api_call_ids(
    client: HostedSuiteClient,
    directory: CenterDirectory,
    start: pendulum.DateTime,
    end: pendulum.DateTime,
    window_hours: float,
    workers: int,
    query: CallsQuery,
) -> set[str]:
    """The ids of the calls the API serves that start in [start, end) (UTC)."""
    zones = directory.all_zones()
    loaded_at = pendulum.now("UTC")

    def fetch(window: Window) -> Iterator[PageTables]:
        seen: set[str] = set()
        for page in iter_window_pages(client, query, window, zones):
            yield page_to_tables(
                page, directory.zone_of, window, seen, loaded_at, directory.is_known
            )

    ids: set[str] = set()
    windows = split_windows(start, end, window_hours)
    for item in fetch_concurrently(windows, fetch, workers):
        if isinstance(item, PageTables):
            ids.update(str(i) for i in item.calls.column("id").to_pylist())
    return ids


def ensure_columns(sql: SqlClientBase[Any], dataset: str) -> None:
    """Adds ``is_deleted`` and ``deleted_at`` to the raw calls when they are missing."""
    have = table_columns(sql, dataset, CALLS_TABLE)
    for column, kind in ((DELETED_COLUMN, "BOOLEAN"), (DELETED_AT_COLUMN, "TIMESTAMPTZ")):
        if column not in have:
            sql.execute_sql(f"ALTER TABLE {dataset}.{CALLS_TABLE} ADD COLUMN {column} {kind}")


def warehouse_calls(
    sql: SqlClientBase[Any], dataset: str, start: datetime, end: datetime
) -> dict[str, bool]:
    """Call id -> whether it is marked deleted, for the stored calls starting in [start, end)."""
    rows = sql.execute_sql(
        f"SELECT id, coalesce({DELETED_COLUMN}, false) FROM {dataset}.{CALLS_TABLE} "
        f"WHERE start_time >= {lit.instant(start)} AND start_time < {lit.instant(end)}"
    )
    return {str(r[0]): bool(r[1]) for r in rows or []}


def check_guard(api: set[str], stored: dict[str, bool], confirmed: bool) -> None:
    """Refuses an answer that looks like an outage rather than deletes (unless confirmed)."""
    live = [i for i, deleted in stored.items() if not deleted]
    gone = [i for i in live if i not in api]
    if confirmed or not gone:
        return
    if not api:
        raise RunError(
            ExitCode.INCOMPLETE,
            f"reconcile: the API returned no calls for a range where the warehouse holds "
            f"{len(live):,}: an outage, a permission change on the API user or the vendor's "
            "retention look like this; nothing was marked (rerun with --confirm to mark them "
            "deleted)",
        )
    if len(gone) > MASS_MIN_CALLS and len(gone) > MASS_SHARE * len(live):
        raise RunError(
            ExitCode.INCOMPLETE,
            f"reconcile: {len(gone):,} of the warehouse's {len(live):,} calls in the range are "
            f"missing from the API (more than {MASS_SHARE:.0%}): an outage, a permission change "
            "on the API user or the vendor's retention look like this; nothing was marked "
            "(rerun with --confirm to mark them deleted)",
        )


def mark(
    sql: SqlClientBase[Any], dataset: str, api: set[str], stored: dict[str, bool]
) -> Reconciled:
    """Marks the stored calls the API no longer returns, un-marks those it returns again."""
    gone = sorted(i for i, deleted in stored.items() if not deleted and i not in api)
    back = sorted(i for i, deleted in stored.items() if deleted and i in api)
    now = lit.instant(pendulum.now("UTC"))
    table = f"{dataset}.{CALLS_TABLE}"
    for ids, assignment in (
        (gone, f"{DELETED_COLUMN} = true, {DELETED_AT_COLUMN} = {now}"),
        (back, f"{DELETED_COLUMN} = false, {DELETED_AT_COLUMN} = NULL"),
    ):
        for start in range(0, len(ids), CHUNK):
            listed = ", ".join(lit.text(i) for i in ids[start : start + CHUNK])
            sql.execute_sql(f"UPDATE {table} SET {assignment} WHERE id IN ({listed})")
    already = sum(1 for i, deleted in stored.items() if deleted and i not in api)
    return Reconciled(len(api), len(stored), len(gone), len(back), already)
