"""The ``hostedsuite`` commands: load, backfill, verify, transform, demo, sql and report.

Each takes the parsed arguments and returns the lines of its closing summary; failures are
raised as ``CliError`` (or the source's errors) and turned into one line and an exit code by
``hostedsuite_pipeline.main``.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

import dlt
import pendulum

from pipelines.hostedsuite import (
    BackfillRange,
    CenterDirectory,
    backfill_missing,
    make_client,
    parse_instant,
)
from pipelines.hostedsuite.client import ConfigError
from pipelines.hostedsuite.completeness import (
    check_completeness,
    record_results,
    unknown_center_calls,
    watermark,
)
from pipelines.hostedsuite.settings import (
    BATCH_WINDOWS_PER_WORKER,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW_HOURS,
)
from pipelines.hostedsuite.windows import split_windows
from pipelines.operations import (
    DEFAULT_DUCKDB_FILE,
    CliError,
    ExitCode,
    RunSummary,
    configured_duckdb_file,
    configured_workers,
    cursor_state,
    duckdb_file,
    exclusive_run,
    finish_run,
    is_small_run,
    make_pipeline,
    run_incremental,
    run_source,
    run_transforms_step,
)
from pipelines.publishing import (
    ServingTarget,
    load_health_fields,
    serving_target,
    with_published_copy,
)
from pipelines.report import DEFAULT_TARGET_PCT, ReportResult
from pipelines.serving import default_serving_path

logger = logging.getLogger("hostedsuite")

DEMO_DATA_START = "2024-03-01"  # 45 days across the US, EU and Sydney DST changes
UNKNOWN_CENTER_LINES = 50  # calls of an unknown center listed by verify, at most
# What `make demo` publishes (its --workdir default): `make report`'s fallback on a fresh clone.
DEMO_SERVING_COPY = Path("var/demo") / "warehouse.serving.duckdb"


def cmd_load(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    kwargs: dict[str, Any] = {}
    if args.until:
        kwargs["until"] = args.until
    if args.workers:
        kwargs["workers"] = args.workers
    target = serving_target(duckdb_file(args), args.serving)
    small = is_small_run(pipeline, args.until)
    with exclusive_run(pipeline, args, hold_connection=small) as pipeline:
        summary = run_incremental(
            pipeline, kwargs, None if args.no_transform else run_transforms_step
        )
        lines = with_published_copy(summary.lines(), pipeline, target)
    return report_after_load(lines, args, target)


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
    target = serving_target(duckdb_file(args), args.serving)
    summary = RunSummary()
    started = time.perf_counter()
    with exclusive_run(pipeline, args, hold_connection=False) as pipeline:
        # One load per batch of windows: each commits the range it finished, so an
        # interrupted backfill resumes with what is missing, whatever the window width.
        while missing := backfill_missing(cursor_state(pipeline), backfill):
            batch = run_source(pipeline, kwargs)
            summary.merge(batch)
            if backfill_missing(cursor_state(pipeline), backfill) == missing:
                raise CliError(ExitCode.FAILED, "backfill made no progress; see the log above")
        finish_run(pipeline, summary, started, None if args.no_transform else run_transforms_step)
        header = f"backfill {start.to_iso8601_string()}..{end.to_iso8601_string()}: {total} windows"
        lines = with_published_copy([header, *summary.lines()], pipeline, target)
    return report_after_load(lines, args, target)


def cmd_verify(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    state = cursor_state(pipeline)
    default_last = parse_instant(state.get("complete_through"), "cursor") or pendulum.now("UTC")
    last = _cli_instant(args.end, "--end").date() if args.end else default_last.date()
    first = _cli_instant(args.start, "--start").date() if args.start else last.subtract(days=6)
    if last < first:
        raise CliError(ExitCode.BAD_CONFIG, "--end must not be before --start")
    client = make_client()
    default_zone = dlt.config.get("sources.hostedsuite.default_timezone", str) or DEFAULT_TIMEZONE
    directory = CenterDirectory(client, default_zone)
    center_ids = [c["id"] for c in directory.centers()]
    logger.info("verify: %d centers x %d days", len(center_ids), (last - first).days + 1)
    target = serving_target(duckdb_file(args), args.serving)
    with exclusive_run(pipeline, args) as pipeline:
        health = load_health_fields(pipeline)
        with pipeline.sql_client() as sql:
            results = check_completeness(
                client, sql, pipeline.dataset_name, center_ids, first, last, args.workers or 4
            )
            record_results(sql, results, first, last, health, pendulum.now("UTC"))
            orphans = unknown_center_calls(sql, pipeline.dataset_name, center_ids, first, last)
        differing = [r for r in results if r.status != "ok"]
        lines = [
            f"verify {first}..{last}: {len(results)} center-days checked, {len(differing)} differ"
        ]
        lines += [
            f"  {r.center_id} {r.local_date}: api {r.api_count}, warehouse {r.warehouse_local} "
            f"({r.status})"
            for r in differing
        ]
        lines.append(f"complete up to: {watermark(results) or '-'} (analytics.load_health)")
        if orphans:
            # Not a difference (the API cannot count them per center), but worth a look.
            lines.append(
                f"calls with an unknown center: {len(orphans)} "
                f"(read in {directory.default_timezone}; not in the counts above)"
            )
            shown = orphans[:UNKNOWN_CENTER_LINES]
            lines += [f"  {call_id} center {center_id!r}" for call_id, center_id in shown]
            if len(orphans) > len(shown):
                lines.append(f"  ... and {len(orphans) - len(shown)} more (dq_issues says which)")
        # The completeness tables changed: analysts see them in the serving copy either way.
        lines = with_published_copy(lines, pipeline, target)
    if differing:
        raise CliError(
            ExitCode.INCOMPLETE, f"{len(differing)} center-days differ from the API", lines
        )
    return lines


def cmd_transform(args: argparse.Namespace) -> list[str]:
    pipeline = make_pipeline(args.duckdb, args.pipelines_dir)
    target = serving_target(duckdb_file(args), args.serving)
    with exclusive_run(pipeline, args) as pipeline:
        lines = run_transforms_step(pipeline, full=args.full)
        return with_published_copy(lines, pipeline, target)


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
        # The demo's copy always goes beside its own warehouse, whatever [serving] path says.
        target = serving_target(str(duckdb_path), str(default_serving_path(duckdb_path)))
        lines = with_published_copy(summary.lines(), pipeline, target)
    report = _build_report(default_serving_path(duckdb_path), workdir / "report.html", None, None)
    return [
        *lines,
        f"warehouse: {duckdb_path}  (the pipeline's own file: loads write it)",
        f"query the serving copy: make sql DB={default_serving_path(duckdb_path)}",
        report.line(),
        f"report other dates: make report DB={default_serving_path(duckdb_path)} "
        f"START={report.start} END={report.end}",
    ]


def cmd_sql(args: argparse.Namespace) -> list[str]:
    """A read-only SQL prompt (or script) on the serving copy; never takes the run lock."""
    import sys

    import duckdb

    from pipelines.sql_prompt import first_line, interactive, run_script

    path = Path(args.db) if args.db else _configured_serving_copy()
    if not path.exists():
        raise CliError(
            ExitCode.BAD_CONFIG,
            f"no serving copy at {path} yet: run `make load` (or `make demo`) first",
        )
    script = args.sql if args.sql is not None else None
    if script is None and not sys.stdin.isatty():
        script = sys.stdin.read()
    if script is None:
        interactive(path, args.allow_external_access)
        return []
    try:
        run_script(path, script, args.csv, args.allow_external_access)
    except duckdb.Error as exc:
        raise CliError(ExitCode.FAILED, f"sql: {first_line(exc)}") from None
    return []


def _configured_serving_copy() -> Path:
    target = serving_target(configured_duckdb_file())
    if target is None:
        raise CliError(
            ExitCode.BAD_CONFIG,
            "publishing is off ([serving] path is empty) or the warehouse is not DuckDB: "
            "name the file to open (make sql DB=<file>)",
        )
    return target.path


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


def cmd_report(args: argparse.Namespace) -> list[str]:
    """Writes the HTML report of the serving copy (or ``--db``); never takes the run lock."""
    notes: list[str] = []
    db = Path(args.db) if args.db else _configured_serving_copy()
    if not args.db and not db.exists() and DEMO_SERVING_COPY.exists():
        # A fresh clone after `make demo`: the demo's copy is the only data there is.
        notes.append(f"no serving copy at {db}: reporting on the demo's {DEMO_SERVING_COPY}")
        db = DEMO_SERVING_COPY
    out = Path(args.out) if args.out else report_path(db)
    start = _cli_date(args.start, "--start")
    end = _cli_date(args.end, "--end")
    return [*notes, _build_report(db, out, start, end).line()]


def report_path(db: Path) -> Path:
    """``[report] path`` (env ``REPORT__PATH``); default ``report.html`` beside the database."""
    configured = dlt.config.get("report.path", str)
    return Path(configured) if configured else db.parent / "report.html"


def report_after_load(
    lines: list[str], args: argparse.Namespace, target: ServingTarget | None
) -> list[str]:
    """With ``[report] after_load = true``, the report of the copy just published (of the
    warehouse itself when publishing is off), after a successful run."""
    if not dlt.config.get("report.after_load", bool):
        return lines
    db = target.path if target is not None else Path(duckdb_file(args) or "")
    try:
        return [*lines, _build_report(db, report_path(db), None, None).line()]
    except CliError as exc:
        raise CliError(exc.code, f"{exc}; the run itself committed", lines) from None


def _build_report(db: Path, out: Path, start: date | None, end: date | None) -> ReportResult:
    from pipelines.report import ReportError, build_report

    target = dlt.config.get("report.service_level_target_pct", float)
    try:
        return build_report(db, out, start, end, DEFAULT_TARGET_PCT if target is None else target)
    except ReportError as exc:
        raise CliError(ExitCode.BAD_CONFIG, f"report: {exc}") from None
    except OSError as exc:
        raise CliError(ExitCode.FAILED, f"report: cannot write {out}: {exc.strerror}") from None


def _cli_date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(
            ExitCode.BAD_CONFIG, f"{name} must be a date YYYY-MM-DD, got {value!r}"
        ) from None
