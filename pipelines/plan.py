"""A run is a plan, and one executor runs every plan.

A command turns its arguments into typed options and a ``Plan``: where it writes
(``WarehouseAccess``, or none for commands that only read a published copy), and its steps in
order (load or backfill, verify, transform, publish, report). ``execute`` runs any plan:

1. the source settings the plan supplies (the demo's emulator; usually none) are entered;
2. the destination is checked and its dlt pipeline built; nothing is written before;
3. the run lock, then the destination's writing policy (DuckDB: wait for the file, and one held
   connection for a small run) wrap the steps as context managers;
4. each step runs and returns its result; a failing step becomes one ``RunError`` that carries
   the results committed before it; a step whose result states a problem (``verify``'s
   differences) ends the run with its exit code after the later steps (publishing) ran;
5. a run that fails before anything committed removes what it created (dlt's working folder,
   a new DuckDB file): a failed first run leaves nothing behind.

The summary is made from the results (``summary.py``); nothing here prints.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import dlt

from pipelines import alerts
from pipelines.config import DEFAULT_PIPELINES_DIR
from pipelines.destinations import Destination, configured_destination
from pipelines.errors import ExitCode, RunError
from pipelines.failures import describe_failure
from pipelines.pipeline import make_pipeline, run_lock
from pipelines.redaction import scrub_trace

logger = logging.getLogger("hostedsuite")


@dataclass(frozen=True)
class StepResult:
    """What one step did. ``problem``: an outcome that is not a failure of the step but ends
    the run with this exit code and line (after the remaining steps ran)."""

    step: str

    @property
    def problem(self) -> tuple[ExitCode, str] | None:
        return None


@dataclass(frozen=True)
class LinesResult(StepResult):
    """A result that is its summary lines."""

    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class WarehouseAccess:
    """Where a plan writes, and how long it waits for others: the common options."""

    duckdb: str | None = None
    pipelines_dir: str | None = None
    lock_wait: float = 0.0
    db_wait: float = 30.0
    # the serving copy: None = configured ([serving] path), "" = off
    serving: str | None = None


@dataclass
class RunContext:
    """What steps share: the access options, the destination, its pipeline, source settings
    the plan supplies, and the results of the steps before."""

    access: WarehouseAccess | None
    source_kwargs: dict[str, Any]
    results: list[StepResult] = field(default_factory=list)
    destination: Destination | None = None
    pipeline: dlt.Pipeline | None = None

    def writer(self) -> tuple[Destination, dlt.Pipeline]:
        """The destination and the pipeline of a plan that writes."""
        assert self.destination is not None and self.pipeline is not None, "plan writes nothing"
        return self.destination, self.pipeline

    def result(self, kind: type[Any]) -> Any | None:
        """The latest result of type ``kind`` so far, if any."""
        return next((r for r in reversed(self.results) if isinstance(r, kind)), None)


class Step(Protocol):
    """One step of a plan."""

    @property
    def name(self) -> str: ...

    def run(self, context: RunContext) -> StepResult: ...


SourceSettings = Callable[[], AbstractContextManager[dict[str, Any]]]


@contextlib.contextmanager
def configured_source() -> Iterator[dict[str, Any]]:
    """The source's settings come from dlt's configuration alone."""
    yield {}


@dataclass(frozen=True)
class Plan:
    """What a command runs. ``access`` None: reads published data only (no lock, no pipeline).
    ``hold_connection``: whether a run of this plan is small enough to write on one held
    connection (see ``destinations/duckdb.py``), asked once the pipeline exists."""

    command: str
    steps: tuple[Step, ...]
    access: WarehouseAccess | None = None
    hold_connection: Callable[[dlt.Pipeline], bool] = lambda pipeline: False
    source: SourceSettings = configured_source


def execute(plan: Plan) -> list[StepResult]:
    """Runs ``plan``; returns the steps' results, or raises one ``RunError``."""
    results: list[StepResult] = []
    current = "setup"
    try:
        with ExitStack() as stack:
            context = RunContext(plan.access, stack.enter_context(plan.source()), results)
            if plan.access is not None:
                _enter_warehouse(stack, context, plan)
            for step in plan.steps:
                current = step.name
                results.append(step.run(context))
            if context.pipeline is not None:
                alerts.check_staleness(plan.command, context.pipeline)
    except Exception as exc:
        raise describe_failure(exc, None if current == "setup" else current, results) from exc
    for result in results:
        if result.problem is not None:
            code, message = result.problem
            raise RunError(code, message, results)
    return results


def _enter_warehouse(stack: ExitStack, context: RunContext, plan: Plan) -> None:
    access = plan.access
    assert access is not None
    destination = configured_destination(access.duckdb, access.serving)
    created = NewPaths(
        Path(access.pipelines_dir or DEFAULT_PIPELINES_DIR), *destination.local_files()
    )
    pipeline = make_pipeline(destination, access.pipelines_dir)
    # dlt pickles each step's trace, error messages included, into the pipeline folder
    stack.callback(scrub_trace, pipeline)
    stack.enter_context(run_lock(pipeline, access.lock_wait))
    # A run that fails before anything committed leaves no trace: what it created goes again
    # (under the lock, after the destination's connection closed).
    stack.push(partial(created.remove_after_failure, pipeline))
    held = plan.hold_connection(pipeline)
    context.destination = destination
    context.pipeline = stack.enter_context(
        destination.writing(pipeline, access.db_wait, small_run=held)
    )


class NewPaths:
    """The paths a run is about to create: of each, the first folder on its way that is missing
    now (``var/`` itself if the run makes it)."""

    def __init__(self, *paths: Path) -> None:
        self.paths: list[Path] = []
        self.note(*paths)

    def note(self, *paths: Path) -> None:
        for path in paths:
            path = path.absolute()
            while not path.parent.exists():
                path = path.parent
            if not path.exists():
                self.paths.append(path)

    def remove_after_failure(
        self, pipeline: dlt.Pipeline, failure: type[BaseException] | None, *_: Any
    ) -> bool:
        """An exit callback: on a failure, removes these paths unless the pipeline holds
        something a later run needs (a loaded or a pending package)."""
        if failure is not None and not (
            pipeline.has_pending_data or pipeline.list_completed_load_packages()
        ):
            for path in self.paths:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        return False  # the failure goes on
