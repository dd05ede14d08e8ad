"""Windows of call start times: splitting a range, sizing batches, and the request bounds
that cover a window whatever zone the server reads ``StartDate``/``EndDate`` in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import pendulum

from .settings import (
    API_DATETIME_FORMAT,
    BATCH_WINDOWS_PER_WORKER,
    MIN_WINDOW_HOURS,
    WINDOW_MARGIN_HOURS,
)

logger = logging.getLogger("hostedsuite")


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end) of call start times."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    @property
    def label(self) -> str:
        return f"{self.start.to_iso8601_string()}..{self.end.to_iso8601_string()}"


def split_windows(start: pendulum.DateTime, end: pendulum.DateTime, hours: float) -> list[Window]:
    """Splits [start, end) into consecutive windows of at most ``hours``."""
    windows: list[Window] = []
    step = timedelta(hours=hours)
    cursor = start
    while cursor < end:
        upper = min(cursor + step, end)
        windows.append(Window(cursor, upper))
        cursor = upper
    return windows


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    """The union of ``windows`` as sorted, disjoint windows (touching ones joined)."""
    merged: list[Window] = []
    for window in sorted(windows, key=lambda w: (w.start, w.end)):
        if merged and window.start <= merged[-1].end:
            if window.end > merged[-1].end:
                merged[-1] = Window(merged[-1].start, window.end)
        else:
            merged.append(window)
    return merged


def missing_windows(
    start: pendulum.DateTime, end: pendulum.DateTime, covered: Iterable[Window]
) -> list[Window]:
    """The parts of [start, end) that ``covered`` does not cover, in order."""
    gaps: list[Window] = []
    cursor = start
    for window in merge_windows(covered):
        if window.end <= cursor or window.start >= end:
            continue
        if window.start > cursor:
            gaps.append(Window(cursor, window.start))
        cursor = max(cursor, window.end)
    if cursor < end:
        gaps.append(Window(cursor, end))
    return gaps


@dataclass(frozen=True)
class BatchPlan:
    """How the next load of a long incremental range is cut into windows."""

    window_hours: float
    max_windows: int


def plan_batch(
    calls_per_hour: float | None, window_hours: float, workers: int, calls_per_load: int
) -> BatchPlan:
    """Windows narrow enough that one load holds about ``calls_per_load`` calls (as many
    windows as fit), never narrower than ``MIN_WINDOW_HOURS`` (on very dense data a batch then
    has fewer windows than workers). Without a density estimate, one round of the narrowest
    windows; with no calls seen, ``BATCH_WINDOWS_PER_WORKER`` windows per worker."""
    narrowest = min(window_hours, MIN_WINDOW_HOURS)
    most = workers * BATCH_WINDOWS_PER_WORKER
    if calls_per_hour is None:
        return BatchPlan(narrowest, workers)
    if calls_per_hour <= 0:
        return BatchPlan(window_hours, most)
    width = max(narrowest, min(window_hours, calls_per_load / workers / calls_per_hour))
    fitting = int(calls_per_load // (calls_per_hour * width))
    return BatchPlan(width, max(1, fitting))


def request_bounds(
    window: Window, zones: Iterable[str], margin_hours: float = WINDOW_MARGIN_HOURS
) -> tuple[str, str]:
    """The StartDate/EndDate strings that cover ``window`` whatever zone the server reads.

    The server may compare against each call's local wall time or against one server-wide
    zone (UTC, or a center's). Widening by the smallest and largest offset of those zones,
    plus ``margin_hours``, covers every reading in a zone whose offset lies at most
    ``margin_hours`` outside that span; the client then keeps exactly the calls whose UTC
    start lies in the window. A server zone further outside needs a wider margin.
    """
    offsets = [0.0]
    for zone in set(zones):
        for instant in (window.start, window.end):
            offset = instant.in_timezone(zone).utcoffset()
            offsets.append(offset.total_seconds() if offset else 0.0)
    margin = margin_hours * 3600
    lower = window.start.naive() + timedelta(seconds=min(offsets) - margin)
    upper = window.end.naive() + timedelta(seconds=max(offsets) + margin)
    return lower.strftime(API_DATETIME_FORMAT), upper.strftime(API_DATETIME_FORMAT)
