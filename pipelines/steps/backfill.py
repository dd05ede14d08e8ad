"""The backfill step: a UTC range, loaded in batches of windows, each committing what it covered.

Progress is stored as the merged UTC ranges already loaded (``hostedsuite.backfills``), so an
interrupted backfill resumes with exactly what is missing, whatever the window width, and a
rerun of a range already loaded does nothing and says so; ``force`` reads it all again. The
calls read are compared with the warehouse: only new and changed ones are written. The
incremental cursor is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import pendulum

from pipelines.config import configured_workers
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.backfills import BackfillRange, backfill_missing
from pipelines.hostedsuite.settings import BATCH_WINDOWS_PER_WORKER
from pipelines.hostedsuite.windows import Window, split_windows
from pipelines.pipeline import cursor_state
from pipelines.plan import RunContext
from pipelines.results import BackfillResult, LoadResult
from pipelines.steps.load import load_batch


@dataclass(frozen=True)
class Backfill:
    """``hostedsuite backfill``: [start, end) in UTC, optionally one client or center."""

    start: pendulum.DateTime
    end: pendulum.DateTime
    window_hours: float
    client_id: str | None = None
    center_id: str | None = None
    workers: int | None = None
    force: bool = False
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
        missing = backfill_missing(cursor_state(pipeline), backfill)
        already_loaded = not missing
        restart = self.force
        if restart:
            missing = [Window(self.start, self.end)]
        # One load per batch of windows: each commits the range it finished.
        while missing:
            batch = replace(backfill, restart=restart)  # the first batch forgets the progress
            loaded = loaded.plus(load_batch(pipeline, {**kwargs, "backfill": batch}))
            restart = False
            left = backfill_missing(cursor_state(pipeline), backfill)
            if left == missing:
                raise RunError(ExitCode.FAILED, "backfill made no progress; see the log above")
            missing = left
        done = loaded.finished(cursor_state(pipeline), time.perf_counter() - started)
        return BackfillResult(
            **{name: getattr(done, name) for name in LoadResult.__dataclass_fields__},
            start=self.start.to_iso8601_string(),
            end=self.end.to_iso8601_string(),
            windows=len(split_windows(self.start, self.end, self.window_hours)),
            already_loaded=already_loaded and not self.force,
        )
