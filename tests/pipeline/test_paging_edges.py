"""Exact at the edges of paging: an early empty page, a window failing while others wait."""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Iterator

import pendulum
import pytest

from hostedsuite_emulator import Faults
from pipelines.hostedsuite.paging import fetch_concurrently
from pipelines.hostedsuite.windows import Window, split_windows
from pipelines.pipeline import cursor_state, open_pipeline
from tests.cli import assert_fails

from .warehouse import assert_matches_truth, rows

# fetch_concurrently's queue for two workers holds four results.
QUEUE_SIZE = 4


def test_cancelled_windows_raise_nothing_in_a_thread(capfd: pytest.CaptureFixture[str]) -> None:
    """Deterministic: the consumer stops (as when dlt's extract fails elsewhere) while both
    workers are busy (window 0 blocked on the full queue, window 1 still fetching) and
    windows 2-7 are queued, so they are cancelled. Every thread the fetch started is joined:
    none may raise, nothing may reach stderr, and the queued windows are never fetched."""
    windows = split_windows(pendulum.datetime(2024, 3, 1), pendulum.datetime(2024, 3, 9), 24)
    release = threading.Event()
    queue_full = threading.Event()
    fetched: list[Window] = []
    thread_errors: list[BaseException | None] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(args.exc_value)
    before = set(threading.enumerate())

    def fetch(window: Window) -> Iterator[int]:
        fetched.append(window)
        if window == windows[0]:
            for item in range(20):  # more than the queue holds: the worker blocks in put
                if item == QUEUE_SIZE + 1:
                    queue_full.set()  # items 1..QUEUE_SIZE wait in the queue; this one blocks
                yield item
        else:
            release.wait(60)  # window 1 runs on until the consumer has stopped
            yield 1

    try:
        results = fetch_concurrently(windows, fetch, workers=2, count=lambda _: 1)
        assert next(results) == 0
        assert queue_full.wait(60), "window 0 never filled the queue"
        results.close()
        release.set()
        started = [t for t in threading.enumerate() if t not in before]
        assert started, "the fetch started no threads"
        deadline = time.monotonic() + 60
        for thread in started:  # the workers and the end-marker thread
            thread.join(max(0.0, deadline - time.monotonic()))
        assert [t.name for t in started if t.is_alive()] == []
    finally:
        threading.excepthook = previous_hook
    assert thread_errors == []
    assert fetched == windows[:2], "a queued window was fetched after the consumer stopped"
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "CancelledError" not in captured.err


def test_failed_window_with_queued_windows_prints_no_thread_traceback(loader_factory) -> None:
    """The same through the CLI: a first run in 30-minute windows on one worker is one batch
    of ~2,000 windows; the first window fails for good (one attempt, a scripted 500; the
    first calls request is the density count, answered normally by a 0 s "slow" fault) while
    the others are queued and get cancelled."""
    faults = Faults(script=["slow", "500"], slow_seconds=0.0)
    loader = loader_factory(calls=300, seed=51, faults=faults)
    result = loader.cli(
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        "--workers",
        "1",
        "--no-transform",
        env={
            "SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "1",
            "SOURCES__HOSTEDSUITE__WINDOW_HOURS": "0.5",
        },
    )
    error = assert_fails(result, 4)
    assert re.fullmatch(
        r"error: calls 2024-03-01T00:00:00Z\.\.2024-03-01T00:30:00Z page 0: "
        r"gave up after 1 attempts: HTTP 500 on .*",
        error,
    ), error
    assert "CancelledError" not in result.stderr
    assert "Exception in thread" not in result.stderr


def test_transient_early_empty_page_is_fetched_again(loader_factory) -> None:
    # The 5th answer carrying items comes back empty once, before TotalCount is reached.
    loader = loader_factory(calls=1500, seed=52, faults=Faults(empty_page_nth=5))
    loader.load(page_size=100)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    pages = [(r["StartDate"], r["EndDate"], r["Page"]) for r in loader.emulator.requests]
    assert len(pages) == len(set(pages)) + 1, "exactly one page is asked for twice"


def test_persistent_early_empty_page_fails_the_run_and_moves_nothing(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=53)
    first = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert first.returncode == 0, first.stderr
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    state_before = copy.deepcopy(cursor_state(pipeline))
    stored_before = rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls")[0][0]
    new_ids = loader.emulator.advance(minutes=120, new_calls=60)
    loader.emulator.faults.empty_page_number = 1  # the second page, every time

    result = loader.cli(
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        "--workers",
        "1",
        env={
            "SOURCES__HOSTEDSUITE__PAGE_SIZE": "50",
            "SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "3",
        },
    )
    error = assert_fails(result, 4)
    window = r"2024-\d\d-\d\dT\d\d:\d\d:\d\dZ\.\.2024-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.fullmatch(
        rf"error: calls {window} page 1: gave up after 3 attempts: "
        r"empty page before TotalCount \(\d+\) was reached \(\d+ records read\)",
        error,
    ), error
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert cursor_state(pipeline) == state_before
    assert rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls")[0][0] == stored_before
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert not set(new_ids) & stored
