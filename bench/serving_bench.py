"""``make bench ARGS="--only serving"``: a first load and a full rebuild, scheduled runs on a
year of history, and publishing.

A year of history of 100k (and, without ``--skip-1m``, 1M) calls is loaded from an emulator in a
process of its own by one ``hostedsuite load`` with the default settings (its first transforms
included), then rebuilt once by ``hostedsuite transform --full``: both are rows, timed from
process start to exit with their peak RSS (issue #22's goals at 1M: 400 and 500 MB). Then
``hostedsuite load`` as cron runs it (5 minutes of new calls, the 48 h look-back, transforms,
the serving copy); then publishing alone on that warehouse (and, at 1M, the alternative we did
not take).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.cron import (
    CLI,
    WARM_UP_RUNS,
    Exited,
    first_load,
    per_5_minutes,
    run_measured,
    scheduled_runs,
    warehouse_args,
    written_note,
)
from bench.harness import (
    Ratio,
    Ratios,
    Row,
    StandaloneEmulator,
    cli_env,
    measure,
    source_options,
)

SCHEDULED_1M_GOAL = 3.0  # seconds, process start to exit (issue #22)
FIRST_LOAD_1M_PEAK_GOAL_MB = 400.0  # peak RSS, transforms included (issue #22)
REBUILD_1M_PEAK_GOAL_MB = 500.0  # peak RSS (issue #22)


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    for key, row in serving_rows(100_000, args.runs, seed=4, compare_copy=False).items():
        rows[f"{key}100k"] = row
    if not args.skip_1m:
        for key, row in serving_rows(1_000_000, args.runs, seed=5, compare_copy=True).items():
            rows[f"{key}1m"] = row
    return {
        "scheduled1m": Ratio("÷ 100k", "scheduled1m", "scheduled100k"),
        "publish1m": Ratio("÷ 100k", "publish1m", "publish100k"),
        "copy_database1m": Ratio("÷ file copy", "copy_database1m", "publish1m"),
    }


def serving_rows(calls: int, runs: int, seed: int, compare_copy: bool) -> dict[str, Row]:
    """A year of history of ``calls`` calls loaded once; then ``hostedsuite load`` as cron runs
    it (5 minutes of new calls, the 48 h look-back, transforms, the serving copy), timed from
    process start to exit; then publishing alone on that warehouse (and, with ``compare_copy``,
    the alternative we did not take)."""
    label = f"{calls // 1000:,}k" if calls < 1_000_000 else f"{calls // 1_000_000}M"
    start = "2023-03-01"
    per_5_min = per_5_minutes(calls)
    scheduled = Row(f"scheduled run, {label}-call warehouse (process start to exit)", calls)
    print(f"generating {label} calls over a year ...", file=sys.stderr)
    with StandaloneEmulator(calls=calls, seed=seed, start=start, days=365) as emulator:
        workdir = Path(tempfile.mkdtemp(prefix="hs-bench-serving-"))
        warehouse = workdir / "w.duckdb"
        env = cli_env(emulator, start)
        try:
            goals = calls == 1_000_000
            loaded = first_load(emulator, warehouse, env, raised=False)
            rows = {
                "first_load": _peak_row(
                    f"first load, {label} calls, with transforms",
                    calls,
                    loaded,
                    FIRST_LOAD_1M_PEAK_GOAL_MB if goals else None,
                )
            }
            command = [*CLI, "transform", "--full", "--quiet", *warehouse_args(warehouse)]
            rebuilt = run_measured(command, env)
            if rebuilt.returncode != 0:
                raise RuntimeError(f"the full rebuild failed: {rebuilt.error_line()}")
            rows["rebuild"] = _peak_row(
                f"full rebuild, {label} calls",
                calls,
                rebuilt,
                REBUILD_1M_PEAK_GOAL_MB if goals else None,
            )
            scheduled_runs(scheduled, emulator, warehouse, env, runs, per_5_min)
            file_mb = warehouse.stat().st_size / 1e6
            goal = ""
            if calls == 1_000_000:
                met = "met" if scheduled.median_seconds <= SCHEDULED_1M_GOAL else "MISSED"
                goal = f"; goal <= {SCHEDULED_1M_GOAL:g} s: {met}"
            scheduled.note = (
                f"(+{per_5_min} calls, 48 h re-read, transforms, publish; "
                f"{written_note(scheduled, file_mb)} of {file_mb:,.0f} MB{goal})"
            )
            total = calls + (runs + WARM_UP_RUNS) * per_5_min
            options = {**source_options(emulator), "duckdb": str(warehouse)}
            rows["scheduled"] = scheduled
            rows["publish"] = measure(
                Row(f"publish the serving copy alone, {label} calls", total),
                "publish",
                emulator,
                runs,
                **options,
            )
            if compare_copy:
                rows["copy_database"] = measure(
                    Row(f"  not taken: ATTACH + COPY FROM DATABASE, {label}", total),
                    "copy_database",
                    emulator,
                    runs,
                    **options,
                )
            return rows
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _peak_row(name: str, calls: int, done: Exited, goal_mb: float | None) -> Row:
    """One measured run (process start to exit) as a row, its peak RSS against ``goal_mb``."""
    print(f"  {name}: {done.seconds:.1f} s, {done.rss_mb:,.0f} MB peak", file=sys.stderr)
    note = f"({done.written_mb:,.0f} MB written"
    if goal_mb is not None:
        met = "met" if done.rss_mb <= goal_mb else "MISSED"
        note += f"; peak {done.rss_mb:,.0f} MB, goal <= {goal_mb:,.0f} MB: {met}"
    return Row(
        f"{name} (default settings, start to exit)",
        calls,
        seconds=[done.seconds],
        rss_mb=[done.rss_mb],
        written_mb=[done.written_mb],
        note=note + ")",
    )
