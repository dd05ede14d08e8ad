"""Building blocks of a run, shared by the commands, the tests and the benchmark.

The dlt pipeline and its DuckDB settings, the run lock, the bounded wait for a DuckDB file held
by another process, a pending package finished before extracting, incremental runs in committed
batches, and the transforms after a successful load. Failures carry an ``ExitCode``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import dlt
import duckdb
import filelock
import pendulum
import pyarrow as pa
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import CustomLoaderDocProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from pipelines.destinations import destination_name, loader_file_format, make_destination
from pipelines.hostedsuite import (
    UNCHANGED_CALLS_STATE,
    UNKNOWN_CENTER_STATE,
    hostedsuite,
    parse_instant,
)
from pipelines.hostedsuite.settings import (
    CALLS_TABLE,
    CONTENT_HASH_COLUMN,
    DEFAULT_CALLS_PER_LOAD,
    DEFAULT_LOOKBACK_HOURS,
    DEFAULT_WORKERS,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
)

PIPELINE_NAME = "hostedsuite"
DATASET_NAME = "hostedsuite"
DEFAULT_PIPELINES_DIR = "var/pipelines"
DEFAULT_DUCKDB_FILE = "warehouse.duckdb"
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"
# At most this many calls expected: a run holds one DuckDB connection (see is_small_run).
HELD_CONNECTION_MAX_CALLS = 20_000
CODE_DEFAULTS_PROVIDER = "hostedsuite code defaults"
# dlt settings the pipeline relies on, as the lowest-priority config provider: env vars and
# .dlt/*.toml still override them, but a run from a folder without .dlt (cron, another cwd)
# no longer silently falls back to dlt's own defaults.
CODE_DEFAULTS: dict[str, Any] = {
    # DuckDB has one writer: parallel load jobs only add memory (100k calls: 440 -> 330 MB).
    "load": {"workers": 1},
    "normalize": {
        # Arrow items normalize quickly; worker processes only add start-up time and memory.
        "workers": 1,
        # stamps every raw row with its load's id: the incremental transforms read what changed
        # from it (see transforms/README.md); without it every transform is a full rebuild
        "parquet_normalizer": {"add_dlt_load_id": True},
    },
    # No UNIQUE constraint on _dlt_id in the staging tables: a load job re-run after a crash
    # (its rows committed, its completion not recorded) inserts its rows again, and the merge
    # de-duplicates them by primary key; a constraint would fail that re-run instead. DuckDB
    # creates none either.
    "destination": {"postgres": {"create_indexes": False}},
}


logger = logging.getLogger("hostedsuite")


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0
    FAILED = 1
    BAD_CONFIG = 2
    AUTH = 3
    API = 4
    DESTINATION = 5
    INCOMPLETE = 6
    PUBLISH = 7  # the run committed, but its serving copy could not be published
    LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later


class CliError(Exception):
    """An error with its exit code and a one-line message.

    ``lines``: the summary of work that did commit before the failure (printed first).
    """

    def __init__(self, code: ExitCode, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.lines = lines or []


@dataclass
class RunSummary:
    """What a run did, for the closing summary and for tests."""

    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    complete_through: str | None = None
    newest_call_start: str | None = None
    finished_pending: bool = False
    transform_lines: list[str] = field(default_factory=list)
    # Calls per load package, one entry per batch.
    batch_calls: list[int] = field(default_factory=list)
    # Calls whose CenterId /api/centers does not list, read in this zone (flagged in dq_issues).
    unknown_center_calls: int = 0
    unknown_center_zone: str | None = None
    # Re-read calls the warehouse already held as they are: not rewritten.
    unchanged_calls: int = 0

    def merge(self, other: RunSummary) -> None:
        """Adds the counts of another load (a batch) to this one."""
        for table, rows in other.row_counts.items():
            self.row_counts[table] = self.row_counts.get(table, 0) + rows
        self.finished_pending = self.finished_pending or other.finished_pending
        self.batch_calls += other.batch_calls
        self.unknown_center_calls += other.unknown_center_calls
        self.unchanged_calls += other.unchanged_calls
        self.unknown_center_zone = other.unknown_center_zone or self.unknown_center_zone

    def lines(self) -> list[str]:
        out = [f"done in {self.seconds:.1f} s"]
        if len(self.batch_calls) > 1:
            out.append(
                f"loaded in {len(self.batch_calls)} batches of up to "
                f"{max(self.batch_calls):,} calls, each committed"
            )
        if self.finished_pending:
            out.append("finished a pending load package from an interrupted run first")
        for table, rows in sorted(self.row_counts.items()):
            out.append(f"  {table:<32} {rows:>10,} rows")
        if self.unchanged_calls:
            out.append(f"re-read and unchanged (not rewritten): {self.unchanged_calls:,} calls")
        out.append(f"cursor (complete through): {self.complete_through or '-'}")
        out.append(f"newest call start:         {self.newest_call_start or '-'}")
        if self.unknown_center_calls:
            out.append(
                f"calls with an unknown center: {self.unknown_center_calls:,} "
                f"(read in {self.unknown_center_zone}; see dq_issues)"
            )
        return out + self.transform_lines


def use_code_defaults() -> None:
    """Registers ``CODE_DEFAULTS`` behind every other config provider (idempotent)."""
    providers = Container()[PluggableRunContext].providers
    if CODE_DEFAULTS_PROVIDER not in providers:
        providers.add_provider(
            CustomLoaderDocProvider(
                CODE_DEFAULTS_PROVIDER, lambda: CODE_DEFAULTS, supports_secrets=False
            )
        )


def make_pipeline(duckdb_path: str | None, pipelines_dir: str | None) -> dlt.Pipeline:
    """The pipeline. DuckDB by default; PostgreSQL or a DuckLake with ``DESTINATION_NAME``
    (or ``[pipeline] destination``), see ``pipelines/destinations.py``."""
    use_code_defaults()
    duckdb_credentials = None
    if destination_name() == "duckdb":
        duckdb_path = duckdb_path or configured_duckdb_file() or DEFAULT_DUCKDB_FILE
        _check_duckdb_file(duckdb_path)
        duckdb_credentials = {"database": duckdb_path, "global_config": duckdb_load_config()}
    elif duckdb_path:
        raise CliError(
            ExitCode.BAD_CONFIG,
            f"--duckdb names a DuckDB file, but the destination is {destination_name()!r}",
        )
    try:
        destination = make_destination(duckdb_credentials)
    except ValueError as exc:
        raise CliError(ExitCode.BAD_CONFIG, str(exc)) from None
    # PyArrow's default allocator (jemalloc) keeps the pages of parsed responses it freed;
    # the system allocator hands them back: ~90 MB less peak memory for 100k calls, same speed.
    pa.set_memory_pool(pa.system_memory_pool())
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=DATASET_NAME,
        pipelines_dir=pipelines_dir or DEFAULT_PIPELINES_DIR,
    )


def _check_duckdb_file(duckdb_path: str) -> None:
    _check_writable(duckdb_path)
    if Path(duckdb_path).stem == DATASET_NAME:
        # DuckDB names the catalog after the file; a catalog named like the dataset makes
        # DuckDB's binder resolve "hostedsuite.calls" ambiguously and dlt's merge fails.
        raise CliError(
            ExitCode.BAD_CONFIG,
            f"name the DuckDB file something other than {DATASET_NAME}.duckdb "
            f"(e.g. {DEFAULT_DUCKDB_FILE})",
        )


def duckdb_load_config() -> dict[str, Any]:
    """DuckDB settings for the load: a memory cap so a large package spills instead of growing
    the process (``[destination.duckdb] memory_limit``, default 1GB; "" for DuckDB's 80 %).
    Too low a cap fails the merge of a large package with DuckDB's Out of Memory error."""
    limit = dlt.config.get("destination.duckdb.memory_limit", str)
    limit = DEFAULT_DUCKDB_MEMORY_LIMIT if limit is None else limit
    return {"memory_limit": limit} if limit else {}


def _check_writable(path: str) -> None:
    """Fails early, in one line, when the warehouse file cannot be created or written.

    Probing with a real file rather than ``os.access``: for root, access() says yes even on
    read-only or virtual file systems.
    """
    target = Path(path).resolve()
    if not target.parent.is_dir():
        raise CliError(ExitCode.DESTINATION, f"DuckDB folder does not exist: {target.parent}")
    try:
        if target.exists():
            with target.open("r+b"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".write-probe-"):
                pass
    except OSError as exc:
        raise CliError(
            ExitCode.DESTINATION, f"DuckDB file is not writable: {path} ({exc.strerror})"
        ) from None


@contextmanager
def run_lock(pipeline: dlt.Pipeline, wait_seconds: float) -> Iterator[None]:
    """One run per pipeline at a time; dlt has no lock of its own."""
    Path(pipeline.pipelines_dir).mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(
        str(Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.run.lock")
    )
    try:
        lock.acquire(timeout=wait_seconds)
    except filelock.Timeout:
        raise CliError(
            ExitCode.LOCKED,
            f"another run of pipeline '{pipeline.pipeline_name}' is in progress "
            f"(waited {wait_seconds:g} s); try again later",
        ) from None
    try:
        yield
    finally:
        lock.release()


def wait_for_duckdb(path: str | None, wait_seconds: float) -> None:
    """Waits (bounded) while another process, e.g. an analyst's session, holds the DuckDB file.

    DuckDB allows one writing process per file; a load that found it locked would fail deep in
    the load step. Waiting here with a message, then failing with one clear line, is what an
    operator can act on. A lock taken after this check still fails the load cleanly: the load
    package stays pending and the next run finishes it.
    """
    if not path or not Path(path).exists():
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
            holder = str(exc).split("Conflicting lock is held in", 1)[-1].split(".")[0].strip()
            if time.monotonic() >= deadline:
                raise CliError(
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


@contextmanager
def exclusive_run(
    pipeline: dlt.Pipeline, args: argparse.Namespace, hold_connection: bool = True
) -> Iterator[dlt.Pipeline]:
    """The run lock, then a bounded wait for the DuckDB file to be free; yields the pipeline
    to run with: on one held DuckDB connection when ``hold_connection`` (see
    ``one_duckdb_connection``)."""
    with run_lock(pipeline, args.lock_wait):
        path = duckdb_file(args)
        wait_for_duckdb(path, args.db_wait)
        with one_duckdb_connection(pipeline, path if hold_connection else None) as held:
            yield held


def is_small_run(pipeline: dlt.Pipeline, until: str | None) -> bool:
    """Whether an incremental run up to ``until`` (default now) writes few calls: the previous
    runs measured the density, and the look-back plus the time since the cursor holds at most
    ``HELD_CONNECTION_MAX_CALLS`` calls at that density. A scheduled run is; a first load, a
    long catch-up is not."""
    state = cursor_state(pipeline)
    cursor = parse_instant(state.get("complete_through"), "cursor")
    density = state.get("calls_per_hour")
    if cursor is None or density is None:
        return False
    end = parse_instant(until, "until") or pendulum.now("UTC")
    lookback = dlt.config.get("sources.hostedsuite.lookback_hours", float)
    hours = (end - cursor).total_seconds() / 3600 + (lookback or DEFAULT_LOOKBACK_HOURS)
    return float(density) * hours <= HELD_CONNECTION_MAX_CALLS


@contextmanager
def one_duckdb_connection(pipeline: dlt.Pipeline, path: str | None) -> Iterator[dlt.Pipeline]:
    """The same pipeline, on one DuckDB connection held from here to the end of the run.

    dlt opens and closes a connection per load job, and DuckDB checkpoints the file on every
    close: 18 checkpoints in a scheduled run, seconds at a million calls. Given a connection of
    ours, dlt borrows cursors of it and never closes it; the file is checkpointed once, when it
    closes here (publishing checkpoints before it copies). Other destinations: unchanged.

    Only for small runs (``is_small_run``): on a large load the per-job checkpoints are what
    keep DuckDB's memory down, and one connection over a 100k-call first load measured 30 %
    more peak memory (460 vs 355 MB) and 20 % more time.
    """
    if not path or not pipeline.destination.destination_type.endswith(".duckdb"):
        yield pipeline
        return
    connection = duckdb.connect(path, config=duckdb_load_config())
    try:
        yield dlt.pipeline(
            pipeline_name=pipeline.pipeline_name,
            destination=dlt.destinations.duckdb(credentials=connection),
            dataset_name=pipeline.dataset_name,
            pipelines_dir=pipeline.pipelines_dir,
        )
    finally:
        connection.close()


def duckdb_file(args: argparse.Namespace) -> str | None:
    """The DuckDB file this run writes, if the destination is DuckDB."""
    return str(args.duckdb) if args.duckdb else configured_duckdb_file()


def configured_duckdb_file() -> str | None:
    """dlt's ``destination.duckdb.credentials``, or our default; None for other destinations."""
    if destination_name() != "duckdb":
        return None
    configured = dlt.config.get("destination.duckdb.credentials", str)
    return configured or DEFAULT_DUCKDB_FILE


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Loads what an interrupted run left behind; dlt's run() would stop after doing only this."""
    if not pipeline.has_pending_data:
        return False
    logger.info("finishing the pending load package of an interrupted run")
    pipeline.normalize()
    pipeline.load()
    return True


def run_source(
    pipeline: dlt.Pipeline,
    source_kwargs: dict[str, Any],
    transform: Callable[[dlt.Pipeline], list[str]] | None = None,
) -> RunSummary:
    """One load: pending package first, then extract/normalize/load the source, then the
    transforms. Callers wanting a whole range use ``run_incremental`` (batches)."""
    started = time.perf_counter()
    summary = RunSummary(finished_pending=finish_pending(pipeline))
    source = hostedsuite(
        **source_kwargs, stored_hashes=lambda since: stored_call_hashes(pipeline, since)
    )
    file_format = loader_file_format(pipeline.destination.destination_type)
    pipeline.run(source, loader_file_format=file_format)
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    if normalize_info:
        summary.row_counts = real_row_counts(normalize_info.row_counts)
    summary.batch_calls = [summary.row_counts.get(CALLS_TABLE, 0)]
    unknown = cursor_state(pipeline).get(UNKNOWN_CENTER_STATE) or {}
    summary.unknown_center_calls = int(unknown.get("calls") or 0)
    summary.unknown_center_zone = unknown.get("zone")
    summary.unchanged_calls = int(cursor_state(pipeline).get(UNCHANGED_CALLS_STATE) or 0)
    return finish_run(pipeline, summary, started, transform)


def stored_call_hashes(pipeline: dlt.Pipeline, since: pendulum.DateTime) -> dict[str, str]:
    """``content_hash`` of each call in the warehouse starting at or after ``since``; empty
    before the column exists (its first scheduled run then rewrites the look-back once)."""
    if not pipeline.default_schema_name:
        return {}
    columns = pipeline.default_schema.tables.get(CALLS_TABLE, {}).get("columns", {})
    if CONTENT_HASH_COLUMN not in columns:
        return {}
    with pipeline.sql_client() as client:
        calls = client.make_qualified_table_name(CALLS_TABLE)
        rows = client.execute_sql(
            f"select id, {CONTENT_HASH_COLUMN} from {calls} "
            f"where start_time >= cast('{since.to_iso8601_string()}' as timestamp with time zone) "
            f"and {CONTENT_HASH_COLUMN} is not null"
        )
    return {str(call_id): str(digest) for call_id, digest in rows or []}


def run_incremental(
    pipeline: dlt.Pipeline,
    source_kwargs: dict[str, Any],
    transform: Callable[[dlt.Pipeline], list[str]] | None = None,
) -> RunSummary:
    """An incremental run up to ``until`` (default: now), in batches of about
    ``calls_per_load`` calls, each one load package committed with its cursor.

    The first batch re-reads the look-back; the following ones continue exactly at the cursor
    the previous batch committed. A scheduled run is one batch; a first run over months of
    history is several: memory stays flat, and a killed run resumes where it stopped.
    """
    started = time.perf_counter()
    until = source_kwargs.get("until") or pendulum.now("UTC").replace(microsecond=0)
    target = parse_instant(until, "until")
    assert target is not None
    kwargs = {**source_kwargs, "until": target.to_iso8601_string()}
    if not kwargs.get("calls_per_load"):
        configured = dlt.config.get("sources.hostedsuite.calls_per_load", int)
        kwargs["calls_per_load"] = configured or DEFAULT_CALLS_PER_LOAD
    summary = RunSummary()
    previous = None
    while True:
        summary.merge(run_source(pipeline, kwargs))
        cursor = parse_instant(cursor_state(pipeline).get("complete_through"), "cursor")
        if cursor is None or cursor >= target:
            break
        if previous is not None and cursor <= previous:
            raise CliError(ExitCode.FAILED, "load made no progress; see the log above")
        logger.info("committed through %s; loading the next batch", cursor.to_iso8601_string())
        previous = cursor
        kwargs["lookback_hours"] = 0  # the batch just committed needs no re-read
    return finish_run(pipeline, summary, started, transform)


def finish_run(
    pipeline: dlt.Pipeline,
    summary: RunSummary,
    started: float,
    transform: Callable[[dlt.Pipeline], list[str]] | None,
) -> RunSummary:
    """Transforms once after all batches, then the cursor and the time for the summary."""
    if transform is not None:
        summary.transform_lines = transform(pipeline)
    state = cursor_state(pipeline)
    summary.complete_through = state.get("complete_through")
    summary.newest_call_start = state.get("newest_call_start")
    summary.seconds = time.perf_counter() - started
    return summary


def configured_workers(workers: int | None = None) -> int:
    """``workers`` if given, else ``sources.hostedsuite.workers``, else the default."""
    return workers or dlt.config.get("sources.hostedsuite.workers", int) or DEFAULT_WORKERS


def real_row_counts(row_counts: dict[str, int]) -> dict[str, int]:
    """Rows per table without dlt's own tables and without the child tables' tombstones
    (one per call in each child table; they are deleted by the merge, never stored)."""
    counts = {t: n for t, n in row_counts.items() if not t.startswith("_dlt")}
    for child in (INTERACTIONS_TABLE, FORMS_TABLE):
        if child in counts:
            counts[child] -= counts.get(CALLS_TABLE, 0)
    return counts


def cursor_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The ``calls`` resource state: ``complete_through``, ``newest_call_start``, ``backfills``."""
    sources = pipeline.state.get("sources", {})
    state: dict[str, Any] = sources.get("hostedsuite", {}).get("resources", {}).get("calls", {})
    return state


def run_transforms_step(pipeline: dlt.Pipeline, full: bool = False) -> list[str]:
    """Refreshes the analytics schema through the pipeline's own destination connection:
    what the loads since the last refresh changed, or everything when ``full``."""
    from transforms import MetricSettings, format_summary, run_transforms

    with pipeline.sql_client() as client:
        # The load's memory cap would make a full rebuild spill; it reads everything.
        if pipeline.destination.destination_type.endswith("duckdb"):
            client.execute_sql("RESET memory_limit")
        result = run_transforms(
            client,
            raw_schema=pipeline.dataset_name,
            settings=MetricSettings.from_dlt_config(),
            full=full,
            # a lake writes each catalog entry once per transaction (transforms/runner.py)
            ducklake=pipeline.destination.destination_type.endswith("ducklake"),
        )
    return list(format_summary(result))
