"""Analysts read the lake from other processes while loads commit: nobody blocks, and every
reader sees a consistent snapshot (the idea of ``tests/pipeline/test_serving_copy.py``, on a lake).

Each run publishes the lake's snapshot after its load and transforms; readers attach at the
newest published one. A held session stays on its snapshot; a fresh attach sees the latest.
The readers report each round (``lake_reader.py``); the test waits for those reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hostedsuite_emulator import Emulator
from tests.pipeline.emulator_changes import late_edits
from tests.pipeline.loader import Loader
from tests.process_events import HeldRun, Helper, answered, reports

from .lake import Lake
from .test_ducklake import storage_lake

CALLS = 200
NEW_CALLS_PER_RUN = 40  # late_edits adds 40 calls
RUNS = 1  # each lake load costs ~14 connections' extension loads: one is enough


def reader(mode: str, lake: Lake, folder: Path) -> Helper:
    """A reader process (see lake_reader.py) of ``lake``."""
    stop = folder / f"{mode}.stop"
    setup = {**os.environ, "LAKE_READER_SETUP": json.dumps(lake.reader_setup())}
    return Helper("tests.destinations.lake_reader", [mode, lake.catalog, str(stop)], stop, setup)


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_two_readers_query_the_lake_while_loads_commit(
    emulator_factory: Callable[..., Emulator],
    postgres_dsn: str,
    tmp_path: Path,
    storage: str,
    request: pytest.FixtureRequest,
) -> None:
    emulator = emulator_factory(calls=CALLS, seed=71, start="2024-03-04", days=14)
    loader = Loader(emulator, tmp_path / "unused.duckdb", tmp_path / "unused")
    lake = storage_lake(storage, request, postgres_dsn, tmp_path)
    lake.load(loader)
    held = reader("held", lake, tmp_path)
    fresh = reader("fresh", lake, tmp_path)
    try:
        for each in (held, fresh):
            each.wait_for("a first round", reports("calls", CALLS))
        for run in range(1, RUNS + 1):
            late_edits(loader, 9)
            until = loader.emulator.now.isoformat()
            held_run = HeldRun(
                "transforms",
                ["load", "--until", until, *lake.paths()],
                loader.cli_env(lake.env()),
                tmp_path / f"run-{run}",
            )
            held_run.wait_held()
            # the run has committed its raw load and is mid-way through the transforms: nobody
            # waits on it, and no reader sees its new calls yet
            for each in (held, fresh):
                each.wait_for("a round during the transforms", answered, after=each.seen())
            done = held_run.release()
            assert done.returncode == 0, done.stderr[-3000:]
            calls = CALLS + NEW_CALLS_PER_RUN * run
            fresh.wait_for(f"a round on {calls} calls", reports("calls", calls))
            held.wait_for("a held round after the run", answered, after=held.seen())
    finally:
        held_events = held.stop()
        fresh_events = fresh.stop()

    expected = [CALLS + NEW_CALLS_PER_RUN * run for run in range(RUNS + 1)]
    for events in (held_events, fresh_events):
        assert [e for e in events if not answered(e)] == []
        assert [r for r in events if r["violations"]] == []
        assert all(r["staged"] == r["calls"] for r in events)
    # the held session keeps the snapshot it attached: one count for its whole life
    assert {r["calls"] for r in held_events} == {CALLS}
    # fresh attaches follow each run's snapshot, never going back
    counts = [r["calls"] for r in fresh_events]
    assert counts == sorted(counts) and sorted(set(counts)) == expected
    versions = [r["version"] for r in fresh_events]
    assert versions == sorted(versions) and len(set(versions)) == RUNS + 1
    assert len({r["published_at"] for r in fresh_events}) == RUNS + 1
