"""``make bench ARGS="--only history10m"``: scheduled runs, a full rebuild and the report on a
10M-call warehouse (issue #22 §1 and §4), built in minutes rather than a 40-minute load.

The history: 1M calls loaded through the pipeline over a year from an emulator in a process of
its own, extended in SQL with 9 shifted copies (``bench/history_sql.py``: new ids, start times
and load ids k years earlier), then one full rebuild (``hostedsuite transform --full``, default
settings: its time and peak RSS are a row; when it runs out of its memory cap, a rebuild with a
raised cap makes the marts the later rows need). Then, as in ``serving_bench``, ``hostedsuite
load`` as cron runs it after 5 minutes of new calls (its 48 h look-back re-reads the recent
year, which the emulator serves), against the same run on a 100k-call warehouse measured in this
section: filled at the same rate (36 days of calls), so that its runs add and re-read as many
calls and only the history differs. A year of 100k calls, whose runs add one call and re-read a
tenth as many, is measured beside it. One more run of the 10M warehouse and of the same-rate
reference under ``bench/profiled_cli.py`` for their per-step profiles; the 30-day report; the
files' sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import pendulum

from bench.cron import (
    CLI,
    MEMORY_SETTING,
    Exited,
    first_load,
    per_5_minutes,
    run_measured,
    scheduled_runs,
    warehouse_args,
    written_note,
)
from bench.harness import RESULTS, Ratio, Ratios, Row, StandaloneEmulator, cli_env

LOADED = 1_000_000  # calls loaded through the pipeline, over a year
COPIES = 9
CALLS = LOADED * (COPIES + 1)
START = "2023-03-01"
SEED = 6
METHOD = (
    "1M calls loaded through the pipeline over a year, extended in SQL with 9 shifted copies "
    "(new ids, start times and load ids k years earlier), then one full rebuild"
)
OUT_OF_MEMORY = 5  # the CLI's exit code for "the warehouse cannot be written" (its memory cap)
# The cap of the rebuild the later rows need when the default one runs out (it peaked at 12.7 GB
# RSS under this cap; the emulator is stopped meanwhile, see history_rows).
RAISED_MEMORY_LIMIT = "16GB"
REBUILD_PEAK_GOAL_MB = 1024.0
REPORT_GOAL_S = 3.0
WRITTEN_GOAL_PCT = 5.0
REFERENCE_CALLS = 100_000
# The 10M run's reference is the same run with a hundredth of the history: the loaded year's
# rate (LOADED calls a year), so that a run adds as many calls (per_5_minutes(LOADED)) and its
# 48 h look-back re-reads as many as at 10M.
SAME_RATE_DAYS = round(REFERENCE_CALLS * 365 / LOADED)


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    """The 10M-call rows; none with ``--skip-10m``."""
    if args.skip_10m:
        return {}
    print(f"10M-call history: {METHOD}", file=sys.stderr)
    rows.update(history_rows(args.runs))
    return {
        "scheduled10m": Ratio("÷ 100k", "scheduled10m", "scheduled10m_ref100k", target=1.2),
        "scheduled10m_ref100k_year": Ratio(
            "10M ÷ this", "scheduled10m", "scheduled10m_ref100k_year"
        ),
    }


def history_rows(runs: int) -> dict[str, Row]:
    """The 100k references, then the 10M-call history built, rebuilt and measured; the work
    folder (several GB) is removed at the end, whatever happened."""
    rows = reference_rows(runs)
    workdir = Path(tempfile.mkdtemp(prefix="hs-bench-10m-"))
    warehouse = workdir / "w.duckdb"
    try:
        print("generating 1M calls over a year ...", file=sys.stderr)
        with StandaloneEmulator(calls=LOADED, seed=SEED, start=START, days=365) as emulator:
            env = cli_env(emulator, START)
            loaded = first_load(emulator, warehouse, env, transform=False)
            print(f"  loaded 1M calls in {loaded.seconds:.0f} s", file=sys.stderr)
        # The emulator (about 9 GB for a year of 1M calls) is stopped while the history is
        # extended and rebuilt, so that the rebuild's memory cannot get it killed by the
        # kernel; the same arguments start the same data and clock again afterwards.
        extended = extend(warehouse)
        raw_mb = warehouse.stat().st_size / 1e6
        rows.update(full_rebuild(warehouse, env, extended, raw_mb))
        with StandaloneEmulator(calls=LOADED, seed=SEED, start=START, days=365) as emulator:
            env = cli_env(emulator, START)
            per_5_min = per_5_minutes(LOADED)
            scheduled = Row("scheduled run, 10M-call warehouse (process start to exit)", CALLS)
            scheduled_runs(scheduled, emulator, warehouse, env, runs, per_5_min)
            rows["scheduled10m"] = scheduled
            file_mb = warehouse.stat().st_size / 1e6
            # the gap in seconds beside the ratio: a fixed cost that falls in both runs makes
            # the ratio grow, while what the history costs a run stays
            gap = scheduled.median_seconds - rows["scheduled10m_ref100k"].median_seconds
            scheduled.note = (
                f"(+{per_5_min} calls, 48 h re-read, transforms, publish; "
                f"{gap:+.2f} s against the same run at 100k)"
            )
            rows["written10m"] = written_row(scheduled, file_mb)
            rows.update(profile_rows(emulator, warehouse, env, per_5_min, "10M"))
            # five minutes without a call, as a closed center's nights are: nothing to redo
            quiet = Row("quiet run, 10M-call warehouse (no call new or changed)", CALLS)
            scheduled_runs(quiet, emulator, warehouse, env, runs, 0)
            quiet.note = "(48 h re-read, every call as stored: only the dimensions are rebuilt)"
            rows["quiet10m"] = quiet
        serving = warehouse.with_name(f"{warehouse.stem}.serving.duckdb")
        rows["report10m"] = report_row(serving, workdir / "report.html", runs)
        serving_mb = serving.stat().st_size / 1e6
        rows["disk10m"] = Row(
            "disk: the 10M-call warehouse file",
            CALLS,
            copy_mb=[file_mb],
            note=f"({file_mb:,.0f} MB)",
        )
        rows["disk10m_serving"] = Row(
            "disk: its serving copy", CALLS, copy_mb=[serving_mb], note=f"({serving_mb:,.0f} MB)"
        )
        return rows
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def reference_rows(runs: int) -> dict[str, Row]:
    """The references measured in this session for the 10M run: the same run on 100k calls
    filled at the same rate (the ratio's, with a profile to set beside the 10M run's), and on a
    year of 100k calls (a tenth of the rate: one new call and a tenth of the re-read)."""
    same = Row(
        f"scheduled run, 100k calls over {SAME_RATE_DAYS} days (reference for 10M)",
        REFERENCE_CALLS,
    )
    profile = reference_100k(same, SAME_RATE_DAYS, per_5_minutes(LOADED), runs, profile=True)
    year = Row("scheduled run, 100k calls over a year (a tenth of the rate)", REFERENCE_CALLS)
    reference_100k(year, 365, per_5_minutes(REFERENCE_CALLS), runs, profile=False)
    return {"scheduled10m_ref100k": same, **profile, "scheduled10m_ref100k_year": year}


def reference_100k(row: Row, days: int, new_calls: int, runs: int, profile: bool) -> dict[str, Row]:
    """``row``: scheduled runs of ``new_calls`` new calls on 100k calls spread over ``days``;
    returns the profile rows of one more run when ``profile``."""
    print(f"generating 100k calls over {days} days (a 10M reference) ...", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="hs-bench-10m-ref-"))
    try:
        with StandaloneEmulator(calls=REFERENCE_CALLS, seed=4, start=START, days=days) as emulator:
            env = cli_env(emulator, START)
            warehouse = workdir / "w.duckdb"
            first_load(emulator, warehouse, env)
            scheduled_runs(row, emulator, warehouse, env, runs, new_calls)
            file_mb = warehouse.stat().st_size / 1e6
            row.note = (
                f"(+{new_calls} calls a run; {written_note(row, file_mb)} of {file_mb:,.0f} MB)"
            )
            if not profile:
                return {}
            return profile_rows(emulator, warehouse, env, new_calls, "100k")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def extend(warehouse: Path) -> dict[str, int]:
    """``bench/history_sql.py`` on the loaded warehouse, in a process of its own."""
    print(f"extending the history in SQL with {COPIES} shifted copies ...", file=sys.stderr)
    done = run_measured(
        [sys.executable, "-m", "bench.history_sql", str(warehouse), str(COPIES)], dict(os.environ)
    )
    if done.returncode != 0:
        raise RuntimeError(f"extending the history failed: {done.error_line()}")
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    print(
        f"  {counts} in {done.seconds:.0f} s, {done.rss_mb:,.0f} MB peak, "
        f"{done.written_mb:,.0f} MB written",
        file=sys.stderr,
    )
    if counts.get("calls") != CALLS:
        raise RuntimeError(f"the extended history holds {counts.get('calls')} calls, not {CALLS}")
    return counts


def full_rebuild(
    warehouse: Path, env: dict[str, str], counts: dict[str, int], raw_mb: float
) -> dict[str, Row]:
    """``transform --full`` with default settings; when it fails, the row says so and a rebuild
    with ``RAISED_MEMORY_LIMIT`` makes the marts the scheduled runs need (a row of its own)."""
    print("full rebuild of 10M calls, default settings ...", file=sys.stderr)
    command = [*CLI, "transform", "--full", "--quiet", *warehouse_args(warehouse)]
    done = run_measured(command, env)
    row = _rebuild_row("full rebuild, 10M calls, default settings", done)
    history = (
        f"history: {METHOD}; raw {counts['calls']:,} calls, "
        f"{counts['calls__interactions']:,} interactions, {raw_mb:,.0f} MB before the rebuild"
    )
    rows = {"rebuild10m": row}
    if done.returncode == 0:
        row.note = f"(completed; {_peak_goal(done)}; {history})"
        return rows
    row.calls = 0  # no rate for a run that did not finish
    row.note = (
        f"(FAILED, exit {done.returncode}: {done.error_line()}; the rows below ran on marts "
        f"rebuilt with memory_limit {RAISED_MEMORY_LIMIT}; {history})"
    )
    if done.returncode != OUT_OF_MEMORY:
        raise RuntimeError(f"the full rebuild failed: {done.error_line()}")
    print(f"  failed: {done.error_line()}; again with {RAISED_MEMORY_LIMIT}", file=sys.stderr)
    raised = run_measured(command, {**env, MEMORY_SETTING: RAISED_MEMORY_LIMIT})
    if raised.returncode != 0:
        raise RuntimeError(f"the rebuild with a raised cap failed: {raised.error_line()}")
    rows["rebuild10m_raised"] = _rebuild_row(
        f"  full rebuild, 10M calls, memory_limit {RAISED_MEMORY_LIMIT}", raised
    )
    rows["rebuild10m_raised"].note = f"(completed; {_peak_goal(raised)})"
    return rows


def _rebuild_row(name: str, done: Exited) -> Row:
    print(
        f"  {name}: exit {done.returncode}, {done.seconds:.1f} s, {done.rss_mb:,.0f} MB peak, "
        f"{done.written_mb:,.0f} MB written",
        file=sys.stderr,
    )
    return Row(
        name,
        CALLS,
        seconds=[done.seconds],
        rss_mb=[done.rss_mb],
        written_mb=[done.written_mb],
    )


def _peak_goal(done: Exited) -> str:
    met = "met" if done.rss_mb <= REBUILD_PEAK_GOAL_MB else "MISSED"
    return f"peak {done.rss_mb:,.0f} MB, goal <= 1 GB: {met}"


def written_row(scheduled: Row, file_mb: float) -> Row:
    """Bytes a scheduled run writes, as a share of the warehouse file."""
    share = 100 * statistics.median(scheduled.written_mb) / file_mb
    met = "met" if share <= WRITTEN_GOAL_PCT else "MISSED"
    return Row(
        "  bytes written per scheduled run, 10M",
        CALLS,
        written_mb=list(scheduled.written_mb),
        note=f"({written_note(scheduled, file_mb)} of {file_mb:,.0f} MB; "
        f"goal <= {WRITTEN_GOAL_PCT:g} %: {met})",
    )


def profile_rows(
    emulator: StandaloneEmulator, warehouse: Path, env: dict[str, str], new_calls: int, size: str
) -> dict[str, Row]:
    """One more scheduled run under ``bench/profiled_cli.py``: a row per step, its largest parts
    in the note; every span in bench/results/profile<size>-*.json (``size``: "10M", "100k")."""
    key = f"profile{size.lower()}"
    emulator.advance(minutes=5, new_calls=new_calls)
    out = warehouse.with_name("profile.json")
    until = emulator.now.isoformat()
    command = [sys.executable, "-m", "bench.profiled_cli", str(out), "load", "--quiet"]
    done = run_measured([*command, "--until", until, *warehouse_args(warehouse)], env)
    if done.returncode != 0:
        raise RuntimeError(f"the profiled scheduled run failed: {done.error_line()}")
    spans: list[dict[str, Any]] = json.loads(out.read_text())["spans"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = pendulum.now("UTC").format("YYYYMMDD-HHmmss")
    (RESULTS / f"{key}-{stamp}.json").write_text(json.dumps(spans, indent=2))
    rows: dict[str, Row] = {}
    top = [s for s in spans if s["depth"] == 0]
    for n, span in enumerate(top):
        inner = _inner(spans, span)
        parts = sorted(inner, key=lambda s: -s["seconds"])[:4]
        shown = ", ".join(f"{s['name']} {s['seconds']:.2f} s" for s in parts)
        rows[f"{key}_{n}"] = Row(
            f"  profile of one {size} run: {span['name']}",
            0,
            seconds=[span["seconds"]],
            rss_mb=[span["peak_mb"]],
            written_mb=[span["written_mb"]],
            note=f"({span['written_mb']:,.1f} MB written{'; ' + shown if shown else ''})",
        )
        print(f"  {span['name']}: {span['seconds']:.2f} s", file=sys.stderr)
        for part in inner:
            print(
                f"    {'  ' * (part['depth'] - 1)}{part['name']}: {part['seconds']:.2f} s, "
                f"{part['written_mb']:,.1f} MB written, {part['peak_mb']:,.0f} MB peak",
                file=sys.stderr,
            )
    process = next(s["seconds"] for s in spans if s["depth"] == -1)
    rest = process - sum(s["seconds"] for s in top)
    # not done.rss_mb: resetting VmHWM resets what the kernel reports as ru_maxrss too
    peak = max(s.get("peak_mb", 0.0) for s in spans)
    rows[f"{key}_rest"] = Row(
        f"  profile of one {size} run: the rest (setup, summary)",
        0,
        seconds=[rest],
        note=f"(this run: {done.seconds:.2f} s process start to exit, {peak:,.0f} MB peak, "
        f"{done.written_mb:,.1f} MB written)",
    )
    return rows


def _inner(spans: list[dict[str, Any]], outer: dict[str, Any]) -> list[dict[str, Any]]:
    end = outer["start"] + outer["seconds"]
    return [s for s in spans if s["depth"] > outer["depth"] and outer["start"] <= s["start"] < end]


def report_row(database: Path, out: Path, runs: int) -> Row:
    """``hostedsuite report`` (the default 30 days) on the serving copy, process start to
    exit, as ``bench/report_bench.py`` measures it at 1M calls."""
    row = Row("report, 10M-call warehouse, 30 days (start to exit)", CALLS)
    command = [*CLI, "report", "--db", str(database), "--out", str(out)]
    for n in range(runs):
        done = run_measured(command, dict(os.environ))
        if done.returncode != 0:
            raise RuntimeError(f"report failed: {done.error_line()}")
        row.seconds.append(done.seconds)
        row.rss_mb.append(done.rss_mb)
        print(f"  report run {n + 1}/{runs}: {done.seconds:.2f} s", file=sys.stderr)
    met = "met" if row.median_seconds <= REPORT_GOAL_S else "MISSED"
    row.note = f"({out.stat().st_size / 1e6:.2f} MB HTML; goal <= {REPORT_GOAL_S:g} s: {met})"
    return row
