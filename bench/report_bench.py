"""The report's benchmark row: ``hostedsuite report`` on a 1M-call warehouse.

The warehouse is the one ``big_rows`` in ``bench/load_bench.py`` loads (1M calls over 45 days from
the emulator, seed 3, then a full transforms rebuild), built once and kept under
``var/bench/`` (``--rebuild`` makes it again): loading it takes minutes, reporting on it
seconds. Timed: ``hostedsuite report`` from process start to exit (a child process, what a user
waits for, and its CPU seconds, which other work on the machine does not inflate), and
``build_report`` in this process; plus the size of the file it writes.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import DATA_START, ROOT, Ratios, Row, run_child, source_options
from hostedsuite_emulator import Emulator
from pipelines.duckdb_session import session_config
from pipelines.report.build import build_report

CALLS = 1_000_000
SEED = 3  # the 1M-call load row's data
CACHE = ROOT / "var" / "bench" / f"report-{CALLS}-seed{SEED}.duckdb"


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    """The report rows; none with ``--skip-1m`` (the row is about the 1M-call warehouse)."""
    if not args.skip_1m:
        rows.update(report_rows(args.runs))
    return {}


def warehouse(rebuild: bool = False) -> Path:
    """The 1M-call warehouse with its analytics marts, built on first use."""
    if CACHE.exists() and not rebuild:
        return CACHE
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    building = CACHE.with_name(CACHE.name + ".building")
    building.unlink(missing_ok=True)
    print(f"generating {CALLS:,} calls for the report row ...", file=sys.stderr)
    with Emulator(calls=CALLS, seed=SEED, start=DATA_START) as emulator:
        options = {**source_options(emulator), "duckdb": str(building)}
        result, _ = run_child("ours", emulator, options)
        if result["calls"] != CALLS:
            raise RuntimeError(f"loaded {result['calls']} calls, expected {CALLS}")
        run_child("transforms", emulator, options)
    # Renamed only when complete: an interrupted build is never mistaken for the cache.
    shutil.move(building, CACHE)
    return CACHE


def report_rows(runs: int, rebuild: bool = False) -> dict[str, Row]:
    """Process start to exit and in-process times of the default 30-day report at 1M calls."""
    db = warehouse(rebuild)
    out = db.with_suffix(".report.html")
    cli = Row(f"report, {CALLS // 1_000_000}M-call warehouse (process start to exit)", CALLS)
    inproc = Row("report, the same, in process (build_report)", CALLS)
    command = [sys.executable, "-m", "pipelines.hostedsuite_pipeline", "report"]
    cpu: list[float] = []
    for n in range(runs):
        # CPU seconds of the child too: wall time on a shared 2-core machine includes waiting.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "--db", str(db), "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        cli.seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise RuntimeError(f"report failed: {done.stderr.strip()[-500:]}")
        started = time.perf_counter()
        # under the run's memory cap, as the command reads it
        result = build_report(db, out, config=session_config(str(db)))
        inproc.seconds.append(time.perf_counter() - started)
        size_mb = result.size_bytes / 1e6
        cli.copy_mb.append(size_mb)
        print(
            f"  report run {n + 1}/{runs}: {cli.seconds[-1]:.2f} s process "
            f"({cpu[-1]:.2f} s CPU), "
            f"{inproc.seconds[-1]:.2f} s in process, {size_mb:.2f} MB",
            file=sys.stderr,
        )
    cli.note = (
        f"({statistics.median(cpu):.2f} s CPU, {max(cli.copy_mb):.2f} MB HTML, "
        f"{result.start}..{result.end}, {result.calls_offered:,} incoming calls)"
    )
    return {"report1m": cli, "report1m_inproc": inproc}
