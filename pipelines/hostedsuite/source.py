"""The HostedSuite dlt source: ``calls`` (with its child tables), ``centers`` and ``clients``.

``calls`` keeps its own cursor in the resource state rather than using ``dlt.sources.incremental``:
one resource yields three tables, and an incremental on ``start_time`` would also filter the
child tables and keep a dedupe hash per row. The cursor records the end of the last window that
was read completely ("complete through"); every run re-reads ``lookback_hours`` before it, and
the merge on ``id`` (children: on ``call_id``) makes the re-read exact. State is committed with
the load, so a failed run changes nothing. Backfills never touch the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dlt
import pendulum
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration.inject import with_config
from dlt.extract.resource import DltResource

from .backfills import BackfillRange, backfill_missing, backfill_windows, record_backfill_window
from .client import (
    ConfigError,
    HostedSuiteClient,
    RetryPolicy,
    parse_json,
)
from .directory import CenterDirectory, as_record_list, flatten_record
from .paging import CallsQuery, WindowDone, count_calls, fetch_concurrently, iter_window_pages
from .privacy import ErasureList, PrivacyPolicy
from .privacy_pages import drop_erased, treat_page
from .records import PageTables, page_to_tables
from .settings import (
    CALLS_TABLE,
    CLIENTS_ROUTE,
    DEFAULT_LOOKBACK_HOURS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW_HOURS,
    DEFAULT_WORKERS,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
    LOAD_ID_COLUMN,
    QUARANTINE_TABLE,
    TOMBSTONE_COLUMN,
    WINDOW_MARGIN_HOURS,
)
from .windows import Window, parse_instant, plan_batch, split_windows

logger = logging.getLogger("hostedsuite")

# Resource-state key: calls of this run whose center /api/centers does not list, and the zone
# they were read in.
UNKNOWN_CENTER_STATE = "unknown_center_calls"
# Resource-state key: the privacy policy (``PrivacyPolicy.fingerprint``) the run wrote under.
PRIVACY_STATE = "privacy"
# Resource-state keys: calls of this run that the warehouse already held as they are, held
# otherwise, or did not hold (counted when the run compared with the warehouse).
UNCHANGED_CALLS_STATE = "unchanged_calls"
CHANGED_CALLS_STATE = "changed_calls"
NEW_CALLS_STATE = "new_calls"

# Given a range [start, end), the ``content_hash`` of every call the warehouse holds starting
# in it (call id -> digest; "" for a call stored without one).
StoredHashes = Callable[[pendulum.DateTime, pendulum.DateTime], Mapping[str, str]]

# Wall-clock times stay TIMESTAMP (no zone): dlt would otherwise store them as TIMESTAMPTZ.
LOCAL_TIME: dict[str, Any] = {"data_type": "timestamp", "timezone": False}
TABLE_COLUMNS: dict[str, dict[str, Any]] = {
    CALLS_TABLE: {"start_time_local": LOCAL_TIME},
    INTERACTIONS_TABLE: {"start_time_local": LOCAL_TIME},
}
CHILD_COLUMNS: dict[str, Any] = {
    "call_id": {"data_type": "text", "nullable": False},
    # Tombstones delete a re-read call's old children and are never stored themselves.
    TOMBSTONE_COLUMN: {"data_type": "bool", "hard_delete": True},
}
# dlt stamps Arrow rows with their load id only when asked (make_pipeline's code defaults do);
# the incremental transforms find what a load changed by it. Nullable: rows loaded before the
# stamp existed have none, and DuckDB cannot add a NOT NULL column to a filled table. Each Arrow
# table carries an empty (nullable) slot that dlt fills: dlt's own column would be NOT NULL and
# it logs a warning on every page when a hint overrides that.
LOAD_ID_COLUMNS: dict[str, Any] = {LOAD_ID_COLUMN: {"data_type": "text", "nullable": True}}


@with_config(sections=("sources", "hostedsuite"))
def make_client(
    base_url: str = dlt.config.value,
    customer_name: str = dlt.config.value,
    user_name: str = dlt.config.value,
    password: str = dlt.secrets.value,
    request_max_attempts: int = 6,
    request_backoff_factor: float = 1.0,
    request_max_retry_delay: float = 60.0,
    request_timeout: float = 60.0,
) -> HostedSuiteClient:
    """A client configured like the source, for commands outside a load (``verify``)."""
    return HostedSuiteClient(
        base_url,
        customer_name,
        user_name,
        password,
        RetryPolicy(
            int(request_max_attempts),
            float(request_backoff_factor),
            float(request_max_retry_delay),
            float(request_timeout),
        ),
    )


# section: else dlt reads the settings from [sources.source.hostedsuite], after this module's name
@dlt.source(name="hostedsuite", section="hostedsuite", max_table_nesting=0)
def hostedsuite(
    base_url: str = dlt.config.value,
    customer_name: str = dlt.config.value,
    user_name: str = dlt.config.value,
    password: str = dlt.secrets.value,
    start_date: str = dlt.config.value,
    lookback_hours: float = DEFAULT_LOOKBACK_HOURS,
    page_size: int = DEFAULT_PAGE_SIZE,
    default_timezone: str = DEFAULT_TIMEZONE,
    window_hours: float = DEFAULT_WINDOW_HOURS,
    workers: int = DEFAULT_WORKERS,
    until: str | None = None,
    backfill: BackfillRange | None = None,
    client_id: str | None = None,
    center_id: str | None = None,
    disable_stats: bool = False,
    max_windows: int | None = None,
    calls_per_load: int | None = None,
    request_max_attempts: int = 6,
    request_backoff_factor: float = 1.0,
    request_max_retry_delay: float = 60.0,
    request_timeout: float = 60.0,
    window_margin_hours: float = WINDOW_MARGIN_HOURS,
    stored_hashes: StoredHashes | None = None,
    privacy: PrivacyPolicy | None = None,
    erased: Callable[[], ErasureList] | None = None,
) -> Sequence[DltResource]:
    """HostedSuite calls, centers and clients.

    Args:
        base_url: ``https://<customer>.hostedsuite.com`` (plain http only to loopback).
        customer_name, user_name, password: the auth fields sent in every request body.
        start_date: where the first incremental run begins (UTC date or datetime).
        lookback_hours: how far before the cursor each run re-reads, so late edits land.
        page_size: ``ItemsPerPage`` asked for; a server-side cap is handled.
        default_timezone: zone for centers without a usable ``TimeZoneId``.
        window_hours: width of the windows a long range is split into and fetched in parallel.
        workers: windows fetched concurrently.
        until: upper bound of an incremental run instead of now (catch up in steps).
        backfill: load this range instead; the incremental cursor is left untouched.
        client_id, center_id: optional filters (backfills).
        max_windows: at most this many windows per run (the first ones not yet loaded), so a
            long range commits its progress in steps and a rerun resumes where it stopped.
        calls_per_load: cut a long incremental range so that one run loads about this many
            calls (windows narrowed on dense data, see ``plan_batch``); the cursor then says
            how far it got and the next run continues there. None: the whole range at once.
        disable_stats: ask the server not to count totals (paging then ends on an empty page).
        request_*: bounded retries of 429/5xx/timeouts/resets/truncated bodies; the
            timeout is per request in seconds.
        window_margin_hours: every request is widened by the centers' UTC offsets plus this
            margin (see ``request_bounds``); a server reading windows in a zone further
            than this outside the centers' offsets needs more.
        stored_hashes: what the warehouse holds (see ``StoredHashes``). Given, a backfill or
            an incremental run that re-reads the look-back rewrites only the calls that are
            new or changed (and counts each kind): the rest keep their rows and their load
            id, so the transforms see only real changes.
        privacy: how the callers' personal fields are treated before anything is written
            (``privacy.py``); None: kept as sent.
        erased: called once the run has synced with the warehouse: checks that the warehouse
            was loaded under ``privacy`` and returns its erasure list (calls, numbers and
            names never landed again, whatever range is read).
    """
    if page_size < 1 or window_hours <= 0 or workers < 1 or lookback_hours < 0:
        raise ConfigError(
            "page_size, window_hours and workers must be positive, lookback_hours >= 0"
        )
    if window_margin_hours < 0:
        raise ConfigError(f"window_margin_hours must be >= 0, got {window_margin_hours}")
    client = make_client(
        base_url,
        customer_name,
        user_name,
        password,
        request_max_attempts,
        request_backoff_factor,
        request_max_retry_delay,
        request_timeout,
    )
    directory = CenterDirectory(client, default_timezone)
    policy = privacy or PrivacyPolicy()
    first_start = parse_instant(start_date, "start_date")
    upper = parse_instant(until, "until")
    query = CallsQuery(page_size, client_id, center_id, disable_stats, window_margin_hours)

    @dlt.resource(name="centers", primary_key="id", write_disposition="merge")
    def centers() -> Iterator[list[dict[str, Any]]]:
        yield directory.centers()

    @dlt.resource(name="clients", primary_key="id", write_disposition="merge")
    def clients() -> Iterator[list[dict[str, Any]]]:
        raw = client.post(CLIENTS_ROUTE, {}, "clients", parse_json)
        yield [flatten_record(c) for c in as_record_list(raw, CLIENTS_ROUTE)]

    # Keys are set per table (see _to_table): table variants inherit the resource's hints, so
    # a primary key here would leak into the child tables.
    @dlt.resource(name=CALLS_TABLE, write_disposition="merge")
    def calls() -> Iterator[Any]:
        state = dlt.current.resource_state()
        # checked against what the warehouse (and the state before this run) holds first
        never = erased() if erased else None
        # committed with the load: a first load killed before the warehouse recorded its
        # policy still says which one its rows were written under
        state[PRIVACY_STATE] = policy.fingerprint()
        zones = directory.all_zones()
        if backfill is not None:
            windows = backfill_windows(state, backfill, window_hours)
        else:
            end = upper or pendulum.now("UTC").replace(microsecond=0)
            windows = incremental_windows(
                state, _incremental_start(state, first_start, lookback_hours), end, zones
            )
        if max_windows:
            windows = windows[:max_windows]
        loaded_at = pendulum.now("UTC")
        rereads = backfill is None and bool(lookback_hours) and "complete_through" in state
        compare = bool(windows) and (backfill is not None or rereads)
        stored = (
            stored_hashes(windows[0].start, windows[-1].end) if stored_hashes and compare else None
        )

        def fetch(window: Window) -> Iterator[PageTables]:
            seen: set[str] = set()
            for page in iter_window_pages(client, query, window, zones):
                yield page_to_tables(
                    treat_page(policy, drop_erased(page, policy, never)),
                    directory.zone_of,
                    window,
                    seen,
                    loaded_at,
                    directory.is_known,
                    stored,
                )

        yield from _emit(
            fetch_concurrently(windows, fetch, workers),
            windows,
            state,
            backfill,
            directory.default_timezone,
        )
        if backfill is None and windows:
            _advance_cursor(state, windows[-1].end)

    def incremental_windows(
        state: dict[str, Any],
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        zones: list[str],
    ) -> list[Window]:
        """[start, end) in windows; with ``calls_per_load``, only this run's batch of them."""
        if not calls_per_load or start >= end:
            return split_windows(start, end, window_hours)
        density = state.get("calls_per_hour")
        if density is None and not disable_stats:
            # No run measured the data yet: ask the server to count the range once.
            total = count_calls(client, query, Window(start, end), zones)
            density = total / ((end - start).total_seconds() / 3600) if total else None
        plan = plan_batch(density, window_hours, workers, calls_per_load)
        windows = split_windows(start, end, plan.window_hours)
        # A tail shorter than half a batch joins this one rather than becoming its own load.
        if len(windows) * 2 <= plan.max_windows * 3:
            return windows
        return windows[: plan.max_windows]

    return centers, clients, calls


def _advance_cursor(state: dict[str, Any], read_through: pendulum.DateTime) -> None:
    """Moves "complete through" forward only: a run with an earlier ``until`` re-reads, but
    must not make the next run start over from there."""
    cursor = parse_instant(state.get("complete_through"), "state.complete_through")
    if cursor is None or read_through > cursor:
        state["complete_through"] = read_through.to_iso8601_string()


def _incremental_start(
    state: dict[str, Any], first_start: pendulum.DateTime | None, lookback_hours: float
) -> pendulum.DateTime:
    """The look-back before the cursor, or ``start_date`` on the first run."""
    cursor = parse_instant(state.get("complete_through"), "state.complete_through")
    if cursor is not None:
        return cursor.subtract(seconds=int(lookback_hours * 3600))
    if first_start is not None:
        return first_start
    raise ConfigError("missing sources.hostedsuite.start_date (where the first run begins)")


def _emit(
    results: Iterator[PageTables | WindowDone],
    windows: list[Window],
    state: dict[str, Any],
    backfill: BackfillRange | None,
    default_timezone: str,
) -> Iterator[Any]:
    """Turns fetched pages into dlt items and records progress per finished window."""
    hinted: set[str] = set()
    finished, total_calls, unknown_center_calls = 0, 0, 0
    compared = {UNCHANGED_CALLS_STATE: 0, CHANGED_CALLS_STATE: 0, NEW_CALLS_STATE: 0}
    newest = parse_instant(state.get("newest_call_start"), "state.newest_call_start")
    for item in results:
        if isinstance(item, WindowDone):
            finished += 1
            total_calls += item.calls
            logger.info(
                "calls: %d/%d windows, %d calls so far (finished %s)",
                finished,
                len(windows),
                total_calls,
                item.window.label,
            )
            if backfill is not None:
                record_backfill_window(state, backfill, item.window)
            continue
        unknown_center_calls += item.unknown_center_calls
        compared[UNCHANGED_CALLS_STATE] += item.unchanged_calls
        compared[CHANGED_CALLS_STATE] += item.changed_calls
        compared[NEW_CALLS_STATE] += item.new_calls
        if item.calls.num_rows:
            yield _to_table(item.calls, CALLS_TABLE, hinted, primary_key="id")
            batch_newest = pc.max(item.calls.column("start_time")).as_py()
            newest = batch_newest if newest is None else max(newest, batch_newest)
            for table, name in ((item.interactions, INTERACTIONS_TABLE), (item.forms, FORMS_TABLE)):
                yield _to_table(
                    table, name, hinted, primary_key=("call_id", "seq"), merge_key="call_id"
                )
        if item.quarantine:
            yield _to_table(item.quarantine, QUARANTINE_TABLE, hinted, primary_key="record_hash")
    if newest is not None:
        state["newest_call_start"] = pendulum.instance(newest).to_iso8601_string()
    # This run's count, for its summary (replaced by every run, committed with the load).
    state[UNKNOWN_CENTER_STATE] = {"calls": unknown_center_calls, "zone": default_timezone}
    state.update(compared)
    hours = sum((w.end - w.start).total_seconds() for w in windows) / 3600
    if backfill is None and hours:
        # How dense the data is, so the next run can size its batches (see plan_batch).
        state["calls_per_hour"] = round(total_calls / hours, 3)


def _to_table(
    data: Any,
    table_name: str,
    hinted: set[str],
    primary_key: str | tuple[str, ...] | None = None,
    merge_key: str | None = None,
) -> Any:
    """Routes ``data`` to ``table_name``; the table's hints go with its first item.

    Children merge on ``call_id`` (delete-insert): all rows of a re-read call are replaced.
    """
    arrow = isinstance(data, pa.Table)
    if arrow and LOAD_ID_COLUMN not in data.column_names:
        data = data.append_column(LOAD_ID_COLUMN, pa.nulls(data.num_rows, pa.string()))
    if table_name in hinted:
        return dlt.mark.with_table_name(data, table_name)
    hinted.add(table_name)
    hints = dlt.mark.make_hints(
        table_name=table_name,
        write_disposition="merge",
        primary_key=primary_key,
        merge_key=merge_key,
        columns={
            **(LOAD_ID_COLUMNS if arrow else {}),
            **(CHILD_COLUMNS if merge_key else {}),
            **TABLE_COLUMNS.get(table_name, {}),
        },
    )
    return dlt.mark.with_hints(data, hints, create_table_variant=True)


__all__ = [
    "CHANGED_CALLS_STATE",
    "NEW_CALLS_STATE",
    "PRIVACY_STATE",
    "UNCHANGED_CALLS_STATE",
    "UNKNOWN_CENTER_STATE",
    "BackfillRange",
    "CenterDirectory",
    "StoredHashes",
    "backfill_missing",
    "hostedsuite",
    "make_client",
    "parse_instant",
]
