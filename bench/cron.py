"""``hostedsuite`` run as cron runs it: a child process timed from start to exit, with what the
kernel accounted to it (peak RSS, bytes written), and the scheduled-run rows built from it.

Bytes written are the child's I/O accounting (``ru_oublock`` × 512 from ``os.wait4``: the pages
it dirtied, whether or not they reached the disk before it exited), independent of what the
product says it wrote. Peak RSS is ``ru_maxrss``, which Linux carries over exec from the forking
process: it is a floor of this bench process's RSS (~100 MB), exact above that.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import ROOT, Row, StandaloneEmulator

CLI = [sys.executable, "-m", "pipelines.hostedsuite_pipeline"]
BLOCK = 512  # ru_oublock counts 512-byte blocks
# [destination.duckdb] memory_limit, and the cap of the runs that build a bench's history: the
# full rebuild of a first load of 1M calls runs out of the default 1GB
MEMORY_SETTING = "DESTINATION__DUCKDB__MEMORY_LIMIT"
RAISED_MEMORY_LIMIT = "8GB"


@dataclass(frozen=True)
class Exited:
    """One finished child: its exit code, wall seconds, peak RSS, bytes written, output."""

    returncode: int
    seconds: float
    rss_mb: float
    written_mb: float
    stdout: str
    stderr: str

    def error_line(self) -> str:
        lines = [line for line in (self.stderr + self.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error")]
        return (errors or lines or [f"exit {self.returncode}"])[-1].strip()


def run_measured(command: list[str], env: dict[str, str]) -> Exited:
    """Runs ``command`` to its exit; output goes to files (a pipe could fill and block it)."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hs-bench-out-{os.getpid()}"
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    os.unlink(f"{out_path}.out")
    os.unlink(f"{out_path}.err")
    return Exited(
        process.returncode,
        seconds,
        usage.ru_maxrss / 1024,
        usage.ru_oublock * BLOCK / 1e6,
        stdout,
        stderr,
    )


def warehouse_args(warehouse: Path) -> list[str]:
    """``--duckdb`` and ``--pipelines-dir`` (``p`` beside the file) of every run on it."""
    return ["--duckdb", str(warehouse), "--pipelines-dir", str(warehouse.parent / "p")]


def first_load(
    emulator: StandaloneEmulator,
    warehouse: Path,
    env: dict[str, str],
    transform: bool = True,
    raised: bool = True,
) -> Exited:
    """All of the emulator's history, one ``hostedsuite load`` (with its first transforms unless
    not ``transform``), under ``RAISED_MEMORY_LIMIT`` when ``raised``: a history that is only
    setup, not a measured row, builds quicker under a larger cap. Raises if it fails."""
    until = emulator.now.isoformat()
    command = [*CLI, "load", "--quiet", "--until", until, *warehouse_args(warehouse)]
    if not transform:
        command.append("--no-transform")
    done = run_measured(command, {**env, MEMORY_SETTING: RAISED_MEMORY_LIMIT} if raised else env)
    if done.returncode != 0:
        raise RuntimeError(f"first load failed: {done.error_line()}")
    return done


def per_5_minutes(calls: int) -> int:
    """New calls per 5 minutes of a warehouse holding a year of ``calls`` calls."""
    return max(1, round(calls / 365 / 288))


# Unmeasured scheduled runs before the measured ones (see scheduled_runs).
WARM_UP_RUNS = 2


def scheduled_runs(
    row: Row,
    emulator: StandaloneEmulator,
    warehouse: Path,
    env: dict[str, str],
    runs: int,
    new_calls: int,
) -> Row:
    """``runs`` scheduled runs, each after 5 minutes of ``new_calls`` calls: ``hostedsuite load
    --quiet --until <now>`` timed from process start to exit, its peak RSS and bytes written.

    ``WARM_UP_RUNS`` runs go first, unmeasured: the steady state of a schedule. The first
    publishes after a first load copy the serving copy whole (no earlier generation yet; the
    second load adds a column the first did not have), every later one updates the earlier
    generation."""
    for n in range(-WARM_UP_RUNS, runs):
        emulator.advance(minutes=5, new_calls=new_calls)
        until = emulator.now.isoformat()
        command = [*CLI, "load", "--quiet", "--until", until, *warehouse_args(warehouse)]
        done = run_measured(command, env)
        if done.returncode != 0:
            raise RuntimeError(f"{row.name}: exit {done.returncode}: {done.error_line()}")
        if n < 0:
            print(f"  {row.name} warm-up run: {done.seconds:.2f} s", file=sys.stderr)
            continue
        row.seconds.append(done.seconds)
        row.rss_mb.append(done.rss_mb)
        row.written_mb.append(done.written_mb)
        print(
            f"  {row.name} run {n + 1}/{runs}: {done.seconds:.2f} s, {done.rss_mb:.0f} MB peak, "
            f"{done.written_mb:,.1f} MB written",
            file=sys.stderr,
        )
    return row


def written_note(row: Row, file_mb: float | None = None) -> str:
    """``12.3 MB written per run`` (median), and its share of a file of ``file_mb`` MB."""
    written = statistics.median(row.written_mb)
    if file_mb is None:
        return f"{written:,.1f} MB written per run"
    return f"{written:,.1f} MB written per run = {100 * written / file_mb:.2f} % of the file"
