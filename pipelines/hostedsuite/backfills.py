"""Backfill progress: which parts of an explicit range are loaded, kept in the resource state.

Progress is committed with each load, as merged [start, end) UTC ranges per backfill (its range
and filters), so an interrupted backfill rerun with any window width loads exactly what is
missing. Backfills never touch the incremental cursor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pendulum

from .windows import Window, merge_windows, missing_windows, parse_instant, split_windows

logger = logging.getLogger("hostedsuite")


@dataclass(frozen=True)
class BackfillRange:
    """An explicit range to load without touching the incremental cursor."""

    start: pendulum.DateTime
    end: pendulum.DateTime
    # Part of the progress key: a window done for one client is not done for all of them.
    filters: str = ""
    # Forget this range's progress first and read all of it again (``backfill --force``).
    restart: bool = False

    @property
    def key(self) -> str:
        span = f"{self.start.to_iso8601_string()}/{self.end.to_iso8601_string()}"
        return f"{span}/{self.filters}" if self.filters else span


def backfill_coverage(state: dict[str, Any], backfill: BackfillRange) -> list[Window]:
    """The parts of ``backfill`` already loaded, as merged [start, end) UTC windows.

    Progress is kept as ranges, not window starts, so that a rerun with another
    ``window_hours`` loads exactly what is missing. Entries of the old format (a window start,
    without its width) count as not covered: re-reading them is safe, the merge dedupes.
    """
    covered: list[Window] = []
    for entry in state.get("backfills", {}).get(backfill.key, []):
        if isinstance(entry, list | tuple) and len(entry) == 2:
            start = parse_instant(entry[0], "state.backfills")
            end = parse_instant(entry[1], "state.backfills")
            if start is not None and end is not None and start < end:
                covered.append(Window(start, end))
    return merge_windows(covered)


def backfill_missing(state: dict[str, Any], backfill: BackfillRange) -> list[Window]:
    """The parts of ``backfill`` not loaded yet."""
    return missing_windows(backfill.start, backfill.end, backfill_coverage(state, backfill))


def record_backfill_window(state: dict[str, Any], backfill: BackfillRange, window: Window) -> None:
    covered = merge_windows([*backfill_coverage(state, backfill), window])
    state.setdefault("backfills", {})[backfill.key] = [
        [w.start.to_iso8601_string(), w.end.to_iso8601_string()] for w in covered
    ]


def backfill_windows(
    state: dict[str, Any], backfill: BackfillRange, window_hours: float
) -> list[Window]:
    """The windows of ``backfill`` not loaded yet: each missing range split at this width
    (all of it when it restarts; its progress is recorded anew from here)."""
    if backfill.restart:
        state.get("backfills", {}).pop(backfill.key, None)
    missing = backfill_missing(state, backfill)
    windows = [w for gap in missing for w in split_windows(gap.start, gap.end, window_hours)]
    total_hours = (backfill.end - backfill.start).total_seconds() / 3600
    missing_hours = sum((w.end - w.start).total_seconds() for w in missing) / 3600
    if missing_hours < total_hours:
        logger.info(
            "backfill: %g of %g hours already loaded, skipping them",
            total_hours - missing_hours,
            total_hours,
        )
    return windows
