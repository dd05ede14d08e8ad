"""Backfills, overlapping runs, the analyst's open DuckDB file, and the completeness check."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from typing import Any

import duckdb
import pendulum
import pytest

from hostedsuite_emulator import EmulatorSettings
from pipelines.hostedsuite.backfills import BackfillRange, backfill_missing
from pipelines.hostedsuite.windows import Window
from pipelines.pipeline import cursor_state, open_pipeline
from pipelines.steps.load import is_small_run
from tests.cli import ROOT, assert_fails, cli_command

from .loader import Loader
from .warehouse import assert_matches_truth, rows

START, END = pendulum.datetime(2024, 3, 5), pendulum.datetime(2024, 4, 2)

BACKFILL_SWITCHES: dict[str, dict[str, Any]] = {
    "local-exclusive": {},
    "utc-inclusive": {"window_zone": "UTC", "end_inclusive": True},
    "server-zone-iana-capped": {
        "window_zone": "America/New_York",
        "tz_style": "iana",
        "max_page_size": 60,
        "page_base": 1,
    },
}


@pytest.mark.parametrize("switches", BACKFILL_SWITCHES.values(), ids=BACKFILL_SWITCHES.keys())
def test_concurrent_backfill_equals_truth_and_leaves_cursor(loader_factory, switches) -> None:
    loader = loader_factory(calls=2000, seed=31, settings=EmulatorSettings(**switches))
    loader.load(until=START.to_iso8601_string())  # an incremental run sets the cursor first
    cursor_before = dict(
        cursor_state(open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir)))
    )
    result = loader.cli(
        "backfill",
        "--start",
        "2024-03-05",
        "--end",
        "2024-04-02",
        "--workers",
        "3",
        "--window-hours",
        "30",
        "--no-transform",
    )
    assert result.returncode == 0, result.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth(), end=END)
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    after = cursor_state(pipeline)
    assert after["complete_through"] == cursor_before["complete_through"]
    assert "windows" in result.stdout


def test_backfill_over_loaded_days_changes_only_edits(loader_factory) -> None:
    loader = loader_factory(calls=1000, seed=32)
    loader.load()
    loader.emulator.edit_random(15)
    result = loader.cli(
        "backfill", "--start", "2024-03-01", "--end", "2024-05-01", "--no-transform"
    )
    assert result.returncode == 0, result.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def _kill_in_second_batch(loader: Loader, *args: str, env: dict[str, str] | None = None) -> None:
    """Runs the CLI with ``args`` and SIGKILLs it during the extract of its second batch."""
    crashed = loader.crash("second_batch", *args, env=env)
    assert crashed.returncode == -9, crashed.stderr


def test_killed_backfill_resumes_and_ends_exact(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=33)
    args = [
        "backfill",
        "--start",
        "2024-03-01",
        "--end",
        "2024-04-10",
        "--workers",
        "1",
        "--window-hours",
        "24",
        "--no-transform",
    ]
    _kill_in_second_batch(loader, *args)
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert cursor_state(pipeline)["backfills"] == {
        "2024-03-01T00:00:00Z/2024-04-10T00:00:00Z": [
            ["2024-03-01T00:00:00Z", "2024-03-05T00:00:00Z"]
        ]
    }, "the first batch (4 windows of 24 h) should have been committed"
    rerun = loader.cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert "already loaded" in rerun.stderr
    assert_matches_truth(
        loader.duckdb_path, loader.emulator.truth(), end=pendulum.datetime(2024, 4, 10)
    )


@pytest.mark.parametrize(("first_width", "rerun_width"), [("24", "168"), ("168", "30")])
def test_backfill_rerun_at_another_width_loads_exactly_what_is_missing(
    loader_factory, first_width: str, rerun_width: str
) -> None:
    """Progress is the range covered, not window starts: killed after its first batch (one
    worker: 4 windows, i.e. 2024-03-01..03-05 at 24 h, 03-01..03-29 at 168 h), a backfill
    rerun at another width loads the rest and nothing is skipped."""
    loader = loader_factory(calls=1500, seed=34)
    args = ["backfill", "--start", "2024-03-01", "--end", "2024-04-10", "--workers", "1"]
    small_pages = {"SOURCES__HOSTEDSUITE__PAGE_SIZE": "20"}  # enough pages to reach the kill
    _kill_in_second_batch(
        loader, *args, "--window-hours", first_width, "--no-transform", env=small_pages
    )
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    progress_after_kill = copy.deepcopy(cursor_state(pipeline)["backfills"])

    requests_before = len(loader.emulator.requests)
    rerun = loader.cli(*args, "--window-hours", rerun_width, "--no-transform")
    assert rerun.returncode == 0, rerun.stderr
    assert_matches_truth(
        loader.duckdb_path,
        loader.emulator.truth(),
        start=pendulum.datetime(2024, 3, 1),
        end=pendulum.datetime(2024, 4, 10),
    )
    # The rerun starts where the first run stopped: its lowest StartDate is that instant
    # widened by the lowest center offset (Phoenix, UTC-7) and the 2 h margin.
    lowest = min(r["StartDate"] for r in loader.emulator.requests[requests_before:])
    assert lowest == {"24": "2024-03-04T15:00:00", "168": "2024-03-28T15:00:00"}[first_width]
    # Progress is kept as merged [start, end) intervals per backfill (range and filters).
    key = "2024-03-01T00:00:00Z/2024-04-10T00:00:00Z"
    first_end = {"24": "2024-03-05T00:00:00Z", "168": "2024-03-29T00:00:00Z"}[first_width]
    assert progress_after_kill == {key: [["2024-03-01T00:00:00Z", first_end]]}
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert cursor_state(pipeline)["backfills"] == {
        key: [["2024-03-01T00:00:00Z", "2024-04-10T00:00:00Z"]]
    }


def test_backfill_progress_of_the_old_format_counts_as_not_covered() -> None:
    """Old state kept window starts (no width): those are re-read; ranges merge."""
    day = pendulum.datetime(2024, 3, 1)
    backfill = BackfillRange(day, day.add(days=9))
    state = {
        "backfills": {
            backfill.key: [
                "2024-03-01T00:00:00Z",  # old format: a window start
                "2024-03-02T00:00:00Z",
                ["2024-03-06T00:00:00Z", "2024-03-07T00:00:00Z"],
                ["2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"],
                ["2024-03-09T12:00:00Z", "2024-03-11T00:00:00Z"],  # beyond the end
            ]
        }
    }
    assert backfill_missing(state, backfill) == [
        Window(day, day.add(days=4)),
        Window(day.add(days=6), day.add(days=8, hours=12)),
    ]
    assert backfill_missing({}, backfill) == [Window(day, day.add(days=9))]


def test_long_first_load_commits_in_batches_and_resumes(loader_factory) -> None:
    """A first run over 45 days (1,500 calls, ~1.4 per hour) with 24 h windows and
    calls_per_load=150 loads 4 windows per batch; killed in its second batch, the rerun starts
    from the first batch's cursor, not from start_date."""
    loader = loader_factory(calls=1500, seed=35)
    until = loader.emulator.now.isoformat()
    small_batches = {"SOURCES__HOSTEDSUITE__CALLS_PER_LOAD": "150"}
    _kill_in_second_batch(
        loader, "load", "--until", until, "--workers", "1", "--no-transform", env=small_batches
    )
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert cursor_state(pipeline)["complete_through"] == "2024-03-05T00:00:00Z"
    loader.emulator.requests.clear()

    rerun = loader.cli("load", "--until", until, "--workers", "1", env=small_batches)
    assert rerun.returncode == 0, rerun.stderr
    earliest = min(r["StartDate"] for r in loader.emulator.requests if "StartDate" in r)
    # 48 h look-back before the cursor, widened by the centers' offsets: never March 1.
    assert earliest >= "2024-03-02", earliest
    cursor = pendulum.parse(cursor_state(pipeline)["complete_through"])
    assert cursor == pendulum.parse(until)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    assert rows(loader.duckdb_path, "SELECT count(*) FROM analytics.fct_calls")[0][0] == len(
        loader.emulator.truth().calls
    )


def test_two_runs_never_overlap(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=34)
    loader.emulator.faults.latency_ms = 150
    until = loader.emulator.now.isoformat()
    first = subprocess.Popen(
        cli_command("load", "--until", until, "--no-transform", *loader.cli_paths()),
        cwd=ROOT,
        env=loader.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not loader.emulator.requests and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the first run is extracting, i.e. holds the lock
    assert loader.emulator.requests, "the first run never started"
    second = loader.cli("load", "--until", until, "--no-transform")
    assert_fails(second, 75, "another run")
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_analyst_holding_the_file_gets_a_clear_wait_then_failure(loader_factory) -> None:
    loader = loader_factory(calls=300, seed=35)
    assert loader.cli("load", "--until", loader.emulator.now.isoformat()).returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); time.sleep(120)",
            str(loader.duckdb_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        loader.emulator.advance(minutes=30, new_calls=10)
        blocked = loader.cli("load", "--until", loader.emulator.now.isoformat(), "--db-wait", "1")
        assert_fails(blocked, 5, "in use by another process")
        # DuckDB's holder is named whole: the program's path (dots and all) and its PID
        program = os.path.realpath(sys.executable)
        assert f"{program} (PID {holder.pid})" in blocked.stderr, blocked.stderr
    finally:
        holder.kill()
        holder.wait()
    rerun = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert rerun.returncode == 0, rerun.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_verify_reports_clean_range_and_finds_a_deleted_day(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=36)
    assert loader.cli("load", "--until", loader.emulator.now.isoformat()).returncode == 0
    clean = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 differ" in clean.stdout
    health = rows(
        loader.duckdb_path,
        "SELECT verified_complete_through, days_with_differences FROM analytics.load_health",
    )
    assert health == [(pendulum.date(2024, 3, 20), 0)]

    center = rows(
        loader.duckdb_path,
        "SELECT center_id FROM hostedsuite.calls "
        "WHERE start_time_local::DATE = '2024-03-12' LIMIT 1",
    )[0][0]
    with duckdb.connect(str(loader.duckdb_path)) as conn:
        conn.execute(
            "DELETE FROM hostedsuite.calls WHERE center_id = ? AND "
            "start_time_local::DATE = '2024-03-12'",
            [center],
        )
    dirty = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20")
    assert dirty.returncode == 6
    assert f"{center} 2024-03-12" in dirty.stdout
    health = rows(
        loader.duckdb_path,
        "SELECT verified_complete_through, days_with_differences FROM analytics.load_health",
    )
    assert health == [(pendulum.date(2024, 3, 11), 1)]


def test_client_backfill_then_full_backfill_of_the_same_range(loader_factory) -> None:
    loader = loader_factory(calls=900, seed=37)
    client = loader.emulator.truth().clients[0]["id"]
    args = ["--start", "2024-03-01", "--end", "2024-04-20", "--no-transform"]
    only_client = loader.cli("backfill", *args, "--client", client)
    assert only_client.returncode == 0, only_client.stderr
    stored = rows(loader.duckdb_path, "SELECT DISTINCT client_id FROM hostedsuite.calls")
    assert stored == [(client,)]
    everything = loader.cli("backfill", *args)
    assert everything.returncode == 0, everything.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_only_a_small_run_holds_one_duckdb_connection(loader_factory) -> None:
    """A first load and a long catch-up let dlt close DuckDB after each job (which keeps its
    memory down); a scheduled run, a few minutes past the cursor, holds one connection."""
    loader = loader_factory(calls=1000, seed=12)
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert not is_small_run(pipeline, None)  # nothing loaded: no cursor, no density
    loader.load()
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    cursor = pendulum.parse(cursor_state(pipeline)["complete_through"])
    assert isinstance(cursor, pendulum.DateTime)
    assert is_small_run(pipeline, cursor.add(minutes=5).to_iso8601_string())
    # 1,000 calls over the emulator's weeks: 20,000 calls take years at that density
    assert not is_small_run(pipeline, cursor.add(years=30).to_iso8601_string())
