"""The publish step: make this run's data what analysts see, as the destination does it.

DuckDB publishes its serving copy, a lake commits the snapshot readers attach, a server has
nothing to publish. The summary names the warehouse written (a DuckDB file by absolute path).
A failed publish ends the run with exit code 7 after the summary of what had committed: the
next run publishes again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.pipeline import current_health
from pipelines.plan import LinesResult, RunContext


@dataclass(frozen=True)
class PublishResult(LinesResult):
    """The summary lines of the destination's publishing."""


@dataclass(frozen=True)
class Publish:
    """``now``: publish whatever the schedule says (after an erasure)."""

    now: bool = False
    name: str = "publish"

    def run(self, context: RunContext) -> PublishResult:
        destination, pipeline = context.writer()
        lines = destination.publish(pipeline, current_health(pipeline), self.now)
        return PublishResult(self.name, (f"warehouse: {destination.location()}", *lines))
