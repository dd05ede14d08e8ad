"""DuckDB: one local file, written by one process; analysts read its published serving copy.

The file is checked before anything is written; the load runs under a memory cap so a large
package spills; a run waits (bounded) while another process holds the file; a small run holds
one connection; and after the run the serving copy is published (``serving_copy``). dlt's merge
SQL gets ``duckdb_merge``'s corrections on the dlt version they were written for.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar, Final, TypeVar

import dlt
import duckdb
from dlt.common.destination import Destination as DltDestination
from dlt.common.destination import TLoaderFileFormat

from pipelines.config import DATASET_NAME, where
from pipelines.destinations.base import Destination
from pipelines.destinations.duckdb_merge import use_duckdb_merge_corrections
from pipelines.destinations.duckdb_rewrite import rewrite_duckdb_file
from pipelines.destinations.serving_copy import (
    check_serving_copy,
    prune_refresh_log,
    publish_copy,
    serving_target,
)
from pipelines.duckdb_session import MEMORY_LIMIT_KEY, session_config
from pipelines.errors import ExitCode, RunError

logger = logging.getLogger("hostedsuite")
TDestination = TypeVar("TDestination", bound=DltDestination[Any, Any])

DEFAULT_DUCKDB_FILE: Final = "warehouse.duckdb"
# The dlt whose internals two things here were written and checked against: duckdb_merge patches
# dlt's merge SQL as dlt 1.31.0 writes it (on any other dlt the patch could change what a merge
# deletes, so dlt's own SQL is used instead), and resolved_once relies on capabilities() being
# the only caller that resolves a partial configuration (elsewhere, the factory is left as dlt's).
CHECKED_DLT_VERSION: Final = "1.31.0"


class DuckDb(Destination):
    name: ClassVar[str] = "duckdb"
    loader_file_format: ClassVar[TLoaderFileFormat] = "parquet"
    logs_refresh_scope: ClassVar[bool] = True
    slices_full_rebuild: ClassVar[bool] = True

    def __init__(self, duckdb_file: str | None = None, serving: str | None = None) -> None:
        # absolute: a relative setting means a file in the project (a run works there), and
        # every summary names the file written
        self.file = os.path.abspath(duckdb_file or configured_duckdb_file())
        # publishing's settings are read now: a bad one fails before anything is written
        self.serving = serving_target(self.file, serving)

    def check(self) -> None:
        _check_memory_limit()
        if self.serving is not None:
            check_serving_copy(self.serving)
        _check_writable(self.file)
        if Path(self.file).stem == DATASET_NAME:
            # DuckDB names the catalog after the file; a catalog named like the dataset makes
            # DuckDB's binder resolve "hostedsuite.calls" ambiguously and dlt's merge fails.
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"name the DuckDB file something other than {DATASET_NAME}.duckdb "
                f"(e.g. {DEFAULT_DUCKDB_FILE})",
            )

    def dlt_destination(self) -> Any:
        install_merge_corrections()
        return resolved_once(
            dlt.destinations.duckdb(
                credentials={"database": self.file, "global_config": session_config(self.file)}
            )
        )

    def writing(
        self, pipeline: dlt.Pipeline, wait_seconds: float, small_run: bool
    ) -> AbstractContextManager[dlt.Pipeline]:
        wait_for_file(self.file, wait_seconds)
        return _one_connection(pipeline, self.file) if small_run else _as_is(pipeline)

    def publish(
        self, pipeline: dlt.Pipeline, health: dict[str, Any], now: bool = False
    ) -> list[str]:
        if self.serving is None:
            prune_refresh_log(pipeline)
            return []
        return publish_copy(pipeline, self.serving, health, now)

    def purge(self, pipeline: dlt.Pipeline) -> list[str]:
        shrunk = rewrite_duckdb_file(Path(self.file), session_config(self.file))
        return [f"purge: {self.file} rewritten with its current rows only ({shrunk:,} bytes less)"]

    def analyst_copy(self) -> Path | None:
        return None if self.serving is None else self.serving.path

    def report_database(self) -> Path | None:
        # publishing off: the report reads the warehouse itself (under the run lock)
        return self.analyst_copy() or Path(self.file)

    def local_files(self) -> tuple[Path, ...]:
        return (Path(self.file), Path(f"{self.file}.wal"))

    def location(self) -> str:
        return str(Path(self.file).resolve())


def configured_duckdb_file() -> str:
    """dlt's ``destination.duckdb.credentials``, or our default."""
    configured = dlt.config.get("destination.duckdb.credentials", str)
    return configured or DEFAULT_DUCKDB_FILE


def resolved_once(destination: TDestination) -> TDestination:
    """``destination`` (dlt's DuckDB factory) resolving its configuration for capabilities once.

    dlt 1.31.0 resolves the factory's whole configuration again (every provider: environment,
    secrets.toml, config.toml) each time anything asks for its capabilities: 16 times in a
    scheduled run, 0.17 s of it (measured 2026-12-07, wall time inside ``capabilities()``). The
    configuration it resolves is the same each time, built from the factory's own parameters, and
    the providers do not change during a run; its only caller with ``accept_partial`` is
    ``capabilities()``, which builds fresh capabilities from it each time. So this instance
    keeps the first one. Clients still get theirs resolved in full. On another dlt, unchanged.
    """
    if version("dlt") != CHECKED_DLT_VERSION:
        return destination
    resolve = destination.configuration
    partial: Any = None

    def configuration(initial_config: Any, accept_partial: bool = False) -> Any:
        nonlocal partial
        if not accept_partial:
            return resolve(initial_config, accept_partial)
        if partial is None:
            partial = resolve(initial_config, accept_partial=True)
        return partial

    destination.configuration = configuration  # type: ignore[method-assign]
    return destination


def install_merge_corrections() -> bool:
    """Installs ``duckdb_merge``'s corrections when dlt is the version they were written
    against; otherwise warns and leaves dlt's own merge SQL. True when installed."""
    installed = version("dlt")
    if installed != CHECKED_DLT_VERSION:
        logger.warning(
            "dlt %s is not %s: using dlt's own merge SQL (the merge corrections of "
            "duckdb_merge.py were written for %s; a large merge may need more memory)",
            installed,
            CHECKED_DLT_VERSION,
            CHECKED_DLT_VERSION,
        )
        return False
    # see duckdb_merge: the child tables' merge would not scale; 25-50 MB less per 100k calls
    use_duckdb_merge_corrections()
    return True


def _check_memory_limit() -> None:
    """``[destination.duckdb] memory_limit`` as DuckDB reads it, or one line naming the key."""
    try:
        duckdb.connect(config=session_config(":memory:")).close()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise RunError(
            ExitCode.BAD_CONFIG, f"{MEMORY_LIMIT_KEY}: {first} ({where(MEMORY_LIMIT_KEY)})"
        ) from None


def _check_writable(path: str) -> None:
    """Fails early, in one line, when the warehouse file cannot be created or written.

    Probing with a real file rather than ``os.access``: for root, access() says yes even on
    read-only or virtual file systems.
    """
    target = Path(path).resolve()
    if not target.parent.is_dir():
        raise RunError(ExitCode.DESTINATION, f"DuckDB folder does not exist: {target.parent}")
    try:
        if target.exists():
            with target.open("r+b"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".write-probe-"):
                pass
    except OSError as exc:
        raise RunError(
            ExitCode.DESTINATION, f"DuckDB file is not writable: {path} ({exc.strerror})"
        ) from None


def wait_for_file(path: str, wait_seconds: float) -> None:
    """Waits (bounded) while another process, e.g. an analyst's session, holds the DuckDB file.

    DuckDB allows one writing process per file; a load that found it locked would fail deep in
    the load step. Waiting here with a message, then failing with one clear line, is what an
    operator can act on. A lock taken after this check still fails the load cleanly: the load
    package stays pending and the next run finishes it.
    """
    if not Path(path).exists():
        return
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            duckdb.connect(path).close()
            return
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            holder = lock_holder(str(exc))
            if time.monotonic() >= deadline:
                raise RunError(
                    ExitCode.DESTINATION,
                    f"the DuckDB file {path} is in use by another process ({holder}); "
                    "close that session and rerun",
                ) from None
            if not announced:
                logger.warning(
                    "waiting up to %g s for the DuckDB file (held by %s)", wait_seconds, holder
                )
                announced = True
            time.sleep(0.5)


def lock_holder(message: str) -> str:
    """Who holds the file, from DuckDB's lock error: the program and its PID, e.g.
    ``/opt/hostedsuite/.venv/bin/python3.11 (PID 4242)`` (a path's dots kept)."""
    match = re.search(r"Conflicting lock is held in (.+? \(PID \d+\))", message)
    if match:
        return match.group(1)
    text = message.split("Conflicting lock is held in", 1)[-1]
    return text.split(". See also", 1)[0].strip().rstrip(".")


@contextmanager
def _as_is(pipeline: dlt.Pipeline) -> Iterator[dlt.Pipeline]:
    yield pipeline


@contextmanager
def _one_connection(pipeline: dlt.Pipeline, path: str) -> Iterator[dlt.Pipeline]:
    """The same pipeline, on one DuckDB connection held from here to the end of the run.

    dlt opens and closes a connection per load job, and DuckDB checkpoints the file on every
    close: 18 checkpoints in a scheduled run, seconds at a million calls. Given a connection of
    ours, dlt borrows cursors of it and never closes it; the file is checkpointed once, when it
    closes here (publishing checkpoints before it copies).

    Only for small runs (``steps.load.is_small_run``): on a large load the per-job checkpoints
    are what keep DuckDB's memory down, and one connection over a 100k-call first load measured
    30 % more peak memory (460 vs 355 MB) and 20 % more time.
    """
    connection = duckdb.connect(path, config=session_config(path))
    try:
        yield dlt.pipeline(
            pipeline_name=pipeline.pipeline_name,
            destination=resolved_once(dlt.destinations.duckdb(credentials=connection)),
            dataset_name=pipeline.dataset_name,
            pipelines_dir=pipeline.pipelines_dir,
        )
    finally:
        connection.close()
