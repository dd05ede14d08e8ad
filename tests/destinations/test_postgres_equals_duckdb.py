"""The same emulator data loaded into DuckDB and into PostgreSQL: every analytics table equal
row for row (exact keys, counts and text; floating point within 1e-9 relative), with the
column types analysts rely on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostedsuite_emulator import Emulator
from tests.pipeline.loader import Loader
from tests.pipeline.warehouse import rows

from .compare import differences, tables

EMULATOR: dict[str, Any] = {"calls": 1500, "seed": 31, "start": "2024-03-04", "days": 30}


def test_every_analytics_table_equal_across_destinations(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    postgres_loader_factory: Callable[..., Any],
) -> None:
    emulator = emulator_factory(**EMULATOR)
    duck = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "duck-pipelines")
    postgres = postgres_loader_factory(emulator)
    duck.load(transform=True)
    postgres.load(transform=True)
    # a late edit and new calls: the incremental refresh must agree too
    emulator.advance(minutes=90, new_calls=40)
    emulator.edit_random(10)
    duck.load(transform=True)
    postgres.load(transform=True)

    compared = tables(duck.duckdb_path, postgres.dsn)
    differing = {
        t: d[:3] for t in compared if (d := differences(duck.duckdb_path, postgres.dsn, t))
    }
    assert not differing, differing
    # not vacuously equal: the emulator's calls are all there, on both
    calls = len(emulator.truth().calls)
    assert rows(postgres.dsn, "SELECT count(*) FROM analytics.fct_calls") == [(calls,)]
    assert_postgres_types(postgres.dsn)


def assert_postgres_types(dsn: str) -> None:
    """The types analysts rely on: instants timestamptz, wall times timestamp, ratios double."""
    types = dict(
        rows(
            dsn,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'analytics'",
        )
    )
    assert types["fct_calls.start_time_utc"] == "timestamp with time zone"
    assert types["fct_calls.start_time_local"] == "timestamp without time zone"
    assert types["fct_call_metrics_interval.interval_start_utc"] == "timestamp with time zone"
    assert types["fct_call_metrics_interval.interval_start_local"] == "timestamp without time zone"
    assert types["fct_call_metrics_daily.service_level_pct"] == "double precision"
    assert types["fct_agent_metrics_daily.hold_rate_pct"] == "double precision"
    assert types["fct_calls.hold_ratio"] == "double precision"
    assert types["fct_call_metrics_daily.calls_offered"] == "bigint"
    assert types["fct_calls.local_date"] == "date"
    utc = [c for c in types if c.endswith("_utc")]
    local = [c for c in types if c.endswith("_local")]
    assert utc and all(types[c] == "timestamp with time zone" for c in utc)
    assert local and all(types[c] == "timestamp without time zone" for c in local)
