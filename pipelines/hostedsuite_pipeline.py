"""Command line for the HostedSuite pipeline: ``hostedsuite load|backfill|demo|transform|verify``.

A thin runner around the ``pipelines.hostedsuite`` source: it builds the dlt pipeline, holds
the run lock, finishes a pending load package before extracting, runs the transforms after a
successful load, prints progress and a summary, and maps every failure to one line and an
exit code (see ``ExitCode``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.hostedsuite import (
    BackfillRange,
    CenterDirectory,
    hostedsuite,
    make_client,
    parse_instant,
)
from pipelines.hostedsuite.completeness import check_completeness, record_results, watermark
from pipelines.hostedsuite.helpers import (
    ApiError,
    AuthError,
    ConfigError,
    HostedSuiteError,
    redact,
    split_windows,
)
from pipelines.hostedsuite.merge_sql import use_duplicates_only_dedup, use_single_key_deletes
from pipelines.hostedsuite.settings import (
    BATCH_WINDOWS_PER_WORKER,
    CALLS_TABLE,
    DEFAULT_CALLS_PER_LOAD,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW_HOURS,
    DEFAULT_WORKERS,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
)

PIPELINE_NAME = "hostedsuite"
DATASET_NAME = "hostedsuite"
DEFAULT_PIPELINES_DIR = "var/pipelines"
DEFAULT_DUCKDB_FILE = "warehouse.duckdb"
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"
DEMO_DATA_START = "2024-03-01"  # 45 days across the US, EU and Sydney DST changes

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
    LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later


class CliError(Exception):
    """An error with its exit code and a one-line message."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


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

    def merge(self, other: RunSummary) -> None:
        """Adds the counts of another load (a batch) to this one."""
        for table, rows in other.row_counts.items():
            self.row_counts[table] = self.row_counts.get(table, 0) + rows
        self.finished_pending = self.finished_pending or other.finished_pending
        self.batch_calls += other.batch_calls

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
        out.append(f"cursor (complete through): {self.complete_through or '-'}")
        out.append(f"newest call start:         {self.newest_call_start or '-'}")
        return out + self.transform_lines


# ------------------------------------------------------------------------------------------
# Building blocks (also used in-process by tests and the benchmark)
# ------------------------------------------------------------------------------------------
def make_pipeline(duckdb_path: str | None, pipelines_dir: str | None) -> dlt.Pipeline:
    """The pipeline. DuckDB by default; any dlt destination via ``DESTINATION_NAME`` config."""
    destination: Any
    duckdb_path = duckdb_path or configured_duckdb_file()
    if duckdb_path:
        _check_writable(duckdb_path)
        if Path(duckdb_path).stem == DATASET_NAME:
            # DuckDB names the catalog after the file; a catalog named like the dataset makes
            # DuckDB's binder resolve "hostedsuite.calls" ambiguously and dlt's merge fails.
            raise CliError(
                ExitCode.BAD_CONFIG,
                f"name the DuckDB file something other than {DATASET_NAME}.duckdb "
                f"(e.g. {DEFAULT_DUCKDB_FILE})",
            )
        destination = dlt.destinations.duckdb(
            credentials={"database": duckdb_path, "global_config": duckdb_load_config()}
        )
        use_duplicates_only_dedup()  # see merge_sql: 25-50 MB less per 100k-call batch
    else:
        destination = os.environ["DESTINATION_NAME"]
    use_single_key_deletes()  # see merge_sql: the child tables' merge would not scale
    # PyArrow's default allocator (jemalloc) keeps the pages of parsed responses it freed;
    # the system allocator hands them back: ~90 MB less peak memory for 100k calls, same speed.
    pa.set_memory_pool(pa.system_memory_pool())
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=DATASET_NAME,
        pipelines_dir=pipelines_dir or DEFAULT_PIPELINES_DIR,
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
def exclusive_run(pipeline: dlt.Pipeline, args: argparse.Namespace) -> Iterator[None]:
    """The run lock, then a bounded wait for the DuckDB file to be free."""
    with run_lock(pipeline, args.lock_wait):
        wait_for_duckdb(duckdb_file(args), args.db_wait)
        yield


def duckdb_file(args: argparse.Namespace) -> str | None:
    """The DuckDB file this run writes, if the destination is DuckDB."""
    return str(args.duckdb) if args.duckdb else configured_duckdb_file()


def configured_duckdb_file() -> str | None:
    """dlt's ``destination.duckdb.credentials``, or our default; None for other destinations."""
    if os.environ.get("DESTINATION_NAME", "duckdb") != "duckdb":
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
    source = hostedsuite(**source_kwargs)
    pipeline.run(source, loader_file_format="parquet")
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    if normalize_info:
        summary.row_counts = real_row_counts(normalize_info.row_counts)
    summary.batch_calls = [summary.row_counts.get(CALLS_TABLE, 0)]
    return _finish(pipeline, summary, started, transform)


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
    return _finish(pipeline, summary, started, transform)


def _finish(
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


def run_transforms_step(pipeline: dlt.Pipeline) -> list[str]:
    """Rebuilds the analytics schema through the pipeline's own destination connection."""
    from transforms import MetricSettings, format_summary, run_transforms

    with pipeline.sql_client() as client:
        # The load's memory cap would make the analytics rebuild spill; it reads everything.
        if pipeline.destination.destination_type.endswith("duckdb"):
            client.execute_sql("RESET memory_limit")
        result = run_transforms(
            client, raw_schema=pipeline.dataset_name, settings=MetricSettings.from_dlt_config()
        )
    return list(format_summary(result))


# ------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------
def cmd_load(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    kwargs: dict[str, Any] = {}
    if args.until:
        kwargs["until"] = args.until
    if args.workers:
        kwargs["workers"] = args.workers
    with exclusive_run(pipeline, args):
        summary = run_incremental(
            pipeline, kwargs, None if args.no_transform else run_transforms_step
        )
    return summary.lines()


def cmd_backfill(args: argparse.Namespace) -> list[str]:
    start = _cli_instant(args.start, "--start")
    end = _cli_instant(args.end, "--end")
    if end <= start:
        raise CliError(
            ExitCode.BAD_CONFIG, f"--end ({args.end}) must be after --start ({args.start})"
        )
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    filters = ",".join(
        f"{name}={getattr(args, name)}"
        for name in ("client_id", "center_id")
        if getattr(args, name)
    )
    backfill = BackfillRange(start, end, filters)
    window_hours = args.window_hours or dlt.config.get("sources.hostedsuite.window_hours", float)
    total = len(split_windows(start, end, window_hours or DEFAULT_WINDOW_HOURS))
    kwargs: dict[str, Any] = {
        "backfill": backfill,
        "max_windows": configured_workers(args.workers) * BATCH_WINDOWS_PER_WORKER,
    }
    for name in ("workers", "client_id", "center_id", "window_hours"):
        if getattr(args, name):
            kwargs[name] = getattr(args, name)
    summary = RunSummary()
    started = time.perf_counter()
    with exclusive_run(pipeline, args):
        # One load per batch of windows: each commits the windows it finished, so an
        # interrupted backfill resumes at the first window not yet loaded.
        while len(backfill_done(pipeline, backfill)) < total:
            before = len(backfill_done(pipeline, backfill))
            batch = run_source(pipeline, kwargs)
            summary.merge(batch)
            if len(backfill_done(pipeline, backfill)) == before:
                raise CliError(ExitCode.FAILED, "backfill made no progress; see the log above")
        _finish(pipeline, summary, started, None if args.no_transform else run_transforms_step)
    header = f"backfill {start.to_iso8601_string()}..{end.to_iso8601_string()}: {total} windows"
    return [header, *summary.lines()]


def backfill_done(pipeline: dlt.Pipeline, backfill: BackfillRange) -> list[str]:
    """Window starts of ``backfill`` already loaded (committed with their load)."""
    done: list[str] = cursor_state(pipeline).get("backfills", {}).get(backfill.key, [])
    return done


def cmd_verify(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    state = cursor_state(pipeline)
    default_last = parse_instant(state.get("complete_through"), "cursor") or pendulum.now("UTC")
    last = _cli_instant(args.end, "--end").date() if args.end else default_last.date()
    first = _cli_instant(args.start, "--start").date() if args.start else last.subtract(days=6)
    if last < first:
        raise CliError(ExitCode.BAD_CONFIG, "--end must not be before --start")
    client = make_client()
    directory = CenterDirectory(client, DEFAULT_TIMEZONE)
    center_ids = [c["id"] for c in directory.centers()]
    logger.info("verify: %d centers x %d days", len(center_ids), (last - first).days + 1)
    with exclusive_run(pipeline, args), pipeline.sql_client() as sql:
        results = check_completeness(
            client, sql, pipeline.dataset_name, center_ids, first, last, args.workers or 4
        )
        health = {
            "pipeline_name": pipeline.pipeline_name,
            "last_successful_load_at": _last_load_at(sql, pipeline.dataset_name),
            "newest_call_start": state.get("newest_call_start"),
            "complete_through": state.get("complete_through"),
        }
        record_results(sql, results, first, last, health, pendulum.now("UTC"))
    differing = [r for r in results if r.status != "ok"]
    lines = [f"verify {first}..{last}: {len(results)} center-days checked, {len(differing)} differ"]
    lines += [
        f"  {r.center_id} {r.local_date}: api {r.api_count}, warehouse {r.warehouse_local} "
        f"({r.status})"
        for r in differing
    ]
    lines.append(f"complete up to: {watermark(results) or '-'} (analytics.load_health)")
    if differing:
        for line in lines:
            print(line)
        raise CliError(ExitCode.INCOMPLETE, f"{len(differing)} center-days differ from the API")
    return lines


def _last_load_at(sql: Any, dataset: str) -> Any:
    rows = sql.execute_sql(f"SELECT max(inserted_at) FROM {dataset}._dlt_loads WHERE status = 0")
    return rows[0][0] if rows else None


def cmd_transform(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    with exclusive_run(pipeline, args):
        return run_transforms_step(pipeline)


def cmd_demo(args: argparse.Namespace) -> list[str]:
    from hostedsuite_emulator import Emulator

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    duckdb_path = workdir / DEFAULT_DUCKDB_FILE
    for stale in (duckdb_path, workdir / f"{DEFAULT_DUCKDB_FILE}.wal"):
        stale.unlink(missing_ok=True)
    pipelines_dir = workdir / "pipelines"
    if pipelines_dir.exists():
        import shutil

        shutil.rmtree(pipelines_dir)
    logger.info("starting the HostedSuite emulator with %d calls (seed %d)", args.calls, args.seed)
    with Emulator(calls=args.calls, seed=args.seed, start=DEMO_DATA_START) as emulator:
        logger.info("emulator at %s; loading into %s", emulator.url, duckdb_path)
        creds = emulator.credentials
        pipeline = make_pipeline(str(duckdb_path), str(pipelines_dir))
        summary = run_incremental(
            pipeline,
            {
                "base_url": emulator.url,
                "customer_name": creds["customer_name"],
                "user_name": creds["user_name"],
                "password": creds["password"],
                "start_date": DEMO_DATA_START,
                "until": pendulum.instance(emulator.now).to_iso8601_string(),
            },
            run_transforms_step,
        )
        summary.transform_lines += metrics_summary(pipeline)
    return [*summary.lines(), f"warehouse: {duckdb_path}  (open with: duckdb {duckdb_path})"]


METRICS_SUMMARY_SQL = """
    select
        centers.center_name,
        count(*) filter (where calls.direction = 'Incoming') as incoming_calls,
        100.0 * count_if(calls.is_within_service_level)
            / nullif(count_if(calls.is_answered or calls.is_abandoned)
                     filter (where calls.direction = 'Incoming'), 0) as service_level_pct,
        avg(calls.speed_of_answer_seconds) as asa_seconds,
        avg(calls.handle_time_seconds) filter (where calls.is_answered) as aht_seconds
    from analytics.fct_calls as calls
    join analytics.dim_centers as centers using (center_id)
    group by centers.center_name
    order by centers.center_name
"""


def metrics_summary(pipeline: dlt.Pipeline) -> list[str]:
    """Service level, ASA and AHT per center over the loaded period (incoming calls)."""
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql(METRICS_SUMMARY_SQL) or []
    lines = [f"{'center':<28} {'incoming':>9} {'SL %':>6} {'ASA s':>7} {'AHT s':>7}"]
    for name, incoming, service_level, asa, aht in rows:
        figures = f"{_num(service_level):>6} {_num(asa):>7} {_num(aht):>7}"
        lines.append(f"{name or '-':<28} {incoming:>9,} {figures}")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _cli_instant(value: str | None, name: str) -> pendulum.DateTime:
    if not value:
        raise CliError(ExitCode.BAD_CONFIG, f"{name} is required (YYYY-MM-DD)")
    try:
        parsed = parse_instant(value, name)
    except ConfigError as exc:
        raise CliError(ExitCode.BAD_CONFIG, str(exc)) from None
    assert parsed is not None
    return parsed


# ------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"error: {message} (see --help)\n")
        raise SystemExit(ExitCode.BAD_CONFIG)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hostedsuite", description=__doc__.splitlines()[0])
    common = _Parser(add_help=False)
    common.add_argument(
        "--duckdb", help="DuckDB file (default: dlt config destination.duckdb.credentials)"
    )
    common.add_argument(
        "--pipelines-dir",
        default=DEFAULT_PIPELINES_DIR,
        help="dlt working folder (state, load packages, traces)",
    )
    common.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        help="seconds to wait for another run to finish before giving up (default 0)",
    )
    common.add_argument(
        "--db-wait",
        type=float,
        default=30.0,
        help="seconds to wait while another process holds the DuckDB file (default 30)",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress, only the summary")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    load = sub.add_parser("load", parents=[common], help="incremental load")
    load.add_argument("--until", help="load up to this UTC datetime instead of now")
    load.add_argument("--workers", type=int, help="windows fetched concurrently")
    load.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")
    load.set_defaults(handler=cmd_load)

    backfill = sub.add_parser("backfill", parents=[common], help="load a date range")
    backfill.add_argument("--start", required=True, help="first UTC date (YYYY-MM-DD)")
    backfill.add_argument("--end", required=True, help="end UTC date, exclusive (YYYY-MM-DD)")
    backfill.add_argument("--client", dest="client_id", help="only this ClientId")
    backfill.add_argument("--center", dest="center_id", help="only this CenterId")
    backfill.add_argument("--workers", type=int, help="windows fetched concurrently")
    backfill.add_argument("--window-hours", type=float, help="width of one window")
    backfill.add_argument("--no-transform", action="store_true", help="skip the analytics rebuild")
    backfill.set_defaults(handler=cmd_backfill)

    verify = sub.add_parser("verify", parents=[common], help="compare API counts per center-day")
    verify.add_argument("--start", help="first local date (default: 7 days before --end)")
    verify.add_argument("--end", help="last local date (default: the cursor's date)")
    verify.add_argument("--workers", type=int, help="concurrent count requests")
    verify.set_defaults(handler=cmd_verify)

    transform = sub.add_parser("transform", parents=[common], help="rebuild the analytics schema")
    transform.set_defaults(handler=cmd_transform)

    demo = sub.add_parser("demo", parents=[common], help="load the bundled emulator into DuckDB")
    demo.add_argument("--calls", type=int, default=20_000, help="calls the emulator serves")
    demo.add_argument("--seed", type=int, default=1, help="emulator data seed")
    demo.add_argument("--workdir", default="var/demo", help="where the demo warehouse goes")
    demo.set_defaults(handler=cmd_demo)
    return parser


def configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def describe_failure(exc: BaseException) -> tuple[ExitCode, str]:
    """Finds the root cause inside dlt's wrappers and turns it into (exit code, one line)."""
    chain = list(_cause_chain(exc))
    for current in chain:
        if isinstance(current, CliError):
            return current.code, str(current)
        if isinstance(current, AuthError):
            return ExitCode.AUTH, str(current)
        if isinstance(current, ConfigError):
            return ExitCode.BAD_CONFIG, str(current)
        if isinstance(current, ApiError | HostedSuiteError):
            return ExitCode.API, str(current)
        if isinstance(current, ConfigurationException):
            return ExitCode.BAD_CONFIG, _config_message(current)
        if "Out of Memory" in str(current):
            return ExitCode.DESTINATION, (
                "DuckDB ran out of its memory cap while merging the load; raise "
                "[destination.duckdb] memory_limit and rerun (the load package is kept)"
            )
        if "duckdb" in type(current).__module__ and "lock" in str(current).lower():
            return ExitCode.DESTINATION, (
                "the DuckDB file is locked by another process (an open analyst session?); "
                "close it or retry later"
            )
    root = chain[-1]
    text = str(root).strip().splitlines()
    return ExitCode.FAILED, f"{type(root).__name__}: {text[0] if text else ''}"


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors under it: dlt's ``PipelineStepFailed.exception``, then causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        if isinstance(nested, BaseException):
            current = nested
        elif current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__


def _config_message(exc: ConfigurationException) -> str:
    missing = getattr(exc, "fields", None)
    if missing:
        names = ", ".join(f"sources.hostedsuite.{name}" for name in missing)
        return f"missing configuration: {names} (.dlt/config.toml, .dlt/secrets.toml or env vars)"
    return str(exc).splitlines()[0]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.quiet)
    try:
        lines = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; the next run resumes safely\n")
        return ExitCode.FAILED
    except (Exception, PipelineStepFailed) as exc:  # one line, never a traceback
        code, message = describe_failure(exc)
        sys.stderr.write(f"error: {redact(message)}\n")
        return code
    for line in lines:
        print(line)
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
