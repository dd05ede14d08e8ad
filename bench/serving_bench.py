"""``make bench ARGS="--only serving"``: scheduled runs on a year of history, and publishing.

A year of history of 100k (and, without ``--skip-1m``, 1M) calls is loaded once from an emulator
in a process of its own; then ``hostedsuite load`` as cron runs it (5 minutes of new calls, the
48 h look-back, transforms, the serving copy), timed from process start to exit; then publishing
alone on that warehouse (and, at 1M, the alternative we did not take).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    ROOT,
    Ratio,
    Ratios,
    Row,
    StandaloneEmulator,
    cli_env,
    measure,
    source_options,
)


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
    per_5_min = max(1, round(calls / 365 / 288))
    scheduled = Row(f"scheduled run, {label}-call warehouse (process start to exit)", calls)
    scheduled.note = f"(+{per_5_min} calls, 48 h re-read, transforms, publish)"
    print(f"generating {label} calls over a year ...", file=sys.stderr)
    with StandaloneEmulator(calls=calls, seed=seed, start=start, days=365) as emulator:
        workdir = Path(tempfile.mkdtemp(prefix="hs-bench-serving-"))
        warehouse = workdir / "w.duckdb"
        env = cli_env(emulator, start)
        paths = ["--duckdb", str(warehouse), "--pipelines-dir", str(workdir / "p")]
        load = [sys.executable, "-m", "pipelines.hostedsuite_pipeline", "load", "--quiet"]
        try:
            first = [*load, "--until", emulator.now.isoformat(), *paths]
            subprocess.run(first, cwd=ROOT, env=env, check=True, capture_output=True)
            for n in range(runs):
                emulator.advance(minutes=5, new_calls=per_5_min)
                again = [*load, "--until", emulator.now.isoformat(), *paths]
                started = time.perf_counter()
                done = subprocess.run(again, cwd=ROOT, env=env, capture_output=True, check=False)
                scheduled.seconds.append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise RuntimeError(f"scheduled run failed: {done.stderr.decode()[-500:]}")
                print(
                    f"  {scheduled.name} run {n + 1}/{runs}: {scheduled.seconds[-1]:.2f} s",
                    file=sys.stderr,
                )
            total = calls + runs * per_5_min
            options = {**source_options(emulator), "duckdb": str(warehouse)}
            rows = {"scheduled": scheduled}
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
