"""The backfill step: a UTC range, loaded in batches of windows, each committing what it covered.

Progress is stored as the merged UTC ranges already loaded (``hostedsuite.backfills``), so an
interrupted backfill resumes with exactly what is missing, whatever the window width. The
incremental cursor is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pendulum

from pipelines.config import configured_workers
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite import BackfillRange, backfill_missing
from pipelines.hostedsuite.settings import BATCH_WINDOWS_PER_WORKER
from pipelines.hostedsuite.windows import split_windows
from pipelines.pipeline import cursor_state
from pipelines.plan import RunContext
from pipelines.steps.load import LoadResult, load_batch


@dataclass(frozen=True)
class BackfillResult(LoadResult):
    """A load result, with the range and the number of windows it was split into."""

    start: str = ""
    end: str = ""
    windows: int = 0


@dataclass(frozen=True)
class Backfill:
    """``hostedsuite backfill``: [start, end) in UTC, optionally one client or center."""

    start: pendulum.DateTime
    end: pendulum.DateTime
    window_hours: float
    client_id: str | None = None
    center_id: str | None = None
    workers: int | None = None
    name: str = "load"

    def run(self, context: RunContext) -> BackfillResult:
        _, pipeline = context.writer()
        started = time.perf_counter()
        filters = ",".join(
            f"{key}={value}"
            for key, value in (("client_id", self.client_id), ("center_id", self.center_id))
            if value
        )
        backfill = BackfillRange(self.start, self.end, filters)
        kwargs: dict[str, Any] = {
            **context.source_kwargs,
            "backfill": backfill,
            "max_windows": configured_workers(self.workers) * BATCH_WINDOWS_PER_WORKER,
            "window_hours": self.window_hours,
        }
        for key, value in (
            ("workers", self.workers),
            ("client_id", self.client_id),
            ("center_id", self.center_id),
        ):
            if value:
                kwargs[key] = value
        loaded = LoadResult(self.name)
        # One load per batch of windows: each commits the range it finished.
        while missing := backfill_missing(cursor_state(pipeline), backfill):
            loaded = loaded.plus(load_batch(pipeline, kwargs))
            if backfill_missing(cursor_state(pipeline), backfill) == missing:
                raise RunError(ExitCode.FAILED, "backfill made no progress; see the log above")
        done = loaded.finished(pipeline, started)
        return BackfillResult(
            **{name: getattr(done, name) for name in LoadResult.__dataclass_fields__},
            start=self.start.to_iso8601_string(),
            end=self.end.to_iso8601_string(),
            windows=len(split_windows(self.start, self.end, self.window_hours)),
        )
