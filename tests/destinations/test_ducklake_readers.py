"""Analysts read the lake from other processes while loads commit: nobody blocks, and every
reader sees a consistent snapshot (the idea of ``tests/pipeline/test_serving.py``, on a lake).

Each run publishes the lake's snapshot after its load and transforms; readers attach at the
newest published one. A held session stays on its snapshot; a fresh attach sees the latest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from tests.pipeline.conftest import ROOT, Loader
from tests.pipeline.test_serving import late_edits

from .lake import Lake
from .test_ducklake import storage_lake

CALLS = 200
NEW_CALLS_PER_RUN = 40  # late_edits adds 40 calls
RUNS = 1  # each lake load costs ~14 connections' extension loads: one is enough


class Reader:
    """A reader process (see lake_reader.py); ``stop()`` returns its report."""

    def __init__(self, mode: str, lake: Lake, folder: Path) -> None:
        self.stop_file = folder / f"{mode}.stop"
        self.report = folder / f"{mode}.json"
        driver = [sys.executable, "-m", "tests.destinations.lake_reader", mode, lake.catalog]
        self.process = subprocess.Popen(
            [*driver, str(self.report), str(self.stop_file)],
            cwd=ROOT,
            env={**os.environ, "LAKE_READER_SETUP": json.dumps(lake.reader_setup())},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready", self.process.stderr

    def stop(self) -> dict[str, Any]:
        self.stop_file.touch()
        _, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err
        report: dict[str, Any] = json.loads(self.report.read_text(encoding="utf-8"))
        return report


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
    held = Reader("held", lake, tmp_path)
    fresh = Reader("fresh", lake, tmp_path)
    load_seconds = []
    try:
        held.wait_ready()
        fresh.wait_ready()
        for _ in range(RUNS):
            late_edits(loader, 9)
            started = time.monotonic()
            lake.load(loader)
            load_seconds.append(time.monotonic() - started)
            time.sleep(1.0)  # let the fresh reader attach the new snapshot
    finally:
        held_report = held.stop()
        fresh_report = fresh.stop()

    expected = [CALLS + NEW_CALLS_PER_RUN * run for run in range(RUNS + 1)]
    for report in (held_report, fresh_report):
        assert report["errors"] == []
        assert [r for r in report["rounds"] if r["violations"]] == []
        assert all(r["staged"] == r["calls"] for r in report["rounds"])
        # nobody waited on a load: a round is a handful of small queries
        assert max(r["seconds"] for r in report["rounds"]) < 20
    # the held session keeps the snapshot it attached: one count for its whole life
    held_rounds = held_report["rounds"]
    assert len(held_rounds) > 10 and {r["calls"] for r in held_rounds} == {CALLS}
    # fresh attaches follow each run's snapshot, never going back
    counts = [r["calls"] for r in fresh_report["rounds"]]
    assert counts == sorted(counts) and sorted(set(counts)) == expected
    versions = [r["version"] for r in fresh_report["rounds"]]
    assert versions == sorted(versions) and len(set(versions)) == RUNS + 1
    assert len({r["published_at"] for r in fresh_report["rounds"]}) == RUNS + 1
    assert max(load_seconds) < 240
