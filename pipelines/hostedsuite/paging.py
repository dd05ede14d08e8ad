"""Paging through ``/api/calls`` for one window, and fetching many windows concurrently
with a bounded queue. The paging rules are those of ``shared/hostedsuite-api.md`` (rule 1).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .calls_page import CallsPage, parse_calls_page
from .client import ApiError, HostedSuiteClient, TransientError
from .settings import (
    CALLS_ROUTE,
    WINDOW_MARGIN_HOURS,
)
from .windows import Window, request_bounds

logger = logging.getLogger("hostedsuite")


# --------------------------------------------------------------------------------------------
# Paging one window
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallsQuery:
    """Filters applied to every calls request of a run (backfill options)."""

    page_size: int
    client_id: str | None = None
    center_id: str | None = None
    # The server may answer TotalCount/TotalPages = 0 then; paging still ends on an empty page.
    disable_stats: bool = False
    # How far beyond the centers' offsets a request is widened (see ``request_bounds``).
    window_margin_hours: float = WINDOW_MARGIN_HOURS

    def body(self, start_date: str, end_date: str, page: int) -> dict[str, Any]:
        # A fresh dict per request: nothing downstream may mutate a shared body.
        body: dict[str, Any] = {
            "StartDate": start_date,
            "EndDate": end_date,
            "SortField": "StartTime",
            "SortDir": "Asc",
            "Page": page,
            "ItemsPerPage": self.page_size,
        }
        if self.disable_stats:
            body["DisableStats"] = True
        if self.client_id:
            body["ClientId"] = self.client_id
        if self.center_id:
            body["CenterId"] = self.center_id
        return body


def count_calls(
    client: HostedSuiteClient, query: CallsQuery, window: Window, zones: Sequence[str]
) -> int:
    """The server's TotalCount for ``window`` (widened like a read), asking for one record.

    Only an estimate to plan batches with: the widening counts neighbours' calls, and a
    server that does not count answers 0.
    """
    start_date, end_date = request_bounds(window, zones, query.window_margin_hours)
    body = replace(query, page_size=1, disable_stats=False).body(start_date, end_date, 0)
    page = client.post(CALLS_ROUTE, body, f"count {window.label}", parse_calls_page)
    return int(page.total_count)


def iter_window_pages(
    client: HostedSuiteClient, query: CallsQuery, window: Window, zones: Sequence[str]
) -> Iterator[CallsPage]:
    """Yields every page of one window, following the API doc's paging rules.

    - The next page is the one after the page the server says it returned, so a 1-based
      server that reads Page=0 as 1 is followed correctly.
    - Stop on an empty page, or once every record counted by a non-zero TotalCount was seen.
      A short page is not the end: the server may cap ItemsPerPage silently.
    - An empty page before a non-zero TotalCount is reached is not the end either: it is
      asked for again with the client's retries and backoff, and fails the window (the
      run) if it stays empty, rather than silently losing the rest of the window. Without
      totals (DisableStats, TotalCount 0) an empty page is the only end there is.
    """
    start_date, end_date = request_bounds(window, zones, query.window_margin_hours)
    page_number = 0
    seen: set[str] = set()
    # Records received, counted like TotalCount counts them: with or without a usable Id.
    received = 0

    def parse(content: bytes) -> CallsPage:
        page = parse_calls_page(content)
        if not page.items and not page.rejected and received < page.total_count:
            raise TransientError(
                f"empty page before TotalCount ({page.total_count}) was reached "
                f"({received} records read)"
            )
        return page

    while True:
        what = f"calls {window.label} page {page_number}"
        page = client.post(CALLS_ROUTE, query.body(start_date, end_date, page_number), what, parse)
        raw_count = len(page.items) + len(page.rejected)
        if raw_count == 0:
            return
        received += raw_count
        page_ids = {i for i in page.ids if i}
        page_ids |= {
            str(raw.get("Id"))
            for raw, _ in page.rejected
            if isinstance(raw, dict) and raw.get("Id")
        }
        new_ids = page_ids - seen
        if not new_ids and page_ids:
            raise ApiError(f"{what}: the server returned a page already read; paging is broken")
        seen |= page_ids
        yield page
        if page.total_count and len(seen) >= page.total_count:
            return
        page_number = page.page + 1


# --------------------------------------------------------------------------------------------
# Concurrent windows
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowDone:
    """Marks that every page of ``window`` was delivered."""

    window: Window
    calls: int


_STOP = object()


T = TypeVar("T")


def fetch_concurrently(
    windows: Sequence[Window],
    fetch: Callable[[Window], Iterator[T]],
    workers: int,
    count: Callable[[T], int] = lambda tables: tables.calls_read,  # type: ignore[attr-defined]
) -> Generator[T | WindowDone, None, None]:
    """Runs ``fetch`` per window on ``workers`` threads and yields results as they arrive.

    A bounded queue keeps memory flat: workers block while the consumer (dlt's extract)
    writes pages out. The first error stops the other workers and is re-raised here.
    """
    results: queue.Queue[Any] = queue.Queue(maxsize=max(2, workers * 2))
    stop = threading.Event()

    def put(item: Any) -> bool:
        """Blocks while the queue is full, but gives up once the consumer has stopped."""
        while not stop.is_set():
            try:
                results.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(window: Window) -> None:
        if stop.is_set():
            return
        try:
            calls = 0
            for item in fetch(window):
                calls += count(item)
                if not put(item):
                    return
            put(WindowDone(window, calls))
        except BaseException as exc:
            put(exc)
            stop.set()

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hostedsuite")
    futures = [pool.submit(run, window) for window in windows]

    def post_end_marker() -> None:
        # wait(), not result(): when the consumer stops early, the windows still queued are
        # cancelled, and result() on them would raise CancelledError in this thread (a
        # traceback on stderr). run() never raises, so there is nothing else to collect.
        # In slices, ending on ``stop``: wait() never counts a future cancelled by the pool's
        # shutdown as done (nothing notifies it), so one long wait would outlive the run.
        while not stop.is_set():
            if not wait(futures, timeout=0.2).not_done:
                put(_STOP)
                return

    # The end marker is posted from its own thread so that it does not occupy a worker.
    threading.Thread(target=post_end_marker, daemon=True).start()
    try:
        while True:
            item = results.get()
            if item is _STOP:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
