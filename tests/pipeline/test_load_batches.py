"""A long incremental range loads in batches of about ``calls_per_load`` calls, each its own
load package; a scheduled run stays one batch. Plus the batch planner's rules."""

from __future__ import annotations

import pytest

from pipelines.hostedsuite.windows import plan_batch

from .warehouse import assert_matches_truth, rows


@pytest.mark.parametrize(
    ("calls_per_hour", "width_hours", "windows"),
    [
        # unknown density: one round of the narrowest windows
        (None, 48, 4),
        # no calls at all: the widest windows, as many as a batch may hold
        (0.0, 168, 16),
        # sparse: configured width, as many windows as fit (100k / (10 * 168) = 59)
        (10.0, 168, 59),
        # 100/h: 100k / 4 workers / 100 = 250 h -> 168 h; 100k / 16.8k = 5 windows
        (100.0, 168, 5),
        # 300/h: 100k / 4 / 300 = 83.3 h windows, 4 of them
        (300.0, 100_000 / 4 / 300, 4),
        # dense: never narrower than 48 h (the request widening), so fewer windows than workers
        (1_000.0, 48, 2),
        # very dense: one 48 h window per batch
        (5_000.0, 48, 1),
    ],
)
def test_plan_batch(calls_per_hour: float | None, width_hours: float, windows: int) -> None:
    plan = plan_batch(calls_per_hour, 168, 4, 100_000)
    assert plan.window_hours == pytest.approx(width_hours)
    assert plan.max_windows == windows


def test_long_range_loads_in_bounded_batches_then_scheduled_runs_are_one(loader_factory) -> None:
    loader = loader_factory(calls=3000, seed=41)
    # ~2.8 calls/h over 45 days: batches of 2 windows of ~89 h, ~500 calls each.
    summary = loader.load(calls_per_load=500, window_hours=168, workers=2)
    per_batch = summary.batch_calls
    assert len(per_batch) >= 5, per_batch
    assert max(per_batch) <= 750, per_batch
    assert summary.row_counts["calls"] == 3000 == sum(per_batch)
    loads = rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite._dlt_loads")[0][0]
    assert loads == len(per_batch), "each batch is its own load package"
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())

    loads_before = rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite._dlt_loads")[0][0]
    new_ids = loader.emulator.advance(minutes=60, new_calls=30)
    loader.load(calls_per_load=500, window_hours=168, workers=2)
    loads_after = rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite._dlt_loads")[0][0]
    assert loads_after == loads_before + 1, "a scheduled run (look-back + 1 h) is one load"
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert set(new_ids) <= stored
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
