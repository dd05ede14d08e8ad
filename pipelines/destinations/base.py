"""What a destination must provide: the contract every warehouse kind implements in one module.

A run asks its destination, and nothing else, for: the dlt destination and the file format its
loader takes; the checks to make before anything is written; the connection policy while the
run writes; how the transforms run there; how ``verify`` writes its tables; how analysts get a
consistent view after the run (publishing); how rows it deleted are purged from its files;
and where the data went, for the summary.
Add a destination: README.md -> Development -> "Add a destination".
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

import dlt
from dlt.common.destination import TLoaderFileFormat
from dlt.destinations.sql_client import SqlClientBase

from pipelines.errors import ExitCode, RunError


class Destination(ABC):
    """One kind of warehouse. ``name`` is what ``DESTINATION_NAME`` selects."""

    name: ClassVar[str]
    # How normalized rows reach it; None: each item format in its native writer's format.
    loader_file_format: ClassVar[TLoaderFileFormat | None]
    # Whether the transforms log each refresh's scope (transforms/scope_log.py): DuckDB's
    # serving copy is kept in step from it.
    logs_refresh_scope: ClassVar[bool] = False
    # A full rebuild runs in slices of ``[transforms] rebuild_slice_calls`` calls, so its memory
    # does not grow with the history (transforms/sliced_build.py; DuckDB's SQL, one file).
    slices_full_rebuild: ClassVar[bool] = False

    def __init__(self, duckdb_file: str | None = None, serving: str | None = None) -> None:
        """``duckdb_file``, ``serving``: ``--duckdb`` and ``--serving``, DuckDB's alone."""
        if duckdb_file:
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"--duckdb names a DuckDB file, but the destination is {self.name!r}",
            )

    @abstractmethod
    def dlt_destination(self) -> Any:
        """What ``dlt.pipeline(destination=...)`` takes; raises ``RunError`` on bad config."""

    def check(self) -> None:  # noqa: B027 - most destinations have nothing to check up front
        """Fails in one line, before anything is written, when the run cannot write there."""

    def writing(
        self, pipeline: dlt.Pipeline, wait_seconds: float, small_run: bool
    ) -> AbstractContextManager[dlt.Pipeline]:
        """The pipeline to write with while the run holds the lock (a server: as it is)."""
        return contextlib.nullcontext(pipeline)

    @classmethod  # noqa: B027 - most destinations need no session settings
    def prepare_transforms(cls, sql: SqlClientBase[Any]) -> None:
        """Session settings the transforms need on this destination's connection."""

    @classmethod
    def verify_writes(cls, sql: SqlClientBase[Any]) -> AbstractContextManager[Any]:
        """Around ``verify``'s writes: a transaction where a statement alone would be a
        snapshot of its own (a lake); nothing on a database with per-statement commits."""
        return contextlib.nullcontext()

    # PostgreSQL and DuckDB keep a primary key on analytics.completeness; a lake has none.
    verify_primary_key: ClassVar[bool] = True

    @abstractmethod
    def publish(
        self, pipeline: dlt.Pipeline, health: dict[str, Any], now: bool = False
    ) -> list[str]:
        """Makes this run's data what analysts see; returns the summary lines. ``now``:
        whatever the publishing schedule says, and nothing published before may survive (an
        erasure must reach analysts at once, and no older copy may keep what it erased)."""

    @abstractmethod
    def purge(self, pipeline: dlt.Pipeline) -> list[str]:
        """After rows were deleted or overwritten: makes their old versions unrecoverable
        from the warehouse's own files (``purging.py``); returns the summary lines."""

    def analyst_copy(self) -> Path | None:
        """The DuckDB file analysts open (``make sql``, ``make report``), if there is one."""
        return None

    def report_database(self) -> Path | None:
        """The DuckDB file a report after the run reads, if there is one."""
        return self.analyst_copy()

    def local_files(self) -> tuple[Path, ...]:
        """The files a run may create for this warehouse on the local disk: a first run that
        fails before committing anything removes those it created."""
        return ()

    @abstractmethod
    def location(self) -> str:
        """Where the data went, for the summary (no secret in it)."""
